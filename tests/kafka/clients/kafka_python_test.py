"""kafka-python (Debian's python3-kafka) against the broker's Kafka listener.

kafka-python has a protocol implementation of its own (no librdkafka).
Every client here runs in its DEFAULT configuration: no api_version, so
each one probes the broker (ApiVersions v0 followed at once by Metadata v0
on the same connection) and picks its request versions from what the
broker advertises.  Run with Debian's /usr/bin/python3; without
KAFKA_BOOTSTRAP in the environment it runs itself again under
kafka_broker_run ($KAFKA_BROKER_RUN), on a fresh broker of its own.

  1. KafkaAdminClient.create_topics: a topic of 3 partitions; creating it
     again raises TopicAlreadyExistsError; list_topics and describe_topics
     show it with partitions 0..2 led by broker 1; describe_configs gives
     the broker's retention.ms;
  2. KafkaProducer: COUNT keyed messages, each future resolved at the
     offset that follows the one before in its partition (0..n-1), each
     key always in one partition;
  3. KafkaConsumer in a group (earliest, no auto-commit): every message
     once, at the offset it was produced at, key and value intact; commit()
     and committed() give the partition ends; the admin client's
     list_consumer_group_offsets agrees;
  4. MORE messages more; a new consumer of the same group resumes at the
     committed offsets: it gets exactly the new messages, none of the old;
  5. each codec kafka-python can use here (gzip always; snappy, lz4, zstd
     through python3-snappy, python3-lz4, python3-zstandard): a producer
     with compression_type=<codec> on a topic of its own, read back by an
     assigned consumer intact, and every stored batch
     ($SLUICE_DATA_DIR/<topic>-0/<20 zeros>.log) carries the codec in its
     attributes (the client compressed it, the broker kept it as sent);
  6. KafkaAdminClient.delete_topics: the topics are gone from list_topics.
Every wait has a deadline.  Exit 0 when all holds, 1 with what did not.

The requests kafka-python 2.0.2 sends: the probe of each new client (and
of the controller, by KafkaAdminClient) is ApiVersions v0 then Metadata
v0, and when that fails ListGroups v0, FindCoordinator v0, OffsetFetch v0
and Metadata v0, each followed by Metadata v0.  Then, for a broker whose
ApiVersions puts it at 2.1 or later: Metadata v1 (v5 from the admin
client), CreateTopics v3, DeleteTopics v3, DescribeConfigs v2, Produce v7,
ListOffsets v1, Fetch v4, FindCoordinator v0, JoinGroup v2, SyncGroup v1,
Heartbeat v1, LeaveGroup v1, OffsetCommit v2, OffsetFetch v1 (v3 from the
admin client).
"""
import os
import struct
import sys
import time

import kclib

TOPIC = "kp-orders"
PARTITIONS = 3
COUNT = 300
MORE = 60
GROUP = "kp-group"
CODECS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
CODEC_COUNT = 200
# the Debian package that gives kafka-python each optional codec
CODEC_PKG = {"snappy": "python3-snappy", "lz4": "python3-lz4",
             "zstd": "python3-zstandard"}


def fail(msg):
    """Exit at once (os._exit): kafka-python's threads and connections may
    otherwise hold the interpreter open."""
    print("FAIL: " + msg, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)


def unexpected(kind, exc, tb):
    """An exception from kafka-python itself: its traceback, then fail."""
    sys.__excepthook__(kind, exc, tb)
    fail("kafka-python raised %s" % kind.__name__)


sys.excepthook = unexpected


try:
    import kafka
    import kafka.codec
    import kafka.errors
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
except ImportError as e:
    kclib.missing("kafka-python", "python3-kafka", e)

BOOT = kclib.under_broker(__file__, "kafka-python", 60)
DATA = kclib.data_dir()

have = {"gzip": kafka.codec.has_gzip(), "snappy": kafka.codec.has_snappy(),
        "lz4": kafka.codec.has_lz4(), "zstd": kafka.codec.has_zstd()}
missing = [CODEC_PKG[c] for c in CODECS if not have[c]]
if missing:
    fail("kafka-python under %s lacks codecs: apt-get install %s "
         "(tools/lib/deps.sh installs them)" % (sys.executable, " ".join(missing)))
