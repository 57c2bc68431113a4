#!/usr/bin/env bash
# One net core against two: the same broker build, net_cores = 1 and 2 in
# turns, the same workload through `sluice perf` (several producers, so
# that connections spread over the cores), N rounds; a table of msgs/s per
# round and the medians.  Raw output under perf/results/netcores-<UTC>/raw/.
#
#   perf/net_cores.sh [--build DIR] [--rounds N] [--quick]
#
# Cases (each on its own topic of 4 partitions, 4 producers, one
# connection each): TCP 100 B acks=1, UDP 100 B acks=1, TCP 1 KiB acks=all.
# Every run is bounded by a timeout; the broker is stopped after each
# round.  The machine's CPU count is printed: with 2 CPUs the producers,
# the net cores and the storage core share them.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build
ROUNDS=3
N=4000000
while (($#)); do
	case $1 in
	--build) BUILD=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--quick) N=400000; shift ;;
	*) echo "usage: $0 [--build DIR] [--rounds N] [--quick]" >&2; exit 2 ;;
	esac
done
SLUICED=$BUILD/dataplane/sluiced
CONTROL=$BUILD/control/sluice-control
SLUICE=$BUILD/tools/sluice/sluice
for b in "$SLUICED" "$CONTROL" "$SLUICE"; do
	[[ -x $b ]] || { echo "error: $b not built (meson compile -C $BUILD)" >&2; exit 1; }
done
PORT=19493
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
OUT=perf/results/netcores-$STAMP
RAW=$OUT/raw
mkdir -p "$RAW"
DATA=$(mktemp -d "${TMPDIR:-/var/tmp}/sluice-netcores.XXXXXX")
pids=()
stop() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}
trap 'stop; rm -rf "$DATA"' EXIT

CASES=("tcp100:--transport tcp --size 100 --acks 1"
	"udp100:--transport udp --size 100 --acks 1"
	"tcp1k:--transport tcp --size 1024 --acks all")

declare -A R # R[cores,case,round] = msgs/s
declare -A S # S[cores,case,round] = frames per net core, "a/b"

# Frames each net core has handled so far (telemetry /sluice/cores), "a/b".
net_frames() { # SOCKET
	python3 - "$1" <<'PY' 2>/dev/null || echo "?"
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(5)
s.connect(sys.argv[1])
s.recv(4096)
s.send(b"/sluice/cores")
c = json.loads(s.recv(1 << 20).decode())["/sluice/cores"]
print("/".join(str(c[k]["frames"]) for k in sorted(c) if k.startswith("net")))
PY
}
run_round() { # CORES ROUND
	local cores=$1 r=$2 log=$RAW/n$1-r$2.log dir=$DATA/n$1-r$2 c name args i
	mkdir -p "$dir"
	local opts=(-o "data_dir=$dir" -o "tcp_port=$PORT" -o "udp_port=$PORT"
		-o kafka_port=0 -o "telemetry_socket=$dir/tel.sock"
		-o "net_cores=$cores")
	"$SLUICED" "${opts[@]}" 2>>"$log" &
	pids+=($!)
	"$CONTROL" "${opts[@]}" 2>>"$log" &
	pids+=($!)
	for c in "${CASES[@]}"; do
		name=${c%%:*}
		for i in $(seq 100); do
			timeout 10 "$SLUICE" -b "127.0.0.1:$PORT" topic create "$name" \
				--partitions 4 >/dev/null 2>&1 && break
			sleep 0.1
		done
	done
	local before after
	for c in "${CASES[@]}"; do
		name=${c%%:*}
		args=${c#*:}
		before=$(net_frames "$dir/tel.sock")
		# shellcheck disable=SC2086
		j=$(timeout -k 5 300 "$SLUICE" -b "127.0.0.1:$PORT" perf produce \
			--topic "$name" --count "$N" --partitions 4 --producers 4 \
			$args --json 2>>"$log" | grep '^{' | tail -n1 || true)
		after=$(net_frames "$dir/tel.sock")
		S[$cores,$name,$r]=$(python3 -c 'import sys
a=sys.argv[1].split("/"); b=sys.argv[2].split("/")
try: print("/".join(str(int(y)-int(x)) for x, y in zip(a, b)))
except ValueError: print("?")' "$before" "$after")
		echo "$name: $j (frames per net core ${S[$cores,$name,$r]})" >>"$log"
		R[$cores,$name,$r]=$(python3 -c 'import json,sys
try:
    d=json.loads(sys.argv[1]); print(int(d.get("msgs_per_s") or d.get("messages_per_s") or 0))
except Exception: print(0)' "${j:-null}")
	done
	stop
	rm -rf "$dir"
}

for r in $(seq "$ROUNDS"); do
	for cores in 1 2; do
		echo "==> round $r/$ROUNDS: net_cores=$cores" >&2
		run_round "$cores" "$r"
	done
done

{
	echo "# net_cores 1 against 2"
	echo
	echo "commit $(git rev-parse --short HEAD), $(nproc) CPUs, $(uname -r)," \
		"$N messages per case, $ROUNDS rounds, sluice perf produce" \
		"--producers 4 --partitions 4"
	echo
	printf '| case |'
	for r in $(seq "$ROUNDS"); do printf ' 1 core r%s | 2 cores r%s |' "$r" "$r"; done
	echo ' median 1 | median 2 | 2 ÷ 1 |'
	printf '|---|'
	for r in $(seq "$ROUNDS"); do printf -- '---:|---:|'; done
	echo '---:|---:|---:|'
	for c in "${CASES[@]}"; do
		name=${c%%:*}
		a=() b=()
		printf '| %s %s |' "$name" "$(echo "${c#*:}" | sed 's/--//g')"
		for r in $(seq "$ROUNDS"); do
			printf ' %s | %s |' "${R[1,$name,$r]}" "${R[2,$name,$r]}"
			a+=("${R[1,$name,$r]}")
			b+=("${R[2,$name,$r]}")
		done
		python3 -c 'import statistics,sys
a=[int(x) for x in sys.argv[1].split()]; b=[int(x) for x in sys.argv[2].split()]
ma=statistics.median(a); mb=statistics.median(b)
print(" %d | %d | %s |" % (ma, mb, ("%.2f" % (mb/ma)) if ma else "-"))' "${a[*]}" "${b[*]}"
	done
	echo
	echo "Frames each net core handled in each case (net0/net1; the kernel"
	echo "places each connection and datagram flow by a hash of its addresses):"
	echo
	for c in "${CASES[@]}"; do
		name=${c%%:*}
		printf '%s:' "$name"
		for r in $(seq "$ROUNDS"); do printf ' r%s %s;' "$r" "${S[2,$name,$r]}"; done
		echo
	done
} | tee "$OUT/report.md"
