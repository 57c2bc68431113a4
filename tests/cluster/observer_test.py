"""A broker that is not a voter: node 4 joins a cluster of three voters
with their controller_quorum_voters, runs no Raft node, and follows the
active controller's metadata (the controller RPC's METADATA).

Run by meson with SLUICED, SLUICE_CONTROL and SLUICE_TEST_TMPDIR set.

1. Three voters; node 4 started with the same voter list: it registers,
   every broker's Metadata lists four brokers.
2. A topic placed by hand on [4, 1] and [2, 4]: node 4 leads partition 0;
   300 records acknowledged (acks=all) and read back through node 4's
   listener alone.
3. The active controller is killed: node 4 finds the next one (its
   heartbeats and metadata polls go there), a topic created through node
   4's listener (CreateTopics, forwarded) is served by node 4, and
   partition 1 is moved onto node 4 alone (AlterPartitionReassignments
   through it): it catches up and leads it, every record still there.
4. Removing node 4: UnregisterBroker (raw, v0) refuses it while it is
   live (INVALID_REQUEST) and an unknown id (BROKER_ID_NOT_REGISTERED);
   every partition with a replica on node 4 is reassigned to the live
   voters; node 4 is stopped (a controlled shutdown fences it) and then
   unregistered: asked again, it is not registered.
Every wait is bounded; every process is stopped by pid at the end.
"""
import os
import socket
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_lib import (Node, alter, clean_up, controller, create,  # noqa: E402
                         errors_of, fail, free_ports, produce_acked, read_acked,
                         start_cluster, stop_all, topic_metadata, until)
from confluent_kafka import KafkaError  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TOPIC = "ob"


def unregister(node, broker_id):
    """UnregisterBroker v0 through node: (error, message), or None."""
    frame = struct.pack(">hhi", 64, 0, 5) + struct.pack(">h", 8) + b"obs-test" + b"\x00"
    frame += struct.pack(">i", broker_id) + b"\x00"
    try:
        with socket.create_connection(("127.0.0.1", node.kafka), timeout=30) as s:
            s.sendall(struct.pack(">i", len(frame)) + frame)
            n = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
            r = s.recv(n, socket.MSG_WAITALL)
    except OSError:
        return None
    err = struct.unpack(">h", r[9:11])[0]
    ml = r[11] - 1
    return err, (r[12:12 + ml].decode() if ml >= 0 else None)


def replicas_on(node, broker):
    """[(topic, partition, replicas)] of every topic with a replica on
    broker, from node's Metadata (internal topics too)."""
    md = AdminClient({"bootstrap.servers": node.bootstrap()}).list_topics(timeout=10)
    return [(t, p.id, list(p.replicas)) for t, tm in md.topics.items()
            for p in tm.partitions.values() if broker in p.replicas]


def placement(node, broker):
    """'topic-p leader L replicas [..] isr [..]' of every partition with
    a replica on broker, as node's Metadata has it, for a failure."""
    md = AdminClient({"bootstrap.servers": node.bootstrap()}).list_topics(timeout=10)
    return "; ".join("%s-%d leader %d replicas %s isr %s" % (t, p.id, p.leader, list(p.replicas),
                                                           sorted(p.isrs))
                     for t, tm in sorted(md.topics.items())
                     for p in tm.partitions.values() if broker in p.replicas)


def brokers_of(node):
    try:
        md = AdminClient({"bootstrap.servers": node.bootstrap()}).list_topics(timeout=5)
    except Exception:
        return None
    return sorted(md.brokers)


def meta(nodes, topic=TOPIC):
    m = topic_metadata(nodes, topic)
    if m is None:
        return None
    return {i: (p.leader, list(p.replicas), sorted(p.isrs)) for i, p in m[1].items()}


