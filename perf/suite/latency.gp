# Latency percentile curves of the fixed-rate runs: for each workload, a
# PNG with publish-to-ack (left) and publish-to-consume (right) latency
# against the percentile (x: 1/(1-p), log), one curve per system.
# Run in the results directory: reads latency-N.dat and plot.gpvars,
# writes latency-N.png.
load 'plot.gpvars'
set terminal pngcairo size 1400,620 font ',10' noenhanced
set logscale xy
set xrange [1.5:200000]
set xtics ('p50' 2, 'p90' 10, 'p99' 100, 'p99.9' 1000, 'p99.99' 10000, 'max' 100000)
set ylabel 'ms'
set grid xtics ytics
set key below horizontal
do for [k=1:nlat] {
	set output sprintf('latency-%d.png', k)
	set multiplot layout 1,2 title sprintf('%s at 50%% of each system''s max: latency from the due time (corrected for coordinated omission)', lat_title[k])
	set title 'publish to ack'
	plot for [i=0:lat_n[k]-1] sprintf('latency-%d.dat', k) index i using 1:2 with linespoints pt 7 ps 0.6 title columnheader(1), \
	     sync50_ms with lines dt 2 lc rgb 'black' title 'fio fdatasync p50'
	set title 'publish to consume'
	plot for [i=0:lat_n[k]-1] sprintf('latency-%d.dat', k) index i using 1:3 with linespoints pt 7 ps 0.6 title columnheader(1)
	unset multiplot
}
