"""A DPDK broker in a cluster: broker 1 of three runs driver = dpdk
(net_af_packet on a veth whose other end is in a network namespace), the
other two the kernel socket driver on loopback.  Real processes, the real
CLI (libsluice) in the namespace, real Kafka clients.

Run by meson with SLUICED, SLUICE_CONTROL, SLUICE and SLUICE_TEST_TMPDIR
set; root.  Exit 77 only when a prerequisite outside the project is
missing (root, network namespaces and veth, DPDK's af_packet PMD).

Topology (N from the pid, private subnets inside this test only):
  data:  ns sdm<pid> dmc<pid> 10.86.N.1/24 <-veth-> dmd<pid> (root ns, no
         kernel IP: broker 1's DPDK port, dpdk_ip 10.86.N.2)
  admin: ns dma<pid> 10.87.N.2/24 <-veth-> dmr<pid> 10.87.N.1/24 (root
         ns): broker 1's kernel TCP (native, Kafka, replication) listens
         there, and the other brokers reach it there.

1. The three brokers form a cluster; a topic of 3 partitions, replication
   factor 3; the partition broker 1 leads is found from the metadata.
2. `sluice produce --udp-addr` in the namespace sends 1500 keyed messages
   with acks=all to that partition: datagrams through DPDK, metadata and
   the producer id over TCP.  Then `sluice produce --udp` without an
   address sends 1500 more: libsluice learns from LEADERS that broker 1's
   UDP port is at its dpdk_ip (registered with the cluster), not at its
   TCP host, and sends the datagrams there.  Every one is acknowledged.
3. A Kafka consumer reads them back: each once, in order.
4. Broker 1 is killed (SIGKILL): another broker leads the partition and
   serves every acknowledged message (the followers fetched them from the
   DPDK broker over TCP).
Every wait is bounded; every process is stopped by pid at the end.
"""
import glob
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_lib import (clean_up, create, fail, start_cluster,  # noqa: E402
                         stop_all, topic_metadata, until)
from confluent_kafka import Consumer, TopicPartition  # noqa: E402

SLUICE = os.environ["SLUICE"]
TOPIC, PARTS, N_MSGS = "dpm", 3, 3000


def skip(why):
    print("SKIP: " + why, flush=True)
    raise SystemExit(77)


