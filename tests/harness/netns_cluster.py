"""A sluice cluster in network namespaces, and the faults the fault harness
injects into it.

Layout (everything created here, nothing in the root namespace):

    PREFIX-br   a namespace holding the bridge br0; one veth end per member
    PREFIX-n1   broker 1: eth0 = 10.231.0.11/24, sluiced + sluice-control
    PREFIX-n2   broker 2: eth0 = 10.231.0.12/24
    ...
    PREFIX-c    the clients: eth0 = 10.231.0.100/24

PREFIX is "slh<pid>", so that two runs never share a namespace.  Every
broker listens on its own address with the same ports (Kafka 9092, native
9093, Raft 9094, controller RPC 9095); its advertised Kafka host is its
listen_host, so clients and followers reach it on the bridge.  The
harness's own process joins the client namespace (enter_clients()), so
its Kafka clients speak across the bridge like remote ones.

Faults, each reversible by heal() and logged with a timestamp (log()):
  partition(a, b, oneway)   drop packets from members a to members b (and
                            b to a unless oneway): nft rules in the
                            receiving members' input chains
  isolate(n, clients)       node n cut from every other broker (and from
                            the clients too when clients is true)
  loss(n, percent)          random loss on n's link, both directions
                            (nft numgen random mod 100 < percent)
  pause(n, which)           SIGSTOP of n's processes (SIGCONT at heal)
  kill(n, which)            SIGKILL of n's processes (restarted at heal
                            or by start())
The loopback inside a broker's namespace (sluiced <-> sluice-control over
the control socket and nothing else) is never touched by network faults.

Teardown (close()) kills every process this object started, by pid, and
deletes every namespace it created, whatever happened before; it is also
registered with atexit.

skip_reason() says why this machine cannot run it (not root, no ip netns,
no nft): a caller exits 77 with it.
"""
import atexit
import ctypes
import json
import os
import shutil
import signal
import subprocess
import time

CLONE_NEWNET = 0x40000000
SUBNET = "10.231.0"
CLIENT = "c"            # the clients' member name in partition()
PORTS = {"kafka": 9092, "native": 9093, "raft": 9094}
PROCS = ("sluiced", "control")


