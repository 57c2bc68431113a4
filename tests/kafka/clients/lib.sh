# shellcheck shell=bash
#
# Helpers of the real-client shell tests (kcat_test.sh, cross_test.sh).
# Sourced.  Each test runs twice: first as meson starts it, without
# KAFKA_BOOTSTRAP, where kc_under_broker re-runs the script under
# kafka_broker_run (a fresh broker of its own); then under the broker, with
# KAFKA_BOOTSTRAP and SLUICE_BROKER set.
#
# Messages of these tests are "key:value" lines: value "v-NNNNN-..." where
# NNNNN is the message's sequence number (0..N-1) and key "k-(seq % 13)",
# so a consumer's output says which message it is and where it belongs.

kc_fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# kc_need_kcat: kcat on PATH, or fail saying what to install.
kc_need_kcat() {
	command -v kcat >/dev/null ||
		kc_fail "kcat is missing: apt-get install kcat (tools/lib/deps.sh installs it)"
}

# kc_under_broker NAME TIMEOUT SCRIPT ARGS...: when no broker is given,
# exec SCRIPT under a fresh one (does not return).
kc_under_broker() {
	local name=$1 timeout=$2
	shift 2
	if [[ -n ${KAFKA_BOOTSTRAP:-} ]]; then
		[[ -n ${SLUICE_BROKER:-} ]] ||
			kc_fail "KAFKA_BOOTSTRAP is set but SLUICE_BROKER (native host:port) is not"
		return 0
	fi
	[[ -x ${KAFKA_BROKER_RUN:-} ]] ||
		kc_fail "KAFKA_BROKER_RUN must name tests/kafka/clients/kafka_broker_run (meson test sets it)"
	exec "$KAFKA_BROKER_RUN" --timeout "$timeout" --name "$name" -- bash "$@"
}

# kc_lines N [FIRST]: N message lines "key:value", sequence FIRST.. (0).
kc_lines() {
	local n=$1 first=${2:-0}
	awk -v n="$n" -v f="$first" 'BEGIN {
		for (i = f; i < f + n; i++)
			printf "k-%d:v-%05d-%s\n", i % 13, i, "payload-of-message-" i
	}'
}

# kc_check FILE N FIRST_SEQ [START_OFFSETS]: FILE holds one consumed message
# a line, "partition<TAB>offset<TAB>key<TAB>value", in the order a client
# delivered them.  Checks that it holds exactly the messages FIRST_SEQ ..
# FIRST_SEQ+N-1 of kc_lines, each once, each with its own key; that within a
# partition offsets are consecutive and sequence numbers increase (the order
# they were produced in); that a key stays in one partition; and, when
# START_OFFSETS is given ("p=o,p=o"), that each partition starts at its
# offset.  Prints what is wrong and returns 1, or prints a summary.
kc_check() {
	local file=$1 n=$2 first=$3 starts=${4:-}
	awk -F'\t' -v n="$n" -v f="$first" -v starts="$starts" '
	function bad(msg) { print "  " msg > "/dev/stderr"; errors++ }
	BEGIN {
		if (starts != "") {
			np = split(starts, a, ",")
			for (i = 1; i <= np; i++) { split(a[i], kv, "="); want[kv[1]] = kv[2] }
		}
	}
	{
		if (NF != 4) { bad("line " NR " has " NF " fields: " $0); next }
		p = $1; o = $2; k = $3; v = $4
		if (v !~ /^v-[0-9]+-payload-of-message-[0-9]+$/) { bad("line " NR ": unexpected value " v); next }
		s = substr(v, 3, index(substr(v, 3), "-") - 1) + 0
		if (v != sprintf("v-%05d-payload-of-message-%d", s, s)) bad("line " NR ": corrupt value " v)
		if (s < f || s >= f + n) { bad("line " NR ": sequence " s " outside " f ".." f + n - 1); next }
		if (k != "k-" (s % 13)) bad("line " NR ": message " s " has key " k ", produced with k-" (s % 13))
		if (seen[s]++) bad("message " s " consumed twice (again at partition " p " offset " o ")")
		if (k in kpart && kpart[k] != p) bad("key " k " in partitions " kpart[k] " and " p)
		kpart[k] = p
		if (p in last_o) {
			if (o != last_o[p] + 1) bad("partition " p ": offset " o " after " last_o[p] " (gap or duplicate)")
			if (s <= last_s[p]) bad("partition " p ": message " s " after message " last_s[p] " (out of order)")
		} else {
			first_o[p] = o
			if ((p in want) && o != want[p]) bad("partition " p " starts at offset " o ", expected " want[p])
		}
		last_o[p] = o; last_s[p] = s; count[p]++; total++
	}
	END {
		for (i = f; i < f + n; i++) if (!(i in seen)) { missing++; if (missing <= 5) bad("message " i " never consumed") }
		if (missing > 5) bad("... " missing " messages never consumed in all")
		if (total != n) bad(total " messages consumed, " n " produced")
		summary = ""
		for (p in count) summary = summary " p" p ":" first_o[p] ".." last_o[p]
		if (errors) { print "  " errors " problem(s); partitions seen:" summary > "/dev/stderr"; exit 1 }
		print "ok: " total " messages, each once, in order per partition;" summary
	}' "$file"
}

# kcat's -f format for kc_check's input.
# shellcheck disable=SC2034  # used by the scripts that source this file
KC_FMT='%p\t%o\t%k\t%s\n'
