#!/usr/bin/env python3
"""Generate sluice's Kafka codec tables from Kafka's message definitions.

Input:
  proto/kafka/messages/<Name>{Request,Response}.json   Kafka's specification
      (clients/src/main/resources/common/message/, copied unmodified; see
      proto/kafka/messages/README.md), the newest Kafka's
  proto/kafka/messages/3.9/<Name>{Request,Response}.json   the same files of
      Kafka 3.9 where they differ: Kafka 4 dropped old versions that old
      clients still send, so the versions generated are the union of both
      (the newer file describes the old versions too; the generator checks
      that it describes them exactly as the older file does, field by
      field, and refuses to run when it does not)
  proto/kafka/apis.txt   the APIs to generate and the versions sluice serves

Output (deterministic, committed):
  proto/kafka/gen/kmsg.h   enum kc_api_key and one C struct per struct type
                           of every message (included by kcodec.h)
  proto/kafka/gen/kmsg.c   the schemas (struct kc_field / kc_schema tables)
                           for every version Kafka defines, and kc_apis[]

The generator only translates: every wire rule (compact lengths, tagged
fields, nullable structs) lives in proto/kafka/kcodec.c, which walks the
tables.  It refuses JSON it does not understand rather than guess.

Usage: tools/kafka_codegen.py [--out DIR]   (default: proto/kafka/gen)
       tools/kafka_codegen.py --check       generate into a temporary
           directory and compare with proto/kafka/gen: exit 1 with a unified
           diff when the committed files are not what the input makes
Standard library only.
"""

import argparse
import difflib
import json
import os
import re
import struct
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
MSG_DIR = os.path.join(ROOT, "proto", "kafka", "messages")
OLD_DIR = os.path.join(MSG_DIR, "3.9")
API_LIST = os.path.join(ROOT, "proto", "kafka", "apis.txt")
ANY = 0x7FFF  # KC_VERSION_ANY: "N+" and "never"

# Kafka struct type names -> the C struct names the handlers already use.
# Names only: anything not listed gets kc_<api>_<req|resp>_<type>, with the
# message or API name stripped from the front of Kafka's type name.
ALIASES = {
    ("ApiVersionsResponse", "ApiVersion"): "kc_api_version_key",
    ("MetadataResponse", "MetadataResponseBroker"): "kc_metadata_broker",
    ("MetadataResponse", "MetadataResponseTopic"): "kc_metadata_topic",
    ("MetadataResponse", "MetadataResponsePartition"): "kc_metadata_partition",
    ("ListOffsetsResponse", "ListOffsetsTopicResponse"): "kc_list_offsets_resp_topic",
    ("ListOffsetsResponse", "ListOffsetsPartitionResponse"): "kc_list_offsets_resp_partition",
    ("ProduceRequest", "TopicProduceData"): "kc_produce_req_topic",
    ("ProduceRequest", "PartitionProduceData"): "kc_produce_req_partition",
    ("ProduceResponse", "TopicProduceResponse"): "kc_produce_resp_topic",
    ("ProduceResponse", "PartitionProduceResponse"): "kc_produce_resp_partition",
    ("ProduceResponse", "BatchIndexAndErrorMessage"): "kc_produce_record_error",
    ("FetchRequest", "ForgottenTopic"): "kc_fetch_forgotten_topic",
    ("FetchResponse", "FetchableTopicResponse"): "kc_fetch_resp_topic",
    ("FetchResponse", "PartitionData"): "kc_fetch_resp_partition",
    ("FetchResponse", "AbortedTransaction"): "kc_fetch_aborted_txn",
    ("FindCoordinatorResponse", "Coordinator"): "kc_find_coordinator_coordinator",
    ("CreateTopicsRequest", "CreatableTopic"): "kc_create_topics_req_topic",
    ("CreateTopicsRequest", "CreatableReplicaAssignment"): "kc_create_topics_assignment",
    ("CreateTopicsRequest", "CreatableTopicConfig"): "kc_create_topics_req_config",
    ("CreateTopicsResponse", "CreatableTopicResult"): "kc_create_topics_resp_topic",
    ("CreateTopicsResponse", "CreatableTopicConfigs"): "kc_create_topics_resp_config",
    ("DeleteTopicsRequest", "DeleteTopicState"): "kc_delete_topics_req_topic",
    ("DeleteTopicsResponse", "DeletableTopicResult"): "kc_delete_topics_resp_topic",
    ("DescribeConfigsRequest", "DescribeConfigsResource"): "kc_describe_configs_resource",
    ("DescribeConfigsResponse", "DescribeConfigsResult"): "kc_describe_configs_result",
    ("DescribeConfigsResponse", "DescribeConfigsResourceResult"): "kc_describe_configs_entry",
    ("DescribeConfigsResponse", "DescribeConfigsSynonym"): "kc_describe_configs_synonym",
    ("LeaveGroupRequest", "MemberIdentity"): "kc_leave_group_req_member",
    ("LeaveGroupResponse", "MemberResponse"): "kc_leave_group_resp_member",
    ("DescribeGroupsResponse", "DescribedGroup"): "kc_described_group",
    ("DescribeGroupsResponse", "DescribedGroupMember"): "kc_described_group_member",
    ("ListGroupsResponse", "ListedGroup"): "kc_listed_group",
    ("DeleteGroupsResponse", "DeletableGroupResult"): "kc_deletable_group_result",
}

