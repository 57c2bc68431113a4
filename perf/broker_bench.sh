#!/usr/bin/env bash
#
# perf/broker_bench.sh [--quick] [--build DIR] [--port N]
#
# The single-node broker on loopback, measured with `sluice perf` beside the
# machine's limits, all in one run:
#   - produce over TCP and UDP, 100-byte and 1 KiB messages, acks=1 and
#     acks=all, 1 and 8 partitions (one producer);
#   - consume of what was produced (one consumer per partition);
#   - acks=all at a fixed 1,000 msgs/s (open loop, latency from the due
#     time) against fio's fdatasync p50;
#   - fio: sequential O_DIRECT write bandwidth (1 MiB, depth 32) and
#     fdatasync latency after 4 KiB writes, on the data directory's disk;
#   - loopback TCP bandwidth (perf/sluice-tcp-loopback).
# Prints a markdown report (command, commit, machine, table with ratios) and
# writes every figure as JSON next to it under perf/results/.  Starts its own
# sluiced and sluice-control on --port (default 19093) with data under
# ./data/perf-broker, and stops them by pid.  --quick: a tenth of the counts.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=build
PORT=19093
SCALE=1
while [[ $# -gt 0 ]]; do
	case $1 in
	--quick) SCALE=10 ;;
	--build) BUILD=$2; shift ;;
	--port) PORT=$2; shift ;;
	*) echo "usage: perf/broker_bench.sh [--quick] [--build DIR] [--port N]" >&2; exit 2 ;;
	esac
	shift
done

SLUICE=$BUILD/tools/sluice/sluice
for b in "$SLUICE" "$BUILD/dataplane/sluiced" "$BUILD/control/sluice-control" \
	"$BUILD/perf/sluice-tcp-loopback"; do
	[[ -x $b ]] || { echo "error: $b missing: build first (meson compile -C $BUILD)" >&2; exit 1; }
done
command -v fio >/dev/null || { echo "error: fio missing: apt-get install fio" >&2; exit 1; }

DIR=$PWD/data/perf-broker
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
OUT=perf/results/broker-$STAMP
mkdir -p perf/results
rm -rf "$DIR"
mkdir -p "$DIR"
OPTS=(-o "data_dir=$DIR" -o "tcp_port=$PORT" -o "udp_port=$PORT"
      -o "telemetry_socket=$DIR/run/telemetry.sock" -o kafka_port=0)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$DIR"
}
trap cleanup EXIT

"$BUILD/dataplane/sluiced" "${OPTS[@]}" 2>"$OUT.sluiced.log" &
pids+=($!)
"$BUILD/control/sluice-control" "${OPTS[@]}" 2>"$OUT.control.log" &
pids+=($!)
B=(-b "127.0.0.1:$PORT")
for _ in $(seq 100); do
	"$SLUICE" "${B[@]}" topic list >/dev/null 2>&1 && break
	sleep 0.1
done

# sluice-control must be connected before topics can be created
create() { # name partitions
	local i
	for i in $(seq 100); do
		"$SLUICE" "${B[@]}" topic create "$1" --partitions "$2" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "error: cannot create topic $1; logs: $OUT.sluiced.log $OUT.control.log" >&2
	return 1
}

JSON=$OUT.json
echo "{" >"$JSON"
first=1
emit() { # name json
	if [[ $first -eq 0 ]]; then echo "," >>"$JSON"; fi
	first=0
	printf '"%s": %s' "$1" "$2" >>"$JSON"
}

for transport in tcp udp; do
	for size in 100 1024; do
		for acks in 1 all; do
			for parts in 1 8; do
				if [[ $size -eq 100 ]]; then n=$((2000000 / SCALE)); else n=$((500000 / SCALE)); fi
				t="t-$transport-$size-$acks-$parts"
				create "$t" "$parts"
				j=$("$SLUICE" "${B[@]}" perf produce --topic "$t" --count "$n" \
					--size "$size" --acks "$acks" --transport "$transport" \
					--partitions "$parts" --json 2>/dev/null | tail -1)
				emit "produce_${transport}_${size}_acks${acks}_p${parts}" "$j"
				echo "produce $transport ${size}B acks=$acks partitions=$parts: $j" >&2
			done
		done
	done
done
# the target case: 1 KiB, acks=all, the producer pipelining 1 MiB batches
for parts in 1 8; do
	create "big-$parts" "$parts"
	j=$("$SLUICE" "${B[@]}" perf produce --topic "big-$parts" --count $((3000000 / SCALE)) \
		--size 1024 --acks all --batch-kib 1024 --partitions "$parts" --json 2>/dev/null | tail -1)
	emit "produce_tcp_1024_acksall_p${parts}_batch1m" "$j"
	echo "produce tcp 1024B acks=all partitions=$parts batch 1 MiB: $j" >&2
done
# a consumer keeping up with a producer reads from the tail cache
create live 1
"$SLUICE" "${B[@]}" perf consume --topic live --duration $((30 / SCALE + 3)) --json \
	>"$OUT.live.json" 2>/dev/null &
cpid=$!
sleep 0.5
"$SLUICE" "${B[@]}" perf produce --topic live --duration $((30 / SCALE + 2)) --size 1024 \
	--acks 1 --batch-kib 1024 --json >/dev/null 2>&1
wait $cpid || true
j=$(tail -1 "$OUT.live.json"); rm -f "$OUT.live.json"
emit consume_live_tail_1024 "$j"
echo "consume 1 KiB while producing (tail cache): $j" >&2
# reads served from the tail cache alone: a second broker whose write
# buffer (512 MiB per partition) holds everything produced
DIR2=$DIR/tail
mkdir -p "$DIR2"
PORT2=$((PORT + 1))
OPTS2=(-o "data_dir=$DIR2" -o "tcp_port=$PORT2" -o "udp_port=$PORT2"
       -o "telemetry_socket=$DIR2/run/telemetry.sock" -o log_buffer_mb=512
       -o kafka_port=0)
