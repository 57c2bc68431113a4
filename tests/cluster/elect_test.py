"""Preferred and unclean leader election (ElectLeaders) on a three-broker
cluster, with raw ElectLeaders requests (no Python client of Debian 12
sends them) and librdkafka's Metadata.

Run by meson with SLUICED, SLUICE_CONTROL and SLUICE_TEST_TMPDIR set.

1. Three brokers; a topic of 3 partitions, replication factor 3: each
   partition led by its preferred replica (the first of its replicas).
2. The preferred leader of partition 0 is killed and restarted: the
   partitions it led have other leaders, it is back in every in-sync set.
3. ElectLeaders v1, preferred, for partitions 0-2 and one that does not
   exist: the moved ones NONE, the others ELECTION_NOT_NEEDED, the missing
   one UNKNOWN_TOPIC_OR_PARTITION; Metadata then shows every partition led
   by its preferred replica.
4. ElectLeaders v2 (flexible), all partitions (null): none of the topic's
   (they are at their preferred leaders), only __consumer_offsets partitions
   the restarted broker led before, elected (NONE, or
   PREFERRED_LEADER_NOT_AVAILABLE while it catches up); asked again until
   no results; unclean (type 1) of a led partition: ELECTION_NOT_NEEDED;
   an unknown election type: INVALID_REQUEST.
Every wait is bounded; every process is stopped by pid at the end.
"""
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_lib import (clean_up, create, fail, kstr, read_uvarint,  # noqa: E402
                         recv_exact, start_cluster, stop_all, topic_metadata,
                         until, uvarint)
import socket  # noqa: E402

TOPIC = "el"
NONE, UNKNOWN, INVALID_REQUEST, NOT_NEEDED = 0, 3, 42, 84
PREFERRED_NOT_AVAILABLE = 80


def meta(nodes):
    """{partition: (leader, replicas in order, isr)} from a live broker."""
    m = topic_metadata(nodes, TOPIC)
    if m is None:
        return None
    return {i: (p.leader, list(p.replicas), sorted(p.isrs)) for i, p in m[1].items()}


def call(node, version, body):
    """ElectLeaders at version; the response body after the header."""
    flexible = version >= 2
    head = struct.pack(">hhi", 43, version, 11) + kstr("elect-test")
    frame = head + (b"\x00" if flexible else b"") + body
    with socket.create_connection(("127.0.0.1", node.kafka), timeout=30) as s:
        s.sendall(struct.pack(">i", len(frame)) + frame)
        r = recv_exact(s, struct.unpack(">i", recv_exact(s, 4))[0])
    if struct.unpack(">i", r[:4])[0] != 11:
        fail("ElectLeaders answered with another correlation id")
    return r[4 + (1 if flexible else 0):]


def elect_v1(node, etype, parts):
    """v1 for TOPIC's parts: (top error, {partition: error})."""
    body = struct.pack(">b", etype) + struct.pack(">i", 1) + kstr(TOPIC)
    body += struct.pack(">i", len(parts)) + b"".join(struct.pack(">i", p) for p in parts)
    body += struct.pack(">i", 30000)
    r = call(node, 1, body)
    at = 4
    top = struct.unpack(">h", r[at:at + 2])[0]
    at += 2
    out = {}
    for _ in range(struct.unpack(">i", r[at:at + 4])[0]):
        at += 4
        tl = struct.unpack(">h", r[at:at + 2])[0]
        at += 2 + tl
        n = struct.unpack(">i", r[at:at + 4])[0]
        at += 4
        for _ in range(n):
            p, err, ml = struct.unpack(">ihh", r[at:at + 8])
            at += 8 + max(ml, 0)
            out[p] = err
    return top, out


def elect_v2_all(node, etype):
    """v2, every partition (null): (top error, {topic: {partition: error}})
    of the results (Kafka lists only the partitions it elected or could
    not)."""
    body = struct.pack(">b", etype) + uvarint(0) + struct.pack(">i", 30000) + b"\x00"
    r = call(node, 2, body)
    top = struct.unpack(">h", r[4:6])[0]
    at = 6

    def varint():
        nonlocal at
        n, at = read_uvarint(r, at)
        return n

    def skip_tags():
        for _ in range(varint()):
            varint()
            nonlocal at
            at += varint()

    results = {}
    for _ in range(varint() - 1):
        n = varint() - 1
        name = r[at:at + n].decode()
        at += n
        parts = results.setdefault(name, {})
        for _ in range(varint() - 1):
            p, err = struct.unpack(">ih", r[at:at + 6])
            at += 6
            n = varint() - 1
            at += max(n, 0)
            skip_tags()
            parts[p] = err
        skip_tags()
    return top, results


