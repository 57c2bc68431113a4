#!/usr/bin/env bash
#
# cmocka_tap.sh PROGRAM [ARGS...]: run a cmocka test program so that meson
# (protocol : 'tap') and tools/test see every case, not only the exit code.
#
# cmocka's exit code is the number of failed cases: a case that calls
# skip() exits 0 like a pass.  With CMOCKA_MESSAGE_OUTPUT=TAP it prints
# "1..N", "ok N - name", "not ok N - name" and, for a skip, "not ok N #
# SKIP name", mixed with whatever the test itself prints on stdout.  This
# turns that into TAP that meson's parser reads as cmocka meant it:
#
#   ok N - name                "ok N name" (numbered across groups)
#   not ok N - name ...        "not ok N name ..."
#   not ok N # SKIP name       "ok N name # SKIP <reason>", the reason
#                              being the last line the case printed
#   1..N (one per group)       summed into one plan, printed at the end:
#                              a program that dies part way leaves fewer
#                              cases than planned, which meson and
#                              tools/test count as an error
#   lines starting with #      kept (cmocka's diagnostics)
#   anything else              "# line": the test's own output, kept in
#                              the log, never mistaken for a result
#
# The program's exit status is kept.  Exit 77 before any case ran (a
# missing prerequisite, printed by the test) becomes "1..0 # SKIP
# <reason>" and exit 0, which meson reports as a skipped test.  Any other
# exit before any case ran becomes one failed case.
set -uo pipefail

if [[ $# -lt 1 ]]; then
	echo "usage: cmocka_tap.sh PROGRAM [ARGS...]" >&2
	exit 2
fi
export CMOCKA_MESSAGE_OUTPUT=TAP

# The program's exit status follows its output as one last line that the
# filter recognises; the marker carries this shell's pid so that a test's
# own output cannot imitate it by accident.
marker="cmocka_tap.sh exit status $$:"
{
	"$@"
	printf '\n%s %d\n' "$marker" "$?"
} | awk -v marker="$marker" -v prog="$(basename "$1")" '
	function tap_name(s) {
		sub(/^[ \t]*-?[ \t]*/, "", s)
		return s
	}
	BEGIN { planned = 0; n = 0; rc = -1; reason = "" }
	index($0, marker) == 1 {
		rc = substr($0, length(marker) + 2) + 0
		next
	}
	/^1\.\.[0-9]+$/ {
		planned += substr($0, 4) + 0
		next
	}
	/^ok [0-9]+( |$)/ {
		n++
		s = $0
		sub(/^ok [0-9]+/, "", s)
		print "ok " n " " tap_name(s)
		reason = ""
		next
	}
	/^not ok [0-9]+ # SKIP/ {
		n++
		s = $0
		sub(/^not ok [0-9]+ # SKIP/, "", s)
		print "ok " n " " tap_name(s) " # SKIP " reason
		reason = ""
		next
	}
	/^not ok [0-9]+( |$)/ {
		n++
		s = $0
		sub(/^not ok [0-9]+/, "", s)
		print "not ok " n " " tap_name(s)
		reason = ""
		next
	}
	/^#/ { print; next }
	length($0) > 0 {
		print "# " $0
		reason = $0
	}
	END {
		if (rc < 0) {
			# the marker never came: the pipe broke
			print "not ok " n + 1 " " prog ": no exit status"
			print "1.." n + 1
			exit 1
		}
		if (n == 0 && planned == 0) {
			if (rc == 77) {
				print "1..0 # SKIP " reason
				exit 0
			}
			print "not ok 1 " prog " exited with status " rc \
			      " before running any case"
			print "1..1"
			exit rc ? rc : 1
		}
		if (planned < n)
			planned = n
		print "1.." planned
		exit rc
	}'
