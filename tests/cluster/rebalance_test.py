"""The controller's automatic preferred-leader rebalance (Kafka's
auto.leader.rebalance.enable) on a three-broker cluster.

Run by meson with SLUICED, SLUICE_CONTROL and SLUICE_TEST_TMPDIR set.

1. Three brokers with auto_leader_rebalance=true, looked at every second
   (leader_imbalance_check_interval_ms=1000), 10 % per broker; a topic of 6
   partitions, replication factor 3: each led by its preferred replica
   (the first of its replicas).
2. The preferred leader of partition 0 is killed (SIGKILL, both
   processes): its partitions get other leaders.
3. It restarts and catches up: without any ElectLeaders request, every
   partition is led by its preferred replica again, and the active
   controller's log says it rebalanced.
Every wait is bounded; every process is stopped by pid at the end.
"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_lib import (clean_up, create, fail, start_cluster,  # noqa: E402
                         stop_all, topic_metadata, until)

TOPIC = "rb"
PARTS = 6


def meta(nodes):
    """{partition: (leader, replicas in order, isr)} from a live broker."""
    m = topic_metadata(nodes, TOPIC)
    if m is None or len(m[1]) != PARTS:
        return None
    return {i: (p.leader, list(p.replicas), sorted(p.isrs)) for i, p in m[1].items()}


def all_preferred(nodes):
    m = meta(nodes)
    # (a partition answered without replicas, while its broker restarts:
    # not yet)
    return m if m and all(v[1] and v[0] == v[1][0] for v in m.values()) else None


base = tempfile.mkdtemp(prefix="rebalance-", dir=os.environ.get("SLUICE_TEST_TMPDIR", "/var/tmp"))
nodes = []
ok_end = False
try:
    nodes = start_cluster(base, 3, ("-o", "auto_leader_rebalance=true",
                                    "-o", "leader_imbalance_check_interval_ms=1000",
                                    "-o", "leader_imbalance_per_broker_percentage=10"))
    until("CreateTopics rb rf=3", lambda: create(nodes[0], TOPIC, PARTS, 3) == 0, 40)
    m = until("every partition led by its preferred replica", lambda: all_preferred(nodes), 30)
    pref = m[0][0]
    mine = sorted(p for p, v in m.items() if v[1][0] == pref)
    print("ok: preferred leaders %s; broker %d is preferred for %s"
          % ({p: v[0] for p, v in sorted(m.items())}, pref, mine), flush=True)

    # 2. the preferred leader of partition 0 goes
    victim = nodes[pref - 1]
    others = [nd for nd in nodes if nd is not victim]
    victim.kill("sluiced")
    victim.kill("control")
    moved = until("broker %d's partitions led by others" % pref,
                  lambda: (lambda m: m if m and all(m[p][0] not in (pref, -1) for p in mine)
                           else None)(meta(others)), 30)
    print("ok: broker %d killed; its partitions now led by %s"
          % (pref, {p: moved[p][0] for p in mine}), flush=True)

    # 3. back: the controller gives them back by itself
    t0 = time.monotonic()
    victim.start()
    until("every partition led by its preferred replica again (no ElectLeaders sent)",
          lambda: all_preferred(nodes), 60)
    took = time.monotonic() - t0
    by = [nd.n for nd in nodes if "leader rebalance:" in nd.log()]
    if not by:
        fail("no controller logs a leader rebalance")
    print("ok: broker %d restarted; %.1f s later every partition is led by its preferred "
          "replica again, moved by the controller (broker %s)" % (pref, took, by), flush=True)

    stop_all(nodes)
    ok_end = True
finally:
    clean_up(nodes, base, ok_end)
