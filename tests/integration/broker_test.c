/*
 * The single-node broker end to end: sluiced and sluice-control as real
 * processes, libsluice producers and consumers.
 *
 *   roundtrip_1m        1,000,000 messages over 8 partitions (TCP), read
 *                       back byte-identical and in order per partition
 *   sigkill_acks_all    SIGKILL of sluiced under acks=all load: every
 *                       acknowledged message is there after a restart
 *   restarts_midstream  sluice-control, then sluiced restarted while an
 *                       idempotent producer keeps going: every message
 *                       exactly once, in order
 *   udp_loss_netns      UDP producer in a network namespace, 5% random
 *                       loss each way (iptables statistic) plus a proxy
 *                       that drops, reorders and duplicates: exactly once;
 *                       and each fault did happen (the iptables rules'
 *                       and the proxy's counters) and the producer resent
 *   retention_reading   retention deletes segments while a consumer reads
 *
 * Every message's value is derived from (partition, sequence), so a
 * consumer checks content and order without keeping what was sent.
 * Bounded: counts are fixed and every wait has a deadline.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker.h"
#include "sluice/sluice.h"

#define VALUE_BYTES 100

/* The broker of the running test; the teardown stops it even after a
 * failed assertion. */
static struct tb b;

/* The value of message seq of partition p: readable prefix, then bytes
 * that depend on both. */
static size_t make_value(uint8_t *v, int32_t p, uint64_t seq)
{
	int n = snprintf((char *)v, VALUE_BYTES, "p%d-s%09llu-", p,
			 (unsigned long long)seq);
	uint64_t x = seq * 0x9E3779B97F4A7C15ull ^ (uint64_t)p;
	for (size_t i = (size_t)n; i < VALUE_BYTES; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v[i] = (uint8_t)('a' + x % 26);
	}
	return VALUE_BYTES;
}

