"""confluent-kafka-python against the broker's Kafka listener.

Run with Debian's /usr/bin/python3 (python3-confluent-kafka).  Without
KAFKA_BOOTSTRAP in the environment it runs itself again under
kafka_broker_run ($KAFKA_BROKER_RUN), on a fresh broker of its own.

  1. AdminClient.create_topics: a topic of 4 partitions; creating it again
     fails with TOPIC_ALREADY_EXISTS; list_topics shows it with 4
     partitions led by broker 1 and the broker at the bootstrap address;
  2. AdminClient.describe_configs of the topic: retention.ms is the
     broker's default (retention_hours 168 = 604800000 ms);
  3. Producer with delivery callbacks: 800 keyed messages, every callback
     a success, per-partition offsets 0..n-1 in produce order;
  4. Consumer in a group reads everything back: each message once, where
     its callback said, in order; commits synchronously; a second
     consumer of the same group then finds nothing left;
  5. AdminClient.delete_topics: the topic is gone from list_topics.
Every wait has a deadline.  Exit 0 when all holds, 1 with what did not.
"""
import os
import sys
import time

import kclib
from kclib import fail, missing, under_broker

TOPIC = "py-orders"
PARTITIONS = 4
COUNT = 800
GROUP = "py-group"



try:
    import confluent_kafka
    from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
    from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
except ImportError as e:
    missing("confluent_kafka", "python3-confluent-kafka", e)

BOOT = under_broker(__file__, "python", 35)
RF = kclib.cluster_size()
print("confluent-kafka %s, librdkafka %s, bootstrap %s"
      % (confluent_kafka.version()[0], confluent_kafka.libversion()[0], BOOT))
DEBUG = {"debug": os.environ["RDK_DEBUG"]} if os.environ.get("RDK_DEBUG") else {}


def key(seq):
    return ("k-%d" % (seq % 13)).encode()


def value(seq):
    return ("v-%05d-python" % seq).encode()


def result(fut, what, timeout=15):
    try:
        return fut.result(timeout=timeout)
    except KafkaException as e:
        return e.args[0]
    except Exception as e:  # a concurrent.futures timeout, among others
        fail("%s: no result within %d s (%r)" % (what, timeout, e))


admin = AdminClient(dict(DEBUG, **{"bootstrap.servers": BOOT}))

# 1. create_topics, again, list_topics
print("== create_topics %s (%d partitions)" % (TOPIC, PARTITIONS))
futs = admin.create_topics([NewTopic(TOPIC, PARTITIONS, RF)], operation_timeout=10)
r = result(futs[TOPIC], "create_topics")
if r is not None:
    fail("create_topics %s: %s" % (TOPIC, r))
futs = admin.create_topics([NewTopic(TOPIC, PARTITIONS, RF)], operation_timeout=10)
r = result(futs[TOPIC], "create_topics (again)")
if not isinstance(r, KafkaError) or r.code() != KafkaError.TOPIC_ALREADY_EXISTS:
    fail("create_topics of an existing topic: expected TOPIC_ALREADY_EXISTS, got %r" % (r,))
print("ok: created; creating it again says TOPIC_ALREADY_EXISTS")

deadline = time.monotonic() + 10
while True:
    md = admin.list_topics(timeout=10)
    t = md.topics.get(TOPIC)
    if t is not None and t.error is None and len(t.partitions) == PARTITIONS:
        break
    if time.monotonic() > deadline:
        fail("list_topics: %s not shown with %d partitions: %r" % (TOPIC, PARTITIONS, t))
    time.sleep(0.2)
if sorted(t.partitions) != list(range(PARTITIONS)):
    fail("list_topics: partition ids %r" % sorted(t.partitions))
for p in t.partitions.values():
    kclib.check_replicas("list_topics", p, RF)
brokers = {b.id: "%s:%d" % (b.host, b.port) for b in md.brokers.values()}
if brokers != kclib.brokers_by_id(BOOT):
    fail("list_topics: brokers %r, expected %r" % (brokers, kclib.brokers_by_id(BOOT)))
print("ok: list_topics shows %s with partitions 0..%d, %d replica(s) each, brokers %s"
      % (TOPIC, PARTITIONS - 1, RF, BOOT))

# 2. describe_configs
print("== describe_configs topic %s" % TOPIC)
res = ConfigResource(ConfigResource.Type.TOPIC, TOPIC)
futs = admin.describe_configs([res])
cfg = result(list(futs.values())[0], "describe_configs")
if isinstance(cfg, KafkaError) or not isinstance(cfg, dict):
    fail("describe_configs: %r" % (cfg,))
if not cfg:
    fail("describe_configs: no config entries")
if "retention.ms" not in cfg:
    fail("describe_configs: no retention.ms among %s" % sorted(cfg))
if cfg["retention.ms"].value != "604800000":
    fail("describe_configs: retention.ms = %r, expected '604800000' (retention_hours 168)"
         % cfg["retention.ms"].value)
print("ok: %d entries, retention.ms = %s" % (len(cfg), cfg["retention.ms"].value))

