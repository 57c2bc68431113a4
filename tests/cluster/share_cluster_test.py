"""Share groups in a cluster of three brokers (docs/queues.md): a share
partition is served by the broker that leads the partition.

Run by meson with SLUICED, SLUICE_CONTROL and SLUICE_TEST_TMPDIR set.

1. A topic of 2 partitions, 3 replicas; 20 messages acknowledged (acks=all)
   to partition 0.
2. A member's ShareFetch of partition 0 through a broker that does not
   lead it: NOT_LEADER_OR_FOLLOWER (6) for the partition, no message.
3. Through its leader (the group's share.auto.offset.reset set to earliest
   there, IncrementalAlterConfigs of a GROUP resource): the 20 messages,
   each once, delivery count 1; accepted; nothing left.
Every wait is bounded; every process is stopped by pid at the end.
"""
import os
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_lib import (Reader, clean_up, create, fail, flexible_call,  # noqa: E402
                         produce_acked, start_cluster, stop_all, topic_metadata, until,
                         uvarint)
from cluster_lib import compact_str as cstr  # noqa: E402

TOPIC = "sq"
GROUP = "sq-workers"


def carr(items):
    return uvarint(len(items) + 1) + b"".join(items)


def topic_id(node, member):
    """Join through node (ShareGroupHeartbeat v1): the topic's id."""
    body = cstr(GROUP) + cstr(member) + struct.pack(">i", 0) + uvarint(0)
    body += carr([cstr(TOPIC)]) + b"\x00"
    r = flexible_call(node, 76, 1, body)
    if r is None:
        return None
    rd = Reader(r)
    rd.take("i")
    if rd.take("h"):
        return None
    rd.string()
    rd.string()
    rd.take("i")
    rd.take("i")
    if rd.take("b") < 0:
        return None
    if rd.uvarint() - 1 < 1:
        return None
    return rd.b[rd.at:rd.at + 16]


def share_fetch(node, member, epoch, u, partition, acks=(), wait_ms=500):
    """ShareFetch v1 of one partition: (top error, partition error,
    [(first, last, count)]) or None."""
    ab = carr([struct.pack(">qq", f, l) + carr([struct.pack(">b", 1)]) + b"\x00"
               for f, l in acks])
    body = cstr(GROUP) + cstr(member) + struct.pack(">iiiiii", epoch, wait_ms, 1,
                                                    1 << 20, 100, 100)
    body += carr([u + carr([struct.pack(">i", partition) + ab + b"\x00"]) + b"\x00"])
    body += uvarint(1) + b"\x00"
    r = flexible_call(node, 78, 1, body)
    if r is None:
        return None
    rd = Reader(r)
    rd.take("i")
    top = rd.take("h")
    rd.string()
    rd.take("i")
    perr, acquired = 0, []
    for _ in range(rd.uvarint() - 1):
        rd.at += 16
        for _ in range(rd.uvarint() - 1):
            rd.take("i")
            perr = rd.take("h")
            rd.string()
            rd.take("h")
            rd.string()
            rd.take("i")
            rd.take("i")
            rd.tags()
            n = rd.uvarint() - 1
            rd.at += max(n, 0)
            for _ in range(rd.uvarint() - 1):
                acquired.append((rd.take("q"), rd.take("q"), rd.take("h")))
                rd.tags()
            rd.tags()
        rd.tags()
    return top, perr, acquired


def set_earliest(node):
    body = carr([struct.pack(">b", 32) + cstr(GROUP) +
                 carr([cstr("share.auto.offset.reset") + b"\x00" + cstr("earliest") +
                       b"\x00"]) + b"\x00"]) + b"\x00" + b"\x00"
    r = flexible_call(node, 44, 1, body)
    if r is None:
        return None
    rd = Reader(r)
    rd.take("i")
    rd.uvarint()
    return rd.take("h")


base = tempfile.mkdtemp(prefix="share-cluster-",
                        dir=os.environ.get("SLUICE_TEST_TMPDIR", "/var/tmp"))
nodes = []
ok_end = False
try:
    nodes = start_cluster(base, 3)
    until("CreateTopics %s" % TOPIC, lambda: create(nodes[0], TOPIC, 2, 3) in (0, 36), 40)
    md = until("%s's leaders" % TOPIC,
               lambda: (lambda m: m if m and all(p.leader > 0 for p in m[1].values())
                        else None)(topic_metadata(nodes, TOPIC)), 30)
    leader = [nd for nd in nodes if nd.n == md[1][0].leader][0]
    other = [nd for nd in nodes if nd is not leader][0]
    acked = produce_acked(nodes, TOPIC, 20, partitions=(0,))
    print("ok: %d messages acknowledged to %s-0, led by broker %d"
          % (len(acked), TOPIC, leader.n), flush=True)

    u = until("the topic's id from a heartbeat", lambda: topic_id(other, "m-other"), 20)

    def not_leader():
        r = share_fetch(other, "m-other", 0, u, 0)
        return r is not None and r[1] == 6 and not r[2]
    until("NOT_LEADER_OR_FOLLOWER from broker %d for %s-0" % (other.n, TOPIC),
          not_leader, 20)
    print("ok: broker %d, not the leader, answers NOT_LEADER_OR_FOLLOWER "
          "for the partition" % other.n, flush=True)

    if set_earliest(leader) != 0:
        fail("share.auto.offset.reset=earliest through broker %d" % leader.n)
    until("a heartbeat through the leader", lambda: topic_id(leader, "m-lead"), 20)
    got = []
    epoch = 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and sum(l - f + 1 for f, l, _ in got) < 20:
        r = share_fetch(leader, "m-lead", epoch, u, 0)
        epoch += 1
        if r is None or r[0] or r[1]:
            fail("ShareFetch through the leader: %r" % (r,))
        got += r[2]
    offs = sorted(o for f, l, _ in got for o in range(f, l + 1))
    if offs != list(range(20)) or any(c != 1 for _, _, c in got):
        fail("through the leader: offsets %r counts %r, want 0..19 once, count 1"
             % (offs, [c for _, _, c in got]))
    r = share_fetch(leader, "m-lead", epoch, u, 0, acks=[(0, 19)], wait_ms=300)
    if r is None or r[0] or r[2]:
        fail("accepting 0..19: %r" % (r,))
    print("ok: through the leader the 20 messages came once each and were "
          "accepted; nothing left", flush=True)
    stop_all(nodes)
    ok_end = True
finally:
    clean_up(nodes, base, ok_end, 40)
