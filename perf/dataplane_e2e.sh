#!/usr/bin/env bash
#
# perf/dataplane_e2e.sh [--build DIR] [--port N] [--quick]
#
# UDP produce end to end, the DPDK driver beside the socket driver, in one
# run.  A network namespace holds the clients; two veth pairs join it to
# the root namespace (private subnets 10.77.N.0/24 and 10.78.N.0/24, N from
# the pid):
#   data:  NS:secl<pid> 10.77.N.1  <->  sedp<pid> (root ns)
#   admin: NS:seac<pid> 10.78.N.2  <->  seap<pid> 10.78.N.1 (root ns)
# The real sluiced runs twice with the real sluice-control:
#   dpdk:   -o driver=dpdk, net_af_packet on sedp<pid> (no kernel IP),
#           dpdk_ip 10.77.N.2, kernel TCP on the admin link (listen_host
#           10.78.N.1), EAL on lcore 1 (-l 1 --no-pci, --no-huge -m 512 when
#           no hugepages are reserved), `ethtool -K secl<pid> tx off`;
#   socket: the socket driver listening on 10.77.N.2, now a kernel address
#           of sedp<pid>: UDP and TCP over the same data veth.
# Load: build/perf/sluice-udp-flood inside the namespace on CPU 0 (native
# PRODUCE, acks=0, one RecordBatch of as many messages as fit in a
# 1500-byte frame, sendmmsg; it reads the topic id and the end offsets over
# TCP): messages stored / second, counted by the partition's end offset.
# `sluice perf produce --transport udp` (acks=1, 1 KiB batches) runs against
# the socket driver too; it cannot run against the DPDK driver: the CLI
# has no flag for sl_producer_opts.udp_addr, and its UDP would go to the
# kernel TCP address.  Bounded: --count messages or 5 s per case.  Cleans
# up namespace, links, processes and data on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=build
PORT=19193
SCALE=1
while [[ $# -gt 0 ]]; do
	case $1 in
	--build) BUILD=$2; shift ;;
	--port) PORT=$2; shift ;;
	--quick) SCALE=10 ;;
	*) echo "usage: perf/dataplane_e2e.sh [--build DIR] [--port N] [--quick]" >&2; exit 2 ;;
	esac
	shift
done
[[ $(id -u) -eq 0 ]] || { echo "error: needs root (namespaces, veth)" >&2; exit 1; }
SLUICE=$BUILD/tools/sluice/sluice
FLOOD=$BUILD/perf/sluice-udp-flood
for b in "$SLUICE" "$FLOOD" "$BUILD/dataplane/sluiced" "$BUILD/control/sluice-control"; do
	[[ -x $b ]] || { echo "error: $b missing: meson compile -C $BUILD" >&2; exit 1; }
done

