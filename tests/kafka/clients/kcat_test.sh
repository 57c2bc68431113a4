#!/usr/bin/env bash
#
# kcat (librdkafka) against the broker's Kafka listener, on a fresh broker
# of its own (kafka_broker_run):
#   1. a topic of 3 partitions created with `sluice topic create`; kcat -L
#      shows the broker, the topic and its 3 partitions led by node 1;
#   2. kcat -P produces 600 keyed messages (murmur2 partitioner, acks=all);
#   3. kcat -C -e -o beginning reads them back: every message once, the
#      right key, per-partition offsets from 0 without gaps, produce order;
#   4. kcat -G (balanced consumer group) reads the same 600; a second run
#      of the same group gets nothing (offsets committed at the end); after
#      60 more messages a third run gets exactly those 60, each partition
#      resuming at the offset the group had committed.
# Every kcat call is bounded by timeout(1).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/kafka/clients/lib.sh
source "$HERE/lib.sh"
kc_need_kcat
kc_under_broker kcat 35 "$0" "$@"

CLI=${SLUICE_CLI:?SLUICE_CLI must name the sluice CLI}
K=$KAFKA_BOOTSTRAP
T=$(mktemp -d "${SLUICE_TEST_TMPDIR:-/tmp}/kcat-XXXXXX")
trap 'rm -rf "$T"' EXIT
N=600
TOPIC=kc-orders

echo "== create $TOPIC (3 partitions) over the native protocol"
"$CLI" -b "$SLUICE_BROKER" topic create "$TOPIC" --partitions 3
"$CLI" -b "$SLUICE_BROKER" topic create kc-other --partitions 1

echo "== kcat -L"
# in a cluster, the broker kcat asks may learn of the topics a moment
# after the one that created them: asked again for up to 10 s
for _ in $(seq 50); do
	timeout 20 kcat -L -b "$K" -m 10 >"$T/meta" 2>"$T/meta.err" ||
		{ cat "$T/meta.err" >&2; kc_fail "kcat -L -b $K failed"; }
	grep -q "topic \"$TOPIC\" with 3 partitions:" "$T/meta" &&
		grep -q 'topic "kc-other" with 1 partitions:' "$T/meta" && break
	sleep 0.2
done
cat "$T/meta"
# one broker, or the cluster kafka_broker_run started (KAFKA_CLUSTER_SIZE):
# node i at the i-th address of KAFKA_BOOTSTRAP, every partition of
# replication factor N (the default of a cluster of N), all in sync
NB=${KAFKA_CLUSTER_SIZE:-1}
grep -q "^ *$NB brokers:" "$T/meta" || kc_fail "kcat -L: expected '$NB brokers:'"
IFS=, read -r -a ADDRS <<<"$K"
for i in "${!ADDRS[@]}"; do
	grep -q "broker $((i + 1)) at 127.0.0.1:${ADDRS[$i]##*:}" "$T/meta" ||
		kc_fail "kcat -L: expected 'broker $((i + 1)) at ${ADDRS[$i]}' (node_id $((i + 1)), advertised 127.0.0.1)"
done
grep -q "topic \"$TOPIC\" with 3 partitions:" "$T/meta" ||
	kc_fail "kcat -L: expected 'topic \"$TOPIC\" with 3 partitions:'"
grep -q 'topic "kc-other" with 1 partitions:' "$T/meta" ||
	kc_fail "kcat -L: expected 'topic \"kc-other\" with 1 partitions:'"
for p in 0 1 2; do
	line=$(grep "partition $p, leader" "$T/meta" | head -1)
	[[ $line =~ leader\ ([0-9]+),\ replicas:\ ([0-9,]+),\ isrs:\ ([0-9,]+) ]] ||
		kc_fail "kcat -L: no 'partition $p, leader L, replicas: R, isrs: I' line"
	leader=${BASH_REMATCH[1]} replicas=${BASH_REMATCH[2]} isrs=${BASH_REMATCH[3]}
	sorted_r=$(tr , '\n' <<<"$replicas" | sort -n | paste -sd,)
	sorted_i=$(tr , '\n' <<<"$isrs" | sort -n | paste -sd,)
	[[ $sorted_r == "$(seq -s, 1 "$NB")" && $sorted_i == "$sorted_r" &&
		,$replicas, == *,$leader,* ]] ||
		kc_fail "kcat -L: partition $p: leader $leader, replicas $replicas, isrs $isrs; expected brokers 1..$NB, all in sync, the leader among them"
