#!/usr/bin/python3
"""perf/cluster_bench.py [--build DIR] [--count N] [--sizes S,S] [--kills K]
                        [--session-ms MS] [--skip-throughput] [--skip-failover]

Replication's cost and a leader's failover, measured on this machine.

1. Throughput, in one run: one producer (perf/sluice-kafka-bench, librdkafka,
   acks=all, 1 MiB batches, linger 5 ms) writes N messages of each size to
   a one-partition topic
     - on a single broker (replication factor 1), and
     - on a three-broker cluster (replication factor 3, min.insync.replicas
       2: every batch fdatasynced on two brokers before it is acknowledged),
   and the table gives msgs/s and MB/s of each and the cluster / single
   ratio.  The three brokers share this machine's CPUs and disk with the
   producer, so the ratio is what replication costs here, not on three
   hosts.
2. Failover: on the cluster, a producer (confluent-kafka-python,
   idempotent, acks=all) sends without pause to a replication factor 3
   topic; K times the partition's leader node (its sluiced and
   sluice-control) is killed with SIGKILL, and the time from the kill to
   the first message acknowledged after it is taken (detection: the
   broker session timeout, --session-ms, default 3000; then the election,
   the metadata push and the client's retry).  The node is restarted and the
   next round waits until its replica is back in sync.  Prints the median
   and the maximum, and where the time went, from the survivors' logs:
   when the controller fenced the dead broker (detection; when the dead
   node was also the active controller, a new one is elected first), when
   the new leader's sluiced took the partition (election and the metadata
   push), and the first acknowledgement (the client finding the new
   leader and sending again).

Ports from 29092 up (never 9092/9093), data under ./data/perf-cluster.
Every loop is bounded in count and time; every process is stopped by pid.
Figures and the report go to perf/results/cluster-<UTC time>.{json,md}.
"""
import argparse
import datetime
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, "/usr/lib/python3/dist-packages")
from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def die(msg):
    print("cluster_bench: " + msg, file=sys.stderr, flush=True)
    raise SystemExit(1)


