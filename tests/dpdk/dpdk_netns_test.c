/*
 * The DPDK driver end to end: the real sluiced with driver = dpdk on
 * net_af_packet over a veth pair whose other end lives in a network
 * namespace, the real sluice-control, libsluice clients.
 *
 * Topology (N from the pid, private subnets inside this test only):
 *   data:  ns "sldp<pid>" scl<pid> 10.88.N.1/24 <-veth-> sdp<pid> (root ns,
 *          no kernel IP: DPDK's af_packet port, dpdk_ip 10.88.N.2)
 *   admin: ns sac<pid> 10.89.N.2/24 <-veth-> sap<pid> 10.89.N.1/24 (root
 *          ns), sluiced's kernel TCP listens there (listen_host).
 * Why the admin link: a libsluice producer opens TCP (metadata,
 * INIT_PRODUCER_ID) and its UDP socket in sl_producer_create, both in the
 * namespace of the calling thread; with TCP on the root namespace's
 * loopback the UDP would not cross the veth.  With an admin link the whole
 * producer runs inside the namespace: TCP over the admin veth to the
 * kernel, UDP over the data veth to DPDK, the real client code path.
 *
 * Checks: ARP resolves dpdk_ip to the port's MAC; ICMP echo answered (raw
 * socket); N messages produced over UDP read back byte-identical over TCP
 * (N = 20000, SLUICE_LONG=1 or SLUICE_DPDK_MESSAGES=N: more; the release
 * build's test runs 1,000,000 on af_packet); 2% random loss (iptables
 * statistic in the namespace) -> resends, every message once; malformed
 * frames (AF_PACKET in the namespace) counted under the right reasons in
 * DPDK's telemetry (/sluice/dpdk), polled until they reach their value or
 * a deadline passes, then compared exactly.
 *
 * IP fragments: on net_af_xdp the port sees them and drop_fragment must
 * count every one.  net_af_packet joins a PACKET_FANOUT group with
 * PACKET_FANOUT_FLAG_DEFRAG (DPDK's rte_eth_af_packet.c), so the kernel
 * holds a lone fragment for reassembly and the port never sees it: there
 * drop_fragment must not move.
 *
 * Exit 77 only for a prerequisite outside the project, checked before
 * sluiced starts and named: root, network namespaces and veth, DPDK's PMD
 * for the vdev, AF_XDP sockets in the kernel (af_xdp), memory for DPDK
 * without hugepages.  Once they hold, a sluiced that does not start is a
 * failure, whatever its log says.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rte_build_config.h>

#include "broker.h"
#include "drivers/netstack.h"
#include "sluice/sluice.h"

static char ns[32], dpif[16], clif[16], apif[16], acif[16];
static char data_ip[32], dp_ip[32], admin_ip[32], admin_cl[32];
static char prefix[32], tel_path[100];
static uint8_t dp_mac[6], cl_mac[6];
static struct tb B;
static int fails;

#define CHECK(c, ...)                                                   \
	do {                                                            \
		if (!(c)) {                                             \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                    \
			fprintf(stderr, "\n");                           \
			fails++;                                        \
		}                                                       \
	} while (0)

static void cleanup(void)
{
	/* a broker that fails at exit (a sanitizer report, a crash) fails */
	if (tb_destroy(&B, fails != 0) != 0) {
		fprintf(stderr, "FAIL: a broker process failed at exit\n");
		fails++;
	}
	tb_sh("ip netns del %s 2>/dev/null", ns);
	tb_sh("ip link del %s 2>/dev/null", dpif);
	tb_sh("ip link del %s 2>/dev/null", apif);
	/* EAL's runtime directory of our --file-prefix */
	tb_sh("rm -rf /var/run/dpdk/sldpdk%d", (int)getpid());
}

static int read_mac(const char *ifname, const char *netns, uint8_t mac[6])
{
	char cmd[256], buf[64];
	snprintf(cmd, sizeof(cmd), "%s%s cat /sys/class/net/%s/address",
		 netns ? "ip netns exec " : "", netns ? netns : "", ifname);
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	int ok = fgets(buf, sizeof(buf), f) &&
		 sscanf(buf, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1],
			&mac[2], &mac[3], &mac[4], &mac[5]) == 6;
	pclose(f);
	return ok ? 0 : -1;
}

