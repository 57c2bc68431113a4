"""Queues over the native protocol in a cluster of three brokers
(docs/queues.md): libsluice's queue consumer asks each partition's leader
(LEADERS), so one consumer given one broker takes the messages of every
partition; request-reply works there too.

Run by meson with SLUICED, SLUICE_CONTROL, SLUICE (the CLI) and
SLUICE_TEST_TMPDIR set.

1. A topic of 3 partitions, 3 replicas, whose leaders are on different
   brokers; 60 messages acknowledged (acks=all), 20 to each partition.
2. `sluice respond` given broker 1 alone (its group starting at the log's
   start): all 60 handled, each once; a second one finds nothing left.
3. `sluice respond` of a second topic in the background and `sluice
   request` through broker 2: the reply comes back.
4. `sluice route add` says routing rules are a single broker's.
Every wait is bounded; every process is stopped by pid at the end.
"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_lib import (clean_up, create, fail, produce_acked,  # noqa: E402
                         start_cluster, stop_all, topic_metadata, until)

CLI = os.environ.get("SLUICE")
if not CLI or not os.access(CLI, os.X_OK):
    fail("SLUICE must name the sluice CLI (meson test sets it)")


def cli(node, *args, want=0, timeout=60):
    r = subprocess.run([CLI, "-b", "127.0.0.1:%d" % node.native] + list(args),
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != want:
        fail("sluice %s: exit %d, want %d\nstdout: %s\nstderr: %s"
             % (" ".join(args), r.returncode, want, r.stdout, r.stderr))
    return r.stdout, r.stderr


def leaders_spread(nodes, topic):
    m = topic_metadata(nodes, topic)
    if not m or len(m[1]) != 3 or any(p.leader <= 0 for p in m[1].values()):
        return None
    return m if len(set(p.leader for p in m[1].values())) > 1 else None


base = tempfile.mkdtemp(prefix="queue-cluster-",
                        dir=os.environ.get("SLUICE_TEST_TMPDIR", "/var/tmp"))
nodes = []
ok_end = False
try:
    nodes = start_cluster(base, 3, extra=(
        "-o", "share_auto_offset_reset=earliest",
        "-o", "share_record_lock_duration_ms=5000"))
    until("CreateTopics nq", lambda: create(nodes[0], "nq", 3, 3) in (0, 36), 40)
    md = until("nq's leaders on more than one broker",
               lambda: leaders_spread(nodes, "nq"), 40)
    acked = produce_acked(nodes, "nq", 60, partitions=(0, 1, 2))
    if len(acked) != 60:
        fail("%d of 60 messages acknowledged" % len(acked))
    print("ok: 60 messages acknowledged to nq, partitions led by brokers %s"
          % sorted(p.leader for p in md[1].values()), flush=True)

    _, err = cli(nodes[0], "respond", "nq", "--count", "60", "--idle-ms",
                 "15000", timeout=90)
    if "60 handled" not in err:
        fail("respond through broker 1: %r" % err)
    _, err = cli(nodes[0], "respond", "nq", "--idle-ms", "3000")
    if "0 handled" not in err:
        fail("after all 60 were accepted another respond found some: %r" % err)
    print("ok: one queue consumer given broker 1 took all 60 from the three "
          "leaders, each once; nothing left", flush=True)

    until("CreateTopics rpc", lambda: create(nodes[0], "rpc", 1, 3) in (0, 36), 40)
    until("rpc's leader", lambda: (lambda m: m if m and m[1][0].leader > 0
                                   else None)(topic_metadata(nodes, "rpc")), 30)
    resp = subprocess.Popen([CLI, "-b", "127.0.0.1:%d" % nodes[2].native,
                             "respond", "rpc", "--exec", "tr a-z A-Z",
                             "--count", "1", "--idle-ms", "30000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        t0 = time.monotonic()
        r = subprocess.run([CLI, "-b", "127.0.0.1:%d" % nodes[1].native,
                            "request", "rpc", "cluster", "--timeout-ms",
                            "20000"], capture_output=True, text=True,
                           timeout=60)
        if r.returncode or r.stdout != "CLUSTER\n":
            resp.kill()
            _, rerr = resp.communicate(timeout=10)
            fail("request through broker 2: exit %d %r %r; the responder "
                 "said: %r" % (r.returncode, r.stdout, r.stderr, rerr))
        _, rerr = resp.communicate(timeout=30)
        if resp.returncode != 0:
            fail("the responder: exit %d\n%s" % (resp.returncode, rerr))
    finally:
        if resp.poll() is None:
            resp.kill()
    print("ok: a request through broker 2 answered by a responder on broker 3 "
          "(%.1f s)" % (time.monotonic() - t0), flush=True)
    _, err = cli(nodes[0], "route", "add", "r", "--from", "nq", "--to", "rpc",
                 want=1)
    if "served by a single broker" not in err:
        fail("route add in a cluster: %r" % err)
    print("ok: route add in a cluster says routing is a single broker's",
          flush=True)
    stop_all(nodes)
    ok_end = True
finally:
    clean_up(nodes, base, ok_end, 40)
