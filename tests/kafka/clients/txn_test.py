"""Kafka transactions through confluent-kafka-python (librdkafka): a
transactional producer and read_committed consumers.

Run with Debian's /usr/bin/python3 (python3-confluent-kafka).  Without
KAFKA_BOOTSTRAP it runs itself again under kafka_broker_run
($KAFKA_BROKER_RUN), on a fresh broker of its own.

  1. "tx" (2 partitions): transaction A commits N records, B aborts N, C
     commits N/2.  A read_committed consumer reads exactly A then C, in
     order per partition, no record of B; a read_uncommitted one reads
     all three (the aborted records are in the log: the consumer's
     filter, driven by the broker's aborted-transaction lists, is what
     hides them).
  2. the last stable offset: while transaction D is open, a plain
     (non-transactional) record written after it is not given to a
     read_committed consumer; once D commits, both are.
  3. fencing: a second producer with A's transactional.id calls
     init_transactions; the first one's next transaction fails with a
     fatal fencing error, and nothing it sent after is read committed.
  4. consume-transform-produce: a group consumer reads "tx", a
     transactional producer writes a copy to "tx-out" and commits the
     consumer's offsets in the transaction (send_offsets_to_transaction);
     an aborted round leaves neither records nor offsets; a committed one
     leaves both.
  5. a crash: transaction E commits, then both broker processes are
     killed (SIGKILL) and started again: E is read committed, the open
     transaction F (never ended) is aborted by the coordinator when its
     timeout passes, so read_committed readers move past it and never
     see its records.
Every wait has a deadline.  Exit 0 when all holds, 1 with what did not.
"""
import os
import signal
import sys
import time

from kclib import fail, missing, under_broker

try:
    from confluent_kafka import (Consumer, KafkaError, KafkaException,
                                 Producer, TopicPartition, OFFSET_BEGINNING)
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError as e:
    missing("confluent_kafka", "python3-confluent-kafka", e)

BOOT = under_broker(__file__, "txn", 150)
N = 200
TX_TIMEOUT_MS = 6000


def create_topics():
    a = AdminClient({"bootstrap.servers": BOOT})
    fs = a.create_topics([NewTopic("tx", 2, 1), NewTopic("tx-out", 1, 1)],
                         request_timeout=20)
    for t, f in fs.items():
        try:
            f.result(20)
        except KafkaException as e:
            fail("create topic %s: %s" % (t, e))


def txn_producer(tid, timeout_ms=60000):
    p = Producer({"bootstrap.servers": BOOT, "transactional.id": tid,
                  "transaction.timeout.ms": timeout_ms, "linger.ms": 5})
    p.init_transactions(30)
    return p


def send(p, topic, values, partition=None):
    errs = []

    def done(err, msg):
        if err:
            errs.append(err)
    for v in values:
        kw = {"value": v, "on_delivery": done}
        if partition is not None:
            kw["partition"] = partition
        else:
            kw["key"] = v
        while True:
            try:
                p.produce(topic, **kw)
                break
            except BufferError:
                p.poll(0.1)
    if p.flush(30):
        fail("produce to %s: not delivered in 30 s" % topic)
    if errs:
        fail("produce to %s: %s" % (topic, errs[0]))