print("kafka-python %s, bootstrap %s" % (kafka.__version__, BOOT))


def key(seq):
    return ("k-%d" % (seq % 13)).encode()


def value(seq, tag="kp"):
    return ("v-%05d-%s" % (seq, tag)).encode()


def get(fut, what, timeout=15):
    try:
        return fut.get(timeout=timeout)
    except Exception as e:
        fail("%s: %r" % (what, e))


admin = KafkaAdminClient(bootstrap_servers=BOOT, client_id="kp-admin")
print("probed broker version %s" % (admin.config["api_version"],))

# 1. create_topics, again, list_topics, describe_topics, describe_configs
print("== create_topics %s (%d partitions)" % (TOPIC, PARTITIONS))
RF = kclib.cluster_size()
topics = [NewTopic(TOPIC, PARTITIONS, RF)] + \
    [NewTopic("kp-z-" + c, 1, RF) for c in CODECS]
try:
    admin.create_topics(topics, timeout_ms=10000)
except Exception as e:
    fail("create_topics: %r" % (e,))
try:
    admin.create_topics([NewTopic(TOPIC, PARTITIONS, RF)], timeout_ms=10000)
    fail("create_topics of an existing topic succeeded")
except kafka.errors.TopicAlreadyExistsError:
    pass
except Exception as e:
    fail("create_topics of an existing topic: expected TopicAlreadyExistsError, got %r" % (e,))
print("ok: created; creating it again raises TopicAlreadyExistsError")

deadline = time.monotonic() + 10
while True:
    names = admin.list_topics()
    if all(t.name in names for t in topics):
        break
    if time.monotonic() > deadline:
        fail("list_topics: %r, expected %r among them" % (names, [t.name for t in topics]))
    time.sleep(0.2)
desc = admin.describe_topics([TOPIC])
if len(desc) != 1 or desc[0]["topic"] != TOPIC or desc[0]["error_code"] != 0:
    fail("describe_topics: %r" % (desc,))
parts = sorted(desc[0]["partitions"], key=lambda p: p["partition"])
if [p["partition"] for p in parts] != list(range(PARTITIONS)):
    fail("describe_topics: partitions %r" % ([p["partition"] for p in parts],))
for p in parts:
    if p["error_code"] != 0 or len(p["replicas"]) != RF or p["leader"] not in p["replicas"] \
            or sorted(p["isr"]) != sorted(p["replicas"]):
        fail("describe_topics: partition %r; expected %d replicas, the leader among them, "
             "all in sync" % (p, RF))
cfgs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, TOPIC)])
entries = {}
for resp in cfgs:
    for err, _msg, _rtype, _rname, cfg in resp.resources:
        if err != 0:
            fail("describe_configs: error %d" % err)
        entries.update({c[0]: c[1] for c in cfg})
if entries.get("retention.ms") != "604800000":
    fail("describe_configs: retention.ms = %r, expected '604800000' (retention_hours 168)"
         % (entries.get("retention.ms"),))
print("ok: list_topics and describe_topics show partitions 0..%d led by broker 1; "
      "retention.ms = %s" % (PARTITIONS - 1, entries["retention.ms"]))

# 2. KafkaProducer
print("== KafkaProducer: %d keyed messages" % COUNT)
# A cluster's brokers learn a new topic's leaders from the metadata log
# each at its own pace, so a broker may name a leader that has not yet
# taken the partition (NOT_LEADER_OR_FOLLOWER, or UNKNOWN_TOPIC_OR_PARTITION
# from one that has not heard of the topic): retriable errors, as on
# Kafka, which kafka-python 2.0 does not retry by default (retries 0).
# Up to 20 tries 200 ms apart against a cluster.
RETRIES = 20 if kclib.cluster_size() > 1 else 0
producer = KafkaProducer(bootstrap_servers=BOOT, client_id="kp-producer",
                         retries=RETRIES, retry_backoff_ms=200)
where = {}  # seq -> (partition, offset)


