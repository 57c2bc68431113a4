"""Topic administration through confluent-kafka-python's AdminClient.

Run with Debian's /usr/bin/python3 (python3-confluent-kafka).  Without
KAFKA_BOOTSTRAP it runs itself again under kafka_broker_run
($KAFKA_BROKER_RUN), on a fresh broker of its own.

  1. create_topics "grown" with 2 partitions; a record produced to each;
  2. create_partitions to 5: accepted; Metadata shows 5 partitions; a
     record produced to each new partition (2, 3, 4) is read back from it,
     and the old partitions still hold their records;
  3. create_partitions to 3 (fewer) and to 5 (the same): INVALID_PARTITIONS;
     to 6 with validate_only: accepted, still 5; an unknown topic:
     UNKNOWN_TOPIC_OR_PARTITION;
  4. describe_configs of the topic and of the broker: retention.ms,
     cleanup.policy, segment.bytes; broker.id and num.partitions;
  5. alter_configs of a topic "aged" with 1 MiB segments holding 3 MB:
     retention.ms 1000 is what describe_configs shows and what sluiced
     applies (its low watermark moves past 0 within 40 s); alter_configs
     of the broker: INVALID_REQUEST (its configs are not dynamic);
  6. create_topics with a manual replica assignment: on one broker, each
     partition on it alone (another broker id: INVALID_REPLICA_ASSIGNMENT);
     on a cluster, the replicas in the order given, the first leading, all
     in sync, and INVALID_REPLICA_ASSIGNMENT (39) for a broker that is not
     registered, one listed twice, lists of different lengths;
  7. the broker is restarted (kafka_broker_run, SIGUSR1): still 5
     partitions, every record still there, "aged" still retention.ms 1000.
Every wait has a deadline.  Exit 0 when all holds, 1 with what did not.
"""
import os
import signal
import sys
import time

from kclib import cluster_size, fail, missing, under_broker

TOPIC = "grown"



try:
    from confluent_kafka import (Consumer, KafkaError, KafkaException, Producer,
                                 TopicPartition)
    from confluent_kafka.admin import (AdminClient, ConfigResource, NewTopic,
                                       NewPartitions)
except ImportError as e:
    missing("confluent_kafka", "python3-confluent-kafka", e)

BOOT = under_broker(__file__, "admin", 80)


def admin():
    return AdminClient({"bootstrap.servers": BOOT})


def error_code(f):
    try:
        f.result(timeout=15)
        return 0
    except Exception as e:
        err = e.args[0] if e.args else None
        if hasattr(err, "code"):
            return err.code()
        fail("unexpected exception %r" % (e,))


def partitions(a, want=None, deadline_s=15):
    """The topic's partition count in Metadata (waiting for want)."""
    deadline = time.time() + deadline_s
    while True:
        md = a.list_topics(TOPIC, timeout=10)
        t = md.topics.get(TOPIC)
        n = len(t.partitions) if t and not t.error else -1
        if want is None or n == want or time.time() > deadline:
            return n
        time.sleep(0.2)


def produce(part, value):
    # a cluster's brokers learn of new partitions each at its own pace (as
    # Kafka's): a client that asks one still behind fails the record at
    # once with _UNKNOWN_PARTITION, and sends it again, for a while
    deadline = time.time() + 15
    while True:
        p = Producer({"bootstrap.servers": BOOT, "acks": "all",
                      "message.timeout.ms": 20000})
        errs = []
        p.produce(TOPIC, value=value, partition=part,
                  on_delivery=lambda e, m: errs.append(e))
        left = p.flush(25)
        if (not left and errs and errs[0] is not None and
                errs[0].code() == KafkaError._UNKNOWN_PARTITION and
                time.time() < deadline):
            time.sleep(0.5)
            continue
        if left or not errs or errs[0] is not None:
            fail("produce to partition %d: %r" % (part, errs))
        return


