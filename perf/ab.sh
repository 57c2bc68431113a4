#!/usr/bin/env bash
#
# perf/ab.sh REV_A REV_B [--rounds N] [--quick] [--only LIST] [--work DIR]
#
# Before and after, in one run: two git revisions, each built in a git
# worktree of its own (WORK/<commit>, default /tmp/sluice-ab; release build
# -Dbuildtype=release -Dtests=disabled, reused when already there), measured
# by the same three benchmarks, taking turns A B A B ... for N rounds
# (default 3):
#   kafka      perf/kafka_bench.sh --build WT/build [--quick]: the Kafka
#              listener through librdkafka beside `sluice perf` on the
#              native protocol (produce and consume, 100 B and 1 KiB,
#              acks=all, 1 partition), its own broker on ports 19293/19292;
#   native     `sluice perf` on the native protocol, its own broker on port
#              19393 (data under WT/data/ab-native): produce TCP 100 B
#              acks=all 1 partition, produce TCP 1 KiB acks=all 1 partition
#              with 1 MiB batches, then consume the 100 B topic;
#   dataplane  WT/build/perf/sluice-dataplane-bench --json: the DPDK
#              dataplane's packets/s without a NIC, with and without the
#              CRC, and with a partition log behind it.
# Each revision runs its own scripts and programs (WT/perf/..., WT/build/...);
# a warning is printed when the benchmarks' sources differ between A and B.
# --quick: a tenth of the counts (kafka_bench.sh --quick; native counts / 10;
# dataplane --packets 2000000 --storage-seconds 2).  --only: a comma list
# of kafka, native, dataplane.
#
# Prints one table per benchmark: every round's figure for A and B, the
# medians and B ÷ A (every figure is a rate: higher is better).  The tables
# go to perf/results/ab-<UTC time>/report.md (meant to be committed when
# quoted); each run's raw output and the builds' logs to
# perf/results/ab-<UTC time>/raw/ (ignored by git).  Every build and run has
# a timeout; a run that fails or times out leaves its cells empty, is named
# under its table, and makes the exit status 1.  The worktrees stay for the
# next comparison: `git worktree remove WORK/<commit>` removes one.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

