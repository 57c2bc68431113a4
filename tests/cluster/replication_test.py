"""Replicated partitions on a three-broker cluster, with real processes and
real Kafka clients (confluent-kafka-python, librdkafka).

Run by meson with SLUICED, SLUICE_CONTROL and SLUICE_TEST_TMPDIR set.

1. Three brokers start; a topic of 3 partitions and replication factor 3
   is created (min.insync.replicas 2, the default for it).  Metadata from
   any broker names all three brokers and, for each partition, a leader,
   its epoch, three replicas and three in-sync replicas.
2. An idempotent producer with acks=all writes 3000 records; every one is
   acknowledged.
3. The broker leading partition 0 is killed (SIGKILL, both processes).
   Another broker leads partition 0 within the session timeout and the
   producer writes 2000 more records through the survivors; every one is
   acknowledged.  The time from the kill to the new leader in Metadata is
   printed.
4. A consumer reads every partition from the start: every acknowledged
   record is there, at the offset it was acknowledged with, once.
5. The killed broker restarts, catches up from the leaders and is back in
   every partition's in-sync set.  Then another broker is killed: the
   records are read again, all of them, from whichever brokers lead now
   (the restarted one among them).
6. A leader paused (SIGSTOP of both its processes) past the session
   timeout is fenced and its partitions move; resumed, it stops acting as
   their leader at once (it hears it is fenced), so an idempotent
   producer that still knows it as leader moves on without a fatal error,
   and every record is acknowledged and read back.
7. With one broker left in sync of three and min.insync.replicas 2, an
   acks=all write is refused (NOT_ENOUGH_REPLICAS), not acknowledged.
Every wait is bounded; every process is stopped by pid at the end.
"""
import faulthandler
import os
import signal
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_lib import (call, clean_up, create, fail, kstr,  # noqa: E402
                         live_group, produce_all, start_cluster, stop_all,
                         topic_metadata, until)
from confluent_kafka import (Consumer, KafkaError, Producer,  # noqa: E402
                             TopicPartition)

N = 3
TOPIC = "rep"
PARTS = 3


def bootstrap(nodes):
    return ",".join(nd.bootstrap() for nd in nodes)


def topic_meta(nodes):
    """(brokers, {partition: (leader, replicas, isrs)}) from one live
    broker's Metadata, or None."""
    m = topic_metadata(nodes, TOPIC)
    if m is None:
        return None
    return m[0], {i: (p.leader, sorted(p.replicas), sorted(p.isrs))
                  for i, p in m[1].items()}


def high_watermark(nodes, p):
    """Partition p's high watermark, asked of its leader (ListOffsets v1,
    latest), or None while there is no answer: librdkafka's
    get_watermark_offsets can wait past its timeout for a broker that died
    while its metadata still names it, so the question goes to the leader
    the live brokers name, over a socket with a timeout."""
    m = topic_metadata(nodes, TOPIC)
    if m is None or p not in m[1]:
        return None
    leader = [nd for nd in nodes if nd.n == m[1][p].leader]
    if not leader:
        return None
    body = struct.pack(">i", -1) + struct.pack(">i", 1) + kstr(TOPIC) + \
        struct.pack(">iiq", 1, p, -1)
    r = call(leader[0], 2, 1, body)
    if r is None:
        return None
    at = 4  # the topic count (1)
    at += 2 + struct.unpack(">h", r[at:at + 2])[0]  # its name
    at += 4  # the partition count (1)
    part, err, _, offset = struct.unpack(">ihqq", r[at:at + 22])
    return offset if part == p and err == 0 and offset >= 0 else None