/* Parse "p<P>-s<SEQ>-" back; -1 when it is not one of ours. */
static int64_t value_seq(const void *v, size_t len, int32_t *p)
{
	char buf[32];
	unsigned long long seq;
	int part;
	if (len != VALUE_BYTES)
		return -1;
	memcpy(buf, v, sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = 0;
	if (sscanf(buf, "p%d-s%llu-", &part, &seq) != 2)
		return -1;
	*p = part;
	return (int64_t)seq;
}

static void create_topic(const char *addr, const char *name, int32_t parts,
			 int64_t retention_bytes, int64_t segment_bytes)
{
	struct sl_client *c;
	assert_int_equal(sl_client_create(addr, 5000, &c), 0);
	struct sl_topic_config cfg = { .partitions = parts,
				       .retention_bytes = retention_bytes,
				       .segment_bytes = segment_bytes };
	long id = sl_topic_create(c, name, &cfg);
	if (id < 0)
		fail_msg("creating topic %s: %s", name, sl_error_message((int)id));
	sl_client_destroy(c);
}

struct acks {
	uint64_t ok, failed;
	int first_err;
	int64_t *offset; /* per message index, -1 until acked */
};

static void on_delivery(void *opaque, int32_t partition, int64_t offset,
			int err, void *arg)
{
	struct acks *a = arg;
	uint64_t idx = (uint64_t)(uintptr_t)opaque;
	if (err) {
		if (!a->failed++)
			a->first_err = err;
		return;
	}
	a->ok++;
	if (a->offset)
		a->offset[idx] = offset;
}

/* Read partition p from offset 0 until want messages or the deadline;
 * check each message is seq == offset order (first_seq upward, no gaps,
 * no duplicates).  Returns the number read. */
static uint64_t read_partition(const char *addr, const char *topic,
			       int32_t p, uint64_t want, int check_offsets,
			       int timeout_ms)
{
	struct sl_consumer *c;
	struct sl_consumer_opts o;
	sl_consumer_opts_default(&o);
	assert_int_equal(sl_consumer_create(addr, topic, p, &o, &c), 0);
	uint64_t got = 0, deadline = tb_now_ms() + (uint64_t)timeout_ms;
	uint8_t expect[VALUE_BYTES];
	while (got < want && tb_now_ms() < deadline) {
		struct sl_message m;
		int rc = sl_consume(c, &m, 200);
		if (rc == 0)
			continue;
		if (rc < 0)
			fail_msg("consume %s-%d: %s", topic, p, sl_error_message(rc));
		int32_t mp;
		int64_t seq = value_seq(m.value, m.vlen, &mp);
		if (seq != (int64_t)got || mp != p)
			fail_msg("%s-%d offset %lld: expected sequence %llu, got "
				 "%lld of partition %d", topic, p,
				 (long long)m.offset, (unsigned long long)got,
				 (long long)seq, mp);
		if (check_offsets && m.offset != (int64_t)got)
			fail_msg("%s-%d: sequence %llu at offset %lld", topic, p,
				 (unsigned long long)got, (long long)m.offset);
		make_value(expect, p, got);
		if (memcmp(expect, m.value, VALUE_BYTES))
			fail_msg("%s-%d offset %lld: value differs", topic, p,
				 (long long)m.offset);
		got++;
	}
	/* and nothing more after the last one (no duplicate at the end) */
	struct sl_message m;
	int rc = sl_consume(c, &m, 300);
	if (rc == 1)
		fail_msg("%s-%d: unexpected message at offset %lld after %llu",
			 topic, p, (long long)m.offset, (unsigned long long)got);
	sl_consumer_destroy(c);
	return got;
}

/* ---- roundtrip_1m ---- */

static void test_roundtrip_1m(void **state)
{
	(void)state;
	const uint64_t total = 1000000;
	const int32_t parts = 8;
	assert_int_equal(tb_init(&b, "rt1m"), 0);
	assert_int_equal(tb_start(&b), 0);
	create_topic(b.addr, "rt", parts, 0, 0);

	struct acks a = { 0 };
	struct sl_producer_opts o;
	sl_producer_opts_default(&o);
	o.acks = 1;
	o.cb = on_delivery;
	o.cb_arg = &a;
	struct sl_producer *p;
	assert_int_equal(sl_producer_create(b.addr, &o, &p), 0);
	uint8_t v[VALUE_BYTES];
	uint64_t t0 = tb_now_ms();
	for (uint64_t i = 0; i < total; i++) {
		int32_t part = (int32_t)(i % (uint64_t)parts);
		make_value(v, part, i / (uint64_t)parts);
		int rc = sl_produce(p, "rt", part, NULL, 0, v, VALUE_BYTES,
				    (void *)(uintptr_t)i);
		if (rc < 0)
			fail_msg("produce %llu: %s", (unsigned long long)i,
				 sl_error_message(rc));
	}
	assert_int_equal(sl_producer_flush(p, 60000), 0);
	sl_producer_destroy(p);
	printf("roundtrip_1m: produced %llu in %llu ms, %llu acked, %llu failed\n",
	       (unsigned long long)total, (unsigned long long)(tb_now_ms() - t0),
	       (unsigned long long)a.ok, (unsigned long long)a.failed);
	assert_int_equal(a.failed, 0);
	assert_int_equal(a.ok, total);
	for (int32_t part = 0; part < parts; part++)
		assert_int_equal(read_partition(b.addr, "rt", part,
						total / (uint64_t)parts, 1, 60000),
				 total / (uint64_t)parts);
}

/* ---- sigkill_acks_all ---- */

/* Produce with acks, SIGKILL sluiced part way, restart it: every message
 * acknowledged before the kill is at its offset, byte-identical.  acks=1
 * promises this too (the batch was written to the segment file, and the
 * page cache outlives the process: docs/storage.md). */
static void sigkill_case(int16_t acks, const char *name)
{
	const uint64_t max_msgs = 400000;
	assert_int_equal(tb_init(&b, "kill"), 0);
	if (acks == 1) {
		/* group commit that never falls due by itself: only the
		 * write acks=1 asks for puts the batches in the file before
		 * the kill (answered at append, they would be lost) */
		b.extra[b.nextra++] = "group_commit_us=10000000";
		b.extra[b.nextra++] = "group_commit_kb=1048576";
	}
	assert_int_equal(tb_start(&b), 0);
	if (acks == 1) {
		struct sl_client *cl;
		assert_int_equal(sl_client_create(b.addr, 5000, &cl), 0);
		struct sl_topic_config cfg = {
			.partitions = 2, .durability = SL_DURABILITY_GROUP };
		long id = sl_topic_create(cl, "ka", &cfg);
		if (id < 0)
			fail_msg("creating topic ka: %s",
				 sl_error_message((int)id));
		sl_client_destroy(cl);
	} else {
		create_topic(b.addr, "ka", 2, 0, 0);
	}

	struct acks a = { 0 };
	a.offset = malloc(max_msgs * sizeof(*a.offset));
	assert_non_null(a.offset);
	for (uint64_t i = 0; i < max_msgs; i++)
		a.offset[i] = -1;
	struct sl_producer_opts o;
	sl_producer_opts_default(&o);
	o.acks = acks;
	o.delivery_timeout_ms = 3000;
	o.request_timeout_ms = 1000;
	o.cb = on_delivery;
	o.cb_arg = &a;
	struct sl_producer *p;
	assert_int_equal(sl_producer_create(b.addr, &o, &p), 0);
	uint8_t v[VALUE_BYTES];
	uint64_t sent = 0, kill_at = tb_now_ms() + 1500;
	int killed = 0;
	/* produce; kill sluiced 1.5 s in, keep producing a little longer */
	while (sent < max_msgs && tb_now_ms() < kill_at + 500) {
		int32_t part = (int32_t)(sent % 2);
		make_value(v, part, sent / 2);
		int rc = sl_produce(p, "ka", part, NULL, 0, v, VALUE_BYTES,
				    (void *)(uintptr_t)sent);
		if (rc < 0)
			break;
		sent++;
		if (!killed && tb_now_ms() >= kill_at) {
			tb_stop_pid(&b.sluiced, SIGKILL);
			killed = 1;
		}
	}
	if (!killed)
		tb_stop_pid(&b.sluiced, SIGKILL);
	sl_producer_destroy(p); /* undelivered ones are reported failed */
	uint64_t acked = a.ok;
	printf("%s: sent %llu, acked %llu before SIGKILL\n", name,
	       (unsigned long long)sent, (unsigned long long)acked);
	assert_true(acked > 0);

	assert_int_equal(tb_start_sluiced(&b), 0);
	assert_int_equal(tb_wait_sluiced(&b, 20000), 0);
	/* every acked message is at its offset, byte-identical */
	int32_t parts = 2;
	for (int32_t part = 0; part < parts; part++) {
		struct sl_consumer *c;
		assert_int_equal(sl_consumer_create(b.addr, "ka", part, NULL, &c), 0);
		uint64_t checked = 0;
		for (uint64_t i = (uint64_t)part; i < sent; i += 2) {
			if (a.offset[i] < 0)
				continue;
			struct sl_message m;
			if (sl_consumer_position(c) != a.offset[i])
				assert_int_equal(sl_consumer_seek(c, a.offset[i]), 0);
			int rc = sl_consume(c, &m, 5000);
			if (rc != 1)
				fail_msg("ka-%d: acked offset %lld missing after "
					 "restart (%s)", part, (long long)a.offset[i],
					 rc < 0 ? sl_error_message(rc) : "timeout");
			assert_int_equal(m.offset, a.offset[i]);
			uint8_t expect[VALUE_BYTES];
			make_value(expect, part, i / 2);
			assert_int_equal(m.vlen, VALUE_BYTES);
			assert_memory_equal(m.value, expect, VALUE_BYTES);
			checked++;
		}
		sl_consumer_destroy(c);
		printf("%s: partition %d: %llu acked messages verified after "
		       "restart\n", name, part, (unsigned long long)checked);
	}
	free(a.offset);
}

static void test_sigkill_acks_all(void **state)
{
	(void)state;
	sigkill_case(-1, "sigkill_acks_all");
}

static void test_sigkill_acks_1(void **state)
{
	(void)state;
	sigkill_case(1, "sigkill_acks_1");
}

/* ---- restarts_midstream ---- */

static void test_restarts_midstream(void **state)
{
	(void)state;
	const uint64_t total = 60000;
	assert_int_equal(tb_init(&b, "restart"), 0);
	assert_int_equal(tb_start(&b), 0);
	create_topic(b.addr, "rs", 2, 0, 0);

	struct acks a = { 0 };
	struct sl_producer_opts o;
	sl_producer_opts_default(&o);
	o.acks = -1;
	o.request_timeout_ms = 1000;
	o.delivery_timeout_ms = 60000;
	o.cb = on_delivery;
	o.cb_arg = &a;
	struct sl_producer *p;
	assert_int_equal(sl_producer_create(b.addr, &o, &p), 0);
	uint8_t v[VALUE_BYTES];
	for (uint64_t i = 0; i < total; i++) {
		int32_t part = (int32_t)(i % 2);
		make_value(v, part, i / 2);
		int rc = sl_produce(p, "rs", part, NULL, 0, v, VALUE_BYTES,
				    (void *)(uintptr_t)i);
		if (rc < 0)
			fail_msg("produce %llu: %s", (unsigned long long)i,
				 sl_error_message(rc));
		if (i == total / 3) {
			assert_true(WIFEXITED(tb_stop_pid(&b.control, SIGTERM)));
			assert_int_equal(tb_start_control(&b), 0);
		}
		if (i == 2 * total / 3) {
			int st = tb_stop_pid(&b.sluiced, SIGTERM);
			assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
			assert_int_equal(tb_start_sluiced(&b), 0);
		}
	}
	assert_int_equal(sl_producer_flush(p, 60000), 0);
	struct sl_producer_stats ps;
	sl_producer_stats(p, &ps);
	sl_producer_destroy(p);
	printf("restarts_midstream: %llu acked, %llu failed, %llu resends\n",
	       (unsigned long long)a.ok, (unsigned long long)a.failed,
	       (unsigned long long)ps.resends);
	assert_int_equal(a.failed, 0);
	assert_int_equal(a.ok, total);
	assert_int_equal(tb_wait_ready(&b, 20000), 0);
	for (int32_t part = 0; part < 2; part++)
		assert_int_equal(read_partition(b.addr, "rs", part, total / 2, 1,
						30000),
				 total / 2);
}

/* ---- udp_loss_netns ---- */

static char g_nsb[32], g_nsc[32];
static pid_t g_proxy_pid;

/* What the producing child saw, shared with the parent (MAP_SHARED). */
struct udp_result {
	uint64_t acked, failed, batches, resends;
};
static struct udp_result *g_udp;

static void netns_cleanup(void)
{
	if (g_nsb[0])
		tb_sh("ip netns del %s 2>/dev/null", g_nsb);
	if (g_nsc[0])
		tb_sh("ip netns del %s 2>/dev/null", g_nsc);
}

/* The producing child, inside the client namespace. */
static int udp_child(const char *broker, const char *proxy, uint64_t total,
		     int32_t parts)
{
	if (tb_enter_netns(g_nsc) < 0)
		return 10;
	struct acks a = { 0 };
	struct sl_producer_opts o;
	sl_producer_opts_default(&o);
	o.transport = SL_UDP;
	o.udp_addr = proxy;
	o.acks = -1;
	o.request_timeout_ms = 200;
	o.delivery_timeout_ms = 60000;
	o.batch_bytes = 4096;
	o.cb = on_delivery;
	o.cb_arg = &a;
	struct sl_producer *p;
	int rc = sl_producer_create(broker, &o, &p);
	if (rc < 0) {
		fprintf(stderr, "udp child: producer: %s\n", sl_error_message(rc));
		return 11;
	}
	uint8_t v[VALUE_BYTES];
	for (uint64_t i = 0; i < total; i++) {
		int32_t part = (int32_t)(i % (uint64_t)parts);
		make_value(v, part, i / (uint64_t)parts);
		rc = sl_produce(p, "udp", part, NULL, 0, v, VALUE_BYTES, NULL);
		if (rc < 0) {
			fprintf(stderr, "udp child: produce: %s\n",
				sl_error_message(rc));
			return 12;
		}
	}
	rc = sl_producer_flush(p, 60000);
	struct sl_producer_stats ps;
	sl_producer_stats(p, &ps);
	printf("udp_loss_netns: producer: %llu acked, %llu failed, %llu "
	       "batches, %llu resends\n", (unsigned long long)a.ok,
	       (unsigned long long)a.failed,
	       (unsigned long long)ps.batches_sent,
	       (unsigned long long)ps.resends);
	fflush(stdout);
	*g_udp = (struct udp_result){ .acked = a.ok, .failed = a.failed,
				      .batches = ps.batches_sent,
				      .resends = ps.resends };
	sl_producer_destroy(p);
	return rc == 0 && a.failed == 0 && a.ok == total ? 0 : 13;
}

/* The checking child, inside the client namespace (TCP, no loss on TCP
 * rules... loss applies to UDP only). */
static int read_child(const char *broker, uint64_t per_part, int32_t parts)
{
	if (tb_enter_netns(g_nsc) < 0)
		return 10;
	for (int32_t part = 0; part < parts; part++)
		if (read_partition(broker, "udp", part, per_part, 1, 60000) !=
		    per_part)
			return 14;
	return 0;
}

static int run_child(int (*fn)(void), pid_t *pid)
{
	fflush(stdout);
	*pid = fork();
	if (*pid == 0)
		_exit(fn());
	int st;
	waitpid(*pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static char g_broker[64], g_proxy[64];
static uint64_t g_total;
static int32_t g_parts;

static int udp_child_main(void)
{
	return udp_child(g_broker, g_proxy, g_total, g_parts);
}

static int read_child_main(void)
{
	return read_child(g_broker, g_total / (uint64_t)g_parts, g_parts);
}

static int admin_child_main(void)
{
	if (tb_enter_netns(g_nsc) < 0)
		return 10;
	for (int i = 0; i < 100; i++) {
		struct sl_client *c;
		if (sl_client_create(g_broker, 500, &c) == 0) {
			struct sl_topic_config cfg = { .partitions = g_parts };
			long id = sl_topic_create(c, "udp", &cfg);
			sl_client_destroy(c);
			if (id >= 0)
				return 0;
		}
		usleep(200000);
	}
	return 15;
}

/* Packets dropped by the DROP rule of OUTPUT in namespace ns, or -1. */
static long long iptables_dropped(const char *ns)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "ip netns exec %s iptables -nvxL OUTPUT",
		 ns);
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	char line[512];
	long long n = -1;
	while (fgets(line, sizeof(line), f)) {
		long long pkts, bytes;
		char target[32];
		if (sscanf(line, "%lld %lld %31s", &pkts, &bytes, target) == 3 &&
		    !strcmp(target, "DROP"))
			n = pkts;
	}
	pclose(f);
	return n;
}

/* The proxy's counters from its --stats file. */
struct proxy_stats {
	unsigned long long in, out, dup, reorder, drop;
	int clients;
};

static int read_proxy_stats(const char *path, struct proxy_stats *ps)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int n = fscanf(f, "in %llu out %llu duplicated %llu reordered %llu "
			  "dropped %llu clients %d", &ps->in, &ps->out,
		       &ps->dup, &ps->reorder, &ps->drop, &ps->clients);
	fclose(f);
	return n == 6 ? 0 : -1;
}

