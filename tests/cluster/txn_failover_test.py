"""A transaction coordinator's failover on a three-broker cluster: the
coordinator's state lives in __transaction_state (docs/cluster.md,
Transactions), so the broker that leads the id's partition next carries on
its transactions.  Real processes, real transactional producers
(confluent-kafka-python, librdkafka) and read_committed consumers.

Run by meson with SLUICED, SLUICE_CONTROL and SLUICE_TEST_TMPDIR set.

1. Three brokers start; topic "tf" (3 partitions, replication factor 3).
   Every broker names the same transaction coordinator C for "tf-a"
   (FindCoordinator key type 1).
2. Producer A ("tf-a") commits a transaction of 30 records, begins a
   second one, produces 30 records and flushes them (so they and the
   AddPartitionsToTxn are done); then broker C is killed (SIGKILL, both
   processes).  The commit goes through against the next coordinator once
   C's session lapses; the two survivors name that coordinator.  A
   read_committed consumer reads the 60 records, each once.
3. C restarts and is back in every in-sync set.  Producer B (an id
   "tf-b-N" coordinated by another broker X, transaction.timeout.ms 10000,
   in a child process) begins a transaction, produces 20 records, flushes
   them and is killed (SIGKILL: the client aborts nothing); X is killed at
   once.  The broker that coordinates B's id next aborts the transaction
   when its timeout passes and writes the markers: 10 records of a plain
   producer written after B's become visible to read_committed, with the 60
   of step 2, and none of B's ever does.
4. A new producer "tf-a": init_transactions succeeds (the coordinator knew
   the id and bumps its epoch: the previous "tf-a" producer is fenced,
   whatever it sends is never committed), and a transaction of 5 records
   commits and reads back.  The two live brokers stop cleanly.
After step 2 the markers in the segment files of both survivors carry the
coordinator epoch (docs/kafka.md): in every partition of "tf" the first
commit's marker has C's, the second's the next coordinator's, which is
the leader epoch at which it loaded tf-a's partition of
__transaction_state (its log says so), and which is higher.
Every wait is bounded; every process is stopped by pid at the end.
"""
import os
import re
import select
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_lib import (clean_up, create, fail, find_coordinator,  # noqa: E402
                         live_group, offsets_partition, read_uvarint,
                         start_cluster, stop_all, topic_metadata, until)
from confluent_kafka import (Consumer, KafkaError, KafkaException,  # noqa: E402
                             Producer, TopicPartition)

TOPIC, PARTS = "tf", 3
TID_A = "tf-a"

# Producer B: a child process, so that it can vanish without a word (a
# client being destroyed would abort its transaction).  Prints "flushed"
# once its 20 records are acknowledged, then waits to be killed.
CHILD = r"""
import sys, time
sys.path.insert(0, "/usr/lib/python3/dist-packages")
from confluent_kafka import Producer
boot, tid, topic, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
p = Producer({"bootstrap.servers": boot, "transactional.id": tid,
              "transaction.timeout.ms": 10000, "acks": "all",
              "enable.idempotence": True, "linger.ms": 5})
p.init_transactions(60)
p.begin_transaction()
errors = []
def done(err, msg):
    if err is not None:
        errors.append(err)
for i in range(count):
    p.produce(topic, b"b-%d" % i, partition=i % 3, on_delivery=done)
left = p.flush(30)
if left or errors:
    print("not flushed: %d left, errors %s" % (left, errors), flush=True)
    sys.exit(1)
print("flushed", flush=True)
time.sleep(600)
"""

CHILDREN = []


def agreed(nodes, ask):
    """The node id every node of nodes names (error 0), or None."""
    answers = [ask(nd) for nd in nodes]
    if any(a is None or a[0] != 0 for a in answers):
        return None
    ids = {a[1] for a in answers}
    return ids.pop() if len(ids) == 1 else None


def txn_coordinator(nodes, tid):
    return agreed(nodes, lambda nd: find_coordinator(nd, tid, 1))


def boot_of(nodes):
    return ",".join(nd.bootstrap() for nd in nodes)


def produced(p, values, seconds=60):
    """Produce values over the partitions (the i-th to i mod PARTS) and
    flush; fail unless every one is acknowledged."""
    errors = []

    def done(err, msg):
        if err is not None:
            errors.append(err)
    for i, v in enumerate(values):
        p.produce(TOPIC, v, partition=i % PARTS, on_delivery=done)
    left = p.flush(seconds)
    if left or errors:
        fail("%d records not acknowledged within %d s, errors %s" % (left, seconds, errors))