def sh(cmd):
    return subprocess.run(cmd, shell=True, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def main():
    if os.geteuid() != 0:
        skip("needs root (network namespaces, veth)")
    if not glob.glob("/usr/lib/*/dpdk/pmds-*/librte_net_af_packet.so*"):
        skip("DPDK's af_packet PMD is not installed (dpdk-dev)")
    pid = os.getpid()
    n = 100 + pid % 100
    ns, dmd, dmc, dmr, dma = ("sdm%d" % pid, "dmd%d" % pid, "dmc%d" % pid,
                              "dmr%d" % pid, "dma%d" % pid)
    data_cl, dp_ip = "10.86.%d.1" % n, "10.86.%d.2" % n
    admin, admin_cl = "10.87.%d.1" % n, "10.87.%d.2" % n
    if not sh("ip netns add %s" % ns):
        skip("cannot create a network namespace")
    nodes, base, passed = [], None, False
    try:
        if not sh("ip link add {dmd} type veth peer name {dmc} && "
                  "ip link set {dmc} netns {ns} && "
                  "ip -n {ns} addr add {data_cl}/24 dev {dmc} && "
                  "ip -n {ns} link set {dmc} up && ip -n {ns} link set lo up && "
                  "ip link set {dmd} up && "
                  "ip netns exec {ns} ethtool -K {dmc} tx off && "
                  "ip link add {dmr} type veth peer name {dma} && "
                  "ip link set {dma} netns {ns} && ip addr add {admin}/24 dev {dmr} && "
                  "ip -n {ns} addr add {admin_cl}/24 dev {dma} && "
                  "ip link set {dmr} up && ip -n {ns} link set {dma} up"
                  .format(**locals())):
            skip("cannot set up veth pairs in a namespace")
        # the kernel must not answer for dpdk_ip on the DPDK side
        sh("sysctl -qw net.ipv6.conf.%s.disable_ipv6=1" % dmd)
        huge = ("" if os.path.exists("/dev/hugepages") and
                sh("grep -q hugetlbfs /proc/mounts && "
                   "[ $(cat /proc/sys/vm/nr_hugepages) -ge 256 ]")
                else "--no-huge -m 512 ")
        dpdk = ["-o", "listen_host=" + admin, "-o", "driver=dpdk",
                "-o", "dpdk_ip=" + dp_ip,
                "-o", "dpdk_args=-l 1 --no-pci %s--file-prefix=sldm%d "
                "--vdev=net_af_packet0,iface=%s,blocksz=4096,framesz=2048,"
                "framecnt=8192,qdisc_bypass=1" % (huge, pid, dmd)]
        base = tempfile.mkdtemp(prefix="dpdk-member-",
                                dir=os.environ.get("SLUICE_TEST_TMPDIR"))
        nodes = start_cluster(base, 3, per_node={1: dpdk})
        nodes[0].host = admin
        run(nodes, ns, admin, dp_ip)
        stop_all(nodes)
        passed = True
    finally:
        if base:
            clean_up(nodes, base, passed)
        sh("ip netns del %s" % ns)
        sh("ip link del %s" % dmd)
        sh("ip link del %s" % dmr)
    print("PASS")


def run(nodes, ns, admin, dp_ip):
    b1 = nodes[0]
    until("broker 1 (DPDK) in the cluster's metadata",
          lambda: (topic_metadata(nodes[1:], "__consumer_offsets") or ([],))[0]
          == [1, 2, 3], 60)
    ready = [ln for ln in b1.log("sluiced").splitlines() if "ready: driver" in ln]
    if not ready or "ready: driver dpdk" not in ready[-1]:
        fail("broker 1 is not running the DPDK driver: %s" % ready)
    until("the cluster creating %s" % TOPIC,
          lambda: create(nodes[1], TOPIC, PARTS, 3) in (0, 36), 60)

    def led_by_1():
        md = topic_metadata(nodes[1:], TOPIC)
        if not md or len(md[1]) != PARTS:
            return None
        for p, pm in md[1].items():
            if pm.leader == 1 and sorted(pm.isrs) == [1, 2, 3]:
                return [p]
        return None

    part = until("a partition of %s led by broker 1, every replica in sync"
                 % TOPIC, led_by_1, 60)[0]
    print("ok: broker 1 runs DPDK (%s) and leads %s-%d" % (dp_ip, TOPIC, part),
          flush=True)

    def describe():
        return subprocess.run(["ip", "netns", "exec", ns, "timeout", "20", SLUICE,
                               "-b", "%s:%d" % (admin, b1.native), "topic",
                               "describe", TOPIC], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)

    until("broker 1's native metadata showing %s" % TOPIC,
          lambda: describe().returncode == 0, 30)

    # 2. UDP through DPDK, acks=all, from the namespace: to the address
    # given, then to the one LEADERS names
    half = N_MSGS // 2
    for first, how in ((0, ["--udp-addr", "%s:%d" % (dp_ip, b1.native)]),
                       (half, ["--udp"])):
        produce_udp(ns, admin, b1, part, first, half, how, describe)
    print("ok: %d messages over UDP through DPDK, acks=all, acknowledged "
          "(half to --udp-addr, half routed by LEADERS to dpdk_ip %s)"
          % (N_MSGS, dp_ip), flush=True)
    read_back(nodes, b1, part)


def produce_udp(ns, admin, b1, part, first, count, how, describe):
    lines = "".join("k%d:v-%06d\n" % (i % 17, i)
                    for i in range(first, first + count))
    t0 = time.monotonic()
    r = subprocess.run(
        ["ip", "netns", "exec", ns, "timeout", "60", SLUICE,
         "-b", "%s:%d" % (admin, b1.native), "produce", TOPIC] + how +
        ["--acks", "all", "--partition", str(part), "--key-separator", ":"],
        input=lines.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = r.stderr.decode(errors="replace")
    if r.returncode != 0 or ("%d message(s) delivered" % count) not in err:
        d = describe()
        st = subprocess.run([SLUICE, "status", "--telemetry",
                             os.path.join(b1.dir, "tel.sock")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        fail("sluice produce %s (exit %d): %s; topic describe through "
             "broker 1: %s; broker 1's status:\n%s"
             % (" ".join(how), r.returncode, err.strip(),
                d.stdout.decode(errors="replace").strip(),
                st.stdout.decode(errors="replace")))
    print("ok: sluice produce %s: %d messages acknowledged in %.2f s"
          % (" ".join(how), count, time.monotonic() - t0), flush=True)


def read_back(nodes, b1, part):
    """3. and 4.: read back through Kafka, before and after broker 1
    dies."""
    def read_all(boot):
        c = Consumer({"bootstrap.servers": boot, "group.id": "dpm-%d" % time.time_ns(),
                      "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        c.assign([TopicPartition(TOPIC, part, 0)])
        got = []
        deadline = time.monotonic() + 40
        try:
            while len(got) < N_MSGS and time.monotonic() < deadline:
                m = c.poll(0.5)
                if m is None or m.error():
                    continue
                got.append((m.offset(), m.value().decode()))
        finally:
            c.close()
        return got

    def check(got, when):
        want = [(i, "v-%06d" % i) for i in range(N_MSGS)]
        if got != want:
            bad = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w),
                       min(len(got), len(want)))
            fail("%s: %d records read, first difference at %d: %r, expected %r"
                 % (when, len(got), bad, got[bad] if bad < len(got) else None,
                    want[bad] if bad < len(want) else None))

    boot = ",".join(nd.bootstrap() for nd in nodes)
    check(read_all(boot), "through Kafka")
    print("ok: a Kafka consumer read the %d messages, each once, in order" % N_MSGS,
          flush=True)
    b1.kill("sluiced")
    b1.kill("control")

    def moved():
        md = topic_metadata(nodes[1:], TOPIC)
        if not md or part not in md[1]:
            return None
        return md[1][part].leader if md[1][part].leader in (2, 3) else None

    leader = until("another leader for %s-%d once broker 1 is killed" % (TOPIC, part),
                   moved, 40)
    check(read_all(",".join(nd.bootstrap() for nd in nodes[1:])),
          "after broker 1 was killed")
    print("ok: broker 1 killed; broker %d leads %s-%d and serves every acknowledged "
          "message" % (leader, TOPIC, part), flush=True)


if __name__ == "__main__":
    main()
