#!/usr/bin/env bash
#
# The native protocol and the Kafka protocol on the same log, on a fresh
# broker of its own (kafka_broker_run):
#   1. `sluice produce --udp --acks all` writes 400 keyed messages over the
#      native protocol; kcat -C (Kafka Fetch) reads exactly those messages:
#      each once, the right key, offsets from 0 without gaps, produce order
#      per partition;
#   2. kcat -P (Kafka Produce, murmur2 partitioner) writes 400 keyed
#      messages to another topic; `sluice consume --partition P` (native
#      FETCH) reads exactly those, partition by partition;
#   3. both partitioners (libsluice's and librdkafka's murmur2_random, both
#      Java's murmur2) put every key in the same partition;
#   4. kcat -P -z gzip|snappy|lz4|zstd batches are read back by `sluice
#      consume` (libsluice decompresses them), every message once, in order.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/kafka/clients/lib.sh
source "$HERE/lib.sh"
kc_need_kcat
kc_under_broker cross 60 "$0" "$@"

CLI=${SLUICE_CLI:?SLUICE_CLI must name the sluice CLI}
K=$KAFKA_BOOTSTRAP
S=(-b "$SLUICE_BROKER")
T=$(mktemp -d "${SLUICE_TEST_TMPDIR:-/tmp}/cross-XXXXXX")
trap 'rm -rf "$T"' EXIT
N=400

echo "== native UDP produce, Kafka fetch"
"$CLI" "${S[@]}" topic create x-native --partitions 3
"$CLI" "${S[@]}" topic create x-kafka --partitions 3
kc_lines "$N" 0 >"$T/in"
timeout 20 "$CLI" "${S[@]}" produce x-native --udp --acks all --key-separator : \
	<"$T/in" 2>"$T/np.err" || { cat "$T/np.err" >&2; kc_fail "sluice produce --udp failed"; }
grep -qx "$N message(s) delivered" "$T/np.err" ||
	{ cat "$T/np.err" >&2; kc_fail "sluice produce --udp: expected '$N message(s) delivered'"; }
timeout 20 kcat -C -b "$K" -t x-native -o beginning -e -q -f "$KC_FMT" >"$T/kc" 2>"$T/kc.err" ||
	{ cat "$T/kc.err" >&2; kc_fail "kcat -C x-native failed"; }
kc_check "$T/kc" "$N" 0 "0=0,1=0,2=0" ||
	kc_fail "kcat read something else than sluice produce --udp wrote"

echo "== Kafka produce, native fetch"
timeout 20 kcat -P -b "$K" -t x-kafka -K : -X partitioner=murmur2_random -X acks=all \
	-l "$T/in" 2>"$T/kp.err" || { cat "$T/kp.err" >&2; kc_fail "kcat -P x-kafka failed"; }
: >"$T/sc"
for p in 0 1 2; do
	timeout 20 "$CLI" "${S[@]}" consume x-kafka --partition "$p" --print-offset --print-key \
		>"$T/sc.$p" 2>"$T/sc.err" || { cat "$T/sc.err" >&2; kc_fail "sluice consume x-kafka --partition $p failed"; }
	# "p:offset<TAB>key<TAB>value" -> "p<TAB>offset<TAB>key<TAB>value"
	sed 's/^\([0-9]*\):\([0-9]*\)\t/\1\t\2\t/' "$T/sc.$p" >>"$T/sc"
	awk -F'[:\t]' -v p="$p" '$1 != p { exit 1 }' "$T/sc.$p" ||
		kc_fail "sluice consume --partition $p printed messages of another partition"
done
kc_check "$T/sc" "$N" 0 "0=0,1=0,2=0" ||
	kc_fail "sluice consume read something else than kcat -P wrote"

echo "== both partitioners agree"
awk -F'\t' '{ print $3 "\t" $1 }' "$T/kc" | sort -u >"$T/keys.native"
awk -F'\t' '{ print $3 "\t" $1 }' "$T/sc" | sort -u >"$T/keys.kafka"
if ! cmp -s "$T/keys.native" "$T/keys.kafka"; then
	diff "$T/keys.native" "$T/keys.kafka" >&2 || true
	kc_fail "libsluice and librdkafka (murmur2_random) put keys in different partitions"
fi
echo "ok: $(wc -l <"$T/keys.native") keys, each in the same partition through either protocol"
# stored_codecs DIR: the compression codecs (attributes & 7) of the
# batches in a partition directory's segments, sorted, unique
stored_codecs() {
	/usr/bin/python3 - "$1" <<'PY'
import glob, struct, sys
codecs = set()
for f in sorted(glob.glob(sys.argv[1] + "/*.log")):
    d = open(f, "rb").read()
    pos = 0
    while pos + 61 <= len(d):
        n = struct.unpack(">i", d[pos + 8:pos + 12])[0]
        if n < 49:
            break
        codecs.add(struct.unpack(">h", d[pos + 21:pos + 23])[0] & 7)
        pos += 12 + n
print(",".join(str(c) for c in sorted(codecs)))
PY
}

echo "== compressed Kafka batches, native fetch"
M=300
kc_lines "$M" 1000 >"$T/zin"
for z in gzip snappy lz4 zstd; do
	"$CLI" "${S[@]}" topic create "x-$z" --partitions 1
	# one linger so that many messages share a (compressed) batch
	timeout 20 kcat -P -b "$K" -t "x-$z" -K : -z "$z" -X linger.ms=50 -X acks=all \
		-l "$T/zin" 2>"$T/zp.err" || { cat "$T/zp.err" >&2; kc_fail "kcat -P -z $z failed"; }
	timeout 20 "$CLI" "${S[@]}" consume "x-$z" --partition 0 --print-offset --print-key \
		>"$T/zc.raw" 2>"$T/zc.err" || { cat "$T/zc.err" >&2; kc_fail "sluice consume x-$z failed"; }
	sed 's/^\([0-9]*\):\([0-9]*\)\t/\1\t\2\t/' "$T/zc.raw" >"$T/zc"
	kc_check "$T/zc" "$M" 1000 "0=0" ||
		kc_fail "sluice consume read something else than kcat -P -z $z wrote"
	# the batches on disk carry the codec: the consumer really
	# decompressed (librdkafka compresses when the broker advertises
	# Produce v2 and Fetch v2, which sluice does: every codec)
	codecs=$(stored_codecs "$SLUICE_DATA_DIR/x-$z-0")
	case $z in gzip) want=1 ;; snappy) want=2 ;; lz4) want=3 ;; zstd) want=4 ;; esac
	if [[ $codecs != *$want* ]]; then
		kc_fail "x-$z: batches stored with codecs '$codecs', not $z ($want)"
	fi
	echo "ok: $z: $M messages (stored codecs: $codecs)"
done
echo "PASS: native UDP -> Kafka fetch, Kafka produce -> native fetch, compressed batches -> native fetch"