static void test_udp_loss_netns(void **state)
{
	(void)state;
	if (geteuid() != 0 || tb_sh("ip netns list >/dev/null 2>&1") != 0 ||
	    tb_sh("command -v iptables >/dev/null") != 0) {
		printf("udp_loss_netns: skipped: needs root, ip netns and "
		       "iptables\n");
		skip();
	}
	const char *proxy_bin = getenv("UDP_FAULT_PROXY");
	assert_non_null(proxy_bin);
	int id = (int)(getpid() % 200) + 20;
	snprintf(g_nsb, sizeof(g_nsb), "slb%d", (int)getpid());
	snprintf(g_nsc, sizeof(g_nsc), "slc%d", (int)getpid());
	atexit(netns_cleanup);
	/* two namespaces of our own, one veth between them */
	int ok = tb_sh("ip netns add %s && ip netns add %s && "
		       "ip link add vb%d type veth peer name vc%d && "
		       "ip link set vb%d netns %s && ip link set vc%d netns %s && "
		       "ip -n %s addr add 10.199.%d.1/24 dev vb%d && "
		       "ip -n %s addr add 10.199.%d.2/24 dev vc%d && "
		       "ip -n %s link set vb%d up && ip -n %s link set vc%d up && "
		       "ip -n %s link set lo up && ip -n %s link set lo up",
		       g_nsb, g_nsc, id, id, id, g_nsb, id, g_nsc, g_nsb, id, id,
		       g_nsc, id, id, g_nsb, id, g_nsc, id, g_nsb, g_nsc);
	if (ok != 0) {
		netns_cleanup();
		printf("udp_loss_netns: skipped: cannot create namespaces\n");
		skip();
	}
	/* 5% random loss of UDP in each direction (SLUICE_UDP_LOSS=0: none,
	 * for diagnosis) */
	int loss = !getenv("SLUICE_UDP_LOSS") || atoi(getenv("SLUICE_UDP_LOSS"));
	if (loss)
	assert_int_equal(tb_sh("ip netns exec %s iptables -A OUTPUT -p udp -m "
			       "statistic --mode random --probability 0.05 -j "
			       "DROP && ip netns exec %s iptables -A OUTPUT -p udp "
			       "-m statistic --mode random --probability 0.05 -j "
			       "DROP", g_nsb, g_nsc), 0);
	assert_int_equal(tb_init(&b, "udp"), 0);
	snprintf(b.host, sizeof(b.host), "10.199.%d.1", id);
	snprintf(b.netns, sizeof(b.netns), "%s", g_nsb);
	assert_int_equal(tb_start_sluiced(&b), 0);
	assert_int_equal(tb_start_control(&b), 0);
	snprintf(g_broker, sizeof(g_broker), "10.199.%d.1:%d", id, b.port);
	/* the proxy in the client namespace: reorders 5%, duplicates 5%,
	 * drops 2% (SLUICE_UDP_PROXY_PCT=N: N% reordered and duplicated,
	 * for diagnosis) */
	int pport = b.port + 1;
	const char *pct = getenv("SLUICE_UDP_PROXY_PCT");
	if (!pct)
		pct = "5";
	const char *drop = atoi(pct) ? "2" : "0";
	char stats[sizeof(b.dir) + 32];
	snprintf(stats, sizeof(stats), "%s/proxy.stats", b.dir);
	g_udp = mmap(NULL, sizeof(*g_udp), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(g_udp != MAP_FAILED);
	memset(g_udp, 0, sizeof(*g_udp));
	snprintf(g_proxy, sizeof(g_proxy), "127.0.0.1:%d", pport);
	pid_t proxy = fork();
	g_proxy_pid = proxy;
	if (proxy == 0) {
		if (tb_enter_netns(g_nsc) < 0)
			_exit(10);
		char lp[16], to[64];
		snprintf(lp, sizeof(lp), "%d", pport);
		snprintf(to, sizeof(to), "%s", g_broker);
		execl(proxy_bin, proxy_bin, "--listen", lp, "--to", to, "--seed",
		      "12345", "--dup", pct, "--reorder", pct, "--drop", drop,
		      "--duration", "120", "--stats", stats, (char *)NULL);
		_exit(127);
	}
	g_total = 40000;
	g_parts = 4;
	pid_t child;
	assert_int_equal(run_child(admin_child_main, &child), 0);
	int rc = run_child(udp_child_main, &child);
	kill(proxy, SIGTERM);
	int pst;
	waitpid(proxy, &pst, 0);
	g_proxy_pid = 0;
	if (rc != 0)
		fail_msg("udp producer child failed with %d (logs in %s)", rc,
			 b.dir);
	assert_int_equal(run_child(read_child_main, &child), 0);
	/* the data is exact; now that the faults it survived happened */
	if (!WIFEXITED(pst) || WEXITSTATUS(pst) != 0)
		fail_msg("udp_fault_proxy ended with status 0x%x", pst);
	struct proxy_stats ps;
	if (read_proxy_stats(stats, &ps) < 0)
		fail_msg("no counters from udp_fault_proxy in %s", stats);
	long long drop_b = loss ? iptables_dropped(g_nsb) : 0,
		  drop_c = loss ? iptables_dropped(g_nsc) : 0;
	printf("udp_loss_netns: proxy: %llu in, %llu out, %llu duplicated, "
	       "%llu reordered, %llu dropped; iptables dropped %lld from the "
	       "broker, %lld from the client; producer: %llu batches, %llu "
	       "resends\n", ps.in, ps.out, ps.dup, ps.reorder, ps.drop,
	       drop_b, drop_c, (unsigned long long)g_udp->batches,
	       (unsigned long long)g_udp->resends);
	assert_int_equal(g_udp->acked, g_total);
	assert_int_equal(g_udp->failed, 0);
	assert_true(g_udp->resends > 0);
	if (atoi(pct)) {
		assert_true(ps.dup > 0);
		assert_true(ps.reorder > 0);
		assert_true(ps.drop > 0);
	}
	if (loss) {
		assert_true(drop_b > 0);
		assert_true(drop_c > 0);
	}
	munmap(g_udp, sizeof(*g_udp));
	g_udp = NULL;
	netns_cleanup();
	g_nsb[0] = g_nsc[0] = 0;
}

/* ---- retention_reading ---- */

static void test_retention_reading(void **state)
{
	(void)state;
	assert_int_equal(tb_init(&b, "retention"), 0);
	b.extra[b.nextra++] = "retention_check_ms=200";
	assert_int_equal(tb_start(&b), 0);
	/* 1 MiB segments, keep about 2 MiB */
	create_topic(b.addr, "ret", 1, 2 << 20, 1 << 20);
	struct acks a = { 0 };
	struct sl_producer_opts o;
	sl_producer_opts_default(&o);
	o.acks = 1;
	o.cb = on_delivery;
	o.cb_arg = &a;
	struct sl_producer *p;
	assert_int_equal(sl_producer_create(b.addr, &o, &p), 0);
	struct sl_consumer *c;
	assert_int_equal(sl_consumer_create(b.addr, "ret", 0, NULL, &c), 0);
	uint8_t v[VALUE_BYTES];
	const uint64_t total = 200000; /* ~25 MiB on disk */
	uint64_t consumed = 0, out_of_range = 0;
	int64_t last_seq = -1;
	uint64_t deadline = tb_now_ms() + 60000;
	for (uint64_t i = 0; i < total || consumed == 0; i++) {
		if (i < total) {
			make_value(v, 0, i);
			int rc = sl_produce(p, "ret", 0, NULL, 0, v, VALUE_BYTES,
					    NULL);
			assert_true(rc >= 0);
		}
		if (i % 64)
			continue;
		/* a slow reader: one message per 64 produced */
		struct sl_message m;
		int rc = sl_consume(c, &m, 0);
		if (rc == sl_err_broker(1)) {
			/* retention passed us: start again at the log start */
			out_of_range++;
			assert_int_equal(sl_consumer_seek(c, SL_OFFSET_BEGINNING), 0);
			continue;
		}
		assert_true(rc >= 0);
		if (rc == 1) {
			int32_t mp;
			int64_t seq = value_seq(m.value, m.vlen, &mp);
			assert_true(seq > last_seq);
			assert_int_equal(seq, m.offset);
			last_seq = seq;
			consumed++;
		}
		if (tb_now_ms() > deadline)
			break;
	}
	assert_int_equal(sl_producer_flush(p, 30000), 0);
	sl_producer_destroy(p);
	/* wait for retention to move the start offset */
	struct sl_client *cl;
	assert_int_equal(sl_client_create(b.addr, 5000, &cl), 0);
	int64_t start = 0;
	for (int t = 0; t < 100 && start == 0; t++) {
		assert_int_equal(sl_list_offset(cl, "ret", 0, SL_OFFSET_BEGINNING,
						&start), 0);
		usleep(100000);
	}
	sl_client_destroy(cl);
	printf("retention_reading: consumed %llu while producing, %llu "
	       "out-of-range seeks, log start now %lld\n",
	       (unsigned long long)consumed, (unsigned long long)out_of_range,
	       (long long)start);
	assert_true(start > 0);
	assert_true(consumed > 0);
	/* the reader continues from the new start to the end, in order
	 * (retention may move the start again meanwhile: the first message
	 * is at or after the start seen, then every offset follows) */
	assert_int_equal(sl_consumer_seek(c, SL_OFFSET_BEGINNING), 0);
	uint64_t rest = 0;
	int64_t expect = -1;
	int jumped = 0;
	for (;;) {
		struct sl_message m;
		int rc = sl_consume(c, &m, 500);
		if (rc == 0)
			break;
		if (rc == sl_err_broker(1)) {
			/* retention passed the reader (it keeps deleting
			 * down to retention_bytes): start again at the new
			 * start, which is ahead of where the reader was */
			assert_int_equal(sl_consumer_seek(c, SL_OFFSET_BEGINNING),
					 0);
			jumped = 1;
			continue;
		}
		assert_int_equal(rc, 1);
		if (expect < 0 || jumped) {
			assert_true(m.offset >= start && m.offset >= expect);
			expect = m.offset;
			jumped = 0;
		}
		int32_t mp;
		assert_int_equal(value_seq(m.value, m.vlen, &mp), expect);
		assert_int_equal(m.offset, expect);
		expect++;
		rest++;
	}
	assert_int_equal(expect, (int64_t)total);
	sl_consumer_destroy(c);
}

/* ---- idle_connections ---- */

/* 10,000 idle TCP connections, a client sending garbage and one stalled
 * in the middle of a frame: producers and consumers are still served. */
static void test_idle_connections(void **state)
{
	(void)state;
	const int nconn = 10000;
	struct rlimit rl;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max < (rlim_t)nconn + 200) {
		printf("idle_connections: skipped: the hard open-files limit is "
		       "%llu, below %d\n", (unsigned long long)rl.rlim_max,
		       nconn + 200);
		skip();
	}
	rl.rlim_cur = rl.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(tb_init(&b, "idle"), 0);
	/* all 10,000 come from 127.0.0.1 */
	b.extra[b.nextra++] = "max_connections_per_ip=0";
	assert_int_equal(tb_start(&b), 0);
	create_topic(b.addr, "idle", 1, 0, 0);
	int *fds = malloc(sizeof(int) * (size_t)nconn);
	assert_non_null(fds);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)b.port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int opened = 0;
	for (int i = 0; i < nconn; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(fds[i] >= 0);
		if (connect(fds[i], (struct sockaddr *)&a, sizeof(a)) < 0)
			fail_msg("connection %d: %s", i, strerror(errno));
		opened++;
	}
	/* garbage on one, half a frame on another */
	assert_int_equal(write(fds[0], "GET / HTTP/1.1\r\n\r\n", 18), 18);
	uint8_t half[8] = { 0x53, 0x4c, 1, 2, 0, 0, 1, 0 };
	assert_int_equal(write(fds[1], half, sizeof(half)), (ssize_t)sizeof(half));
	/* everyone else is still served */
	struct acks ak = { 0 };
	struct sl_producer_opts o;
	sl_producer_opts_default(&o);
	o.cb = on_delivery;
	o.cb_arg = &ak;
	struct sl_producer *p;
	assert_int_equal(sl_producer_create(b.addr, &o, &p), 0);
	uint8_t v[VALUE_BYTES];
	for (uint64_t i = 0; i < 1000; i++) {
		make_value(v, 0, i);
		assert_true(sl_produce(p, "idle", 0, NULL, 0, v, VALUE_BYTES,
				       NULL) >= 0);
	}
	assert_int_equal(sl_producer_flush(p, 30000), 0);
	sl_producer_destroy(p);
	assert_int_equal(ak.ok, 1000);
	assert_int_equal(read_partition(b.addr, "idle", 0, 1000, 1, 30000), 1000);
	/* the garbage sender got an answer or a close, not silence forever */
	char buf[256];
	struct timeval tv = { 5, 0 };
	setsockopt(fds[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssize_t n = read(fds[0], buf, sizeof(buf));
	assert_true(n >= 0);
	printf("idle_connections: %d connections open; garbage sender got %zd "
	       "bytes then close\n", opened, n);
	for (int i = 0; i < opened; i++)
		close(fds[i]);
	free(fds);
}

/* ---- disk_full ---- */

static char g_mnt[PATH_MAX];

/* The data directory on a small filesystem that fills up: producers get
 * KAFKA_STORAGE_ERROR, every acknowledged message stays readable, and
 * producing works again once space is freed. */
static void test_disk_full(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		printf("disk_full: skipped: needs root to mount a filesystem\n");
		skip();
	}
	assert_int_equal(tb_init(&b, "full"), 0);
	char img[PATH_MAX + 16];
	snprintf(img, sizeof(img), "%s.img", b.dir);
	if (tb_sh("truncate -s 64M '%s' && mkfs.ext4 -q -F '%s' >/dev/null 2>&1 "
		  "&& mount -o loop '%s' '%s'", img, img, img, b.dir) != 0) {
		unlink(img);
		printf("disk_full: skipped: cannot mount a loop filesystem\n");
		skip();
	}
	snprintf(g_mnt, sizeof(g_mnt), "%s", b.dir);
	unlink(img); /* the mount keeps it */
	/* room to free later */
	assert_int_equal(tb_sh("dd if=/dev/zero of='%s/filler' bs=1M count=12 "
			       "status=none", b.dir), 0);
	assert_int_equal(tb_start(&b), 0);
	create_topic(b.addr, "full", 1, 0, 4 << 20);
	struct acks a = { 0 };
	const uint64_t max_msgs = 600000; /* ~60 MB: more than fits */
	a.offset = malloc(max_msgs * sizeof(*a.offset));
	for (uint64_t i = 0; i < max_msgs; i++)
		a.offset[i] = -1;
	struct sl_producer_opts o;
	sl_producer_opts_default(&o);
	o.acks = -1;
	o.delivery_timeout_ms = 5000;
	o.cb = on_delivery;
	o.cb_arg = &a;
	struct sl_producer *p;
	assert_int_equal(sl_producer_create(b.addr, &o, &p), 0);
	uint8_t v[VALUE_BYTES];
	uint64_t sent = 0;
	for (; sent < max_msgs && a.failed == 0; sent++) {
		make_value(v, 0, sent);
		if (sl_produce(p, "full", 0, NULL, 0, v, VALUE_BYTES,
			       (void *)(uintptr_t)sent) < 0)
			break;
	}
	sl_producer_flush(p, 10000);
	printf("disk_full: sent %llu, acked %llu, failed %llu (first error: %s)\n",
	       (unsigned long long)sent, (unsigned long long)a.ok,
	       (unsigned long long)a.failed,
	       a.failed ? sl_error_message(a.first_err) : "none");
	assert_true(a.failed > 0);
	assert_int_equal(a.first_err, sl_err_broker(56)); /* KAFKA_STORAGE_ERROR */
	sl_producer_destroy(p);
	/* every acknowledged message is there */
	struct sl_consumer *c;
	assert_int_equal(sl_consumer_create(b.addr, "full", 0, NULL, &c), 0);
	uint64_t checked = 0;
	for (uint64_t i = 0; i < sent; i++) {
		if (a.offset[i] < 0)
			continue;
		if (sl_consumer_position(c) != a.offset[i])
			assert_int_equal(sl_consumer_seek(c, a.offset[i]), 0);
		struct sl_message m;
		if (sl_consume(c, &m, 5000) != 1)
			fail_msg("acked offset %lld missing", (long long)a.offset[i]);
		uint8_t expect[VALUE_BYTES];
		make_value(expect, 0, i);
		assert_memory_equal(m.value, expect, VALUE_BYTES);
		checked++;
	}
	sl_consumer_destroy(c);
	/* free space: producing works again */
	char filler[PATH_MAX + 16];
	snprintf(filler, sizeof(filler), "%s/filler", b.dir);
	assert_int_equal(unlink(filler), 0);
	sync();
	struct acks a2 = { 0 };
	o.cb_arg = &a2;
	o.delivery_timeout_ms = 30000;
	assert_int_equal(sl_producer_create(b.addr, &o, &p), 0);
	for (uint64_t i = 0; i < 1000; i++) {
		make_value(v, 0, 1000000 + i);
		assert_true(sl_produce(p, "full", 0, NULL, 0, v, VALUE_BYTES,
				       NULL) >= 0);
	}
	assert_int_equal(sl_producer_flush(p, 30000), 0);
	sl_producer_destroy(p);
	printf("disk_full: %llu acked messages verified; after freeing 12 MiB: "
	       "%llu acked, %llu failed\n", (unsigned long long)checked,
	       (unsigned long long)a2.ok, (unsigned long long)a2.failed);
	assert_int_equal(a2.ok, 1000);
	free(a.offset);
}

