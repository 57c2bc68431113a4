"""What the cluster tests share: brokers as real processes (sluiced and
sluice-control each) on free loopback ports, bounded waits, the active
controller read off the control logs, CreateTopics through a broker."""
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, "/usr/lib/python3/dist-packages")
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

SLUICED = os.environ["SLUICED"]
CONTROL = os.environ["SLUICE_CONTROL"]


def fail(msg):
    print("FAIL: " + msg, flush=True)
    raise SystemExit(1)


def free_ports(count):
    """count ports free for TCP and UDP on 127.0.0.1, each with port+1
    free too (a voter's controller RPC)."""
    got = []
    for _ in range(500):
        if len(got) == count:
            return got
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        if p + 1 > 65535 or p in got or p + 1 in got or p - 1 in got:
            continue
        ok = True
        for q in (p, p + 1):
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                t = socket.socket(socket.AF_INET, kind)
                try:
                    t.bind(("127.0.0.1", q))
                except OSError:
                    ok = False
                finally:
                    t.close()
        if ok:
            got.append(p)
    fail("no free ports")


# ---- the Kafka wire, for requests no Python client sends on its own ----

def uvarint(n):
    """An unsigned varint (flexible versions' lengths and counts)."""
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def read_uvarint(b, at):
    """The unsigned varint at b[at:]: (value, the position after it)."""
    n, shift = 0, 0
    while True:
        c = b[at]
        at += 1
        n |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return n, at


def compact_str(s):
    b = s.encode()
    return uvarint(len(b) + 1) + b


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise ConnectionError("closed")
        b += c
    return b


def kstr(s):
    """A Kafka STRING (int16 length)."""
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def call(node, key, version, body, timeout=5):
    """One request (header v1: a version that is not flexible) to node's
    Kafka listener; the response after the correlation id, or None when
    the broker is not there."""
    frame = struct.pack(">hhi", key, version, 7) + kstr("cluster-test") + body
    try:
        with socket.create_connection(("127.0.0.1", node.kafka), timeout=timeout) as s:
            s.sendall(struct.pack(">i", len(frame)) + frame)
            size = struct.unpack(">i", recv_exact(s, 4))[0]
            resp = recv_exact(s, size)
    except OSError:
        return None
    if struct.unpack(">i", resp[:4])[0] != 7:
        fail("answer with another correlation id")
    return resp[4:]


# ---- partition reassignments (AlterPartitionReassignments and
# ListPartitionReassignments, flexible v0) ----

def flexible_call(node, key, version, body):
    """A flexible-version request (header v2); the body of the answer
    after its header (v1: correlation id, tags), or None."""
    frame = struct.pack(">hhi", key, version, 13) + kstr("reassign-test") + b"\x00" + body
    try:
        with socket.create_connection(("127.0.0.1", node.kafka), timeout=30) as s:
            s.sendall(struct.pack(">i", len(frame)) + frame)
            r = recv_exact(s, struct.unpack(">i", recv_exact(s, 4))[0])
    except OSError:
        return None
    if struct.unpack(">i", r[:4])[0] != 13 or r[4] != 0:
        fail("an answer with another correlation id, or tags in its header")
    return r[5:]


class Reader:
    """A flexible answer read field by field."""

    def __init__(self, b):
        self.b, self.at = b, 0

    def take(self, fmt):
        v = struct.unpack_from(">" + fmt, self.b, self.at)
        self.at += struct.calcsize(">" + fmt)
        return v[0] if len(v) == 1 else v

    def uvarint(self):
        n, shift = 0, 0
        while True:
            c = self.b[self.at]
            self.at += 1
            n |= (c & 0x7F) << shift
            shift += 7
            if c < 0x80:
                return n

    def string(self):
        n = self.uvarint() - 1
        if n < 0:
            return None
        s = self.b[self.at:self.at + n].decode()
        self.at += n
        return s

    def ints(self):
        return [self.take("i") for _ in range(self.uvarint() - 1)]

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.at += self.uvarint()


