"""A compacted topic through confluent-kafka-python, across a broker restart.

Run with Debian's /usr/bin/python3 (python3-confluent-kafka).  Without
KAFKA_BOOTSTRAP it runs itself again under kafka_broker_run
($KAFKA_BROKER_RUN), on a fresh broker of its own.

  1. AdminClient.create_topics: topic "kv", one partition,
     cleanup.policy=compact, segment.bytes=1048576 (sluice's smallest, so
     the log rolls every ~1000 of these records), min.cleanable.dirty.ratio
     0.01, min.compaction.lag.ms 0, delete.retention.ms 0;
     describe_configs shows each as set (source TOPIC), and a bad value
     (cleanup.policy=shrink) is refused with INVALID_CONFIG;
  2. a record without a key is refused with INVALID_RECORD (Kafka's rule
     for compacted topics), and nothing is stored for it;
  3. ROUNDS x KEYS records of ~1 KB, each key overwritten ROUNDS times,
     plus a key written once and then deleted (a tombstone), all at
     offsets 0..N-1;
  4. within a deadline the cleaner has compacted the sealed segments: a
     Consumer reading from the beginning gets far fewer records than were
     written, offsets strictly increasing with gaps, the last offset N-1,
     and for every key the last value written; the deleted key's records
     and then its tombstone disappear;
  5. the broker is restarted (kafka_broker_run, SIGUSR1): the same records
     at the same offsets are read again; ROUNDS more overwrites are
     compacted too (the topic's policy came back from topics.meta).
Every wait has a deadline.  Exit 0 when all holds, 1 with what did not.
"""
import os
import signal
import sys
import time

from kclib import fail, missing, under_broker

ROUNDS = 300
KEYS = 12
VALUE_BYTES = 1000
TOPIC = "kv"



try:
    from confluent_kafka import Consumer, KafkaError, Producer
    from confluent_kafka import TopicPartition, OFFSET_BEGINNING
    from confluent_kafka.admin import (AdminClient, ConfigResource, NewTopic)
except ImportError as e:
    missing("confluent_kafka", "python3-confluent-kafka", e)

BOOT = under_broker(__file__, "compaction", 100)


def admin():
    return AdminClient({"bootstrap.servers": BOOT})


def create_topic():
    a = admin()
    cfg = {"cleanup.policy": "compact", "segment.bytes": "1048576",
           "min.cleanable.dirty.ratio": "0.01",
           "min.compaction.lag.ms": "0", "delete.retention.ms": "0"}
    fs = a.create_topics([NewTopic(TOPIC, 1, 1, config=cfg)],
                         request_timeout=15)
    fs[TOPIC].result(timeout=15)
    bad = a.create_topics([NewTopic("kv-bad", 1, 1,
                                    config={"cleanup.policy": "shrink"})],
                          request_timeout=15)
    try:
        bad["kv-bad"].result(timeout=15)
        fail("cleanup.policy=shrink was accepted")
    except Exception as e:  # KafkaException carrying the KafkaError
        err = e.args[0] if e.args else None
        if not hasattr(err, "code") or err.code() != KafkaError.INVALID_CONFIG:
            fail("cleanup.policy=shrink: want INVALID_CONFIG, got %r" % (e,))
    res = ConfigResource(ConfigResource.Type.TOPIC, TOPIC)
    got = a.describe_configs([res], request_timeout=15)[res].result(timeout=15)
    for k, v in cfg.items():
        if k not in got:
            fail("describe_configs: no %s" % k)
        if got[k].value != v:
            fail("describe_configs: %s = %r, want %r" % (k, got[k].value, v))
        # sluice does not remember that a value equal to the default
        # was given (Kafka says DYNAMIC_TOPIC_CONFIG for it too)
        if k != "min.compaction.lag.ms" and got[k].source != 1:
            fail("describe_configs: %s source %r, want 1 (topic)"
                 % (k, got[k].source))


def produce(records):
    """records: [(key, value)]; returns the offsets, in order."""
    p = Producer({"bootstrap.servers": BOOT, "linger.ms": 5,
                  "enable.idempotence": False, "acks": "all"})
    offsets, errors = [], []

    def done(err, msg):
        if err:
            errors.append(err)
        else:
            offsets.append(msg.offset())

    for k, v in records:
        while True:
            try:
                p.produce(TOPIC, key=k, value=v, on_delivery=done)
                break
            except BufferError:
                p.poll(0.1)
    left = p.flush(30)
    if left or errors:
        fail("produce: %d undelivered, errors %r" % (left, errors[:3]))
    return offsets


