"""Every key of docs/config.md at a non-default value, and refused when bad.

Run by meson with SLUICED, SLUICE_CONTROL and SLUICE_TEST_TMPDIR set.

1. For every key an invalid value (out of range, not a number, not an
   address, too long, empty, unknown word) stops both sluiced and
   sluice-control at start: exit code 2 and one line naming the key.
2. A file setting every key to a valid non-default value: sluice-control's
   `config` prints each as set; a broker (sluiced + sluice-control) started
   with it reports each on /sluice/config, and these take effect where a
   client can see them:
     listen_host, tcp_port, udp_port, kafka_port  the ports answer on
                     127.0.0.2 (listen_host) and not on 127.0.0.1; /sluice/info
                     reports the three ports
     data_dir, control_dir, control_socket, telemetry_socket  the files
                     appear where configured (the telemetry socket answers)
     storage_cores   /sluice/info storage_cores and /sluice/cores storage1
     net_cores       /sluice/cores net1 (and the ports answer: every net
                     core binds them)
     default_partitions, retention_hours, retention_bytes, segment_mb,
     durability      a topic created without options has them (described
                     by the running daemon)
   The others are checked through /sluice/config only (their effect is not
   visible from outside without load or a DPDK port): kafka_advertised_host,
   kafka_advertised_port, node_id, auto_create_topics
   (tests/kafka/clients/autocreate_test.sh checks its effect), udp_max_frame, tcp_max_frame,
   max_connections, ring_slots, memory_budget_mb, group_commit_kb,
   group_commit_us, log_buffer_mb, retention_check_ms, cleaner_io_kb_per_sec,
   dpdk_args, dpdk_ip,
   dpdk_mbufs, dpdk_queues, busy_poll, offsets_retention_minutes,
   log_buffer_pool_mb (tests/integration/partitions_test.c), the cluster's
   keys (controller_quorum_voters: printed by `config`, then overridden
   empty so that the broker runs alone; controller_address, which a
   broker alone does not use: tests/cluster/voters_test.py checks it;
   default_replication_factor, min_insync_replicas, replica_lag_time_max_ms,
   follower_replication_throttled_rate,
   broker_session_timeout_ms, broker_heartbeat_interval_ms,
   unclean_leader_election, offsets_topic_partitions,
   offsets_topic_replication_factor, transaction_state_log_num_partitions,
   transaction_state_log_replication_factor, transaction_state_log_min_isr,
   auto_leader_rebalance,
   leader_imbalance_check_interval_ms,
   leader_imbalance_per_broker_percentage: tests/cluster checks their
   effect), the share groups' keys (share_*: tests/kafka/share_test.py
   checks their effect), and
   max_connections_per_ip and the conn_* timeouts and limits
   (tests/integration/limits_test.c checks their effect); driver
   stays socket (the other value needs a DPDK port; tests/dpdk covers it).
Every wait is bounded; both processes are stopped by pid.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SLUICED = os.environ.get("SLUICED")
CONTROL = os.environ.get("SLUICE_CONTROL")
if not SLUICED or not CONTROL:
    print("skipped: SLUICED and SLUICE_CONTROL must name the binaries")
    sys.exit(77)


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    raise SystemExit(1)


def free_port():
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            t.bind(("127.0.0.2", 0))
            port = t.getsockname()[1]
            u.bind(("127.0.0.2", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    fail("no free port on 127.0.0.2")


base = tempfile.mkdtemp(prefix="cfgkeys-", dir=os.environ.get("SLUICE_TEST_TMPDIR", "/var/tmp"))
ok_end = False
procs = []
try:
    ports = set()
    while len(ports) < 4:
        ports.add(free_port())
    udp_port, tcp_port, kafka_port, raft_port = sorted(ports)
    d = os.path.join(base, "d")
    # key -> (valid non-default value, invalid value)
    keys = {
        "data_dir": (d, ""),
        "control_socket": (os.path.join(base, "c.sock"), "/" + "x" * 120),
        "telemetry_socket": (os.path.join(base, "t.sock"), "/" + "y" * 120),
        "control_dir": (os.path.join(base, "meta"), ""),
        "listen_host": ("127.0.0.2", "localhost"),
        "udp_port": (str(udp_port), "65536"),
        "tcp_port": (str(tcp_port), "0"),
        "kafka_port": (str(kafka_port), "-1"),
        "kafka_advertised_host": ("broker.example", ""),
        "kafka_advertised_port": ("19092", "99999"),
        "node_id": ("7", "-3"),
        "auto_create_topics": ("false", "yes"),
        "driver": ("socket", "xdp"),
        "udp_max_frame": ("4000", "127"),
        "tcp_max_frame": ("1052672", "4095"),
        "max_connections": ("100", "0"),
        "storage_cores": ("2", "65"),
        "net_cores": ("2", "17"),
        "ring_slots": ("256", "100"),
        "memory_budget_mb": ("64", "15"),
        "default_partitions": ("3", "1025"),
        "retention_hours": ("5", "-2"),
        "retention_bytes": ("123456789", "-5"),
        "segment_mb": ("3", "2048"),
        "durability": ("group", "sometimes"),
        "group_commit_kb": ("64", "3"),
        "group_commit_us": ("500", "9"),
        "log_buffer_mb": ("5", "3"),
        "retention_check_ms": ("250", "99"),
        "cleaner_io_kb_per_sec": ("2048", "-1"),
        "dpdk_args": ("-l 0 --no-pci", ""),
        "dpdk_ip": ("10.9.9.9", "10.9.9"),
        "dpdk_mbufs": ("2047", "1022"),
        "dpdk_queues": ("2", "65"),
        "busy_poll": ("1", "2"),
        "offsets_retention_minutes": ("60", "0"),
        "max_connections_per_ip": ("64", "-1"),
        "conn_idle_timeout_ms": ("900000", "86400001"),
        "conn_frame_timeout_ms": ("20000", "3600001"),
        "conn_send_timeout_ms": ("20000", "3600001"),
        "conn_max_unsent_kb": ("8192", "63"),
        "log_buffer_pool_mb": ("128", "3"),
        "controller_quorum_voters": ("7@127.0.0.2:%d" % raft_port,
                                     "7@localhost:9094"),
        "controller_address": ("127.0.0.2:%d" % (raft_port + 2), "localhost:9094"),
        "default_replication_factor": ("1", "9"),
        "min_insync_replicas": ("1", "9"),
        "replica_lag_time_max_ms": ("10000", "99"),
        "follower_replication_throttled_rate": ("1048576", "-1"),
        "broker_session_timeout_ms": ("6000", "99"),
        "broker_heartbeat_interval_ms": ("500", "9"),
        "unclean_leader_election": ("true", "maybe"),
        "offsets_topic_partitions": ("7", "1001"),
        "offsets_topic_replication_factor": ("2", "0"),
        "transaction_state_log_num_partitions": ("5", "1001"),
        "transaction_state_log_replication_factor": ("2", "9"),
        "transaction_state_log_min_isr": ("1", "0"),
        "auto_leader_rebalance": ("false", "yes please"),
        "leader_imbalance_check_interval_ms": ("60000", "999"),
        "leader_imbalance_per_broker_percentage": ("20", "101"),
        "share_record_lock_duration_ms": ("15000", "999"),
        "share_delivery_count_limit": ("3", "11"),
        "share_partition_max_record_locks": ("500", "99"),
        "share_heartbeat_interval_ms": ("2000", "999"),
        "share_session_timeout_ms": ("20000", "999"),
        "share_auto_offset_reset": ("earliest", "newest"),
        "share_priority_age_ms": ("1000", "86400001"),
    }
    conf = os.path.join(base, "sluice.conf")
    with open(conf, "w") as f:
        for k, (v, _) in keys.items():
            f.write("%s = %s\n" % (k, v))

    # every key of the table is here (sluice-control config lists them)
    out = subprocess.run([CONTROL, "config"], capture_output=True, text=True,
                         timeout=10, cwd=base)
    listed = [ln.split(" = ")[0] for ln in out.stdout.splitlines() if " = " in ln]
    if sorted(listed) != sorted(keys):
        fail("config keys %s, the test knows %s" % (sorted(set(listed) ^ set(keys)),
                                                    "all others"))

    # 1. invalid values stop both programs at start
    for k, (_, bad) in keys.items():
        for prog in (CONTROL, SLUICED):
            args = [prog, "-c", conf, "-o", "%s=%s" % (k, bad)]
            if prog == CONTROL:
                args.append("config")
            r = subprocess.run(args, capture_output=True, text=True, timeout=10,
                               cwd=base)
            if r.returncode != 2 or k not in r.stderr:
                fail("%s with %s=%r: exit %d, stderr %r; expected exit 2 and a line "
                     "naming %s" % (os.path.basename(prog), k, bad, r.returncode,
                                    r.stderr.strip()[-300:], k))
    print("ok: an invalid value of each of %d keys stops sluiced and sluice-control "
          "with exit 2, naming the key" % len(keys))

    # 2a. sluice-control prints the effective values
    r = subprocess.run([CONTROL, "-c", conf, "config"], capture_output=True, text=True,
                       timeout=10)
    eff = dict(ln.split(" = ", 1) for ln in r.stdout.splitlines() if " = " in ln)
    for k, (v, _) in keys.items():
        if eff.get(k) != v:
            fail("sluice-control config: %s = %r, the file sets %r" % (k, eff.get(k), v))

    # 2b. the broker
    for prog, name in ((SLUICED, "sluiced"), (CONTROL, "control")):
        log = open(os.path.join(base, name + ".log"), "w")
        # one broker: the voter list is checked by `config` above and by
        # tests/cluster, whose brokers run the metadata quorum
        procs.append((name, subprocess.Popen([prog, "-c", conf, "-o",
                                              "controller_quorum_voters="],
                                             stdout=log,
                                             stderr=subprocess.STDOUT, cwd=base)))
    tel = keys["telemetry_socket"][0]

    def ask(cmd):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(3)
        try:
            s.connect(tel)
            s.recv(16384)
            s.send(cmd.encode())
            return json.loads(s.recv(65536))[cmd]
        finally:
            s.close()

    info = None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            info = ask("/sluice/info")
            if info and info.get("control_synced") == 1:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    if not info or info.get("control_synced") != 1:
        fail("the broker did not come up with control synced in 15 s (info %r)" % info)
    seen = json.loads(ask("/sluice/config"))
    for k, (v, _) in keys.items():
        if k == "controller_quorum_voters":
            v = ""  # overridden: a single broker
        got = seen.get(k)
        if isinstance(got, bool):
            got = json.dumps(got)  # true / false, as in the file
        if str(got) != v:
            fail("/sluice/config: %s = %r, the file sets %r" % (k, got, v))
    want_info = {"udp_port": udp_port, "tcp_port": tcp_port, "kafka_port": kafka_port,
                 "storage_cores": 2, "driver": "socket"}
    for k, v in want_info.items():
        if info.get(k) != v:
            fail("/sluice/info: %s = %r, expected %r" % (k, info.get(k), v))
    if "storage1" not in ask("/sluice/cores"):
        fail("/sluice/cores has no storage1 with storage_cores = 2")
    if "net1" not in ask("/sluice/cores"):
        fail("/sluice/cores has no net1 with net_cores = 2")
    for path in (keys["control_socket"][0], os.path.join(keys["control_dir"][0], "topics.meta")):
        if not os.path.exists(path) and not path.endswith("topics.meta"):
            fail("%s does not exist" % path)
    # the listeners: on listen_host, not on 127.0.0.1
    for port in (tcp_port, kafka_port):
        socket.create_connection(("127.0.0.2", port), timeout=3).close()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=3).close()
            fail("port %d answers on 127.0.0.1; listen_host is 127.0.0.2" % port)
        except ConnectionRefusedError:
            pass
    # topic defaults, through the running daemon
    r = subprocess.run([CONTROL, "-c", conf, "-o", "controller_quorum_voters=",
                        "topic", "create", "dflt"],
                       capture_output=True, text=True, timeout=15)
    if r.returncode != 0:
        fail("topic create: %s" % r.stderr)
    r = subprocess.run([CONTROL, "-c", conf, "-o", "controller_quorum_voters=",
                        "topic", "describe", "dflt"],
                       capture_output=True, text=True, timeout=15)
    desc = dict(ln.split(": ", 1) for ln in r.stdout.splitlines() if ": " in ln)
    want_desc = {"partitions": "3", "retention_ms": str(5 * 3600000),
                 "retention_bytes": "123456789", "segment_bytes": str(3 << 20),
                 "durability": "group"}
    for k, v in want_desc.items():
        if desc.get(k) != v:
            fail("a topic created without options: %s = %r, expected %r"
                 % (k, desc.get(k), v))
    if not os.path.isdir(os.path.join(d, "dflt-0")) or not os.path.isdir(os.path.join(d, "dflt-2")):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not os.path.isdir(os.path.join(d, "dflt-2")):
            time.sleep(0.1)
        if not os.path.isdir(os.path.join(d, "dflt-2")):
            fail("the partition directories of topic dflt are not under data_dir %s" % d)
    print("ok: every key at a non-default value is reported as set; ports, listen_host, "
          "paths, storage_cores and the topic defaults take effect")
    ok_end = True
finally:
    for name, p in reversed(procs):
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
        if rc != 0 and ok_end:
            print("FAIL: %s exited with %d at SIGTERM" % (name, rc), file=sys.stderr)
            ok_end = False
    if ok_end:
        shutil.rmtree(base, ignore_errors=True)
    else:
        print("kept %s" % base, file=sys.stderr)
sys.exit(0 if ok_end else 1)