def retried(what, op, seconds):
    """op() again while it raises a retriable KafkaError, within seconds."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return op()
        except KafkaException as ex:
            err = ex.args[0] if ex.args else None
            if not isinstance(err, KafkaError) or not err.retriable() or \
                    err.fatal() or err.txn_requires_abort():
                fail("%s: %s" % (what, ex))
            if time.monotonic() >= deadline:
                fail("%s: still %s after %d s" % (what, err, seconds))
            print("%s: %s (retriable); again" % (what, err), flush=True)
            time.sleep(0.5)


def read_committed(live, want, forbid, seconds):
    """Read TOPIC from offset 0 of every partition, read_committed, through
    the live brokers, until every value of want has come and then every
    partition has reached its end; fail unless that happens within seconds
    and each value of want came once and no other.  The seconds it took."""
    t0 = time.monotonic()
    c = Consumer({"bootstrap.servers": boot_of(live),
                  "group.id": live_group(live, "tf-reader"),
                  "isolation.level": "read_committed",
                  "enable.auto.commit": False,
                  "enable.partition.eof": True})
    c.assign([TopicPartition(TOPIC, q, 0) for q in range(PARTS)])
    got = []
    at_end = set()
    try:
        while True:
            if time.monotonic() - t0 > seconds:
                missing = sorted(set(want) - set(got))
                fail("read_committed: not every record within %d s: %d read, %d missing "
                     "(%s...), at the end of %s"
                     % (seconds, len(got), len(missing), missing[:5], sorted(at_end)))
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(m.partition())
                    if set(want) <= set(got) and len(at_end) == PARTS:
                        break
                    continue
                fail("read_committed consumer: %s" % m.error())
            got.append(m.value())
            at_end.discard(m.partition())
    finally:
        c.close()
    took = time.monotonic() - t0
    seen = {}
    for v in got:
        seen[v] = seen.get(v, 0) + 1
    twice = sorted(v for v, n in seen.items() if n > 1)
    bad = sorted(v for v in seen if v in forbid)
    other = sorted(v for v in seen if v not in want and v not in forbid)
    if twice or bad or other:
        fail("read_committed: read twice %s, of an uncommitted transaction %s, unknown %s"
             % (twice[:5], bad[:5], other[:5]))
    return took


def unfenced(node, tries):
    """Once node is back: a topic of replication factor 3 is created (every
    broker registered and unfenced)."""
    until("broker %d back and unfenced" % node.n,
          lambda: create(node, "tf-probe-%d" % next(tries), 1, 3) == 0, 60)


def in_sync(nodes, node, topic, count):
    m = topic_metadata(nodes, topic)
    return m is not None and len(m[1]) == count and \
        all(node.n in pm.isrs for pm in m[1].values())


def varint(b, at):
    """A zigzag varint of a record at b[at:]: (value, next position)."""
    v, at = read_uvarint(b, at)
    return (v >> 1) ^ -(v & 1), at


def marker_epochs(node, topic, part):
    """The coordinator epochs of the transaction markers (control batches)
    in node's segment files of topic-part, in offset order: the value of
    a marker's one record is int16 version, int32 coordinator epoch.
    Stops at the writer's zero padding or a batch not whole yet."""
    d = os.path.join(node.dir, "%s-%d" % (topic, part))
    out = []
    for name in sorted(f for f in os.listdir(d) if f.endswith(".log")):
        with open(os.path.join(d, name), "rb") as f:
            data = f.read()
        at = 0
        while at + 61 <= len(data):
            length = int.from_bytes(data[at + 8:at + 12], "big", signed=True)
            if length < 49 or at + 12 + length > len(data):
                break
            attributes = int.from_bytes(data[at + 21:at + 23], "big")
            if attributes & 0x20:
                r = at + 61
                _, r = varint(data, r)        # record length
                r += 1                        # attributes
                _, r = varint(data, r)        # timestamp delta
                _, r = varint(data, r)        # offset delta
                klen, r = varint(data, r)
                r += max(klen, 0)
                vlen, r = varint(data, r)
                if vlen < 6:
                    fail("%s-%d: a marker whose value has %d bytes" % (topic, part, vlen))
                out.append(int.from_bytes(data[r + 2:r + 6], "big", signed=True))
            at += 12 + length
    return out


