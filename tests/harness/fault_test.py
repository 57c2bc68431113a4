"""Jepsen-style faults on a three-broker cluster in network namespaces, and
the queue checker on what the clients saw.

Run by meson with SLUICED, SLUICE_CONTROL and SLUICE_TEST_TMPDIR set.
Needs root and ip netns / nft; skips (77) without them.

  fault_test.py            the run below
  fault_test.py --unclean  the check that the harness sees a loss: a
                           real one, made by an unclean leader election

The run:
1. Three brokers, each in its own namespace (netns_cluster.py); a topic
   of 3 partitions, replication factor 3, min.insync.replicas 2.
2. From the client namespace, two idempotent producers (acks=all) write
   unique values to the partitions in turn, at most 40 unanswered each,
   and two consumers read every partition from offset 0 (assign, no
   group); every answer and every read is a line of the history, in the
   queue checker's format (queue_checker.py), and so is every fault.
3. For about 90 s (SLUICE_LONG=1: 600 s), a schedule of faults drawn
   from a seed (printed; SLUICE_SEED=N replays it): a partition (one
   broker from the others, a broker from the clients, one way between
   two brokers), a broker isolated (with or without its clients), packet
   loss on a broker's link, a pause of a broker's processes (SIGSTOP,
   past the session timeout), a kill -9 and restart, a partition
   reassigned (AlterPartitionReassignments: to two or three of the
   brokers, in a drawn order, while the faults before and after it come
   and go); each lasts a few seconds and is healed before the next.  A
   fault aimed at "the leader" strikes the leader of a partition at that
   moment.  Before the end every partition is reassigned back to all
   three brokers.
4. Everything healed: the producers finish (what is still unanswered is
   recorded as not acknowledged), the cluster gets its three in-sync
   replicas back, and a fresh consumer reads every partition from 0 to
   its end; the history ends with {"op": "final"}.  Beside them a
   committer commits rising offsets for a consumer group, one synchronous
   commit at a time: the group's offsets read back at the end are at
   least the last acknowledged commit (the coordinator keeps them in
   __consumer_offsets, which fails over like any partition).
5. queue_checker.py judges the history: the run fails on any anomaly
   (lost acknowledged write, duplicate, inconsistent offset, poll skip,
   offsets going backwards), on a broker process that died by itself, or
   on one that did not stop cleanly (exit 0 on SIGTERM).  The checker is
   then shown the same history with one acknowledged value's reads
   removed and must call it lost.
Printed: the seed, the history's path, acknowledged and failed writes,
reads, the longest time without an acknowledgement while faults ran
(and how many such windows passed 2 s), the leader changes seen.

--unclean: a topic of one partition, replication factor 3,
min.insync.replicas 1 and unclean.leader.election.enable=true.  Broker
C (a follower) is killed; writes are acknowledged by the leader and the
other follower; then both their sluiced die (their sluice-control stay
up, so the metadata quorum lives), C starts again and, the only live
replica, is elected uncleanly, without the acknowledged writes.  The
queue checker must report them lost; this run fails if it does not.
"""
import json
import os
import random
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import netns_cluster  # noqa: E402
from netns_cluster import CLIENT, NetnsCluster  # noqa: E402
import queue_checker  # noqa: E402

why = netns_cluster.skip_reason()
if why:
    print("SKIP: " + why, flush=True)
    sys.exit(77)

sys.path.insert(0, "/usr/lib/python3/dist-packages")
from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaError,  # noqa: E402
                             KafkaException, Producer, TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TOPIC = "jepsen"
COMMIT_GROUP = "jepsen-commits"
PARTS = 3
SESSION_MS = 3000
BROKER_OPTS = ["-o", "broker_heartbeat_interval_ms=300",
               "-o", "broker_session_timeout_ms=%d" % SESSION_MS,
               "-o", "replica_lag_time_max_ms=5000"]
PRODUCERS = int(os.environ.get("SLUICE_PRODUCERS") or 2)
IN_FLIGHT_MAX = 40
SEND_GAP_S = 0.01
FAULT_S = int(os.environ.get("SLUICE_FAULT_SECONDS") or
              (600 if os.environ.get("SLUICE_LONG") == "1" else 90))