base = tempfile.mkdtemp(prefix="elect-", dir=os.environ.get("SLUICE_TEST_TMPDIR", "/var/tmp"))
nodes = []
ok_end = False
try:
    nodes = start_cluster(base, 3)
    until("CreateTopics el rf=3", lambda: create(nodes[0], TOPIC, 3, 3) == 0, 40)
    m = until("every partition led by its preferred replica",
              lambda: (lambda m: m if m and len(m) == 3 and all(
                  v[1] and v[0] == v[1][0] and len(v[2]) == 3 for v in m.values()) else None)(
                  meta(nodes)), 30)
    print("ok: preferred leaders %s" % {p: v[0] for p, v in sorted(m.items())}, flush=True)

    # 2. the preferred leader of partition 0 goes and comes back
    pref = m[0][0]
    victim = nodes[pref - 1]
    others = [nd for nd in nodes if nd is not victim]
    victim.kill("sluiced")
    victim.kill("control")
    until("partition 0 led by another broker",
          lambda: (meta(others) or {0: (pref,)})[0][0] not in (pref, -1), 30)
    victim.start()
    moved = until("broker %d back in every in-sync set, its partitions led elsewhere" % pref,
                  lambda: (lambda m: m if m and all(len(v[2]) == 3 for v in m.values())
                           else None)(meta(nodes)), 60)
    away = sorted(p for p, v in moved.items() if v[0] != v[1][0])
    if 0 not in away:
        fail("partition 0 is led by its preferred replica again without an election: %s" % moved)
    print("ok: broker %d restarted; partitions %s led by others" % (pref, away), flush=True)

    # 3. preferred election of 0-2 and one that does not exist
    top, res = elect_v1(nodes[0], 0, [0, 1, 2, 7])
    want = {p: (NONE if p in away else NOT_NEEDED) for p in range(3)}
    want[7] = UNKNOWN
    if top != 0 or res != want:
        fail("ElectLeaders v1: top %d, results %s, expected %s" % (top, res, want))
    until("every partition led by its preferred replica again",
          lambda: (lambda m: m and all(v[1] and v[0] == v[1][0] for v in m.values()))(meta(nodes)), 20)
    print("ok: ElectLeaders v1 elected %s back (the others ELECTION_NOT_NEEDED, "
          "partition 7 UNKNOWN_TOPIC_OR_PARTITION)" % away, flush=True)

    # 4. the flexible version, all partitions; unclean; a bad type
    # every partition of the topic has its preferred leader: none listed;
    # the internal topics' (__consumer_offsets, __transaction_state)
    # partitions the restarted broker led are elected
    # (or PREFERRED_LEADER_NOT_AVAILABLE while it is not yet back in their
    # in-sync sets)
    top, res = elect_v2_all(nodes[1], 0)
    internal = ("__consumer_offsets", "__transaction_state")
    if top != 0 or set(res) - set(internal) or any(
            e not in (NONE, PREFERRED_NOT_AVAILABLE)
            for t in internal for e in res.get(t, {}).values()):
        fail("ElectLeaders v2 of all partitions: top %d, results %s" % (top, res))
    until("ElectLeaders v2 of all partitions with nothing left to elect",
          lambda: elect_v2_all(nodes[1], 0) == (0, {}), 60)
    top, res = elect_v1(nodes[2], 1, [1])
    if top != 0 or res != {1: NOT_NEEDED}:
        fail("unclean election of a led partition: top %d, %s" % (top, res))
    top, res = elect_v1(nodes[2], 5, [1])
    if top != INVALID_REQUEST or res:
        fail("election type 5: top %d, %s" % (top, res))
    print("ok: v2 over all partitions has nothing to do; unclean of a led partition "
          "ELECTION_NOT_NEEDED; type 5 INVALID_REQUEST", flush=True)

    stop_all(nodes)
    ok_end = True
finally:
    clean_up(nodes, base, ok_end, 40)
