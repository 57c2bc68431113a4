"""tools/kafka_codegen.py's union of two sets of Kafka message definitions
(proto/kafka/messages/ and its 3.9/): the versions generated are both
ranges together, and an older version the newer file describes
differently on the wire stops the generator.

Usage: kafka_codegen_union_test.py TOOLS_DIR.  Exit 0 when all holds, 1 with
what did not."""
import copy
import sys

sys.path.insert(0, sys.argv[1])
import kafka_codegen as kg  # noqa: E402

FAILED = []


def check(cond, what):
    if not cond:
        FAILED.append(what)
        print("FAIL: " + what)


OLD = {
    "apiKey": 0, "type": "request", "name": "ProduceRequest",
    "validVersions": "0-11", "flexibleVersions": "9+",
    "fields": [
        {"name": "TransactionalId", "type": "string", "versions": "3+",
         "nullableVersions": "3+"},
        {"name": "Acks", "type": "int16", "versions": "0+"},
        {"name": "TopicData", "type": "[]TopicProduceData", "versions": "0+",
         "fields": [
             {"name": "Name", "type": "string", "versions": "0+"},
             {"name": "Records", "type": "records", "versions": "0+",
              "nullableVersions": "0+"}]},
    ],
}
NEW = copy.deepcopy(OLD)
NEW["validVersions"] = "3-13"
NEW["fields"][2]["fields"][0]["versions"] = "0-12"
NEW["fields"][2]["fields"].insert(1, {"name": "TopicId", "type": "uuid",
                                      "versions": "13+"})

spec = kg.union_versions("ProduceRequest.json", NEW, OLD)
check(spec["validVersions"] == "0-13",
      "union of 0-11 and 3-13 is %s, want 0-13" % spec["validVersions"])
check(kg.union_versions("X", NEW, None) is NEW, "no older file: the newer one")

# the newer file describing an old version otherwise: refused
for what, change in [
        ("a field's type", lambda f: f[1].update(type="int32")),
        ("a field's first version", lambda f: f[0].update(versions="2+")),
        ("nullability", lambda f: f[0].update(nullableVersions="4+")),
        ("a nested field", lambda f: f[2]["fields"][0].update(versions="1-12")),
        ("a tag", lambda f: f[1].update(taggedVersions="0+", tag=0))]:
    bad = copy.deepcopy(NEW)
    change(bad["fields"])
    try:
        kg.union_versions("ProduceRequest.json", bad, OLD)
        check(False, "%s changed at an old version was not refused" % what)
    except kg.SpecError as e:
        check("not described the same" in str(e),
              "%s: refused, but saying %r" % (what, str(e)))

# flexible versions count too
bad = copy.deepcopy(NEW)
bad["flexibleVersions"] = "8+"
try:
    kg.union_versions("ProduceRequest.json", bad, OLD)
    check(False, "flexibleVersions moved below an old version: not refused")
except kg.SpecError:
    pass

sys.exit(1 if FAILED else 0)
