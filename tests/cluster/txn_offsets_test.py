"""A transaction's consumer offsets on a three-broker cluster, where the
group's coordinator is another broker than the transaction's coordinator
(docs/cluster.md, Transactions).  Real processes, a real transactional
producer (confluent-kafka-python, librdkafka) and real consumers.

Run by meson with SLUICED, SLUICE_CONTROL and SLUICE_TEST_TMPDIR set.

1. Three brokers start; topics "tin" (3 partitions) and "tout" (1),
   replication factor 3.  FindCoordinator names the transaction
   coordinator of the transactional id; the group is one whose coordinator
   is another broker.
2. A transaction produces to "tout" and sends offsets of "tin" for the
   group (send_offsets_to_transaction), then commits: the offsets read back
   through every broker.  One that aborts leaves them as they were.
3. A transaction sends offsets, then the group coordinator's broker is
   killed (SIGKILL, both processes) before the commit: the commit goes
   through, and the new coordinator (which loaded the pending offsets from
   __consumer_offsets) answers them committed.
4. The killed broker restarts; a transaction commits offsets and the
   coordinator's broker is killed at once: the next coordinator answers
   the new offsets, even when that broker was the transaction's
   coordinator too (the transaction's state is in __transaction_state: the
   next transaction coordinator finds it PrepareCommit and writes its
   markers).  No committed offset is lost, none of an aborted transaction
   ever appears.
Every wait is bounded; every process is stopped by pid at the end.
"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_lib import (clean_up, create, fail, find_coordinator,  # noqa: E402
                         start_cluster, stop_all, until)
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

TIN, TOUT, PARTS = "tin", "tout", 3
TID = "txo"


def agreed(nodes, ask):
    """The node id every live node names (error 0), or None."""
    answers = [ask(nd) for nd in nodes]
    if any(a is None or a[0] != 0 for a in answers):
        return None
    ids = {a[1] for a in answers}
    return ids.pop() if len(ids) == 1 else None


def main():
    base = tempfile.mkdtemp(prefix="txn-offsets-",
                            dir=os.environ.get("SLUICE_TEST_TMPDIR"))
    nodes = start_cluster(base, 3)
    passed = False
    try:
        run(nodes)
        stop_all(nodes)
        passed = True
    finally:
        clean_up(nodes, base, passed)
    print("PASS")


def run(nodes):
    # 1. topics, coordinators
    until("the cluster creating topics",
          lambda: create(nodes[0], TIN, PARTS, 3) in (0, 36), 60)
    until("the cluster creating topics",
          lambda: create(nodes[0], TOUT, 1, 3) in (0, 36), 60)
    tc = until("one transaction coordinator for %s" % TID,
               lambda: agreed(nodes, lambda nd: find_coordinator(nd, TID, 1)), 40)
    group = None
    gc = None
    for i in range(200):
        g = "txo-group-%d" % i
        owner = until("one coordinator for %s" % g,
                      lambda: agreed(nodes, lambda nd: find_coordinator(nd, g)), 40)
        if owner != tc:
            group, gc = g, owner
            break
    if group is None:
        fail("no group coordinated by another broker than %d" % tc)
    print("ok: transaction coordinator broker %d, group %s coordinated by broker %d"
          % (tc, group, gc), flush=True)

    boot = ",".join(nd.bootstrap() for nd in nodes)
    p = Producer({"bootstrap.servers": boot, "transactional.id": TID,
                  "transaction.timeout.ms": 60000, "linger.ms": 5})
    p.init_transactions(60)
    meta_consumer = Consumer({"bootstrap.servers": boot, "group.id": group,
                              "enable.auto.commit": False})
    meta = meta_consumer.consumer_group_metadata()

    def txn(offsets, commit, between=None):
        p.begin_transaction()
        p.produce(TOUT, b"record of a transaction")
        p.send_offsets_to_transaction(
            [TopicPartition(TIN, q, o) for q, o in offsets.items()], meta, 60)
        if between:
            between()
        if commit:
            p.commit_transaction(90)
        else:
            p.abort_transaction(60)

    def committed_via(node):
        c = Consumer({"bootstrap.servers": node.bootstrap(), "group.id": group,
                      "enable.auto.commit": False})
        try:
            return {tp.partition: tp.offset for tp in c.committed(
                [TopicPartition(TIN, q) for q in range(PARTS)], timeout=10)}
        except Exception as ex:  # a coordinator loading, moving
            print("committed offsets through broker %d: %s; asking again"
                  % (node.n, ex), flush=True)
            return None
        finally:
            c.close()

    def reads_back(live, want, seconds=60):
        for nd in live:
            until("offsets %s through broker %d" % (want, nd.n),
                  lambda: committed_via(nd) == want, seconds)

    # 2. commit, abort
    want = {0: 10, 1: 20, 2: 30}
    txn(want, True)
    reads_back(nodes, want)
    print("ok: a committed transaction's offsets read back through every broker",
          flush=True)
    txn({0: 99, 1: 98, 2: 97}, False)
    for _ in range(3):
        got = committed_via(nodes[0])
        if got is not None and got != want:
            fail("after an abort the committed offsets are %s, expected %s" % (got, want))
        time.sleep(0.5)
    reads_back(nodes, want)
    print("ok: an aborted transaction's offsets never appear", flush=True)

    # 3. the group coordinator dies between the offsets and the commit
    victim = nodes[gc - 1]
    others = [nd for nd in nodes if nd is not victim]

    def kill_coordinator():
        victim.kill("sluiced")
        victim.kill("control")

    want = {0: 40, 1: 50, 2: 60}
    t0 = time.monotonic()
    txn(want, True, between=kill_coordinator)
    reads_back(others, want, 90)
    new_gc = until("another coordinator for %s" % group,
                   lambda: agreed(others, lambda nd: find_coordinator(nd, group)), 40)
    if new_gc == gc:
        fail("broker %d still named the coordinator of %s after it was killed" % (gc, group))
    print("ok: group coordinator broker %d killed with the offsets pending; the commit "
          "went through and broker %d answers them committed (%.1f s)"
          % (gc, new_gc, time.monotonic() - t0), flush=True)

    # 4. restarted; then the coordinator dies right after a commit
    victim.start()
    reads_back(nodes, want, 90)
    victim = [nd for nd in nodes if nd.n == new_gc][0]
    others = [nd for nd in nodes if nd is not victim]
    want = {0: 70, 1: 80, 2: 90}
    txn(want, True)
    tc_now = agreed(nodes, lambda nd: find_coordinator(nd, TID, 1))
    kill_coordinator()
    reads_back(others, want, 90)
    print("ok: broker %d back; the coordinator broker %d killed right after a "
          "commit (the transaction's coordinator: broker %s): its offsets read "
          "back from the next coordinator" % (gc, new_gc, tc_now), flush=True)
    victim.start()
    reads_back(nodes, want, 90)
    meta_consumer.close()
    print("ok: every broker up again, the offsets %s" % want, flush=True)


if __name__ == "__main__":
    main()
