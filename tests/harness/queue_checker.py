#!/usr/bin/env python3
"""The queue checker of sluice's fault harness: reads what producers were
told and what consumers read during a run, and finds every way a log can
lose or corrupt acknowledged data: the anomalies of Jepsen's queue
workload, below.  Standard library only.

Input: a history, one JSON object a line, in the order each client saw
its own events (lines of different clients may interleave):

  {"op": "send", "client": "p1", "value": "v17", "partition": 0,
   "offset": 42, "ok": true}
        a produce the broker acknowledged (ok) at that offset; "ok": false
        for one that failed or was never answered: it may or may not be
        in the log, and is never counted as lost.  "ok": true with no
        offset (or null): acknowledged at an offset the client was not
        told (an idempotent producer whose later batch's answer proved an
        earlier one written): judged lost if never read, nothing else
  {"op": "poll", "client": "c1", "partition": 0, "offset": 42,
   "value": "v17"}
        a record a consumer read
  {"op": "seek", "client": "c1", "partition": 0, "offset": 40}
        the consumer asked to continue from offset 40 (a rebalance, a
        committed-offset jump, a seek): the next poll of that partition may
        start there without a poll skip
  {"op": "aborted", "value": "v18"}
        a value written in a transaction that aborted
  {"op": "read_committed", "client": "c1"}
        the consumer reads with isolation.level=read_committed
  {"op": "nemesis", ...}
        a fault injected or healed (tests/harness/netns_cluster.py),
        kept in the history to read it by; not judged

Anomalies (each counted, the first few printed):
  lost            an acknowledged value that no poll ever read (only
                  judged when the history says every consumer read to the
                  end: --final, or a line {"op": "final"})
  duplicate       one value read at two different offsets of a partition
  inconsistent    two different values read at the same partition offset,
                  or a value read at another offset than it was
                  acknowledged at
  poll_skip       a consumer read offset n and then n+k of a partition
                  (k > 1) with offsets between them that some consumer
                  read, and no seek in between
  nonmonotonic    a consumer's polls of a partition, or a producer's
                  acknowledged offsets in a partition, going backwards
                  without a seek (a producer: an offset not above the
                  previous one it was told)
  aborted_read    a read_committed consumer read a value of an aborted
                  transaction
  reused_offset   two acknowledged values at the same partition offset

Usage: queue_checker.py HISTORY [--final]
Prints one line of counts ("checked N acknowledged values, M reads: ...")
and exits 0 when no anomaly was found, 1 otherwise, 2 on unreadable input.
"""
import json
import sys

KINDS = ("lost", "duplicate", "inconsistent", "poll_skip", "nonmonotonic",
         "aborted_read", "reused_offset")
SHOW = 5