"$BUILD/dataplane/sluiced" "${OPTS2[@]}" 2>>"$OUT.sluiced.log" &
pids+=($!)
"$BUILD/control/sluice-control" "${OPTS2[@]}" 2>>"$OUT.control.log" &
pids+=($!)
B2=(-b "127.0.0.1:$PORT2")
for _ in $(seq 100); do
	"$SLUICE" "${B2[@]}" topic create tail --partitions 1 >/dev/null 2>&1 && break
	sleep 0.1
done
"$SLUICE" "${B2[@]}" perf produce --topic tail --count $((400000 / SCALE)) --size 1024 \
	--acks 1 --batch-kib 1024 --json >/dev/null 2>&1
j=$("$SLUICE" "${B2[@]}" perf consume --topic tail --count $((400000 / SCALE)) --json 2>/dev/null | tail -1)
emit consume_tail_cache_1024 "$j"
echo "consume 1 KiB from the tail cache: $j" >&2
j=$("$SLUICE" "${B[@]}" perf consume --topic t-tcp-1024-1-8 --count $((500000 / SCALE)) --json 2>/dev/null | tail -1)
emit consume_1024_p8 "$j"
echo "consume 1 KiB, 8 partitions: $j" >&2
j=$("$SLUICE" "${B[@]}" perf consume --topic t-tcp-100-1-1 --count $((2000000 / SCALE)) --json 2>/dev/null | tail -1)
emit consume_100_p1 "$j"
echo "consume 100 B, 1 partition: $j" >&2
create lat 1
j=$("$SLUICE" "${B[@]}" perf produce --topic lat --rate 1000 --duration $((20 / SCALE + 2)) \
	--size 1024 --acks all --linger-ms 0 --json 2>/dev/null | tail -1)
emit rate1000_acksall_1024 "$j"
echo "1,000 msgs/s, 1 KiB, acks=all: $j" >&2

fio --name=seq --directory="$DIR" --ioengine=io_uring --direct=1 --rw=write \
	--bs=1M --iodepth=32 --size=$((2048 / SCALE))M --end_fsync=1 \
	--output-format=json >"$OUT.fio-seq.json" 2>/dev/null
fio --name=sync --directory="$DIR" --ioengine=sync --rw=write --bs=4k \
	--fdatasync=1 --size=$((64 / SCALE))M --output-format=json \
	>"$OUT.fio-sync.json" 2>/dev/null
emit fio_seq "$(cat "$OUT.fio-seq.json" | /usr/bin/python3 -c 'import json,sys; j=json.load(sys.stdin)["jobs"][0]["write"]; print(json.dumps({"mb_per_s": j["bw_bytes"]/1e6}))')"
emit fio_fdatasync_4k "$(cat "$OUT.fio-sync.json" | /usr/bin/python3 -c 'import json,sys; p=json.load(sys.stdin)["jobs"][0]["sync"]["lat_ns"]["percentile"]; print(json.dumps({"p50_us": p["50.000000"]/1e3, "p99_us": p["99.000000"]/1e3}))')"
emit tcp_loopback "$("$BUILD/perf/sluice-tcp-loopback" --mib $((4096 / SCALE)) --json)"
echo "}" >>"$JSON"
rm -f "$OUT.fio-seq.json" "$OUT.fio-sync.json"

/usr/bin/python3 - "$JSON" "$*" >"$OUT.md" <<'PY'
import json, platform, subprocess, sys
j = json.load(open(sys.argv[1]))
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
fio_mb = j["fio_seq"]["mb_per_s"]
lo_mb = j["tcp_loopback"]["tcp_loopback_mb_per_s"]
sync50 = j["fio_fdatasync_4k"]["p50_us"]
print(f"command: perf/broker_bench.sh {sys.argv[2]}  \ncommit: {commit}  \nmachine: {platform.node()} {platform.release()}, {cpu}, {subprocess.run(['nproc'],capture_output=True,text=True).stdout.strip()} CPUs\n")
print(f"limits in the same run: fio sequential O_DIRECT write {fio_mb:.0f} MB/s; fdatasync after a 4 KiB write p50 {sync50:.0f} us; loopback TCP {lo_mb:.0f} MB/s\n")
print("| case | msgs/s | MB/s | ack p50 us | ack p99 us | MB/s ÷ fio | MB/s ÷ loopback |")
print("|---|---:|---:|---:|---:|---:|---:|")
for k, v in j.items():
    if not (k.startswith("produce") or k.startswith("consume") or k.startswith("rate")) or not v:
        continue
    mb = v.get("mb_per_s", 0)
    print(f"| {k} | {v.get('msgs_per_s',0):,.0f} | {mb:.1f} | {v.get('p50_us',0):,.0f} | {v.get('p99_us',0):,.0f} | {mb/fio_mb:.2f} | {mb/lo_mb:.3f} |")
r = j.get("rate1000_acksall_1024") or {}
if r:
    print(f"\nacks=all at 1,000 msgs/s: ack p50 {r.get('p50_us',0):.0f} us = {r.get('p50_us',0)/sync50:.2f}x fio's fdatasync p50 ({sync50:.0f} us)")
PY
cat "$OUT.md"
rm -f "$OUT.sluiced.log" "$OUT.control.log"
echo "figures: $JSON, report: $OUT.md" >&2
