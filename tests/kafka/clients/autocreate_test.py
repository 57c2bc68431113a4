"""Automatic topic creation (auto_create_topics) through the Kafka listener.

Run with Debian's /usr/bin/python3 (python3-confluent-kafka).  Without
KAFKA_BOOTSTRAP it runs itself again under kafka_broker_run on a fresh
broker of its own: with the default configuration ("on"), or, given the
argument "off", with auto_create_topics=false.

On:
  1. Metadata v4 by hand naming a new topic with allow_auto_topic_creation
     true: LEADER_NOT_AVAILABLE (5) for it in that answer, as Kafka answers
     a topic it has just created; the next Metadata shows it with
     default_partitions (1) partitions led by broker 1 (one of a cluster's
     brokers).  Named twice in one
     request: created once.
  2. Metadata v1 (no flag: always allowed) creates too.
  3. allow_auto_topic_creation false: UNKNOWN_TOPIC_OR_PARTITION (3), and
     still after, so nothing was created.
  4. A name no topic can have ("bad/name", 201 characters):
     INVALID_TOPIC_EXCEPTION (17); Kafka's internal __consumer_offsets:
     UNKNOWN_TOPIC_OR_PARTITION with is_internal set, never created (on a
     cluster, which keeps its groups there: answered, is_internal set).
  5. Produce v3 to a topic that does not exist: UNKNOWN_TOPIC_OR_PARTITION
     for its partition (as Kafka), and the Produce created nothing.
  6. confluent-kafka Consumer with allow.auto.create.topics=false
     subscribed to a missing topic, and asking for its metadata: the
     consumer reports it unknown and the topic is not created
     (AdminClient.list_topics, and a Metadata v4 by hand with the flag
     false); with allow.auto.create.topics=true its metadata call creates
     it (LEADER_NOT_AVAILABLE, then one partition).
  7. confluent-kafka Producer to a missing topic: delivered, and a consumer
     reads the message back.
  8. /sluice/cores counts exactly the topics created
     (kafka_topics_auto_created) and sluiced logged each creation once.
Off:
  Metadata v4 with the flag true and v1: UNKNOWN_TOPIC_OR_PARTITION, twice,
  nothing created; an invalid name is still INVALID_TOPIC_EXCEPTION; the
  counters stay 0.
Every wait has a deadline.  Exit 0 when all holds, 1 with what did not.
"""
import glob
import json
import os
import socket
import struct
import sys
import time

from kclib import fail, missing, under_broker

MODE = sys.argv[1] if len(sys.argv) > 1 else "on"



if MODE not in ("on", "off"):
    fail("usage: autocreate_test.py [on|off]")

try:
    import confluent_kafka
    from confluent_kafka import Consumer, KafkaError, Producer
    from confluent_kafka.admin import AdminClient
except ImportError as e:
    missing("confluent_kafka", "python3-confluent-kafka", e)

BOOT = under_broker(__file__, "autocreate-" + MODE, 40, args=[MODE],
                    settings=["auto_create_topics=false"] if MODE == "off" else [])
DATA = os.environ.get("SLUICE_DATA_DIR", "")
# the raw requests go to the first broker of the list (broker 1)
HOST, PORT = BOOT.split(",")[0].rsplit(":", 1)
NBROKERS = len(BOOT.split(","))
print("mode %s: confluent-kafka %s, librdkafka %s, bootstrap %s"
      % (MODE, confluent_kafka.version()[0], confluent_kafka.libversion()[0], BOOT))

LEADER_NOT_AVAILABLE, UNKNOWN_TOPIC, INVALID_TOPIC = 5, 3, 17


# ---- Kafka requests by hand (non-flexible versions) ----

class Conn:
    def __init__(self):
        self.s = socket.create_connection((HOST, int(PORT)), timeout=10)
        self.corr = 0

    def ask(self, key, version, body):
        self.corr += 1
        cid = b"autocreate-test"
        req = struct.pack(">hhih", key, version, self.corr, len(cid)) + cid + body
        self.s.sendall(struct.pack(">i", len(req)) + req)
        size = struct.unpack(">i", self.recv(4))[0]
        resp = self.recv(size)
        corr = struct.unpack(">i", resp[:4])[0]
        if corr != self.corr:
            fail("answer to correlation id %d carries %d" % (self.corr, corr))
        return Reader(resp[4:])

    def recv(self, n):
        out = b""
        while len(out) < n:
            chunk = self.s.recv(n - len(out))
            if not chunk:
                fail("the broker closed the connection")
            out += chunk
        return out