P=$$
N=$((100 + P % 100))
NS=sle2e$P DP=sedp$P CL=secl$P AP=seap$P AC=seac$P
CL_IP=10.77.$N.1 DP_IP=10.77.$N.2 AP_IP=10.78.$N.1 AC_IP=10.78.$N.2
PREFIX=sle2e$P
DIR=$PWD/data/perf-dataplane-e2e-$P
pids=()
stop_all() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}
cleanup() {
	stop_all
	ip netns del "$NS" 2>/dev/null || true
	ip link del "$DP" 2>/dev/null || true
	ip link del "$AP" 2>/dev/null || true
	rm -rf "/var/run/dpdk/$PREFIX" "$DIR"
	rm -f "$DIR".*.log
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS"
ip link add "$DP" type veth peer name "$CL"
ip link set "$CL" netns "$NS"
ip -n "$NS" addr add "$CL_IP/24" dev "$CL"
ip -n "$NS" link set "$CL" up
ip -n "$NS" link set lo up
ip link set "$DP" up
ip netns exec "$NS" ethtool -K "$CL" tx off >/dev/null
sysctl -qw "net.ipv6.conf.$DP.disable_ipv6=1"
ip link add "$AP" type veth peer name "$AC"
ip link set "$AC" netns "$NS"
ip addr add "$AP_IP/24" dev "$AP"
ip -n "$NS" addr add "$AC_IP/24" dev "$AC"
ip link set "$AP" up
ip -n "$NS" link set "$AC" up

if grep -q hugetlbfs /proc/mounts && [[ $(cat /proc/sys/vm/nr_hugepages) -ge 256 ]]; then
	MEM="" HUGE=yes
else
	MEM="--no-huge -m 512 " HUGE=no
fi
EAL="-l 1 --no-pci ${MEM}--file-prefix=$PREFIX --vdev=net_af_packet0,iface=$DP,blocksz=4096,framesz=2048,framecnt=8192,qdisc_bypass=1"

echo "command: $0 --build $BUILD --port $PORT$([[ $SCALE -ne 1 ]] && echo ' --quick')"
echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (+ uncommitted changes)')"
echo "machine: $(hostname), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, kernel $(uname -r), hugepages $HUGE"
echo "topology: ns $NS $CL $CL_IP <-veth-> $DP (dpdk: af_packet, no IP; socket: $DP_IP); admin $AC $AC_IP <-veth-> $AP $AP_IP"
echo "load: sluice-udp-flood in the namespace on CPU 0 (acks=0, one batch per <=1500 B frame, sendmmsg), stored msgs counted by the end offset"
echo

start_broker() { # driver -> sets ADDR (TCP), UDPADDR
	local drv=$1 opts
	rm -rf "$DIR"; mkdir -p "$DIR"
	opts=(-o "data_dir=$DIR" -o "tcp_port=$PORT" -o "udp_port=$PORT"
	      -o "telemetry_socket=$DIR/run/telemetry.sock" -o kafka_port=0)
	if [[ $drv == dpdk ]]; then
		ip addr flush dev "$DP"
		opts+=(-o "listen_host=$AP_IP" -o driver=dpdk -o "dpdk_args=$EAL" -o "dpdk_ip=$DP_IP")
		ADDR=$AP_IP:$PORT
	else
		ip addr flush dev "$DP"
		ip addr add "$DP_IP/24" dev "$DP"
		opts+=(-o "listen_host=$DP_IP")
		ADDR=$DP_IP:$PORT
	fi
	UDPADDR=$DP_IP:$PORT
	"$BUILD/dataplane/sluiced" "${opts[@]}" 2>"$DIR.$drv.sluiced.log" &
	pids+=($!)
	"$BUILD/control/sluice-control" "${opts[@]}" 2>"$DIR.$drv.control.log" &
	pids+=($!)
	local i
	for i in $(seq 150); do
		ip netns exec "$NS" "$SLUICE" -b "$ADDR" topic list >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "error: $drv broker did not answer; log:" >&2
	cat "$DIR.$drv.sluiced.log" >&2
	return 1
}
create() {
	local i
	for i in $(seq 100); do
		ip netns exec "$NS" "$SLUICE" -b "$ADDR" topic create "$1" --partitions 1 >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "error: cannot create topic $1" >&2
	return 1
}
jget() { # json key
	sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" <<<"$1"
}

declare -A R
for drv in dpdk socket; do
	start_broker "$drv"
	# warm-up: ARP, first segment
	create warm
	ip netns exec "$NS" taskset -c 0 "$FLOOD" -b "$ADDR" --udp "$UDPADDR" --topic warm \
		--size 100 --count 10000 --seconds 1 >/dev/null
	for size in 100 1024; do
		if [[ $size -eq 100 ]]; then n=$((3000000 / SCALE)); else n=$((1000000 / SCALE)); fi
		t="flood-$size"
		create "$t"
		j=$(ip netns exec "$NS" taskset -c 0 "$FLOOD" -b "$ADDR" --udp "$UDPADDR" \
			--topic "$t" --size "$size" --count "$n" --seconds 5)
		echo "$drv flood ${size}B: $j"
		R[$drv,flood,$size]=$j
	done
	if [[ $drv == socket ]]; then
		for size in 100 1024; do
			if [[ $size -eq 100 ]]; then n=$((1000000 / SCALE)); else n=$((300000 / SCALE)); fi
			t="cli-$size"
			create "$t"
			j=$(ip netns exec "$NS" taskset -c 0 timeout 60 "$SLUICE" -b "$ADDR" perf produce \
				--topic "$t" --transport udp --size "$size" --count "$n" --acks 1 \
				--batch-kib 1 --json 2>/dev/null | tail -1 || true)
			echo "$drv cli ${size}B: $j"
			R[$drv,cli,$size]=$j
		done
	fi
	if [[ $drv == dpdk ]]; then
		echo "dpdk counters (/sluice/dpdk, /ethdev/stats,0):"
		for c in /sluice/dpdk /ethdev/stats,0; do
			echo "$c" | timeout 5 /usr/bin/python3 /usr/bin/dpdk-telemetry.py -f "$PREFIX" 2>/dev/null \
				| tr -d '\n' | head -c 3000 || true
			echo
		done
	fi
	stop_all
	echo
done

echo "## UDP produce end to end, stored messages/s (1 partition, acks=0 flood; CLI acks=1)"
printf '%-30s %14s %10s %14s %10s %10s\n' "case" "dpdk msgs/s" "dpdk MB/s" "socket msgs/s" "socket MB/s" "dpdk/socket"
for size in 100 1024; do
	a=${R[dpdk,flood,$size]} b=${R[socket,flood,$size]}
	am=$(jget "$a" msgs_s) bm=$(jget "$b" msgs_s)
	printf '%-30s %14s %10s %14s %10s %10s\n' "flood ${size} B msgs" "$am" "$(jget "$a" mb_s)" \
		"$bm" "$(jget "$b" mb_s)" "$(awk -v a="$am" -v b="$bm" 'BEGIN{if(b>0)printf "%.2f", a/b; else print "-"}')"
	printf '%-30s %14s %10s %14s %10s\n' "  sent msgs/s (sender)" "$(jget "$a" sent_msgs_s)" "" "$(jget "$b" sent_msgs_s)" ""
	printf '%-30s %14s %10s %14s %10s\n' "  stored / sent" \
		"$(jget "$a" messages_stored)/$(jget "$a" messages_sent)" "" \
		"$(jget "$b" messages_stored)/$(jget "$b" messages_sent)" ""
done
for size in 100 1024; do
	c=${R[socket,cli,$size]:-}
	printf '%-30s %14s %10s %14s %10s\n' "sluice perf udp ${size} B acks=1" "n/a (no udp_addr flag)" "" \
		"$(jget "$c" msgs_per_s)$(jget "$c" msgs_s)" "$(jget "$c" mb_per_s)$(jget "$c" mb_s)"
done
