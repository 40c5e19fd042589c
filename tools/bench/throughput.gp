# throughput.png: every row of the main table (tools/bench.sh), median
# req/s over the rounds with min–max whiskers; blue the proxy, grey the
# limit server, orange the peers.
# Usage: gnuplot -e "dir='WORKDIR'; out='throughput.png'" throughput.gp
# Reads dir/throughput.dat: label, median, min, max, kind (0 1 2).
set datafile separator "\t"
f = dir.'/throughput.dat'
stats f using 4 nooutput
ymax = STATS_max
stats f using 0 nooutput
rows = STATS_records
# 40 pixels a bar at least
set terminal pngcairo size (rows * 40 > 1700 ? rows * 40 : 1700),680 font "DejaVu Sans,10"
set output out
set xrange [-0.6:rows - 0.4]
set title "req/s, median of the rounds (whiskers: min–max); blue redis-proxy, grey the limit server, orange the peers; each on one pinned core" font ",12"
set style fill solid 0.85 border -1
set boxwidth 0.6
set logscale y
set yrange [5000:ymax * 1.6]
set ylabel "requests per second (log scale)"
set grid ytics
set xtics noenhanced rotate by -50 font ",8"
set bmargin 11
set key off
color(k) = k == 0 ? 0x3973ac : k == 1 ? 0x999999 : 0xdd7733
plot f using 0:2:(color($5)):xtic(1) with boxes lc rgb variable, \
     '' using 0:2:3:4 with yerrorbars lc rgb "#222222" pt -1, \
     '' using 0:4:(sprintf("%.0fk", $2 / 1000)) with labels offset 0,0.7 font ",8"
