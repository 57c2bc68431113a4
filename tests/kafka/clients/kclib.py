"""What the Python client tests of tests/kafka/clients share: failing with
a message, saying which Debian package a missing client comes from, and
running the test under a fresh broker of its own (kafka_broker_run) when no
broker is given in KAFKA_BOOTSTRAP."""
import os
import sys


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def missing(what, package, err):
    """An import of a client failed: say what to install, and fail."""
    fail("%s cannot be imported under %s (%s): apt-get install %s "
         "(tools/lib/deps.sh installs it) and run with /usr/bin/python3"
         % (what, sys.executable, err, package))


def under_broker(script, name, timeout, args=(), settings=()):
    """Without KAFKA_BOOTSTRAP, run script again under kafka_broker_run
    (a fresh broker of its own, stopped afterwards), with the broker
    settings given ("key=value"), and never return.  With it, return the
    bootstrap address."""
    boot = os.environ.get("KAFKA_BOOTSTRAP")
    if boot:
        return boot
    run = os.environ.get("KAFKA_BROKER_RUN")
    if not run or not os.access(run, os.X_OK):
        fail("KAFKA_BROKER_RUN must name tests/kafka/clients/kafka_broker_run "
             "(meson test sets it), or set KAFKA_BOOTSTRAP")
    argv = [run, "--timeout", str(timeout), "--name", name]
    for s in settings:
        argv += ["--set", s]
    os.execv(run, argv + ["--", sys.executable, os.path.abspath(script)] +
             list(args))


def data_dir():
    """The broker's data directory (kafka_broker_run sets it)."""
    d = os.environ.get("SLUICE_DATA_DIR")
    if not d:
        fail("SLUICE_DATA_DIR is not set (kafka_broker_run sets it)")
    return d


def cluster_size():
    """How many brokers kafka_broker_run started (KAFKA_CLUSTER_SIZE: 1
    for a single broker, N for a cluster of N, every topic then created
    with replication factor N)."""
    return int(os.environ.get("KAFKA_CLUSTER_SIZE", "1"))


def brokers_by_id(boot):
    """{node id: host:port} as kafka_broker_run numbers the brokers of
    KAFKA_BOOTSTRAP (1, 2, ... in its order)."""
    return {i + 1: a for i, a in enumerate(boot.split(","))}


def check_replicas(what, p, rf):
    """A partition of a list_topics answer: rf replicas, the leader one of
    them, every replica in sync."""
    if len(p.replicas) != rf or p.leader not in p.replicas or \
            sorted(p.isrs) != sorted(p.replicas):
        fail("%s: partition %d leader %d replicas %r isrs %r; expected %d replicas, "
             "the leader among them, all in sync" % (what, p.id, p.leader, p.replicas,
                                                    p.isrs, rf))


def leader_addr(boot, topic, partition, timeout=15):
    """host:port of the broker that leads topic's partition (Metadata
    through confluent-kafka's AdminClient, waiting for a leader): where a
    hand-built request for the partition goes."""
    import time
    from confluent_kafka.admin import AdminClient
    a = AdminClient({"bootstrap.servers": boot})
    deadline = time.monotonic() + timeout
    while True:
        md = a.list_topics(topic, timeout=10)
        t = md.topics.get(topic)
        p = t.partitions.get(partition) if t is not None and t.error is None else None
        if p is not None and p.leader in md.brokers:
            b = md.brokers[p.leader]
            return "%s:%d" % (b.host, b.port)
        if time.monotonic() > deadline:
            fail("no leader for %s-%d in Metadata within %d s" % (topic, partition, timeout))
        time.sleep(0.2)
