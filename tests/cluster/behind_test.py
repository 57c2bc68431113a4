"""A follower left behind the leader's log start catches up, and the
leader's log start reaches every replica.  Three brokers, real processes,
librdkafka producers and consumers, a raw DeleteRecords (the Python client
of Debian 12 has none).

Run by meson with SLUICED, SLUICE_CONTROL, SLUICE and SLUICE_TEST_TMPDIR
set.

1. Three brokers; a topic of one partition, replication factor 3.
2. 100 records acknowledged (acks=all); a follower is killed; 200 more
   acknowledged by the two left.
3. DeleteRecords at 250 on the leader: the low watermark is 250; the
   other follower, in sync, follows the start (its telemetry says
   start=250).
4. The killed follower restarts.  It would fetch from 100, which the
   leader no longer has (OFFSET_OUT_OF_RANGE): it starts over at the
   leader's log start, catches up and is back in the in-sync set; its
   telemetry says start=250 end=300, and its log says it started over.
5. The leader is killed: the records from 250 on are read back from the
   new leader, every one as acknowledged.
Every wait is bounded; every process is stopped by pid at the end.
"""
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_lib import (clean_up, create, fail, kstr,  # noqa: E402
                         live_group, recv_exact, start_cluster, stop_all,
                         topic_metadata, until)
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

TOPIC = "behind"
SLUICE = os.environ["SLUICE"]


def delete_records(node, offset):
    """DeleteRecords v1 of partition 0 up to offset: (error, low
    watermark)."""
    body = (struct.pack(">i", 1) + kstr(TOPIC) + struct.pack(">iiq", 1, 0, offset) +
            struct.pack(">i", 10000))
    frame = struct.pack(">hhi", 21, 1, 5) + kstr("behind-test") + body
    with socket.create_connection(("127.0.0.1", node.kafka), timeout=15) as s:
        s.sendall(struct.pack(">i", len(frame)) + frame)
        r = recv_exact(s, struct.unpack(">i", recv_exact(s, 4))[0])
    at = 4 + 4 + 4  # correlation id, throttle, topics
    at += 2 + struct.unpack(">h", r[at:at + 2])[0] + 4  # name, partitions
    _, low, err = struct.unpack(">iqh", r[at:at + 14])
    return err, low


def meta(nodes):
    """(leader, isr) of partition 0 from one live broker, or None."""
    m = topic_metadata(nodes, TOPIC)
    if m is None or 0 not in m[1]:
        return None
    return m[1][0].leader, sorted(m[1][0].isrs)


def part_state(node):
    """start, end of partition 0 from node's telemetry, or None."""
    r = subprocess.run([SLUICE, "status", "--telemetry", os.path.join(node.dir, "tel.sock"),
                        "--json"], capture_output=True, text=True, timeout=20)
    for line in r.stdout.splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue
        v = d.get("/sluice/partitions", {}).get(TOPIC + "_0")
        if v:
            kv = dict(x.split("=", 1) for x in v.split())
            return int(kv["start"]), int(kv["end"])
    return None


def produce(nodes, first, count):
    acked = {}

    def done(err, msg):
        if err is None:
            acked[msg.offset()] = msg.value().decode()

    p = Producer({"bootstrap.servers": ",".join(nd.bootstrap() for nd in nodes),
                  "acks": "all", "enable.idempotence": True, "linger.ms": 5,
                  "message.timeout.ms": 60000})
    for i in range(first, first + count):
        p.produce(TOPIC, value=b"v%d" % i, partition=0, on_delivery=done)
        p.poll(0)
    if p.flush(90):
        fail("records not delivered within 90 s")
    if len(acked) != count:
        fail("%d of %d records acknowledged" % (len(acked), count))
    return acked


base = tempfile.mkdtemp(prefix="behind-", dir=os.environ.get("SLUICE_TEST_TMPDIR", "/var/tmp"))
nodes = []
ok_end = False
try:
    nodes = start_cluster(base, 3)
    until("CreateTopics behind rf=3", lambda: create(nodes[0], TOPIC, 1, 3) == 0, 40)
    until("three replicas in sync", lambda: (meta(nodes) or (0, []))[1] == [1, 2, 3], 30)

    # 2. a follower misses 200 records
    acked = produce(nodes, 0, 100)
    leader = meta(nodes)[0]
    lead = nodes[leader - 1]
    victim, other = [nd for nd in nodes if nd is not lead]
    victim.kill("sluiced")
    victim.kill("control")
    acked.update(produce([lead, other], 100, 200))
    if sorted(acked) != list(range(300)):
        fail("acknowledged offsets are not 0..299")
    print("ok: 300 records acknowledged, broker %d down for the last 200" % victim.n, flush=True)

    # 3. the leader's log starts at 250, and so does the follower's
    err, low = delete_records(lead, 250)
    if err or low != 250:
        fail("DeleteRecords at 250: error %d, low watermark %d" % (err, low))
    until("broker %d's log starting at 250 too" % other.n,
          lambda: (part_state(other) or (0, 0))[0] == 250, 20)
    print("ok: DeleteRecords at 250 on leader %d; in-sync follower %d follows: %s"
          % (lead.n, other.n, part_state(other)), flush=True)

    # 4. the follower comes back behind the leader's start
    victim.start()
    until("broker %d back in sync" % victim.n,
          lambda: (meta(nodes) or (0, []))[1] == [1, 2, 3], 60)
    st = until("broker %d's log at 250..300" % victim.n,
               lambda: (lambda s: s if s == (250, 300) else None)(part_state(victim)), 20)
    if "starts over at the leader's log start 250" not in victim.log("sluiced"):
        fail("broker %d's log does not say it started over" % victim.n)
    print("ok: broker %d started over at 250, caught up (start, end %s) and is in sync"
          % (victim.n, st), flush=True)

    # 5. the records survive the leader
    lead.kill("sluiced")
    lead.kill("control")
    rest = [victim, other]
    until("a new leader", lambda: (meta(rest) or (leader,))[0] in (victim.n, other.n), 40)
    c = Consumer({"bootstrap.servers": ",".join(nd.bootstrap() for nd in rest),
                  "group.id": live_group(rest, "behind-reader"), "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(TOPIC, 0, 250)])
    got = {}
    deadline = time.monotonic() + 60
    while len(got) < 50 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        got[m.offset()] = m.value().decode()
    c.close()
    want = {o: v for o, v in acked.items() if o >= 250}
    if got != want:
        missing = sorted(set(want) - set(got))
        fail("read %d of 50 records from 250 on after the leader died (missing %s)"
             % (len(got), missing[:5]))
    print("ok: leader %d killed: the 50 records from 250 on read back from broker %d"
          % (lead.n, meta(rest)[0]), flush=True)

    stop_all(nodes)
    ok_end = True
finally:
    clean_up(nodes, base, ok_end, 40)
