# scaling.png: redis-proxy HTTP cache hits as cached keys, workers and
# connections grow (bench.sh). Three panels: throughput (bars, left axis)
# and p99 latency (line, right axis).
# Usage: gnuplot -e "dir='WORKDIR'; out='scaling.png'" scaling.gp
# Reads dir/scale-{keys,workers,conns}.tsv: x, req/s, p50 ms, p99 ms, note.
set terminal pngcairo size 1500,520 font "DejaVu Sans,10"
set output out
set datafile separator "\t"
set datafile missing "n/a"
set multiplot layout 1,3 title "redis-proxy HTTP cache hits (wrk -t1, keys uniform at random, all cached)" font ",13"
set style fill solid 0.85 border -1
set boxwidth 0.6
set grid ytics
set ytics nomirror
set y2tics
set ylabel "thousand req/s (bars)"
set y2label "p99 ms (line)"
set key off          # the axis labels say which is which
set xtics noenhanced

lbl(x) = x >= 1e6 ? sprintf("%gM", x / 1e6) : x >= 1e3 ? sprintf("%gk", x / 1e3) : sprintf("%g", x)

do for [panel in "keys workers conns"] {
    if (panel eq "keys") { set title "by keys in the cache"; set xlabel "cached keys" }
    if (panel eq "workers") { set title "by worker threads"; set xlabel "workers" }
    if (panel eq "conns") { set title "by client connections"; set xlabel "connections" }
    f = dir.'/scale-'.panel.'.tsv'
    set autoscale    # stats honours the ranges the previous panel set
    stats f using 1 nooutput
    set xrange [-0.6:STATS_records - 0.4]
    stats f using 2 nooutput
    rps_max = STATS_max
    stats f using 4 nooutput
    p99_max = STATS_max
    set yrange [0:rps_max / 1000 * 1.2]
    set y2range [0:p99_max * 1.2]
    plot f using 0:($2/1000):xtic(panel eq "keys" ? lbl($1) : sprintf("%d", $1)) axes x1y1 with boxes lc rgb "#3973ac" title "req/s", \
         f using 0:($2/1000):(sprintf("%.0fk", $2/1000)) axes x1y1 with labels offset 0,0.7 notitle, \
         f using 0:4 axes x1y2 with linespoints lw 2 pt 7 lc rgb "#cc4400" title "p99 ms"
}
unset multiplot
