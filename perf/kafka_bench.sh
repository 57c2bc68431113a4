#!/usr/bin/env bash
#
# perf/kafka_bench.sh [--quick] [--build DIR] [--count N] [--sizes S,S]
#                     [--acks 0|1|all] [--partitions N] [--batch-kib KIB]
#                     [--linger-ms MS] [--max-in-flight N] [--port N]
#                     [--kafka-port N]
#
# The same work through the broker's two front doors, in one run on one
# fresh broker: for each message size, N messages produced by one producer
# and read back by one consumer per run,
#   - native protocol: `sluice perf produce` / `sluice perf consume` (TCP);
#   - Kafka protocol:  perf/sluice-kafka-bench produce / consume
#     (librdkafka, linger.ms and batch.size set for throughput);
# with the same message size, count, acks, partitions, batch size and
# linger, and the same pipelining (5 batches in flight: the native
# producer's per partition, Kafka's Java default; --max-in-flight sets the
# Kafka producer's), each on a topic of its own.  Prints the command, commit and
# machine, then a table: msgs/s, MB/s and delivery latency p50/p99 of each
# protocol and the Kafka ÷ native ratio.  Figures as JSON and the report
# go to perf/results/kafka-<UTC time>.{json,md}.
#
# Defaults: 1,000,000 messages, sizes 100 and 1024 bytes, acks=all, 1
# partition, 1 MiB batches, linger 5 ms; --quick: a tenth of the count.
# Starts its own sluiced and sluice-control (native on --port, default
# 19293; Kafka on --kafka-port, default 19292; never the defaults 9092/9093)
# with data under ./data/perf-kafka, and stops them by pid.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=build
PORT=19293
KPORT=19292
COUNT=1000000
SIZES=100,1024
ACKS=all
PARTS=1
BATCH_KIB=1024
LINGER_MS=5
ARGS="$*"
MAX_IN_FLIGHT=5
usage() { sed -n '3,6s/^# \{0,1\}//p' "$0" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
	case $1 in
	--quick) COUNT=$((COUNT / 10)) ;;
	--build) BUILD=$2; shift ;;
	--count) COUNT=$2; shift ;;
	--sizes) SIZES=$2; shift ;;
	--acks) ACKS=$2; shift ;;
	--partitions) PARTS=$2; shift ;;
	--batch-kib) BATCH_KIB=$2; shift ;;
	--linger-ms) LINGER_MS=$2; shift ;;
	--max-in-flight) MAX_IN_FLIGHT=$2; shift ;;
	--port) PORT=$2; shift ;;
	--kafka-port) KPORT=$2; shift ;;
	*) usage ;;
	esac
	shift
done
for p in "$PORT" "$KPORT"; do
	if [[ $p == 9092 || $p == 9093 ]]; then
		echo "error: port $p is the default broker's; pick another" >&2
		exit 2
	fi
done

SLUICE=$BUILD/tools/sluice/sluice
KBENCH=$BUILD/perf/sluice-kafka-bench
for b in "$SLUICE" "$BUILD/dataplane/sluiced" "$BUILD/control/sluice-control"; do
	[[ -x $b ]] || { echo "error: $b missing: build first (meson compile -C $BUILD)" >&2; exit 1; }