def fail(msg):
    print("FAIL: " + msg, flush=True)
    raise SystemExit(1)


class History:
    """The JSON-lines history, written by every client thread."""

    def __init__(self, path, t0):
        self.path = path
        self.t0 = t0
        self.f = open(path, "w")
        self.lock = threading.Lock()

    def add(self, **e):
        e["t"] = round(time.monotonic() - self.t0, 4)
        line = json.dumps(e, sort_keys=True)
        with self.lock:
            self.f.write(line + "\n")

    def close(self):
        with self.lock:
            self.f.flush()
            self.f.close()


class Run:
    """The clients of one run and what they measured."""

    def __init__(self, cluster, hist, clog):
        self.c = cluster
        self.hist = hist
        self.clog = clog                 # the clients' own log file
        self.stop_writes = threading.Event()
        self.stop_reads = threading.Event()
        self.lock = threading.Lock()
        self.acked = 0
        self.failed = 0
        self.reads = 0
        self.fatal = 0
        self.leaders = {}                # partition -> last leader seen (>= 1)
        self.leader_changes = 0
        self.meta_errors = 0
        self.fatals = []                 # the fatal errors producers met
        self.commit_acked = 0            # the last commit acknowledged
        self.commits_ok = 0
        self.commits_failed = 0

    def note(self, who, what):
        if what.startswith("fatal"):
            self.fatals.append("%s %s" % (who, what))
        with self.lock:
            self.clog.write("%.3f %s %s\n" % (time.monotonic() - self.hist.t0, who, what))
            self.clog.flush()

    # ---- producers -----------------------------------------------------

    def producer(self, name):
        n = 0
        session = 0
        while not self.stop_writes.is_set():
            session += 1
            client = "%s.%d" % (name, session)
            fatal = threading.Event()
            pending = [0]

            def done(err, msg, client=client):
                pending[0] -= 1
                v = msg.value().decode()
                if err is None:
                    self.hist.add(op="send", client=client, value=v,
                                  partition=msg.partition(), offset=msg.offset(), ok=True)
                    with self.lock:
                        self.acked += 1
                else:
                    self.hist.add(op="send", client=client, value=v,
                                  partition=msg.partition(), ok=False, error=err.name())
                    with self.lock:
                        self.failed += 1

            def on_error(err, client=client):
                self.note(client, "error %s%s" % (err, " (fatal)" if err.fatal() else ""))
                if err.fatal():
                    fatal.set()

            # request.timeout.ms above the longest fault, and
            # message.timeout.ms far above it: librdkafka answers a
            # produce request that timed out by bumping the producer
            # epoch and sending its records again under the new epoch
            # (KIP-360), which no broker can tell from new records, so
            # a shorter one makes duplicates by design; a request's
            # timeout is also cut to what is left of its messages'
            # message.timeout.ms (a run where records waited 29.5 s in
            # the queue through a kill and a partition sent them with
            # 515 ms left, timed out, and wrote them twice)
            p = Producer({"bootstrap.servers": self.c.bootstrap(), "acks": "all",
                          "enable.idempotence": True, "linger.ms": 5,
                          "message.timeout.ms": 300000, "request.timeout.ms": 25000,
                          "retry.backoff.ms": 100, "metadata.max.age.ms": 3000,
                          "topic.metadata.refresh.interval.ms": 1000,
                          "client.id": client, "error_cb": on_error})
            while not self.stop_writes.is_set() and not fatal.is_set():
                try:
                    if pending[0] < IN_FLIGHT_MAX:
                        v = "%s-%d" % (name, n)
                        try:
                            p.produce(TOPIC, value=v.encode(), partition=n % PARTS,
                                      on_delivery=done)
                            pending[0] += 1
                            n += 1
                        except BufferError:
                            pass
                    p.poll(SEND_GAP_S)
                except KafkaException as e:
                    # a fatal error (the idempotent producer cannot go on):
                    # a new producer takes over, under a new client name
                    self.note(client, "fatal: %s" % e)
                    fatal.set()
            if fatal.is_set():
                with self.lock:
                    self.fatal += 1
            # what is still unanswered gets its answer (or is purged: not
            # acknowledged) before this producer goes
            deadline = time.monotonic() + 30
            try:
                while pending[0] > 0 and time.monotonic() < deadline and not fatal.is_set():
                    p.poll(0.1)
            except KafkaException as e:
                self.note(client, "fatal: %s" % e)
            for _ in range(3):
                if pending[0] <= 0:
                    break
                try:
                    p.purge()
                    p.flush(5)
                except KafkaException as e:
                    self.note(client, "at purge: %s" % e)

    # ---- a group's committed offsets ------------------------------------

    def committer(self, stop):
        """Commits offsets 1, 2, 3 ... of every partition for group
        COMMIT_GROUP, one synchronous commit at a time, until stop is set;
        the last acknowledged value is self.commit_acked.  Commits only
        rise, so the offsets read back at the end must be at least it (a
        commit that failed may still have landed: more is allowed)."""
        c = Consumer({"bootstrap.servers": self.c.bootstrap(), "group.id": COMMIT_GROUP,
                      "enable.auto.commit": False, "client.id": "committer",
                      "socket.timeout.ms": 10000, "metadata.max.age.ms": 3000})
        n = 0
        while not stop.is_set():
            n += 1
            try:
                c.commit(offsets=[TopicPartition(TOPIC, p, n) for p in range(PARTS)],
                         asynchronous=False)
                with self.lock:
                    self.commit_acked = n
                    self.commits_ok += 1
            except KafkaException as e:
                with self.lock:
                    self.commits_failed += 1
                self.note("committer", "commit %d: %s" % (n, e))
                time.sleep(0.2)
            time.sleep(0.05)
        c.close()

    def committed(self):
        """The offsets of COMMIT_GROUP as its coordinator answers now, or
        None."""
        c = Consumer({"bootstrap.servers": self.c.bootstrap(), "group.id": COMMIT_GROUP,
                      "enable.auto.commit": False})
        try:
            got = c.committed([TopicPartition(TOPIC, p) for p in range(PARTS)], timeout=10)
        except KafkaException as e:
            self.note("final", "committed offsets: %s" % e)
            return None
        finally:
            c.close()
        if any(tp.error is not None for tp in got):
            return None
        return {tp.partition: tp.offset for tp in got}

    # ---- consumers -----------------------------------------------------

    def consumer(self, name, stop, until_ends=None):
        """Reads every partition from 0 until stop is set, or, with
        until_ends ({partition: end offset}), until it has read below
        every end (bounded by stop too)."""
        last = {}

        def assign_from(parts):
            cons.assign([TopicPartition(TOPIC, p, last[p] + 1 if p in last else OFFSET_BEGINNING)
                         for p in parts])

        cons = Consumer({"bootstrap.servers": self.c.bootstrap(),
                         "group.id": "%s-%d" % (name, time.time_ns()),
                         "enable.auto.commit": False, "auto.offset.reset": "error",
                         "fetch.wait.max.ms": 100, "metadata.max.age.ms": 3000,
                         "topic.metadata.refresh.interval.ms": 1000,
                         "client.id": name,
                         "error_cb": lambda err: self.note(name, "error %s" % err)})
        try:
            assign_from(range(PARTS))
            resets = 0
            while not stop.is_set():
                if until_ends is not None and all(last.get(p, -1) + 1 >= until_ends[p]
                                                  for p in range(PARTS)):
                    return last
                m = cons.poll(0.2)
                if m is None:
                    continue
                if m.error():
                    self.note(name, "partition %s: %s" % (m.partition(), m.error()))
                    if (m.error().code() == KafkaError._AUTO_OFFSET_RESET and resets < 100):
                        # the broker said our next offset is out of range:
                        # ask again from the same place a little later
                        resets += 1
                        time.sleep(0.5)
                        assign_from(range(PARTS))
                    continue
                p, o = m.partition(), m.offset()
                self.hist.add(op="poll", client=name, partition=p, offset=o,
                              value=m.value().decode())
                last[p] = o
                with self.lock:
                    self.reads += 1
            return last
        finally:
            cons.close()

    # ---- the cluster's metadata ----------------------------------------

    def metadata(self, timeout=3, admin=None):
        """{partition: (leader, isrs)} from any broker, or None."""
        try:
            a = admin or AdminClient({"bootstrap.servers": self.c.bootstrap()})
            md = a.list_topics(topic=TOPIC, timeout=timeout)
        except Exception:
            return None
        t = md.topics.get(TOPIC)
        if t is None or t.error is not None or len(t.partitions) != PARTS:
            return None
        return {p.id: (p.leader, sorted(p.isrs)) for p in t.partitions.values()}

    def watcher(self, stop):
        admin = AdminClient({"bootstrap.servers": self.c.bootstrap(),
                             "metadata.max.age.ms": 1000})
        while not stop.is_set():
            m = self.metadata(admin=admin)
            if m is None:
                with self.lock:
                    self.meta_errors += 1
            else:
                for p, (leader, isrs) in m.items():
                    old = self.leaders.get(p)
                    if leader >= 1 and leader != old:
                        if old is not None:
                            with self.lock:
                                self.leader_changes += 1
                        self.leaders[p] = leader
                        self.hist.add(op="nemesis", what="leader", partition=p,
                                      leader=leader, isr=isrs)
            stop.wait(0.5)

    def leader_of(self, p):
        return self.leaders.get(p)