def alter(node, moves, version=0, allow=True):
    """AlterPartitionReassignments: moves is [(topic, partition, replicas
    or None)], each topic's entries together; (top error, allow echoed,
    [(topic, partition, error, message)])."""
    topics = []
    for t, p, reps in moves:
        if not topics or topics[-1][0] != t:
            topics.append((t, []))
        topics[-1][1].append((p, reps))
    body = struct.pack(">i", 30000)
    if version >= 1:
        body += b"\x01" if allow else b"\x00"
    body += uvarint(len(topics) + 1)
    for t, ps in topics:
        body += compact_str(t) + uvarint(len(ps) + 1)
        for p, reps in ps:
            body += struct.pack(">i", p)
            if reps is None:
                body += uvarint(0)
            else:
                body += uvarint(len(reps) + 1) + b"".join(struct.pack(">i", r) for r in reps)
            body += b"\x00"
        body += b"\x00"
    body += b"\x00"
    r = flexible_call(node, 45, version, body)
    if r is None:
        return None
    rd = Reader(r)
    rd.take("i")  # throttle
    echoed = bool(rd.take("b")) if version >= 1 else True
    top = rd.take("h")
    rd.string()
    out = []
    for _ in range(rd.uvarint() - 1):
        name = rd.string()
        for _ in range(rd.uvarint() - 1):
            p, err = rd.take("i"), rd.take("h")
            msg = rd.string()
            rd.tags()
            out.append((name, p, err, msg))
        rd.tags()
    return top, echoed, out


def listing(node, named=None):
    """ListPartitionReassignments v0 (named: {topic: [partitions]}, None
    for all): {(topic, partition): (replicas, adding, removing)}."""
    body = struct.pack(">i", 30000)
    if named is None:
        body += uvarint(0)
    else:
        body += uvarint(len(named) + 1)
        for t, ps in named.items():
            body += compact_str(t) + uvarint(len(ps) + 1)
            body += b"".join(struct.pack(">i", p) for p in ps) + b"\x00"
    body += b"\x00"
    r = flexible_call(node, 46, 0, body)
    if r is None:
        return None
    rd = Reader(r)
    rd.take("i")
    top = rd.take("h")
    rd.string()
    if top:
        fail("ListPartitionReassignments: top-level error %d" % top)
    out = {}
    for _ in range(rd.uvarint() - 1):
        name = rd.string()
        for _ in range(rd.uvarint() - 1):
            p = rd.take("i")
            out[(name, p)] = (rd.ints(), rd.ints(), rd.ints())
            rd.tags()
        rd.tags()
    return out


def errors_of(res):
    return {(t, p): e for t, p, e, _ in res}


def offsets_partition(key, n):
    """Kafka's partition of a group (__consumer_offsets) or transactional
    id (__transaction_state): Java's String.hashCode of the id, made
    non-negative, modulo n."""
    units = key.encode("utf-16-be")
    h = 0
    for i in range(0, len(units), 2):
        h = (31 * h + (units[i] << 8 | units[i + 1])) & 0xffffffff
    return (h & 0x7fffffff) % n


def find_coordinator(node, key, key_type=0):
    """FindCoordinator v1 for a group (key_type 0) or a transactional id
    (1): (error, node id, port), or None."""
    r = call(node, 10, 1, kstr(key) + bytes([key_type]))
    if r is None:
        return None
    err = struct.unpack(">h", r[4:6])[0]
    at = 6
    mlen = struct.unpack(">h", r[at:at + 2])[0]
    at += 2 + max(mlen, 0)
    nid = struct.unpack(">i", r[at:at + 4])[0]
    at += 4
    hlen = struct.unpack(">h", r[at:at + 2])[0]
    at += 2 + hlen
    port = struct.unpack(">i", r[at:at + 4])[0]
    return err, nid, port


def live_group(nodes, prefix):
    """A group id (prefix-N) that one of nodes coordinates, for a reader
    that must not wait for a dead broker's groups (docs/cluster.md: a group
    waits for its coordinator)."""
    alive = {nd.n for nd in nodes}
    # __consumer_offsets may not be there yet (COORDINATOR_NOT_AVAILABLE
    # until enough brokers are up) or its partitions between leaders:
    # ask again for up to 30 s
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for i in range(200):
            g = "%s-%d" % (prefix, i)
            for nd in nodes:
                r = find_coordinator(nd, g)
                if r is not None:
                    if r[0] == 0 and r[1] in alive:
                        return g
                    break
        time.sleep(0.2)
    fail("no group id coordinated by brokers %s" % sorted(alive))