# 3. Producer with delivery callbacks
print("== Producer: %d keyed messages" % COUNT)
reports = {}
errors = []


def on_delivery(err, msg):
    seq = int(msg.value()[2:7])
    if err is not None:
        errors.append((seq, err))
    else:
        reports[seq] = (msg.partition(), msg.offset())


producer = Producer(dict(DEBUG, **{"bootstrap.servers": BOOT, "acks": "all",
                                   "linger.ms": 5, "partitioner": "murmur2_random"}))
for seq in range(COUNT):
    producer.produce(TOPIC, key=key(seq), value=value(seq), on_delivery=on_delivery)
    producer.poll(0)
left = producer.flush(30)
if left:
    fail("Producer.flush: %d messages still queued after 30 s" % left)
if errors:
    fail("%d delivery callbacks failed, the first: message %d: %s"
         % (len(errors), errors[0][0], errors[0][1]))
if len(reports) != COUNT:
    fail("%d delivery callbacks of %d" % (len(reports), COUNT))
expected = {}  # (partition, offset) -> seq
ends = [0] * PARTITIONS
for seq in range(COUNT):
    p, o = reports[seq]
    if not 0 <= p < PARTITIONS or o != ends[p]:
        fail("message %d reported at partition %d offset %d; expected offset %d "
             "(offsets in produce order, no gap)" % (seq, p, o, ends[p] if 0 <= p < PARTITIONS else -1))
    expected[(p, o)] = seq
    ends[p] += 1
print("ok: %d callbacks, all successes; partition ends %r" % (COUNT, ends))

# 4. Consumer in a group
def group_consumer(name):
    c = Consumer(dict(DEBUG, **{"bootstrap.servers": BOOT, "group.id": GROUP,
                                "client.id": name,
                                "auto.offset.reset": "earliest",
                                "enable.auto.commit": False,
                                "enable.partition.eof": True,
                                "session.timeout.ms": 6000,
                                "heartbeat.interval.ms": 500}))
    c.subscribe([TOPIC])
    return c


print("== Consumer in group %s" % GROUP)
c = group_consumer("py-consumer-1")
nxt = [0] * PARTITIONS
got = 0
at_eof = set()
deadline = time.monotonic() + 30
while (got < COUNT or len(at_eof) < PARTITIONS) and time.monotonic() < deadline:
    m = c.poll(0.2)
    if m is None:
        continue
    if m.error():
        if m.error().code() == KafkaError._PARTITION_EOF:
            if nxt[m.partition()] == ends[m.partition()]:
                at_eof.add(m.partition())
            continue
        fail("consume: %s" % m.error())
    p, o = m.partition(), m.offset()
    if o != nxt[p]:
        fail("consume: partition %d offset %d, expected %d (%s)"
             % (p, o, nxt[p], "twice" if o < nxt[p] else "gap"))
    seq = expected.get((p, o))
    if seq is None or m.key() != key(seq) or m.value() != value(seq):
        fail("consume: partition %d offset %d holds %r:%r, expected message %r"
             % (p, o, m.key(), m.value(), seq))
    nxt[p] += 1
    got += 1
if got != COUNT or nxt != ends:
    fail("consume: %d of %d messages within 30 s; per partition %r of %r" % (got, COUNT, nxt, ends))
c.commit(asynchronous=False)
committed = c.committed([confluent_kafka.TopicPartition(TOPIC, p) for p in range(PARTITIONS)],
                        timeout=10)
c.close()
if [tp.offset for tp in committed] != ends:
    fail("committed offsets %r, expected %r" % ([tp.offset for tp in committed], ends))
print("ok: %d messages, each once, in order per partition; committed %r" % (got, ends))

c = group_consumer("py-consumer-2")
extra = 0
at_eof = set()
deadline = time.monotonic() + 20
while len(at_eof) < PARTITIONS and time.monotonic() < deadline:
    m = c.poll(0.2)
    if m is None:
        continue
    if m.error() and m.error().code() == KafkaError._PARTITION_EOF:
        at_eof.add(m.partition())
    elif m.error():
        fail("second consumer: %s" % m.error())
    else:
        extra += 1
c.close()
if len(at_eof) < PARTITIONS:
    fail("second consumer: only %d of %d partitions assigned and at their end in 20 s"
         % (len(at_eof), PARTITIONS))
if extra:
    fail("second consumer of the group got %d messages; the group had committed everything" % extra)
print("ok: a second consumer of the group starts at the committed ends")

# 5. delete_topics
print("== delete_topics %s" % TOPIC)
futs = admin.delete_topics([TOPIC], operation_timeout=10)
r = result(futs[TOPIC], "delete_topics")
if r is not None:
    fail("delete_topics %s: %s" % (TOPIC, r))
deadline = time.monotonic() + 10
while TOPIC in admin.list_topics(timeout=10).topics:
    if time.monotonic() > deadline:
        fail("list_topics still shows %s 10 s after delete_topics" % TOPIC)
    time.sleep(0.2)
print("ok: deleted; list_topics no longer shows it")
print("PASS: confluent-kafka-python admin, producer, group consumer")
