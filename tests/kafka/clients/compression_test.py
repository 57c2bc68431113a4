"""Compressed batches from Kafka clients, end to end.

Run with Debian's /usr/bin/python3 (python3-confluent-kafka).  Without
KAFKA_BOOTSTRAP it runs itself again under kafka_broker_run
($KAFKA_BROKER_RUN), on a fresh broker of its own.

For each codec (gzip, snappy, lz4, zstd), on a topic of its own with one
partition:
  1. librdkafka's Producer with compression.type=<codec>: COUNT messages
     (compressible text, incompressible random bytes, empty values, null
     keys and values, one of 300 KB), every delivery a success at offsets
     0..COUNT-1;
  2. Produce v7 requests written here, each carrying a RecordBatch v2
     compressed with the codec (zlib, liblz4 and libzstd through ctypes; a
     literal-only snappy block): RAW more messages, answered without error
     at the offsets that follow;
  3. librdkafka's Consumer reads all of them back from the beginning: every
     key and value byte-identical, at the offset it was given;
  4. the partition's segment file ($SLUICE_DATA_DIR/<topic>-0/<20
     zeros>.log, a concatenation of RecordBatch v2 as storage/segment.c
     describes) holds every batch as it was sent: the codec in its
     attributes (the broker neither decompresses nor re-encodes), a valid
     CRC32C, record counts adding up.
sluice advertises Produce v0-13 and Fetch v0-18, so every librdkafka
compresses with each codec (before 2.10 it did not for gzip, snappy and
lz4 with a broker whose Produce versions start at 3, librdkafka issue
4956): step 1's batches carry the codec.
Every wait has a deadline.  Exit 0 when all holds, 1 with what did not.
"""
import ctypes
import ctypes.util
import os
import random
import socket
import struct
import sys
import time
import zlib

from kclib import cluster_size, data_dir, fail, leader_addr, missing, under_broker

CODECS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
COUNT = 400
RAW = 150  # messages in the hand-built batches, 50 per batch



try:
    from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
    from confluent_kafka import TopicPartition, OFFSET_BEGINNING
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError as e:
    missing("confluent_kafka", "python3-confluent-kafka", e)

BOOT = under_broker(__file__, "compression", 50)
DATA = data_dir()