def produce(first, n, tag="kp"):
    futs = [(seq, producer.send(TOPIC, key=key(seq), value=value(seq, tag)))
            for seq in range(first, first + n)]
    producer.flush(timeout=30)
    for seq, f in futs:
        md = get(f, "send of message %d" % seq)
        where[seq] = (md.partition, md.offset)


produce(0, COUNT)
ends = [0] * PARTITIONS
key_part = {}
expected = {}  # (partition, offset) -> seq
for seq in range(COUNT):
    p, o = where[seq]
    if not 0 <= p < PARTITIONS or o != ends[p]:
        fail("message %d at partition %d offset %d; expected offset %r (in produce order, no gap)"
             % (seq, p, o, ends[p] if 0 <= p < PARTITIONS else None))
    if key_part.setdefault(key(seq), p) != p:
        fail("key %r in partitions %d and %d" % (key(seq), key_part[key(seq)], p))
    expected[(p, o)] = seq
    ends[p] += 1
if min(ends) == 0:
    fail("partition ends %r: the default partitioner left a partition empty" % (ends,))
print("ok: %d acknowledged; partition ends %r" % (COUNT, ends))


# 3. KafkaConsumer in a group
def group_consumer(name):
    return KafkaConsumer(TOPIC, bootstrap_servers=BOOT, group_id=GROUP,
                         client_id=name, auto_offset_reset="earliest",
                         enable_auto_commit=False)


def consume(c, want, starts, what, timeout=30):
    """Poll c until it has len(want) messages; each (partition, offset) must
    be in want with the key and value of its seq, offsets consecutive from
    starts[p].  Returns the next offset of each partition."""
    nxt = list(starts)
    got = 0
    deadline = time.monotonic() + timeout
    while got < len(want) and time.monotonic() < deadline:
        for tp, recs in c.poll(timeout_ms=200).items():
            for r in recs:
                p, o = r.partition, r.offset
                if tp.topic != TOPIC or o != nxt[p]:
                    fail("%s: %s partition %d offset %d, expected offset %d (%s)"
                         % (what, tp.topic, p, o, nxt[p], "twice" if o < nxt[p] else "gap"))
                seq = want.get((p, o))
                if seq is None or r.key != key(seq) or r.value != want_value[seq]:
                    fail("%s: partition %d offset %d holds %r:%r, expected message %r"
                         % (what, p, o, r.key, r.value, seq))
                nxt[p] += 1
                got += 1
    if got != len(want):
        fail("%s: %d of %d messages within %d s; next offsets %r"
             % (what, got, len(want), timeout, nxt))
    extra = c.poll(timeout_ms=500)
    if any(extra.values()):
        fail("%s: more messages than produced: %r" % (what, extra))
    return nxt


want_value = {seq: value(seq) for seq in range(COUNT)}
print("== KafkaConsumer in group %s" % GROUP)
c = group_consumer("kp-consumer-1")
nxt = consume(c, expected, [0] * PARTITIONS, "group consumer")
if nxt != ends:
    fail("group consumer ended at %r, expected %r" % (nxt, ends))
c.commit()
tps = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
committed = [c.committed(tp) for tp in tps]
c.close(autocommit=False)
if committed != ends:
    fail("committed offsets %r, expected %r" % (committed, ends))
listed = admin.list_consumer_group_offsets(GROUP)
got = [listed[tp].offset if tp in listed else None for tp in tps]
if got != ends:
    fail("list_consumer_group_offsets: %r, expected %r" % (got, ends))
print("ok: %d messages, each once, in order per partition; committed %r" % (COUNT, ends))

# 4. resume from the committed offsets
print("== %d more, read by a new consumer of the group" % MORE)
produce(COUNT, MORE, "more")
more = {}
more_ends = list(ends)
for seq in range(COUNT, COUNT + MORE):
    p, o = where[seq]
    if o != more_ends[p]:
        fail("message %d at partition %d offset %d, expected %d" % (seq, p, o, more_ends[p]))
    more[(p, o)] = seq
    want_value[seq] = value(seq, "more")
    more_ends[p] += 1
