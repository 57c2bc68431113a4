"""Consumer groups on a three-broker cluster: one coordinator per group,
whichever broker a client asks, and a coordinator failover that keeps the
committed offsets (they live in __consumer_offsets, replicated).  Real processes, real Kafka clients
(confluent-kafka-python, librdkafka), and raw FindCoordinator and
Heartbeat requests where no Python client sends them on their own.

Run by meson with SLUICED, SLUICE_CONTROL and SLUICE_TEST_TMPDIR set.

1. Three brokers start; a topic of 6 partitions, replication factor 3.
2. FindCoordinator (v1, and v4 with several keys) for 24 group ids asked
   of every broker: the three answers name the same broker for each id
   (the leader of the id's __consumer_offsets partition), and the ids
   spread over more than one broker.  A client's Produce to
   __consumer_offsets is refused INVALID_TOPIC_EXCEPTION, as Kafka does.
3. A Heartbeat for a group sent to each broker: the two that do not
   coordinate it answer NOT_COORDINATOR, the one that does looks the
   member up (UNKNOWN_MEMBER_ID).
4. Two consumers of one group, each bootstrapped from a different broker,
   form one group: their assignments are disjoint and cover the 6
   partitions; 600 records produced then are each consumed once, by one
   of them; their commits are read back by a third consumer bootstrapped
   from the third broker.
5. The coordinator's broker is killed (SIGKILL): another broker takes the
   lead of the group's partition, loads it and coordinates the group; the
   committed offsets are all there; a commit through the new coordinator
   is read back; the killed broker restarts and the offsets still read
   back whoever coordinates.
6. The sluiced of the two brokers that follow the group's partition are
   paused (SIGSTOP): an OffsetCommit to the coordinator is not answered
   NONE (its append cannot be durable on min.insync.replicas); resumed,
   commits are acknowledged and read back.
Every wait is bounded; every process is stopped by pid at the end.
"""
import os
import signal
import socket
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_lib import (call, clean_up, compact_str, create, fail,  # noqa: E402
                         find_coordinator, kstr, offsets_partition, recv_exact,
                         start_cluster, stop_all, topic_metadata, until, uvarint)
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402

TOPIC = "grp"
PARTS = 6
NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, UNKNOWN_MEMBER_ID = 16, 15, 25
COORDINATOR_LOAD_IN_PROGRESS = 14


def find_coordinators_v4(node, groups):
    """FindCoordinator v4 (flexible, a batch of keys): {key: (error, node id,
    port)}, or None."""
    body = b"\x00" + uvarint(len(groups) + 1)
    for g in groups:
        body += compact_str(g)
    body += b"\x00"  # tagged fields
    frame = struct.pack(">hhi", 10, 4, 9) + kstr("groups-test") + b"\x00" + body
    try:
        with socket.create_connection(("127.0.0.1", node.kafka), timeout=5) as s:
            s.sendall(struct.pack(">i", len(frame)) + frame)
            size = struct.unpack(">i", recv_exact(s, 4))[0]
            r = recv_exact(s, size)
    except OSError:
        return None

    def varint_at(at):
        v, shift = 0, 0
        while True:
            c = r[at]
            at += 1
            v |= (c & 0x7f) << shift
            if c < 0x80:
                return v, at
            shift += 7

    at = 4 + 1 + 4  # correlation id, header tags, throttle
    n, at = varint_at(at)
    out = {}
    for _ in range(n - 1):
        kl, at = varint_at(at)
        key = r[at:at + kl - 1].decode()
        at += kl - 1
        nid = struct.unpack(">i", r[at:at + 4])[0]
        at += 4
        hl, at = varint_at(at)
        at += hl - 1
        port = struct.unpack(">i", r[at:at + 4])[0]
        err = struct.unpack(">h", r[at + 4:at + 6])[0]
        at += 6
        ml, at = varint_at(at)
        at += max(ml - 1, 0)
        tags, at = varint_at(at)
        out[key] = (err, nid, port)
    return out


