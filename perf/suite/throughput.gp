# Throughput bars: MB/s published per workload (max-throughput runs), one
# bar per system, log scale, with the fio and loopback limits as lines.
# Run in the results directory (perf/suite/run.sh does): reads
# throughput.dat and plot.gpvars, writes throughput.png.
load 'plot.gpvars'
set terminal pngcairo size 1200,600 font ',10' noenhanced
set output 'throughput.png'
set title 'Max throughput, MB/s published (acked), log scale'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [0.1:*]
set ylabel 'MB/s'
set grid ytics
set key outside right top vertical
set xtics nomirror
plot for [i=2:nsys+1] 'throughput.dat' using i:xtic(1) title columnheader(i), \
     fio_mb with lines lw 2 dt 2 lc rgb 'black' title sprintf('fio seq write %.0f MB/s', fio_mb), \
     lo_mb with lines lw 2 dt 3 lc rgb 'gray40' title sprintf('loopback TCP %.0f MB/s', lo_mb)
