"""A three-broker cluster's metadata quorum through Kafka's DescribeQuorum,
and `sluice cluster status` against it.

Run by meson with SLUICED, SLUICE_CONTROL, SLUICE and SLUICE_TEST_TMPDIR
set.  No Python Kafka client here sends DescribeQuorum, so the test encodes
and decodes it itself (below, from Kafka's DescribeQuorum v0-2 message
definitions).

1. Three brokers (every one a voter) start on free loopback ports.  Each
   broker answers DescribeQuorum v1 and v2 with the same quorum, whichever
   is asked (the followers forward it to the active controller):
   __cluster_metadata partition 0, no error, the active controller as
   leader, voters [1, 2, 3], an epoch >= 1, a high watermark > 0; within a
   few seconds every voter's log end offset is known and none is more than
   a few entries behind the high watermark, and the followers' last fetch
   and caught-up times are recent; v2 names the voters' Raft endpoints
   (listener CONTROLLER).  A request for another topic or partition is
   UNKNOWN_TOPIC_OR_PARTITION.
2. `sluice cluster status` (text and --json) with a topic of replication
   factor 3: healthy, exit 0, the three brokers unfenced, the leader named.
3. One broker that is not the active controller is killed (SIGKILL, both
   its processes): once the controller has fenced it, `sluice cluster
   status` exits 1 and names the broker as fenced and the topic's
   partitions as under-replicated; --json says the same.
4. With no broker reachable it exits 2.
Every wait is bounded; every process is stopped by pid at the end.
"""
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_lib import (BAD_EXITS, compact_str, controller, create,  # noqa: E402
                         dump_logs, fail, recv_exact, start_cluster, until,
                         uvarint)

N = 3
SLUICE = os.environ["SLUICE"]
DESCRIBE_QUORUM = 55


# ---- DescribeQuorum on the wire (every version is flexible) ----

def request(version, corr, topic="__cluster_metadata", partition=0):
    # header v2: key, version, correlation id, client id (int16 length),
    # no tagged fields
    cid = b"quorum-test"
    h = struct.pack(">hhih", DESCRIBE_QUORUM, version, corr, len(cid)) + cid + b"\0"
    # one topic of one partition, each struct ending with no tagged fields
    body = uvarint(2) + compact_str(topic) + uvarint(2) + struct.pack(">i", partition)
    body += b"\0" + b"\0" + b"\0"
    msg = h + body
    return struct.pack(">i", len(msg)) + msg


class Reader:
    def __init__(self, b):
        self.b, self.i = b, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.i)
        self.i += struct.calcsize(fmt)
        return v[0]

    def uvarint(self):
        n = shift = 0
        while True:
            c = self.b[self.i]
            self.i += 1
            n |= (c & 0x7F) << shift
            if c < 0x80:
                return n
            shift += 7

    def string(self):
        n = self.uvarint()
        if n == 0:
            return None
        s = self.b[self.i:self.i + n - 1].decode()
        self.i += n - 1
        return s

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.i += self.uvarint()

    def array(self, fn):
        n = self.uvarint()
        return None if n == 0 else [fn() for _ in range(n - 1)]


def decode(version, b):
    r = Reader(b)
    out = {"corr": r.take(">i")}
    r.tags()
    out["error_code"] = r.take(">h")
    if version >= 2:
        out["error_message"] = r.string()

    def replica():
        rs = {"id": r.take(">i")}
        if version >= 2:
            r.i += 16  # directory id
        rs["log_end_offset"] = r.take(">q")
        if version >= 1:
            rs["last_fetch"] = r.take(">q")
            rs["last_caught_up"] = r.take(">q")
        r.tags()
        return rs

    def partition():
        p = {"index": r.take(">i"), "error_code": r.take(">h")}
        if version >= 2:
            p["error_message"] = r.string()
        p["leader_id"] = r.take(">i")
        p["leader_epoch"] = r.take(">i")
        p["high_watermark"] = r.take(">q")
        p["voters"] = r.array(replica)
        p["observers"] = r.array(replica)
        r.tags()
        return p

    def topic():
        t = {"name": r.string(), "partitions": r.array(partition)}
        r.tags()
        return t

    out["topics"] = r.array(topic)
    if version >= 2:
        def listener():
            li = {"name": r.string(), "host": r.string(), "port": r.take(">H")}
            r.tags()
            return li

        def node():
            nd = {"id": r.take(">i"), "listeners": r.array(listener)}
            r.tags()
            return nd
        out["nodes"] = r.array(node)
    r.tags()
    if r.i != len(b):
        fail("DescribeQuorum v%d answer: %d trailing bytes" % (version, len(b) - r.i))
    return out


