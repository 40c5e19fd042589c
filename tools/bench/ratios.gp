# ratios.png: redis-proxy's req/s divided by each peer's and by the limit
# server's under the same load (tools/bench.sh): bars the median of the
# per-round ratios, whiskers their range, red marks the goals.
# Usage: gnuplot -e "dir='WORKDIR'; out='ratios.png'" ratios.gp
# Reads dir/ratios.dat: label, median, min, max, goal (0 when none). A bar
# is blue when it meets its goal (or, without one, is at least 1).
set datafile separator "\t"
f = dir.'/ratios.dat'
stats f using 4 nooutput
ymax = STATS_max
stats f using 0 nooutput
rows = STATS_records
# 80 pixels a bar, so that two-line labels of 15 characters do not meet
set terminal pngcairo size (rows * 80 > 1800 ? rows * 80 : 1800),640 font "DejaVu Sans,10"
set output out
set xrange [-0.6:rows - 0.4]
set title "redis-proxy req/s ÷ the other system's (median of the rounds, whiskers: min–max; red: the goal; blue: goal met, or ≥ 1 where there is none)" font ",12"
set style fill solid 0.85 border -1
set boxwidth 0.6
set yrange [0:(ymax > 1 ? ymax : 1) * 1.15]
set ylabel "proxy req/s ÷ other req/s"
set grid ytics
set xtics noenhanced font ",8"
set bmargin 5
set key off
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1 lc rgb "#555555"
ok(m, g) = g > 0 ? m >= g : m >= 1
plot f using 0:2:(ok($2, $5) ? 0x3973ac : 0xdd7733):xtic(1) with boxes lc rgb variable, \
     '' using 0:2:3:4 with yerrorbars lc rgb "#222222" pt -1, \
     '' using ($0 - 0.3):($5 > 0 ? $5 : 1/0):(0.6):(0) with vectors nohead lw 3 lc rgb "#cc0000", \
     '' using 0:4:(sprintf("%.2f×", $2)) with labels offset 0,0.8 font ",9"