class Node:
    def __init__(self, args, base, n, voters):
        self.n = n
        self.port = 29092 + 100 * (n - 1)
        self.dir = os.path.join(base, "node-%d" % n)
        self.opts = ["-o", "node_id=%d" % n, "-o", "data_dir=" + self.dir,
                     "-o", "telemetry_socket=" + os.path.join(self.dir, "tel.sock"),
                     "-o", "kafka_port=%d" % self.port,
                     "-o", "tcp_port=%d" % (self.port + 1),
                     "-o", "udp_port=%d" % (self.port + 1),
                     "-o", "broker_heartbeat_interval_ms=%d" % max(50, args.session_ms // 6),
                     "-o", "broker_session_timeout_ms=%d" % args.session_ms]
        if voters:
            self.opts += ["-o", "controller_quorum_voters=" + voters]
        self.build = args.build
        self.procs = []
        os.makedirs(self.dir, exist_ok=True)

    def start(self):
        for prog in ("dataplane/sluiced", "control/sluice-control"):
            log = open(os.path.join(self.dir, os.path.basename(prog) + ".log"), "a")
            self.procs.append(subprocess.Popen(
                [os.path.join(self.build, prog), "-c", "/dev/null"] + self.opts,
                stdout=log, stderr=subprocess.STDOUT))

    def kill(self, sig=signal.SIGKILL):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(sig)
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []

    def bootstrap(self):
        return "127.0.0.1:%d" % self.port


def log_time(stamp):
    """Seconds since the epoch of a log line's UTC stamp
    (2026-12-05T11:35:30.798Z)."""
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def first_after(nodes, log, needle, after):
    """The earliest time (epoch seconds) after `after` at which a line
    holding needle appears in log of nodes, or None."""
    best = None
    for nd in nodes:
        try:
            with open(os.path.join(nd.dir, log)) as f:
                for line in f:
                    if needle not in line:
                        continue
                    try:
                        t = log_time(line.split(" ", 1)[0])
                    except ValueError:
                        continue
                    if t > after and (best is None or t < best):
                        best = t
        except OSError:
            pass
    return best


def until(what, fn, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    die("%s: not within %d s" % (what, seconds))


def create_topic(bootstrap, name, rf, min_isr=None):
    cfg = {"min.insync.replicas": str(min_isr)} if min_isr else {}
    a = AdminClient({"bootstrap.servers": bootstrap})

    def attempt():
        f = a.create_topics([NewTopic(name, 1, rf, config=cfg)], request_timeout=10)[name]
        try:
            f.result(timeout=15)
            return True
        except Exception:
            return False
    until("create topic %s" % name, attempt, 60)


def partition_state(bootstrap, topic):
    """(leader, isr) of partition 0 as Metadata says, or None."""
    try:
        md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=5)
        p = md.topics[topic].partitions[0]
        return p.leader, list(p.isrs)
    except Exception:
        return None


def produce(args, bootstrap, topic, size, count):
    out = subprocess.run([os.path.join(args.build, "perf/sluice-kafka-bench"), "produce",
                          "-b", bootstrap, "--topic", topic, "--count", str(count),
                          "--size", str(size), "--acks", "all", "--json",
                          "--timeout", "300"],
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        die("sluice-kafka-bench produce: %s" % out.stderr.strip()[-400:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def throughput(args, base):
    rows = []
    sizes = [int(s) for s in args.sizes.split(",")]
    single = Node(args, os.path.join(base, "single"), 1, "")
    single.start()
    try:
        for s in sizes:
            create_topic(single.bootstrap(), "single-%d" % s, 1)
            r = produce(args, single.bootstrap(), "single-%d" % s, s, args.count)
            rows.append(("single broker, rf 1", s, r))
    finally:
        single.kill(signal.SIGTERM)
    nodes = start_cluster(args, os.path.join(base, "tp"))
    try:
        for s in sizes:
            create_topic(nodes[0].bootstrap(), "rep-%d" % s, 3, 2)
            leader = until("a leader", lambda: (partition_state(nodes[0].bootstrap(),
                                                                "rep-%d" % s) or (None,))[0], 30)
            at = [nd for nd in nodes if nd.n == leader][0]
            # the leader's own broker knows it too (the views reach each
            # broker in their own time)
            until("broker %d's metadata naming it the leader" % leader,
                  lambda: (partition_state(at.bootstrap(), "rep-%d" % s) or (None,))[0]
                  == leader, 30)
            r = produce(args, at.bootstrap(), "rep-%d" % s, s, args.count)
            rows.append(("3 brokers, rf 3, min.isr 2", s, r))
    finally:
        for nd in nodes:
            nd.kill(signal.SIGTERM)
    return rows


def start_cluster(args, base):
    voters = ",".join("%d@127.0.0.1:%d" % (i, 29094 + 100 * (i - 1)) for i in (1, 2, 3))
    nodes = [Node(args, base, i, voters) for i in (1, 2, 3)]
    for nd in nodes:
        nd.start()
    return nodes


def failover(args, base):
    nodes = start_cluster(args, os.path.join(base, "fo"))
    times, phases = [], []
    try:
        boot = ",".join(nd.bootstrap() for nd in nodes)
        create_topic(boot, "failover", 3, 2)
        acked = []
        errors = []

        def cb(err, msg):
            if err is None:
                acked.append((time.monotonic(), msg.value()))
            else:
                errors.append(str(err))
        p = Producer({"bootstrap.servers": boot, "acks": "all",
                      "enable.idempotence": True, "linger.ms": 1,
                      "message.timeout.ms": 120000,
                      "topic.metadata.refresh.interval.ms": 1000,
                      "on_delivery": cb})
        end_all = time.monotonic() + 60 + args.kills * 90
        for k in range(args.kills):
            if time.monotonic() > end_all:
                die("out of time after %d kills" % k)
            # in sync and flowing before the kill
            st = until("all three replicas in sync",
                       lambda: (lambda s: s if s and s[0] > 0 and len(s[1]) == 3
                                else None)(partition_state(boot, "failover")), 90)
            leader = st[0]
            t_end = time.monotonic() + 1
            while time.monotonic() < t_end:
                p.produce("failover", b"x" * 100)
                p.poll(0.001)
            victim = [nd for nd in nodes if nd.n == leader][0]
            victim.kill()
            t_kill = time.monotonic()
            wall_kill = time.time()
            got = None
            deadline = t_kill + 60
            # only messages sent after the kill count: a callback for one
            # acknowledged before it may run after it
            mark = (b"after-kill-%d-" % k).ljust(100, b"y")
            while got is None and time.monotonic() < deadline:
                p.produce("failover", mark)
                p.poll(0.005)
                after = [t for t, v in acked if v == mark]
                if after:
                    got = after[0] - t_kill
            if got is None:
                die("round %d: nothing acknowledged within 60 s of killing node %d"
                    % (k + 1, victim.n))
            times.append(got)
            survivors = [nd for nd in nodes if nd is not victim]
            fenced = first_after(survivors, "sluice-control.log",
                                 "broker %d: no heartbeat" % victim.n, wall_kill)
            new_ctl = first_after(survivors, "sluice-control.log",
                                  "this node is the active controller", wall_kill)
            led = first_after(survivors, "sluiced.log", "failover-0: leader at epoch",
                              wall_kill)
            part = {"ack": got,
                    "fenced": fenced - wall_kill if fenced else None,
                    "leader": led - wall_kill if led else None,
                    "controller_moved": new_ctl is not None and (
                        fenced is None or new_ctl < fenced)}
            phases.append(part)
            print("  kill %2d: node %d (leader%s) killed: fenced after %s s, new leader "
                  "after %s s, next ack after %.2f s"
                  % (k + 1, victim.n, ", controller" if part["controller_moved"] else "",
                     "%.2f" % part["fenced"] if fenced else "?",
                     "%.2f" % part["leader"] if led else "?", got), flush=True)
            victim.start()
            acked.clear()
        p.flush(30)
    finally:
        for nd in nodes:
            nd.kill(signal.SIGTERM)
    return times, errors, phases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--count", type=int, default=300000)
    ap.add_argument("--sizes", default="100,1024")
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--session-ms", type=int, default=3000)
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-failover", action="store_true")
    args = ap.parse_args()
    base = os.path.join(ROOT, "data", "perf-cluster")
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    stamp = datetime.datetime.utcnow().strftime("%Y-%m-%dT%H%M%SZ")
    report = ["# cluster_bench %s (commit %s, %d CPUs)" % (stamp, commit, os.cpu_count()),
              "", "`perf/cluster_bench.py %s`" % " ".join(sys.argv[1:]), ""]
    result = {"commit": commit, "time": stamp}
    if not args.skip_throughput:
        rows = throughput(args, base)
        report += ["| setup | size | msgs/s | MB/s | p50 us | p99 us |",
                   "|---|---:|---:|---:|---:|---:|"]
        by_size = {}
        for name, size, r in rows:
            mps, mbs = r["msgs_per_s"], r["mb_per_s"]
            report.append("| %s | %d | %s | %.1f | %d | %d |" % (
                name, size, format(int(mps), ","), mbs, r["p50_us"], r["p99_us"]))
            by_size.setdefault(size, []).append(mps)
        for size, v in by_size.items():
            if len(v) == 2 and v[0]:
                report.append("")
                report.append("%d B: cluster / single = %.2f" % (size, v[1] / v[0]))
        result["throughput"] = [{"setup": n, "size": s, "result": r} for n, s, r in rows]
    if not args.skip_failover:
        times, errors, phases = failover(args, base)
        med, mx = statistics.median(times), max(times)
        report += ["", "Failover over %d leader kills (session timeout %d ms): "
                   "median %.2f s, max %.2f s; %d delivery errors"
                   % (len(times), args.session_ms, med, mx, len(errors))]
        report += ["", "| kills | count | fenced (median) | new leader (median) | "
                   "next ack (median) |", "|---|---:|---:|---:|---:|"]
        for label, sel in (("leader only", False), ("leader and active controller", True)):
            rows = [ph for ph in phases if ph["controller_moved"] == sel]
            if not rows:
                continue

            def med_of(key):
                v = [ph[key] for ph in rows if ph[key] is not None]
                return "%.2f s" % statistics.median(v) if v else "?"
            report.append("| %s | %d | %s | %s | %s |" % (
                label, len(rows), med_of("fenced"), med_of("leader"), med_of("ack")))
        result["failover_s"] = times
        result["failover_phases"] = phases
        result["delivery_errors"] = errors[:20]
    text = "\n".join(report) + "\n"
    print(text)
    out = os.path.join(ROOT, "perf", "results", "cluster-" + stamp)
    with open(out + ".json", "w") as f:
        json.dump(result, f, indent=1)
    with open(out + ".md", "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