def describe_quorum(node, version, **kw):
    """The decoded answer of node, or None when it closed or timed out."""
    try:
        with socket.create_connection(("127.0.0.1", node.kafka), timeout=5) as s:
            s.sendall(request(version, 7, **kw))
            n = struct.unpack(">i", recv_exact(s, 4))[0]
            out = decode(version, recv_exact(s, n))
    except (OSError, ConnectionError):
        return None
    if out["corr"] != 7:
        fail("DescribeQuorum: correlation id %d" % out["corr"])
    return out


def the_partition(a):
    if a["error_code"] != 0 or len(a["topics"]) != 1:
        return None
    t = a["topics"][0]
    if t["name"] != "__cluster_metadata" or len(t["partitions"]) != 1:
        fail("DescribeQuorum: not __cluster_metadata's one partition: %r" % a)
    return t["partitions"][0]


def led_by(node, leader, version=1):
    """node's answer, once it names leader without error, else None."""
    a = describe_quorum(node, version)
    p = a and the_partition(a)
    if not p or p["error_code"] != 0 or p["leader_id"] != leader:
        return None
    return a


def status(nodes, *args):
    """`sluice cluster status` against nodes: (exit code, stdout, stderr)."""
    boot = ",".join(nd.bootstrap() for nd in nodes)
    r = subprocess.run([SLUICE, "cluster", "status", "--bootstrap", boot] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=60)
    return r.returncode, r.stdout, r.stderr


