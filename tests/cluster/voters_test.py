"""Changing the metadata quorum's voters at run time (AddRaftVoter,
RemoveRaftVoter; `sluice cluster add-voter` / `remove-voter`).

Run by meson with SLUICED, SLUICE_CONTROL, SLUICE and SLUICE_TEST_TMPDIR.

1. Three voters; node 4 started with controller_address (not among
   controller_quorum_voters): it says it waits to be added; node 5, a
   broker only, with the same voter list.
2. `sluice cluster add-voter 4 HOST:PORT` through node 1: node 4 catches
   up and votes; `sluice cluster status --json` lists voters 1-4; node 4
   registers as a broker.
3. Refusals, each request written byte by byte: adding 4 again is
   DUPLICATE_VOTER, another cluster id INCONSISTENT_CLUSTER_ID, removing
   node 9 VOTER_NOT_FOUND, an add without a listener INVALID_REQUEST.
4. A topic of replication factor 3; 200 records acknowledged (acks=all).
5. The active controller removes itself (`sluice cluster remove-voter`):
   the three others go on and elect one of them; the removed node says
   so and stops heartbeating, and the controller fences it (Metadata no
   longer lists it); it is stopped, and so is a second of the first three
   voters.  Two of the
   three voters left: the quorum still decides (a topic created through
   node 4) and every acknowledged record is read back.  With the voters
   fixed at 1-3, two of them gone would have left no quorum.  Node 5,
   whose voter list names neither node 4 nor the change, still reaches
   the controller (a topic created through it): when that is node 4, the
   live voter it asks names node 4's address.
6. The removed node, restarted, refuses to start its controller and says
   why (its Raft dir holds a configuration without it).
Every wait is bounded; every process is stopped by pid at the end.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_lib import (Node, clean_up, controller, create, fail,  # noqa: E402
                         flexible_call, free_ports, produce_acked, read_acked,
                         start_cluster, stop_all, topic_metadata, until)
from confluent_kafka.admin import AdminClient  # noqa: E402

SLUICE = os.environ["SLUICE"]
TOPIC = "vt"


def cli(nodes, *args, timeout=90):
    boot = ",".join(nd.bootstrap() for nd in nodes)
    r = subprocess.run([SLUICE, "cluster"] + list(args) + ["--bootstrap", boot],
                       capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def change(nodes, args, done_err):
    """Run `sluice cluster ARGS` until it succeeds: exit 0, or, after a
    try whose connection closed (a broker whose sluice-control was not
    yet linked), the error saying it is already done (done_err)."""
    said = []

    def once():
        rc, out = cli(nodes, *args)
        said.append("exit %d: %s" % (rc, out.strip()))
        if rc == 0 or (len(said) > 1 and "error %d" % done_err in out):
            return out
        if rc == 1:
            fail("sluice cluster %s: %s" % (" ".join(args), said[-1]))
        return None
    try:
        return until("sluice cluster %s" % " ".join(args), once, 60)
    except SystemExit:
        print("tries: %s" % said[-3:], flush=True)
        raise


def brokers_of(node):
    """The broker ids node's Metadata lists (fenced ones are not), or
    None."""
    try:
        md = AdminClient({"bootstrap.servers": node.bootstrap()}).list_topics(timeout=5)
    except Exception:
        return None
    return sorted(md.brokers)


def voters_of(nodes):
    rc, out = cli(nodes, "status", "--json")
    try:
        q = json.loads(out[:out.rindex("}") + 1])["quorum"]
    except (ValueError, KeyError, TypeError):
        return None
    if not q or q.get("leader", -1) < 0:
        return None
    return sorted(v["id"] for v in q["voters"])


def cstr(s):
    """A flexible (compact, nullable) string."""
    if s is None:
        return b"\x00"
    b = s.encode()
    return bytes([len(b) + 1]) + b


def raw(node, key, body):
    """A flexible v0 request to node's Kafka listener: the answer's (error
    code, message), or None."""
    r = flexible_call(node, key, 0, body)
    if r is None:
        return None
    err = struct.unpack(">h", r[4:6])[0]  # after ThrottleTimeMs
    n = r[6] - 1
    return err, (r[7:7 + n].decode() if n >= 0 else None)


def add_body(voter, host, port, cluster=None, listener=True):
    b = cstr(cluster) + struct.pack(">ii", 30000, voter) + bytes(16)
    if listener:
        b += b"\x02" + cstr("CONTROLLER") + cstr(host) + struct.pack(">H", port) + b"\x00"
    else:
        b += b"\x01"
    return b + b"\x00"


def remove_body(voter, cluster=None):
    return cstr(cluster) + struct.pack(">i", voter) + bytes(16) + b"\x00"


base = tempfile.mkdtemp(prefix="voters-", dir=os.environ.get("SLUICE_TEST_TMPDIR", "/var/tmp"))
nodes = []
ok_end = False
try:
    # 1. three voters and a controller waiting to join
    first = start_cluster(base, 3)
    nodes = list(first)
    voters = ",".join("%d@127.0.0.1:%d" % (nd.n, nd.raft) for nd in first)
    ports = free_ports(3)
    addr4 = "127.0.0.1:%d" % ports[2]
    four = Node(base, 4, ports, voters, ["-o", "controller_address=" + addr4])
    four.start()
    nodes.append(four)
    five = Node(base, 5, free_ports(3), voters)
    five.start()
    nodes.append(five)
    until("an active controller", lambda: controller(first), 30)
    until("voters 1-3 in cluster status", lambda: voters_of(first) == [1, 2, 3], 30)
    until("node 4 says it waits to be added",
          lambda: "waits to be added to the metadata quorum" in four.log(), 20)
    print("ok: node 4 (controller_address %s) waits to be added" % addr4, flush=True)

    # 2. add it
    t0 = time.monotonic()
    change([first[0]], ("add-voter", "4", addr4), 126)
    took = time.monotonic() - t0
    until("voters 1-4 in cluster status", lambda: voters_of(first) == [1, 2, 3, 4], 30)
    until("node 4 says it is a voter", lambda: "is a voter of the metadata quorum" in four.log(), 20)
    until("node 4 registered: every broker in its Metadata",
          lambda: (lambda m: m is not None)(topic_metadata([four], "__consumer_offsets")), 40)
    print("ok: add-voter 4 answered in %.1f s; voters 1-4" % took, flush=True)

    # 3. refusals
    r = raw(first[1], 80, add_body(4, "127.0.0.1", ports[2]))
    if r is None or r[0] != 126:
        fail("AddRaftVoter 4 again: %s, want DUPLICATE_VOTER (126)" % (r,))
    r = raw(first[1], 80, add_body(5, "127.0.0.1", 9, cluster="another"))
    if r is None or r[0] != 104:
        fail("AddRaftVoter with another cluster id: %s, want 104" % (r,))
    r = raw(first[1], 80, add_body(5, "", 0, listener=False))
    if r is None or r[0] != 42 or "listener" not in (r[1] or ""):
        fail("AddRaftVoter without a listener: %s, want INVALID_REQUEST" % (r,))
    r = raw(first[1], 81, remove_body(9))
    if r is None or r[0] != 127:
        fail("RemoveRaftVoter 9: %s, want VOTER_NOT_FOUND (127)" % (r,))
    print("ok: DUPLICATE_VOTER, INCONSISTENT_CLUSTER_ID, INVALID_REQUEST, "
          "VOTER_NOT_FOUND as Kafka answers them", flush=True)

    # 4. records
    until("CreateTopics vt", lambda: create(four, TOPIC, 2, 3) in (0, 36), 40)
    acked = produce_acked(nodes, TOPIC, 200)

    # 5. the active controller removes itself; a second voter goes
    ctl = until("the active controller", lambda: controller(first), 20)
    change([four], ("remove-voter", str(ctl.n)), 127)
    left = sorted(nd.n for nd in nodes if nd is not ctl and nd is not five)
    until("voters %s" % left, lambda: voters_of([four]) == left, 30)
    until("node %d, removed, says so" % ctl.n,
          lambda: "is no longer a voter of the metadata quorum" in ctl.log(), 20)
    until("node %d, removed and silent, fenced: not among node 4's brokers" % ctl.n,
          lambda: (lambda b: b is not None and ctl.n not in b)(brokers_of(four)), 30)
    ctl.kill("control")
    ctl.kill("sluiced")
    other = [nd for nd in first if nd is not ctl][0]
    other.kill("control")
    other.kill("sluiced")
    live = [nd for nd in nodes if nd not in (ctl, other)]
    print("ok: controller %d removed itself, stopped heartbeating, was fenced and "
          "stopped; node %d stopped too: "
          "voters %s, %d of them live" % (ctl.n, other.n, left,
                                          len([nd for nd in live if nd.n in left])),
          flush=True)
    until("CreateTopics vt2 through node 4 with two of three voters",
          lambda: create(four, "vt2", 1, 2) in (0, 36), 60)
    until("node 4 serves vt2", lambda: topic_metadata([four], "vt2") is not None, 30)
    read_acked(live, live, TOPIC, acked, "the quorum of %s decides" % left)
    now = until("the active controller", lambda: controller([nd for nd in live if nd is not five]), 20)
    until("CreateTopics vt3 through node 5 (a broker only) under controller %d" % now.n,
          lambda: create(five, "vt3", 1, 2) in (0, 36), 60)
    print("ok: node 5, a broker only, reaches controller %d%s" % (
        now.n, " (named with its address by a voter: it is in no voter list node 5 read)"
        if now is four else ""), flush=True)

    # 6. the removed node does not come back as a voter
    ctl.start(("control",))
    p = ctl.procs["control"]
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        fail("the removed node's sluice-control started")
    if p.returncode == 0 or "removed from the voters" not in ctl.log():
        fail("the removed node's sluice-control: exit %s, no word of its removal"
             % p.returncode)
    print("ok: node %d, removed, refuses to start its controller and says why" % ctl.n,
          flush=True)
    stop_all(live)
    nodes = live
    ok_end = True
finally:
    clean_up(nodes, base, ok_end, 40)