def loaded_epoch(node, part):
    """The leader epoch at which node's coordinator last loaded partition
    part of __transaction_state, from its log, or None."""
    found = re.findall(r"__transaction_state-%d: loaded at leader epoch (-?\d+)" % part,
                       node.log())
    return int(found[-1]) if found else None


def check_marker_epochs(survivors, new_node):
    """Every partition of TOPIC on every survivor holds the two commits'
    markers: C's coordinator epoch, then the next coordinator's, higher,
    and the epoch it loaded tf-a's partition at."""
    want = loaded_epoch(new_node, offsets_partition(TID_A, 4))
    if want is None:
        fail("broker %d never logged loading tf-a's partition of __transaction_state"
             % new_node.n)
    for nd in survivors:
        for q in range(PARTS):
            got = until("broker %d holding both commits' markers in %s-%d"
                        % (nd.n, TOPIC, q),
                        lambda: marker_epochs(nd, TOPIC, q)
                        if len(marker_epochs(nd, TOPIC, q)) >= 2 else None, 30)
            # a marker request retried may leave a marker twice
            if (got != sorted(got) or not got[0] < want or got[-1] != want
                    or set(got) != {got[0], want}):
                fail("broker %d, %s-%d: markers' coordinator epochs %s; want the "
                     "first commit's below %d, then %d" % (nd.n, TOPIC, q, got, want, want))
    print("ok: the markers carry the coordinator epoch: the next coordinator's "
          "(%d, its load of tf-a's partition) above the killed one's (%d)"
          % (want, got[0]), flush=True)


def kill_broker(node):
    """SIGKILL both processes, sluice-control first: a sluice-control that
    outlived its sluiced could still report it not ready and have the
    broker fenced at once; this way the controller fences it when its
    session lapses, every time."""
    node.kill("control")
    node.kill("sluiced")


def main():
    base = tempfile.mkdtemp(prefix="txn-failover-",
                            dir=os.environ.get("SLUICE_TEST_TMPDIR"))
    nodes = start_cluster(base, 3)
    passed = False
    try:
        run(nodes)
        stop_all(nodes)
        passed = True
    finally:
        for ch in CHILDREN:
            if ch.poll() is None:
                ch.kill()
                ch.wait()
        clean_up(nodes, base, passed)
    print("PASS")