def read(topic, isolation, expect, seconds=30, group=None, full=None):
    """Read every partition of topic from the beginning until expect
    records (or the deadline): the values, in the order received."""
    c = Consumer({"bootstrap.servers": BOOT,
                  "group.id": group or "reader-%s-%f" % (isolation, time.time()),
                  "isolation.level": isolation,
                  "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    try:
        md = c.list_topics(topic, timeout=10)
        parts = sorted(md.topics[topic].partitions)
        c.assign([TopicPartition(topic, q, OFFSET_BEGINNING) for q in parts])
        out = []
        deadline = time.time() + seconds
        while time.time() < deadline and len(out) < expect:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                fail("consume %s (%s): %s" % (topic, isolation, m.error()))
            out.append(m.value().decode())
            if full is not None:
                full.append((m.partition(), m.offset(), out[-1]))
        # anything more is a failure too: give it a moment to show up
        end = time.time() + 1.5
        while time.time() < end:
            m = c.poll(0.3)
            if m is not None and not m.error():
                out.append(m.value().decode())
        return out
    finally:
        c.close()


def vals(tag, n):
    return [("%s-%d" % (tag, i)).encode() for i in range(n)]


def check_set(got, want, what):
    g = sorted(got)
    w = sorted(x.decode() for x in want)
    if g != w:
        extra = sorted(set(g) - set(w))[:5]
        lost = sorted(set(w) - set(g))[:5]
        fail("%s: %d records read, %d expected; unexpected %r, missing %r"
             % (what, len(g), len(w), extra, lost))


def in_order(recs):
    """recs: [(partition, offset, value)]; per partition, offsets increase
    and no record of A comes after one of C (C committed after A)."""
    seen = {}
    for q, off, v in recs:
        last, had_c = seen.get(q, (-1, False))
        if off <= last:
            fail("partition %d: offset %d after %d" % (q, off, last))
        if v.startswith("A-") and had_c:
            fail("partition %d: %s after a record of C" % (q, v))
        seen[q] = (off, had_c or v.startswith("C-"))


def step1():
    p = txn_producer("tid-a")
    p.begin_transaction()
    send(p, "tx", vals("A", N))
    p.commit_transaction(30)
    p.begin_transaction()
    send(p, "tx", vals("B", N))
    p.abort_transaction(30)
    p.begin_transaction()
    send(p, "tx", vals("C", N // 2))
    p.commit_transaction(30)
    recs = []
    committed = read("tx", "read_committed", N + N // 2, full=recs)
    in_order(recs)
    check_set(committed, vals("A", N) + vals("C", N // 2),
              "read_committed after commit A, abort B, commit C")
    every = read("tx", "read_uncommitted", 2 * N + N // 2)
    check_set(every, vals("A", N) + vals("B", N) + vals("C", N // 2),
              "read_uncommitted (aborted records are in the log)")
    print("step 1: read_committed %d records (A and C), read_uncommitted %d "
          "(B too)" % (len(committed), len(every)))
    return p


def step2():
    d = txn_producer("tid-d")
    d.begin_transaction()
    send(d, "tx", vals("D", 10), partition=0)
    plain = Producer({"bootstrap.servers": BOOT, "acks": "all"})
    send(plain, "tx", vals("P", 1), partition=0)
    before = read("tx", "read_committed", 3 * N, seconds=4)
    if any(v.startswith("D-") or v.startswith("P-") for v in before):
        fail("while D is open a read_committed consumer got %r: the last "
             "stable offset did not hold it back"
             % [v for v in before if v[0] in "DP"][:3])
    d.commit_transaction(30)
    after = read("tx", "read_committed", N + N // 2 + 11)
    if sum(v.startswith("D-") for v in after) != 10 or "P-0" not in after:
        fail("after D committed: %d of D's 10 records, plain record %s"
             % (sum(v.startswith("D-") for v in after),
                "read" if "P-0" in after else "missing"))
    print("step 2: an open transaction held back a later plain record "
          "until it committed")


def step3(first):
    second = txn_producer("tid-a")  # fences first
    fenced = None
    try:
        first.begin_transaction()
        send_err = []
        first.produce("tx", value=b"Z-0", partition=1,
                      on_delivery=lambda e, m: send_err.append(e))
        first.flush(15)
        first.commit_transaction(15)
    except KafkaException as e:
        fenced = e.args[0]
    if fenced is None:
        fail("a producer fenced by a newer one with its transactional.id "
             "committed a transaction")
    if not (fenced.fatal() or fenced.code() in (
            KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
            KafkaError.INVALID_PRODUCER_EPOCH)):
        fail("fenced producer: want a fatal fencing error, got %s" % fenced)
    second.begin_transaction()
    send(second, "tx", vals("S", 5), partition=1)
    second.commit_transaction(30)
    got = read("tx", "read_committed", N + N // 2 + 16)
    if "Z-0" in got:
        fail("a fenced producer's record was read committed")
    if sum(v.startswith("S-") for v in got) != 5:
        fail("the fencing producer's committed records were not all read")
    print("step 3: the older producer was fenced (%s)" % fenced.name())


def committed_offsets(group, topic, nparts):
    c = Consumer({"bootstrap.servers": BOOT, "group.id": group,
                  "enable.auto.commit": False})
    try:
        tps = c.committed([TopicPartition(topic, q) for q in range(nparts)],
                          timeout=15)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        c.close()


def step4():
    group = "ctp"
    c = Consumer({"bootstrap.servers": BOOT, "group.id": group,
                  "isolation.level": "read_committed",
                  "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    c.subscribe(["tx"])
    p = txn_producer("tid-ctp")
    rounds = {"abort": None, "commit": None}
    for outcome in ("abort", "commit"):
        p.begin_transaction()
        got = []
        deadline = time.time() + 30
        while time.time() < deadline and len(got) < 50:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            got.append(m)
        if len(got) < 50:
            fail("consume-transform-produce: %d records in 30 s" % len(got))
        send(p, "tx-out", [("%s:%s" % (outcome, m.value().decode())).encode()
                           for m in got], partition=0)
        pos = c.position(c.assignment())
        p.send_offsets_to_transaction(pos, c.consumer_group_metadata(), 30)
        if outcome == "abort":
            p.abort_transaction(30)
            # rewind the consumer to what is committed, as an
            # application does after an abort
            offs = committed_offsets(group, "tx", 2)
            if any(o >= 0 for o in offs.values()):
                fail("an aborted transaction's offsets were committed: %r"
                     % offs)
            for tp in c.assignment():
                c.seek(TopicPartition("tx", tp.partition, OFFSET_BEGINNING))
        else:
            p.commit_transaction(30)
            offs = committed_offsets(group, "tx", 2)
            want = {tp.partition: tp.offset for tp in pos}
            if offs != want:
                fail("committed offsets %r, the transaction sent %r"
                     % (offs, want))
        rounds[outcome] = len(got)
    c.close()
    out = read("tx-out", "read_committed", rounds["commit"])
    if len(out) != rounds["commit"] or any(not v.startswith("commit:")
                                           for v in out):
        fail("tx-out: %d records read committed, want %d of the committed "
             "round only (first: %r)" % (len(out), rounds["commit"], out[:2]))
    print("step 4: consume-transform-produce: the aborted round left no "
          "records and no offsets, the committed one %d records and its "
          "offsets" % len(out))


def restart_broker_killed():
    pid = int(os.environ["KAFKA_BROKER_PID"])
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
    os.kill(pid, signal.SIGHUP)
    if signal.sigtimedwait([signal.SIGUSR2], 40) is None:
        fail("the broker did not restart within 40 s")


def step5():
    e = txn_producer("tid-e")
    e.begin_transaction()
    send(e, "tx-out", vals("E", 20), partition=0)
    e.commit_transaction(30)
    f = txn_producer("tid-f", TX_TIMEOUT_MS)
    f.begin_transaction()
    send(f, "tx-out", vals("F", 20), partition=0)
    # F stays open: its producer goes away without ending it
    restart_broker_killed()
    plain = Producer({"bootstrap.servers": BOOT, "acks": "all"})
    send(plain, "tx-out", vals("G", 1), partition=0)
    t0 = time.time()
    base = read("tx-out", "read_committed", 0, seconds=1)
    # after the timeout the coordinator aborts F; G then becomes readable
    deadline = time.time() + TX_TIMEOUT_MS / 1000 + 30
    while time.time() < deadline:
        got = read("tx-out", "read_committed", len(base) + 21, seconds=3)
        if "G-0" in got:
            break
    else:
        fail("the open transaction F was not aborted within its timeout "
             "+ 30 s of a broker crash: the last stable offset stays "
             "behind it")
    if any(v.startswith("F-") for v in got):
        fail("records of the timed-out transaction F were read committed")
    if sum(v.startswith("E-") for v in got) != 20:
        fail("transaction E, committed before the crash, has %d of 20 "
             "records after it" % sum(v.startswith("E-") for v in got))
    print("step 5: after a crash E was read committed, F was aborted "
          "%.1f s later" % (time.time() - t0))


def main():
    create_topics()
    first = step1()
    step2()
    step3(first)
    step4()
    step5()
    print("PASS")


if __name__ == "__main__":
    main()