def read_all(nodes):
    """Every record of every partition from offset 0 to the high
    watermark: {(partition, offset): value}."""
    c = Consumer({"bootstrap.servers": bootstrap(nodes),
                  "group.id": live_group(nodes, "reader-%d" % time.time_ns()),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        ends = {}
        for p in range(PARTS):
            ends[p] = until("partition %d's high watermark from its leader" % p,
                            lambda: high_watermark(nodes, p), 60)
        c.assign([TopicPartition(TOPIC, p, 0) for p in range(PARTS)])
        got = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(sum(1 for (q, _) in got if q == p) >= ends[p] for p in range(PARTS)):
                break
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    print("consumer: %s" % m.error(), flush=True)
                continue
            key = (m.partition(), m.offset())
            if key in got:
                fail("offset %s read twice" % (key,))
            got[key] = m.value().decode()
        return got, ends
    finally:
        c.close()


def check_all_there(acked, got, what):
    missing = [k for k in acked if got.get(k) != acked[k]]
    if missing:
        k = sorted(missing)[0]
        fail("%s: %d acknowledged record(s) missing or changed, e.g. partition %d offset %d: "
             "acknowledged %r, read %r" % (what, len(missing), k[0], k[1], acked[k], got.get(k)))


# a call that never returns shows where it waits (meson's timeout would
# only say that the test took too long); every 200 s, while running
faulthandler.dump_traceback_later(200, repeat=True)
base = tempfile.mkdtemp(prefix="repl-", dir=os.environ.get("SLUICE_TEST_TMPDIR", "/var/tmp"))
nodes = []
ok_end = False
try:
    nodes = start_cluster(base, N)

    # 1. the topic and its metadata
    until("CreateTopics rep rf=3", lambda: create(nodes[0], TOPIC, PARTS, 3) == 0, 40)
    meta = until("metadata with every leader", lambda: (lambda m: m if m and len(m[1]) == PARTS and all(
        v[0] >= 1 for v in m[1].values()) else None)(topic_meta(nodes)), 20)
    brokers, parts = meta
    if brokers != [1, 2, 3]:
        fail("Metadata names brokers %s, expected [1, 2, 3]" % brokers)
    for p, (leader, replicas, isrs) in parts.items():
        if replicas != [1, 2, 3] or isrs != [1, 2, 3]:
            fail("partition %d: replicas %s, in sync %s; expected all three" % (p, replicas, isrs))
    print("ok: Metadata: brokers %s, leaders %s, three replicas in sync each"
          % (brokers, [parts[p][0] for p in range(PARTS)]), flush=True)

    # 2. acks=all while everything is up
    acked, errors = produce_all(nodes, TOPIC, 3000, 0, range(PARTS),
                                 conf={"retry.backoff.ms": 200})
    if errors or len(acked) != 3000:
        fail("%d of 3000 acknowledged, errors %s" % (len(acked), errors[:3]))
    print("ok: 3000 records acknowledged with acks=all (min.insync.replicas 2)", flush=True)

    # 3. the leader of partition 0 dies
    victim = nodes[parts[0][0] - 1]
    others = [nd for nd in nodes if nd is not victim]
    t0 = time.monotonic()
    victim.kill("sluiced")
    victim.kill("control")

    def new_leader():
        m = topic_meta(others)
        if not m:
            return None
        leader = m[1][0][0]
        return leader if leader >= 1 and leader != victim.n else None

    leader0 = until("a new leader for partition 0", new_leader, 30)
    took = time.monotonic() - t0
    print("ok: broker %d (leader of partition 0) killed; broker %d leads it %.1f s later "
          "(session timeout 6 s)" % (victim.n, leader0, took), flush=True)
    more, errors = produce_all(others, TOPIC, 2000, 3000, range(PARTS),
                                 conf={"retry.backoff.ms": 200})
    if len(more) != 2000:
        fail("after the failover %d of 2000 acknowledged, errors %s" % (len(more), errors[:3]))
    acked.update(more)
    print("ok: 2000 more acknowledged through the two survivors", flush=True)

    # 4. nothing acknowledged is lost
    got, ends = read_all(others)
    check_all_there(acked, got, "after the failover")
    print("ok: all %d acknowledged records read back at their offsets (ends %s)"
          % (len(acked), [ends[p] for p in range(PARTS)]), flush=True)

    # 5. the dead broker comes back, catches up, and then serves
    victim.start()

    def all_in_sync():
        m = topic_meta(nodes)
        return m and all(v[2] == [1, 2, 3] for v in m[1].values())

    until("broker %d back in every in-sync set" % victim.n, all_in_sync, 60)
    print("ok: broker %d restarted and is in sync again on every partition" % victim.n, flush=True)
    second = others[0]
    second.kill("sluiced")
    second.kill("control")
    rest = [nd for nd in nodes if nd is not second]
    alive = {nd.n for nd in rest}
    until("leaders among brokers %s" % sorted(alive),
          lambda: (lambda m: m and all(v[0] in alive for v in m[1].values()))(
              topic_meta(rest)), 30)
    got, ends = read_all(rest)
    check_all_there(acked, got, "after broker %d restarted and broker %d died" % (victim.n, second.n))
    print("ok: broker %d killed too: all %d records read again from brokers %s"
          % (second.n, len(acked), [nd.n for nd in rest]), flush=True)

    # 6. a leader paused past its session, then resumed
    second.start()
    until("broker %d back in every in-sync set" % second.n, all_in_sync, 60)
    m = topic_meta(nodes)
    paused = nodes[m[1][1][0] - 1]
    others = [nd for nd in nodes if nd is not paused]
    prod_conf = {"bootstrap.servers": bootstrap(nodes), "acks": "all",
                 "enable.idempotence": True, "linger.ms": 5,
                 "message.timeout.ms": 60000, "retry.backoff.ms": 200}
    fatal, acked6 = [], {}

    def done6(err, msg):
        if err is None:
            acked6[(msg.partition(), msg.offset())] = msg.value().decode()
        elif err.fatal():
            fatal.append(err)

    p6 = Producer(dict(prod_conf, error_cb=lambda e: fatal.append(e) if e.fatal() else None))
    for i in range(5000, 5300):
        p6.produce(TOPIC, value=b"v%d" % i, partition=i % PARTS, on_delivery=done6)
    p6.flush(30)
    for pr in paused.procs.values():
        pr.send_signal(signal.SIGSTOP)
    t2 = time.monotonic()
    until("partition 1 led by another broker while %d is paused" % paused.n,
          lambda: (lambda mm: mm and mm[1][1][0] not in (-1, paused.n))(topic_meta(others)), 30)
    time.sleep(1)
    for pr in paused.procs.values():
        pr.send_signal(signal.SIGCONT)
    t3 = time.monotonic()
    print("ok: broker %d (leader of partition 1) paused; partition 1 moved in %.1f s; resumed"
          % (paused.n, t3 - t2), flush=True)
    # it stops leading as soon as it hears it is fenced, before its
    # metadata log has caught up with the new leader
    until("broker %d's sluiced told it is fenced" % paused.n,
          lambda: "this broker is fenced" in paused.log("sluiced"), 5)
    print("ok: broker %d stopped leading %.1f s after it resumed" % (paused.n, time.monotonic() - t3),
          flush=True)
    for i in range(5300, 6300):
        p6.produce(TOPIC, value=b"v%d" % i, partition=i % PARTS, on_delivery=done6)
        p6.poll(0)
        if i % 100 == 0:
            time.sleep(0.05)
    left = p6.flush(90)
    if fatal:
        fail("the producer hit a fatal error after broker %d resumed: %s" % (paused.n, fatal[0]))
    if left or len(acked6) != 1300:
        fail("%d of 1300 acknowledged around the pause (%d left)" % (len(acked6), left))
    acked.update(acked6)
    got, ends = read_all(nodes)
    check_all_there(acked, got, "after broker %d was paused and resumed" % paused.n)
    print("ok: 1300 more acknowledged around the pause, no fatal error; all %d read back"
          % len(acked), flush=True)

    # 7. min.insync.replicas: one in sync of three is not enough
    for nd in nodes:
        if nd is not victim and nd is not paused:
            third = nd
    for nd in nodes:
        if nd is not victim and nd is not third:
            nd.kill("sluiced")
            nd.kill("control")
    until("broker %d leads every partition" % victim.n,
          lambda: (lambda mm: mm and all(v[0] in (victim.n, third.n) for v in mm[1].values()))(
              topic_meta([victim, third])), 30)
    third.kill("sluiced")
    t1 = time.monotonic()
    acked1, errors = produce_all([victim], TOPIC, 20, 5000, range(PARTS),
                                 conf={"retry.backoff.ms": 200,
                                       "message.timeout.ms": 15000,
                                       "enable.idempotence": False,
                                       "retries": 1000})
    # the broker fenced, the in-sync set shrinks to one: refused
    if acked1:
        fail("%d records acknowledged with one in-sync replica (min.insync.replicas 2)" % len(acked1))
    if not errors:
        fail("no error for records written with one in-sync replica")
    print("ok: with one replica in sync, acks=all is refused (%s) after %.1f s"
          % (errors[0].name(), time.monotonic() - t1), flush=True)

    stop_all(nodes)
    ok_end = True
finally:
    clean_up(nodes, base, ok_end, 40)