def produce_all(nodes, topic, count, first=0, partitions=(0, 1), pad=0,
                conf=None):
    """Values v<first> .. v<first+count-1> (padded with dots to pad bytes),
    round robin over the partition ids given, with acks=all and
    idempotence through nodes (conf: more producer settings); fails when
    some are still undelivered after 90 s.  ({(partition, offset): value}
    acknowledged, the errors seen)."""
    acked, errors = {}, []

    def done(err, msg):
        if err is None:
            acked[(msg.partition(), msg.offset())] = msg.value().decode()
        else:
            errors.append(err)

    settings = {"bootstrap.servers": ",".join(nd.bootstrap() for nd in nodes),
                "acks": "all", "enable.idempotence": True, "linger.ms": 5,
                "message.timeout.ms": 60000}
    settings.update(conf or {})
    p = Producer(settings)
    partitions = list(partitions)
    for i in range(first, first + count):
        v = b"v%d" % i
        v += b"." * (pad - len(v))
        while True:
            try:
                p.produce(topic, value=v, partition=partitions[i % len(partitions)],
                          on_delivery=done)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(90)
    if left:
        fail("%d records still not delivered after 90 s" % left)
    return acked, errors


def produce_acked(nodes, topic, count, first=0, partitions=(0, 1), pad=0):
    """produce_all, failing unless every record is acknowledged: the
    acknowledged {(partition, offset): value}."""
    acked, errors = produce_all(nodes, topic, count, first, partitions, pad)
    if errors or len(acked) != count:
        fail("%d of %d acknowledged; errors %s" % (len(acked), count, errors[:3]))
    return acked