def create_topic(cluster, topic, parts, config, seconds=60):
    a = AdminClient({"bootstrap.servers": cluster.bootstrap()})
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        f = a.create_topics([NewTopic(topic, parts, 3, config=config)],
                            request_timeout=10, operation_timeout=10)[topic]
        try:
            f.result(timeout=20)
            return
        except Exception as e:
            last = e
            time.sleep(0.5)
    fail("CreateTopics %s: not within %d s (%s)" % (topic, seconds, last))


def within(fn, seconds):
    """fn's first true value within seconds, or None."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.3)
    return None


def until(what, fn, seconds):
    v = within(fn, seconds)
    if not v:
        fail("%s: not within %d s" % (what, seconds))
    return v


# ---- the schedule ------------------------------------------------------

def schedule(seed, total_s):
    """The faults of a run, drawn from seed alone: [(kind, params,
    seconds, gap_after)]; the same seed, the same list."""
    rng = random.Random(seed)
    out = []
    spent = 0.0
    kinds = ["partition", "client-partition", "oneway", "isolate", "loss",
             "pause", "kill", "reassign"]
    while spent < total_s and len(out) < 1000:
        kind = rng.choice(kinds)
        target = rng.choice([1, 2, 3, "leader"])
        part = rng.randrange(PARTS)
        if kind == "partition":
            params = {"node": target, "of": part}
        elif kind == "client-partition":
            params = {"node": target, "of": part}
        elif kind == "oneway":
            a, b = rng.sample([1, 2, 3], 2)
            params = {"from": a, "to": b}
        elif kind == "isolate":
            params = {"node": target, "of": part, "clients": rng.random() < 0.5}
        elif kind == "loss":
            params = {"node": rng.choice([1, 2, 3, CLIENT]),
                      "percent": rng.choice([10, 25, 40])}
        elif kind == "pause":
            params = {"node": target, "of": part,
                      "procs": rng.choice(["sluiced,control", "sluiced", "control"])}
        elif kind == "reassign":
            params = {"of": part, "to": rng.sample([1, 2, 3], rng.choice([2, 3]))}
        else:
            params = {"node": target, "of": part,
                      "procs": rng.choice(["sluiced,control", "sluiced,control", "sluiced",
                                           "control"])}
        lasts = round(rng.uniform(3, 8) if kind != "pause" else
                      rng.uniform(SESSION_MS / 1000 + 1, SESSION_MS / 1000 + 4), 1)
        gap = round(rng.uniform(2, 5), 1)
        out.append((kind, params, lasts, gap))
        spent += lasts + gap
    return out


def uvarint(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def reassign(cl, partition, to):
    """AlterPartitionReassignments v0 of TOPIC's partition to the brokers
    `to`, asked of each broker in turn until one answers: its error for
    the partition, or None when none answered."""
    name = TOPIC.encode()
    body = struct.pack(">i", 10000) + uvarint(2) + uvarint(len(name) + 1) + name + uvarint(2)
    body += struct.pack(">i", partition) + uvarint(len(to) + 1)
    body += b"".join(struct.pack(">i", b) for b in to) + b"\x00\x00\x00"
    frame = struct.pack(">hhi", 45, 0, 1) + struct.pack(">h", 7) + b"harness" + b"\x00" + body
    for b in cl.brokers:
        try:
            with socket.create_connection((b.addr, netns_cluster.PORTS["kafka"]),
                                          timeout=10) as s:
                s.sendall(struct.pack(">i", len(frame)) + frame)
                head = s.recv(4, socket.MSG_WAITALL)
                r = s.recv(struct.unpack(">i", head)[0], socket.MSG_WAITALL)
        except (OSError, struct.error):
            continue
        # header (corr, tags), throttle, error, message (null), one topic
        # (name), one partition: index, error
        at = 5 + 4 + 2 + 1 + 1 + 1 + len(name) + 1 + 4
        if len(r) < at + 2:
            continue
        return struct.unpack(">h", r[at:at + 2])[0]
    return None


def inject(run, cl, kind, params):
    if kind == "reassign":
        err = reassign(cl, params["of"], params["to"])
        run.hist.add(op="nemesis", kind="reassign", partition=params["of"],
                     to=params["to"], error=err)
        run.note("nemesis", "reassign %d to %s: %s" % (params["of"], params["to"], err))
        print("  reassign partition %d to %s: error %s" % (params["of"], params["to"], err),
              flush=True)
        return
    node = params.get("node")
    if node == "leader":
        node = run.leader_of(params["of"]) or 1
    if kind == "partition":
        cl.partition([node], [b.n for b in cl.brokers if b.n != node])
    elif kind == "client-partition":
        cl.partition([CLIENT], [node])
    elif kind == "oneway":
        cl.partition([params["from"]], [params["to"]], oneway=True)
    elif kind == "isolate":
        cl.isolate(node, clients=params["clients"])
    elif kind == "loss":
        cl.loss(node, params["percent"])
    elif kind == "pause":
        cl.pause(node, params["procs"].split(","))
    elif kind == "kill":
        cl.kill(node, params["procs"].split(","))


# ---- figures -----------------------------------------------------------

def windows(path, start, end):
    """(longest time with no acknowledgement in [start, end], windows
    over 2 s, first/last ack) from the history's ok sends."""
    ts = [start]
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            if e.get("op") == "send" and e.get("ok") and start <= e["t"] <= end:
                ts.append(e["t"])
    ts.append(end)
    ts.sort()
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    worst = max(range(len(gaps)), key=lambda i: gaps[i])
    return gaps[worst], ts[worst], sum(1 for g in gaps if g > 2.0)