# Kafka's primitive types: (enum kc_type, C type, fewest wire bytes)
PRIMS = {
    "int8": ("KC_INT8", "int8_t"),
    "int16": ("KC_INT16", "int16_t"),
    "uint16": ("KC_UINT16", "uint16_t"),
    "int32": ("KC_INT32", "int32_t"),
    "uint32": ("KC_UINT32", "uint32_t"),
    "int64": ("KC_INT64", "int64_t"),
    "float64": ("KC_FLOAT64", "double"),
    "bool": ("KC_BOOL", "bool"),
    "string": ("KC_STRING", "struct kc_str"),
    "bytes": ("KC_BYTES", "struct kc_bytes"),
    "records": ("KC_BYTES", "struct kc_bytes"),  # opaque record batches
    "uuid": ("KC_UUID", "struct kc_uuid"),
}
# Arrays of values ("[]int32"...): the element is the value itself.
PLAIN_NAMES = {
    "int8": "i8", "int16": "i16", "uint16": "u16", "int32": "i32",
    "uint32": "u32", "int64": "i64", "float64": "f64", "bool": "bool",
    "string": "str", "bytes": "bytes", "uuid": "uuid",
}

C_KEYWORDS = set("""auto break case char const continue default do double else
enum extern float for goto if inline int long register restrict return short
signed sizeof static struct switch typedef union unsigned void volatile while
bool true false""".split())

KNOWN_FIELD_KEYS = {"name", "type", "versions", "about", "fields",
                    "nullableVersions", "default", "taggedVersions", "tag",
                    "mapKey", "entityType", "ignorable", "zeroCopy"}
KNOWN_MSG_KEYS = {"apiKey", "type", "name", "validVersions",
                  "flexibleVersions", "fields", "commonStructs", "listeners",
                  "latestVersionUnstable", "deprecatedVersions",
                  "headerVersions"}


class SpecError(Exception):
    pass


def snake(name):
    """Kafka's MessageGenerator.toSnakeCase: an underscore before each
    capital that follows a lower-case letter or digit."""
    out = []
    prev_cap = True
    for ch in name:
        if ch.isupper():
            if not prev_cap:
                out.append("_")
            out.append(ch.lower())
            prev_cap = True
        else:
            out.append(ch)
            prev_cap = False
    return "".join(out)


def versions(text, what):
    """'3+' -> (3, ANY), '1-4' -> (1, 4), '2' -> (2, 2), 'none'/'' -> None"""
    if text is None:
        return None
    text = text.strip()
    if text in ("", "none"):
        return None
    m = re.fullmatch(r"(\d+)\+", text)
    if m:
        return (int(m.group(1)), ANY)
    m = re.fullmatch(r"(\d+)-(\d+)", text)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        if lo > hi:
            raise SpecError("%s: empty version range %r" % (what, text))
        return (lo, hi)
    m = re.fullmatch(r"\d+", text)
    if m:
        return (int(text), int(text))
    raise SpecError("%s: cannot read versions %r" % (what, text))


