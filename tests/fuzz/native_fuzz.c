/*
 * libFuzzer target for the native frame parser (proto/native.c): what a
 * polling core does with every datagram and every TCP frame.
 *
 * Properties checked on every input:
 *   1. sn_header_parse never reads past avail, and a positive result is a
 *      length within [16, max_frame];
 *   2. every decoder, run on the input taken as a whole frame of each
 *      opcode, stays inside the frame (ASan) and, when it accepts, returns
 *      pointers and lengths inside it;
 *   3. metadata and LEADERS request and response walks terminate inside
 *      the frame; a LEADERS response that decodes is rebuilt by the
 *      builder to the same bytes;
 *   4. an accepted frame re-encoded from its decoded fields decodes to the
 *      same fields (round trip).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/native.h"
#include "proto/record_batch.h"

#define CHECK(c)                  \
	do {                      \
		if (!(c))         \
			abort();  \
	} while (0)

static void check_inside(const uint8_t *f, size_t len, const void *p, size_t n)
{
	const uint8_t *q = p;
	CHECK(q >= f && q + n <= f + len);
}

/* A LEADERS response: walked inside the frame, and rebuilt by the
 * builder to the same bytes when every field is one it writes. */
static void leaders_resp(const uint8_t *f, size_t len, uint8_t *out,
			 size_t cap)
{
	struct sn_leaders_resp r;
	if (sn_decode_leaders_resp(f, len, &r))
		return;
	struct sn_leaders_builder b;
	sn_leaders_resp_begin(&b, out, cap);
	size_t pos = 0;
	struct sn_leaders_broker br;
	unsigned nb = 0, nt = 0;
	int same = 1; /* reserved fields 0, as the builder writes them */
	while (sn_leaders_next_broker(&r, &pos, &br) == 1) {
		check_inside(f, len, br.host, br.host_len);
		same &= rb_be16((const uint8_t *)br.host - 2) == 0;
		CHECK(sn_leaders_resp_broker(&b, &br) == 0);
		nb++;
	}
	CHECK(nb == r.broker_count);
	static int32_t ld[SN_PARTITIONS_MAX], ep[SN_PARTITIONS_MAX];
	pos = 0;
	struct sn_leaders_topic t;
	while (sn_leaders_next_topic(&r, &pos, &t) == 1) {
		check_inside(f, len, t.name, t.name_len);
		check_inside(f, len, t.leaders, 8 * (size_t)t.partitions);
		for (int32_t i = 0; i < t.partitions; i++)
			sn_leaders_partition(&t, i, &ld[i], &ep[i]);
		/* the builder writes no partitions and id 0 for an error */
		same &= !t.error || (t.partitions == 0 && t.topic_id == 0);
		CHECK(sn_leaders_resp_topic(&b, &t, ld, ep) == 0);
		nt++;
	}
	CHECK(nt == r.topic_count);
	long n = sn_leaders_resp_finish(&b, rb_be32(f + 8),
					(int16_t)rb_be16(f + 12));
	CHECK(n > 0);
	if (same && rb_be16(f + 14) == 0)
		CHECK((size_t)n == len && !memcmp(out, f, len));
}