def run(nodes):
    # 1. the topic, the coordinator of tf-a
    until("the cluster creating %s" % TOPIC,
          lambda: create(nodes[0], TOPIC, PARTS, 3) in (0, 36), 60)
    c_id = until("one transaction coordinator for %s" % TID_A,
                 lambda: txn_coordinator(nodes, TID_A), 40)
    victim = nodes[c_id - 1]
    others = [nd for nd in nodes if nd is not victim]
    print("ok: every broker names broker %d the transaction coordinator of %s"
          % (c_id, TID_A), flush=True)

    # 2. a commit, then the coordinator dies with a transaction ongoing
    first = [b"a1-%d" % i for i in range(30)]
    second = [b"a2-%d" % i for i in range(30)]
    pa = Producer({"bootstrap.servers": boot_of(nodes), "transactional.id": TID_A,
                   "acks": "all", "enable.idempotence": True,
                   "transaction.timeout.ms": 60000, "linger.ms": 5})
    retried("init_transactions (%s)" % TID_A, lambda: pa.init_transactions(60), 90)
    pa.begin_transaction()
    produced(pa, first)
    retried("commit_transaction", lambda: pa.commit_transaction(60), 90)
    pa.begin_transaction()
    produced(pa, second)
    kill_broker(victim)
    t0 = time.monotonic()
    retried("commit_transaction after broker %d was killed" % c_id,
            lambda: pa.commit_transaction(60), 120)
    took_commit = time.monotonic() - t0
    new_c = until("the survivors naming one coordinator of %s" % TID_A,
                  lambda: txn_coordinator(others, TID_A), 40)
    if new_c == c_id:
        fail("the survivors still name the killed broker %d the coordinator of %s"
             % (c_id, TID_A))
    print("ok: coordinator broker %d killed with a transaction ongoing; its commit "
          "went through %.1f s later; broker %d coordinates %s now"
          % (c_id, took_commit, new_c, TID_A), flush=True)
    step2 = set(first) | set(second)
    took = read_committed(others, step2, set(), 60)
    print("ok: read_committed reads the 60 committed records, each once (%.1f s)" % took,
          flush=True)
    check_marker_epochs(others, nodes[new_c - 1])

    # 3. C back; producer B vanishes mid-transaction with its coordinator
    tries = iter(range(1000))
    victim.start()
    unfenced(victim, tries)
    until("broker %d in every in-sync set" % c_id,
          lambda: in_sync(nodes, victim, TOPIC, PARTS)
          and in_sync(nodes, victim, "__transaction_state", 4), 60)
    print("ok: broker %d restarted, unfenced, in every in-sync set of %s and "
          "__transaction_state" % (c_id, TOPIC), flush=True)
    tid_b, x_id = None, None
    for i in range(200):
        t = "tf-b-%d" % i
        owner = until("one transaction coordinator for %s" % t,
                      lambda: txn_coordinator(nodes, t), 40)
        if owner != c_id:
            tid_b, x_id = t, owner
            break
    if tid_b is None:
        fail("no transactional id coordinated by another broker than %d" % c_id)
    x = nodes[x_id - 1]
    live = [nd for nd in nodes if nd is not x]
    b_values = {b"b-%d" % i for i in range(20)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, boot_of(nodes), tid_b, TOPIC, "20"],
                             stdout=subprocess.PIPE)
    CHILDREN.append(child)
    deadline = time.monotonic() + 120
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            fail("producer B: not flushed within 120 s")
        r, _, _ = select.select([child.stdout], [], [], left)
        if r:
            chunk = os.read(child.stdout.fileno(), 256)
            if not chunk:
                break
            line += chunk
    if line.strip() != b"flushed":
        fail("producer B (%s): %r, exit %s" % (tid_b, line, child.poll()))
    t_flushed = time.monotonic()
    child.kill()
    child.wait()
    kill_broker(x)
    t1 = time.monotonic()
    print("ok: producer B (%s, coordinator broker %d) flushed 20 records and was killed; "
          "broker %d killed" % (tid_b, x_id, x_id), flush=True)
    plain = [b"plain-%d" % i for i in range(10)]
    pp = Producer({"bootstrap.servers": boot_of(live), "acks": "all",
                   "enable.idempotence": True, "linger.ms": 5})
    produced(pp, plain, 60)
    del pp
    read_committed(live, step2 | set(plain), b_values, 60)
    now = time.monotonic()
    new_b = until("the live brokers naming one coordinator of %s" % tid_b,
                  lambda: txn_coordinator(live, tid_b), 40)
    if new_b == x_id:
        fail("the live brokers still name the killed broker %d the coordinator of %s"
             % (x_id, tid_b))
    print("ok: broker %d aborted %s's transaction (timeout 10 s): the 10 later records "
          "visible to read_committed %.1f s after the kill of broker %d (%.1f s after "
          "B's flush), with the 60 of step 2 and none of B's 20"
          % (new_b, tid_b, now - t1, x_id, now - t_flushed), flush=True)

    # 4. tf-a again: the next producer fences the previous one
    pa2 = Producer({"bootstrap.servers": boot_of(live), "transactional.id": TID_A,
                    "acks": "all", "enable.idempotence": True,
                    "transaction.timeout.ms": 60000, "linger.ms": 5})
    t2 = time.monotonic()
    retried("init_transactions (%s, again)" % TID_A, lambda: pa2.init_transactions(60), 90)
    took_init = time.monotonic() - t2
    third = [b"a3-%d" % i for i in range(5)]
    pa2.begin_transaction()
    produced(pa2, third)
    retried("commit_transaction (%s, again)" % TID_A, lambda: pa2.commit_transaction(60), 90)
    print("ok: a new %s producer initialized (%.1f s) and committed 5 records"
          % (TID_A, took_init), flush=True)
    stale = b"stale-a"
    fenced = None
    try:
        pa.begin_transaction()
        pa.produce(TOPIC, stale, partition=0)
        pa.flush(30)
        pa.commit_transaction(30)
    except KafkaException as ex:
        fenced = ex.args[0] if ex.args else ex
    if fenced is None:
        fail("the previous %s producer committed after a new one initialized" % TID_A)
    print("ok: the previous %s producer is refused: %s" % (TID_A, fenced), flush=True)
    del pa
    took = read_committed(live, step2 | set(plain) | set(third), b_values | {stale}, 60)
    print("ok: read_committed reads the 60 + 10 + 5 records, each once, none of B's "
          "or the fenced producer's (%.1f s)" % took, flush=True)


if __name__ == "__main__":
    main()
