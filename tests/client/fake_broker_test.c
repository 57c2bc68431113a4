/*
 * libsluice against an in-process fake broker that speaks the native
 * protocol (proto/native) over loopback TCP and UDP: an in-memory log per
 * partition, Kafka's idempotence rule reduced to "a batch whose (partition,
 * producer id, base sequence) was seen is answered with its first offsets",
 * and a UDP side that drops the first PRODUCE datagram so that the
 * producer must retransmit.  Checks delivery reports, offsets, content,
 * count and order through the consumer, and that a retransmission is not
 * appended twice.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/native.h"
#include "proto/record_batch.h"
#include "sluice/sluice.h"

#define NPART 3 /* not 2: with 2 the sign bit of the hash would not matter */
#define MAXB 4096
#define MAXSEEN 4096

struct fb_batch {
	uint8_t *bytes;
	size_t len;
};

static struct {
	int tcp_fd, udp_fd;
	uint16_t port;
	volatile int stop;
	struct fb_batch log[NPART][MAXB];
	int nb[NPART];
	int64_t end[NPART];
	struct {
		int32_t part, seq;
		int64_t base, last;
	} seen[MAXSEEN];
	int nseen;
	int32_t next_seq[NPART]; /* -1: nothing seen from the producer */
	int udp_dropped, dups, out_of_order;
	pthread_t th;
} fb;

