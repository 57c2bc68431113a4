/*
 * Message formats v0 and v1 to and from RecordBatch v2 (msgset.h says
 * what each direction keeps).
 *
 * Up-conversion walks the set twice: once to check every message and size
 * the batch (key and value bytes plus a bound on each record's varints),
 * once to add the records with rb_builder.  A wrapper's inner set is
 * decompressed once per walk (compression.h bounds its size).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "proto/compression.h"
#include "proto/msgset.h"
#include "proto/record_batch.h"
#include "sluice/error.h"

#define MS_LOG_OVERHEAD 12   /* offset + size */
#define MS_V0_HEADER 14      /* crc, magic, attributes, key and value lengths */
#define MS_V1_HEADER 22      /* and the timestamp */
#define MS_RECORD_SLACK 32   /* a v2 record's varints and attributes, at most */
#define MS_INNER_MAX (64u << 20) /* a wrapper's set, decompressed */

int ms_magic(const uint8_t *p, size_t len)
{
	if (len < MS_LOG_OVERHEAD + 6)
		return -1;
	return p[MS_LOG_OVERHEAD + 4];
}

/* One message, parsed. */
struct ms_msg {
	int magic;
	int attributes;
	int64_t offset;
	int64_t timestamp;         /* -1 for magic 0 */
	const uint8_t *key;        /* NULL: null */
	int32_t klen;
	const uint8_t *value;      /* NULL: null */
	int32_t vlen;
	size_t size;               /* bytes of the whole entry */
};

/* Parse the entry at p (len bytes there).  Returns 0 or SL_E*. */
static int parse_one(const uint8_t *p, size_t len, struct ms_msg *m)
{
	if (len < MS_LOG_OVERHEAD)
		return SL_ELENGTH;
	int32_t size = (int32_t)rb_be32(p + 8);
	if (size < MS_V0_HEADER || (size_t)size > len - MS_LOG_OVERHEAD)
		return SL_ELENGTH;
	const uint8_t *q = p + MS_LOG_OVERHEAD, *end = q + size;
	m->offset = (int64_t)rb_be64(p);
	m->size = MS_LOG_OVERHEAD + (size_t)size;
	m->magic = q[4];
	if (m->magic > 1)
		return SL_EMAGIC;
	if ((size_t)size < (m->magic ? MS_V1_HEADER : MS_V0_HEADER))
		return SL_ELENGTH;
	uint32_t crc = (uint32_t)crc32(0, q + 4, (uInt)(size - 4));
	if (crc != rb_be32(q))
		return SL_ECRC;
	m->attributes = q[5];
	q += 6;
	m->timestamp = -1;
	if (m->magic == 1) {
		m->timestamp = (int64_t)rb_be64(q);
		q += 8;
	}
	m->klen = (int32_t)rb_be32(q);
	q += 4;
	if (m->klen < -1 || (m->klen > 0 && m->klen > end - q - 4))
		return SL_ELENGTH;
	m->key = m->klen >= 0 ? q : NULL;
	q += m->klen > 0 ? m->klen : 0;
	m->vlen = (int32_t)rb_be32(q);
	q += 4;
	if (m->vlen < -1 || (m->vlen > 0 && m->vlen > end - q))
		return SL_ELENGTH;
	m->value = m->vlen >= 0 ? q : NULL;
	q += m->vlen > 0 ? m->vlen : 0;
	if (q != end)
		return SL_ELENGTH; /* bytes after the value */
	return 0;
}

/* ---- up-conversion ---- */

struct up {
	size_t records;   /* count */
	size_t bytes;     /* a bound on the records' encoded size */
	int codec;        /* the last wrapper's */
	int64_t first_ts; /* the first record's timestamp */
	struct rb_builder *b; /* second walk: add to it */
};

static int up_record(struct up *u, const struct ms_msg *m)
{
	if (u->records == 0)
		u->first_ts = m->timestamp;
	if (++u->records > RB_RECORDS_MAX)
		return SL_ERECORDS;
	u->bytes += (size_t)(m->klen > 0 ? m->klen : 0) +
		    (size_t)(m->vlen > 0 ? m->vlen : 0) + MS_RECORD_SLACK;
	if (u->b && rb_builder_add(u->b, m->key, m->klen, m->value, m->vlen,
				   m->timestamp) < 0)
		return -ENOBUFS; /* the first walk's bound was wrong */
	return 0;
}