def vtext(r):
    lo, hi = r
    return "v%d+" % lo if hi == ANY else ("v%d" % lo if lo == hi else "v%d-%d" % (lo, hi))


def load_json(path):
    """Kafka's JSON with // comment lines."""
    with open(path, encoding="utf-8") as f:
        lines = [l for l in f.read().split("\n") if not l.lstrip().startswith("//")]
    return json.loads("\n".join(lines))


def cnum(v):
    if v == ANY:
        return "ANY"
    return str(v)


def cint64(v):
    if v == -(1 << 63):
        return "INT64_MIN"
    if v == -(1 << 31):
        return "INT32_MIN"
    return str(v)


class Field:
    pass


class Struct:
    def __init__(self, kname, cname, plain=False):
        self.kname = kname
        self.cname = cname
        self.fields = []
        self.plain = plain
        self.used_by = []  # "Topics[]" paths, for comments


class Message:
    """One <Name>Request.json or <Name>Response.json, as C structs."""

    def __init__(self, spec, side, api_snake, plains):
        self.spec = spec
        self.name = spec["name"]
        self.side = side
        self.api_snake = api_snake
        self.plains = plains
        self.common = {}
        for cs in spec.get("commonStructs", []):
            self.common[cs["name"]] = cs
        self.structs = {}  # Kafka type name -> Struct
        self.order = []    # post-order: nested before the struct using it
        self.flex = versions(spec.get("flexibleVersions"), self.name)
        self.valid = versions(spec["validVersions"], self.name)
        for k in spec:
            if k not in KNOWN_MSG_KEYS:
                raise SpecError("%s: unknown key %r" % (self.name, k))
        # headerVersions, where a file states it, must be what the
        # flexible versions imply (request header v2, response header v1
        # in them): the codec derives the header from flexibility alone
        for vr, hv in spec.get("headerVersions", {}).items():
            lo, hi = versions(vr, self.name)
            want = {("req", True): "2", ("req", False): "1",
                    ("resp", True): "1", ("resp", False): "0"}
            for v in range(max(lo, self.valid[0]), min(hi, self.valid[1]) + 1):
                fl = self.flex is not None and self.flex[0] <= v <= self.flex[1]
                if hv != want[(side, fl)]:
                    raise SpecError("%s: header version %s at v%d, the codec "
                                    "uses %s" % (self.name, hv, v,
                                                 want[(side, fl)]))
        top_c = "kc_%s_%s" % (api_snake, side)
        self.top = self.build(self.name, top_c, spec["fields"], self.name)

    def cname_for(self, kname):
        alias = ALIASES.get((self.name, kname))
        if alias:
            return alias
        api = self.name[: -len("Request")] if self.side == "req" else self.name[: -len("Response")]
        rest = kname
        for prefix in (self.name, api):
            if rest.startswith(prefix) and len(rest) > len(prefix):
                rest = rest[len(prefix):]
                break
        return "kc_%s_%s_%s" % (self.api_snake, self.side, snake(rest))

    def struct_of(self, kname, fields, path):
        if kname in self.structs:
            if fields:
                raise SpecError("%s: struct %s defined twice" % (self.name, kname))
            self.structs[kname].used_by.append(path)
            return self.structs[kname]
        if fields is None:
            if kname not in self.common:
                raise SpecError("%s: unknown struct type %s" % (self.name, kname))
            fields = self.common[kname]["fields"]
        return self.build(kname, self.cname_for(kname), fields, path)

    def build(self, kname, cname, fields, path):
        s = Struct(kname, cname)
        s.used_by.append(path)
        self.structs[kname] = s
        members = set()
        tags = set()
        for fs in fields:
            f = self.field(fs, "%s.%s" % (path, fs["name"]))
            for m in ([f.present_member] if f.present_member else []) + [f.member]:
                if m in members:
                    raise SpecError("%s: member %s twice in %s" % (self.name, m, kname))
                members.add(m)
            if f.tag is not None:
                if f.tag in tags:
                    raise SpecError("%s: tag %d twice in %s" % (self.name, f.tag, kname))
                tags.add(f.tag)
            s.fields.append(f)
        self.order.append(s)
        return s

    def field(self, fs, path):
        for k in fs:
            if k not in KNOWN_FIELD_KEYS:
                raise SpecError("%s: unknown field key %r (a per-field "
                                "flexibleVersions override is not supported)" % (path, k))
        f = Field()
        f.kname = fs["name"]
        f.member = snake(f.kname)
        if f.member in C_KEYWORDS:
            f.member += "_"
        f.ktype = fs["type"]
        f.tagged = versions(fs.get("taggedVersions"), path)
        f.versions = versions(fs.get("versions"), path) or f.tagged
        if f.versions is None:
            raise SpecError("%s: no versions" % path)
        f.tag = fs.get("tag")
        if (f.tag is None) != (f.tagged is None):
            raise SpecError("%s: tag and taggedVersions go together" % path)
        if f.tagged:
            if f.tagged[1] != ANY:
                raise SpecError("%s: taggedVersions must be open-ended" % path)
            if not self.flex or f.tagged[0] < self.flex[0]:
                raise SpecError("%s: tagged outside the flexible versions" % path)
            if f.tagged[0] < f.versions[0] or f.versions[1] != ANY:
                raise SpecError("%s: taggedVersions not within versions" % path)
        nul = versions(fs.get("nullableVersions"), path)
        if nul and nul[1] != ANY and nul[1] < self.valid[0]:
            # nullable only in versions Kafka removed (ShareFetchResponse
            # Records: "0", with valid versions from 1): never, here
            nul = None
        if nul and nul[1] != ANY and nul[1] < f.versions[1]:
            # the codec keeps "nullable from version N on"
            raise SpecError("%s: nullableVersions %r end before the field" % (path, fs["nullableVersions"]))
        f.nullable = nul
        f.nested = None
        f.present_member = None
        d = fs.get("default", "")
        if isinstance(d, bool):
            d = "true" if d else "false"
        elif isinstance(d, int):
            d = str(d)
        t = f.ktype
        if t.startswith("[]"):
            elem = t[2:]
            f.kc = "KC_ARRAY"
            f.ctype = "struct kc_array"
            if elem in PRIMS:
                f.nested = self.plain(elem)
                f.of = PRIMS[elem][1]
            else:
                f.nested = self.struct_of(elem, fs.get("fields"), path + "[]")
                f.of = "struct " + f.nested.cname
            f.dflt, f.dstr = self.null_or_empty(d, path, nul)
        elif t in PRIMS:
            if "fields" in fs:
                raise SpecError("%s: a %s with fields" % (path, t))
            f.kc, f.ctype = PRIMS[t]
            f.dflt, f.dstr = self.default(t, d, path, nul)
        else:
            f.kc = "KC_STRUCT"
            f.nested = self.struct_of(t, fs.get("fields"), path)
            f.ctype = "struct " + f.nested.cname
            f.dflt, f.dstr = self.null_or_empty(d, path, nul)
            if nul:
                f.present_member = "has_" + f.member
        return f

    def plain(self, elem):
        if elem not in self.plains:
            kc, ctype = PRIMS[elem]
            s = Struct(elem, "kc_plain_" + PLAIN_NAMES[elem], plain=True)
            f = Field()
            f.kname, f.member, f.ktype, f.kc, f.ctype = elem, "v", elem, kc, ctype
            f.versions, f.tagged, f.tag, f.nullable = (0, ANY), None, None, None
            f.nested, f.present_member, f.dflt, f.dstr = None, None, 0, None
            s.fields.append(f)
            self.plains[elem] = s
        return self.plains[elem]

    @staticmethod
    def null_or_empty(d, path, nul):
        if d == "null":
            if not nul:
                raise SpecError("%s: default null but never nullable" % path)
            return -1, None
        if d != "":
            raise SpecError("%s: default %r (only null or empty)" % (path, d))
        return 0, None

    @staticmethod
    def default(t, d, path, nul):
        if t in ("string", "bytes", "records"):
            if d == "null" or (t == "records" and d == ""):
                if d == "null" and not nul:
                    raise SpecError("%s: default null but never nullable" % path)
                return (-1, None) if d == "null" else (0, None)
            if t != "string" and d != "":
                raise SpecError("%s: bytes default %r" % (path, d))
            if d == "":
                return 0, None
            return 0, d
        if t == "bool":
            if d.lower() in ("", "false"):
                return 0, None
            if d.lower() == "true":
                return 1, None
            raise SpecError("%s: bool default %r" % (path, d))
        if t == "uuid":
            if d not in ("", "AAAAAAAAAAAAAAAAAAAAAA"):
                raise SpecError("%s: only the zero uuid is supported as a default" % path)
            return 0, None
        if t == "float64":
            bits = struct.unpack("<q", struct.pack("<d", float(d or "0")))[0]
            return bits, None
        neg = d.startswith("-")
        body = d[1:] if neg else d
        v = int(body, 16) if body.startswith("0x") else int(body or "0")
        v = -v if neg else v
        lim = {"int8": (-128, 127), "int16": (-32768, 32767), "uint16": (0, 65535),
               "int32": (-(1 << 31), (1 << 31) - 1), "uint32": (0, (1 << 32) - 1),
               "int64": (-(1 << 63), (1 << 63) - 1)}[t]
        if not lim[0] <= v <= lim[1]:
            raise SpecError("%s: default %r out of range" % (path, d))
        return v, None