static long fb_produce(const uint8_t *f, size_t len, uint8_t *out, size_t cap)
{
	uint32_t corr = rb_be32(f + 8);
	struct sn_produce r;
	int rc = sn_decode_produce(f, len, &r);
	if (rc)
		return sn_encode_error_resp(out, cap, SN_PRODUCE | SN_RESPONSE,
					    corr, (int16_t)-rc);
	if (r.topic_id != 1 || r.partition < 0 || r.partition >= NPART)
		return sn_encode_error_resp(out, cap, SN_PRODUCE | SN_RESPONSE,
					    corr, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	if (rb_validate(r.batch, r.batch_len))
		return sn_encode_error_resp(out, cap, SN_PRODUCE | SN_RESPONSE,
					    corr, SN_ERR_CORRUPT_MESSAGE);
	struct rb_header h;
	rb_header_decode(r.batch, &h);
	struct sn_produce_resp pr = { .topic_id = 1, .partition = r.partition };
	for (int i = 0; i < fb.nseen; i++) {
		if (h.producer_id >= 0 && fb.seen[i].part == r.partition &&
		    fb.seen[i].seq == h.base_sequence) {
			fb.dups++;
			pr.base_offset = fb.seen[i].base;
			pr.last_offset = fb.seen[i].last;
			return sn_encode_produce_resp(out, cap, corr, 0, &pr);
		}
	}
	int p = r.partition;
	if (h.producer_id >= 0 && fb.next_seq[p] >= 0 &&
	    h.base_sequence != fb.next_seq[p]) {
		fb.out_of_order++;
		return sn_encode_error_resp(out, cap, SN_PRODUCE | SN_RESPONSE,
					    corr, SN_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
	}
	if (h.producer_id >= 0)
		fb.next_seq[p] = h.base_sequence + h.record_count;
	uint8_t *copy = malloc(r.batch_len);
	memcpy(copy, r.batch, r.batch_len);
	rb_stamp(copy, fb.end[p], 0);
	fb.log[p][fb.nb[p]++] = (struct fb_batch){ copy, r.batch_len };
	pr.base_offset = fb.end[p];
	fb.end[p] += h.record_count;
	pr.last_offset = fb.end[p] - 1;
	if (h.producer_id >= 0 && fb.nseen < MAXSEEN)
		fb.seen[fb.nseen++] = (typeof(fb.seen[0])){
			p, h.base_sequence, pr.base_offset, pr.last_offset };
	if (r.acks == 0)
		return 0;
	return sn_encode_produce_resp(out, cap, corr, 0, &pr);
}

static long fb_handle(const uint8_t *f, size_t len, uint8_t *out, size_t cap)
{
	uint32_t corr = rb_be32(f + 8);
	switch (f[3]) {
	case SN_PRODUCE:
		return fb_produce(f, len, out, cap);
	case SN_INIT_PRODUCER_ID:
		return sn_encode_init_pid_resp(out, cap, corr, 0, 1000, 0);
	case SN_METADATA: {
		uint16_t count;
		struct sn_metadata_builder b;
		if (sn_decode_metadata(f, len, &count))
			return -1;
		sn_metadata_resp_begin(&b, out, cap, fb.port, fb.port, 65507);
		struct sn_topic_info t = { .topic_id = 1, .partitions = NPART,
					   .retention_ms = -1, .retention_bytes = -1,
					   .segment_bytes = 1 << 30, .name = "t",
					   .name_len = 1 };
		size_t pos = SN_METADATA_REQ_BYTES;
		const char *name;
		uint16_t nl;
		if (!count)
			sn_metadata_resp_add(&b, &t);
		while (sn_metadata_req_next(f, len, &pos, &name, &nl) == 1) {
			if (nl == 1 && name[0] == 't') {
				sn_metadata_resp_add(&b, &t);
			} else {
				struct sn_topic_info u = { .error = SN_ERR_UNKNOWN_TOPIC_OR_PARTITION,
							   .name = name, .name_len = nl };
				sn_metadata_resp_add(&b, &u);
			}
		}
		return sn_metadata_resp_finish(&b, corr, 0);
	}
	case SN_LIST_OFFSETS: {
		struct sn_list_offsets lo;
		if (sn_decode_list_offsets(f, len, &lo) || lo.partition >= NPART)
			return sn_encode_error_resp(out, cap, SN_LIST_OFFSETS | SN_RESPONSE,
						    corr, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
		struct sn_list_offsets_resp r = { 1, lo.partition,
			lo.timestamp == -2 ? 0 : fb.end[lo.partition], lo.timestamp };
		return sn_encode_list_offsets_resp(out, cap, corr, 0, &r);
	}
	case SN_FETCH: {
		struct sn_fetch fr;
		if (sn_decode_fetch(f, len, &fr) || fr.partition >= NPART)
			return sn_encode_error_resp(out, cap, SN_FETCH | SN_RESPONSE,
						    corr, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
		int p = fr.partition;
		size_t n = SN_FETCH_RESP_BYTES;
		for (int i = 0; i < fb.nb[p]; i++) {
			struct fb_batch *b = &fb.log[p][i];
			if (rb_last_offset(b->bytes) < fr.offset)
				continue;
			if (n + b->len > cap ||
			    (n > SN_FETCH_RESP_BYTES && n + b->len - SN_FETCH_RESP_BYTES > fr.max_bytes))
				break;
			memcpy(out + n, b->bytes, b->len);
			n += b->len;
		}
		struct sn_fetch_resp r = { 1, p, fb.end[p], 0, fb.end[p], NULL,
					   (uint32_t)(n - SN_FETCH_RESP_BYTES) };
		sn_encode_fetch_resp_head(out, corr, 0, &r);
		return (long)n;
	}
	}
	return sn_encode_error_resp(out, cap, f[3] | SN_RESPONSE, corr,
				    SN_ERR_UNSUPPORTED_VERSION);
}

static void *fb_main(void *arg)
{
	static uint8_t in[8][1 << 20], out[1 << 21];
	static size_t inlen[8];
	int conns[8], nconn = 0;
	while (!fb.stop) {
		struct pollfd pfd[10];
		pfd[0] = (struct pollfd){ fb.tcp_fd, POLLIN, 0 };
		pfd[1] = (struct pollfd){ fb.udp_fd, POLLIN, 0 };
		for (int i = 0; i < nconn; i++)
			pfd[2 + i] = (struct pollfd){ conns[i], POLLIN, 0 };
		if (poll(pfd, (nfds_t)(2 + nconn), 50) <= 0)
			continue;
		if ((pfd[0].revents & POLLIN) && nconn < 8) {
			inlen[nconn] = 0;
			conns[nconn++] = accept(fb.tcp_fd, NULL, NULL);
		}
		if (pfd[1].revents & POLLIN) {
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			ssize_t r = recvfrom(fb.udp_fd, in[7], sizeof(in[7]), 0,
					     (struct sockaddr *)&from, &fl);
			if (r >= SN_HEADER_BYTES && in[7][3] == SN_PRODUCE &&
			    !fb.udp_dropped) {
				fb.udp_dropped = 1; /* lose the first datagram */
			} else if (r >= SN_HEADER_BYTES) {
				long n = fb_handle(in[7], (size_t)r, out, sizeof(out));
				if (n > 0)
					sendto(fb.udp_fd, out, (size_t)n, 0,
					       (struct sockaddr *)&from, fl);
			}
		}
		for (int i = 0; i < nconn; i++) {
			if (!(pfd[2 + i].revents & (POLLIN | POLLHUP)))
				continue;
			ssize_t r = read(conns[i], in[i] + inlen[i],
					 sizeof(in[i]) - inlen[i]);
			if (r <= 0) {
				close(conns[i]);
				conns[i] = conns[--nconn];
				inlen[i] = inlen[nconn];
				memcpy(in[i], in[nconn], inlen[i]);
				break;
			}
			inlen[i] += (size_t)r;
			size_t off = 0;
			for (;;) {
				struct sn_header h;
				long fl = sn_header_parse(in[i] + off, inlen[i] - off,
							  SN_TCP_MAX_FRAME, &h);
				if (fl <= 0 || (size_t)fl > inlen[i] - off)
					break;
				long n = fb_handle(in[i] + off, (size_t)fl, out, sizeof(out));
				if (n > 0 && write(conns[i], out, (size_t)n) != n)
					break;
				off += (size_t)fl;
			}
			memmove(in[i], in[i] + off, inlen[i] - off);
			inlen[i] -= off;
		}
	}
	for (int i = 0; i < nconn; i++)
		close(conns[i]);
	return NULL;
}

static int fb_start(void)
{
	memset(&fb, 0, sizeof(fb));
	for (int p = 0; p < NPART; p++)
		fb.next_seq[p] = -1;
	fb.tcp_fd = socket(AF_INET, SOCK_STREAM, 0);
	fb.udp_fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1;
	setsockopt(fb.tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fb.tcp_fd, (struct sockaddr *)&a, sizeof(a)) || listen(fb.tcp_fd, 8))
		return -1;
	socklen_t al = sizeof(a);
	getsockname(fb.tcp_fd, (struct sockaddr *)&a, &al);
	fb.port = ntohs(a.sin_port);
	if (bind(fb.udp_fd, (struct sockaddr *)&a, sizeof(a)))
		return -1; /* the same port number for UDP: retry elsewhere */
	return pthread_create(&fb.th, NULL, fb_main, NULL);
}

static void fb_stop(void)
{
	fb.stop = 1;
	pthread_join(fb.th, NULL);
	close(fb.tcp_fd);
	close(fb.udp_fd);
	for (int p = 0; p < NPART; p++)
		for (int i = 0; i < fb.nb[p]; i++)
			free(fb.log[p][i].bytes);
}

struct reports {
	int ok, failed;
	int64_t max_offset[NPART];
	int64_t count[NPART];
};

static void cb(void *opaque, int32_t partition, int64_t offset, int err,
	       void *arg)
{
	struct reports *r = arg;
	if (err) {
		r->failed++;
		return;
	}
	r->ok++;
	r->count[partition]++;
	if (offset > r->max_offset[partition])
		r->max_offset[partition] = offset;
}

/* Consume partition p from 0 and check values "m-<i>" increase. */
static int64_t consume_all(const char *addr, int32_t p, int64_t *last_i)
{
	struct sl_consumer *c;
	assert_int_equal(sl_consumer_create(addr, "t", p, NULL, &c), 0);
	struct sl_message m;
	int64_t n = 0, prev = -1;
	int rc;
	while ((rc = sl_consume(c, &m, 100)) == 1) {
		assert_int_equal(m.offset, n);
		char v[32] = { 0 };
		memcpy(v, m.value, m.vlen < 31 ? m.vlen : 31);
		int64_t i = atoll(v + 2);
		assert_true(i > prev);
		prev = i;
		n++;
	}
	assert_int_equal(rc, 0);
	sl_consumer_destroy(c);
	*last_i = prev;
	return n;
}

static void run(int transport, int total)
{
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", fb.port);
	struct reports rep = { 0 };
	struct sl_producer_opts o;
	sl_producer_opts_default(&o);
	o.transport = transport;
	o.batch_bytes = 1024; /* many batches: pipelining */
	o.request_timeout_ms = 200;
	o.cb = cb;
	o.cb_arg = &rep;
	struct sl_producer *p;
	assert_int_equal(sl_producer_create(addr, &o, &p), 0);
	assert_int_equal(sl_produce(p, "nope", -1, NULL, 0, "x", 1, NULL),
			 sl_err_broker(SN_ERR_UNKNOWN_TOPIC_OR_PARTITION));
	for (int i = 0; i < total; i++) {
		char v[32];
		int n = snprintf(v, sizeof(v), "m-%d", i);
		int part = sl_produce(p, "t", i % 3 == 0 ? -1 : i % NPART, NULL, 0, v,
				      (size_t)n, NULL);
		assert_true(part >= 0 && part < NPART);
	}
	assert_int_equal(sl_producer_flush(p, 10000), 0);
	struct sl_producer_stats st;
	sl_producer_stats(p, &st);
	sl_producer_destroy(p);
	assert_int_equal(rep.ok, total);
	assert_int_equal(rep.failed, 0);
	assert_int_equal(st.producer_id, 1000);
	if (transport == SL_UDP)
		assert_true(st.resends >= 1);
	int64_t sum = 0;
	for (int32_t part = 0; part < NPART; part++) {
		int64_t last;
		int64_t n = consume_all(addr, part, &last);
		assert_int_equal(n, fb.end[part]);
		assert_int_equal(rep.max_offset[part], fb.end[part] - 1);
		sum += n;
	}
	assert_int_equal(sum, total);
}

static void test_tcp(void **state)
{
	assert_int_equal(fb_start(), 0);
	run(SL_TCP, 5000);
	fb_stop();
}

static void test_udp_retransmit(void **state)
{
	int rc = fb_start();
	if (rc)
		skip();
	run(SL_UDP, 2000);
	assert_true(fb.udp_dropped);
	fb_stop();
}

/*
 * Where keyed messages must land among NPART = 3 partitions, as a Java
 * Kafka producer puts them: (Utils.murmur2(key) & 0x7fffffff) % 3 (with 3,
 * unlike 2, a hash taken unsigned or with abs() lands elsewhere for most
 * negative hashes).  Computed once, not by libsluice: with a separate
 * implementation of murmur2 written in Python from the definition in
 * Kafka's Utils.murmur2 (seed 0x9747b28c ^ length, m 0x5bd1e995, r 24,
 * little-endian 4-byte blocks, tail bytes & 0xff mixed in 2, 1, 0 order,
 * then h ^= h >>> 13, h *= m, h ^= h >>> 15), which first reproduced every
 * vector of Kafka's UtilsTest.testMurmur2.  The hash is in the comment for
 * whoever checks one by hand.  The keys cover every tail length (0 to 3
 * bytes after the blocks) and bytes >= 0x80 in blocks and tails (a signed
 * char would hash them differently).
 */
static const struct {
	const char *key;
	size_t len;
	int32_t part;
} key_vectors[] = {
	{ "", 0, 0 },                     /*   275646681 */
	{ "a", 1, 1 },                    /* -1563381124 */
	{ "ab", 2, 2 },                   /*   316155434 */
	{ "abc", 3, 0 },                  /*   479470107 */
	{ "abcd", 4, 2 },                 /* -1323649548 */
	{ "abcde", 5, 1 },                /*   461995741 */
	{ "foobar", 6, 0 },               /*  -790332482 */
	{ "21", 2, 0 },                   /*  -973932308 */
	{ "key-0", 5, 1 },                /*    29210041 */
	{ "key-1", 5, 0 },                /*   193331640 */
	{ "key-2", 5, 2 },                /*   852269702 */
	{ "key-3", 5, 2 },                /* -1839136101 */
	{ "key-4", 5, 0 },                /*   647367033 */
	{ "key-5", 5, 2 },                /* -1698326880 */
	{ "key-6", 5, 2 },                /*  -758453868 */
	{ "key-7", 5, 1 },                /*   713419675 */
	{ "\xff\xfe\x80", 3, 0 },         /*  -160726397 */
	{ "\x7f\x80", 2, 2 },             /*  -376099533 */
	{ "\xff\xff\xff\xff", 4, 2 },     /*   644171429 */
	{ "\x80\x81\x82\x83\x84", 5, 0 }, /* -1665622439 */
};
#define NKEYS (sizeof(key_vectors) / sizeof(key_vectors[0]))

static void test_key_partitioning(void **state)
{
	assert_int_equal(fb_start(), 0);
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", fb.port);
	struct sl_producer *p;
	assert_int_equal(sl_producer_create(addr, NULL, &p), 0);
	for (size_t i = 0; i < NKEYS; i++) {
		char v[16];
		int n = snprintf(v, sizeof(v), "k-%zu", i);
		int rc = sl_produce(p, "t", -1, key_vectors[i].key,
				    key_vectors[i].len, v, (size_t)n, NULL);
		assert_true(key_vectors[i].part < NPART);
		if (rc != key_vectors[i].part)
			fail_msg("key %zu (%zu bytes): partition %d, Kafka's is "
				 "%d", i, key_vectors[i].len, rc,
				 key_vectors[i].part);
	}
	assert_int_equal(sl_produce(p, "t", 5, "abc", 3, "v", 1, NULL),
			 sl_err_broker(SN_ERR_UNKNOWN_TOPIC_OR_PARTITION));
	assert_int_equal(sl_producer_flush(p, 5000), 0);
	sl_producer_destroy(p);
	/* each message is in its partition, with its key, exactly once */
	int found[NKEYS] = { 0 };
	for (int32_t part = 0; part < NPART; part++) {
		struct sl_consumer *c;
		assert_int_equal(sl_consumer_create(addr, "t", part, NULL, &c), 0);
		struct sl_message m;
		int rc;
		while ((rc = sl_consume(c, &m, 100)) == 1) {
			char v[16] = { 0 };
			memcpy(v, m.value, m.vlen < 15 ? m.vlen : 15);
			size_t i = (size_t)atoi(v + 2);
			assert_true(!strncmp(v, "k-", 2) && i < NKEYS);
			if (part != key_vectors[i].part)
				fail_msg("key %zu in partition %d, Kafka's is %d",
					 i, part, key_vectors[i].part);
			assert_int_equal(m.klen, key_vectors[i].len);
			assert_memory_equal(m.key, key_vectors[i].key,
					    key_vectors[i].len);
			found[i]++;
		}
		assert_int_equal(rc, 0);
		sl_consumer_destroy(c);
	}
	for (size_t i = 0; i < NKEYS; i++)
		assert_int_equal(found[i], 1);
	/* seek and position */
	struct sl_consumer *c;
	int32_t part = key_vectors[3].part; /* "abc" */
	assert_int_equal(sl_consumer_create(addr, "t", part, NULL, &c), 0);
	assert_int_equal(sl_consumer_seek(c, SL_OFFSET_END), 0);
	assert_int_equal(sl_consumer_position(c), fb.end[part]);
	struct sl_message m;
	assert_int_equal(sl_consume(c, &m, 0), 0);
	sl_consumer_destroy(c);
	fb_stop();
}

static void test_no_broker(void **state)
{
	struct sl_client *c;
	/* port 1 on loopback: nobody listens */
	assert_int_equal(sl_client_create("127.0.0.1:1", 1000, &c), -ECONNREFUSED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_udp_retransmit),
		cmocka_unit_test(test_key_partitioning),
		cmocka_unit_test(test_no_broker),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