static int up_walk(struct up *u, const uint8_t *p, size_t len, bool inner)
{
	if (len == 0 && !inner)
		return SL_ELENGTH;
	while (len > 0) {
		struct ms_msg m;
		int rc = parse_one(p, len, &m);
		if (rc < 0)
			return rc;
		int codec = m.attributes & RB_ATTR_COMPRESSION_MASK;
		if (codec == 0) {
			rc = up_record(u, &m);
		} else if (inner || codec > RB_CODEC_MAX || !m.value) {
			rc = SL_EATTRIBUTES;
		} else {
			uint8_t *set;
			size_t n;
			rc = sl_decompress(codec, m.value, (size_t)m.vlen,
					   MS_INNER_MAX, &set, &n);
			if (rc == -ENOMEM)
				return rc;
			if (rc < 0)
				return SL_ERECORDS;
			u->codec = codec; /* the last wrapper's, as Kafka */
			rc = up_walk(u, set, n, true);
			free(set);
		}
		if (rc < 0)
			return rc;
		p += m.size;
		len -= m.size;
	}
	return 0;
}

/* Compress the records of the uncompressed batch b (len bytes) with
 * codec: a new batch with the same header. */
static int compress_batch(uint8_t *b, size_t len, int codec, uint8_t **out,
			  size_t *out_len)
{
	uint8_t *c;
	size_t clen;
	int rc = sl_compress(codec, b + RB_HEADER_BYTES, len - RB_HEADER_BYTES,
			     &c, &clen);
	if (rc < 0)
		return rc == -ENOMEM ? rc : SL_ERECORDS;
	uint8_t *nb = malloc(RB_HEADER_BYTES + clen);
	if (!nb) {
		free(c);
		return -ENOMEM;
	}
	memcpy(nb, b, RB_HEADER_BYTES);
	memcpy(nb + RB_HEADER_BYTES, c, clen);
	free(c);
	size_t total = RB_HEADER_BYTES + clen;
	rb_put32(nb + RB_OFF_LENGTH, (uint32_t)(total - RB_LOG_OVERHEAD));
	rb_put16(nb + RB_OFF_ATTRIBUTES,
		 (uint16_t)((rb_be16(nb + RB_OFF_ATTRIBUTES) &
			     ~RB_ATTR_COMPRESSION_MASK) | codec));
	rb_put32(nb + RB_OFF_CRC,
		 rb_crc32c(nb + RB_CRC_START, total - RB_CRC_START));
	*out = nb;
	*out_len = total;
	return 0;
}

int ms_upconvert(const uint8_t *set, size_t len, uint8_t **out,
		 size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	struct up u = { 0 };
	int rc = up_walk(&u, set, len, false);
	if (rc < 0)
		return rc;
	size_t cap = RB_HEADER_BYTES + u.bytes;
	uint8_t *b = malloc(cap);
	if (!b)
		return -ENOMEM;
	struct rb_builder builder;
	rb_builder_init(&builder, b, cap, u.first_ts);
	int codec = u.codec;
	u = (struct up){ .b = &builder };
	rc = up_walk(&u, set, len, false);
	long n = rc < 0 ? rc : rb_builder_finish(&builder);
	if (n < 0) {
		free(b);
		return n == -ENOMEM ? -ENOMEM : SL_ERECORDS;
	}
	if (codec == 0) {
		*out = b;
		*out_len = (size_t)n;
		return 0;
	}
	rc = compress_batch(b, (size_t)n, codec, out, out_len);
	free(b);
	return rc;
}

/* ---- down-conversion ---- */

struct down {
	uint8_t *p;
	size_t len, cap, max;
	int magic;
	bool full;
};