usage() { sed -n '3p' "$0" | sed 's/^# //' >&2; exit 2; }
ROUNDS=3
QUICK=0
ONLY=kafka,native,dataplane
WORK=/tmp/sluice-ab
REVS=()
ARGS="$*"
while [[ $# -gt 0 ]]; do
	case $1 in
	--rounds) [[ $# -ge 2 ]] || usage; ROUNDS=$2; shift ;;
	--quick) QUICK=1 ;;
	--only) [[ $# -ge 2 ]] || usage; ONLY=$2; shift ;;
	--work) [[ $# -ge 2 ]] || usage; WORK=$2; shift ;;
	-*) usage ;;
	*) REVS+=("$1") ;;
	esac
	shift
done
[[ ${#REVS[@]} -eq 2 ]] || usage
if ! [[ $ROUNDS =~ ^[0-9]+$ ]] || ((ROUNDS < 1 || ROUNDS > 20)); then
	echo "error: --rounds takes 1 to 20" >&2
	exit 2
fi
IFS=, read -r -a BENCHES <<<"$ONLY"
for b in "${BENCHES[@]}"; do
	case $b in
	kafka | native | dataplane) ;;
	*) echo "error: --only takes kafka, native, dataplane (comma list)" >&2; exit 2 ;;
	esac
done
for cmd in git meson ninja timeout flock /usr/bin/python3; do
	command -v "$cmd" >/dev/null || { echo "error: $cmd missing" >&2; exit 1; }
done

SHA=()
for rev in "${REVS[@]}"; do
	s=$(git rev-parse --verify --quiet "$rev^{commit}") ||
		{ echo "error: $rev is not a commit of $ROOT" >&2; exit 2; }
	SHA+=("$s")
done
SIDES=(A B)

# Every build and run is bounded (seconds).
T_BUILD=3600
if ((QUICK)); then
	T_KAFKA=600 T_NATIVE=120 T_DATAPLANE=240
	N100=200000 N1K=100000
	KAFKA_ARGS=(--quick)
	DP_ARGS=(--packets 2000000 --storage-seconds 2)
else
	T_KAFKA=1800 T_NATIVE=600 T_DATAPLANE=600
	N100=2000000 N1K=1000000
	KAFKA_ARGS=()
	DP_ARGS=()
fi
NPORT=19393

STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
OUT=perf/results/ab-$STAMP
RAW=$OUT/raw
mkdir -p "$RAW"
FIG=$RAW/figures.jsonl
: >"$FIG"
echo "==> A = ${REVS[0]} ($(git log -1 --format='%h %s' "${SHA[0]}"))" >&2
echo "==> B = ${REVS[1]} ($(git log -1 --format='%h %s' "${SHA[1]}"))" >&2
echo "==> raw output: $RAW" >&2

bpids=()
stop_brokers() {
	local p i
	for p in "${bpids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${bpids[@]}"; do
		for i in $(seq 100); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	bpids=()
}
trap stop_brokers EXIT

# prepare SIDE: the worktree of that side's commit, configured and built
# (a build already there is brought up to date, which is a no-op).  Sets
# WT[SIDE].  A lock per worktree keeps two comparisons from building
# the same one at once.
prepare() {
	local side=$1 sha=$2 wt=$WORK/${2:0:12} log=$RAW/build-$1.log
	mkdir -p "$WORK"
	echo "==> $side: building ${sha:0:12} in $wt/build (log $log)" >&2
	if ! (
		flock -w "$T_BUILD" 9 || { echo "error: $wt is locked"; exit 1; }
		if [[ ! -e $wt/.git ]]; then
			# --force: also when the path is registered but was deleted
			git worktree add --force --detach "$wt" "$sha"
		fi
		[[ $(git -C "$wt" rev-parse HEAD) == "$sha" ]] ||
			{ echo "error: $wt is not at $sha; remove it (git worktree remove $wt)"; exit 1; }
		if [[ -f $wt/build/build.ninja ]]; then
			meson configure "$wt/build" -Dbuildtype=release -Dtests=disabled
		else
			timeout -k 10 600 meson setup "$wt/build" "$wt" \
				-Dbuildtype=release -Dtests=disabled
		fi
		timeout -k 10 "$T_BUILD" meson compile -C "$wt/build" -j 2
	) 9>"$WORK/${sha:0:12}.lock" >"$log" 2>&1; then
		echo "error: building ${sha:0:12} failed; see $log:" >&2
		tail -n 20 "$log" >&2
		exit 1
	fi
	WT[$side]=$wt
}

# figures BENCH SIDE ROUND RC FILE: the figures of one run, as JSON lines
# in $FIG ({"bench","side","round","case","unit","value"} or "error").
figures() {
	/usr/bin/python3 - "$@" >>"$FIG" <<'PY'
import json, sys
bench, side, rnd, rc, path = sys.argv[1:6]
rnd, rc = int(rnd), int(rc)
out = []
def fig(case, unit, value):
    out.append({"bench": bench, "side": side, "round": rnd, "case": case,
                "unit": unit, "value": value})
def err(msg):
    out.append({"bench": bench, "side": side, "round": rnd, "error": msg})
try:
    text = open(path).read()
except OSError:
    text = ""
try:
    if bench == "kafka":
        j = json.loads(text) if text.strip() else {}
        # as kafka_bench.sh's table: by size, produce before consume,
        # native before Kafka
        for key in sorted(j, key=lambda k: (int(k.rsplit("_", 1)[1]),
                                            "consume" in k, "kafka" in k)):
            proto, mode, size = key.split("_")
            name = f"{'Kafka' if proto == 'kafka' else 'native'} {mode} {size} B"
            v = j[key]
            if not v:
                err(f"{name}: no result")
            elif v.get("errors"):
                err(f"{name}: {v['errors']} failed")
            else:
                fig(name, "msgs/s", v["msgs_per_s"])
    elif bench == "native":
        for line in text.splitlines():
            j = json.loads(line)
            v, case = j["result"], j["case"]
            if j["rc"]:
                err(f"{case}: exit status {j['rc']}" +
                    (" (timed out)" if j["rc"] in (124, 137) else ""))
            elif not v:
                err(f"{case}: no result")
            elif v.get("errors"):
                err(f"{case}: {v['errors']} failed")
            elif v.get("messages") != j["count"]:
                err(f"{case}: {v.get('messages')} messages of {j['count']}")
            else:
                fig(case, "msgs/s", v["msgs_per_s"])
    elif bench == "dataplane":
        line = next((l for l in text.splitlines() if l.startswith("{")), "")
        j = json.loads(line) if line else {}
        for r in j.get("results", []):
            crc = "CRC" if r["crc"] else "no CRC"
            fig(f"{r['frame_bytes']} B, {crc}", "Mpps", r["mpps"])
        for r in j.get("storage", []):
            fig(f"{r['frame_bytes']} B, with storage", "Mpps", r["mpps"])
except (ValueError, KeyError, IndexError) as e:
    err(f"unreadable output ({e.__class__.__name__}: {e})")
if rc != 0:
    err(f"exit status {rc}" + (" (timed out)" if rc in (124, 137) else ""))
elif not out:
    err("no figures")
for o in out:
    print(json.dumps(o))
PY
}

run_kafka() { # SIDE ROUND WT
	local side=$1 r=$2 wt=$3 base=$RAW/kafka-$1-r$2 rc=0 json f
	local -A before=()
	for f in "$wt"/perf/results/kafka-*; do before[$f]=1; done
	timeout -k 10 "$T_KAFKA" "$wt/perf/kafka_bench.sh" --build "$wt/build" \
		"${KAFKA_ARGS[@]}" >"$base.log" 2>&1 || rc=$?
	# kafka_bench.sh writes into its own tree: move what it wrote here
	json=$(sed -n 's/^figures: \(.*\.json\), report: .*/\1/p' "$base.log" | tail -n1)
	if [[ -n $json && -f $wt/$json ]]; then
		mv "$wt/$json" "$base.json"
		mv "$wt/${json%.json}.md" "$base.md" 2>/dev/null || true
	fi
	for f in "$wt"/perf/results/kafka-*; do
		[[ -e $f && -z ${before[$f]:-} ]] && mv "$f" "$RAW/$(basename "$f")"
	done
	[[ -f $base.json ]] || : >"$base.json"
	figures kafka "$side" "$r" "$rc" "$base.json"
}

# one `sluice perf` case: NAME COUNT, then the perf arguments (--count
# COUNT among them): a result for fewer messages is no result
native_case() {
	local name=$1 count=$2 rc=0 j
	shift 2
	timeout -k 10 "$T_NATIVE" "$SLUICE" -b "127.0.0.1:$NPORT" perf "$@" --json \
		>"$NLOG.out" 2>>"$NLOG" || rc=$?
	j=$(grep '^{' "$NLOG.out" | tail -n1 || true)
	rm -f "$NLOG.out"
	echo "$name (rc $rc): $j" >>"$NLOG"
	printf '{"case": "%s", "count": %d, "rc": %d, "result": %s}\n' \
		"$name" "$count" "$rc" "${j:-null}" >>"$NJSON"
}

run_native() { # SIDE ROUND WT
	local side=$1 r=$2 wt=$3 rc=0 dir=$3/data/ab-native i t
	local base=$RAW/native-$1-r$2
	NLOG=$base.log NJSON=$base.json SLUICE=$wt/build/tools/sluice/sluice
	: >"$NLOG"
	: >"$NJSON"
	if (exec 3<>"/dev/tcp/127.0.0.1/$NPORT") 2>/dev/null; then
		echo "error: something already listens on 127.0.0.1:$NPORT" >>"$NLOG"
		figures native "$side" "$r" 1 "$NJSON"
		return
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	local opts=(-o "data_dir=$dir" -o "tcp_port=$NPORT" -o "udp_port=$NPORT"
		-o kafka_port=0 -o "telemetry_socket=$dir/run/telemetry.sock")
	"$wt/build/dataplane/sluiced" "${opts[@]}" 2>>"$NLOG" &
	bpids+=($!)
	"$wt/build/control/sluice-control" "${opts[@]}" 2>>"$NLOG" &
	bpids+=($!)
	# sluice-control must be connected before topics can be created
	for t in p100 p1k; do
		for i in $(seq 100); do
			timeout 10 "$SLUICE" -b "127.0.0.1:$NPORT" topic create "$t" --partitions 1 \
				>/dev/null 2>&1 && break
			sleep 0.1
		done
		((i < 100)) || { echo "error: cannot create topic $t" >>"$NLOG"; rc=1; }
	done
	if ((rc == 0)); then
		native_case "produce TCP 100 B acks=all, 1 partition" "$N100" produce \
			--topic p100 --count "$N100" --size 100 --acks all --partitions 1
		native_case "produce TCP 1 KiB acks=all, 1 partition, 1 MiB batches" "$N1K" \
			produce --topic p1k --count "$N1K" --size 1024 --acks all \
			--batch-kib 1024 --partitions 1
		native_case "consume 100 B, 1 partition" "$N100" consume --topic p100 \
			--count "$N100"
	fi
	stop_brokers
	rm -rf "$dir"
	figures native "$side" "$r" "$rc" "$NJSON"
}

run_dataplane() { # SIDE ROUND WT
	local side=$1 r=$2 wt=$3 rc=0 base=$RAW/dataplane-$1-r$2
	local bin=$wt/build/perf/sluice-dataplane-bench
	if [[ ! -x $bin ]]; then
		echo "error: $bin missing (it needs DPDK: libdpdk-dev)" >"$base.log"
		: >"$base.json"
		figures dataplane "$side" "$r" 1 "$base.json"
		return
	fi
	timeout -k 10 "$T_DATAPLANE" "$bin" --json --dir "$wt/data/ab-dataplane" \
		"${DP_ARGS[@]}" >"$base.json" 2>"$base.log" || rc=$?
	rm -rf "$wt/data/ab-dataplane"
	figures dataplane "$side" "$r" "$rc" "$base.json"
}

declare -A WT
prepare A "${SHA[0]}"
prepare B "${SHA[1]}"

# The benchmarks' own sources: when they differ, A and B are not measured
# the same way.
BENCH_SRC=(perf/kafka_bench.sh perf/kafka_bench.c perf/dataplane_bench.c
	tools/sluice/perf.c)
DIFFERS=$(git diff --name-only "${SHA[0]}" "${SHA[1]}" -- "${BENCH_SRC[@]}" | tr '\n' ' ')
if [[ -n $DIFFERS ]]; then
	echo "warning: the benchmarks differ between A and B: $DIFFERS" >&2
fi

for r in $(seq "$ROUNDS"); do
	for side in "${SIDES[@]}"; do
		for b in "${BENCHES[@]}"; do
			echo "==> round $r/$ROUNDS, $side: $b" >&2
			"run_$b" "$side" "$r" "${WT[$side]}"
		done
	done
done

/usr/bin/python3 - "$FIG" "$ARGS" "$ROUNDS" "$QUICK" "$DIFFERS" "$ONLY" \
	"${REVS[0]}" "$(git log -1 --format='%h %s' "${SHA[0]}")" \
	"${REVS[1]}" "$(git log -1 --format='%h %s' "${SHA[1]}")" \
	"$T_KAFKA/$T_NATIVE/$T_DATAPLANE" >"$OUT/report.md" <<'PY'
import json, platform, statistics, subprocess, sys
(fig, args, rounds, quick, differs, only, rev_a, desc_a, rev_b, desc_b,
 timeouts) = sys.argv[1:12]
rounds = int(rounds)
rows = [json.loads(l) for l in open(fig) if l.strip()]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
            if l.startswith("model name")), "?")
ncpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
print(f"command: perf/ab.sh {args}  ")
print(f"A: {rev_a} = {desc_a}  ")
print(f"B: {rev_b} = {desc_b}  ")
print(f"machine: {platform.node()} {platform.release()}, {cpu}, {ncpu} CPUs  ")
print(f"{rounds} round(s), A then B in each{', --quick' if quick == '1' else ''}; "
      f"timeouts kafka/native/dataplane {timeouts} s a run; "
      f"every figure is a rate (higher is better)")
if differs:
    print(f"\n**warning**: the benchmarks' sources differ between A and B: {differs}")
titles = {
    "kafka": "perf/kafka_bench.sh (librdkafka and `sluice perf`, acks=all, 1 partition)",
    "native": "`sluice perf`, native protocol, own broker",
    "dataplane": "sluice-dataplane-bench (one polling core; with storage: a partition log behind it)",
}
def fmt(v, unit):
    if v is None:
        return "—"
    return f"{v:,.3f}" if unit == "Mpps" else f"{v:,.0f}"
for bench in only.split(","):
    figs = [r for r in rows if r["bench"] == bench and "case" in r]
    errs = [r for r in rows if r["bench"] == bench and "error" in r]
    print(f"\n### {titles[bench]}\n")
    cases = []
    for r in figs:
        if (r["case"], r["unit"]) not in cases:
            cases.append((r["case"], r["unit"]))
    head = ["case", "unit"]
    for n in range(1, rounds + 1):
        head += [f"A r{n}", f"B r{n}"]
    head += ["A median", "B median", "B ÷ A"]
    print("| " + " | ".join(head) + " |")
    print("|---|---|" + "---:|" * (len(head) - 2))
    for case, unit in cases:
        val = {(r["side"], r["round"]): r["value"] for r in figs
               if r["case"] == case}
        cells = [case, unit]
        for n in range(1, rounds + 1):
            cells += [fmt(val.get(("A", n)), unit), fmt(val.get(("B", n)), unit)]
        med = {}
        for s in "AB":
            v = [val[(s, n)] for n in range(1, rounds + 1) if (s, n) in val]
            med[s] = statistics.median(v) if v else None
        ratio = (f"{med['B'] / med['A']:.2f}" if med["A"] and med["B"] is not None
                 else "—")
        cells += [fmt(med["A"], unit), fmt(med["B"], unit), ratio]
        print("| " + " | ".join(cells) + " |")
    if not cases:
        print("| (no figures) |" + " |" * (len(head) - 1))
    if errs:
        print()
    for e in errs:
        print(f"- {e['side']} round {e['round']}: {e['error']} "
              f"(raw/{bench}-{e['side']}-r{e['round']}.*)")
PY
cat "$OUT/report.md"
echo "report: $OUT/report.md, raw output: $RAW/ (not committed)" >&2
if grep -q '"error"' "$FIG"; then
	exit 1
fi