base = tempfile.mkdtemp(prefix="quorum-", dir=os.environ.get("SLUICE_TEST_TMPDIR", "/var/tmp"))
nodes = []
ok_end = False
try:
    nodes = start_cluster(base, N)
    ctl = until("an active controller", lambda: controller(nodes), 30)
    leader = ctl.n

    # 1. every broker answers with the controller's quorum
    for nd in nodes:
        a = until("broker %d's DescribeQuorum names node %d" % (nd.n, leader),
                  lambda nd=nd: led_by(nd, leader), 20)
        p = the_partition(a)
        ids = sorted(v["id"] for v in p["voters"])
        if ids != [1, 2, 3]:
            fail("broker %d: voters %r" % (nd.n, ids))
        if p["leader_epoch"] < 1 or p["high_watermark"] < 1:
            fail("broker %d: epoch %d, high watermark %d" % (nd.n, p["leader_epoch"],
                                                             p["high_watermark"]))
        if p["observers"]:
            fail("broker %d: observers %r (every broker is a voter)" % (nd.n, p["observers"]))
    print("ok: every broker answers DescribeQuorum v1 with node %d leading voters [1, 2, 3]"
          % leader)

    def caught_up():
        a = led_by(nodes[0], leader)
        p = a and the_partition(a)
        if not p:
            return None
        now_ms = time.time() * 1000
        for v in p["voters"]:
            if v["log_end_offset"] < 0 or v["log_end_offset"] + 5 < p["high_watermark"]:
                return None
            if v["last_caught_up"] < now_ms - 10000:
                return None
            if v["id"] != leader and v["last_fetch"] < now_ms - 10000:
                return None
            if v["id"] == leader and v["last_fetch"] != -1:
                fail("the leader's own last fetch is %d, not -1" % v["last_fetch"])
        return p
    p = until("every voter's log end offset near the high watermark", caught_up, 20)
    print("ok: voters' log end offsets %r, high watermark %d, epoch %d"
          % ([v["log_end_offset"] for v in p["voters"]], p["high_watermark"],
             p["leader_epoch"]))

    a = until("DescribeQuorum v2", lambda: led_by(nodes[1], leader, 2), 10)
    if a["error_message"] is not None or the_partition(a)["error_message"] is not None:
        fail("v2 error messages %r" % a)
    nodes_seen = sorted((nd["id"], [(li["name"], li["host"], li["port"])
                                    for li in nd["listeners"]]) for nd in a["nodes"])
    want = sorted((nd.n, [("CONTROLLER", "127.0.0.1", nd.raft)]) for nd in nodes)
    if nodes_seen != want:
        fail("v2 nodes %r, want %r" % (nodes_seen, want))
    print("ok: v2 names each voter's Raft endpoint")

    for kw in ({"topic": "orders"}, {"partition": 1}):
        a = describe_quorum(nodes[2], 1, **kw)
        if not a or a["error_code"] != 3 or a["topics"]:
            fail("DescribeQuorum for %r: %r" % (kw, a))
    print("ok: another topic or partition is UNKNOWN_TOPIC_OR_PARTITION")

    # 2. a healthy cluster
    until("CreateTopics orders rf=3", lambda: create(nodes[0], "orders", 3, 3) == 0, 40)
    rc, out, _ = until("cluster status healthy",
                       lambda: (lambda r: r if r[0] == 0 else None)(status(nodes)), 30)
    print(out)
    for nd in nodes:
        if ("127.0.0.1:%d" % nd.kafka) not in out:
            fail("cluster status does not list broker %d" % nd.n)
    rc, js, err = status(nodes, "--json")
    if rc != 0:
        fail("cluster status --json exit %d: %s%s" % (rc, js, err))
    j = json.loads(js)
    if j["healthy"] is not True or j["quorum"]["leader"] != leader or \
            sorted(b["id"] for b in j["brokers"]) != [1, 2, 3] or \
            any(b["fenced"] for b in j["brokers"]):
        fail("cluster status --json: %s" % js)
    # every partition with its leader's high watermark (0: nothing written)
    every = j.get("every_partition", [])
    if sorted((p["topic"], p["partition"]) for p in every) != [("orders", i) for i in range(3)] \
            or any(p["high_watermark"] != 0 or p["leader"] not in (1, 2, 3) for p in every):
        fail("cluster status --json every_partition: %s" % every)
    if "orders-0  leader" not in out or "high watermark 0" not in out:
        fail("cluster status does not list every partition with its high watermark")
    print("ok: cluster status says healthy (exit 0), text and JSON, every partition's "
          "leader, in-sync replicas and high watermark")

    # 3. a broker that is not the controller dies
    victim = next(nd for nd in nodes if nd.n != leader)
    victim.kill("control")
    victim.kill("sluiced")
    def victim_fenced():
        rc, js, _ = status(nodes, "--json")
        if rc != 1:
            return None
        j = json.loads(js)
        return j if any(b["id"] == victim.n and b["fenced"] for b in j["brokers"]) else None
    j = until("cluster status exit 1 with broker %d fenced" % victim.n, victim_fenced, 40)
    rc, out, err = status(nodes)
    print(out + err)
    if rc != 1:
        fail("cluster status exit %d with broker %d fenced" % (rc, victim.n))
    dead = [b for b in j["brokers"] if b["id"] == victim.n]
    if j["healthy"] is not False or not dead or not dead[0]["fenced"] or \
            not j["under_replicated"]:
        fail("cluster status --json after broker %d died: %s" % (victim.n, json.dumps(j)))
    if ("broker %d fenced" % victim.n) not in out:
        fail("cluster status does not name broker %d" % victim.n)
    print("ok: with broker %d killed, cluster status exits 1 and names it" % victim.n)

    # 4. nothing reachable
    for nd in nodes:
        nd.kill("control")
        nd.kill("sluiced")
    rc, out, err = status(nodes)
    if rc != 2 or "cannot reach the cluster" not in err:
        fail("cluster status with every broker down: exit %d: %s%s" % (rc, out, err))
    print("ok: no broker reachable: exit 2 (%s)" % err.strip().splitlines()[-1])

    if BAD_EXITS:
        fail("; ".join(BAD_EXITS))
    ok_end = True
finally:
    if not ok_end:
        dump_logs(nodes)
    for nd in nodes:
        nd.stop()
    if ok_end:
        shutil.rmtree(base, ignore_errors=True)
print("ok: quorum_describe")
