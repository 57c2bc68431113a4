/*
 * sluice-dataplane-bench: the DPDK dataplane's cost per packet without a
 * NIC in the way.  An in-process generator feeds valid produce frames
 * (Ethernet/IPv4/UDP + native PRODUCE + one RecordBatch v2; the smallest
 * is 142 B, used for the "128 B" point) into a
 * net_ring port (rte_eth_from_ring: rx dequeues mbuf pointers from an
 * rte_ring); one polling core runs what drivers/dpdk.c does per datagram:
 *   rte_eth_rx_burst -> ns_parse (IPv4 + UDP checksums in software) ->
 *   sn_header_parse + sn_decode_produce -> rb_validate (CRC32C, isa-l)
 *   -> dp_ring_enqueue_burst into a partition ring (dataplane/ring.c)
 * and then drains that ring (the storage core's dequeue) and gives the
 * mbufs back to the generator.  Figures: packets/s and TSC cycles per
 * packet for 128 B, 1 KiB and 8 KiB frames, with and without the CRC.
 * The generator's enqueue is included (a pointer ring: ~1-3 cycles/pkt).
 *
 * "With storage behind it": the same frames through parse + validate +
 * enqueue on the polling core, and a storage thread on the other CPU
 * draining the partition ring and appending each batch to a real partition
 * log (storage/log.h: swriter + slog, SLOG_SYNC_GROUP with the default
 * 1 MiB / 2 ms group commit, slog_append_validated: the copy into the
 * aligned write buffer, no second CRC) in a temporary directory under
 * --dir, removed afterwards.  The mbufs go back to the generator through a
 * return ring, so the generator can never run ahead of the disk: packets/s
 * is what was appended and made durable (a final slog_sync is inside the
 * timed window).  slog_append_validated stamps the base offset and leader
 * epoch into the batch in place; the storage thread puts the 16 original
 * bytes back before recycling the mbuf (else the UDP checksum would fail
 * on the next lap) -- a benchmark artifact of a few cycles.  Each case is
 * bounded by a packet count and --storage-seconds (default 4 s).
 *
 * Usage: sluice-dataplane-bench [--json] [--packets N] [--eal "ARGS"]
 *        [--dir DIR] [--storage-seconds S] [--storage-packets N]
 *        [--no-storage] [--only-storage] [--only FRAME]
 * Default EAL: -l 1 --no-pci --in-memory (hugepages reserved) or
 * -l 1 --no-pci --no-huge -m 512 --no-shconf; always --no-telemetry.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_eth_ring.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane/ring.h"
#include "drivers/netstack.h"
#include "proto/native.h"
#include "proto/record_batch.h"
#include "storage/log.h"

#define BURST 32
#define NMBUF 2048

struct result {
	unsigned frame;
	int crc;
	uint64_t packets;
	double seconds, pps, cycles_per_pkt;
};

static struct ns_self self;
static struct ns_self peer;

/* A produce frame of exactly frame_len bytes on the wire (Ethernet
 * included), built like a producer would. */
static size_t build_frame(uint8_t *f, unsigned frame_len)
{
	static uint8_t batch[16384], val[16384];
	size_t overhead = NS_UDP_HDRS + SN_PRODUCE_REQ_BYTES;
	/* batch header 61 + record framing (~10): solve for the value size */
	long vlen = (long)frame_len - (long)overhead - 61 - 10;
	if (vlen < 0)
		vlen = 0;
	for (;;) {
		if (vlen < 0)
			vlen = 0;
		memset(val, 'v', (size_t)vlen);
		struct rb_builder b;
		rb_builder_init(&b, batch, sizeof(batch), 1700000000000);
		rb_builder_add(&b, NULL, 0, val, (int32_t)vlen, 1700000000000);
		long bl = rb_builder_finish(&b);
		if (bl < 0)
			return 0;
		size_t total = overhead + (size_t)bl;
		if (total > frame_len && vlen > 0) {
			vlen -= (long)(total - frame_len);
			continue;
		}
		if (total < frame_len) {
			vlen += (long)(frame_len - total);
			continue;
		}
		struct sn_produce r = { .topic_id = 1, .partition = 0,
					.acks = 1, .timeout_ms = 1000,
					.batch = batch, .batch_len = (uint32_t)bl };
		long n = sn_encode_produce(f + NS_UDP_HDRS, 65507, 7, &r);
		if (n < 0)
			return 0;
		return ns_build_udp(&peer, self.mac, self.ip, self.udp_port, f,
				    (size_t)n, 1, NS_TX_IP_CKSUM | NS_TX_UDP_CKSUM);
	}
}

