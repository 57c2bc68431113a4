#!/usr/bin/env bash
#
# kcat and automatic topic creation (auto_create_topics), each mode on a
# fresh broker of its own (kafka_broker_run):
#   on (the default configuration):
#     1. kcat -P to a topic that does not exist: every message delivered
#        (kcat exits 0), the topic created with default_partitions (1);
#     2. kcat -C -e reads them back: every message once, in order, offsets
#        from 0, each with its key;
#     3. kcat -L shows the topic with 1 partition led by broker 1 (on a
#        cluster: by one of its brokers, all of them replicas), and
#        sluiced logged its creation once.
#   off (auto_create_topics=false):
#     1. kcat -P to a topic that does not exist fails: kcat exits non-zero
#        saying "Unknown topic or partition";
#     2. kcat -L -t names it unknown, and `sluice topic list` does not
#        list it: nothing was created.
# Every kcat call is bounded by timeout(1).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/kafka/clients/lib.sh
source "$HERE/lib.sh"
kc_need_kcat
MODE=${1:-on}
case $MODE in
on) kc_under_broker autocreate-kcat 40 "$0" "$@" ;;
off)
	if [[ -z ${KAFKA_BOOTSTRAP:-} ]]; then
		[[ -x ${KAFKA_BROKER_RUN:-} ]] ||
			kc_fail "KAFKA_BROKER_RUN must name tests/kafka/clients/kafka_broker_run (meson test sets it)"
		exec "$KAFKA_BROKER_RUN" --timeout 40 --name autocreate-kcat-off \
			--set auto_create_topics=false -- bash "$0" "$@"
	fi
	;;
*) kc_fail "usage: autocreate_test.sh [on|off]" ;;
esac

CLI=${SLUICE_CLI:?SLUICE_CLI must name the sluice CLI}
K=$KAFKA_BOOTSTRAP
T=$(mktemp -d "${SLUICE_TEST_TMPDIR:-/tmp}/kcat-auto-XXXXXX")
trap 'rm -rf "$T"' EXIT
N=50
TOPIC=kc-auto-$MODE

if [[ $MODE == off ]]; then
	echo "== auto_create_topics=false: kcat -P to $TOPIC"
	kc_lines 3 0 >"$T/in"
	# the topic stays unknown: librdkafka fails the messages once
	# topic.metadata.propagation.max.ms has passed
	rc=0
	timeout 20 kcat -P -b "$K" -t "$TOPIC" -K : -X topic.metadata.propagation.max.ms=2000 \
		-l "$T/in" 2>"$T/p.err" || rc=$?
	cat "$T/p.err"
	[[ $rc != 0 && $rc != 124 ]] ||
		kc_fail "kcat -P to $TOPIC exited with $rc; expected it to fail (the topic does not exist)"
	grep -qi "Unknown topic" "$T/p.err" ||
		kc_fail "kcat -P to $TOPIC: expected 'Unknown topic' in its errors"
	timeout 20 kcat -L -b "$K" -t "$TOPIC" -m 10 >"$T/meta" 2>&1 || true
	cat "$T/meta"
	grep -q "topic \"$TOPIC\" with 0 partitions: Broker: Unknown topic or partition" "$T/meta" ||
		kc_fail "kcat -L -t $TOPIC: expected the topic unknown"
	"$CLI" -b "$SLUICE_BROKER" topic list >"$T/list"
	if grep -q "$TOPIC" "$T/list"; then
		cat "$T/list"
		kc_fail "auto_create_topics=false, yet $TOPIC was created"
	fi
	echo "ok: auto_create_topics=false: kcat -P fails with Unknown topic, nothing created"
	exit 0
fi

echo "== kcat -P: $N keyed messages to $TOPIC, which does not exist"
kc_lines "$N" 0 >"$T/in"
timeout 20 kcat -P -b "$K" -t "$TOPIC" -K : -X acks=all -l "$T/in" 2>"$T/p.err" ||
	{ rc=$?; cat "$T/p.err" >&2; kc_fail "kcat -P to a new topic exited with $rc"; }

echo "== kcat -C -e: read them back"
timeout 20 kcat -C -b "$K" -t "$TOPIC" -o beginning -e -f '%p\t%o\t%k\t%s\n' \
	>"$T/out" 2>"$T/c.err" ||
	{ rc=$?; cat "$T/c.err" >&2; kc_fail "kcat -C exited with $rc"; }
[[ $(wc -l <"$T/out") == "$N" ]] ||
	kc_fail "kcat -C read $(wc -l <"$T/out") messages, produced $N"
kc_check "$T/out" "$N" 0 "0=0" || kc_fail "kcat -C: the messages read back are wrong"

echo "== kcat -L -t $TOPIC"
timeout 20 kcat -L -b "$K" -t "$TOPIC" -m 10 >"$T/meta" 2>"$T/meta.err" ||
	{ cat "$T/meta.err" >&2; kc_fail "kcat -L -t $TOPIC failed"; }
cat "$T/meta"
grep -q "topic \"$TOPIC\" with 1 partitions:" "$T/meta" ||
	kc_fail "kcat -L: expected '$TOPIC' with 1 partition (default_partitions)"
# one broker: broker 1 alone; a cluster of N: a leader among them, every
# broker a replica and in sync (default_replication_factor)
N=${KAFKA_CLUSTER_SIZE:-1}
every=$(seq -s, 1 "$N")
line=$(grep -E "^ *partition 0, leader [0-9]+, replicas: [0-9,]+, isrs: [0-9,]+$" "$T/meta") ||
	kc_fail "kcat -L: no line for partition 0"
read -r leader replicas isrs < <(sed -E 's/.*leader ([0-9]+), replicas: ([0-9,]+), isrs: ([0-9,]+)/\1 \2 \3/' <<<"$line")
sorted() { tr , '\n' <<<"$1" | sort -n | paste -sd,; }
((leader >= 1 && leader <= N)) && [[ $(sorted "$replicas") == "$every" &&
	$(sorted "$isrs") == "$every" ]] ||
	kc_fail "kcat -L: expected partition 0 led by one of brokers $every, replicas and isrs $every: $line"
# every broker's log (a cluster's: whichever broker the client asked made it)
logs=()
IFS=, read -ra dirs <<<"${SLUICE_DATA_DIRS:-$SLUICE_DATA_DIR}"
for d in "${dirs[@]}"; do logs+=("$d"/sluiced*.log); done
n=$(cat "${logs[@]}" | grep -c "kafka: created topic '$TOPIC' (1 partitions)" || true)
[[ $n == 1 ]] || kc_fail "sluiced logged the creation of $TOPIC $n times, expected once"
echo "ok: kcat -P created $TOPIC (1 partition), kcat -C read the $N messages back"
