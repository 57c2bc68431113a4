"""A three-broker cluster's metadata quorum, with real processes and a real
Kafka client (confluent-kafka-python's AdminClient).

Run by meson with SLUICED, SLUICE_CONTROL and SLUICE_TEST_TMPDIR set.

1. Three brokers (sluiced + sluice-control each, every one a voter) start
   on free loopback ports.  CreateTopics with replication factor 3 is
   refused (INVALID_REPLICATION_FACTOR) until all three have registered
   and been unfenced, then succeeds through whichever broker is asked; the
   topic's partition directories appear on all three brokers.
2. The active controller's sluice-control is killed with SIGKILL: another
   is elected, the dead broker is fenced when its session lapses (a
   replication factor of 3 is refused again, 2 is taken), and topics are
   still created through the survivors.
3. The killed process restarts and catches up: its sluiced gets the topic
   created while it was down, and replication factor 3 is taken again.
4. Every process is stopped and started again: the topics are still
   there (the metadata log is durable), and creating one again answers
   TOPIC_ALREADY_EXISTS.
5. A broker's sluice-control stopped with SIGTERM shuts down in a
   controlled way: it is fenced before it exits, well within the session
   timeout, so replication factor 3 is refused at once.
Every wait is bounded; every process is stopped by pid at the end.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, "/usr/lib/python3/dist-packages")
from confluent_kafka import KafkaError  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

SLUICED = os.environ["SLUICED"]
CONTROL = os.environ["SLUICE_CONTROL"]
N = 3


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


class Node:
    def __init__(self, base, n, ports, voters):
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
                     "-o", "broker_session_timeout_ms=6000"]
        self.procs = {}
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
        return "127.0.0.1:%d" % self.kafka

    def has_partitions(self, topic, count):
        return all(os.path.isdir(os.path.join(self.dir, "%s-%d" % (topic, p)))
                   for p in range(count))

    def log(self):
        with open(os.path.join(self.dir, "control.log")) as f:
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


def until(what, fn, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    fail("%s: not within %d s" % (what, seconds))


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


BAD_EXITS = []
INVALID_RF = 38
EXISTS = 36

base = tempfile.mkdtemp(prefix="cluster-", dir=os.environ.get("SLUICE_TEST_TMPDIR", "/var/tmp"))
nodes = []
ok_end = False
try:
    ports = free_ports(3 * N)
    voters = ",".join("%d@127.0.0.1:%d" % (i + 1, ports[3 * i + 2]) for i in range(N))
    nodes = [Node(base, i + 1, ports[3 * i:3 * i + 3], voters) for i in range(N)]
    for nd in nodes:
        nd.start()

    # 1. replication factor 3 once every broker is registered and unfenced
    t0 = time.monotonic()
    until("CreateTopics orders rf=3", lambda: create(nodes[2], "orders", 3, 3) == 0, 40)
    print("ok: a topic of replication factor 3 created through broker 3, %.1f s after start"
          % (time.monotonic() - t0))
    # the answer waited for the asked broker's sluiced to have the topic
    if not nodes[2].has_partitions("orders", 3):
        fail("CreateTopics answered before broker 3's sluiced had the partitions")
    for nd in nodes:
        until("orders on broker %d" % nd.n, lambda nd=nd: nd.has_partitions("orders", 3), 15)
    print("ok: its partitions are on all three brokers")

    # 2. the active controller dies
    ctl = until("an active controller", lambda: controller(nodes), 10)
    others = [nd for nd in nodes if nd is not ctl]
    ctl.kill("control")
    t1 = time.monotonic()
    until("CreateTopics after the controller died",
          lambda: create(others[0], "after", 2, 2) == 0, 30)
    new_ctl = controller(others)
    if new_ctl is None:
        fail("no new active controller among the survivors")
    print("ok: controller %d killed; %d took over, a topic created %.1f s later"
          % (ctl.n, new_ctl.n, time.monotonic() - t1))
    tries = iter(range(1000))
    # a fresh name each time: one asked before the fencing is created
    until("rf=3 refused once the dead broker is fenced",
          lambda: create(others[1], "early-%d" % next(tries), 1, 3) == INVALID_RF, 30)
    print("ok: broker %d fenced (replication factor 3 refused with 2 live brokers)" % ctl.n)
    for nd in others:
        until("after on broker %d" % nd.n, lambda nd=nd: nd.has_partitions("after", 2), 15)

    # 3. it comes back and catches up
    ctl.start(("control",))
    until("the restarted broker gets the topic made while it was down",
          lambda: ctl.has_partitions("after", 2), 30)
    until("rf=3 taken again", lambda: create(others[0], "three", 1, 3) == 0, 30)
    print("ok: broker %d restarted, caught up and was unfenced" % ctl.n)

    # 4. everything restarts: the topics stay
    for nd in nodes:
        nd.stop()
    for nd in nodes:
        nd.start()
    until("orders exists after a full restart",
          lambda: create(nodes[0], "orders", 3, 3) == EXISTS, 40)
    until("a new topic after a full restart", lambda: create(nodes[1], "later", 1, 3) == 0, 40)
    print("ok: after every process restarted, the topics are still there")

    # 5. controlled shutdown: fenced before the process exits
    ctl = until("an active controller", lambda: controller(nodes), 10)
    leaving = [nd for nd in nodes if nd is not ctl][0]
    t2 = time.monotonic()
    leaving.kill("control", signal.SIGTERM)
    took = time.monotonic() - t2
    if "controlled shutdown" not in leaving.log():
        fail("broker %d's control exited without a controlled shutdown" % leaving.n)
    code = create(ctl, "after-shutdown", 1, 3)
    if code != INVALID_RF:
        fail("right after broker %d's controlled shutdown, rf=3 gave %d, expected "
             "INVALID_REPLICATION_FACTOR (it should be fenced already)" % (leaving.n, code))
    print("ok: broker %d shut down in %.1f s, fenced before it left (session timeout 6 s)"
          % (leaving.n, took))
    for nd in nodes:
        nd.stop()
    if BAD_EXITS:
        fail("; ".join(BAD_EXITS))
    print("ok: every process stopped cleanly (exit 0)")
    ok_end = True
finally:
    for nd in nodes:
        nd.stop()
    if ok_end:
        shutil.rmtree(base, ignore_errors=True)
    else:
        for nd in nodes:
            for name in ("control", "sluiced"):
                path = os.path.join(nd.dir, name + ".log")
                if os.path.exists(path):
                    print("---- node %d %s (tail)" % (nd.n, name))
                    with open(path) as f:
                        print("".join(f.readlines()[-25:]))
