# ratios.png: redis-proxy's throughput divided by each peer's (bench.sh).
# Usage: gnuplot -e "dir='WORKDIR'; out='ratios.png'" ratios.gp
# Reads dir/ratios.dat: label <TAB> ratio (n/a when not measured).
set terminal pngcairo size 1100,600 font "DejaVu Sans,10"
set output out
set datafile separator "\t"
set datafile missing "n/a"
f = dir.'/ratios.dat'
stats f using 2 nooutput
ymax = STATS_max
stats f using 0 nooutput
rows = STATS_records
set xrange [-0.6:rows - 0.4]
set title "redis-proxy req/s ÷ peer req/s (blue: the proxy serves more, orange: fewer)" font ",12"
set style fill solid 0.85 border -1
set boxwidth 0.6
set yrange [0:(ymax > 1 ? ymax : 1) * 1.15]
set ylabel "proxy req/s ÷ peer req/s"
set grid ytics
set xtics noenhanced font ",9"
set bmargin 4
set key off
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1.5 lc rgb "#aa0000"
plot f using 0:2:($2 >= 1 ? 0x3973ac : 0xdd7733):xtic(1) with boxes lc rgb variable, \
     '' using 0:2:(sprintf("%.2f×", $2)) with labels offset 0,0.8 font ",10"