def read_acked(via, live, topic, acked, what, partitions=2):
    """Every acknowledged record of topic read back through via (nodes)
    alone, with a group id that a live broker coordinates; fails naming
    what is missing."""
    c = Consumer({"bootstrap.servers": ",".join(nd.bootstrap() for nd in via),
                  "group.id": live_group(live, "reader-%d" % time.time_ns()),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    got = {}
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(k not in got for k in acked):
            m = c.poll(0.5)
            if m is None or m.error():
                if m is not None and m.error().code() != KafkaError._PARTITION_EOF:
                    print("consumer: %s" % m.error(), flush=True)
                continue
            got[(m.partition(), m.offset())] = m.value().decode()
    finally:
        c.close()
    missing = [k for k in acked if got.get(k) != acked[k]]
    if missing:
        fail("%s: %d acknowledged record(s) missing, e.g. %s" % (what, len(missing),
                                                                sorted(missing)[:3]))
    print("ok: %s: all %d acknowledged records read back" % (what, len(acked)), flush=True)


# processes that did not stop cleanly (Node.kill): a test fails on them
BAD_EXITS = []


class Node:
    def __init__(self, base, n, ports, voters, extra=()):
        self.n = n
        self.dir = os.path.join(base, "node-%d" % n)
        self.kafka, self.native, self.raft = ports
        self.opts = ["-o", "node_id=%d" % n, "-o", "data_dir=" + self.dir,
                     "-o", "telemetry_socket=" + os.path.join(self.dir, "tel.sock"),
                     "-o", "listen_host=127.0.0.1",
                     "-o", "kafka_port=%d" % self.kafka,
                     "-o", "tcp_port=%d" % self.native,
                     "-o", "udp_port=%d" % self.native,
                     "-o", "controller_quorum_voters=" + voters,
                     "-o", "broker_heartbeat_interval_ms=300",
                     "-o", "broker_session_timeout_ms=6000",
                     # __consumer_offsets and __transaction_state smaller
                     # than their default of 50: these clusters share two
                     # CPUs with their clients and every fenced broker
                     # moves each partition it holds (groups_test.py runs
                     # the default)
                     "-o", "offsets_topic_partitions=6",
                     "-o", "transaction_state_log_num_partitions=4",
                     # leaders move back only when a test asks (ElectLeaders)
                     # or turns this on (rebalance_test.py)
                     "-o", "auto_leader_rebalance=false"] + list(extra)
        self.procs = {}
        # where its listeners are (a later listen_host in extra moves them:
        # the test sets host to match)
        self.host = "127.0.0.1"
        os.makedirs(self.dir, exist_ok=True)

    def start(self, which=("sluiced", "control")):
        for name in which:
            prog = SLUICED if name == "sluiced" else CONTROL
            log = open(os.path.join(self.dir, name + ".log"), "a")
            self.procs[name] = subprocess.Popen([prog, "-c", "/dev/null"] + self.opts,
                                                stdout=log, stderr=subprocess.STDOUT)

    def kill(self, name, sig=signal.SIGKILL):
        p = self.procs.get(name)
        if p and p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                BAD_EXITS.append("node %d %s did not stop on signal %d" % (self.n, name, sig))
                return
            # a clean stop exits 0: anything else is a crash or a
            # sanitizer's report (ASan builds)
            if sig == signal.SIGTERM and p.returncode != 0:
                BAD_EXITS.append("node %d %s exited %d on SIGTERM" % (self.n, name, p.returncode))

    def stop(self):
        for name in ("control", "sluiced"):
            self.kill(name, signal.SIGTERM)

    def bootstrap(self):
        return "%s:%d" % (self.host, self.kafka)

    def has_partitions(self, topic, count):
        return all(os.path.isdir(os.path.join(self.dir, "%s-%d" % (topic, p)))
                   for p in range(count))

    def log(self, name="control"):
        with open(os.path.join(self.dir, name + ".log")) as f:
            return f.read()


def create(node, topic, partitions, rf):
    """CreateTopics through node; the Kafka error code (0: created)."""
    a = AdminClient({"bootstrap.servers": node.bootstrap()})
    f = a.create_topics([NewTopic(topic, partitions, rf)], request_timeout=10,
                        operation_timeout=10)[topic]
    try:
        f.result(timeout=20)
        return 0
    except Exception as e:  # KafkaException carrying a KafkaError
        err = e.args[0] if e.args else None
        if isinstance(err, KafkaError):
            return err.code()
        return -1


def topic_metadata(nodes, topic):
    """(sorted broker ids, {partition id: PartitionMetadata}) of topic
    from the first live broker of nodes that knows it, or None."""
    for nd in nodes:
        try:
            md = AdminClient({"bootstrap.servers": nd.bootstrap()}).list_topics(
                topic=topic, timeout=5)
        except Exception:
            continue
        t = md.topics.get(topic)
        if t is None or t.error is not None:
            continue
        return sorted(md.brokers), dict(t.partitions)
    return None


def until(what, fn, seconds=30, why=None):
    """fn's first true value, polled every 0.2 s; a failure after seconds,
    saying what why() returns (the state that was waited on) if given."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    said = ""
    if why is not None:
        try:
            said = ": " + str(why())
        except Exception as e:  # the state could not be read: say so
            said = ": (state unreadable: %s)" % e
    fail("%s: not within %d s%s" % (what, seconds, said))


def controller(nodes):
    """The node whose control log last says it is the active controller."""
    best, at = None, ""
    for nd in nodes:
        if nd.procs.get("control") is None or nd.procs["control"].poll() is not None:
            continue
        for m in re.finditer(r"^(\S+) sluice-control\[\d+\]: metadata quorum: (.*)$",
                             nd.log(), re.M):
            if m.group(2) == "this node is the active controller" and m.group(1) > at:
                best, at = nd, m.group(1)
    return best




def start_cluster(base, n, extra=(), per_node=None):
    """n brokers, every one a voter, started; per_node: {node id: options
    of that broker alone}, after extra."""
    ports = free_ports(3 * n)
    voters = ",".join("%d@127.0.0.1:%d" % (i + 1, ports[3 * i + 2]) for i in range(n))
    per_node = per_node or {}
    nodes = [Node(base, i + 1, ports[3 * i:3 * i + 3], voters,
                  list(extra) + list(per_node.get(i + 1, ())))
             for i in range(n)]
    for nd in nodes:
        nd.start()
    return nodes


def dump_logs(nodes, lines=25):
    for nd in nodes:
        for name in ("control", "sluiced"):
            path = os.path.join(nd.dir, name + ".log")
            if os.path.exists(path):
                print("---- node %d %s (tail)" % (nd.n, name))
                with open(path) as f:
                    print("".join(f.readlines()[-lines:]))


def stop_all(nodes):
    """Stop every broker with SIGTERM; fail when one did not exit 0."""
    for nd in nodes:
        nd.stop()
    if BAD_EXITS:
        fail("; ".join(BAD_EXITS))
    print("ok: every process stopped cleanly (exit 0)", flush=True)


def clean_up(nodes, base, passed, lines=25):
    """The end of a test, passed or not: every process stopped; the data
    removed after a pass, the logs' tails printed after a failure."""
    for nd in nodes:
        nd.stop()
    if passed:
        shutil.rmtree(base, ignore_errors=True)
    else:
        dump_logs(nodes, lines)