def skip_reason():
    """None when this machine can run the harness, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for prog in ("ip", "nft"):
        if shutil.which(prog) is None and not os.path.exists("/usr/sbin/" + prog):
            return "%s is missing" % prog
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    if r.returncode != 0:
        return "ip netns does not work here: %s" % r.stderr.strip()
    return None


def sh(args, stdin=None, check=True, timeout=20):
    """Run one command (a list), bounded in time; its stdout."""
    r = subprocess.run(args, input=stdin, capture_output=True, text=True,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(args), r.returncode,
                                                r.stderr.strip()))
    return r.stdout


class Broker:
    """One broker: its namespace, address, data directory, processes."""

    def __init__(self, n, ns, addr, data_dir, opts):
        self.n = n
        self.ns = ns
        self.addr = addr
        self.dir = data_dir
        self.opts = opts
        self.procs = {}         # "sluiced" | "control" -> Popen
        self.paused = set()     # names SIGSTOPped
        self.killed = set()     # names SIGKILLed by a fault, to restart

    def bootstrap(self):
        return "%s:%d" % (self.addr, PORTS["kafka"])

    def alive(self, name):
        p = self.procs.get(name)
        return p is not None and p.poll() is None


class NetnsCluster:
    def __init__(self, base, count, sluiced, control, extra=(), log_path=None):
        assert 1 <= count <= 9
        self.base = base
        self.prefix = "slh%d" % os.getpid()
        self.sluiced = sluiced
        self.control = control
        self.namespaces = []    # created, deleted by close()
        self.brokers = []
        self.client_ns = self.prefix + "-" + CLIENT
        self.client_addr = SUBNET + ".100"
        self.rules = {}         # namespace -> list of nft rule lines
        self.faults = []        # (time, what) of the faults in force
        self.t0 = time.monotonic()
        self.log_path = log_path or os.path.join(base, "faults.log")
        self.log_file = open(self.log_path, "a")
        self.orig_ns = None     # fd of the namespace the harness left
        self.closed = False
        self.listeners = []     # functions called with every log record
        voters = ",".join("%d@%s.%d:%d" % (i, SUBNET, 10 + i, PORTS["raft"])
                          for i in range(1, count + 1))
        for i in range(1, count + 1):
            addr = "%s.%d" % (SUBNET, 10 + i)
            d = os.path.join(base, "node-%d" % i)
            os.makedirs(d, exist_ok=True)
            opts = ["-o", "node_id=%d" % i, "-o", "data_dir=" + d,
                    "-o", "telemetry_socket=" + os.path.join(d, "tel.sock"),
                    "-o", "listen_host=" + addr,
                    "-o", "kafka_port=%d" % PORTS["kafka"],
                    "-o", "tcp_port=%d" % PORTS["native"],
                    "-o", "udp_port=%d" % PORTS["native"],
                    "-o", "controller_quorum_voters=" + voters] + list(extra)
            self.brokers.append(Broker(i, "%s-n%d" % (self.prefix, i), addr, d, opts))
        atexit.register(self.close)

    # ---- the log of faults -------------------------------------------------

    def log(self, what, **fields):
        """One line of the fault log (and stdout): seconds since start,
        wall clock, what happened."""
        rec = {"t": round(time.monotonic() - self.t0, 3), "time": time.time(),
               "what": what}
        rec.update(fields)
        line = json.dumps(rec, sort_keys=True)
        self.log_file.write(line + "\n")
        self.log_file.flush()
        for fn in self.listeners:
            fn(rec)
        print("fault %7.3f %s %s" % (rec["t"], what,
                                     " ".join("%s=%s" % kv for kv in sorted(fields.items()))),
              flush=True)

    # ---- namespaces --------------------------------------------------------

    def _add_ns(self, name):
        sh(["ip", "netns", "add", name])
        self.namespaces.append(name)
        sh(["ip", "-n", name, "link", "set", "lo", "up"])

    def _attach(self, ns, port, addr):
        br = self.prefix + "-br"
        # both ends created straight in their namespaces: no name is ever
        # taken in the root namespace
        sh(["ip", "-n", br, "link", "add", port, "type", "veth", "peer",
            "name", "eth0", "netns", ns])
        sh(["ip", "-n", br, "link", "set", port, "master", "br0"])
        sh(["ip", "-n", br, "link", "set", port, "up"])
        sh(["ip", "-n", ns, "addr", "add", addr + "/24", "dev", "eth0"])
        sh(["ip", "-n", ns, "link", "set", "eth0", "up"])

    def setup(self):
        """The namespaces, the bridge and the links; no process yet."""
        br = self.prefix + "-br"
        self._add_ns(br)
        sh(["ip", "-n", br, "link", "add", "br0", "type", "bridge"])
        sh(["ip", "-n", br, "link", "set", "br0", "up"])
        for b in self.brokers:
            self._add_ns(b.ns)
            self._attach(b.ns, "v%d" % b.n, b.addr)
            self.rules[b.ns] = []
        self._add_ns(self.client_ns)
        self._attach(self.client_ns, "vc", self.client_addr)
        self.rules[self.client_ns] = []
        self.log("setup", prefix=self.prefix,
                 brokers=" ".join("%d=%s" % (b.n, b.addr) for b in self.brokers))

    def enter_clients(self):
        """Move this process's calling thread (call it from the main thread
        before any client or thread exists) into the client namespace:
        threads it starts later inherit it."""
        libc = ctypes.CDLL(None, use_errno=True)
        self.orig_ns = os.open("/proc/self/ns/net", os.O_RDONLY)
        fd = os.open("/var/run/netns/" + self.client_ns, os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns " + self.client_ns)
        finally:
            os.close(fd)

    def leave_clients(self):
        if self.orig_ns is None:
            return
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(self.orig_ns, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back")
        os.close(self.orig_ns)
        self.orig_ns = None

    # ---- processes ---------------------------------------------------------

    def start(self, b, which=PROCS):
        for name in which:
            if b.alive(name):
                continue
            prog = self.sluiced if name == "sluiced" else self.control
            log = open(os.path.join(b.dir, name + ".log"), "a")
            # ip netns exec execs the program itself: the pid is the broker's
            b.procs[name] = subprocess.Popen(
                ["ip", "netns", "exec", b.ns, prog, "-c", "/dev/null"] + b.opts,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            log.close()
            b.killed.discard(name)
            b.paused.discard(name)

    def start_all(self):
        for b in self.brokers:
            self.start(b)

    def signal(self, b, name, sig):
        p = b.procs.get(name)
        if p is not None and p.poll() is None:
            try:
                os.kill(p.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, b, which=("control", "sluiced"), timeout=15):
        """SIGTERM (SIGCONT first if paused), wait, SIGKILL after timeout;
        the exit codes, by name."""
        codes = {}
        for name in which:
            p = b.procs.get(name)
            if p is None:
                continue
            if p.poll() is None:
                self.signal(b, name, signal.SIGCONT)
                self.signal(b, name, signal.SIGTERM)
                try:
                    p.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            codes[name] = p.returncode
            b.paused.discard(name)
        return codes

    # ---- network faults ----------------------------------------------------

    def _member(self, m):
        """A broker number or CLIENT -> (namespace, address)."""
        if m == CLIENT:
            return self.client_ns, self.client_addr
        b = self.brokers[m - 1]
        return b.ns, b.addr

    def _apply(self, ns):
        """Replace the table inet sluice_fault of ns with its rules."""
        lines = self.rules[ns]
        script = "table inet sluice_fault\ndelete table inet sluice_fault\n"
        if lines:
            script += ("table inet sluice_fault {\n"
                       " chain input { type filter hook input priority 0; policy accept;\n"
                       + "".join("  %s\n" % r for r in lines if r.startswith("iifname"))
                       + " }\n"
                       " chain output { type filter hook output priority 0; policy accept;\n"
                       + "".join("  %s\n" % r for r in lines if r.startswith("oifname"))
                       + " }\n}\n")
        sh(["ip", "netns", "exec", ns, "nft", "-f", "-"], stdin=script)

    def partition(self, a, b, oneway=False):
        """Packets from every member of a to every member of b are dropped
        (and from b to a unless oneway).  Members: broker numbers, CLIENT."""
        pairs = [(x, y) for x in a for y in b]
        if not oneway:
            pairs += [(y, x) for x in a for y in b]
        touched = set()
        for src, dst in pairs:
            if src == dst:
                continue
            sns, saddr = self._member(src)
            dns, _ = self._member(dst)
            self.rules[dns].append('iifname "eth0" ip saddr %s drop' % saddr)
            touched.add(dns)
        for ns in touched:
            self._apply(ns)
        self.faults.append("partition")
        self.log("partition", a=",".join(map(str, a)), b=",".join(map(str, b)),
                 oneway=oneway)

    def isolate(self, n, clients=False):
        """Broker n cut from every other broker, and from the clients too
        when clients is true (a leader the clients still reach is the
        zombie case)."""
        others = [b.n for b in self.brokers if b.n != n]
        if clients:
            others.append(CLIENT)
        pairs = [(o, n) for o in others] + [(n, o) for o in others]
        for src, dst in pairs:
            _, saddr = self._member(src)
            dns, _ = self._member(dst)
            self.rules[dns].append('iifname "eth0" ip saddr %s drop' % saddr)
        for m in [n] + others:
            self._apply(self._member(m)[0])
        self.faults.append("isolate")
        self.log("isolate", node=n, clients=clients)

    def loss(self, n, percent):
        assert 0 < percent < 100
        ns, _ = self._member(n)
        self.rules[ns].append('iifname "eth0" numgen random mod 100 < %d drop' % percent)
        self.rules[ns].append('oifname "eth0" numgen random mod 100 < %d drop' % percent)
        self._apply(ns)
        self.faults.append("loss")
        self.log("loss", node=n, percent=percent)

    # ---- process faults ----------------------------------------------------

    def pause(self, n, which=PROCS):
        b = self.brokers[n - 1]
        for name in which:
            if b.alive(name):
                self.signal(b, name, signal.SIGSTOP)
                b.paused.add(name)
        self.faults.append("pause")
        self.log("pause", node=n, procs=",".join(which))

    def kill(self, n, which=PROCS):
        b = self.brokers[n - 1]
        for name in which:
            if b.alive(name):
                self.signal(b, name, signal.SIGKILL)
                b.procs[name].wait(timeout=10)
                b.killed.add(name)
        self.faults.append("kill")
        self.log("kill", node=n, procs=",".join(which))

    def heal(self):
        """Every fault undone: rules removed, paused processes continued,
        killed ones started again."""
        for ns, lines in self.rules.items():
            if lines:
                self.rules[ns] = []
                self._apply(ns)
        for b in self.brokers:
            for name in list(b.paused):
                self.signal(b, name, signal.SIGCONT)
            b.paused.clear()
            if b.killed:
                self.start(b, [name for name in PROCS if name in b.killed])
        self.log("heal", undone=",".join(self.faults) or "-")
        self.faults = []

    # ---- the end -----------------------------------------------------------

    def close(self):
        """Every process killed by pid, every namespace deleted.  Safe to
        call twice and after a failure at any point."""
        if self.closed:
            return
        self.closed = True
        for b in self.brokers:
            for name, p in b.procs.items():
                if p.poll() is None:
                    try:
                        os.kill(p.pid, signal.SIGCONT)
                        os.kill(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    try:
                        p.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        pass
        try:
            self.leave_clients()
        except OSError:
            pass
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)
        self.namespaces = []
        try:
            self.log("teardown")
        except ValueError:
            pass
        self.log_file.close()

    def bootstrap(self):
        return ",".join(b.bootstrap() for b in self.brokers)