done
timeout 20 kcat -L -b "$K" -t "$TOPIC" -m 10 >"$T/meta1" 2>"$T/meta1.err" ||
	{ cat "$T/meta1.err" >&2; kc_fail "kcat -L -t $TOPIC failed"; }
grep -q "topic \"$TOPIC\" with 3 partitions:" "$T/meta1" ||
	kc_fail "kcat -L -t $TOPIC: expected the topic with 3 partitions"
if grep -q 'kc-other' "$T/meta1"; then
	kc_fail "kcat -L -t $TOPIC: listed kc-other too (asked for one topic)"
fi

echo "== kcat -P: $N keyed messages"
kc_lines "$N" 0 >"$T/in"
timeout 20 kcat -P -b "$K" -t "$TOPIC" -K : -X partitioner=murmur2_random \
	-X acks=all -X linger.ms=5 -l "$T/in" 2>"$T/p.err" ||
	{ rc=$?; cat "$T/p.err" >&2; kc_fail "kcat -P exited with $rc"; }
if grep -qiE 'error|fail' "$T/p.err"; then
	cat "$T/p.err" >&2
	kc_fail "kcat -P reported errors"
fi

echo "== kcat -C -e -o beginning"
timeout 20 kcat -C -b "$K" -t "$TOPIC" -o beginning -e -q -f "$KC_FMT" \
	>"$T/c" 2>"$T/c.err" || { cat "$T/c.err" >&2; kc_fail "kcat -C failed"; }
kc_check "$T/c" "$N" 0 "0=0,1=0,2=0" || kc_fail "kcat -C read back something else than was produced"
# each partition alone, from an offset in its middle
for p in 0 1 2; do
	n=$(awk -F'\t' -v p="$p" '$1 == p' "$T/c" | wc -l)
	[[ $n -gt 2 ]] || kc_fail "partition $p got $n messages of $N (murmur2 of 13 keys spreads over 3)"
	timeout 20 kcat -C -b "$K" -t "$TOPIC" -p "$p" -o 2 -e -q -f "$KC_FMT" >"$T/cp" 2>"$T/cp.err" ||
		{ cat "$T/cp.err" >&2; kc_fail "kcat -C -p $p -o 2 failed"; }
	awk -F'\t' -v p="$p" '$1 == p && $2 >= 2' "$T/c" | cmp -s - "$T/cp" ||
		{ diff <(awk -F'\t' -v p="$p" '$1 == p && $2 >= 2' "$T/c") "$T/cp" | head >&2
		  kc_fail "kcat -C -p $p -o 2: not the partition's messages from offset 2"; }
done
echo "ok: single partitions from offset 2 match"

group_read() { # out-file
	timeout 20 kcat -b "$K" -G kc-group -X auto.offset.reset=earliest \
		-X session.timeout.ms=6000 -X heartbeat.interval.ms=500 \
		-e -q -f "$KC_FMT" "$TOPIC" >"$1" 2>"$1.err" ||
		{ rc=$?; cat "$1.err" >&2; kc_fail "kcat -G kc-group failed (exit $rc)"; }
}
echo "== kcat -G kc-group"
group_read "$T/g1"
kc_check "$T/g1" "$N" 0 "0=0,1=0,2=0" || kc_fail "kcat -G read something else than was produced"
echo "== kcat -G kc-group again: nothing left"
group_read "$T/g2"
if [[ -s $T/g2 ]]; then
	head "$T/g2" >&2
	kc_fail "the group's second run got $(wc -l <"$T/g2") messages: offsets were not committed (or not used)"
fi
echo "ok: the second run got nothing"
echo "== 60 more, then kcat -G kc-group resumes at the committed offsets"
kc_lines 60 "$N" >"$T/in2"
timeout 20 kcat -P -b "$K" -t "$TOPIC" -K : -X partitioner=murmur2_random -l "$T/in2" 2>"$T/p2.err" ||
	{ cat "$T/p2.err" >&2; kc_fail "kcat -P (60 more) failed"; }
starts=$(awk -F'\t' '{ n[$1]++ } END { s = ""; for (p in n) s = s (s ? "," : "") p "=" n[p]; print s }' "$T/c")
group_read "$T/g3"
kc_check "$T/g3" 60 "$N" "$starts" || kc_fail "kcat -G after 60 more: not exactly the 60 new messages"
echo "PASS: kcat metadata, produce, consume, consumer group"