def heartbeat(node, group):
    """Heartbeat v0 for an unknown member: the error code, or None."""
    r = call(node, 12, 0, kstr(group) + struct.pack(">i", 1) + kstr("nobody"))
    return None if r is None else struct.unpack(">h", r[:2])[0]


def consumer(node, group, assigned):
    def on_assign(c, parts):
        assigned[:] = sorted(p.partition for p in parts)

    def on_revoke(c, parts):
        assigned[:] = []

    c = Consumer({"bootstrap.servers": node.bootstrap(), "group.id": group,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "session.timeout.ms": 10000, "heartbeat.interval.ms": 500})
    c.subscribe([TOPIC], on_assign=on_assign, on_revoke=on_revoke)
    return c


base = tempfile.mkdtemp(prefix="groups-", dir=os.environ.get("SLUICE_TEST_TMPDIR", "/var/tmp"))
nodes = []
ok_end = False
try:
    nodes = start_cluster(base, 3, ["-o", "offsets_topic_partitions=50"])  # the default
    until("CreateTopics grp rf=3", lambda: create(nodes[0], TOPIC, PARTS, 3) == 0, 40)

    # 2. every broker names the same coordinator for a group
    groups = ["group-%d" % i for i in range(24)]

    def agreed():
        seen = {}
        for g in groups:
            answers = [find_coordinator(nd, g) for nd in nodes]
            if any(a is None or a[0] != 0 for a in answers):
                return None
            if len(set(answers)) != 1:
                fail("FindCoordinator for %s: brokers answer %s" % (g, answers))
            seen[g] = answers[0][1]
        return seen

    coords = until("FindCoordinator answered by every broker", agreed, 30)
    ports = {nd.n: nd.kafka for nd in nodes}
    for g in groups:
        if find_coordinator(nodes[0], g)[2] != ports[coords[g]]:
            fail("FindCoordinator for %s names broker %d with another port" % (g, coords[g]))
    if len(set(coords.values())) < 2:
        fail("all 24 groups on broker %s: the coordinators do not spread" % set(coords.values()))
    for nd in nodes:
        v4 = find_coordinators_v4(nd, groups)
        if v4 is None or any(v4[g] != (0, coords[g], ports[coords[g]]) for g in groups):
            fail("FindCoordinator v4 from broker %d disagrees with v1: %s" % (nd.n, v4))
    # Kafka's placement: the leader of partition hash(id) mod partitions
    md = until("__consumer_offsets in the metadata",
               lambda: topic_metadata(nodes, "__consumer_offsets"), 30)
    nparts = len(md[1])
    for g in groups:
        p = offsets_partition(g, nparts)
        if md[1][p].leader != coords[g]:
            fail("FindCoordinator for %s names broker %d, the leader of __consumer_offsets-%d "
                 "is %d" % (g, coords[g], p, md[1][p].leader))
    # Kafka's rule: a client's Produce to an internal topic is refused
    errors = []
    p = Producer({"bootstrap.servers": nodes[0].bootstrap(), "message.timeout.ms": 10000})
    p.produce("__consumer_offsets", key=b"\x00\x02\x00\x01g", value=b"forged",
              partition=0, on_delivery=lambda e, m: errors.append(e))
    p.flush(15)
    if len(errors) != 1 or errors[0] is None or errors[0].code() != KafkaError.TOPIC_EXCEPTION:
        fail("Produce to __consumer_offsets by a client: %s (expected INVALID_TOPIC_EXCEPTION)"
             % errors)
    print("ok: a client's Produce to __consumer_offsets is INVALID_TOPIC_EXCEPTION", flush=True)
    spread = {n: sum(1 for g in groups if coords[g] == n) for n in ports}
    print("ok: FindCoordinator v1 and v4 from each broker agree on 24 groups (per broker %s)"
          % spread, flush=True)

    # 3. the others say NOT_COORDINATOR
    group = "split-check"
    owner = find_coordinator(nodes[0], group)[1]
    until("the coordinator of %s loaded" % group,
          lambda: heartbeat(nodes[owner - 1], group) != COORDINATOR_LOAD_IN_PROGRESS, 30)
    for nd in nodes:
        err = heartbeat(nd, group)
        want = UNKNOWN_MEMBER_ID if nd.n == owner else NOT_COORDINATOR
        if err != want:
            fail("Heartbeat for %s at broker %d (coordinator %d): error %s, expected %d"
                 % (group, nd.n, owner, err, want))
    print("ok: a group's requests at the other brokers are answered NOT_COORDINATOR", flush=True)

    # 4. two consumers bootstrapped from different brokers: one group
    a_parts, b_parts = [], []
    ca = consumer(nodes[0], group, a_parts)
    cb = consumer(nodes[1], group, b_parts)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for c in (ca, cb):
            m = c.poll(0.2)
            if m is not None and not m.error():
                fail("a record before any was produced")
        if a_parts and b_parts and sorted(a_parts + b_parts) == list(range(PARTS)):
            break
    else:
        fail("assignments %s and %s: not one group over %d partitions" % (a_parts, b_parts, PARTS))
    print("ok: consumers bootstrapped from brokers 1 and 2 share the group: %s and %s"
          % (a_parts, b_parts), flush=True)

    p = Producer({"bootstrap.servers": ",".join(nd.bootstrap() for nd in nodes),
                  "acks": "all", "enable.idempotence": True})
    for i in range(600):
        p.produce(TOPIC, value=b"r%d" % i, partition=i % PARTS)
    if p.flush(60):
        fail("records not delivered in 60 s")
    got = {}
    deadline = time.monotonic() + 60
    while len(got) < 600 and time.monotonic() < deadline:
        for name, c in (("a", ca), ("b", cb)):
            m = c.poll(0.2)
            if m is None or m.error():
                continue
            k = m.value().decode()
            if k in got:
                fail("record %s consumed twice (by %s and %s): two groups" % (k, got[k], name))
            got[k] = name
    if len(got) != 600:
        fail("%d of 600 records consumed" % len(got))
    for c in (ca, cb):
        c.commit(asynchronous=False)
    ends = {}
    for c in (ca, cb):
        for tp in c.committed([TopicPartition(TOPIC, q) for q in range(PARTS)], timeout=10):
            ends[tp.partition] = tp.offset
        c.close()
    if sorted(ends.values()) != [100] * PARTS:
        fail("committed offsets %s, expected 100 on each partition" % ends)
    print("ok: 600 records consumed once each (%d by a, %d by b), offsets committed"
          % (sum(1 for v in got.values() if v == "a"), sum(1 for v in got.values() if v == "b")),
          flush=True)

    def committed_via(node):
        c = Consumer({"bootstrap.servers": node.bootstrap(), "group.id": group,
                      "enable.auto.commit": False})
        try:
            return {tp.partition: tp.offset for tp in c.committed(
                [TopicPartition(TOPIC, q) for q in range(PARTS)], timeout=15)}
        finally:
            c.close()

    if committed_via(nodes[2]) != ends:
        fail("the committed offsets read through broker 3 differ")
    print("ok: the commits read back through broker 3", flush=True)

    # 5. the coordinator dies: another broker takes its partition over
    victim = nodes[owner - 1]
    others = [nd for nd in nodes if nd is not victim]
    victim.kill("sluiced")
    victim.kill("control")
    killed_at = time.monotonic()

    def moved():
        answers = [find_coordinator(nd, group) for nd in others]
        if any(a is None or a[0] != 0 for a in answers) or len(set(answers)) != 1:
            return None
        return answers[0][1] if answers[0][1] != owner else None

    new_owner = until("another coordinator for %s once broker %d is down" % (group, owner),
                      moved, 40)

    def committed_now(node):
        try:
            e = committed_via(node)
        except Exception as ex:  # the new coordinator still loading, say
            print("committed offsets: %s; asking again" % ex, flush=True)
            return None
        return e if e == ends else None

    until("the committed offsets through broker %d" % new_owner,
          lambda: committed_now(others[0]), 40)
    print("ok: broker %d killed, broker %d coordinates %s after %.1f s with every committed "
          "offset %s" % (owner, new_owner, group, time.monotonic() - killed_at, ends), flush=True)

    c = Consumer({"bootstrap.servers": others[1].bootstrap(), "group.id": group,
                  "enable.auto.commit": False})
    ends = {q: 100 + q for q in range(PARTS)}
    c.commit(offsets=[TopicPartition(TOPIC, q, ends[q]) for q in range(PARTS)],
             asynchronous=False)
    c.close()
    until("the new commit read back", lambda: committed_now(others[0]), 30)
    print("ok: a commit through the new coordinator reads back", flush=True)

    victim.start()
    until("broker %d back in every in-sync set" % owner,
          lambda: all(owner in pm.isrs for pm in (topic_metadata(nodes, TOPIC) or ([], {}))[1].values())
          and len((topic_metadata(nodes, TOPIC) or ([], {}))[1]) == PARTS, 60)
    until("the committed offsets through the restarted broker %d" % owner,
          lambda: committed_now(victim), 40)
    print("ok: broker %d restarted; the offsets read back through it" % owner, flush=True)

    # 6. a commit the partition cannot make durable is never acknowledged:
    # the followers' sluiced paused, the coordinator's append (acks=all)
    # cannot reach min.insync.replicas; the answer is withheld and the
    # connection closed (or an error answered), never NONE
    coord = until("the coordinator of %s" % group,
                  lambda: (lambda a: a[1] if a and a[0] == 0 else None)(
                      find_coordinator(nodes[0], group)), 30)
    held = [nd for nd in nodes if nd.n != coord]

    def commit_raw(offset, timeout):
        """OffsetCommit v2 of partition 0 at offset, generation -1: the
        partition's error, or None when no answer came."""
        body = (kstr(group) + struct.pack(">i", -1) + kstr("") + struct.pack(">q", -1)
                + struct.pack(">i", 1) + kstr(TOPIC) + struct.pack(">iiq", 1, 0, offset)
                + kstr(""))
        r = call(nodes[coord - 1], 8, 2, body, timeout=timeout)
        return None if r is None else struct.unpack(">h", r[-2:])[0]

    until("an OffsetCommit acknowledged by broker %d" % coord,
          lambda: commit_raw(777, 20) == 0, 40)
    for nd in held:
        nd.procs["sluiced"].send_signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        err = commit_raw(778, 40)
        took = time.monotonic() - t0
    finally:
        for nd in held:
            nd.procs["sluiced"].send_signal(signal.SIGCONT)
    if err == 0:
        fail("OffsetCommit acknowledged after %.1f s while the followers were paused" % took)
    print("ok: with the followers paused an OffsetCommit is not acknowledged (%s after %.1f s)"
          % ("no answer, connection closed" if err is None else "error %d" % err, took),
          flush=True)
    ends = {q: 200 + q for q in range(PARTS)}

    def commit_all():
        c = Consumer({"bootstrap.servers": nodes[0].bootstrap(), "group.id": group,
                      "enable.auto.commit": False})
        try:
            c.commit(offsets=[TopicPartition(TOPIC, q, ends[q]) for q in range(PARTS)],
                     asynchronous=False)
            return True
        except Exception as ex:
            print("commit: %s; again" % ex, flush=True)
            return False
        finally:
            c.close()

    until("a commit acknowledged once the followers run again", commit_all, 60)
    until("the commit read back", lambda: committed_now(nodes[0]), 30)
    print("ok: the followers resumed, commits are acknowledged and read back", flush=True)

    stop_all(nodes)
    ok_end = True
finally:
    clean_up(nodes, base, ok_end, 40)