def messages(codec):
    """COUNT (key, value) pairs, the same for a given codec every run."""
    rnd = random.Random("compression-" + codec)
    out = []
    for i in range(COUNT):
        kind = i % 5
        if kind == 0:
            v = ("line %06d of %s: " % (i, codec)).encode() * (1 + i % 40)
        elif kind == 1:
            v = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 3000)))
        elif kind == 2:
            v = b""
        elif kind == 3:
            v = None
        else:
            v = bytes([0]) * 100 + bytes(range(256)) * 3
        k = None if i % 7 == 0 else ("k-%d-%s" % (i % 13, codec)).encode()
        out.append((k, v))
    # one large message: 300 KB of text (several per batch otherwise)
    out[COUNT // 2] = (b"big", (b"0123456789abcdef" * 19200)[:300000])
    return out


# CRC32C (Castagnoli), reflected, as RecordBatch v2 uses it
_T = []
for n in range(256):
    c = n
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _T.append(c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _T[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def stored_batches(topic):
    """(base offset, attributes, record count, crc ok) of every batch in the
    partition's first segment, in file order."""
    path = os.path.join(DATA, topic + "-0", "%020d.log" % 0)
    with open(path, "rb") as f:
        data = f.read()
    out = []
    pos = 0
    while pos + 61 <= len(data):
        base, length = struct.unpack_from(">qi", data, pos)
        if length < 49 or pos + 12 + length > len(data) or data[pos + 16] != 2:
            break  # the zero padding after the last batch
        crc = struct.unpack_from(">I", data, pos + 17)[0]
        attrs = struct.unpack_from(">h", data, pos + 21)[0]
        count = struct.unpack_from(">i", data, pos + 57)[0]
        ok = crc32c(data[pos + 21:pos + 12 + length]) == crc
        out.append((base, attrs, count, ok))
        pos += 12 + length
    return out


# ---- compressing batches here ----

def _lib(name):
    path = ctypes.util.find_library(name)
    if not path:
        fail("lib%s is missing (the batches of step 2 need it): apt-get "
             "install lib%s1" % (name, name))
    return ctypes.CDLL(path)


_lz4 = _lib("lz4")
_lz4.LZ4F_compressFrameBound.restype = ctypes.c_size_t
_lz4.LZ4F_compressFrameBound.argtypes = [ctypes.c_size_t, ctypes.c_void_p]
_lz4.LZ4F_compressFrame.restype = ctypes.c_size_t
_lz4.LZ4F_compressFrame.argtypes = [ctypes.c_void_p, ctypes.c_size_t,
                                    ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p]
_lz4.LZ4F_isError.argtypes = [ctypes.c_size_t]
_zstd = _lib("zstd")
_zstd.ZSTD_compressBound.restype = ctypes.c_size_t
_zstd.ZSTD_compressBound.argtypes = [ctypes.c_size_t]
_zstd.ZSTD_compress.restype = ctypes.c_size_t
_zstd.ZSTD_compress.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p,
                                ctypes.c_size_t, ctypes.c_int]
_zstd.ZSTD_isError.argtypes = [ctypes.c_size_t]


def _lz4_frame(data):
    cap = _lz4.LZ4F_compressFrameBound(len(data), None)
    out = ctypes.create_string_buffer(cap)
    n = _lz4.LZ4F_compressFrame(out, cap, data, len(data), None)
    if _lz4.LZ4F_isError(n):
        fail("LZ4F_compressFrame failed")
    return out.raw[:n]


def _zstd_frame(data):
    cap = _zstd.ZSTD_compressBound(len(data))
    out = ctypes.create_string_buffer(cap)
    n = _zstd.ZSTD_compress(out, cap, data, len(data), 3)
    if _zstd.ZSTD_isError(n):
        fail("ZSTD_compress failed")
    return out.raw[:n]


def _uvarint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _varint(n):
    return _uvarint((n << 1) ^ (n >> 63))  # zigzag


def _snappy_literals(data):
    """A valid snappy block made of literals only (no copies)."""
    out = bytearray(_uvarint(len(data)))
    for pos in range(0, len(data), 65536):
        chunk = data[pos:pos + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + struct.pack("<H", n)
        out += chunk
    return bytes(out)


def _gzip(d):
    c = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: gzip framing
    return c.compress(d) + c.flush()


COMPRESS = {"gzip": _gzip, "snappy": _snappy_literals, "lz4": _lz4_frame,
            "zstd": _zstd_frame}


def record_batch(msgs, code, ts):
    """A RecordBatch v2 of msgs [(key, value)], records compressed with
    codec code, base offset 0 (the broker stamps it)."""
    recs = bytearray()
    for i, (k, v) in enumerate(msgs):
        body = b"\x00" + _varint(i) + _varint(i)  # attributes, ts delta, offset delta
        body += _varint(-1) if k is None else _varint(len(k)) + k
        body += _varint(-1) if v is None else _varint(len(v)) + v
        body += _uvarint(0)  # no headers
        recs += _varint(len(body)) + body
    payload = COMPRESS[CODEC_NAME[code]](bytes(recs))
    after_crc = struct.pack(">hiqqqhii", code, len(msgs) - 1, ts, ts + len(msgs) - 1,
                            -1, -1, -1, len(msgs)) + payload
    crc = crc32c(after_crc)
    head = struct.pack(">qiibI", 0, 4 + 1 + 4 + len(after_crc), -1, 2, crc)
    return head + after_crc


CODEC_NAME = {v: k for k, v in CODECS.items()}


def kafka_produce_v7(topic, batch, corr):
    """Send one Produce v7 (acks=all; zstd needs v7+, as in Kafka) with
    batch for partition 0; return
    (error code, base offset) from the answer."""
    t = topic.encode()
    body = struct.pack(">hhi", -1, -1, 10000)  # transactional id null, acks, timeout
    body += struct.pack(">ih", 1, len(t)) + t
    body += struct.pack(">iii", 1, 0, len(batch)) + batch
    head = struct.pack(">hhih", 0, 7, corr, 4) + b"ztst"
    req = head + body
    host, port = leader_addr(BOOT, topic, 0).rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    try:
        s.sendall(struct.pack(">i", len(req)) + req)
        size = struct.unpack(">i", _recv_exactly(s, 4))[0]
        resp = _recv_exactly(s, size)
    finally:
        s.close()
    rcorr, ntop = struct.unpack_from(">ii", resp, 0)
    if rcorr != corr or ntop != 1:
        fail("Produce v7 answer: correlation %d, %d topics" % (rcorr, ntop))
    nl = struct.unpack_from(">h", resp, 8)[0]
    pos = 10 + nl
    nparts, part, err, base = struct.unpack_from(">iihq", resp, pos)
    if nparts != 1 or part != 0:
        fail("Produce v7 answer: %d partitions, partition %d" % (nparts, part))
    return err, base


def _recv_exactly(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            fail("the broker closed the connection mid-answer")
        out += chunk
    return out


# ---- the test ----

admin = AdminClient({"bootstrap.servers": BOOT})
topics = ["z-" + c for c in CODECS]
futs = admin.create_topics([NewTopic(t, 1, cluster_size()) for t in topics],
                           operation_timeout=10)
for t, fut in futs.items():
    try:
        fut.result(timeout=15)
    except KafkaException as e:
        fail("create_topics %s: %s" % (t, e.args[0]))
    except Exception as e:
        fail("create_topics %s: no result within 15 s (%r)" % (t, e))

import confluent_kafka  # noqa: E402 (after the import check above)
RDK = confluent_kafka.libversion()
print("librdkafka %s" % RDK[0])
corr = 1

for codec, code in CODECS.items():
    topic = "z-" + codec
    msgs = messages(codec)
    raw = messages(codec + "-raw")[:RAW]
    print("== %s: %d messages from librdkafka, %d in hand-built batches" % (codec, COUNT, RAW))

    # 1. librdkafka's producer
    reports = {}
    errors = []

    def on_delivery(err, msg, i):
        if err is not None:
            errors.append((i, err))
        else:
            reports[i] = msg.offset()

    producer = Producer({"bootstrap.servers": BOOT, "acks": "all",
                         "compression.type": codec, "linger.ms": 50,
                         "batch.num.messages": 100,
                         "message.max.bytes": 1000000})
    for i, (k, v) in enumerate(msgs):
        producer.produce(topic, key=k, value=v, partition=0,
                         on_delivery=lambda err, msg, i=i: on_delivery(err, msg, i))
        producer.poll(0)
    left = producer.flush(20)
    if left:
        fail("%s: %d messages still queued after 20 s" % (codec, left))
    if errors:
        fail("%s: %d deliveries failed, the first: message %d: %s"
             % (codec, len(errors), errors[0][0], errors[0][1]))
    if any(reports.get(i) != i for i in range(COUNT)):
        fail("%s: offsets reported are not 0..%d in produce order" % (codec, COUNT - 1))

    # 2. hand-built compressed batches
    for j in range(0, RAW, 50):
        batch = record_batch(raw[j:j + 50], code, 1700000000000 + j)
        err, base = kafka_produce_v7(topic, batch, corr)
        corr += 1
        if err != 0 or base != COUNT + j:
            fail("%s: a hand-built batch answered error %d at offset %d (expected "
                 "0 at %d)" % (codec, err, base, COUNT + j))

    # 3. read everything back
    want = msgs + raw
    c = Consumer({"bootstrap.servers": BOOT, "group.id": "z-reader-" + codec,
                  "enable.auto.commit": False, "check.crcs": True,
                  "fetch.max.bytes": 4000000})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    got = 0
    deadline = time.monotonic() + 15
    while got < len(want) and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            fail("%s: consume: %s" % (codec, m.error()))
        if m.offset() != got:
            fail("%s: offset %d where %d was expected" % (codec, m.offset(), got))
        k, v = want[got]
        if m.key() != k or m.value() != v:
            fail("%s: offset %d: key %r value %s differ from what was produced "
                 "(key %r, %s)" % (codec, got, m.key(),
                                   None if m.value() is None else "%d bytes" % len(m.value()),
                                   k, None if v is None else "%d bytes" % len(v)))
        got += 1
    c.close()
    if got != len(want):
        fail("%s: %d of %d messages read back within 15 s" % (codec, got, len(want)))
    print("ok: %d messages read back byte-identical" % len(want))

    # 4. the stored batches (in a cluster, broker 1's replica: acks=all
    # waited for min.insync.replicas of them, so it may still be fetching)
    deadline = time.monotonic() + 15
    while True:
        batches = stored_batches(topic)
        if sum(b[2] for b in batches) >= len(want) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    records = 0
    rdk_codecs = set()
    for base, attrs, count, ok in batches:
        if os.environ.get("Z_DEBUG"):
            print("  batch %d: attrs 0x%x count %d" % (base, attrs, count))
        if base != records:
            fail("%s: batch at offset %d after %d records" % (codec, base, records))
        if not ok:
            fail("%s: the batch at offset %d fails its CRC32C" % (codec, base))
        if base >= COUNT:
            if attrs & 7 != code:
                fail("%s: the hand-built batch at offset %d is stored with codec %d "
                     "(attributes 0x%x), it was sent with %d" % (codec, base, attrs & 7,
                                                                 attrs, code))
        else:
            rdk_codecs.add(attrs & 7)
        records += count
    if records != len(want):
        fail("%s: stored batches hold %d records, %d were produced" % (codec, records, len(want)))
    # librdkafka sends a batch uncompressed when compressing does not make
    # it smaller, but some of its batches carry the codec
    if not rdk_codecs <= {0, code} or code not in rdk_codecs:
        fail("%s: librdkafka's batches are stored with codecs %r, it was asked "
             "for %d" % (codec, sorted(rdk_codecs), code))
    print("ok: %d batches stored as sent, CRCs valid; librdkafka's with codec %s"
          % (len(batches), sorted(rdk_codecs)))

print("PASS: gzip, snappy, lz4 and zstd batches stored as sent and read back intact")