def doctored(path):
    """The history with every read of one acknowledged value taken out:
    the checker must call it lost."""
    lines = open(path).read().splitlines()
    acked = None
    for line in lines:
        e = json.loads(line)
        if e.get("op") == "send" and e.get("ok"):
            acked = e["value"]
            break
    if acked is None:
        return None, None
    keep = [line for line in lines
            if not (json.loads(line).get("op") == "poll" and json.loads(line)["value"] == acked)]
    return acked, keep


def check_processes(cl):
    """Broker processes that exited without being told to."""
    dead = []
    for b in cl.brokers:
        for name, p in b.procs.items():
            if p.poll() is not None and name not in b.killed:
                dead.append("broker %d %s exited %d by itself" % (b.n, name, p.returncode))
    return dead


def tail(path, lines=30):
    try:
        with open(path) as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def dump(cl):
    for b in cl.brokers:
        for name in ("control", "sluiced"):
            print("---- broker %d %s (tail)" % (b.n, name))
            print(tail(os.path.join(b.dir, name + ".log")))


# ---- the runs ----------------------------------------------------------

def chaos(cl, base, seed):
    t0 = time.monotonic()
    hist_path = os.path.join(base, "history.jsonl")
    hist = History(hist_path, t0)
    clog = open(os.path.join(base, "clients.log"), "w")
    run = Run(cl, hist, clog)
    cl.listeners.append(lambda rec: hist.add(op="nemesis", **{k: v for k, v in rec.items()
                                                                if k not in ("t", "time")}))
    plan = schedule(seed, FAULT_S)
    print("seed %d (replay: SLUICE_SEED=%d), %d faults over about %d s"
          % (seed, seed, len(plan), FAULT_S), flush=True)
    for i, (kind, params, lasts, gap) in enumerate(plan):
        print("  plan %2d: %-16s %-55s %4.1f s, then %3.1f s healed"
              % (i, kind, json.dumps(params, sort_keys=True), lasts, gap))
    print("history: %s" % hist_path, flush=True)

    cl.setup()
    cl.start_all()
    cl.enter_clients()
    create_topic(cl, TOPIC, PARTS, {"min.insync.replicas": "2"})
    until("every partition led, three in sync",
          lambda: (lambda m: m and all(v[0] >= 1 and len(v[1]) == 3 for v in m.values()))(
              run.metadata()), 60)
    print("ok: topic %s: %d partitions, rf 3, min.insync.replicas 2" % (TOPIC, PARTS), flush=True)

    stop_meta = threading.Event()
    threads = [threading.Thread(target=run.watcher, args=(stop_meta,), daemon=True)]
    threads += [threading.Thread(target=run.producer, args=(n,), daemon=True)
                for n in ["p%d" % (i + 1) for i in range(PRODUCERS)]]
    threads.append(threading.Thread(target=run.committer, args=(run.stop_writes,),
                                    daemon=True))
    readers = [threading.Thread(target=run.consumer, args=(n, run.stop_reads), daemon=True)
               for n in ("c1", "c2")]
    for t in threads + readers:
        t.start()
    time.sleep(5)
    if run.acked == 0:
        dump(cl)
        fail("no write acknowledged in 5 s without faults")
    print("ok: %d writes acknowledged before the first fault" % run.acked, flush=True)

    fault_t0 = time.monotonic() - t0
    for i, (kind, params, lasts, gap) in enumerate(plan):
        inject(run, cl, kind, params)
        time.sleep(lasts)
        cl.heal()
        time.sleep(gap)
        dead = check_processes(cl)
        if dead:
            dump(cl)
            fail("; ".join(dead) + " (seed %d, history %s)" % (seed, hist_path))
    fault_t1 = time.monotonic() - t0
    print("ok: %d faults in %.0f s, healed" % (len(plan), fault_t1 - fault_t0), flush=True)

    # the end: every write answered, the replicas back, the final read
    acked_before = run.acked
    time.sleep(3)
    run.stop_writes.set()
    for t in threads[1:]:
        t.join(60)
    if any(t.is_alive() for t in threads[1:]):
        fail("a producer did not finish in 60 s")
    for p in range(PARTS):
        back = [1 + (p + k) % 3 for k in range(3)]
        if within(lambda: reassign(cl, p, back) == 0, 30) is None:
            print("note: partition %d could not be reassigned back to %s" % (p, back),
                  flush=True)
    t_heal = time.monotonic()
    m = within(lambda: (lambda m: m if m and all(v[0] >= 1 and len(v[1]) == 3
                                                 for v in m.values()) else None)(
        run.metadata()), 60)
    if m:
        print("ok: three replicas in sync on every partition %.1f s after the producers "
              "stopped" % (time.monotonic() - t_heal), flush=True)
    else:
        print("note: the in-sync sets did not all come back to three in 60 s: %s"
              % run.metadata(), flush=True)
    time.sleep(2)
    run.stop_reads.set()
    for t in readers:
        t.join(30)
    stop_meta.set()
    threads[0].join(10)
    ends = {}
    probe = Consumer({"bootstrap.servers": cl.bootstrap(), "group.id": "ends-%d" % time.time_ns()})
    for p in range(PARTS):
        ends[p] = probe.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=20)[1]
    probe.close()
    stop_final = threading.Event()
    timer = threading.Timer(90, stop_final.set)
    timer.daemon = True
    timer.start()
    last = run.consumer("final", stop_final, until_ends=ends)
    timer.cancel()
    hist.add(op="final")
    hist.close()
    clog.close()
    print("ok: final read of every partition to its end %s (read to %s)"
          % ([ends[p] for p in range(PARTS)], [last.get(p, -1) + 1 for p in range(PARTS)]),
          flush=True)

    # every acknowledged commit survived: the group's offsets are at least
    # the last one acknowledged (and no more than the last one tried)
    got = within(run.committed, 60)
    if not got:
        dump(cl)
        fail("the offsets of group %s cannot be read after the faults healed" % COMMIT_GROUP)
    if any(got[p] < run.commit_acked for p in range(PARTS)):
        dump(cl)
        fail("acknowledged commits lost: group %s reads %s, the last commit acknowledged was %d "
             "(seed %d)" % (COMMIT_GROUP, got, run.commit_acked, seed))
    tried = run.commits_ok + run.commits_failed
    if any(got[p] > tried for p in range(PARTS)):
        fail("group %s reads %s, more than any commit made (%d)" % (COMMIT_GROUP, got, tried))
    print("ok: group %s's offsets %s after %d commits acknowledged (the last %d) and %d not"
          % (COMMIT_GROUP, [got[p] for p in range(PARTS)], run.commits_ok, run.commit_acked,
             run.commits_failed), flush=True)

    worst, at, over2 = windows(hist_path, fault_t0, fault_t1)
    print("figures: %d writes acknowledged (%d during the faults), %d not acknowledged, "
          "%d reads, %d producer restarts on fatal errors"
          % (run.acked, acked_before, run.failed, run.reads, run.fatal))
    print("figures: longest time without an acknowledgement while faulted: %.1f s "
          "(from t=%.1f s); %d windows over 2 s" % (worst, at, over2))
    print("figures: %d leader changes seen in Metadata; %d Metadata requests unanswered"
          % (run.leader_changes, run.meta_errors), flush=True)
    for f in run.fatals:
        print("  producer fatal error: %s" % f, flush=True)

    with open(hist_path) as f:
        rc, ch = queue_checker.check(f)
    if rc != 0:
        dump(cl)
        fail("the queue checker found anomalies (seed %d, history %s, faults %s)"
             % (seed, hist_path, cl.log_path))
    print("ok: the queue checker finds no anomaly in %d acknowledged values" % len(ch.acked),
          flush=True)

    value, lines = doctored(hist_path)
    if value is None:
        fail("nothing acknowledged to doctor")
    import io
    out = io.StringIO()
    rc, ch = queue_checker.check(lines, out=out)
    if rc == 0 or len(ch.found["lost"]) != 1:
        fail("the checker did not call %r lost once its reads were removed: %s"
             % (value, out.getvalue()))
    print("ok: with the reads of %r removed, the checker calls it lost" % value, flush=True)

    for b in cl.brokers:
        codes = cl.stop(b)
        bad = {k: v for k, v in codes.items() if v != 0}
        if bad:
            dump(cl)
            fail("broker %d did not stop cleanly on SIGTERM: %s" % (b.n, bad))
    print("ok: every broker stopped cleanly (exit 0)", flush=True)


