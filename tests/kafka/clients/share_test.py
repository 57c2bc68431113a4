"""Kafka's share groups (KIP-932) against the broker, byte by byte: no
packaged client speaks ShareGroupHeartbeat, ShareGroupDescribe, ShareFetch
or ShareAcknowledge yet, so this test writes and reads them itself
(Kafka 4.1's versions, ShareFetch and ShareAcknowledge v2 too), with
confluent-kafka-python to create the topic and produce.

Run with Debian's /usr/bin/python3.  Without KAFKA_BOOTSTRAP it runs
itself again under kafka_broker_run with a record lock of 1 s and a
delivery limit of 3.

  1. ApiVersions lists the four APIs at 1-1, 1-1, 1-2, 1-2;
  2. ShareGroupHeartbeat: a member joins (epoch 0) subscribed to the
     topic and is assigned its two partitions by topic id; errors: an
     empty member id (INVALID_REQUEST), an unknown member (25), a stale
     epoch (110);
  3. the first ShareFetch opens a session and finds nothing (a new share
     partition starts at the log's end, "latest"), waiting up to MaxWaitMs;
     20 messages produced then come to the member, each once, in
     AcquiredRecords ranges with delivery count 1, the batches as stored;
  4. ShareAcknowledge accepts 10, releases 5, rejects 5; a second member
     then gets exactly the 5 released, with delivery count 2; it lets
     their locks lapse (1 s) and the first member gets them again (count
     3); released again they are archived (the limit is 3) and handed to
     nobody;
  5. errors: a wrong session epoch (123), no session (122), acknowledging
     a message the member does not hold (121, per partition), more than
     2^20 offsets answered in one request (42);
  6. ShareGroupDescribe: the group Stable with its two members and their
     assignment; an unknown group GROUP_ID_NOT_FOUND (69);
  7. priorities ("sl-priority" header) come out highest first; a FIFO
     group ("sl-group") has one message in flight; a delayed message
     ("sl-delay-ms") waits;
  8. kill -9 of both processes (kafka_broker_run's SIGHUP) with 6
     messages handed out and not acknowledged and 4 accepted: after the
     restart the 6 come again (delivery count 2) and the 4 never;
  9. a 500 KiB stored batch (answers larger than a control socket
     message go in pieces) handed out whole; compressed batches (zstd,
     lz4, gzip) too.
Every wait is bounded.  Exit 0 when all holds, 1 with what did not.
"""
import gzip
import os
import signal
import socket
import struct
import time

import kclib
from kclib import fail, missing, under_broker

try:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError as e:
    missing("confluent_kafka", "python3-confluent-kafka", e)

BOOT = under_broker(__file__, "share", 150,
                    settings=("share_record_lock_duration_ms=1000",
                              "share_delivery_count_limit=3"))
HOST, PORT = BOOT.split(",")[0].rsplit(":", 1)
PORT = int(PORT)
TOPIC = "jobs"
GROUP = "workers"

SGH, SGD, SF, SA = 76, 77, 78, 79


# ---- the wire ----

def uvarint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def cstr(s):
    if s is None:
        return uvarint(0)
    b = s.encode() if isinstance(s, str) else s
    return uvarint(len(b) + 1) + b


def carr(items):
    return uvarint(len(items) + 1) + b"".join(items)


class R:
    def __init__(self, b):
        self.b, self.i = b, 0

    def take(self, fmt):
        v = struct.unpack_from(">" + fmt, self.b, self.i)
        self.i += struct.calcsize(">" + fmt)
        return v[0] if len(v) == 1 else v

    def uv(self):
        n, shift = 0, 0
        while True:
            c = self.b[self.i]
            self.i += 1
            n |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                return n

    def str(self):
        n = self.uv()
        if n == 0:
            return None
        s = self.b[self.i:self.i + n - 1].decode()
        self.i += n - 1
        return s

    def raw(self):
        n = self.uv() - 1
        if n < 0:
            return None
        s = self.b[self.i:self.i + n]
        self.i += n
        return s

    def arr(self, fn):
        n = self.uv() - 1
        return None if n < 0 else [fn() for _ in range(n)]

    def tags(self):
        for _ in range(self.uv()):
            self.uv()
            self.i += self.uv()

    def uuid(self):
        u = self.b[self.i:self.i + 16]
        self.i += 16
        return u


