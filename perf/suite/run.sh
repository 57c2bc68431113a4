#!/usr/bin/env bash
#
# perf/suite/run.sh [--quick|--full] [--systems LIST] [--workloads LIST]
#                   [--out DIR] [--data DIR] [--build DIR] [--no-install]
#                   [--queue-messages N] [--queue-rate R]
#                   [--queue-rate-seconds S] [--queue-consumers "1 4"]
#
# The OpenMessaging-style suite in one command: installs the peers and
# their client libraries from Debian when missing, builds sluice and the
# driver (sluice-omb) in build-perf/, measures the machine's limits (fio
# sequential O_DIRECT write bandwidth and fdatasync latency on the data
# disk, loopback TCP, memcpy), then starts each system on loopback with a
# fresh data directory, runs the workloads against it with sluice-omb and
# stops it by pid.  Writes under perf/results/<UTC date>/ (or --out):
#   results.md       the table: workload x system, ratios to the best peer
#                    and to the limits, with the command, commit, machine
#   results.json     every figure (the limits and each run's JSON line)
#   throughput.png   throughput bars, latency-*.png percentile curves
#   raw/             each run's JSON line and the logs (not committed)
#
# --workloads: "log" (the log workloads below), "queue" (a queue worked
# off by competing consumers, one ack per message: sluice's sl_queue
# against RabbitMQ quorum and classic queues; other systems have none),
# or both (the default), separated by commas or spaces.
# --quick (default; about 4 minutes on 2 CPUs for the log workloads,
# 2 more for the queue): two log workloads (1 partition 1 KiB 1
# producer/1 consumer; 16 partitions 100 B 4/4), each at max throughput
# and at 50% of it, 3 s measured after 1 s of warm-up; the queue with 1
# and 4 consumers, 20,000 messages drained and 8 s at a fixed rate.
# --full: the 8 log workloads (1 and 16 partitions x 100 B and 1 KiB x 1
# and 4 producers/consumers), both modes, 20 s measured after 5 s; the
# queue with 200,000 messages drained and 30 s at the fixed rate.
# --systems: a subset of "sluice kafka redis-always redis-everysec nats
# rabbitmq mqtt" (systems whose backend was not built are skipped), by
# commas or spaces; only their packages are installed.
# --build: the meson build directory (default build-perf; set up with
# -Dtests=disabled when it has no build.ninja yet).
# --queue-messages (drain), --queue-rate (msgs/s in all, the same for
# every system; default 1000), --queue-rate-seconds, --queue-consumers:
# the queue workload's counts; 1 KiB messages, 1 producer, prefetch 100.
#
# Every process it starts is stopped by pid on exit, Ctrl-C included.
# Ports are picked free from 19300 up (never 9092/9093).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

MODE=quick
SYSTEMS="sluice kafka redis-always redis-everysec nats rabbitmq mqtt"
WORKLOADS_RUN="log queue"
OUT=
DATA=$ROOT/data/perf-suite
BUILD=build-perf
INSTALL=1
Q_MESSAGES=
Q_RATE=1000
Q_RATE_S=
Q_CONSUMERS="1 4"
ARGS="$*"
while [[ $# -gt 0 ]]; do
	case $1 in
	--quick) MODE=quick ;;
	--full) MODE=full ;;
	--systems) SYSTEMS=${2//,/ }; shift ;;
	--workloads) WORKLOADS_RUN=${2//,/ }; shift ;;
	--out) OUT=$2; shift ;;
	--data) DATA=$2; shift ;;
	--build) BUILD=$2; shift ;;
	--no-install) INSTALL=0 ;;
	--queue-messages) Q_MESSAGES=$2; shift ;;
	--queue-rate) Q_RATE=$2; shift ;;
	--queue-rate-seconds) Q_RATE_S=$2; shift ;;
	--queue-consumers) Q_CONSUMERS=${2//,/ }; shift ;;
	*) sed -n '3,43p' "$0" >&2; exit 2 ;;
	esac
	shift
done
for w in $WORKLOADS_RUN; do
	[[ $w == log || $w == queue ]] || { echo "--workloads: log, queue" >&2; exit 2; }
done
has_workload() { [[ " $WORKLOADS_RUN " == *" $1 "* ]]; }
if [[ $MODE == quick ]]; then
	: "${Q_MESSAGES:=20000}" "${Q_RATE_S:=8}"