c = group_consumer("kp-consumer-2")
nxt = consume(c, more, ends, "resumed consumer")
c.commit()
committed = [c.committed(tp) for tp in tps]
c.close(autocommit=False)
if nxt != more_ends or committed != more_ends:
    fail("resumed consumer ended at %r, committed %r, expected %r" % (nxt, committed, more_ends))
print("ok: resumed at %r, got exactly the %d new messages; committed %r" % (ends, MORE, more_ends))
producer.close(timeout=10)


# 5. codecs
def stored_codecs(topic):
    """(base offset, codec, record count) of every RecordBatch in the
    partition's first segment, in file order."""
    with open(os.path.join(DATA, topic + "-0", "%020d.log" % 0), "rb") as f:
        data = f.read()
    out = []
    pos = 0
    while pos + 61 <= len(data):
        base, length = struct.unpack_from(">qi", data, pos)
        if length < 49 or pos + 12 + length > len(data) or data[pos + 16] != 2:
            break  # the zero padding after the last batch
        attrs = struct.unpack_from(">h", data, pos + 21)[0]
        count = struct.unpack_from(">i", data, pos + 57)[0]
        out.append((base, attrs & 7, count))
        pos += 12 + length
    return out


for codec, code in CODECS.items():
    topic = "kp-z-" + codec
    print("== %s: %d messages on %s" % (codec, CODEC_COUNT, topic))
    p = KafkaProducer(bootstrap_servers=BOOT, client_id="kp-" + codec,
                      compression_type=codec, linger_ms=20, retries=RETRIES,
                      retry_backoff_ms=200)
    vals = [(("line %d of %s " % (i, codec)) * (1 + i % 30)).encode()
            for i in range(CODEC_COUNT)]
    futs = [p.send(topic, key=key(i), value=vals[i]) for i in range(CODEC_COUNT)]
    p.flush(timeout=30)
    offs = [get(f, "%s: send of message %d" % (codec, i)).offset for i, f in enumerate(futs)]
    p.close(timeout=10)
    if offs != list(range(CODEC_COUNT)):
        fail("%s: offsets %r..., expected 0..%d" % (codec, offs[:10], CODEC_COUNT - 1))
    c = KafkaConsumer(bootstrap_servers=BOOT, client_id="kp-read-" + codec,
                      enable_auto_commit=False, auto_offset_reset="earliest")
    tp = TopicPartition(topic, 0)
    c.assign([tp])
    c.seek_to_beginning(tp)
    got = 0
    deadline = time.monotonic() + 15
    while got < CODEC_COUNT and time.monotonic() < deadline:
        for recs in c.poll(timeout_ms=200).values():
            for r in recs:
                if r.offset != got or r.key != key(got) or r.value != vals[got]:
                    fail("%s: offset %d (expected %d) holds %r:%r..."
                         % (codec, r.offset, got, r.key, r.value[:40]))
                got += 1
    c.close(autocommit=False)
    if got != CODEC_COUNT:
        fail("%s: %d of %d messages read back within 15 s" % (codec, got, CODEC_COUNT))
    batches = stored_codecs(topic)
    if sum(b[2] for b in batches) != CODEC_COUNT:
        fail("%s: stored batches %r hold %d records, %d were produced"
             % (codec, batches, sum(b[2] for b in batches), CODEC_COUNT))
    bad = [b for b in batches if b[1] != code]
    if bad:
        fail("%s: batches stored with codec other than %d: %r" % (codec, code, bad))
    print("ok: read back intact; %d batches stored with codec %d" % (len(batches), code))

# 6. delete_topics
print("== delete_topics")
try:
    admin.delete_topics([t.name for t in topics], timeout_ms=10000)
except Exception as e:
    fail("delete_topics: %r" % (e,))
deadline = time.monotonic() + 10
while True:
    left = [t.name for t in topics if t.name in admin.list_topics()]
    if not left:
        break
    if time.monotonic() > deadline:
        fail("list_topics still shows %r 10 s after delete_topics" % (left,))
    time.sleep(0.2)
admin.close()
print("ok: deleted; list_topics no longer shows them")
print("PASS: kafka-python admin, producer, group consumer, resume, %s"
      % ", ".join(CODECS))