base = tempfile.mkdtemp(prefix="observer-", dir=os.environ.get("SLUICE_TEST_TMPDIR", "/var/tmp"))
nodes = []
ok_end = False
try:
    # 1. three voters and a broker
    voters_nodes = start_cluster(base, 3)
    nodes = list(voters_nodes)
    voters = ",".join("%d@127.0.0.1:%d" % (nd.n, nd.raft) for nd in voters_nodes)
    four = Node(base, 4, free_ports(3), voters)
    four.start()
    nodes.append(four)
    for nd in nodes:
        until("broker %d lists four brokers" % nd.n,
              lambda: brokers_of(nd) == [1, 2, 3, 4], 40)
    if "not among the controller_quorum_voters" not in four.log():
        fail("node 4 does not say it runs as a broker only")
    print("ok: node 4, not a voter, registered; every broker lists brokers 1-4", flush=True)

    # 2. a topic it leads
    a = AdminClient({"bootstrap.servers": four.bootstrap()})

    def created():
        f = a.create_topics([NewTopic(TOPIC, 2, replica_assignment=[[4, 1], [2, 4]])],
                            request_timeout=10)[TOPIC]
        try:
            f.result(timeout=20)
            return True
        except Exception as e:
            err = e.args[0] if e.args else None
            return isinstance(err, KafkaError) and err.code() == 36
    until("CreateTopics ob through node 4", created, 40)
    until("ob led by 4 and 2, all in sync, as node 4 itself says",
          lambda: meta([four]) == {0: (4, [4, 1], [1, 4]), 1: (2, [2, 4], [2, 4])}, 30)
    acked = produce_acked(nodes, TOPIC, 300)
    read_acked([four], nodes, TOPIC, acked, "through node 4 alone")

    # 3. the controller goes; node 4 follows the next one
    ctl = until("the active controller", lambda: controller(voters_nodes), 20)
    ctl.kill("sluiced")
    ctl.kill("control")
    rest = [nd for nd in nodes if nd is not ctl]
    new = until("a new controller", lambda: (lambda c: c if c and c is not ctl else None)(
        controller([nd for nd in voters_nodes if nd is not ctl])), 30)
    until("CreateTopics ob2 through node 4 under controller %d" % new.n,
          lambda: create(four, "ob2", 1, 2) in (0, 36), 40)
    until("node 4 serves ob2", lambda: meta([four], "ob2") is not None, 20)
    print("ok: controller %d killed; node 4 follows controller %d: ob2 created through it"
          % (ctl.n, new.n), flush=True)
    r = alter(four, [(TOPIC, 1, [4])])
    if r is None or errors_of(r[2]) != {(TOPIC, 1): 0}:
        fail("partition 1 to [4] through node 4: %s" % (r,))
    until("partition 1 on node 4 alone, led by it",
          lambda: (lambda m: m and m[1] == (4, [4], [4]))(meta([four])), 40)
    read_acked([four], rest, TOPIC, acked, "after partition 1 moved onto node 4")

    # 4. node 4 leaves
    voter = [nd for nd in rest if nd is not four][0]
    r = unregister(voter, 4)
    if r is None or r[0] != 42 or "live" not in (r[1] or ""):
        fail("UnregisterBroker 4 while it runs: %s, want INVALID_REQUEST (live)" % (r,))
    r = unregister(voter, 9)
    if r is None or r[0] != 102:
        fail("UnregisterBroker 9: %s, want BROKER_ID_NOT_REGISTERED (102)" % (r,))
    live = sorted(nd.n for nd in rest if nd is not four)
    last = [0.0]

    def moved_off():
        """True once no partition has a replica on node 4; else every
        one that has is (again) reassigned, at most every 3 s: a
        partition the voter's metadata did not have yet at the first
        pass is moved too (asking again for a running move is a no-op)."""
        on = replicas_on(voter, 4)
        if not on:
            return True
        if time.monotonic() - last[0] < 3:
            return False
        last[0] = time.monotonic()
        for t, p, reps in on:
            # the live voters it has, then others up to its size (a
            # target replica that is dead would never catch up)
            to = [b for b in reps if b in live]
            to += [b for b in live if b not in to][:len(reps) - len(to)]
            r = alter(voter, [(t, p, to)], version=1)
            if r is None or errors_of(r[2]) != {(t, p): 0}:
                fail("%s-%d to %s: %s" % (t, p, to, r))
        return False
    until("no partition on node 4", moved_off, 60, why=lambda: placement(voter, 4))
    four.stop()
    until("node 4 fenced and unregistered",
          lambda: (lambda r: r is not None and r[0] == 0)(unregister(voter, 4)), 30)
    r = unregister(voter, 4)
    if r is None or r[0] != 102:
        fail("UnregisterBroker 4 a second time: %s, want 102" % (r,))
    print("ok: node 4 refused while live, its partitions moved off, stopped and "
          "unregistered (a second time: not registered)", flush=True)
    rest = [nd for nd in rest if nd is not four]
    stop_all(rest)
    nodes = rest
    ok_end = True
finally:
    clean_up(nodes, base, ok_end, 40)