CORR = [0]


class Conn:
    """One connection to the broker's Kafka listener."""

    def __init__(self):
        self.s = socket.create_connection((HOST, PORT), timeout=30)

    def call(self, key, version, body, flexible=True, client="share-test"):
        CORR[0] += 1
        head = struct.pack(">hhi", key, version, CORR[0])
        head += struct.pack(">h", len(client)) + client.encode()
        if flexible:
            head += b"\x00"
        frame = head + body
        self.s.sendall(struct.pack(">i", len(frame)) + frame)
        n = struct.unpack(">i", self.recv(4))[0]
        r = R(self.recv(n))
        if r.take("i") != CORR[0]:
            fail("api %d: the answer's correlation id is not ours" % key)
        if flexible and key != 18:
            r.tags()
        return r

    def recv(self, n):
        out = b""
        while len(out) < n:
            c = self.s.recv(n - len(out))
            if not c:
                fail("the broker closed the connection")
            out += c
        return out

    def close(self):
        self.s.close()


def api_versions(c):
    r = c.call(18, 3, cstr("share-test") + cstr("1") + b"\x00")
    err = r.take("h")
    if err:
        fail("ApiVersions: error %d" % err)
    out = {}
    for _ in range(r.uv() - 1):
        k, lo, hi = r.take("h"), r.take("h"), r.take("h")
        r.tags()
        out[k] = (lo, hi)
    return out


def heartbeat(c, member, epoch, topics=None, group=GROUP):
    body = cstr(group) + cstr(member) + struct.pack(">i", epoch) + cstr(None)
    body += uvarint(0) if topics is None else carr([cstr(t) for t in topics])
    body += b"\x00"
    r = c.call(SGH, 1, body)
    r.take("i")
    res = {"error": r.take("h"), "message": r.str(), "member": r.str(),
           "epoch": r.take("i"), "interval": r.take("i")}
    marker = r.take("b")
    if marker >= 0:
        def tp():
            u = r.uuid()
            parts = r.arr(lambda: r.take("i"))
            r.tags()
            return (u, sorted(parts))
        res["assignment"] = r.arr(tp)
        r.tags()
    else:
        res["assignment"] = None
    return res


def ack_batches(acks):
    """acks: [(first, last, [types])]."""
    return carr([struct.pack(">qq", f, l) + carr([struct.pack(">b", t) for t in ts]) +
                 b"\x00" for f, l, ts in acks])


def share_fetch(c, member, epoch, parts, wait_ms=0, max_records=100,
                acks=None, version=1, forget=(), renew=False, group=GROUP):
    """parts: [(topic uuid, partition)]; acks: {(uuid, p): [(f, l, types)]}.
    Returns the decoded answer."""
    acks = acks or {}
    body = cstr(group) + cstr(member) + struct.pack(">iiiiii", epoch, wait_ms, 1,
                                                    1 << 20, max_records, max_records)
    if version >= 2:
        body += struct.pack(">bb", 0, 1 if renew else 0)
    by_topic = {}
    for u, p in list(parts) + [k for k in acks if k not in parts]:
        by_topic.setdefault(u, []).append(p)
    topics = []
    for u, ps in by_topic.items():
        items = [struct.pack(">i", p) + ack_batches(acks.get((u, p), [])) + b"\x00"
                 for p in ps]
        topics.append(u + carr(items) + b"\x00")
    body += carr(topics)
    fg = {}
    for u, p in forget:
        fg.setdefault(u, []).append(p)
    body += carr([u + carr([struct.pack(">i", p) for p in ps]) + b"\x00"
                  for u, ps in fg.items()])
    body += b"\x00"
    r = c.call(SF, version, body)
    return read_fetch(r)