def unclean(cl, base):
    t0 = time.monotonic()
    hist_path = os.path.join(base, "history.jsonl")
    hist = History(hist_path, t0)
    clog = open(os.path.join(base, "clients.log"), "w")
    run = Run(cl, hist, clog)
    cl.listeners.append(lambda rec: hist.add(op="nemesis", **{k: v for k, v in rec.items()
                                                                if k not in ("t", "time")}))
    global TOPIC, PARTS
    TOPIC, PARTS = "unclean", 1
    cl.setup()
    cl.start_all()
    cl.enter_clients()
    create_topic(cl, TOPIC, 1, {"min.insync.replicas": "1",
                                "unclean.leader.election.enable": "true"})
    m = until("partition 0 led, three in sync",
              lambda: (lambda m: m if m and m[0][0] >= 1 and len(m[0][1]) == 3 else None)(
                  run.metadata()), 60)
    leader = m[0][0]
    a, b = leader, [n for n in (1, 2, 3) if n != leader][0]
    c = [n for n in (1, 2, 3) if n not in (a, b)][0]
    print("ok: topic unclean (unclean.leader.election.enable=true, min.insync.replicas 1): "
          "leader %d, followers %d and %d" % (a, b, c), flush=True)

    cl.kill(c)
    until("broker %d out of the in-sync set" % c,
          lambda: (lambda m: m and c not in m[0][1])(run.metadata()), 30)

    def write(first, count):
        got = []

        def done(err, msg):
            got.append(err is None)
            v = msg.value().decode()
            if err is None:
                hist.add(op="send", client="p1", value=v, partition=0,
                         offset=msg.offset(), ok=True)
            else:
                hist.add(op="send", client="p1", value=v, partition=0, ok=False,
                         error=err.name())
        p = Producer({"bootstrap.servers": cl.bootstrap(), "acks": "all",
                      "enable.idempotence": True, "message.timeout.ms": 20000})
        for i in range(first, first + count):
            p.produce(TOPIC, value=b"u-%d" % i, partition=0, on_delivery=done)
            p.poll(0)
        p.flush(30)
        return sum(got)

    n = write(0, 200)
    if n != 200:
        fail("%d of 200 acknowledged by brokers %d and %d" % (n, a, b))
    print("ok: broker %d killed; 200 writes acknowledged by brokers %d and %d" % (c, a, b),
          flush=True)

    cl.kill(a, ["sluiced"])
    cl.kill(b, ["sluiced"])
    cl.start(cl.brokers[c - 1])
    m = until("broker %d elected uncleanly" % c,
              lambda: (lambda m: m if m and m[0][0] == c else None)(run.metadata()), 60)
    print("ok: brokers %d and %d's sluiced killed, broker %d restarted and elected "
          "(in sync %s)" % (a, b, c, m[0][1]), flush=True)
    n2 = write(200, 50)
    stop = threading.Event()
    timer = threading.Timer(30, stop.set)
    timer.daemon = True
    timer.start()
    probe = Consumer({"bootstrap.servers": cl.bootstrap(), "group.id": "ends-%d" % time.time_ns()})
    end = probe.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=20)[1]
    probe.close()
    run.consumer("final", stop, until_ends={0: end})
    timer.cancel()
    hist.add(op="final")
    hist.close()
    clog.close()
    print("ok: %d more writes acknowledged by broker %d alone; its log ends at %d"
          % (n2, c, end), flush=True)
    out_lines = []

    class Out:
        def write(self, s):
            out_lines.append(s)
    with open(hist_path) as f:
        rc, ch = queue_checker.check(f, out=Out())
    print("checker: " + "".join(out_lines).strip())
    lost = len(ch.found["lost"])
    if rc == 0 or lost == 0:
        fail("the unclean election lost nothing the checker saw (history %s)" % hist_path)
    print("ok: the checker reports %d acknowledged write(s) lost by the unclean election "
          "(history %s)" % (lost, hist_path), flush=True)


def main():
    mode = "unclean" if "--unclean" in sys.argv[1:] else "chaos"
    seed = int(os.environ.get("SLUICE_SEED") or random.SystemRandom().randrange(1, 2**31))
    base = tempfile.mkdtemp(prefix="fault-%s-" % mode,
                            dir=os.environ.get("SLUICE_TEST_TMPDIR", "/var/tmp"))
    cl = NetnsCluster(base, 3, os.environ["SLUICED"], os.environ["SLUICE_CONTROL"],
                      extra=BROKER_OPTS)
    ok = False
    try:
        if mode == "chaos":
            chaos(cl, base, seed)
        else:
            unclean(cl, base)
        ok = True
    finally:
        cl.close()
        if ok and os.environ.get("SLUICE_KEEP") != "1":
            shutil.rmtree(base, ignore_errors=True)
        else:
            print("kept for reading: %s (seed %d)" % (base, seed), flush=True)


main()
