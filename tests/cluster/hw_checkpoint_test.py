"""A restarted leader serves what was committed before it stopped at once,
from its high watermark checkpoint, even with no follower there to move
the high watermark.  Three brokers, real processes, librdkafka clients.

Run by meson with SLUICED, SLUICE_CONTROL and SLUICE_TEST_TMPDIR set.

1. Three brokers; a topic of one partition, replication factor 3; 300
   records acknowledged (acks=all).
2. The leader's partition directory holds its checkpoint,
   "sluice-hw 1\\n300\\n", within a few seconds.
3. Both followers are killed (SIGKILL, both processes: no metadata quorum
   is left, so nothing moves the partition or its in-sync set), then the
   leader's sluiced is killed and started again.  Without a checkpoint
   its high watermark would be 0 until followers fetch, which they never
   do here; with it a consumer reads the 300 records from the restarted
   leader, and ListOffsets (latest) answers 300.
Every wait is bounded; every process is stopped by pid at the end.
"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_lib import (clean_up, create, fail, start_cluster,  # noqa: E402
                         topic_metadata, until)
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

TOPIC, N = "hwck", 300


def main():
    base = tempfile.mkdtemp(prefix="hw-checkpoint-",
                            dir=os.environ.get("SLUICE_TEST_TMPDIR"))
    nodes = start_cluster(base, 3)
    passed = False
    try:
        run(nodes)
        passed = True
    finally:
        clean_up(nodes, base, passed)
    print("PASS")


def run(nodes):
    until("the cluster creating %s" % TOPIC,
          lambda: create(nodes[0], TOPIC, 1, 3) in (0, 36), 60)

    def placed():
        m = topic_metadata(nodes, TOPIC)
        if not m or 0 not in m[1] or sorted(m[1][0].isrs) != [1, 2, 3]:
            return None
        return m[1][0].leader if m[1][0].leader > 0 else None

    leader = until("%s-0 led, every replica in sync" % TOPIC, placed, 60)
    boot = ",".join(nd.bootstrap() for nd in nodes)
    p = Producer({"bootstrap.servers": boot, "acks": "all", "linger.ms": 5})
    errs = []
    for i in range(N):
        p.produce(TOPIC, value=b"r-%04d" % i, partition=0,
                  on_delivery=lambda e, m: errs.append(e))
    if p.flush(30) or len(errs) != N or any(errs):
        fail("%d of %d acknowledged: %r" % (sum(1 for e in errs if e is None), N,
                                           [e for e in errs if e][:3]))
    print("ok: %d records acknowledged by leader %d" % (N, leader), flush=True)

    lnode = nodes[leader - 1]
    ck = os.path.join(lnode.dir, "%s-0" % TOPIC, "high_watermark")

    def saved():
        try:
            with open(ck) as f:
                return f.read() == "sluice-hw 1\n%d\n" % N
        except OSError:
            return False

    until("the leader's checkpoint saying %d" % N, saved, 15)
    print("ok: %s holds the high watermark %d" % (ck, N), flush=True)

    for nd in nodes:
        if nd is not lnode:
            nd.kill("sluiced")
            nd.kill("control")
    lnode.kill("sluiced")
    lnode.start(("sluiced",))
    t0 = time.monotonic()

    c = Consumer({"bootstrap.servers": lnode.bootstrap(), "group.id": "hwck",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    got, high = [], None
    try:
        c.assign([TopicPartition(TOPIC, 0, 0)])
        deadline = time.monotonic() + 20
        while len(got) < N and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got.append(m.value())
        low, high = c.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=10)
    finally:
        c.close()
    want = [b"r-%04d" % i for i in range(N)]
    if got != want:
        fail("from the restarted leader alone: %d records read (want %d), high "
             "watermark %r" % (len(got), N, high))
    if high != N:
        fail("ListOffsets latest from the restarted leader: %d, want %d" % (high, N))
    print("ok: the leader restarted with no follower left read back all %d records "
          "in %.1f s; high watermark %d" % (N, time.monotonic() - t0, high), flush=True)


if __name__ == "__main__":
    main()