def read(part):
    c = Consumer({"bootstrap.servers": BOOT, "group.id": "admin-reader",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        c.assign([TopicPartition(TOPIC, part, 0)])
        out = []
        deadline = time.time() + 20
        while time.time() < deadline:
            m = c.poll(1.0)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    return out
                fail("consume partition %d: %s" % (part, m.error()))
            out.append(m.value())
        fail("consume partition %d: no end in 20 s" % part)
    finally:
        c.close()


def check_records(n):
    for part in range(n):
        got = read(part)
        if got != [b"p%d" % part]:
            fail("partition %d holds %r, want [b'p%d']" % (part, got, part))


def restart_broker():
    pid = int(os.environ["KAFKA_BROKER_PID"])
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
    os.kill(pid, signal.SIGUSR1)
    if signal.sigtimedwait([signal.SIGUSR2], 40) is None:
        fail("the broker did not restart within 40 s")


AGED = "aged"


def low_watermark(topic):
    """The log start of topic's partition 0.  A broker of a cluster may
    not know a topic created a moment ago through another one (its
    metadata lags by a moment): asked again for up to 20 s."""
    c = Consumer({"bootstrap.servers": BOOT, "group.id": "admin-wm"})
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                return c.get_watermark_offsets(TopicPartition(topic, 0),
                                               timeout=10)[0]
            except KafkaException as e:
                err = e.args[0] if e.args else None
                if not isinstance(err, KafkaError) or \
                        err.code() not in (KafkaError._UNKNOWN_PARTITION,
                                           KafkaError._UNKNOWN_TOPIC,
                                           KafkaError.UNKNOWN_TOPIC_OR_PART) or \
                        time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        c.close()


def aged_retention(a):
    fs = a.create_topics([NewTopic(AGED, 1, 1,
                                   config={"segment.bytes": "1048576"})],
                         request_timeout=15)
    if error_code(fs[AGED]):
        fail("create_topics %s failed" % AGED)
    p = Producer({"bootstrap.servers": BOOT, "acks": "all",
                  "message.timeout.ms": 20000})
    errs = []
    for i in range(30):
        p.produce(AGED, value=b"%03d" % i + b"x" * 100000, partition=0,
                  on_delivery=lambda e, m: errs.append(e))
        p.poll(0)
    if p.flush(25) or len(errs) != 30 or any(errs):
        fail("produce to %s: %r" % (AGED, errs[:3]))
    if low_watermark(AGED) != 0:
        fail("%s lost records before its retention changed" % AGED)

    # AlterConfigs replaces the whole set: segment.bytes given again
    res = ConfigResource(ConfigResource.Type.TOPIC, AGED,
                         set_config={"retention.ms": "1000",
                                     "segment.bytes": "1048576"})
    fs = a.alter_configs([res], request_timeout=15)
    if error_code(fs[res]):
        fail("alter_configs of %s failed" % AGED)
    got = a.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, AGED)],
                             request_timeout=15)
    got = list(got.values())[0].result(timeout=15)
    if got["retention.ms"].value != "1000":
        fail("describe_configs after alter_configs: retention.ms = %r"
             % got["retention.ms"].value)
    if got["segment.bytes"].value != "1048576":
        fail("describe_configs after alter_configs: segment.bytes = %r"
             % got["segment.bytes"].value)
    deadline = time.time() + 40
    low = 0
    while time.time() < deadline:
        low = low_watermark(AGED)
        if low > 0:
            break
        time.sleep(1)
    if low <= 0:
        fail("retention.ms 1000 not applied: %s still starts at 0 after "
             "40 s" % AGED)
    print("retention applied: %s starts at offset %d" % (AGED, low))

    bres = ConfigResource(ConfigResource.Type.BROKER, "1",
                          set_config={"log.retention.ms": "1000"})
    code = error_code(a.alter_configs([bres], request_timeout=15)[bres])
    if code != KafkaError.INVALID_REQUEST:
        fail("alter_configs of the broker: got %s, want INVALID_REQUEST"
             % code)