class Reader:
    def __init__(self, b):
        self.b, self.at = b, 0

    def take(self, fmt):
        v = struct.unpack_from(">" + fmt, self.b, self.at)
        self.at += struct.calcsize(">" + fmt)
        return v[0]

    def string(self):
        n = self.take("h")
        if n < 0:
            return None
        s = self.b[self.at:self.at + n].decode()
        self.at += n
        return s


def kstr(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def metadata(conn, names, version=4, allow=True):
    """{name: (error, is_internal, [partition leaders])} in answer order."""
    body = struct.pack(">i", len(names)) + b"".join(kstr(n) for n in names)
    if version >= 4:
        body += struct.pack(">?", allow)
    r = conn.ask(3, version, body)
    if version >= 3:
        r.take("i")  # throttle_time_ms
    for _ in range(r.take("i")):  # brokers: node, host, port, rack
        r.take("i"), r.string(), r.take("i"), r.string()
    if version >= 2:
        r.string()  # cluster_id
    r.take("i")  # controller_id
    out = []
    for _ in range(r.take("i")):
        err, name, internal = r.take("h"), r.string(), r.take("?")
        leaders = []
        for _ in range(r.take("i")):
            r.take("h"), r.take("i")
            leaders.append(r.take("i"))
            for _ in range(r.take("i")):  # replicas
                r.take("i")
            for _ in range(r.take("i")):  # isr
                r.take("i")
            if version >= 5:
                for _ in range(r.take("i")):
                    r.take("i")
        out.append((name, err, internal, leaders))
    if r.at != len(r.b):
        fail("Metadata v%d answer: %d bytes left over" % (version, len(r.b) - r.at))
    return out


def one(conn, name, version=4, allow=True):
    ts = metadata(conn, [name], version, allow)
    if len(ts) != 1 or ts[0][0] != name:
        fail("Metadata v%d for %r answered %r" % (version, name, ts))
    return ts[0][1:]


def produce_unknown(conn, name):
    """Produce v3 of a few bytes to partition 0 of name: its error code."""
    records = b"\0" * 61
    body = (struct.pack(">hhi", -1, -1, 5000) + struct.pack(">i", 1) + kstr(name)
            + struct.pack(">i", 1) + struct.pack(">ii", 0, len(records)) + records)
    r = conn.ask(0, 3, body)
    if r.take("i") != 1 or r.string() != name or r.take("i") != 1:
        fail("Produce v3 answer does not name %s partition 0 alone" % name)
    r.take("i")
    return r.take("h")


# every broker's data dir: a cluster's clients may have any broker create
# a topic, so its creations are counted over all of them
DATAS = [d for d in os.environ.get("SLUICE_DATA_DIRS", DATA).split(",") if d]


def cores():
    """/sluice/cores summed over every broker and its net cores."""
    total = {}
    for d in DATAS:
        for k, v in cores_of(d).items():
            total[k] = total.get(k, 0) + v
    return total


def cores_of(data):
    """/sluice/cores of one broker, summed over its net cores."""
    path = os.path.join(data, "run", "telemetry.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    try:
        s.connect(path)
        s.recv(16384)
        s.send(b"/sluice/cores")
        d = json.loads(s.recv(1 << 20))["/sluice/cores"]
    finally:
        s.close()
    total = {}
    for k, v in d.items():
        if k.startswith("net"):
            for c, n in v.items():
                total[c] = total.get(c, 0) + n
    return total


def created_log_lines():
    n = 0
    for f in [f for d in DATAS for f in glob.glob(os.path.join(d, "*.log"))]:
        with open(f, errors="replace") as fh:
            n += sum(1 for ln in fh if "kafka: created topic '" in ln)
    return n


conn = Conn()

if MODE == "off":
    for name, version in (("py-off-v4", 4), ("py-off-v1", 1)):
        for attempt in (1, 2):
            err, internal, leaders = one(conn, name, version)
            if err != UNKNOWN_TOPIC or leaders:
                fail("auto_create_topics=false: Metadata v%d for %s (attempt %d): "
                     "error %d, %d partitions; expected UNKNOWN_TOPIC_OR_PARTITION"
                     % (version, name, attempt, err, len(leaders)))
    err = one(conn, "bad/name")[0]
    if err != INVALID_TOPIC:
        fail("auto_create_topics=false: 'bad/name' answered %d, expected "
             "INVALID_TOPIC_EXCEPTION (17)" % err)
    c = cores()
    if c.get("kafka_auto_create_requests") != 0 or c.get("kafka_topics_auto_created") != 0:
        fail("auto_create_topics=false: counters %r, expected 0" %
             {k: c.get(k) for k in ("kafka_auto_create_requests",
                                    "kafka_topics_auto_created")})
    print("ok: auto_create_topics=false: Metadata v4 and v1 answer "
          "UNKNOWN_TOPIC_OR_PARTITION and create nothing; invalid names are 17")
    sys.exit(0)

created = []

# 1. v4, allowed: LEADER_NOT_AVAILABLE now, the topic next time
ts = metadata(conn, ["py-auto-a", "py-auto-a"])
if [t[:2] for t in ts] != [("py-auto-a", LEADER_NOT_AVAILABLE)] * 2:
    fail("first Metadata v4 naming py-auto-a twice: %r; expected "
         "LEADER_NOT_AVAILABLE (5) for both entries" % ts)
err, internal, leaders = one(conn, "py-auto-a")
if err != 0 or len(leaders) != 1 or not 1 <= leaders[0] <= NBROKERS or internal:
    fail("second Metadata v4 for py-auto-a: error %d, leaders %r, internal %r; "
         "expected the topic with 1 partition led by broker 1 (one of %d)"
         % (err, leaders, internal, NBROKERS))
created.append("py-auto-a")
print("ok: Metadata v4 created py-auto-a: LEADER_NOT_AVAILABLE, then 1 partition")

# 2. v1 has no flag: creation is allowed
if one(conn, "py-auto-v1", 1)[0] != LEADER_NOT_AVAILABLE:
    fail("Metadata v1 for py-auto-v1: expected LEADER_NOT_AVAILABLE")
if one(conn, "py-auto-v1", 1)[0] != 0:
    fail("Metadata v1 for py-auto-v1 again: expected the topic")
created.append("py-auto-v1")
print("ok: Metadata v1 creates (no allow_auto_topic_creation field)")

# 3. v4, not allowed
for attempt in (1, 2):
    err, _, leaders = one(conn, "py-noauto-raw", allow=False)
    if err != UNKNOWN_TOPIC or leaders:
        fail("Metadata v4 allow_auto_topic_creation=false for py-noauto-raw "
             "(attempt %d): error %d; expected UNKNOWN_TOPIC_OR_PARTITION (3)"
             % (attempt, err))
print("ok: allow_auto_topic_creation=false: UNKNOWN_TOPIC_OR_PARTITION, not created")

# 4. names that are never created
# (a cluster keeps its groups in a real __consumer_offsets, created by its
# controller: there it is answered, internal, as Kafka answers it)
for name, want in (("bad/name", INVALID_TOPIC), ("x" * 201, INVALID_TOPIC),
                   ("..", INVALID_TOPIC),
                   ("__consumer_offsets", UNKNOWN_TOPIC if NBROKERS == 1 else 0)):
    for attempt in (1, 2):
        err, internal, _ = one(conn, name)
        if err != want:
            fail("Metadata v4 for %r (attempt %d): error %d, expected %d"
                 % (name[:40], attempt, err, want))
        if name == "__consumer_offsets" and not internal:
            fail("__consumer_offsets: is_internal not set")
print("ok: invalid names are INVALID_TOPIC_EXCEPTION; __consumer_offsets is "
      "internal and %s" % ("not created" if NBROKERS == 1 else "the cluster's own"))

# 5. Produce does not create
err = produce_unknown(conn, "py-produce-only")
if err != UNKNOWN_TOPIC:
    fail("Produce v3 to py-produce-only: error %d, expected "
         "UNKNOWN_TOPIC_OR_PARTITION (3)" % err)
if one(conn, "py-produce-only", allow=False)[0] != UNKNOWN_TOPIC:
    fail("after a Produce to py-produce-only the topic exists")
print("ok: Produce to a missing topic: UNKNOWN_TOPIC_OR_PARTITION, nothing created")

# 6. confluent-kafka consumers: allow.auto.create.topics
admin = AdminClient({"bootstrap.servers": BOOT})


def topic_listed(name):
    return name in admin.list_topics(timeout=10).topics


def consume_for(conf, topic, seconds):
    """Subscribe, poll for seconds: the error codes seen."""
    c = Consumer(dict(conf, **{"bootstrap.servers": BOOT, "group.id": "g-" + topic,
                               "topic.metadata.refresh.interval.ms": 500}))
    c.subscribe([topic])
    errs = set()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        m = c.poll(0.2)
        if m is not None and m.error():
            errs.add(m.error().code())
    c.close()
    return errs


errs = consume_for({"allow.auto.create.topics": False}, "py-noauto-consumer", 4)
if KafkaError.UNKNOWN_TOPIC_OR_PART not in errs:
    fail("the consumer with allow.auto.create.topics=false did not report the "
         "topic unknown (errors %r)" % errs)
c = Consumer({"bootstrap.servers": BOOT, "group.id": "g-list",
              "allow.auto.create.topics": False})
t = c.list_topics("py-noauto-consumer", timeout=10).topics.get("py-noauto-consumer")
c.close()
if t is None or t.error is None or t.error.code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
    fail("Consumer.list_topics with allow.auto.create.topics=false: %r, expected "
         "the topic unknown" % (t and t.error))
if topic_listed("py-noauto-consumer"):
    fail("a consumer with allow.auto.create.topics=false created py-noauto-consumer")
if one(conn, "py-noauto-consumer", allow=False)[0] != UNKNOWN_TOPIC:
    fail("py-noauto-consumer exists after a consumer with allow.auto.create.topics=false")
print("ok: consumer with allow.auto.create.topics=false (subscribed, and "
      "list_topics): topic unknown, not created")

# librdkafka 2.0's subscription never asks for creation; its metadata call
# for one topic sends allow.auto.create.topics as it is
c = Consumer({"bootstrap.servers": BOOT, "group.id": "g-list",
              "allow.auto.create.topics": True})
deadline = time.monotonic() + 10
while True:
    # librdkafka asks again by itself on LEADER_NOT_AVAILABLE
    t = c.list_topics("py-auto-consumer", timeout=10).topics.get("py-auto-consumer")
    if t is not None and t.error is None and len(t.partitions) == 1:
        break
    if time.monotonic() > deadline:
        c.close()
        fail("Consumer.list_topics with allow.auto.create.topics=true: %r, "
             "expected the topic created with 1 partition"
             % (t and (t.error, t.partitions)))
    time.sleep(0.1)
c.close()
created.append("py-auto-consumer")
print("ok: consumer with allow.auto.create.topics=true created its topic")

# 7. a producer creates on first use
delivered = []
p = Producer({"bootstrap.servers": BOOT, "acks": "all"})
p.produce("py-auto-prod", key=b"k", value=b"made-by-a-producer",
          on_delivery=lambda e, m: delivered.append((e, m.partition(), m.offset())))
if p.flush(20) != 0 or len(delivered) != 1 or delivered[0][0] is not None:
    fail("producer to py-auto-prod: delivery %r" % delivered)
created.append("py-auto-prod")
c = Consumer({"bootstrap.servers": BOOT, "group.id": "g-read", "auto.offset.reset":
              "earliest", "enable.partition.eof": True})
c.subscribe(["py-auto-prod"])
got = None
end = time.monotonic() + 15
while time.monotonic() < end and got is None:
    m = c.poll(0.2)
    if m is not None and not m.error():
        got = (m.key(), m.value(), m.partition(), m.offset())
c.close()
if got != (b"k", b"made-by-a-producer", 0, 0):
    fail("reading py-auto-prod back: %r, expected key k, the value, partition 0 "
         "offset 0" % (got,))
print("ok: producer to a missing topic: created, delivered, read back")

# 8. counted and logged, once per topic
c = cores()
if c.get("kafka_topics_auto_created") != len(created):
    fail("kafka_topics_auto_created = %r, created %d topics (%s)"
         % (c.get("kafka_topics_auto_created"), len(created), created))
if c.get("kafka_auto_create_failed") != 0:
    fail("kafka_auto_create_failed = %r" % c.get("kafka_auto_create_failed"))
if created_log_lines() != len(created):
    fail("sluiced logged %d creations, %d topics were created"
         % (created_log_lines(), len(created)))
print("ok: %d topics created, counted and logged once each" % len(created))
