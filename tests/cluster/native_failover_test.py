"""The native protocol in a cluster: `sluice produce` (libsluice) over TCP
and over UDP sends each partition's batches to its leader (LEADERS), and
carries on when a leader is killed.

Run by meson with SLUICED, SLUICE_CONTROL, SLUICE and SLUICE_TEST_TMPDIR
set.

1. Three brokers; topic "nf" of 3 partitions, replication factor 3 (a
   leader on each broker, most likely).
2. For TCP, then UDP: `sluice produce nf --acks all` through broker 1's
   native port is fed 3000 keyed lines over about three seconds; after the
   first 1000, a broker other than 1 that leads a partition is killed
   (SIGKILL, both processes).  The producer must report all 3000
   delivered and exit 0; its batches for the dead leader's partition go
   to the new leader once the controller has moved it.
3. Every line is read back through Kafka exactly once (idempotence: no
   copy from a resend), and `sluice consume` of each partition (native
   FETCH, from its leader) reads what Kafka read.
4. The killed broker is restarted and back in every in-sync set before
   the next transport's run.
Every wait is bounded; every process is stopped by pid at the end.
"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_lib import (clean_up, create, fail, live_group, start_cluster,  # noqa: E402
                         stop_all, topic_metadata, until)
from confluent_kafka import Consumer, KafkaError, TopicPartition  # noqa: E402

TOPIC = "nf"
PARTS = 3
N = 3000
SLUICE = os.environ["SLUICE"]


def meta(nodes):
    m = topic_metadata(nodes, TOPIC)
    if m is None or len(m[1]) != PARTS:
        return None
    return {i: (p.leader, sorted(p.isrs)) for i, p in m[1].items()}


def produce(nodes, victim, transport, first):
    """N lines through broker 1's native port; victim killed after the
    first third.  The victim's partitions, the producer's stderr."""
    cmd = [SLUICE, "-b", "127.0.0.1:%d" % nodes[0].native, "produce", TOPIC,
           "--acks", "all", "--key-separator", ":", "--" + transport]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, text=True)
    led = []
    try:
        for i in range(first, first + N):
            p.stdin.write("k%d:%s-%d\n" % (i % 97, transport, i))
            if i % 100 == 0:
                p.stdin.flush()
                time.sleep(0.1)
            if i == first + N // 3:
                p.stdin.flush()
                m = meta(nodes)
                led = [q for q, v in m.items() if v[0] == victim.n]
                victim.kill("sluiced")
                victim.kill("control")
                print("%s: broker %d (leader of %s) killed after %d lines"
                      % (transport, victim.n, led, N // 3), flush=True)
        p.stdin.close()
        err = p.stderr.read()
        rc = p.wait(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        fail("%s: sluice produce did not finish within 120 s" % transport)
    except BrokenPipeError:
        fail("%s: sluice produce stopped reading (exit %s): %s"
             % (transport, p.wait(timeout=30), p.stderr.read().strip()[-1500:]))
    if rc != 0 or ("%d message(s) delivered" % N) not in err:
        fail("%s: sluice produce exit %d: %s" % (transport, rc, err.strip()[-600:]))
    return led, err


def read_kafka(nodes):
    """Every value of the topic, by partition, from offset 0."""
    c = Consumer({"bootstrap.servers": ",".join(nd.bootstrap() for nd in nodes),
                  "group.id": live_group(nodes, "nf-reader-%d" % time.time_ns()),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "enable.partition.eof": True})
    got = {q: [] for q in range(PARTS)}
    eof = set()
    try:
        c.assign([TopicPartition(TOPIC, q, 0) for q in range(PARTS)])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(eof) < PARTS:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                continue
            got[m.partition()].append(m.value().decode())
    finally:
        c.close()
    return got


def read_native(nodes, partition):
    r = subprocess.run([SLUICE, "-b", "127.0.0.1:%d" % nodes[0].native, "consume",
                        TOPIC, "--partition", str(partition), "--from-beginning"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=60)
    if r.returncode != 0:
        fail("sluice consume --partition %d: exit %d: %s" % (partition, r.returncode,
                                                             r.stderr.strip()[-300:]))
    return r.stdout.splitlines()


base = tempfile.mkdtemp(prefix="native-failover-",
                        dir=os.environ.get("SLUICE_TEST_TMPDIR", "/var/tmp"))
nodes = []
ok_end = False
try:
    nodes = start_cluster(base, 3)
    until("CreateTopics nf rf=3", lambda: create(nodes[0], TOPIC, PARTS, 3) == 0, 40)
    until("every partition led, all in sync", lambda: (lambda m: m and all(
        v[0] > 0 and len(v[1]) == 3 for v in m.values()))(meta(nodes)), 30)
    # the producer goes through broker 1, which must know the topic (a
    # topic it has not heard of yet is an error for `sluice produce`)
    until("broker 1 serves nf", lambda: (lambda m: m and all(
        v[0] > 0 for v in m.values()))(meta([nodes[0]])), 30)
    want = []
    for k, transport in enumerate(("tcp", "udp")):
        m = meta(nodes)
        leaders = sorted({v[0] for v in m.values()} - {1})
        if not leaders:
            fail("broker 1 leads every partition: %s" % m)
        victim = nodes[leaders[0] - 1]
        t0 = time.monotonic()
        led, _ = produce(nodes, victim, transport, k * N)
        print("ok: %s: %d lines delivered in %.1f s across the kill of broker %d"
              % (transport, N, time.monotonic() - t0, victim.n), flush=True)
        want += ["%s-%d" % (transport, i) for i in range(k * N, (k + 1) * N)]
        live = [nd for nd in nodes if nd is not victim]
        got = read_kafka(live)
        flat = [v for q in range(PARTS) for v in got[q]]
        if sorted(flat) != sorted(want):
            missing = sorted(set(want) - set(flat))
            dup = len(flat) - len(set(flat))
            fail("%s: read %d values (%d copies), %d missing, e.g. %s"
                 % (transport, len(flat), dup, len(missing), missing[:3]))
        for q in range(PARTS):
            native = [ln for ln in read_native(live, q)]
            if native != got[q]:
                fail("%s: partition %d: sluice consume read %d values, Kafka %d"
                     % (transport, q, len(native), len(got[q])))
        print("ok: %s: every line read back once through Kafka and through sluice "
              "consume (partitions %s moved off broker %d)" % (transport, led, victim.n),
              flush=True)
        victim.start()
        until("broker %d back in every in-sync set" % victim.n,
              lambda: (lambda m: m and all(len(v[1]) == 3 for v in m.values()))(
                  meta(nodes)), 60)
    stop_all(nodes)
    ok_end = True
finally:
    clean_up(nodes, base, ok_end, 40)
