"""tests/harness/queue_checker.py on histories made by hand: a clean one
passes, and each anomaly, put into it alone, is found as what it is.

Usage: queue_checker_test.py HARNESS_DIR.  Exit 0 when all holds."""
import io
import json
import sys

sys.path.insert(0, sys.argv[1])
import queue_checker as qc  # noqa: E402

FAILED = []


def run(events, final=True):
    out = io.StringIO()
    rc, ch = qc.check([json.dumps(e) for e in events], final, out)
    return rc, {k: len(v) for k, v in ch.found.items()}, out.getvalue()


def expect(name, events, kinds, final=True):
    rc, counts, text = run(events, final)
    got = {k for k, n in counts.items() if n}
    if got != set(kinds) or rc != (1 if kinds else 0):
        FAILED.append(name)
        print("FAIL: %s: found %s, want %s\n%s" % (name, sorted(got),
                                                   sorted(kinds), text))


def send(v, o, p=0, c="p1", ok=True):
    return {"op": "send", "client": c, "value": v, "partition": p,
            "offset": o, "ok": ok}


def poll(v, o, p=0, c="c1"):
    return {"op": "poll", "client": c, "partition": p, "offset": o,
            "value": v}


CLEAN = ([send("v%d" % i, i) for i in range(6)] +
         [send("w%d" % i, i, p=1) for i in range(3)] +
         [send("x", None, ok=False)] +
         [poll("v%d" % i, i) for i in range(6)] +
         [poll("w%d" % i, i, p=1) for i in range(3)])

expect("clean", CLEAN, [])
# an unacknowledged value that was written is fine; one never read too
expect("unacknowledged read", CLEAN + [poll("x", 6)], [])
expect("lost", CLEAN[:-1], ["lost"])
expect("lost, not final", CLEAN[:-1], [], final=False)
expect("lost, final line", CLEAN[:-1] + [{"op": "final"}], ["lost"],
       final=False)
expect("duplicate read", CLEAN + [poll("v5", 6, c="c2")], ["duplicate"])
expect("duplicate acknowledged", CLEAN + [send("v0", 6)], ["duplicate",
                                                          "inconsistent"])
expect("inconsistent offset", CLEAN + [poll("other", 2, c="c2")],
       ["inconsistent"])
expect("reused offset", CLEAN + [send("y", 3, c="p2"), poll("y", 7,
                                                            c="c3")],
       ["reused_offset", "inconsistent"])
# c1 jumps from 1 to 4 past 2 and 3, which were acknowledged
skip = [e for e in CLEAN if not (e["op"] == "poll" and e["partition"] == 0
                                 and e["offset"] in (2, 3))]
skip += [poll("v2", 2, c="c2"), poll("v3", 3, c="c2")]
expect("poll skip", skip, ["poll_skip"])
# ... unless it asked to move on
seek = list(skip)
seek.insert(seek.index(poll("v4", 4)),
            {"op": "seek", "client": "c1", "partition": 0, "offset": 4})
expect("seek", seek, [])
# a gap nobody wrote into (compaction, control batches) is no skip
gap = [send("a", 0), send("b", 5), poll("a", 0), poll("b", 5)]
expect("gap", gap, [])
expect("poll backwards", CLEAN + [poll("v3", 3)], ["nonmonotonic"])
expect("send backwards", [send("a", 5), send("b", 4), poll("b", 4),
                          poll("a", 5)], ["nonmonotonic"])
txn = [send("t1", 0), {"op": "aborted", "value": "t1"}, send("t2", 1),
       {"op": "read_committed", "client": "c1"}]
expect("aborted read", txn + [poll("t1", 0), poll("t2", 1)],
       ["aborted_read"])
expect("aborted, uncommitted reader", txn + [poll("t1", 0, c="c9"),
                                            poll("t2", 1, c="c9")], [])

# acknowledged without an offset: lost if never read, else fine
nowhere = {"op": "send", "client": "p1", "value": "w", "partition": 0,
           "offset": None, "ok": True}
expect("acknowledged, no offset, read", CLEAN + [nowhere, poll("w", 6)], [])
expect("acknowledged, no offset, never read", CLEAN + [nowhere], ["lost"])
expect("acknowledged, no offset, not final", CLEAN + [nowhere], [], final=False)

# the faults written into a history are read past
expect("nemesis lines", [{"op": "nemesis", "what": "isolate", "node": 2}] +
       CLEAN + [{"op": "nemesis", "what": "heal"}], [])

# unreadable input is refused, not judged
try:
    qc.check(['{"op": "teleport"}'])
    FAILED.append("unknown op")
    print("FAIL: an unknown op was accepted")
except ValueError:
    pass

sys.exit(1 if FAILED else 0)