def read_fetch(r):
    r.take("i")
    out = {"error": r.take("h"), "message": r.str(), "lock_ms": r.take("i"),
           "parts": {}}

    def part(u):
        d = {"partition": r.take("i"), "error": r.take("h"), "message": r.str(),
             "ack_error": r.take("h"), "ack_message": r.str()}
        d["leader"] = (r.take("i"), r.take("i"))
        r.tags()
        d["records"] = r.raw()
        d["acquired"] = r.arr(lambda: (r.take("q"), r.take("q"), r.take("h"), r.tags())[:3])
        r.tags()
        out["parts"][(u, d["partition"])] = d

    def topic():
        u = r.uuid()
        r.arr(lambda: part(u))
        r.tags()
    r.arr(topic)
    r.arr(lambda: (r.take("i"), r.str(), r.take("i"), r.str(), r.tags()))
    r.tags()
    return out


def share_ack(c, member, epoch, acks, version=1, group=GROUP):
    by_topic = {}
    for (u, p), batches in acks.items():
        by_topic.setdefault(u, []).append((p, batches))
    body = cstr(group) + cstr(member) + struct.pack(">i", epoch)
    if version >= 2:
        body += b"\x00"
    body += carr([u + carr([struct.pack(">i", p) + ack_batches(b) + b"\x00"
                            for p, b in ps]) + b"\x00" for u, ps in by_topic.items()])
    body += b"\x00"
    r = c.call(SA, version, body)
    r.take("i")
    out = {"error": r.take("h"), "message": r.str(), "parts": {}}
    if version >= 2:
        r.take("i")

    def part(u):
        p, e, m = r.take("i"), r.take("h"), r.str()
        r.take("i")
        r.take("i")
        r.tags()
        r.tags()
        out["parts"][(u, p)] = (e, m)

    def topic():
        u = r.uuid()
        r.arr(lambda: part(u))
        r.tags()
    r.arr(topic)
    r.arr(lambda: (r.take("i"), r.str(), r.take("i"), r.str(), r.tags()))
    r.tags()
    return out


def describe(c, groups):
    r = c.call(SGD, 1, carr([cstr(g) for g in groups]) + b"\x00" + b"\x00")
    r.take("i")
    out = {}

    def member():
        m = {"id": r.str(), "rack": r.str(), "epoch": r.take("i"),
             "client": r.str(), "host": r.str(),
             "topics": r.arr(r.str)}

        def tp():
            r.uuid()
            name = r.str()
            ps = r.arr(lambda: r.take("i"))
            r.tags()
            return (name, sorted(ps))
        m["assignment"] = r.arr(tp)
        r.tags()
        r.tags()
        return m

    def group():
        g = {"error": r.take("h"), "message": r.str(), "id": r.str(),
             "state": r.str(), "epoch": r.take("i"),
             "assignment_epoch": r.take("i"), "assignor": r.str()}
        g["members"] = r.arr(member)
        g["ops"] = r.take("i")
        r.tags()
        out[g["id"]] = g
    r.arr(group)
    return out


def group_config(c, group, op=None, value=None):
    """IncrementalAlterConfigs v1 of the group's share.auto.offset.reset
    (op 0 SET, 1 DELETE) when op is given, then DescribeConfigs v4:
    (alter error, value, source)."""
    err = None
    if op is not None:
        body = carr([struct.pack(">b", 32) + cstr(group) +
                     carr([cstr("share.auto.offset.reset") + struct.pack(">b", op) +
                           cstr(value) + b"\x00"]) + b"\x00"]) + b"\x00" + b"\x00"
        r = c.call(44, 1, body)
        r.take("i")
        n = r.uv() - 1
        if n != 1:
            fail("IncrementalAlterConfigs: %d results" % n)
        err = r.take("h")
        r.str()
        r.take("b")
        r.str()
        r.tags()
    body = carr([struct.pack(">b", 32) + cstr(group) + uvarint(0) + b"\x00"]) + b"\x00\x00\x00"
    r = c.call(32, 4, body)
    r.take("i")
    if r.uv() - 1 != 1:
        fail("DescribeConfigs: not one result")
    e = r.take("h")
    r.str()
    r.take("b")
    r.str()
    if e:
        fail("DescribeConfigs of group %s: error %d" % (group, e))
    out = {}
    for _ in range(r.uv() - 1):
        name, val = r.str(), r.str()
        r.take("b")
        src = r.take("b")
        r.take("b")
        r.arr(lambda: (r.str(), r.str(), r.take("b"), r.tags()))
        r.take("b")
        r.str()
        r.tags()
        out[name] = (val, src)
    v = out.get("share.auto.offset.reset")
    if not v:
        fail("DescribeConfigs of group %s lists %r" % (group, out))
    return err, v[0], v[1]