static void fuzz_frame(uint8_t *f, size_t len)
{
	uint8_t out[SN_TCP_MAX_FRAME < 70000 ? SN_TCP_MAX_FRAME : 70000];
	struct sn_produce p;
	if (sn_decode_produce(f, len, &p) == 0) {
		check_inside(f, len, p.batch, p.batch_len);
		long n = sn_encode_produce(out, sizeof(out), rb_be32(f + 8), &p);
		if (n > 0) {
			struct sn_produce q;
			CHECK(sn_decode_produce(out, (size_t)n, &q) == 0);
			CHECK(q.topic_id == p.topic_id && q.partition == p.partition &&
			      q.acks == p.acks && q.batch_len == p.batch_len &&
			      !memcmp(q.batch, p.batch, p.batch_len));
		}
		(void)rb_validate(p.batch, p.batch_len);
	}
	struct sn_fetch fe;
	if (sn_decode_fetch(f, len, &fe) == 0) {
		long n = sn_encode_fetch(out, sizeof(out), 1, &fe);
		struct sn_fetch g;
		CHECK(n == SN_FETCH_REQ_BYTES &&
		      sn_decode_fetch(out, (size_t)n, &g) == 0);
		CHECK(g.offset == fe.offset && g.max_bytes == fe.max_bytes &&
		      g.isolation == fe.isolation);
	}
	struct sn_fetch_resp fr;
	if (sn_decode_fetch_resp(f, len, &fr) == 0)
		check_inside(f, len, fr.records, fr.records_len);
	struct sn_list_offsets lo;
	(void)sn_decode_list_offsets(f, len, &lo);
	struct sn_list_offsets_resp lr;
	(void)sn_decode_list_offsets_resp(f, len, &lr);
	struct sn_produce_resp pr;
	(void)sn_decode_produce_resp(f, len, &pr);

	uint16_t count;
	if (sn_decode_metadata(f, len, &count) == 0) {
		size_t pos = SN_METADATA_REQ_BYTES;
		const char *name;
		uint16_t nlen;
		unsigned seen = 0;
		while (sn_metadata_req_next(f, len, &pos, &name, &nlen) == 1) {
			check_inside(f, len, name, nlen);
			seen++;
		}
		CHECK(seen == count);
	}
	struct sn_metadata_resp mr;
	if (sn_decode_metadata_resp(f, len, &mr) == 0) {
		size_t pos = 0;
		struct sn_topic_info t;
		unsigned bound = 0;
		while (sn_metadata_next(&mr, &pos, &t) == 1 && bound++ < 100000)
			check_inside(f, len, t.name, t.name_len);
	}
	if (sn_decode_leaders(f, len, &count) == 0) {
		size_t pos = SN_LEADERS_REQ_BYTES;
		const char *nm;
		uint16_t nl;
		unsigned seen = 0;
		while (sn_metadata_req_next(f, len, &pos, &nm, &nl) == 1) {
			check_inside(f, len, nm, nl);
			seen++;
		}
		CHECK(seen == count);
	}
	leaders_resp(f, len, out, sizeof(out));
	struct sn_create_topic ct;
	if (sn_decode_create_topic(f, len, &ct) == 0) {
		check_inside(f, len, ct.name, ct.name_len);
		CHECK(sn_topic_name_valid(ct.name, ct.name_len));
		long n = sn_encode_create_topic(out, sizeof(out), 7, &ct);
		struct sn_create_topic c2;
		CHECK(n > 0 && sn_decode_create_topic(out, (size_t)n, &c2) == 0);
		CHECK(c2.partitions == ct.partitions &&
		      c2.name_len == ct.name_len &&
		      !memcmp(c2.name, ct.name, ct.name_len));
	}
	const char *name;
	uint16_t nlen;
	if (sn_decode_delete_topic(f, len, &name, &nlen) == 0)
		check_inside(f, len, name, nlen);
	uint32_t id;
	(void)sn_decode_create_topic_resp(f, len, &id);
	int64_t pid;
	int16_t epoch;
	(void)sn_decode_init_pid_resp(f, len, &pid, &epoch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sn_header h;
	long n = sn_header_parse(data, size, SN_UDP_MAX_FRAME, &h);
	CHECK(n == 0 || n < 0 || (n >= SN_HEADER_BYTES && n <= SN_UDP_MAX_FRAME));
	if (size < SN_HEADER_BYTES || size > 70000)
		return 0;
	/* Take the input as a whole frame of its own opcode and of every
	 * other one: fix magic, version and length so the decoders get past
	 * the header checks and into the bodies. */
	uint8_t *f = malloc(size);
	CHECK(f != NULL);
	static const uint8_t ops[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
				       0x07, 0x08, 0x81, 0x82, 0x83, 0x84,
				       0x85, 0x86, 0x87, 0x88 };
	for (unsigned i = 0; i < sizeof(ops); i++) {
		memcpy(f, data, size);
		rb_put16(f, SN_MAGIC);
		f[2] = SN_VERSION;
		f[3] = ops[i];
		rb_put32(f + 4, (uint32_t)size);
		fuzz_frame(f, size);
	}
	/* and as it came */
	memcpy(f, data, size);
	fuzz_frame(f, size);
	free(f);
	return 0;
}
