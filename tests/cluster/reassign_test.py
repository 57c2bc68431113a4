"""Partition reassignment (AlterPartitionReassignments and
ListPartitionReassignments, raw: no Python client of Debian 12 sends them)
on a three-broker cluster, with librdkafka producers and consumers.

Run by meson with SLUICED, SLUICE_CONTROL, SLUICE and SLUICE_TEST_TMPDIR
set.

1. Three brokers; topic "ra" of 3 partitions placed by hand, one replica
   each ([1], [2], [3]); 300 records acknowledged (acks=all).
2. AlterPartitionReassignments v0: partition 0 to [2, 3] (moved and
   grown), 1 to [3, 2, 1] (replication factor 3), 2 to [3] (where it is),
   a partition and a topic that do not exist; then the refusals: a cancel
   with none running, an unregistered broker, an empty list, a broker
   twice, a partition named twice, v1 not allowing a new factor.
3. The reassignments end by themselves (ListPartitionReassignments empty):
   Metadata shows the targets as replicas and in-sync sets; partition 0's
   old leader 1 is gone from it, and its copy from broker 1's disk. Broker 2 is killed: every record is read
   back from the others (partition 0's now only on broker 3).
4. With broker 2 dead, partition 2 ([3]) to [2, 3]: broker 2 cannot catch
   up, so the reassignment runs (List: replicas [2, 3], adding [2], for
   all topics and for named partitions; `sluice cluster status --json`
   and `sluice cluster reassignments` show it); records still go in; a cancel
   puts it back to [3].  Then to [2] alone: it runs until broker 2 is
   restarted, catches up and leads it; every record is read back.
5. Broker 1 runs with follower_replication_throttled_rate = 1 MiB/s:
   partition 2, grown to 4 MiB more, to [2, 1] (`sluice cluster reassign
   --wait`, which returns once the move ended) takes broker 1 at least as
   long as the rate allows (a lower bound: a slower machine only takes
   longer), and its /sluice/follower counters show the throttled bytes.
Every wait is bounded; every process is stopped by pid at the end.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_lib import (alter, clean_up, errors_of, fail, listing,  # noqa: E402
                         live_group, produce_acked, start_cluster, stop_all,
                         topic_metadata, until)
from confluent_kafka import Consumer, KafkaError, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TOPIC = "ra"
PARTS = 3
NONE, UNKNOWN, INVALID_RF, INVALID_ASSIGNMENT, INVALID_REQUEST = 0, 3, 38, 39, 42
NO_REASSIGNMENT = 85
RATE = 1 << 20  # broker 1's follower_replication_throttled_rate


def meta(nodes):
    """{partition: (leader, replicas in order, sorted isr)} or None."""
    m = topic_metadata(nodes, TOPIC)
    if m is None or len(m[1]) != PARTS:
        return None
    return {i: (p.leader, list(p.replicas), sorted(p.isrs)) for i, p in m[1].items()}


def bootstrap(nodes):
    return ",".join(nd.bootstrap() for nd in nodes)


def read_back(nodes, acked, what):
    """Every acknowledged record read from offset 0 of each partition."""
    want = {}
    for (p, _) in acked:
        want[p] = want.get(p, 0) + 1
    c = Consumer({"bootstrap.servers": bootstrap(nodes),
                  "group.id": live_group(nodes, "ra-reader-%d" % time.time_ns()),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "enable.partition.eof": False})
    got = {}
    try:
        c.assign([TopicPartition(TOPIC, p, 0) for p in want])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(k not in got for k in acked):
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    print("consumer: %s" % m.error(), flush=True)
                continue
            got[(m.partition(), m.offset())] = m.value().decode()
    finally:
        c.close()
    missing = [k for k in acked if got.get(k) != acked[k]]
    if missing:
        k = sorted(missing)[0]
        fail("%s: %d acknowledged record(s) missing, e.g. partition %d offset %d"
             % (what, len(missing), k[0], k[1]))
    print("ok: %s: all %d acknowledged records read back" % (what, len(acked)), flush=True)


def telemetry(node, cmd):
    """A telemetry command's answer from node's sluiced."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    try:
        s.connect(os.path.join(node.dir, "tel.sock"))
        s.recv(16384)
        s.send(cmd.encode())
        return json.loads(s.recv(1 << 20))[cmd]
    finally:
        s.close()


def follower_counters(node):
    return telemetry(node, "/sluice/follower")


def durable_end(node, partition):
    """partition's durable log end on node's disk (/sluice/partitions)."""
    v = telemetry(node, "/sluice/partitions")["%s_%d" % (TOPIC, partition)]
    return int(dict(f.split("=") for f in v.split())["durable"])