def keyless_refused():
    p = Producer({"bootstrap.servers": BOOT, "retries": 0, "acks": "all"})
    errs = []
    p.produce(TOPIC, value=b"no key", on_delivery=lambda e, m: errs.append(e))
    if p.flush(20):
        fail("keyless produce: no answer in 20 s")
    if not errs or errs[0] is None:
        fail("a record without a key was accepted by a compacted topic")
    if errs[0].code() != KafkaError.INVALID_RECORD:
        fail("keyless produce: want INVALID_RECORD, got %s" % errs[0])


def read_all():
    """Every record from the beginning: [(offset, key, value)]."""
    c = Consumer({"bootstrap.servers": BOOT, "group.id": "compaction-reader",
                  "enable.auto.commit": False,
                  "enable.partition.eof": True})
    try:
        lo, hi = c.get_watermark_offsets(TopicPartition(TOPIC, 0),
                                         timeout=10)
        c.assign([TopicPartition(TOPIC, 0, OFFSET_BEGINNING)])
        out = []
        deadline = time.time() + 30
        while time.time() < deadline:
            m = c.poll(1.0)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    if out and out[-1][0] >= hi - 1 or hi == lo:
                        return out, hi
                    continue
                fail("consume: %s" % m.error())
            out.append((m.offset(), m.key(), m.value()))
        fail("consume: did not reach the end (%d) in 30 s" % hi)
    finally:
        c.close()


def value(key, round_):
    head = b"%s round %d;" % (key, round_)
    return head + b"x" * (VALUE_BYTES - len(head))


def write_rounds(first, count):
    recs = []
    for r in range(first, first + count):
        for i in range(KEYS):
            recs.append((b"key-%02d" % i, value(b"key-%02d" % i, r)))
    return recs


def check_compacted(expect_last, written, deleted, deadline_s):
    """Wait until the log reads compacted; returns what was read."""
    deadline = time.time() + deadline_s
    while True:
        recs, hi = read_all()
        if hi != written:
            fail("high watermark %d, want %d" % (hi, written))
        offs = [o for o, _, _ in recs]
        if any(b <= a for a, b in zip(offs, offs[1:])):
            fail("offsets not strictly increasing")
        last = {}
        for o, k, v in recs:
            last[k] = v
        keys_ok = all(last.get(k) == v for k, v in expect_last.items())
        gone = deleted not in last and all(k != deleted for _, k, _ in recs)
        if keys_ok and len(recs) < written // 2 and gone:
            if offs[-1] != written - 1:
                fail("last offset %d, want %d" % (offs[-1], written - 1))
            inner = sum(1 for a, b in zip(offs, offs[1:]) if b != a + 1)
            if offs[0] == 0 and not inner:
                fail("no gaps in the offsets of a compacted log")
            print("read %d records: first offset %d, %d gaps inside"
                  % (len(recs), offs[0], inner))
            return recs
        if not keys_ok:
            fail("a key's last value is wrong or missing")
        if time.time() > deadline:
            fail("not compacted within %d s: %d records read of %d "
                 "written, deleted key %s" % (deadline_s, len(recs), written,
                                              "gone" if gone else "present"))
        time.sleep(1)


def restart_broker():
    pid = int(os.environ["KAFKA_BROKER_PID"])
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
    os.kill(pid, signal.SIGUSR1)
    if signal.sigtimedwait([signal.SIGUSR2], 40) is None:
        fail("the broker did not restart within 40 s")


def main():
    create_topic()
    keyless_refused()
    # a key written, overwritten and deleted at the start: its records
    # and then its tombstone are cleaned away
    recs = [(b"gone", b"first"), (b"gone", b"second"), (b"gone", None)]
    recs += write_rounds(0, ROUNDS)
    offs = produce(recs)
    if offs != list(range(len(recs))):
        fail("offsets of the first produce are not 0..%d" % (len(recs) - 1))
    expect = {k: v for k, v in recs if k != b"gone"}
    before = check_compacted(expect, len(recs), b"gone", 40)
    print("compacted: %d records of %d read back" % (len(before), len(recs)))

    restart_broker()
    after, hi = read_all()
    if after != before:
        fail("after the restart %d records were read, %d before (or they "
             "differ)" % (len(after), len(before)))
    more = write_rounds(ROUNDS, ROUNDS)
    offs = produce(more)
    if offs != list(range(len(recs), len(recs) + len(more))):
        fail("offsets after the restart do not follow on")
    expect.update({k: v for k, v in more})
    final = check_compacted(expect, len(recs) + len(more), b"gone", 40)
    print("after the restart: %d records of %d read back"
          % (len(final), len(recs) + len(more)))
    print("PASS")


main()