done
[[ -x $KBENCH ]] || { echo "error: $KBENCH missing: it needs librdkafka-dev" \
	"(apt-get install librdkafka-dev, then meson setup --reconfigure $BUILD" \
	"and meson compile -C $BUILD)" >&2; exit 1; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$PORT" "$KPORT"; do
	if port_busy "$p"; then
		echo "error: something already listens on 127.0.0.1:$p; pass --port / --kafka-port" >&2
		exit 1
	fi
done

DIR=$PWD/data/perf-kafka
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
OUT=perf/results/kafka-$STAMP
mkdir -p perf/results
rm -rf "$DIR"
mkdir -p "$DIR"
OPTS=(-o "data_dir=$DIR" -o "tcp_port=$PORT" -o "udp_port=$PORT"
      -o "kafka_port=$KPORT" -o "kafka_advertised_host=127.0.0.1"
      -o "telemetry_socket=$DIR/run/telemetry.sock")
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
create() { # name: sluice-control must be connected before topics can be created
	local _
	for _ in $(seq 100); do
		"$SLUICE" "${B[@]}" topic create "$1" --partitions "$PARTS" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "error: cannot create topic $1; logs: $OUT.sluiced.log $OUT.control.log" >&2
	exit 1
}
create warmup
for _ in $(seq 100); do
	port_busy "$KPORT" && break
	sleep 0.1
done
port_busy "$KPORT" || { echo "error: nothing listens on the Kafka port 127.0.0.1:$KPORT;" \
	"logs: $OUT.sluiced.log $OUT.control.log" >&2; exit 1; }

JSON=$OUT.json
echo "{" >"$JSON"
first=1
emit() { # name json
	if [[ $first -eq 0 ]]; then echo "," >>"$JSON"; fi
	first=0
	printf '"%s": %s' "$1" "${2:-null}" >>"$JSON"
}
last_json() { grep '^{' | tail -n1; }

IFS=, read -r -a sizes <<<"$SIZES"
for size in "${sizes[@]}"; do
	tn=kb-native-$size
	tk=kb-kafka-$size
	create "$tn"
	create "$tk"
	echo "== $COUNT x $size B, acks=$ACKS, $PARTS partition(s)" >&2
	j=$("$SLUICE" "${B[@]}" perf produce --topic "$tn" --count "$COUNT" --size "$size" \
		--acks "$ACKS" --partitions "$PARTS" --batch-kib "$BATCH_KIB" \
		--linger-ms "$LINGER_MS" --json 2>/dev/null | last_json) || true
	emit "native_produce_$size" "$j"
	echo "native produce: $j" >&2
	j=$("$SLUICE" "${B[@]}" perf consume --topic "$tn" --count "$COUNT" --json 2>/dev/null |
		last_json) || true
	emit "native_consume_$size" "$j"
	echo "native consume: $j" >&2
	j=$("$KBENCH" produce -b "127.0.0.1:$KPORT" --topic "$tk" --count "$COUNT" --size "$size" \
		--acks "$ACKS" --batch-kib "$BATCH_KIB" --linger-ms "$LINGER_MS" \
		--max-in-flight "$MAX_IN_FLIGHT" --json 2>&1 |
		tee "$OUT.kafka-produce-$size.log" | last_json) || true
	emit "kafka_produce_$size" "$j"
	echo "kafka produce: $j" >&2
	j=$("$KBENCH" consume -b "127.0.0.1:$KPORT" --topic "$tk" --count "$COUNT" --json 2>&1 |
		tee "$OUT.kafka-consume-$size.log" | last_json) || true
	emit "kafka_consume_$size" "$j"
	echo "kafka consume: $j" >&2
done
echo "}" >>"$JSON"

RDK=$(sed -n 's/^librdkafka: //p' "$OUT".kafka-produce-*.log | head -n1)
/usr/bin/python3 - "$JSON" "$ARGS" "$COUNT" "$ACKS" "$PARTS" "$BATCH_KIB" "$LINGER_MS" "$RDK" \
	"$MAX_IN_FLIGHT" \
	>"$OUT.md" <<'PY'
import json, platform, subprocess, sys
j = json.load(open(sys.argv[1]))
args, count, acks, parts, batch, linger, rdk, inflight = sys.argv[2:10]
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
ncpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
print(f"command: perf/kafka_bench.sh {args}  \ncommit: {commit}  \n"
      f"machine: {platform.node()} {platform.release()}, {cpu}, {ncpu} CPUs  \n"
      f"librdkafka {rdk or '?'}; {int(count):,} messages a case, acks={acks}, {parts} partition(s), "
      f"batches {batch} KiB, linger {linger} ms, Kafka producer {inflight} requests in flight, "
      f"one producer and one consumer, loopback\n")
print("| case | native msgs/s | native MB/s | Kafka msgs/s | Kafka MB/s | Kafka ÷ native | native p50/p99 us | Kafka p50/p99 us |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
def row(name, n, k, lat):
    n = n or {}; k = k or {}
    nm, km = n.get("msgs_per_s", 0), k.get("msgs_per_s", 0)
    ratio = f"{km / nm:.2f}" if nm else "-"
    nl = f"{n.get('p50_us', 0):,}/{n.get('p99_us', 0):,}" if lat and n else "-"
    kl = f"{k.get('p50_us', 0):,}/{k.get('p99_us', 0):,}" if lat and k else "-"
    fails = []
    if n.get("errors"): fails.append(f"native {n['errors']} failed")
    if k.get("errors"): fails.append(f"Kafka {k['errors']} failed")
    if not n: fails.append("native: no result")
    if not k: fails.append("Kafka: no result")
    print(f"| {name}{' (' + '; '.join(fails) + ')' if fails else ''} | {nm:,.0f} | {n.get('mb_per_s', 0):.1f} | "
          f"{km:,.0f} | {k.get('mb_per_s', 0):.1f} | {ratio} | {nl} | {kl} |")
sizes = sorted({int(k.rsplit("_", 1)[1]) for k in j})
for s in sizes:
    row(f"produce {s} B", j.get(f"native_produce_{s}"), j.get(f"kafka_produce_{s}"), True)
    row(f"consume {s} B", j.get(f"native_consume_{s}"), j.get(f"kafka_consume_{s}"), False)
print("\nLatency: from the send call to the delivery report (native: sluice perf's ack latency; "
      "Kafka: librdkafka's delivery report), mostly queueing in the producer at full speed.")
PY
cat "$OUT.md"
if grep -q ': null' "$JSON"; then
	echo "some runs gave no figures; their output and the broker's logs:" \
		"$OUT.*.log" >&2
else
	rm -f "$OUT.sluiced.log" "$OUT.control.log" "$OUT".kafka-*.log
fi
echo "figures: $JSON, report: $OUT.md" >&2