static int run(uint16_t port, struct rte_ring *wire, struct dp_ring *part,
	       struct rte_mempool *pool, unsigned frame_len, int crc,
	       uint64_t packets, struct result *res)
{
	static struct rte_mbuf *free_m[NMBUF];
	static uint8_t frame[16384];
	unsigned nfree = 0;
	size_t flen = build_frame(frame, frame_len);
	if (flen != frame_len) {
		fprintf(stderr, "frame of %u: built %zu\n", frame_len, flen);
		return -EINVAL;
	}
	for (unsigned i = 0; i < 512; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		if (!m)
			return -ENOMEM;
		memcpy(rte_pktmbuf_append(m, (uint16_t)flen), frame, flen);
		free_m[nfree++] = m;
	}
	uint64_t done = 0, bad = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t c0 = rte_rdtsc();
	uint64_t empty = 0;
	while (done < packets && empty < 1000000) {
		/* generator: BURST frames onto the wire */
		unsigned k = nfree < BURST ? nfree : BURST;
		unsigned q = rte_ring_sp_enqueue_burst(wire, (void **)&free_m[nfree - k],
						       k, NULL);
		nfree -= q;
		/* the polling core */
		struct rte_mbuf *pk[BURST];
		void *ok[BURST];
		unsigned nok = 0;
		uint16_t n = rte_eth_rx_burst(port, 0, pk, BURST);
		for (uint16_t i = 0; i < n; i++) {
			if (i + 1 < n)
				rte_prefetch0(rte_pktmbuf_mtod(pk[i + 1], void *));
			struct ns_rx rx;
			const uint8_t *f = rte_pktmbuf_mtod(pk[i], uint8_t *);
			struct sn_header h;
			struct sn_produce pr;
			if (ns_parse(&self, f, pk[i]->data_len, 0, &rx) != NS_UDP ||
			    sn_header_parse(rx.payload, rx.payload_len, 65507, &h) <= 0 ||
			    sn_decode_produce(rx.payload, rx.payload_len, &pr) ||
			    (crc && rb_validate(pr.batch, pr.batch_len))) {
				bad++;
				free_m[nfree++] = pk[i];
				continue;
			}
			ok[nok++] = pk[i];
		}
		unsigned e = dp_ring_enqueue_burst(part, ok, nok);
		for (unsigned i = e; i < nok; i++)
			free_m[nfree++] = ok[i];
		/* the storage core's side: drain, recycle */
		void *out[BURST];
		unsigned d = dp_ring_dequeue_burst(part, out, BURST);
		for (unsigned i = 0; i < d; i++)
			free_m[nfree++] = out[i];
		done += n;
		empty = n ? 0 : empty + 1;
	}
	if (done < packets) {
		fprintf(stderr, "the net_ring port stopped delivering\n");
		return -EIO;
	}
	uint64_t cyc = rte_rdtsc() - c0;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* drain what is left in flight */
	struct rte_mbuf *pk[BURST];
	uint16_t n;
	while ((n = rte_eth_rx_burst(port, 0, pk, BURST)) > 0)
		rte_pktmbuf_free_bulk(pk, n);
	void *out[BURST];
	unsigned d;
	while ((d = dp_ring_dequeue_burst(part, out, BURST)) > 0)
		rte_pktmbuf_free_bulk((struct rte_mbuf **)out, d);
	rte_pktmbuf_free_bulk(free_m, nfree);
	if (bad) {
		fprintf(stderr, "%" PRIu64 " frames failed validation\n", bad);
		return -EINVAL;
	}
	res->frame = frame_len;
	res->crc = crc;
	res->packets = done;
	res->seconds = (double)(t1.tv_sec - t0.tv_sec) +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	res->pps = (double)done / res->seconds;
	res->cycles_per_pkt = (double)cyc / (double)done;
	return 0;
}