class Checker:
    def __init__(self):
        self.found = {k: [] for k in KINDS}
        self.acked = {}        # value -> (partition, offset)
        self.acked_nowhere = {}  # value -> partition: acknowledged, no offset
        self.at_ack = {}       # (partition, offset) -> value acknowledged
        self.read_at = {}      # (partition, offset) -> value read
        self.read_val = {}     # value -> set of (partition, offset) read
        self.aborted = set()
        self.committed_readers = set()
        self.last_send = {}    # (client, partition) -> offset
        self.last_poll = {}    # (client, partition) -> offset
        self.seeked = set()    # (client, partition) with a seek pending
        self.polls = []        # (client, partition, prev, offset) to judge
        self.reads = 0
        self.final = False

    def note(self, kind, what):
        self.found[kind].append(what)

    def event(self, e):
        op = e.get("op")
        if op == "send":
            self.send(e)
        elif op == "poll":
            self.poll(e)
        elif op == "seek":
            self.seeked.add((e["client"], e["partition"]))
            self.last_poll.pop((e["client"], e["partition"]), None)
        elif op == "aborted":
            self.aborted.add(e["value"])
        elif op == "read_committed":
            self.committed_readers.add(e["client"])
        elif op == "final":
            self.final = True
        elif op == "nemesis":
            pass
        else:
            raise ValueError("unknown op %r" % op)

    def send(self, e):
        if not e.get("ok"):
            return
        if e.get("offset") is None:
            self.acked_nowhere[e["value"]] = e["partition"]
            return
        v, p, o = e["value"], e["partition"], e["offset"]
        if v in self.acked and self.acked[v] != (p, o):
            self.note("duplicate", "%r acknowledged at %s and %s"
                      % (v, self.acked[v], (p, o)))
        self.acked[v] = (p, o)
        other = self.at_ack.get((p, o))
        if other is not None and other != v:
            self.note("reused_offset", "partition %d offset %d given to "
                      "%r and %r" % (p, o, other, v))
        self.at_ack[(p, o)] = v
        key = (e["client"], p)
        prev = self.last_send.get(key)
        if prev is not None and o <= prev:
            self.note("nonmonotonic", "producer %s told offset %d after %d "
                      "in partition %d" % (e["client"], o, prev, p))
        self.last_send[key] = o

    def poll(self, e):
        c, p, o, v = e["client"], e["partition"], e["offset"], e["value"]
        self.reads += 1
        other = self.read_at.get((p, o))
        if other is not None and other != v:
            self.note("inconsistent", "partition %d offset %d read as %r "
                      "and as %r" % (p, o, other, v))
        self.read_at.setdefault((p, o), v)
        places = self.read_val.setdefault(v, set())
        places.add((p, o))
        if len(places) == 2:
            self.note("duplicate", "%r read at %s" % (v, sorted(places)))
        if c in self.committed_readers and v in self.aborted:
            self.note("aborted_read", "%s (read_committed) read %r of an "
                      "aborted transaction at %d/%d" % (c, v, p, o))
        key = (c, p)
        prev = self.last_poll.get(key)
        if key in self.seeked:
            self.seeked.discard(key)
        elif prev is not None:
            if o <= prev:
                self.note("nonmonotonic", "consumer %s read offset %d after "
                          "%d in partition %d" % (c, o, prev, p))
            elif o > prev + 1:
                self.polls.append((c, p, prev, o))
        self.last_poll[key] = o

    def finish(self):
        # a gap is a skip only if something lies in it (compaction and
        # control batches leave offsets nobody reads)
        for c, p, prev, o in self.polls:
            between = [x for x in range(prev + 1, o) if (p, x) in self.read_at
                       or (p, x) in self.at_ack]
            if between:
                self.note("poll_skip", "consumer %s went from %d to %d in "
                          "partition %d past %d record(s)"
                          % (c, prev, o, p, len(between)))
        for v, (p, o) in self.acked.items():
            read = self.read_val.get(v)
            if read and (p, o) not in read:
                self.note("inconsistent", "%r acknowledged at %d/%d, read "
                          "at %s" % (v, p, o, sorted(read)))
            if self.final and not read:
                self.note("lost", "%r acknowledged at %d/%d, never read"
                          % (v, p, o))
        for v, p in self.acked_nowhere.items():
            if self.final and v not in self.acked and not self.read_val.get(v):
                self.note("lost", "%r acknowledged in partition %d (offset "
                          "not told), never read" % (v, p))

    def report(self, out):
        counts = ", ".join("%s %d" % (k, len(self.found[k])) for k in KINDS)
        print("checked %d acknowledged values, %d reads%s: %s"
              % (len(self.acked.keys() | self.acked_nowhere.keys()), self.reads,
                 "" if self.final else " (not final: losses not judged)",
                 counts), file=out)
        bad = False
        for k in KINDS:
            for what in self.found[k][:SHOW]:
                print("  %s: %s" % (k, what), file=out)
            bad = bad or bool(self.found[k])
        return 1 if bad else 0


def check(lines, final=False, out=sys.stdout):
    ch = Checker()
    ch.final = final
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            ch.event(json.loads(line))
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError("line %d: %s" % (n, e))
    ch.finish()
    return ch.report(out), ch


def main(argv):
    if len(argv) < 2 or argv[1].startswith("-"):
        print("usage: queue_checker.py HISTORY [--final]", file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            rc, _ = check(f, "--final" in argv[2:])
    except (OSError, ValueError) as e:
        print("queue_checker: %s" % e, file=sys.stderr)
        return 2
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