static int teardown(void **state)
{
	(void)state;
	if (g_proxy_pid > 0) {
		kill(g_proxy_pid, SIGTERM);
		waitpid(g_proxy_pid, NULL, 0);
		g_proxy_pid = 0;
	}
	if (g_mnt[0]) {
		/* stop the broker first: it holds files on the mount.  The
		 * logs of a process that failed are on the mount too: they
		 * move to the mount point, which tb_destroy then keeps. */
		int failed = tb_stop(&b) != 0;
		if (failed)
			tb_sh("mkdir -p '%s.logs' && cp '%s'/*.log '%s.logs/'",
			      g_mnt, g_mnt, g_mnt);
		tb_sh("umount '%s'", g_mnt);
		if (failed)
			tb_sh("mv '%s.logs'/* '%s/' && rmdir '%s.logs'", g_mnt,
			      g_mnt, g_mnt);
		g_mnt[0] = 0;
	}
	/* every broker process still running must exit with status 0: a
	 * sanitizer report or a crash at shutdown fails the case (cmocka:
	 * "Test teardown failed"), its log printed and kept */
	int rc = tb_destroy(&b, 0);
	memset(&b, 0, sizeof(b));
	netns_cleanup();
	g_nsb[0] = g_nsc[0] = 0;
	return rc;
}

int main(void)
{
	if (tb_available())
		return 77;
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_roundtrip_1m, teardown),
		cmocka_unit_test_teardown(test_sigkill_acks_all, teardown),
		cmocka_unit_test_teardown(test_sigkill_acks_1, teardown),
		cmocka_unit_test_teardown(test_restarts_midstream, teardown),
		cmocka_unit_test_teardown(test_udp_loss_netns, teardown),
		cmocka_unit_test_teardown(test_retention_reading, teardown),
		cmocka_unit_test_teardown(test_idle_connections, teardown),
		cmocka_unit_test_teardown(test_disk_full, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