# ---- records ----

def varint(b, i):
    n, shift = 0, 0
    while True:
        c = b[i]
        i += 1
        n |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return (n >> 1) ^ -(n & 1), i


def plain_records(codec, data):
    """A compressed batch's records section, decompressed (gzip, lz4
    and zstd: the codecs Debian's python3 reads)."""
    if codec == 1:
        return gzip.decompress(data)
    if codec == 3:
        import lz4.frame
        return lz4.frame.decompress(data)
    if codec == 4:
        import zstandard
        return zstandard.ZstdDecompressor().decompress(
            data, max_output_size=64 << 20)
    fail("a batch of codec %d in a share fetch (this test reads gzip, lz4 "
         "and zstd)" % codec)


def records_of(blob):
    """{offset: (value, headers)} of the batches in blob."""
    out = {}
    i = 0
    while blob and i + 61 <= len(blob):
        base, blen = struct.unpack_from(">qi", blob, i)
        attrs = struct.unpack_from(">h", blob, i + 21)[0]
        count = struct.unpack_from(">i", blob, i + 57)[0]
        recs, j = blob, i + 61
        if attrs & 7:
            recs, j = plain_records(attrs & 7, blob[i + 61:i + 12 + blen]), 0
        for _ in range(count):
            ln, j = varint(recs, j)
            end = j + ln
            j += 1
            _, j = varint(recs, j)
            od, j = varint(recs, j)
            kl, j = varint(recs, j)
            j += max(kl, 0)
            vl, j = varint(recs, j)
            val = recs[j:j + vl] if vl >= 0 else None
            j += max(vl, 0)
            nh, j = varint(recs, j)
            hdrs = {}
            for _ in range(nh):
                hk, j = varint(recs, j)
                k = recs[j:j + hk].decode()
                j += hk
                hv, j = varint(recs, j)
                hdrs[k] = recs[j:j + hv] if hv >= 0 else None
                j += max(hv, 0)
            out[base + od] = (val, hdrs)
            j = end
        i += 12 + blen
    return out


def delivered(ans, u, p):
    """[(offset, value, count)] of the acquired records of (u, p)."""
    d = ans["parts"].get((u, p))
    if not d or not d["acquired"]:
        return []
    recs = records_of(d["records"])
    out = []
    for first, last, count in d["acquired"]:
        for o in range(first, last + 1):
            if o not in recs:
                fail("acquired offset %d of partition %d is in no batch "
                     "of the answer" % (o, p))
            out.append((o, recs[o][0], count))
    return out


# ---- helpers ----

def produce(values, partition=0, headers=None, big=False, codec="none"):
    conf = {"bootstrap.servers": BOOT, "compression.type": codec,
            "linger.ms": 5, "enable.idempotence": True}
    if big:  # one batch of them all
        conf.update({"batch.size": 1000000, "linger.ms": 300})
    p = Producer(conf)
    errs = []
    for v in values:
        p.produce(TOPIC, v, partition=partition, headers=headers(v) if headers else None,
                  on_delivery=lambda e, m: errs.append(e) if e else None)
    if p.flush(30):
        fail("produce: messages not delivered in 30 s")
    if errs:
        fail("produce: %s" % errs[0])