static int put_message(struct down *d, int64_t offset, int64_t ts,
		       bool log_append_time, const struct rb_record *r)
{
	size_t klen = r->key && r->klen > 0 ? (size_t)r->klen : 0;
	size_t vlen = r->value && r->vlen > 0 ? (size_t)r->vlen : 0;
	size_t body = (d->magic ? MS_V1_HEADER : MS_V0_HEADER) + klen + vlen;
	size_t need = MS_LOG_OVERHEAD + body;
	if (d->len > 0 && d->len + need > d->max) {
		d->full = true;
		return 0;
	}
	if (body > INT32_MAX)
		return SL_ECORRUPT;
	if (d->len + need > d->cap) {
		size_t ncap = d->cap ? d->cap : 4096;
		while (ncap < d->len + need)
			ncap *= 2;
		uint8_t *np = realloc(d->p, ncap);
		if (!np)
			return -ENOMEM;
		d->p = np;
		d->cap = ncap;
	}
	uint8_t *e = d->p + d->len, *q = e + MS_LOG_OVERHEAD;
	rb_put64(e, (uint64_t)offset);
	rb_put32(e + 8, (uint32_t)body);
	q[4] = (uint8_t)d->magic;
	q[5] = d->magic && log_append_time ? RB_ATTR_LOG_APPEND_TIME : 0;
	uint8_t *w = q + 6;
	if (d->magic) {
		rb_put64(w, (uint64_t)ts);
		w += 8;
	}
	rb_put32(w, r->key ? (uint32_t)klen : (uint32_t)-1);
	w += 4;
	if (klen)
		memcpy(w, r->key, klen);
	w += klen;
	rb_put32(w, r->value ? (uint32_t)vlen : (uint32_t)-1);
	w += 4;
	if (vlen)
		memcpy(w, r->value, vlen);
	rb_put32(q, (uint32_t)crc32(0, q + 4, (uInt)(body - 4)));
	d->len += need;
	return 0;
}

static int down_batch(struct down *d, const uint8_t *b, size_t bl,
		      int64_t from)
{
	uint16_t attr = rb_be16(b + RB_OFF_ATTRIBUTES);
	if (attr & RB_ATTR_CONTROL)
		return 0; /* transaction markers: nothing an old client reads */
	if (rb_last_offset(b) < from)
		return 0;
	bool lat = attr & RB_ATTR_LOG_APPEND_TIME;
	int64_t max_ts = (int64_t)rb_be64(b + RB_OFF_MAX_TIMESTAMP);
	struct rb_iter it;
	uint8_t *records = NULL;
	int rc = rb_iter_init(&it, b, bl);
	if (rc == -ENOTSUP) {
		size_t n;
		rc = sl_decompress(attr & RB_ATTR_COMPRESSION_MASK,
				   b + RB_HEADER_BYTES, bl - RB_HEADER_BYTES,
				   MS_INNER_MAX, &records, &n);
		if (rc == -ENOMEM)
			return rc;
		if (rc < 0)
			return SL_ECORRUPT;
		rb_iter_init_records(&it, b, records, n);
	} else if (rc < 0) {
		return SL_ECORRUPT;
	}
	struct rb_record r;
	while (!d->full && (rc = rb_iter_next(&it, &r)) == 1) {
		if (r.offset < from)
			continue;
		rc = put_message(d, r.offset, lat ? max_ts : r.timestamp, lat,
				 &r);
		if (rc < 0)
			break;
	}
	free(records);
	return rc < 0 ? (rc == -ENOMEM ? rc : SL_ECORRUPT) : 0;
}

int ms_downconvert(const uint8_t *batches, size_t len, int magic,
		   int64_t from_offset, size_t max_bytes, uint8_t **out,
		   size_t *out_len)
{
	struct down d = { .max = max_bytes, .magic = magic ? 1 : 0 };
	size_t pos = 0;
	int rc = 0;
	while (pos < len && !d.full) {
		long bl = rb_frame_size(batches + pos, len - pos, len - pos);
		if (bl < RB_HEADER_BYTES || (size_t)bl > len - pos) {
			rc = SL_ECORRUPT;
			break;
		}
		rc = down_batch(&d, batches + pos, (size_t)bl, from_offset);
		if (rc < 0)
			break;
		pos += (size_t)bl;
	}
	if (rc < 0) {
		free(d.p);
		*out = NULL;
		*out_len = 0;
		return rc;
	}
	if (!d.p && !(d.p = malloc(1)))
		return -ENOMEM;
	*out = d.p;
	*out_len = d.len;
	return 0;
}