/* One telemetry reply from DPDK's socket. */
static int tel(const char *cmd, char *out, size_t cap)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", tel_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	ssize_t n = recv(fd, out, cap - 1, 0); /* greeting */
	if (n > 0 && send(fd, cmd, strlen(cmd), 0) > 0)
		n = recv(fd, out, cap - 1, 0);
	close(fd);
	if (n <= 0)
		return -1;
	out[n] = 0;
	return 0;
}

static int64_t counter(const char *name)
{
	char buf[16384], key[96];
	if (tel("/sluice/dpdk", buf, sizeof(buf)))
		return -1;
	snprintf(key, sizeof(key), "\"%s\":", name);
	char *p = strstr(buf, key);
	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* ---- prerequisites ---- */

/* kB of MemAvailable, or -1. */
static long long mem_available_kb(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/*
 * What this machine lacks for the test, outside the project, or NULL.
 * af_xdp: the vdev is net_af_xdp, else net_af_packet; no_huge: DPDK will
 * run with --no-huge -m 512.
 */
static const char *missing_prerequisite(int af_xdp, int no_huge)
{
	static char why[PATH_MAX + 128];
	const char *pmd = af_xdp ? "librte_net_af_xdp.so" :
				   "librte_net_af_packet.so";
	/* a shared DPDK loads its PMDs from here; a static one has them
	 * linked in (the path is empty) */
	if (RTE_EAL_PMD_PATH[0]) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", RTE_EAL_PMD_PATH, pmd);
		if (access(path, R_OK)) {
			snprintf(why, sizeof(why), "DPDK's PMD %s is not "
				 "installed", path);
			return why;
		}
	}
	if (af_xdp) {
		int fd = socket(AF_XDP, SOCK_RAW, 0);
		if (fd < 0 && (errno == EAFNOSUPPORT || errno == EINVAL)) {
			snprintf(why, sizeof(why), "the kernel has no AF_XDP "
				 "sockets (CONFIG_XDP_SOCKETS): %s",
				 strerror(errno));
			return why;
		}
		if (fd >= 0)
			close(fd);
	}
	long long kb = mem_available_kb();
	if (no_huge && kb >= 0 && kb < 768 * 1024) {
		snprintf(why, sizeof(why), "no hugepages and only %lld MiB of "
			 "memory available (DPDK's --no-huge -m 512 wants "
			 "768)", kb / 1024);
		return why;
	}
	return NULL;
}

/* ---- checks run in a child inside the namespace ---- */

static int in_ns_child(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (tb_enter_netns(ns))
			_exit(3);
		_exit(fn(arg));
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

static int do_ping(void *arg)
{
	(void)arg;
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	if (fd < 0)
		return 2;
	struct sockaddr_in to = { .sin_family = AF_INET };
	inet_pton(AF_INET, dp_ip, &to.sin_addr);
	int got = 0;
	for (uint16_t seq = 1; seq <= 3; seq++) {
		uint8_t p[64] = { 8, 0, 0, 0, 0x51, 0x1c, 0, (uint8_t)seq };
		for (int i = 8; i < 64; i++)
			p[i] = (uint8_t)i;
		uint16_t c = ns_cksum(p, sizeof(p), 0);
		memcpy(p + 2, &c, 2);
		sendto(fd, p, sizeof(p), 0, (struct sockaddr *)&to, sizeof(to));
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		while (poll(&pf, 1, 1000) > 0) {
			uint8_t r[256];
			ssize_t n = recv(fd, r, sizeof(r), 0);
			/* IP header + ICMP echo reply with our id and seq and data */
			if (n == 20 + 64 && r[20] == 0 && r[24] == 0x51 &&
			    r[25] == 0x1c && r[27] == seq && r[20 + 63] == 63 &&
			    ns_cksum(r + 20, 64, 0) == 0) {
				got++;
				break;
			}
		}
	}
	close(fd);
	fprintf(stderr, "ping %s: %d/3 echo replies\n", dp_ip, got);
	return got == 3 ? 0 : 1;
}

struct produce_job {
	const char *topic;
	long first, count;
	uint64_t resends;
};

static void value_of(long i, char *v, size_t *len)
{
	/* varying sizes 16..1000 bytes, content from the index */
	size_t n = 16 + (size_t)((i * 7919) % 985);
	int h = snprintf(v, 32, "m%010ld:", i);
	for (size_t k = (size_t)h; k < n; k++)
		v[k] = (char)('a' + (i + (long)k) % 26);
	*len = n;
}

static long delivered, delivery_errors;

static void dr(void *opaque, int32_t part, int64_t off, int err, void *a)
{
	(void)opaque; (void)part; (void)off; (void)a;
	if (err)
		delivery_errors++;
	else
		delivered++;
}

static int do_produce(void *arg)
{
	struct produce_job *j = arg;
	struct sl_producer_opts o;
	sl_producer_opts_default(&o);
	o.transport = SL_UDP;
	o.acks = -1;
	o.batch_bytes = 1400; /* below the MTU: no IP fragments */
	o.linger_ms = 1;
	o.request_timeout_ms = 200;
	o.max_in_flight = 5;
	o.cb = dr;
	char udp[64];
	snprintf(udp, sizeof(udp), "%s:%d", dp_ip, B.port);
	o.udp_addr = udp;
	struct sl_producer *p;
	int rc = sl_producer_create(B.addr, &o, &p);
	if (rc) {
		fprintf(stderr, "producer create: %d\n", rc);
		return 2;
	}
	char v[1024];
	for (long i = j->first; i < j->first + j->count; i++) {
		size_t n;
		value_of(i, v, &n);
		rc = sl_produce(p, j->topic, 0, NULL, 0, v, n, NULL);
		if (rc < 0) {
			fprintf(stderr, "produce %ld: %d\n", i, rc);
			return 2;
		}
	}
	rc = sl_producer_flush(p, 60000);
	struct sl_producer_stats s;
	sl_producer_stats(p, &s);
	sl_producer_destroy(p);
	fprintf(stderr, "produced %ld..%ld: delivered %ld errors %ld "
			"batches %" PRIu64 " resends %" PRIu64 "\n",
		j->first, j->first + j->count - 1, delivered, delivery_errors,
		s.batches_sent, s.resends);
	if (rc || delivered != j->count || delivery_errors)
		return 1;
	return s.resends > 0 ? 10 : 0; /* 10: ok, with resends */
}

/* Read [first, first+count) back and nothing more. */
static int consume_check(const char *topic, long first, long count)
{
	struct sl_consumer *c;
	int rc = sl_consumer_create(B.addr, topic, 0, NULL, &c);
	if (rc)
		return rc;
	sl_consumer_seek(c, first);
	char v[1024];
	long i = first, bad = 0;
	struct sl_message m;
	while (i < first + count) {
		rc = sl_consume(c, &m, 5000);
		if (rc <= 0)
			break;
		size_t n;
		value_of(i, v, &n);
		if (m.offset != i || m.vlen != n || memcmp(m.value, v, n)) {
			if (bad++ < 5)
				fprintf(stderr, "offset %" PRId64 ": expected "
						"message %ld\n", m.offset, i);
		}
		i++;
	}
	int extra = sl_consume(c, &m, 300);
	sl_consumer_destroy(c);
	fprintf(stderr, "consumed %ld/%ld, %ld different, extra %d\n",
		i - first, count, bad, extra);
	return (i == first + count && !bad && extra == 0) ? 0 : 1;
}

/* ---- malformed frames, from the namespace through AF_PACKET ---- */

static int do_malformed(void *arg)
{
	(void)arg;
	int fd = socket(AF_PACKET, SOCK_RAW, htons(0x0003));
	if (fd < 0)
		return 2;
	struct sockaddr_ll ll = { .sll_family = AF_PACKET,
				  .sll_ifindex = (int)if_nametoindex(clif),
				  .sll_halen = 6 };
	memcpy(ll.sll_addr, dp_mac, 6);
	struct ns_self peer = { .udp_port = htons(41000) };
	memcpy(peer.mac, cl_mac, 6);
	inet_pton(AF_INET, data_ip, &peer.ip);
	uint32_t dst;
	inet_pton(AF_INET, dp_ip, &dst);
	uint8_t f[256], pl[64] = { 0 };
	enum { K = 5 };
	for (int k = 0; k < K; k++) {
		size_t len;
#define BUILD()                                                               \
	(memcpy(f + NS_UDP_HDRS, pl, sizeof(pl)),                             \
	 len = ns_build_udp(&peer, dp_mac, dst, htons((uint16_t)B.port), f,   \
			    sizeof(pl), 1, NS_TX_IP_CKSUM | NS_TX_UDP_CKSUM))
#define SEND(l) sendto(fd, f, (l), 0, (struct sockaddr *)&ll, sizeof(ll))
		BUILD(); f[24] ^= 0xff; SEND(len);            /* bad IP cksum */
		BUILD(); f[NS_UDP_HDRS + 3] ^= 1; SEND(len);  /* bad UDP cksum */
		BUILD(); f[36] ^= 0x40; f[40] = f[41] = 0; SEND(len); /* port */
		BUILD(); f[12] = 0x88; f[13] = 0xb5; SEND(len); /* ethertype */
		BUILD(); SEND(40);                             /* truncated */
		/* fragment: MF set, IP checksum redone */
		BUILD(); f[20] = 0x20; f[24] = f[25] = 0;
		{ uint16_t c = ns_cksum(f + 14, 20, 0); memcpy(f + 24, &c, 2); }
		SEND(len);
		/* wrong destination IP (10.88.N.77) */
		BUILD(); f[33] = 77; f[24] = f[25] = 0; f[40] = f[41] = 0;
		{ uint16_t c = ns_cksum(f + 14, 20, 0); memcpy(f + 24, &c, 2); }
		SEND(len);
	}
	close(fd);
	return 0;
}

int main(void)
{
	setvbuf(stderr, NULL, _IOLBF, 0);
	if (getuid() != 0) {
		printf("SKIP: needs root (network namespaces, veth)\n");
		return 77;
	}
	if (tb_available())
		return 77;
	/* SLUICE_DPDK_VDEV=af_xdp: the same test on net_af_xdp */
	const char *vdev = getenv("SLUICE_DPDK_VDEV");
	int af_xdp = vdev && !strcmp(vdev, "af_xdp");
	int no_huge = !(access("/dev/hugepages", F_OK) == 0 &&
			system("grep -q hugetlbfs /proc/mounts && "
			       "[ $(cat /proc/sys/vm/nr_hugepages) -ge 256 ]") == 0);
	const char *missing = missing_prerequisite(af_xdp, no_huge);
	if (missing) {
		printf("SKIP: %s\n", missing);
		return 77;
	}
	int pid = (int)getpid();
	int N = 100 + pid % 100;
	snprintf(ns, sizeof(ns), "sldp%d", pid);
	snprintf(dpif, sizeof(dpif), "sdp%d", pid);
	snprintf(clif, sizeof(clif), "scl%d", pid);
	snprintf(apif, sizeof(apif), "sap%d", pid);
	snprintf(acif, sizeof(acif), "sac%d", pid);
	snprintf(data_ip, sizeof(data_ip), "10.88.%d.1", N);
	snprintf(dp_ip, sizeof(dp_ip), "10.88.%d.2", N);
	snprintf(admin_ip, sizeof(admin_ip), "10.89.%d.1", N);
	snprintf(admin_cl, sizeof(admin_cl), "10.89.%d.2", N);
	snprintf(prefix, sizeof(prefix), "sldpdk%d", pid);
	snprintf(tel_path, sizeof(tel_path),
		 "/var/run/dpdk/%s/dpdk_telemetry.v2", prefix);
	if (tb_sh("ip netns add %s", ns)) {
		printf("SKIP: cannot create a network namespace\n");
		return 77;
	}
	if (tb_sh("ip link add %s type veth peer name %s && "
		  "ip link set %s netns %s && "
		  "ip -n %s addr add %s/24 dev %s && ip -n %s link set %s up && "
		  "ip -n %s link set lo up && ip link set %s up && "
		  "ip netns exec %s ethtool -K %s tx off >/dev/null && "
		  "ip link add %s type veth peer name %s && "
		  "ip link set %s netns %s && ip addr add %s/24 dev %s && "
		  "ip -n %s addr add %s/24 dev %s && ip link set %s up && "
		  "ip -n %s link set %s up",
		  dpif, clif, clif, ns, ns, data_ip, clif, ns, clif, ns, dpif,
		  ns, clif, apif, acif, acif, ns, admin_ip, apif, ns, admin_cl,
		  acif, apif, ns, acif)) {
		printf("SKIP: cannot set up veth pairs in a namespace\n");
		cleanup();
		return 77;
	}
	/* the kernel must not answer for dpdk_ip or send IPv6 noise on the
	 * DPDK side; the namespace side computes full UDP checksums
	 * (veth offload leaves them partial, af_packet sees them so) */
	tb_sh("sysctl -qw net.ipv6.conf.%s.disable_ipv6=1", dpif);
	if (read_mac(dpif, NULL, dp_mac) || read_mac(clif, ns, cl_mac)) {
		printf("SKIP: cannot read interface MACs\n");
		cleanup();
		return 77;
	}
	if (tb_init(&B, "dpdk_netns")) {
		cleanup();
		return 1;
	}
	snprintf(B.host, sizeof(B.host), "%s", admin_ip);
	static char o_args[512], o_ip[64];
	const char *huge = no_huge ? "--no-huge -m 512 " : "";
	if (af_xdp)
		snprintf(o_args, sizeof(o_args),
			 "dpdk_args=-l 1 --no-pci %s--file-prefix=%s "
			 "--vdev=net_af_xdp0,iface=%s,start_queue=0,queue_count=1",
			 huge, prefix, dpif);
	else
		snprintf(o_args, sizeof(o_args),
			 "dpdk_args=-l 1 --no-pci %s--file-prefix=%s "
			 "--vdev=net_af_packet0,iface=%s,blocksz=4096,framesz=2048,"
			 "framecnt=8192,qdisc_bypass=1",
			 huge, prefix, dpif);
	printf("dpdk_netns: %s\n", o_args);
	snprintf(o_ip, sizeof(o_ip), "dpdk_ip=%s", dp_ip);
	B.extra[B.nextra++] = "driver=dpdk";
	B.extra[B.nextra++] = o_args;
	B.extra[B.nextra++] = o_ip;
	fprintf(stderr, "sluiced -o %s -o %s (data %s)\n", o_args, o_ip, B.dir);
	if (tb_start(&B)) {
		/* the prerequisites were there: this is a failure of ours */
		char log[PATH_MAX + 64], line[512];
		snprintf(log, sizeof(log), "%s/sluiced.0.log", B.dir);
		FILE *f = fopen(log, "r");
		while (f && fgets(line, sizeof(line), f))
			fputs(line, stderr);
		if (f)
			fclose(f);
		fprintf(stderr, "FAIL: sluiced with driver = dpdk did not start "
			"(its log above)\n");
		fails++;
		cleanup();
		return 1;
	}

	/* ARP + ICMP */
	CHECK(in_ns_child(do_ping, NULL) == 0, "ICMP echo to %s", dp_ip);
	char cmd[256], buf[256] = "";
	snprintf(cmd, sizeof(cmd), "ip -n %s neigh show %s", ns, dp_ip);
	FILE *pf = popen(cmd, "r");
	if (pf && !fgets(buf, sizeof(buf), pf))
		buf[0] = 0;
	if (pf)
		pclose(pf);
	char mac[32];
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", dp_mac[0],
		 dp_mac[1], dp_mac[2], dp_mac[3], dp_mac[4], dp_mac[5]);
	CHECK(strstr(buf, mac) != NULL, "ARP: '%s' lacks %s", buf, mac);
	CHECK(counter("icmp_echo_answered") >= 3, "icmp counter");
	CHECK(counter("arp_requests_answered") >= 1, "arp counter");

	/* the round trip */
	struct sl_client *cl;
	long n = getenv("SLUICE_LONG") ? 1000000 : 20000;
	if (getenv("SLUICE_DPDK_MESSAGES"))
		n = atol(getenv("SLUICE_DPDK_MESSAGES"));
	if (n < 1000)
		n = 1000;
	const char *topic = "dpdk-rt";
	if (sl_client_create(B.addr, 5000, &cl) == 0) {
		long t = sl_topic_create(cl, topic, NULL);
		CHECK(t >= 0, "create topic: %ld", t);
		sl_client_destroy(cl);
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct produce_job j = { topic, 0, n, 0 };
	int rc = in_ns_child(do_produce, &j);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) +
		   (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "round trip: %ld messages over UDP/DPDK in %.2f s "
			"(%.0f msg/s)\n", n, s, (double)n / s);
	CHECK(rc == 0 || rc == 10, "produce (rc %d)", rc);
	CHECK(consume_check(topic, 0, n) == 0, "read back %ld", n);

	/* 2% loss towards the broker */
	/* bounded: each lost datagram costs a retransmit timeout */
	long m = n / 4 < 5000 ? n / 4 : 5000;
	/* requests dropped on the way out (sendto sees EPERM) and answers
	 * dropped on the way in (the producer times out and resends: the
	 * broker must recognise the duplicate) */
	CHECK(tb_sh("ip netns exec %s iptables -A OUTPUT -d %s -p udp -m "
		    "statistic --mode random --probability 0.02 -j DROP && "
		    "ip netns exec %s iptables -A INPUT -s %s -p udp -m "
		    "statistic --mode random --probability 0.02 -j DROP",
		    ns, dp_ip, ns, dp_ip) == 0, "iptables");
	j = (struct produce_job){ topic, n, m, 0 };
	rc = in_ns_child(do_produce, &j);
	tb_sh("ip netns exec %s iptables -F OUTPUT; "
	      "ip netns exec %s iptables -F INPUT", ns, ns);
	CHECK(rc == 10, "produce under 2%% loss: rc %d (10 = ok with resends)",
	      rc);
	CHECK(consume_check(topic, 0, n + m) == 0, "read back with loss");

	/* malformed frames: 5 of each, each counted under its reason.
	 * drop_non_ipv4 also counts the kernel's own noise: at least 5.
	 * Fragments: see the file comment. */
	enum { NREASONS = 7 };
	const char *reasons[NREASONS] = {
		"drop_bad_ip_checksum", "drop_bad_udp_checksum",
		"drop_wrong_udp_port", "drop_non_ipv4", "drop_truncated",
		"drop_fragment", "drop_wrong_dst_ip" };
	const int64_t want[NREASONS] = { 5, 5, 5, 5, 5, af_xdp ? 5 : 0, 5 };
	int64_t before[NREASONS], after[NREASONS];
	for (int i = 0; i < NREASONS; i++) {
		before[i] = counter(reasons[i]);
		CHECK(before[i] >= 0, "no counter %s", reasons[i]);
	}
	CHECK(in_ns_child(do_malformed, NULL) == 0, "raw socket");
	/* poll until every counter has reached its value (30 s at most),
	 * then compare: a frame not counted, counted twice or under another
	 * reason shows as a difference */
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += 30;
	for (;;) {
		int reached = 1;
		for (int i = 0; i < NREASONS; i++) {
			after[i] = counter(reasons[i]);
			if (after[i] - before[i] < want[i])
				reached = 0;
		}
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (reached || now.tv_sec > dl.tv_sec ||
		    (now.tv_sec == dl.tv_sec && now.tv_nsec >= dl.tv_nsec))
			break;
		usleep(10000);
	}
	/* the frames reach the port's one queue in the order sent, the
	 * wrong destination last: once every count is reached, every frame
	 * has been seen, so these are final */
	for (int i = 0; i < NREASONS; i++) {
		fprintf(stderr, "%s: %" PRId64 " -> %" PRId64 " (want +%" PRId64
			"%s)\n", reasons[i], before[i], after[i], want[i],
			i == 3 ? " or more" : "");
		CHECK(i == 3 ? after[i] - before[i] >= want[i]
			     : after[i] - before[i] == want[i],
		      "%s moved by %" PRId64 ", want %" PRId64, reasons[i],
		      after[i] - before[i], want[i]);
	}
	static char tb[16384];
	if (tel("/sluice/dpdk", tb, sizeof(tb)) == 0)
		fprintf(stderr, "%s\n", tb);
	if (tel("/ethdev/stats,0", tb, sizeof(tb)) == 0)
		fprintf(stderr, "%.160s\n", tb);
	cleanup();
	if (fails) {
		fprintf(stderr, "%d check(s) failed\n", fails);
		return 1;
	}
	fprintf(stderr, "dpdk_netns: all checks passed\n");
	return 0;
}