class Member:
    """A share group member: its heartbeat, its session."""

    def __init__(self, name):
        self.c = Conn()
        self.id = name
        self.epoch = 0
        self.session = 0

    def join(self):
        r = heartbeat(self.c, self.id, 0, [TOPIC])
        if r["error"]:
            fail("%s joins: error %d %s" % (self.id, r["error"], r["message"]))
        self.epoch = r["epoch"]
        return r

    def fetch(self, parts, **kw):
        r = share_fetch(self.c, self.id, self.session, parts, **kw)
        if r["error"]:
            fail("%s ShareFetch (session epoch %d): error %d %s" %
                 (self.id, self.session, r["error"], r["message"]))
        self.session += 1
        return r

    def ack(self, acks, version=1):
        r = share_ack(self.c, self.id, self.session, acks, version)
        if r["error"]:
            fail("%s ShareAcknowledge: error %d %s" % (self.id, r["error"], r["message"]))
        self.session += 1
        return r

    def take(self, parts, want, seconds=10, **kw):
        """Fetch until want messages came (or seconds passed)."""
        got = []
        deadline = time.monotonic() + seconds
        while len(got) < want and time.monotonic() < deadline:
            r = self.fetch(parts, wait_ms=500, **kw)
            for u, p in parts:
                got += [(p,) + x for x in delivered(r, u, p)]
        return got


def restart_crash():
    pid = int(os.environ["KAFKA_BROKER_PID"])
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
    os.kill(pid, signal.SIGHUP)
    if signal.sigtimedwait([signal.SIGUSR2], 40) is None:
        fail("the broker did not come back within 40 s after kill -9")