def read_api_list():
    apis = []
    with open(API_LIST, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2:
                raise SpecError("apis.txt:%d: expected 'Name min-max|none'" % n)
            name, rng = parts
            served = None if rng == "none" else versions(rng, "apis.txt:%d" % n)
            if rng != "none" and (served is None or served[1] == ANY):
                raise SpecError("apis.txt:%d: served range must be min-max" % n)
            apis.append((name, served))
    return apis


class Api:
    pass


def in_range(text, v):
    r = versions(text, "layout")
    return r is not None and r[0] <= v <= r[1]


def wire_layout(spec, v):
    """What version v of a message looks like on the wire, as a comparable
    value: flexible or not, then each field present (its name, type,
    nullability, tag and nested fields, common structs expanded)."""
    common = {c["name"]: c for c in spec.get("commonStructs", [])}

    def walk(fields):
        out = []
        for f in fields:
            if not in_range(f.get("versions"), v):
                continue
            tag = f.get("tag") if in_range(f.get("taggedVersions"), v) else None
            t = f["type"]
            sub = f.get("fields")
            if sub is None:
                base = t[2:] if t.startswith("[]") else t
                if base in common:
                    sub = common[base]["fields"]
            out.append((f["name"], t, in_range(f.get("nullableVersions"), v),
                        tag, walk(sub) if sub else None))
        return out
    return (in_range(spec.get("flexibleVersions"), v), walk(spec.get("fields", [])))


def union_versions(name, new, old):
    """new: the newest definition of a message, old: Kafka 3.9's (or None).
    Returns new with validVersions widened to both ranges, after checking
    that every version of old reads the same in new."""
    if old is None:
        return new
    vo = versions(old["validVersions"], name)
    vn = versions(new["validVersions"], name)
    if vo is None or vn is None:
        raise SpecError("%s: a definition without versions" % name)
    for v in range(vo[0], vo[1] + 1):
        if wire_layout(old, v) != wire_layout(new, v):
            raise SpecError("%s: version %d is not described the same in "
                            "messages/3.9 and messages/" % (name, v))
    spec = dict(new)
    spec["validVersions"] = "%d-%d" % (min(vo[0], vn[0]), max(vo[1], vn[1]))
    return spec


def load_spec(fname):
    new = load_json(os.path.join(MSG_DIR, fname))
    old_path = os.path.join(OLD_DIR, fname)
    old = load_json(old_path) if os.path.exists(old_path) else None
    return union_versions(fname, new, old)


def load_apis():
    plains = {}
    out = []
    seen_c = {}
    for name, served in read_api_list():
        a = Api()
        a.name = name
        a.snake = snake(name)
        a.served = served
        a.req_spec = load_spec(name + "Request.json")
        a.resp_spec = load_spec(name + "Response.json")
        if a.req_spec["apiKey"] != a.resp_spec["apiKey"]:
            raise SpecError("%s: request and response keys differ" % name)
        a.key = a.req_spec["apiKey"]
        a.req = Message(a.req_spec, "req", a.snake, plains)
        a.resp = Message(a.resp_spec, "resp", a.snake, plains)
        if a.req.valid != a.resp.valid or a.req.flex != a.resp.flex:
            raise SpecError("%s: request and response versions differ" % name)
        a.valid = a.req.valid
        a.flex = a.req.flex
        if served and not (a.valid[0] <= served[0] and served[1] <= a.valid[1]):
            raise SpecError("%s: serves %s outside Kafka's %s" % (name, served, a.valid))
        for m in (a.req, a.resp):
            for s in m.order:
                if s.cname in seen_c:
                    raise SpecError("C struct %s from %s and %s" % (s.cname, seen_c[s.cname], m.name))
                seen_c[s.cname] = m.name
        out.append(a)
    keys = [a.key for a in out]
    if len(set(keys)) != len(keys):
        raise SpecError("an API listed twice")
    out.sort(key=lambda a: a.key)
    used_aliases = set()
    for a in out:
        for m in (a.req, a.resp):
            for s in m.order:
                if (m.name, s.kname) in ALIASES:
                    used_aliases.add((m.name, s.kname))
    unused = set(ALIASES) - used_aliases
    if unused:
        raise SpecError("aliases for types that no message has: %s" % sorted(unused))
    return out, plains


HEADER_NOTE = """Generated by tools/kafka_codegen.py from Kafka's message definitions
 * (proto/kafka/messages/<Name>.json) and the API list (proto/kafka/apis.txt).
 * Do not edit: change the input and run `python3 tools/kafka_codegen.py`."""


def field_comment(f):
    bits = []
    if f.versions != (0, ANY):
        bits.append(vtext(f.versions))
    if f.kc == "KC_ARRAY":
        bits.insert(0, "of " + f.of)
    if f.ktype == "records":
        bits.append("records")
    if f.nullable:
        bits.append("nullable" if f.nullable[0] <= f.versions[0] else "nullable v%d+" % f.nullable[0])
    if f.tagged:
        bits.append("tag %d" % f.tag + ("" if f.tagged[0] <= f.versions[0] else " from v%d" % f.tagged[0]))
    d = f.dflt
    if f.dstr is not None:
        bits.append('default "%s"' % f.dstr)
    elif f.kc == "KC_FLOAT64":
        v = struct.unpack("<d", struct.pack("<q", d))[0]
        if v != 0:
            bits.append("default %r" % v)
    elif d == -1 and f.kc in ("KC_STRING", "KC_BYTES", "KC_ARRAY", "KC_STRUCT"):
        bits.append("default null")
    elif d != 0 and f.kc == "KC_BOOL":
        bits.append("default true")
    elif d != 0:
        bits.append("default %s" % cint64(d))
    return " /* %s */" % ", ".join(bits) if bits else ""


def gen_header(apis):
    o = []
    o.append("/*\n * " + HEADER_NOTE + "\n *")
    o.append(""" * One C struct per struct type of every message, members in Kafka's field
 * order and named by Kafka's field names in snake_case; a comment gives the
 * versions of a member that is not in every version, its nullability, tag
 * and default.  Members absent from a version decode to their default.
 * Strings are struct kc_str, bytes and records struct kc_bytes, uuids
 * struct kc_uuid, arrays struct kc_array (items in the decode arena).  A
 * nullable struct member comes with a bool has_<member> (false: null).
 *
 * Included by kcodec.h, which defines the value types; include that.
 */
#ifndef SLUICE_PROTO_KAFKA_GEN_KMSG_H
#define SLUICE_PROTO_KAFKA_GEN_KMSG_H

#ifndef SLUICE_PROTO_KAFKA_KCODEC_H
#error "include proto/kafka/kcodec.h, not gen/kmsg.h"
#endif
""")
    o.append("enum kc_api_key {")
    for a in apis:
        o.append("\tKC_API_%s = %d," % (a.snake.upper(), a.key))
    o.append("};\n")
    for a in apis:
        flex = "flexible %s" % vtext(a.flex) if a.flex else "never flexible"
        served = "served %s" % vtext(a.served) if a.served else "not served"
        o.append("/* ---- %s (key %d): Kafka %s, %s; %s ---- */\n" % (
            a.name, a.key, vtext(a.valid), flex, served))
        for m in (a.req, a.resp):
            for s in m.order:
                where = ", ".join(s.used_by)
                o.append("/* %s */" % where)
                o.append("struct %s {" % s.cname)
                if not s.fields:
                    o.append("\tuint8_t unused_; /* no fields in any version */")
                for f in s.fields:
                    if f.present_member:
                        o.append("\tbool %s; /* %s is not null */" % (f.present_member, f.member))
                    o.append("\t%s %s;%s" % (f.ctype, f.member, field_comment(f)))
                o.append("};")
            o.append("")
    o.append("#endif")
    return "\n".join(o) + "\n"


def schema_sym(s):
    return "s_" + s.cname[len("kc_"):]


def field_row(s, f):
    off = "OFF(%s, %s)" % (s.cname, f.member)
    pres = "OFF(%s, %s)" % (s.cname, f.present_member) if f.present_member else "0"
    nul = cnum(f.nullable[0]) if f.nullable else "NEVER"
    tmin = cnum(f.tagged[0]) if f.tagged else "NEVER"
    tag = str(f.tag) if f.tag is not None else "0"
    dstr = '"%s"' % f.dstr.replace("\\", "\\\\").replace('"', '\\"') if f.dstr is not None else "NULL"
    nest = "&" + schema_sym(f.nested) if f.nested else "NULL"
    return '\t{"%s", %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s},' % (
        f.kname, f.kc, cnum(f.versions[0]), cnum(f.versions[1]), nul, tmin,
        tag, off, pres, cint64(f.dflt), dstr, nest)


def gen_source(apis, plains):
    o = []
    o.append("/*\n * " + HEADER_NOTE + "\n *")
    o.append(""" * The schemas of every version Kafka defines for the APIs in apis.txt, and
 * kc_apis[], the API table (by key).  A field row reads:
 *   {Kafka name, type, first version, last version, first nullable version,
 *    first tagged version, tag, offset, offset of has_<member> (nullable
 *    structs), default, string default, nested schema (arrays, structs)}
 * ANY is an open end ("N+"), NEVER a property the field never has.
 */
#include <stddef.h>
#include <stdint.h>

#include "proto/kafka/kcodec.h"

#define ANY KC_VERSION_ANY
#define NEVER KC_VERSION_ANY
#define OFF(st, m) offsetof(struct st, m)
#define SCHEMA(st, arr, plain) \\
	{#st, sizeof(struct st), sizeof(arr) / sizeof(arr[0]), arr, plain}

/* ---- arrays of values ("[]int32"...): no tagged fields after each ---- */
""")
    for elem in sorted(plains):
        s = plains[elem]
        f = s.fields[0]
        o.append("struct %s {\n\t%s v;\n};" % (s.cname, f.ctype))
        o.append('_Static_assert(sizeof(struct %s) == sizeof(%s), "%s");' % (s.cname, f.ctype, elem))
        o.append("static const struct kc_field f_%s[] = {\n%s\n};" % (s.cname[3:], field_row(s, f)))
        o.append("static const struct kc_schema %s = SCHEMA(%s, f_%s, true);\n" % (
            schema_sym(s), s.cname, s.cname[3:]))
    for a in apis:
        o.append("/* ---- %s (key %d) ---- */\n" % (a.name, a.key))
        for m in (a.req, a.resp):
            for s in m.order:
                if s.fields:
                    o.append("static const struct kc_field f_%s[] = {" % s.cname[3:])
                    for f in s.fields:
                        o.append(field_row(s, f))
                    o.append("};")
                    o.append("static const struct kc_schema %s = SCHEMA(%s, f_%s, false);" % (
                        schema_sym(s), s.cname, s.cname[3:]))
                else:
                    o.append('static const struct kc_schema %s = {"%s", sizeof(struct %s), 0, NULL, false};' % (
                        schema_sym(s), s.cname, s.cname))
            o.append("")
    o.append("/* every top-level body fits in union kc_request / kc_response */")
    for a in apis:
        for m in (a.req, a.resp):
            o.append('_Static_assert(sizeof(struct %s) <= KC_BODY_MAX, "%s");' % (m.top.cname, m.top.cname))
    o.append("")
    o.append("/* key, name, served min and max (min > max: not served), Kafka's")
    o.append(" * validVersions, Kafka's first flexible version, schemas */")
    o.append("const struct kc_api kc_apis[] = {")
    for a in apis:
        smin, smax = a.served if a.served else (0, -1)
        fl = cnum(a.flex[0]) if a.flex else "NEVER"
        o.append('\t{KC_API_%s, "%s", %d, %d, %d, %d, %s, &%s, &%s},' % (
            a.snake.upper(), a.name, smin, smax, a.valid[0], a.valid[1], fl,
            schema_sym(a.req.top), schema_sym(a.resp.top)))
    o.append("};")
    o.append("const size_t kc_apis_n = sizeof(kc_apis) / sizeof(kc_apis[0]);")
    return "\n".join(o) + "\n"


GEN_DIR = os.path.join(ROOT, "proto", "kafka", "gen")
OUTPUTS = ("kmsg.h", "kmsg.c")


def check(texts):
    """Write the outputs into a temporary directory, compare them with the
    committed ones; 0 when equal, else 1 after printing the diff."""
    bad = 0
    with tempfile.TemporaryDirectory(prefix="kafka_codegen.") as tmp:
        for name in OUTPUTS:
            fresh = os.path.join(tmp, name)
            with open(fresh, "w", encoding="utf-8", newline="\n") as f:
                f.write(texts[name])
            committed = os.path.join(GEN_DIR, name)
            try:
                with open(committed, encoding="utf-8") as f:
                    old = f.read()
            except OSError as e:
                print("kafka_codegen: %s" % e, file=sys.stderr)
                bad = 1
                continue
            with open(fresh, encoding="utf-8") as f:
                new = f.read()
            if old != new:
                bad = 1
                sys.stdout.writelines(difflib.unified_diff(
                    old.splitlines(True), new.splitlines(True),
                    "proto/kafka/gen/" + name + " (committed)",
                    "proto/kafka/gen/" + name + " (generated)"))
    if bad:
        print("kafka_codegen: proto/kafka/gen is not what the generator "
              "makes of proto/kafka/messages and apis.txt; run "
              "python3 tools/kafka_codegen.py and commit the result",
              file=sys.stderr)
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=GEN_DIR,
                    help="output directory (default: proto/kafka/gen)")
    ap.add_argument("--check", action="store_true",
                    help="compare a fresh generation with proto/kafka/gen")
    args = ap.parse_args()
    try:
        apis, plains = load_apis()
    except (SpecError, OSError, ValueError, KeyError) as e:
        print("kafka_codegen: %s" % e, file=sys.stderr)
        return 1
    texts = {"kmsg.h": gen_header(apis), "kmsg.c": gen_source(apis, plains)}
    if args.check:
        return check(texts)
    os.makedirs(args.out, exist_ok=True)
    for name in OUTPUTS:
        with open(os.path.join(args.out, name), "w", encoding="utf-8", newline="\n") as f:
            f.write(texts[name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
