# scaling.png: redis-proxy HTTP cache hits (tools/bench.sh) as the cache
# holds more keys, and with more connections: median req/s of the rounds
# (bars, whiskers min–max, left axis) and median p99 (line, right axis).
# Usage: gnuplot -e "dir='WORKDIR'; out='scaling.png'" scaling.gp
# Reads dir/scale-{keys,conns}.dat: x label, median, min, max, p99 ms.
set terminal pngcairo size 1200,520 font "DejaVu Sans,10"
set output out
set datafile separator "\t"
set multiplot layout 1,2 title "redis-proxy HTTP cache hits (wrk -t1, keys uniform at random, all cached, pinned)" font ",13"
set style fill solid 0.85 border -1
set boxwidth 0.6
set grid ytics
set ytics nomirror
set y2tics
set ylabel "thousand req/s (bars)"
set y2label "p99 ms (line)"
set key off
set xtics noenhanced

do for [panel in "keys conns"] {
    if (panel eq "keys") { set title "by keys in the cache"; set xlabel "cached keys" }
    if (panel eq "conns") { set title "by client connections"; set xlabel "connections" }
    f = dir.'/scale-'.panel.'.dat'
    set autoscale
    stats f using 4 nooutput
    rps_max = STATS_max
    stats f using 5 nooutput
    p99_max = STATS_max
    stats f using 0 nooutput
    set xrange [-0.6:STATS_records - 0.4]
    set yrange [0:rps_max / 1000 * 1.2]
    set y2range [0:(p99_max > 0 ? p99_max : 1) * 1.2]
    plot f using 0:($2/1000):xtic(1) axes x1y1 with boxes lc rgb "#3973ac", \
         f using 0:($2/1000):($3/1000):($4/1000) axes x1y1 with yerrorbars lc rgb "#222222" pt -1, \
         f using 0:($4/1000):(sprintf("%.0fk", $2/1000)) axes x1y1 with labels offset 0,0.7, \
         f using 0:5 axes x1y2 with linespoints lw 2 pt 7 lc rgb "#cc4400"
}
unset multiplot