def main():
    a = AdminClient({"bootstrap.servers": BOOT})
    f = a.create_topics([NewTopic(TOPIC, 2, kclib.cluster_size())])[TOPIC]
    f.result(timeout=30)

    # 1. ApiVersions
    c = Conn()
    v = api_versions(c)
    want = {SGH: (1, 1), SGD: (1, 1), SF: (1, 2), SA: (1, 2)}
    for k, r in want.items():
        if v.get(k) != r:
            fail("ApiVersions: api %d at %s, want %s" % (k, v.get(k), r))
    print("ok: ApiVersions lists ShareGroupHeartbeat 1, ShareGroupDescribe 1, "
          "ShareFetch 1-2, ShareAcknowledge 1-2", flush=True)

    # 2. heartbeats
    m1 = Member("member-one-0000000001")
    j = m1.join()
    if not j["assignment"] or len(j["assignment"]) != 1 or j["assignment"][0][1] != [0, 1]:
        fail("the assignment is %r, want the topic's partitions 0 and 1" % j["assignment"])
    u = j["assignment"][0][0]
    r = heartbeat(c, "", 0, [TOPIC])
    if r["error"] != 42:
        fail("an empty member id: error %d, want INVALID_REQUEST (42)" % r["error"])
    r = heartbeat(c, "nobody", 5, [TOPIC])
    if r["error"] != 25:
        fail("an unknown member with epoch 5: error %d, want UNKNOWN_MEMBER_ID (25)"
             % r["error"])
    r = heartbeat(c, m1.id, m1.epoch + 7)
    if r["error"] != 110:
        fail("a stale member epoch: error %d, want FENCED_MEMBER_EPOCH (110)" % r["error"])
    r = heartbeat(m1.c, m1.id, m1.epoch)
    if r["error"] or r["epoch"] != m1.epoch or r["interval"] <= 0:
        fail("a heartbeat at the member's epoch: %r" % r)
    print("ok: a member joins, assigned partitions 0 and 1 of %s by topic id; "
          "INVALID_REQUEST, UNKNOWN_MEMBER_ID and FENCED_MEMBER_EPOCH as Kafka "
          "answers them" % TOPIC, flush=True)

    # 3. latest: nothing before the first fetch; then 20 messages
    produce([b"before-%d" % i for i in range(3)])
    parts = [(u, 0), (u, 1)]
    t0 = time.monotonic()
    r = m1.fetch(parts, wait_ms=400)
    waited = time.monotonic() - t0
    if any(delivered(r, u, p) for p in (0, 1)):
        fail("the first fetch of a new share group got messages produced "
             "before it (auto offset reset is latest)")
    if waited < 0.3:
        fail("an empty ShareFetch with MaxWaitMs 400 came back after %.2f s" % waited)
    if r["lock_ms"] != 1000:
        fail("AcquisitionLockTimeoutMs %d, want 1000 (the broker's setting)" % r["lock_ms"])
    time.sleep(0.3)
    produce([b"job-%d" % i for i in range(20)])
    got = m1.take([(u, 0)], 20)
    values = sorted(x[2] for x in got)
    if values != sorted(b"job-%d" % i for i in range(20)):
        fail("member one got %r, want job-0..19 once each" % values)
    if any(x[3] != 1 for x in got):
        fail("first deliveries with a count other than 1: %r" % got)
    offs = sorted(x[1] for x in got)
    print("ok: a new share partition starts at the log's end; 20 messages "
          "then come to the member once each, count 1, offsets %d..%d"
          % (offs[0], offs[-1]), flush=True)

    # 4. accept 10, release 5, reject 5
    acc, rel, rej = offs[:10], offs[10:15], offs[15:]
    r = m1.ack({(u, 0): [(acc[0], acc[-1], [1]), (rel[0], rel[-1], [2]),
                         (rej[0], rej[-1], [3])]})
    if r["parts"].get((u, 0), (1,))[0] != 0:
        fail("ShareAcknowledge: %r" % r)
    m2 = Member("member-two-0000000002")
    m2.join()
    got2 = m2.take([(u, 0)], 5)
    if sorted(x[1] for x in got2) != rel or any(x[3] != 2 for x in got2):
        fail("member two got %r, want the 5 released (%r) with count 2" % (got2, rel))
    # member two lets the locks lapse; member one gets them (count 3)
    time.sleep(1.5)
    got3 = m1.take([(u, 0)], 5)
    if sorted(x[1] for x in got3) != rel or any(x[3] != 3 for x in got3):
        fail("after the locks lapsed member one got %r, want %r with count 3" % (got3, rel))
    r = m1.ack({(u, 0): [(rel[0], rel[-1], [2])]})
    extra = m2.take([(u, 0)], 1, seconds=2) + m1.take([(u, 0)], 1, seconds=1)
    if extra:
        fail("messages at the delivery limit were handed out again: %r" % extra)
    print("ok: 10 accepted, 5 released, 5 rejected; the released went to "
          "member two (count 2), lapsed back to member one (count 3), then "
          "archived at the limit of 3", flush=True)

    # 5. errors
    r = share_fetch(m1.c, m1.id, m1.session + 5, parts)
    if r["error"] != 123:
        fail("a wrong session epoch: error %d, want INVALID_SHARE_SESSION_EPOCH (123)"
             % r["error"])
    r = share_fetch(c, "no-session-member", 3, parts)
    if r["error"] != 122:
        fail("no session: error %d, want SHARE_SESSION_NOT_FOUND (122)" % r["error"])
    r = m1.ack({(u, 0): [(acc[0], acc[0], [1])]})
    if r["parts"].get((u, 0), (0,))[0] != 121:
        fail("acknowledging an accepted message again: %r, want INVALID_RECORD_STATE "
             "(121)" % r["parts"])
    # one request answers at most 2^20 offsets, whatever its batches
    r = m1.ack({(u, 0): [(10**9, 10**9 + 599999, [1]),
                         (2 * 10**9, 2 * 10**9 + 599999, [1])]})
    if r["parts"].get((u, 0), (0,))[0] != 42:
        fail("1.2 million offsets acknowledged in one request: %r, want "
             "INVALID_REQUEST (42)" % r["parts"])
    print("ok: INVALID_SHARE_SESSION_EPOCH, SHARE_SESSION_NOT_FOUND and "
          "INVALID_RECORD_STATE as Kafka answers them", flush=True)

    # 6. describe
    d = describe(c, [GROUP, "no-such-group"])
    g = d.get(GROUP)
    if not g or g["error"] or g["state"] != "Stable" or len(g["members"]) != 2:
        fail("ShareGroupDescribe %s: %r" % (GROUP, g))
    if sorted(m["id"] for m in g["members"]) != sorted([m1.id, m2.id]):
        fail("ShareGroupDescribe members: %r" % g["members"])
    if any(m["assignment"] != [(TOPIC, [0, 1])] for m in g["members"]):
        fail("ShareGroupDescribe assignments: %r" % [m["assignment"] for m in g["members"]])
    if d.get("no-such-group", {}).get("error") != 69:
        fail("ShareGroupDescribe of an unknown group: %r, want GROUP_ID_NOT_FOUND (69)"
             % d.get("no-such-group"))
    print("ok: ShareGroupDescribe: Stable, both members with their assignment; "
          "an unknown group GROUP_ID_NOT_FOUND", flush=True)

    # group configs: share.auto.offset.reset
    if group_config(c, "cfg-group") != (None, "latest", 5):
        fail("a group's share.auto.offset.reset by default: %r, want latest "
             "(DEFAULT_CONFIG)" % (group_config(c, "cfg-group"),))
    if group_config(c, "cfg-group", 0, "earliest") != (0, "earliest", 8):
        fail("set earliest: %r, want it (DYNAMIC_GROUP_CONFIG)"
             % (group_config(c, "cfg-group"),))
    if group_config(c, "cfg-group", 0, "by_duration:PT1H")[0] != 40:
        fail("by_duration should be INVALID_CONFIG (40)")
    if group_config(c, "cfg-group", 1) != (0, "latest", 5):
        fail("DELETE: %r, want latest again" % (group_config(c, "cfg-group"),))
    group_config(c, "early", 0, "earliest")
    e = Member("early-member-00000001")
    e.c.close()
    e.c = Conn()
    r = share_fetch(e.c, e.id, 0, [(u, 0)], group="early")
    got = []
    deadline = time.monotonic() + 10
    epoch = 1
    while len(got) < 3 and time.monotonic() < deadline:
        r = share_fetch(e.c, e.id, epoch, [(u, 0)], wait_ms=500, group="early")
        epoch += 1
        got += delivered(r, u, 0)
    if [x[1] for x in got][:3] != [b"before-0", b"before-1", b"before-2"]:
        fail("a group set to earliest got %r first, want the log's first "
             "messages" % got[:3])
    print("ok: share.auto.offset.reset as a group config: latest by default, "
          "earliest set (a new group then starts at the log's start), "
          "by_duration refused, DELETE back to the default", flush=True)

    # 7. priority, FIFO groups, delay (on partition 1)
    m2.fetch([(u, 1)], wait_ms=0, forget=[(u, 0)])
    produce([b"p%d-%d" % (pr, i) for i in range(2) for pr in (1, 9, 5)], partition=1,
            headers=lambda v: [("sl-priority", v[1:2])])
    got = m2.take([(u, 1)], 6, max_records=6)
    # one answer does not say in which order its messages were
    # acquired: released, they are asked for one at a time
    m2.ack({(u, 1): [(x[1], x[1], [2]) for x in got]})
    seq = []
    for _ in range(6):
        one = m2.take([(u, 1)], 1, max_records=1)
        if not one:
            fail("priority: a message did not come back")
        seq.append(one[0][2][:2])
        m2.ack({(u, 1): [(one[0][1], one[0][1], [1])]})
    if seq != [b"p9", b"p9", b"p5", b"p5", b"p1", b"p1"]:
        fail("priority order %r, want p9 p9 p5 p5 p1 p1" % seq)
    produce([b"a-1", b"a-2", b"b-1"], partition=1,
            headers=lambda v: [("sl-group", v[:1])])
    got = m2.take([(u, 1)], 2, seconds=2)
    if sorted(x[2] for x in got) != [b"a-1", b"b-1"]:
        fail("FIFO groups: the first fetch got %r, want a-1 and b-1" % got)
    # a-2 waits while a-1 is in flight (within a-1's lock of 1 s)
    r = m2.fetch([(u, 1)], wait_ms=300)
    if delivered(r, u, 1):
        fail("FIFO groups: %r came while a-1 was in flight" % delivered(r, u, 1))
    m2.ack({(u, 1): [(x[1], x[1], [1]) for x in got]})
    got = m2.take([(u, 1)], 1)
    if [x[2] for x in got] != [b"a-2"]:
        fail("FIFO groups: after a-1 was accepted %r, want a-2" % got)
    m2.ack({(u, 1): [(got[0][1], got[0][1], [1])]})
    # timed from before the produce: the record's timestamp is later
    t0 = time.monotonic()
    produce([b"late"], partition=1, headers=lambda v: [("sl-delay-ms", b"1500")])
    got = m2.take([(u, 1)], 1, seconds=6)
    took = time.monotonic() - t0
    if [x[2] for x in got] != [b"late"] or took < 1.5:
        fail("a message delayed 1.5 s came after %.2f s: %r" % (took, got))
    m2.ack({(u, 1): [(got[0][1], got[0][1], [1])]})
    print("ok: priorities 9, 5, 1 in that order; a FIFO group has one "
          "message in flight; a message delayed 1.5 s came after %.1f s" % took,
          flush=True)

    # 8. kill -9 with messages in flight
    produce([b"crash-%d" % i for i in range(10)])
    got = m1.take([(u, 0)], 10)
    if len(got) != 10:
        fail("before the crash member one got %d of 10" % len(got))
    got.sort()
    done, held = got[:4], got[4:]
    m1.ack({(u, 0): [(x[1], x[1], [1]) for x in done]})
    restart_crash()
    m3 = Member("member-three-000000003")
    deadline = time.monotonic() + 30
    while True:
        r = heartbeat(m3.c, m3.id, 0, [TOPIC])
        if not r["error"]:
            break
        if time.monotonic() > deadline:
            fail("after the restart the member cannot join: %r" % r)
        time.sleep(0.5)
    again = m3.take([(u, 0)], 6, seconds=15)
    if sorted(x[1] for x in again) != sorted(x[1] for x in held):
        fail("after kill -9: got %r, want exactly the 6 not acknowledged %r"
             % (sorted(x[1] for x in again), sorted(x[1] for x in held)))
    if any(x[3] != 2 for x in again):
        fail("after kill -9 the delivery counts are %r, want 2" % [x[3] for x in again])
    r = m3.ack({(u, 0): [(x[1], x[1], [1]) for x in again]})
    if r["parts"].get((u, 0), (1,))[0] != 0:
        fail("accepting the 6 after the restart: %r" % r)
    more = m3.take([(u, 0)], 1, seconds=2)
    if more:
        fail("after kill -9 and the 6 accepted, %r came again" % more)
    print("ok: kill -9 of both processes: the 6 messages in flight came back "
          "(count 2), the 4 accepted never", flush=True)

    # 10. a stored batch far larger than a control socket message
    big = [b"big-%04d-" % i + b"x" * 1000 for i in range(500)]
    produce(big, partition=1, big=True)
    got = []
    deadline = time.monotonic() + 15
    while len(got) < len(big) and time.monotonic() < deadline:
        got += [x for x in m3.take([(u, 1)], 1, seconds=2)
                if x[2].startswith(b"big-")]
    if sorted(x[2] for x in got) != sorted(big):
        fail("a 500 KiB batch: %d of its 500 messages handed out"
             % len(set(x[2] for x in got)))
    print("ok: a 500 KiB stored batch handed out whole, every message once",
          flush=True)
    for codec in ("zstd", "lz4", "gzip"):
        vals = [b"%s-%03d" % (codec.encode(), i) for i in range(50)]
        produce(vals, partition=1, codec=codec)
        got = []
        deadline = time.monotonic() + 10
        while len(got) < len(vals) and time.monotonic() < deadline:
            got += [x for x in m3.take([(u, 1)], 1, seconds=2)
                    if x[2].startswith(codec.encode() + b"-")]
        if sorted(x[2] for x in got) != sorted(vals):
            fail("%s-compressed messages: %d of 50 handed out"
                 % (codec, len(set(x[2] for x in got))))
    print("ok: zstd, lz4 and gzip batches handed out as stored, every "
          "message once", flush=True)
    c.close()


if __name__ == "__main__":
    main()