/* ---- with storage behind it ---- */

struct sresult {
	unsigned frame;
	uint64_t packets, log_bytes, fsyncs, writes;
	double seconds, pps, cycles_per_pkt, store_cycles_per_pkt;
	int time_bound; /* 1: stopped by --storage-seconds, not the count */
};

struct store_ctx {
	struct dp_ring *part;
	struct rte_ring *ret;   /* mbufs back to the generator */
	struct slog *log;
	struct swriter *w;
	int cpu;
	_Atomic uint64_t target; /* UINT64_MAX until the rx core stops */
	_Atomic uint64_t stored;
	_Atomic int done;
	uint64_t busy_cycles, end_tsc, log_bytes;
	int err;
};

static void *store_main(void *arg)
{
	struct store_ctx *c = arg;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(c->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	uint64_t stored = 0;
	for (;;) {
		void *out[BURST];
		uint64_t t0 = rte_rdtsc();
		unsigned d = dp_ring_dequeue_burst(c->part, out, BURST);
		for (unsigned i = 0; i < d; i++) {
			struct rte_mbuf *m = out[i];
			uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
			uint8_t *b = f + m->hash.usr;
			size_t len = m->data_len - m->hash.usr;
			uint8_t keep[16];
			memcpy(keep, b, 16);
			struct slog_append_result r;
			int rc;
			while ((rc = slog_append_validated(c->log, b, len, &r)) == SL_EFULL)
				if (swriter_wait(c->w, 1000) < 0)
					break;
			if (rc) {
				c->err = rc;
				fprintf(stderr, "slog_append_validated: %d\n", rc);
			}
			memcpy(b, keep, 16);
			c->log_bytes += len;
		}
		if (d && rte_ring_sp_enqueue_bulk(c->ret, out, d, NULL) != d) {
			c->err = -ENOBUFS; /* cannot happen: ret holds every mbuf */
			fprintf(stderr, "return ring full\n");
		}
		int wk = swriter_do_work(c->w);
		stored += d;
		atomic_store_explicit(&c->stored, stored, memory_order_release);
		if (d || wk > 0)
			c->busy_cycles += rte_rdtsc() - t0;
		if (stored >= atomic_load_explicit(&c->target, memory_order_acquire))
			break;
		if (c->err)
			break;
	}
	int rc = slog_sync(c->log);
	if (rc && !c->err)
		c->err = rc;
	c->end_tsc = rte_rdtsc();
	atomic_store_explicit(&c->done, 1, memory_order_release);
	return NULL;
}

static int run_storage(uint16_t port, struct rte_ring *wire,
		       struct dp_ring *part, struct rte_mempool *pool,
		       const char *base, unsigned frame_len, uint64_t packets,
		       double max_seconds, struct sresult *res)
{
	static struct rte_mbuf *free_m[NMBUF];
	static uint8_t frame[16384];
	unsigned nfree = 0;
	size_t flen = build_frame(frame, frame_len);
	if (flen != frame_len) {
		fprintf(stderr, "frame of %u: built %zu\n", frame_len, flen);
		return -EINVAL;
	}
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/run-XXXXXX", base);
	if (!mkdtemp(dir)) {
		fprintf(stderr, "mkdtemp %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	struct swriter_config wc;
	swriter_config_defaults(&wc);
	struct slog_config lc;
	slog_config_defaults(&lc);
	lc.topic = "bench";
	lc.partition = 0;
	lc.segment_bytes = 256u << 20;
	lc.durability = SLOG_SYNC_GROUP;
	struct store_ctx c = { .part = part, .target = UINT64_MAX };
	int rc = swriter_create(&wc, &c.w);
	if (rc) {
		fprintf(stderr, "swriter_create: %d\n", rc);
		return rc;
	}
	rc = slog_open(c.w, dir, &lc, &c.log);
	if (rc) {
		fprintf(stderr, "slog_open %s: %d\n", dir, rc);
		swriter_destroy(c.w);
		return rc;
	}
	char rn[32];
	snprintf(rn, sizeof(rn), "ret%u", frame_len);
	c.ret = rte_ring_create(rn, 1024, (int)rte_socket_id(),
				RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!c.ret)
		return -ENOMEM;
	unsigned main_cpu = rte_lcore_to_cpu_id((int)rte_lcore_id());
	c.cpu = main_cpu == 0 ? 1 : 0;
	for (unsigned i = 0; i < 512; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		if (!m)
			return -ENOMEM;
		memcpy(rte_pktmbuf_append(m, (uint16_t)flen), frame, flen);
		free_m[nfree++] = m;
	}
	pthread_t th;
	if (pthread_create(&th, NULL, store_main, &c))
		return -EAGAIN;
	uint64_t done = 0, bad = 0, hz = rte_get_tsc_hz();
	uint64_t limit = (uint64_t)(max_seconds * (double)hz);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t c0 = rte_rdtsc();
	int time_bound = 0;
	unsigned loops = 0;
	while (done < packets) {
		if ((++loops & 255) == 0 && rte_rdtsc() - c0 > limit) {
			time_bound = 1;
			break;
		}
		/* mbufs the storage thread has finished with */
		nfree += rte_ring_sc_dequeue_burst(c.ret, (void **)&free_m[nfree],
						   NMBUF - nfree, NULL);
		unsigned k = nfree < BURST ? nfree : BURST;
		if (packets - done < k)
			k = (unsigned)(packets - done); /* never more than asked */
		unsigned q = rte_ring_sp_enqueue_burst(wire, (void **)&free_m[nfree - k],
						       k, NULL);
		nfree -= q;
		struct rte_mbuf *pk[BURST];
		void *ok[BURST];
		unsigned nok = 0;
		uint16_t n = rte_eth_rx_burst(port, 0, pk, BURST);
		for (uint16_t i = 0; i < n; i++) {
			if (i + 1 < n)
				rte_prefetch0(rte_pktmbuf_mtod(pk[i + 1], void *));
			struct ns_rx rx;
			const uint8_t *f = rte_pktmbuf_mtod(pk[i], uint8_t *);
			struct sn_header h;
			struct sn_produce pr;
			if (ns_parse(&self, f, pk[i]->data_len, 0, &rx) != NS_UDP ||
			    sn_header_parse(rx.payload, rx.payload_len, 65507, &h) <= 0 ||
			    sn_decode_produce(rx.payload, rx.payload_len, &pr) ||
			    rb_validate(pr.batch, pr.batch_len)) {
				bad++;
				free_m[nfree++] = pk[i];
				continue;
			}
			pk[i]->hash.usr = (uint32_t)(pr.batch - f);
			ok[nok++] = pk[i];
		}
		/* 512 mbufs in circulation, 1024 slots: never full */
		if (nok && dp_ring_enqueue_burst(part, ok, nok) != nok) {
			fprintf(stderr, "partition ring full\n");
			bad += nok;
			for (unsigned i = 0; i < nok; i++)
				free_m[nfree++] = ok[i];
			nok = 0;
		}
		done += nok;
	}
	/* let the storage thread finish what was enqueued, then sync */
	atomic_store_explicit(&c.target, done, memory_order_release);
	while (!atomic_load_explicit(&c.done, memory_order_acquire))
		rte_pause();
	pthread_join(th, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	uint64_t cyc = c.end_tsc - c0;
	struct slog_stats st;
	slog_get_stats(c.log, &st);
	/* give everything back */
	struct rte_mbuf *pk[BURST];
	uint16_t n;
	while ((n = rte_eth_rx_burst(port, 0, pk, BURST)) > 0)
		rte_pktmbuf_free_bulk(pk, n);
	nfree += rte_ring_sc_dequeue_burst(c.ret, (void **)&free_m[nfree],
					   NMBUF - nfree, NULL);
	rte_pktmbuf_free_bulk(free_m, nfree);
	rte_ring_free(c.ret);
	int crc = slog_close(c.log);
	swriter_destroy(c.w);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", dir);
	if (bad || c.err || crc) {
		fprintf(stderr, "%" PRIu64 " frames failed; storage error %d/%d\n",
			bad, c.err, crc);
		return -EIO;
	}
	res->frame = frame_len;
	res->packets = done;
	res->log_bytes = c.log_bytes;
	res->fsyncs = st.fsyncs;
	res->writes = st.writes;
	res->time_bound = time_bound;
	res->seconds = (double)(t1.tv_sec - t0.tv_sec) +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	res->pps = (double)done / ((double)cyc / (double)hz);
	res->cycles_per_pkt = (double)cyc / (double)done;
	res->store_cycles_per_pkt = (double)c.busy_cycles / (double)done;
	return 0;
}

static void commit_of(char *out, size_t cap)
{
	FILE *f = popen("git -C \"$(dirname \"$(readlink -f /proc/self/exe)\")\" "
			"rev-parse --short HEAD 2>/dev/null", "r");
	out[0] = 0;
	if (f) {
		if (fgets(out, (int)cap, f))
			out[strcspn(out, "\n")] = 0;
		pclose(f);
	}
	if (!out[0])
		snprintf(out, cap, "unknown");
}

int main(int argc, char **argv)
{
	int json = 0;
	uint64_t packets = 0;
	const char *eal = NULL;
	const char *dir = "./data/bench-dataplane";
	double storage_seconds = 4;
	uint64_t storage_packets = 0;
	int storage = 1, plain = 1;
	unsigned only = 0;
	char cmdline[512] = "";
	for (int i = 0; i < argc; i++) {
		strncat(cmdline, argv[i], sizeof(cmdline) - strlen(cmdline) - 2);
		strcat(cmdline, " ");
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--packets") && i + 1 < argc)
			packets = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--eal") && i + 1 < argc)
			eal = argv[++i];
		else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			dir = argv[++i];
		else if (!strcmp(argv[i], "--storage-seconds") && i + 1 < argc)
			storage_seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--storage-packets") && i + 1 < argc)
			storage_packets = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--no-storage"))
			storage = 0;
		else if (!strcmp(argv[i], "--only-storage"))
			plain = 0;
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = (unsigned)atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--json] [--packets N] "
					"[--eal \"EAL ARGS\"] [--dir DIR] "
					"[--storage-seconds S] [--storage-packets N] "
					"[--no-storage] [--only-storage] "
					"[--only 142|1024|8192]\n", argv[0]);
			return 2;
		}
	}
	char hp[32] = "0";
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "r");
	if (f) {
		if (!fgets(hp, sizeof(hp), f))
			hp[0] = '0';
		fclose(f);
	}
	int huge = atoi(hp) >= 256;
	static char eal_buf[1024];
	snprintf(eal_buf, sizeof(eal_buf), "%s --no-telemetry",
		 eal ? eal : huge ? "-l 1 --no-pci --in-memory"
				  : "-l 1 --no-pci --no-huge -m 512 --no-shconf");
	char *ev[64];
	int ec = 0;
	ev[ec++] = argv[0];
	for (char *s = strtok(eal_buf, " "); s && ec < 63; s = strtok(NULL, " "))
		ev[ec++] = s;
	ev[ec] = NULL;
	if (rte_eal_init(ec, ev) < 0) {
		fprintf(stderr, "rte_eal_init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	struct rte_mempool *pool = rte_pktmbuf_pool_create("bench", NMBUF * 2 - 1,
		256, 0, 9216 + RTE_PKTMBUF_HEADROOM, (int)rte_socket_id());
	struct rte_ring *wire = rte_ring_create("wire", 1024, (int)rte_socket_id(),
						RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!pool || !wire) {
		fprintf(stderr, "pool/ring: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	int port = rte_eth_from_ring(wire);
	struct dp_ring *part;
	struct rte_eth_conf pconf;
	memset(&pconf, 0, sizeof(pconf));
	if (port < 0 || rte_eth_dev_configure((uint16_t)port, 1, 1, &pconf) ||
	    rte_eth_rx_queue_setup((uint16_t)port, 0, 1024, rte_socket_id(),
				   NULL, pool) ||
	    rte_eth_tx_queue_setup((uint16_t)port, 0, 1024, rte_socket_id(),
				   NULL) ||
	    rte_eth_dev_start((uint16_t)port) || dp_ring_create(1024, &part)) {
		fprintf(stderr, "net_ring port / partition ring failed\n");
		return 1;
	}
	self = (struct ns_self){ .mac = { 2, 0, 0, 0, 0, 2 },
				 .ip = htonl(0x0a580002), .udp_port = htons(9093) };
	peer = (struct ns_self){ .mac = { 2, 0, 0, 0, 0, 1 },
				 .ip = htonl(0x0a580001), .udp_port = htons(40000) };
	/* 142 B is the smallest valid produce frame (Eth/IPv4/UDP 42 + PRODUCE
	 * 32 + batch header 61 + an empty record 7): it stands for "128 B" */
	static const unsigned sizes[] = { 142, 1024, 8192 };
	struct result res[6];
	int nr = 0;
	for (unsigned s = 0; s < 3 && plain; s++)
		for (int crc = 1; crc >= 0; crc--) {
			if (only && sizes[s] != only)
				continue;
			uint64_t n = packets ? packets
					     : sizes[s] <= 256 ? 20000000
					     : sizes[s] <= 1024 ? 10000000 : 2000000;
			if (run((uint16_t)port, wire, part, pool, sizes[s], crc, n,
				&res[nr]))
				return 1;
			nr++;
		}
	struct sresult sres[3];
	int ns = 0;
	if (storage) {
		char mk[PATH_MAX + 16];
		snprintf(mk, sizeof(mk), "mkdir -p '%s'", dir);
		if (system(mk)) {
			fprintf(stderr, "cannot create %s\n", dir);
			return 1;
		}
	}
	for (unsigned s = 0; s < 3 && storage; s++) {
		if (only && sizes[s] != only)
			continue;
		uint64_t n = storage_packets ? storage_packets
				     : sizes[s] <= 256 ? 10000000
				     : sizes[s] <= 1024 ? 3000000 : 400000;
		if (run_storage((uint16_t)port, wire, part, pool, dir, sizes[s], n,
				storage_seconds, &sres[ns]))
			return 1;
		ns++;
	}
	char commit[64], host[256] = "", cpu[300] = "?";
	commit_of(commit, sizeof(commit));
	gethostname(host, sizeof(host) - 1);
	f = fopen("/proc/cpuinfo", "r");
	char line[256];
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "model name", 10)) {
			char *p = strchr(line, ':');
			snprintf(cpu, sizeof(cpu), "%s", p ? p + 2 : line);
			cpu[strcspn(cpu, "\n")] = 0;
			break;
		}
	if (f)
		fclose(f);
	double ghz = (double)rte_get_tsc_hz() / 1e9;
	if (json) {
		printf("{\"command\":\"%s\",\"commit\":\"%s\",\"machine\":{\"host\":"
		       "\"%s\",\"cpu\":\"%s\",\"cpus\":%ld,\"tsc_ghz\":%.3f,"
		       "\"hugepages\":%s},\"eal\":\"%s\",\"results\":[",
		       cmdline, commit, host, cpu, sysconf(_SC_NPROCESSORS_ONLN),
		       ghz, huge ? "true" : "false", eal ? eal : "default");
		for (int i = 0; i < nr; i++)
			printf("%s{\"frame_bytes\":%u,\"crc\":%s,\"packets\":%" PRIu64
			       ",\"seconds\":%.3f,\"mpps\":%.3f,\"cycles_per_packet\""
			       ":%.1f,\"gbit_s\":%.2f}",
			       i ? "," : "", res[i].frame, res[i].crc ? "true" : "false",
			       res[i].packets, res[i].seconds, res[i].pps / 1e6,
			       res[i].cycles_per_pkt,
			       res[i].pps * res[i].frame * 8 / 1e9);
		printf("],\"storage\":[");
		for (int i = 0; i < ns; i++)
			printf("%s{\"frame_bytes\":%u,\"crc\":true,\"packets\":%" PRIu64
			       ",\"seconds\":%.3f,\"mpps\":%.3f,\"mb_s\":%.1f,"
			       "\"log_mb_s\":%.1f,\"cycles_per_packet\":%.1f,"
			       "\"storage_busy_cycles_per_packet\":%.1f,\"fsyncs\":%"
			       PRIu64 ",\"writes\":%" PRIu64 ",\"time_bound\":%s}",
			       i ? "," : "", sres[i].frame, sres[i].packets,
			       sres[i].seconds, sres[i].pps / 1e6,
			       sres[i].pps * sres[i].frame / 1e6,
			       (double)sres[i].log_bytes / sres[i].packets *
				       sres[i].pps / 1e6,
			       sres[i].cycles_per_pkt, sres[i].store_cycles_per_pkt,
			       sres[i].fsyncs, sres[i].writes,
			       sres[i].time_bound ? "true" : "false");
		printf("],\"storage_dir\":\"%s\",\"storage_seconds\":%.1f}\n",
		       dir, storage_seconds);
	} else {
		printf("command: %s\ncommit: %s\nmachine: %s, %s, %ld CPUs, TSC "
		       "%.3f GHz, hugepages %s\n", cmdline, commit, host, cpu,
		       sysconf(_SC_NPROCESSORS_ONLN), ghz, huge ? "yes" : "no");
		printf("path: net_ring rx_burst -> ns_parse (sw IPv4+UDP checksums)"
		       " -> native PRODUCE decode -> rb_validate (CRC32C) -> "
		       "partition ring enqueue+dequeue, 1 core\n");
		printf("%8s %5s %12s %10s %14s %9s\n", "frame_B", "crc", "packets",
		       "Mpps", "cycles/pkt", "Gbit/s");
		for (int i = 0; i < nr; i++)
			printf("%8u %5s %12" PRIu64 " %10.2f %14.1f %9.2f\n",
			       res[i].frame, res[i].crc ? "yes" : "no",
			       res[i].packets, res[i].pps / 1e6,
			       res[i].cycles_per_pkt,
			       res[i].pps * res[i].frame * 8 / 1e9);
		if (ns) {
			printf("with storage behind it: rx core (parse+validate+"
			       "enqueue) on this CPU, storage thread on CPU %d: "
			       "slog_append_validated + swriter_do_work, group "
			       "commit 1 MiB/2 ms, log under %s (removed); "
			       "bounded by %.1f s per case\n",
			       rte_lcore_to_cpu_id((int)rte_lcore_id()) == 0 ? 1 : 0,
			       dir, storage_seconds);
			printf("%8s %12s %8s %10s %10s %10s %14s %14s %7s\n",
			       "frame_B", "packets", "s", "Mpps", "MB/s", "log MB/s",
			       "cycles/pkt", "store cyc/pkt", "fsyncs");
			for (int i = 0; i < ns; i++)
				printf("%8u %12" PRIu64 " %8.2f %10.3f %10.1f %10.1f "
				       "%14.1f %14.1f %7" PRIu64 "%s\n",
				       sres[i].frame, sres[i].packets,
				       sres[i].seconds, sres[i].pps / 1e6,
				       sres[i].pps * sres[i].frame / 1e6,
				       (double)sres[i].log_bytes / sres[i].packets *
					       sres[i].pps / 1e6,
				       sres[i].cycles_per_pkt,
				       sres[i].store_cycles_per_pkt, sres[i].fsyncs,
				       sres[i].time_bound ? " (time-bound)" : "");
		}
		printf("targets: >= 10 Mpps at 128 B (parse+validate+enqueue); "
		       "<= 300 cycles/pkt at 1 KiB without CRC\n");
	}
	rte_eal_cleanup();
	return 0;
}