def manual_assignment(a):
    n = cluster_size()
    if n == 1:
        good, bad = [[1], [1]], [([[2]], "another broker's id")]
    else:
        good = [[2, 3, 1], [3, 1, 2]]
        bad = [([[1, 9, 2]], "broker 9 is not registered"),
               ([[1, 1, 2]], "broker 1 listed twice"),
               ([[1, 2, 3], [1, 2]], "lists of different lengths")]
    fs = a.create_topics([NewTopic("placed", len(good), replica_assignment=good)],
                         request_timeout=15)
    if error_code(fs["placed"]):
        fail("create_topics placed with replica_assignment %r failed: %r"
             % (good, error_code(fs["placed"])))
    deadline = time.time() + 20
    while True:
        t = a.list_topics("placed", timeout=10).topics.get("placed")
        got = {p: (m.leader, list(m.replicas), sorted(m.isrs))
               for p, m in (t.partitions.items() if t and not t.error else [])}
        want = {p: (r[0], r, sorted(r)) for p, r in enumerate(good)}
        if got == want:
            break
        if time.time() > deadline:
            fail("placed: (leader, replicas, isr) %r, want %r" % (got, want))
        time.sleep(0.2)
    for i, (assign, why) in enumerate(bad):
        name = "misplaced-%d" % i
        fs = a.create_topics([NewTopic(name, len(assign), replica_assignment=assign)],
                             request_timeout=15)
        if error_code(fs[name]) != 39:
            fail("replica_assignment %r (%s): error %r, want "
                 "INVALID_REPLICA_ASSIGNMENT (39)" % (assign, why, error_code(fs[name])))
    print("ok: a manual replica assignment %r placed as given; %d refused"
          % (good, len(bad)))


def main():
    a = admin()
    fs = a.create_topics([NewTopic(TOPIC, 2, 1,
                                   config={"retention.ms": "3600000"})],
                         request_timeout=15)
    if error_code(fs[TOPIC]):
        fail("create_topics failed")
    if partitions(a, 2) != 2:
        fail("the new topic does not show 2 partitions")
    for part in range(2):
        produce(part, b"p%d" % part)

    fs = a.create_partitions([NewPartitions(TOPIC, 5)], request_timeout=15)
    if error_code(fs[TOPIC]):
        fail("create_partitions to 5 failed")
    if partitions(a, 5) != 5:
        fail("Metadata does not show 5 partitions after create_partitions")
    for part in range(2, 5):
        produce(part, b"p%d" % part)
    check_records(5)

    for count, why in ((3, "fewer"), (5, "the same")):
        fs = a.create_partitions([NewPartitions(TOPIC, count)],
                                 request_timeout=15)
        code = error_code(fs[TOPIC])
        if code != KafkaError.INVALID_PARTITIONS:
            fail("create_partitions to %d (%s): want INVALID_PARTITIONS, "
                 "got %s" % (count, why, code))
    fs = a.create_partitions([NewPartitions(TOPIC, 6)], validate_only=True,
                             request_timeout=15)
    if error_code(fs[TOPIC]):
        fail("create_partitions validate_only refused")
    if partitions(a) != 5:
        fail("validate_only changed the partition count")
    fs = a.create_partitions([NewPartitions("no-such-topic", 3)],
                             request_timeout=15)
    code = error_code(fs["no-such-topic"])
    if code != KafkaError.UNKNOWN_TOPIC_OR_PART:
        fail("create_partitions of an unknown topic: got %s" % code)

    res = ConfigResource(ConfigResource.Type.TOPIC, TOPIC)
    got = a.describe_configs([res], request_timeout=15)[res].result(timeout=15)
    want = {"retention.ms": "3600000", "cleanup.policy": "delete",
            "segment.bytes": "1073741824", "delete.retention.ms": "86400000"}
    for k, v in want.items():
        if k not in got or got[k].value != v:
            fail("describe_configs topic: %s = %r, want %r"
                 % (k, got[k].value if k in got else None, v))
    bres = ConfigResource(ConfigResource.Type.BROKER, "1")
    got = a.describe_configs([bres], request_timeout=15)[bres].result(
        timeout=15)
    if got.get("broker.id") is None or got["broker.id"].value != "1":
        fail("describe_configs broker: broker.id %r" % got.get("broker.id"))
    if "num.partitions" not in got:
        fail("describe_configs broker: no num.partitions")

    aged_retention(a)
    manual_assignment(a)

    restart_broker()
    a = admin()
    ares = ConfigResource(ConfigResource.Type.TOPIC, AGED)
    got = a.describe_configs([ares], request_timeout=15)[ares].result(
        timeout=15)
    if got["retention.ms"].value != "1000":
        fail("after a restart %s retention.ms = %r"
             % (AGED, got["retention.ms"].value))
    if partitions(a, 5) != 5:
        fail("after a restart the topic does not show 5 partitions")
    check_records(5)
    print("PASS")


main()
