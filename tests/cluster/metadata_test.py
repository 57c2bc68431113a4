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
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_lib import (clean_up, controller, create, fail,  # noqa: E402
                         start_cluster, stop_all, until)

N = 3
INVALID_RF = 38
EXISTS = 36

base = tempfile.mkdtemp(prefix="cluster-", dir=os.environ.get("SLUICE_TEST_TMPDIR", "/var/tmp"))
nodes = []
ok_end = False
try:
    nodes = start_cluster(base, N)

    # 1. replication factor 3 once every broker is registered and unfenced
    t0 = time.monotonic()
    until("CreateTopics orders rf=3", lambda: create(nodes[2], "orders", 3, 3) == 0, 40)
    print("ok: a topic of replication factor 3 created, asked of broker 3, %.1f s after start"
          % (time.monotonic() - t0))
    # the answer waited for the answering broker's sluiced to have the
    # topic (the client sends CreateTopics to the broker Metadata names as
    # controller: broker 3, or another while broker 3 is still fenced)
    if not any(nd.has_partitions("orders", 3) for nd in nodes):
        fail("CreateTopics answered before any broker's sluiced had the partitions")
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
    t3 = time.monotonic()
    code = create(ctl, "after-shutdown", 1, 3)
    if code != INVALID_RF:
        fail("right after broker %d's controlled shutdown, rf=3 gave %d after %.1f s, expected "
             "INVALID_REPLICATION_FACTOR (it should be fenced already)"
             % (leaving.n, code, time.monotonic() - t3))
    print("ok: broker %d shut down in %.1f s, fenced before it left (session timeout 6 s)"
          % (leaving.n, took))
    stop_all(nodes)
    ok_end = True
finally:
    clean_up(nodes, base, ok_end)