else
	: "${Q_MESSAGES:=200000}" "${Q_RATE_S:=30}"
fi
[[ -n $OUT ]] || OUT=perf/results/$(date -u +%Y-%m-%d)
T0=$(date +%s)
log() { echo "[$(($(date +%s) - T0))s] $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

# ---- packages: the tools, and each system's server and client ----
PKGS=(fio python3 meson ninja-build pkg-config gcc)
has_workload log && PKGS+=(gnuplot-nox)
for sys in $SYSTEMS; do
	case $sys in
	kafka) PKGS+=(librdkafka-dev) ;;
	redis-*) PKGS+=(libhiredis-dev redis-server) ;;
	nats) PKGS+=(nats-server libnats-dev) ;;
	rabbitmq) PKGS+=(rabbitmq-server librabbitmq-dev) ;;
	mqtt) PKGS+=(mosquitto libmosquitto-dev) ;;
	esac
done
if [[ $INSTALL -eq 1 ]]; then
	missing=()
	for p in "${PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing+=("$p")
	done
	if [[ ${#missing[@]} -gt 0 ]]; then
		log "installing ${missing[*]}"
		[[ $(id -u) -eq 0 ]] || die "packages missing (${missing[*]}): run as root or install them"
		# the services these packages ship must not start on their own
		made_policy=0
		if [[ ! -e /usr/sbin/policy-rc.d ]]; then
			printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
			chmod +x /usr/sbin/policy-rc.d
			made_policy=1
		fi
		ok=1
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" \
			>"/tmp/sluice-omb-apt.log" 2>&1 ||
			{ apt-get update -q >>/tmp/sluice-omb-apt.log 2>&1 &&
			  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" \
				>>/tmp/sluice-omb-apt.log 2>&1; } || ok=0
		[[ $made_policy -eq 1 ]] && rm -f /usr/sbin/policy-rc.d
		[[ $ok -eq 1 ]] || die "apt-get install ${missing[*]} failed: see /tmp/sluice-omb-apt.log"
	fi
fi

# ---- build ----
log "building in $BUILD"
if [[ ! -f $BUILD/build.ninja ]]; then
	meson setup "$BUILD" -Dtests=disabled >"/tmp/sluice-omb-build.log" 2>&1 ||
		die "meson setup $BUILD failed: see /tmp/sluice-omb-build.log"
fi
ninja -C "$BUILD" perf/suite/sluice-omb perf/sluice-tcp-loopback \
	dataplane/sluiced control/sluice-control >"/tmp/sluice-omb-build.log" 2>&1 ||
	die "build failed: see /tmp/sluice-omb-build.log"
OMB=$BUILD/perf/suite/sluice-omb
BUILT=$("$OMB" --list | cut -f1 | tr '\n' ' ')

# ---- processes, ports, cleanup ----
pids=()
RUN=$DATA/run-$$
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	pids=()
	rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
stop_all() { cleanup; mkdir -p "$RUN"; }

port_free() { ! ss -Htan "( sport = :$1 )" 2>/dev/null | grep -q .; }
NEXT_PORT=19300
PORT=
next_port() { # sets PORT to a free TCP and UDP port (not in a subshell)
	local p=$NEXT_PORT
	while ! port_free "$p" || ss -Huan "( sport = :$p )" 2>/dev/null | grep -q . ||
		[[ $p -eq 9092 || $p -eq 9093 ]]; do p=$((p + 1)); done
	NEXT_PORT=$((p + 1))
	PORT=$p
}
wait_port() { # port seconds
	local i
	for i in $(seq $(($2 * 10))); do
		ss -Htln "( sport = :$1 )" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

# the commit the figures come from, taken before anything is written (the
# output directory may be tracked: its own files do not count as changes)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo none)
DIRTY=$(git status --porcelain 2>/dev/null | grep -q . && echo " (with uncommitted changes)" || true)
mkdir -p "$OUT" "$RUN"
OUT=$(cd "$OUT" && pwd)
mkdir -p "$OUT/raw"
LINES=$OUT/raw/runs.jsonl
: >"$LINES"
LOGS=$OUT/raw/logs
rm -rf "$LOGS"
mkdir -p "$LOGS"

# ---- limits ----
log "limits: fio, loopback TCP, memcpy"
if [[ $MODE == quick ]]; then FIO_MB=1024; SYNC_MB=16; LO_MIB=2048; else FIO_MB=4096; SYNC_MB=64; LO_MIB=8192; fi
fio --name=seq --directory="$RUN" --ioengine=io_uring --direct=1 --rw=write \
	--bs=1M --iodepth=32 --size=${FIO_MB}M --end_fsync=1 \
	--output-format=json >"$RUN/fio-seq.json" 2>"$LOGS/fio.log" || die "fio failed: $LOGS/fio.log"
fio --name=sync --directory="$RUN" --ioengine=sync --rw=write --bs=4k \
	--fdatasync=1 --size=${SYNC_MB}M --output-format=json \
	>"$RUN/fio-sync.json" 2>>"$LOGS/fio.log" || die "fio failed: $LOGS/fio.log"
"$BUILD/perf/sluice-tcp-loopback" --mib "$LO_MIB" --json >"$RUN/loopback.json"
"$OMB" --memcpy >"$RUN/memcpy.json"
python3 - "$RUN" >"$OUT/limits.json" <<'PY'
import json, sys
d = sys.argv[1]
seq = json.load(open(d + "/fio-seq.json"))["jobs"][0]["write"]
sync = json.load(open(d + "/fio-sync.json"))["jobs"][0]["sync"]["lat_ns"]["percentile"]
print(json.dumps({
    "fio_seq_write_mb_per_s": seq["bw_bytes"] / 1e6,
    "fio_fdatasync_4k_p50_us": sync["50.000000"] / 1e3,
    "fio_fdatasync_4k_p99_us": sync["99.000000"] / 1e3,
    "tcp_loopback_mb_per_s": json.load(open(d + "/loopback.json"))["tcp_loopback_mb_per_s"],
    "memcpy_mb_per_s": json.load(open(d + "/memcpy.json"))["memcpy_mb_per_s"],
}))
PY
rm -f "$RUN"/fio* "$RUN"/*.json
log "limits: $(cat "$OUT/limits.json")"

# ---- the systems ----
# start_<system> sets ADDR (and ADDR2), appends the pids to pids[], and
# returns once the system answers.
start_sluice() {
	local port kport d=$RUN/sluice
	next_port; port=$PORT
	next_port; kport=$PORT
	mkdir -p "$d"
	local o=(-o "data_dir=$d" -o "tcp_port=$port" -o "udp_port=$port"
		 -o "kafka_port=$kport" -o listen_host=127.0.0.1
		 -o "telemetry_socket=$d/run/telemetry.sock"
		 # the queue workload's groups first read after publishing
		 -o share_auto_offset_reset=earliest)
	"$BUILD/dataplane/sluiced" "${o[@]}" >"$LOGS/sluiced.log" 2>&1 &
	pids+=($!)
	"$BUILD/control/sluice-control" "${o[@]}" >"$LOGS/sluice-control.log" 2>&1 &
	pids+=($!)
	wait_port "$port" 20 && wait_port "$kport" 20 || return 1
	ADDR=127.0.0.1:$port
	ADDR2=127.0.0.1:$kport
}

start_redis() { # appendfsync
	local d=$RUN/redis
	next_port
	mkdir -p "$d"
	redis-server --port "$PORT" --bind 127.0.0.1 --dir "$d" --daemonize no \
		--appendonly yes --appendfsync "$1" --save "" --protected-mode no \
		--logfile "$LOGS/redis-$1.log" >/dev/null 2>&1 &
	pids+=($!)
	wait_port "$PORT" 20 || return 1
	ADDR=127.0.0.1:$PORT
}

start_nats() {
	local d=$RUN/nats
	next_port
	mkdir -p "$d"
	# JetStream file storage under $d; the sync interval stays the default
	nats-server -a 127.0.0.1 -p "$PORT" -js -sd "$d" -l "$LOGS/nats.log" &
	pids+=($!)
	wait_port "$PORT" 20 || return 1
	ADDR=127.0.0.1:$PORT
}

start_rabbitmq() {
	local d=$RUN/rabbitmq epmd_port dist_port i
	next_port; epmd_port=$PORT
	next_port; dist_port=$PORT
	next_port
	mkdir -p "$d/mnesia" "$d/log"
	echo "[]." >"$d/enabled_plugins"
	echo "loopback_users = none" >"$d/rabbitmq.conf"
	# our own epmd on a free port, stopped by pid like the node
	epmd -port "$epmd_port" -address 127.0.0.1 >"$LOGS/epmd.log" 2>&1 &
	pids+=($!)
	HOME=$d ERL_EPMD_PORT=$epmd_port ERL_EPMD_ADDRESS=127.0.0.1 \
	RABBITMQ_NODENAME=omb@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
	RABBITMQ_NODE_PORT=$PORT RABBITMQ_DIST_PORT=$dist_port \
	RABBITMQ_MNESIA_BASE=$d/mnesia RABBITMQ_LOG_BASE=$d/log RABBITMQ_LOGS=- \
	RABBITMQ_PID_FILE=$d/rabbit.pid RABBITMQ_CONFIG_FILE=$d/rabbitmq \
	RABBITMQ_ENABLED_PLUGINS_FILE=$d/enabled_plugins \
	RABBITMQ_PLUGINS_EXPAND_DIR=$d/plugins-expand \
		/usr/lib/rabbitmq/bin/rabbitmq-server >"$LOGS/rabbitmq.log" 2>&1 &
	pids+=($!)
	wait_port "$PORT" 90 || return 1
	for i in $(seq 50); do [[ -s $d/rabbit.pid ]] && break; sleep 0.1; done
	[[ -s $d/rabbit.pid ]] && pids+=("$(cat "$d/rabbit.pid")")
	ADDR=127.0.0.1:$PORT
}

start_mqtt() {
	local d=$RUN/mosquitto
	next_port
	mkdir -p "$d"
	chmod 777 "$d" # mosquitto drops root for its own user
	cat >"$d/mosquitto.conf" <<-EOF
	listener $PORT 127.0.0.1
	allow_anonymous true
	persistence true
	persistence_location $d/
	autosave_interval 30
	max_queued_messages 0
	max_inflight_messages 1000
	log_dest stderr
	EOF
	mosquitto -c "$d/mosquitto.conf" >"$LOGS/mosquitto.log" 2>&1 &
	pids+=($!)
	wait_port "$PORT" 20 || return 1
	ADDR=127.0.0.1:$PORT
}

start_system() { # name
	ADDR=; ADDR2=
	case $1 in
	sluice) start_sluice ;;
	kafka) start_sluice && { local a=$ADDR; ADDR=$ADDR2; ADDR2=$a; } ;;
	redis-always) start_redis always ;;
	redis-everysec) start_redis everysec ;;
	nats) start_nats ;;
	rabbitmq) start_rabbitmq ;;
	mqtt) start_mqtt ;;
	*) return 1 ;;
	esac
}

# sluice-omb's --system for each system of the suite, and its --opt
backend_of() { case $1 in redis-*) echo redis ;; *) echo "$1" ;; esac; }

# ---- workloads: partitions size producers consumers ----
if [[ $MODE == quick ]]; then
	WORKLOADS=("1 1024 1 1" "16 100 4 4")
	WARM=1; DUR=3
else
	WORKLOADS=()
	for p in 1 16; do for s in 100 1024; do for n in 1 4; do
		WORKLOADS+=("$p $s $n $n")
	done; done; done
	WARM=5; DUR=20
fi

# the queue workload: the rows of a system, each "name:--opt"
queue_rows() {
	case $1 in
	sluice) echo "sluice:" ;;
	rabbitmq) echo "rabbitmq:quorum rabbitmq-classic:classic" ;;
	esac
}

run_queue() { # row-name label args...
	local name=$1 label=$2 line
	shift 2
	line=$(timeout 420 "$OMB" --workload queue --addr "$ADDR" "$@" \
		2>>"$LOGS/omb-$name.log" | tail -1) || true
	[[ $line == \{* ]] || line="{\"error\":\"sluice-omb produced no result (timeout or crash): see raw/logs/omb-$name.log\"}"
	echo "{\"name\":\"$name\",\"label\":\"$label\",\"run\":$line}" >>"$LINES"
	echo "$line"
}

queue_summary() { # a run's JSON line
	python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print("; ".join(
	    (["%.0f msgs/s (consumers %.0f), e2e p50 %.1f ms p99 %.1f ms, missing %d"
	      % (j["msgs_per_s"], j["consume_msgs_per_s"], j["e2e"]["p50_us"] / 1e3,
		 j["e2e"]["p99_us"] / 1e3, j["missing"])] if "msgs_per_s" in j else [])
	    + (["error: " + j["error"]] if j.get("error") else [])))' "$1"
}

run_omb() { # system label args...
	local sys=$1 label=$2 line
	shift 2
	line=$(timeout $((DUR + WARM + 60)) "$OMB" --system "$(backend_of "$sys")" \
		--addr "$ADDR" ${ADDR2:+--addr2 "$ADDR2"} --warmup "$WARM" --duration "$DUR" \
		"$@" 2>>"$LOGS/omb-$sys.log" | tail -1) || true
	[[ $line == \{* ]] || line="{\"error\":\"sluice-omb produced no result (timeout or crash): see raw/logs/omb-$sys.log\"}"
	echo "{\"name\":\"$sys\",\"label\":\"$label\",\"run\":$line}" >>"$LINES"
	echo "$line"
}

for sys in $SYSTEMS; do
	be=$(backend_of "$sys")
	if [[ " $BUILT " != *" $be "* ]]; then
		log "$sys: skipped (backend $be not built: its client library is missing)"
		continue
	fi
	if ! has_workload log && [[ -z $(queue_rows "$sys") ]]; then
		log "$sys: skipped (no queue workload for it)"
		continue
	fi
	log "$sys: starting"
	if ! start_system "$sys"; then
		log "$sys: did not start: see $LOGS"
		echo "{\"name\":\"$sys\",\"label\":\"start\",\"run\":{\"error\":\"did not start\"}}" >>"$LINES"
		stop_all
		continue
	fi
	for w in "${WORKLOADS[@]}"; do
		has_workload log || break
		read -r parts size np nc <<<"$w"
		args=(--partitions "$parts" --size "$size" --producers "$np" --consumers "$nc")
		[[ $sys == redis-* || $sys == mqtt ]] && args+=(--opt "$sys")
		line=$(run_omb "$sys" "max" "${args[@]}")
		rate=$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(int(j.get("pub_msgs_per_s",0)*0.5))' "$line")
		log "$sys p=$parts ${size}B $np/$nc max: $(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j.get("error") or "%.0f msgs/s, %.1f MB/s" % (j["pub_msgs_per_s"], j["pub_mb_per_s"]))' "$line")"
		if [[ $rate -gt 0 ]]; then
			line=$(run_omb "$sys" "rate" "${args[@]}" --rate "$rate")
			log "$sys p=$parts ${size}B $np/$nc at $rate msgs/s: $(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j.get("error") or "e2e p99 %.0f us" % j["e2e"]["p99_us"])' "$line")"
		fi
	done
	for row in $(has_workload queue && queue_rows "$sys"); do
		name=${row%%:*} opt=${row#*:}
		for nc in $Q_CONSUMERS; do
			args=(--system "$be" --consumers "$nc" --producers 1
			      --size 1024 --prefetch 100 ${opt:+--opt "$opt"})
			line=$(run_queue "$name" queue-drain "${args[@]}" --messages "$Q_MESSAGES")
			log "$name queue $nc consumers, $Q_MESSAGES drained: $(queue_summary "$line")"
			line=$(run_queue "$name" queue-rate "${args[@]}" --rate "$Q_RATE" \
				--messages $((Q_RATE * Q_RATE_S)))
			log "$name queue $nc consumers at $Q_RATE msgs/s: $(queue_summary "$line")"
		done
	done
	log "$sys: stopping"
	stop_all
done

# ---- report and plots ----
python3 perf/suite/report.py --runs "$LINES" --limits "$OUT/limits.json" --out "$OUT" \
	--command "perf/suite/run.sh $ARGS" --commit "$COMMIT$DIRTY" --mode "$MODE" \
	--elapsed "$(($(date +%s) - T0))" || die "report failed"
if [[ -f $OUT/throughput.dat ]]; then # the log workloads' plots
	for gp in perf/suite/throughput.gp perf/suite/latency.gp; do
		(cd "$OUT" && gnuplot "$ROOT/$gp") 2>>"$LOGS/gnuplot.log" || die "gnuplot $gp failed: $LOGS/gnuplot.log"
	done
fi
rm -f "$OUT"/*.dat "$OUT"/plot.gpvars
log "done: $OUT/results.md, $OUT/results.json$(has_workload log && echo ", $OUT/*.png")"
cat "$OUT/results.md"