base = tempfile.mkdtemp(prefix="reassign-", dir=os.environ.get("SLUICE_TEST_TMPDIR", "/var/tmp"))
nodes = []
ok_end = False
try:
    # 1. one replica each, by hand
    nodes = start_cluster(base, 3, per_node={
        1: ["-o", "follower_replication_throttled_rate=%d" % RATE]})
    a = AdminClient({"bootstrap.servers": bootstrap(nodes)})

    def created():
        f = a.create_topics([NewTopic(TOPIC, PARTS, replica_assignment=[[1], [2], [3]])],
                            request_timeout=10)[TOPIC]
        try:
            f.result(timeout=20)
            return True
        except Exception as e:
            err = e.args[0] if e.args else None
            return isinstance(err, KafkaError) and err.code() == 36  # exists
    until("CreateTopics ra with a manual assignment", created, 40)
    until("ra placed as asked", lambda: (lambda m: m and all(
        m[p][1] == [p + 1] and m[p][0] == p + 1 for p in range(PARTS)))(meta(nodes)), 30)
    acked = produce_acked(nodes, TOPIC, 300, 0, [0, 1, 2])
    print("ok: ra placed [1] [2] [3]; 300 records acknowledged", flush=True)

    # 2. moves and refusals
    r = until("AlterPartitionReassignments v0 answered", lambda: alter(nodes[0], [
        (TOPIC, 0, [2, 3]), (TOPIC, 1, [3, 2, 1]), (TOPIC, 2, [3]), (TOPIC, 7, [1]),
        ("no-such-topic", 0, [1])]), 30)
    want = {(TOPIC, 0): NONE, (TOPIC, 1): NONE, (TOPIC, 2): NONE, (TOPIC, 7): UNKNOWN,
            ("no-such-topic", 0): UNKNOWN}
    if r[0] != 0 or errors_of(r[2]) != want or [x[:2] for x in r[2]] != list(want):
        fail("AlterPartitionReassignments: top %d, results %s, expected %s in that order"
             % (r[0], r[2], want))
    if any(m is not None for _, _, e, m in r[2] if e == NONE):
        fail("a success carries a message: %s" % r[2])
    r = alter(nodes[1], [(TOPIC, 2, None)])
    if errors_of(r[2]) != {(TOPIC, 2): NO_REASSIGNMENT}:
        fail("a cancel with none running: %s" % (r,))
    for reps, why in (([9], "broker 9 is not registered"), ([], "an empty list"),
                      ([3, 3], "broker 3 twice")):
        r = alter(nodes[1], [(TOPIC, 2, reps)])
        if errors_of(r[2]) != {(TOPIC, 2): INVALID_ASSIGNMENT} or not r[2][0][3]:
            fail("%s: %s, want INVALID_REPLICA_ASSIGNMENT with a message" % (why, r))
    r = alter(nodes[2], [(TOPIC, 2, [3]), (TOPIC, 2, [3])])
    if [e for _, _, e, _ in r[2]] != [NONE, INVALID_REQUEST]:
        fail("a partition named twice: %s" % (r,))
    r = alter(nodes[2], [(TOPIC, 2, [3, 1])], version=1, allow=False)
    if r[1] is not False or errors_of(r[2]) != {(TOPIC, 2): INVALID_RF}:
        fail("v1 without a new factor allowed: %s" % (r,))
    print("ok: AlterPartitionReassignments v0/v1 answers (moves NONE; unknown 3; no "
          "reassignment 85; bad lists 39; named twice 42; factor kept 38)", flush=True)

    # 3. they end by themselves
    until("the reassignments end (ListPartitionReassignments empty)",
          lambda: listing(nodes[0]) == {}, 30)
    m = until("Metadata shows the targets", lambda: (lambda m: m if m and
              m[0][1] == [2, 3] and m[0][2] == [2, 3] and m[0][0] in (2, 3) and
              m[1][1] == [3, 2, 1] and m[1][2] == [1, 2, 3] and m[2][1] == [3]
              else None)(meta(nodes)), 30)
    print("ok: partition 0 on [2, 3] led by %d, partition 1 on [3, 2, 1], "
          "partition 2 stays on [3]" % m[0][0], flush=True)
    # broker 1 no longer holds partition 0: its copy is removed
    until("broker 1's copy of partition 0 removed",
          lambda: durable_end(nodes[0], 0) == 0 and
          "ra-0: not a replica here any more" in open(
              os.path.join(nodes[0].dir, "sluiced.log")).read(), 20)
    print("ok: broker 1's copy of partition 0 (100 records) removed", flush=True)
    two = nodes[1]
    two.kill("sluiced")
    two.kill("control")
    others = [nodes[0], nodes[2]]
    until("partitions 0 and 1 led by brokers other than 2",
          lambda: (lambda m: m and m[0][0] == 3 and m[1][0] in (1, 3))(meta(others)), 30)
    read_back(others, acked, "broker 2 killed after the moves")

    # 4. a reassignment that runs, cancelled; one that ends when its
    # broker comes back
    # broker 2 may have been the active controller: until the next one is
    # elected a forwarded request's connection closes (None), and the
    # client asks again, as Kafka's clients do
    r = until("AlterPartitionReassignments answered with broker 2 dead",
              lambda: alter(nodes[0], [(TOPIC, 2, [2, 3])]), 30)
    if errors_of(r[2]) != {(TOPIC, 2): NONE}:
        fail("partition 2 to [2, 3] with broker 2 dead: %s" % (r,))
    running = {(TOPIC, 2): ([2, 3], [2], [])}
    if until("ListPartitionReassignments answered",
             lambda: listing(nodes[0]), 30) != running:
        fail("ListPartitionReassignments from the broker that took the change: %s, want %s"
             % (listing(nodes[0]), running))
    # another broker answers from its own metadata image, a moment behind
    until("ListPartitionReassignments of named partitions from broker 3",
          lambda: listing(nodes[2], {TOPIC: [0, 2, 9], "nope": [0]}) == running, 10)
    # sluice cluster status shows the move
    st = subprocess.run([os.environ["SLUICE"], "cluster", "status", "--bootstrap",
                         nodes[0].bootstrap(), "--json"], stdout=subprocess.PIPE,
                        text=True, timeout=30)
    ra2 = [p for p in json.loads(st.stdout)["every_partition"]
           if p["topic"] == TOPIC and p["partition"] == 2]
    if not ra2 or ra2[0].get("adding") != [2] or ra2[0].get("removing") != [] \
            or ra2[0]["replicas"] != [2, 3]:
        fail("sluice cluster status --json of ra-2 during its move: %s" % ra2)
    # and `sluice cluster reassignments`
    st = subprocess.run([os.environ["SLUICE"], "cluster", "reassignments", "--bootstrap",
                         nodes[0].bootstrap()], stdout=subprocess.PIPE, text=True,
                        timeout=30)
    if st.returncode != 0 or st.stdout.strip() != \
            "ra-2  replicas [2,3]  adding [2]  removing []":
        fail("sluice cluster reassignments: exit %d, %r" % (st.returncode, st.stdout))
    more = produce_acked(others, TOPIC, 60, 300, [2])
    time.sleep(1)
    if listing(nodes[2]) != running:
        fail("the reassignment ended without broker 2: %s" % listing(nodes[2]))
    r = alter(nodes[2], [(TOPIC, 2, None)])
    if errors_of(r[2]) != {(TOPIC, 2): NONE}:
        fail("cancel: %s" % (r,))
    until("the cancelled partition back on [3]", lambda: (lambda m: m and m[2][1] == [3]
          and listing(nodes[0]) == {})(meta(others)), 20)
    print("ok: partition 2 to [2, 3] ran while broker 2 was dead (listed, and shown by "
          "sluice cluster status), took 60 records, and was cancelled back to [3]",
          flush=True)
    r = alter(nodes[0], [(TOPIC, 2, [2])])
    if errors_of(r[2]) != {(TOPIC, 2): NONE} or listing(nodes[0]) != {(TOPIC, 2): ([2, 3], [2], [3])}:
        fail("partition 2 to [2]: %s, listed %s" % (r, listing(nodes[0])))
    two.start()
    m = until("partition 2 on broker 2 alone, led by it",
              lambda: (lambda m: m if m and m[2] == (2, [2], [2]) else None)(meta(nodes)), 60)
    until("no reassignment left", lambda: listing(nodes[1]) == {}, 20)
    print("ok: partition 2 moved to broker 2 once it was back", flush=True)
    acked.update(more)
    read_back(nodes, acked, "after the last move")

    # 5. a throttled catch-up
    before = follower_counters(nodes[0])
    big = produce_acked(nodes, TOPIC, 4096, 1000, [2], pad=1024)
    # through `sluice cluster reassign --wait`, which follows the move on
    # the broker that took it
    t0 = time.monotonic()
    st = subprocess.run([os.environ["SLUICE"], "cluster", "reassign", TOPIC, "2", "2,1",
                         "--wait", "60", "--bootstrap", nodes[2].bootstrap()],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                        timeout=90)
    took = time.monotonic() - t0
    if st.returncode != 0 or "ra-2: moving" not in st.stdout or \
            "ra-2: moved" not in st.stdout:
        fail("sluice cluster reassign ra 2 2,1 --wait 60: exit %d, %r %r"
             % (st.returncode, st.stdout, st.stderr))
    after = follower_counters(nodes[0])
    moved = after["throttled_bytes"] - before["throttled_bytes"]
    # a second's worth saved up, and one answer's overshoot (1 MiB)
    least = (4096 * 1024 - 2 * RATE) / RATE
    if moved < 4096 * 1024 or after["throttle_waits"] <= before["throttle_waits"]:
        fail("broker 1's follower counters: %d throttled bytes, %d waits (before: %s)"
             % (moved, after["throttle_waits"], before))
    if took < least:
        fail("4 MiB caught up in %.2f s at a throttle of %d bytes/s: at least %.2f s"
             % (took, RATE, least))
    print("ok: broker 1 caught up on %d bytes in %.2f s under a 1 MiB/s throttle "
          "(at least %.2f s)" % (moved, took, least), flush=True)
    acked.update(big)
    end = 1 + max(o for (q, o) in acked if q == 2)
    if durable_end(nodes[0], 2) < end:
        fail("broker 1 holds partition 2 to %d on disk, the last acknowledged "
             "offset is %d" % (durable_end(nodes[0], 2), end - 1))
    read_back(nodes, acked, "after the throttled move (broker 1 holds all %d of "
              "partition 2 on disk)" % end)

    stop_all(nodes)
    ok_end = True
finally:
    clean_up(nodes, base, ok_end, 40)
