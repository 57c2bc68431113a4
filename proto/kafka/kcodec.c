/*
 * The generic Kafka codec: walks a schema (kcodec.h; the tables are
 * generated into gen/kmsg.c by tools/kafka_codegen.py).
 *
 * Wire types, big-endian (Kafka's "protocol primitive types"):
 *   int8/16/32/64   two's complement, 1/2/4/8 bytes; bool: 1 byte, != 0 true
 *   uint16/32       2/4 bytes; float64: IEEE 754 double, 8 bytes
 *   uuid            16 bytes
 *   string          int16 length N then N bytes; nullable: N = -1 is null
 *   bytes           int32 length N then N bytes; nullable: N = -1 is null
 *   array           int32 count N then N elements; nullable: N = -1 is null
 *   records         bytes (the record batches stay one opaque range)
 *   struct          its fields in order (an embedded struct); nullable: an
 *                   int8 before it, -1 null (nothing follows), 1 present
 * In flexible versions:
 *   compact string/bytes/array   uvarint N+1 then N bytes/elements; 0 is null
 *   every struct (message body, each array element) ends with tagged fields:
 *     uvarint count, then count x (uvarint tag, uvarint size, size bytes),
 *     tags strictly increasing; a field "tagged" in a version travels only
 *     there, as its value in the flexible encoding (a nullable struct: a
 *     uvarint 0 null / 1 present before it), and only when it differs from
 *     its default; a known tag is decoded into its field, which must fill
 *     exactly size bytes, an unknown one skipped
 *   uvarint: 7 bits per byte, low group first, high bit = more; <= 5 bytes
 *     (a 32-bit value), the fifth carrying at most 4 bits.
 *
 * Request header v1: int16 api_key, int16 api_version, int32 correlation_id,
 *   string client_id (nullable, int16 length even in flexible versions);
 *   v2 (flexible request versions) adds a tagged-field section.
 * Response header v0: int32 correlation_id; v1 (flexible) adds tagged fields,
 *   except for ApiVersions, whose response header is always v0 (KIP-511).
 *
 * A message is valid if and only if every length and count fits in the bytes
 * left (a count also in the minimum wire size of its elements), negative or
 * zero-compact lengths appear only in versions where the field is nullable,
 * every varint is at most 5 bytes, tags increase, and (whole messages) the
 * body ends exactly at the end of the buffer.  Anything else is answered with
 * INVALID_REQUEST; nothing here asserts on input.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "proto/kafka/kcodec.h"
#include "proto/record_batch.h"

#define ERR_INVALID (-SN_ERR_INVALID_REQUEST)
#define ERR_VERSION (-SN_ERR_UNSUPPORTED_VERSION)
#define KC_STRING_MAX INT16_MAX

struct rd {
	const uint8_t *p;
	size_t left;
	int16_t version;
	bool flexible;
	struct kc_arena *arena;
};

/* A writer.  A measuring one (p NULL, left SIZE_MAX) only counts: that is
 * how a tagged field's size is known before it is written. */
struct wr {
	uint8_t *p;
	size_t left;
	int16_t version;
	bool flexible;
	const uint8_t *base;   /* start of the output (holes are offsets) */
	struct kc_holes *holes; /* NULL: external bytes are refused */
	bool measure;
};

const uint8_t kc_bytes_external[1];

static bool present(const struct kc_field *f, int16_t v)
{
	return v >= f->min_version && v <= f->max_version;
}

static bool nullable(const struct kc_field *f, int16_t v)
{
	return f->nullable_min != KC_VERSION_ANY && v >= f->nullable_min;
}

/* In version v the field travels in the tagged-field section (if at all),
 * not in its place. */
static bool tagged(const struct kc_field *f, int16_t v)
{
	return f->tagged_min != KC_VERSION_ANY && v >= f->tagged_min;
}

/* A struct field with a has_<member> flag (nullable in some version). */
static bool has_flag(const struct kc_field *f)
{
	return f->type == KC_STRUCT && f->nullable_min != KC_VERSION_ANY;
}

/* ---- defaults ---- */

static void set_default(const struct kc_field *f, uint8_t *base)
{
	uint8_t *dst = base + f->offset;
	switch (f->type) {
	case KC_INT8: *(int8_t *)dst = (int8_t)f->dflt; break;
	case KC_BOOL: *(bool *)dst = f->dflt != 0; break;
	case KC_INT16: *(int16_t *)dst = (int16_t)f->dflt; break;
	case KC_UINT16: *(uint16_t *)dst = (uint16_t)f->dflt; break;
	case KC_INT32: *(int32_t *)dst = (int32_t)f->dflt; break;
	case KC_UINT32: *(uint32_t *)dst = (uint32_t)f->dflt; break;
	case KC_INT64: *(int64_t *)dst = f->dflt; break;
	case KC_FLOAT64: memcpy(dst, &f->dflt, sizeof(double)); break;
	case KC_UUID: memset(dst, 0, sizeof(struct kc_uuid)); break;
	case KC_STRING: {
		struct kc_str *v = (struct kc_str *)dst;
		v->ptr = f->dflt_str;
		v->len = f->dflt == -1 ? -1
			 : f->dflt_str ? (int32_t)strlen(f->dflt_str) : 0;
		break;
	}
	case KC_BYTES:
		((struct kc_bytes *)dst)->ptr = NULL;
		((struct kc_bytes *)dst)->len = f->dflt == -1 ? -1 : 0;
		break;
	case KC_ARRAY:
		((struct kc_array *)dst)->items = NULL;
		((struct kc_array *)dst)->count = f->dflt == -1 ? -1 : 0;
		break;
	case KC_STRUCT:
		kc_defaults(f->nested, dst);
		if (has_flag(f))
			*(bool *)(base + f->present_offset) = f->dflt != -1;
		break;
	}
}

void kc_defaults(const struct kc_schema *s, void *out)
{
	assert(s && out);
	for (uint16_t i = 0; i < s->nfields; i++) {
		assert(s->fields[i].offset < s->size);
		set_default(&s->fields[i], out);
	}
}

/* The field's value is not its default (what decides whether a tagged
 * field is sent, as Kafka's generated writers do). */
static bool differs(const struct kc_field *f, const uint8_t *base)
{
	const uint8_t *src = base + f->offset;
	switch (f->type) {
	case KC_INT8: return *(const int8_t *)src != (int8_t)f->dflt;
	case KC_BOOL: return *(const bool *)src != (f->dflt != 0);
	case KC_INT16: return *(const int16_t *)src != (int16_t)f->dflt;
	case KC_UINT16: return *(const uint16_t *)src != (uint16_t)f->dflt;
	case KC_INT32: return *(const int32_t *)src != (int32_t)f->dflt;
	case KC_UINT32: return *(const uint32_t *)src != (uint32_t)f->dflt;
	case KC_INT64: return *(const int64_t *)src != f->dflt;
	case KC_FLOAT64: return memcmp(src, &f->dflt, sizeof(double)) != 0;
	case KC_UUID: {
		static const struct kc_uuid zero;
		return memcmp(src, &zero, sizeof(zero)) != 0;
	}
	case KC_STRING: {
		const struct kc_str *v = (const struct kc_str *)src;
		if (v->len < 0 || f->dflt == -1)
			return (v->len < 0) != (f->dflt == -1);
		size_t n = f->dflt_str ? strlen(f->dflt_str) : 0;
		return (size_t)v->len != n ||
		       (n && memcmp(v->ptr, f->dflt_str, n) != 0);
	}
	case KC_BYTES: {
		int32_t n = ((const struct kc_bytes *)src)->len;
		return f->dflt == -1 ? n != -1 : n != 0;
	}
	case KC_ARRAY: {
		int32_t n = ((const struct kc_array *)src)->count;
		return f->dflt == -1 ? n != -1 : n != 0;
	}
	case KC_STRUCT:
		if (has_flag(f) && !*(const bool *)(base + f->present_offset))
			return f->dflt != -1;
		if (f->dflt == -1)
			return true; /* present where the default is null */
		for (uint16_t i = 0; i < f->nested->nfields; i++)
			if (differs(&f->nested->fields[i], src))
				return true;
		return false;
	}
	return true;
}

/* ---- reading ---- */

static int rd_uvarint(struct rd *r, uint32_t *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 5; i++) {
		if (r->left == 0)
			return ERR_INVALID;
		uint8_t b = *r->p++;
		r->left--;
		if (i == 4 && (b & 0xf0))
			return ERR_INVALID; /* more than 32 bits */
		v |= (uint32_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return ERR_INVALID;
}

static int rd_need(const struct rd *r, size_t n)
{
	return r->left >= n ? 0 : ERR_INVALID;
}

static void rd_skip(struct rd *r, size_t n)
{
	assert(n <= r->left);
	r->p += n;
	r->left -= n;
}

/* A length (string, bytes) or count (array) prefix: -1 for null. */
static int rd_length(struct rd *r, const struct kc_field *f, int width,
		     int64_t *out)
{
	int64_t n;
	if (r->flexible) {
		uint32_t u;
		int rc = rd_uvarint(r, &u);
		if (rc < 0)
			return rc;
		n = (int64_t)u - 1;
	} else if (width == 2) {
		if (rd_need(r, 2) < 0)
			return ERR_INVALID;
		n = (int16_t)rb_be16(r->p);
		rd_skip(r, 2);
	} else {
		if (rd_need(r, 4) < 0)
			return ERR_INVALID;
		n = (int32_t)rb_be32(r->p);
		rd_skip(r, 4);
	}
	if (n < -1 || (n == -1 && !nullable(f, r->version)))
		return ERR_INVALID;
	*out = n;
	return 0;
}

/* The fewest bytes one struct of s takes at this version. */
static size_t wire_min(const struct kc_schema *s, int16_t v, bool flex)
{
	size_t n = flex && !s->plain ? 1 : 0;
	for (uint16_t i = 0; i < s->nfields; i++) {
		const struct kc_field *f = &s->fields[i];
		if (!present(f, v) || tagged(f, v))
			continue;
		switch (f->type) {
		case KC_INT8:
		case KC_BOOL: n += 1; break;
		case KC_INT16:
		case KC_UINT16: n += 2; break;
		case KC_INT32:
		case KC_UINT32: n += 4; break;
		case KC_INT64:
		case KC_FLOAT64: n += 8; break;
		case KC_UUID: n += 16; break;
		case KC_STRING: n += flex ? 1 : 2; break;
		case KC_BYTES:
		case KC_ARRAY: n += flex ? 1 : 4; break;
		case KC_STRUCT:
			n += nullable(f, v) ? 1 : wire_min(f->nested, v, flex);
			break;
		}
	}
	return n;
}

/* Bounds array counts so that a 5-byte prefix cannot claim 2^31 elements. */
static size_t min_wire_bytes(const struct kc_schema *s, int16_t v, bool flex)
{
	size_t n = wire_min(s, v, flex);
	return n ? n : 1;
}

static void *arena_take(struct kc_arena *a, size_t bytes)
{
	size_t at = (a->used + 7) & ~(size_t)7;
	if (at < a->used || at > a->cap || bytes > a->cap - at)
		return NULL;
	a->used = at + bytes;
	return a->base + at;
}

static int rd_struct(struct rd *r, const struct kc_schema *s, uint8_t *out);

/* Field f of the struct at base; as_tag: read from a tagged-field value. */
static int rd_field(struct rd *r, const struct kc_field *f, uint8_t *base,
		    bool as_tag)
{
	uint8_t *dst = base + f->offset;
	int64_t n;
	int rc;
	switch (f->type) {
	case KC_INT8:
		if (rd_need(r, 1) < 0)
			return ERR_INVALID;
		*(int8_t *)dst = (int8_t)r->p[0];
		rd_skip(r, 1);
		return 0;
	case KC_BOOL:
		if (rd_need(r, 1) < 0)
			return ERR_INVALID;
		*(bool *)dst = r->p[0] != 0;
		rd_skip(r, 1);
		return 0;
	case KC_INT16:
	case KC_UINT16:
		if (rd_need(r, 2) < 0)
			return ERR_INVALID;
		*(uint16_t *)dst = rb_be16(r->p);
		rd_skip(r, 2);
		return 0;
	case KC_INT32:
	case KC_UINT32:
		if (rd_need(r, 4) < 0)
			return ERR_INVALID;
		*(uint32_t *)dst = rb_be32(r->p);
		rd_skip(r, 4);
		return 0;
	case KC_INT64:
	case KC_FLOAT64: {
		if (rd_need(r, 8) < 0)
			return ERR_INVALID;
		uint64_t bits = rb_be64(r->p);
		memcpy(dst, &bits, 8); /* int64_t or the double's bits */
		rd_skip(r, 8);
		return 0;
	}
	case KC_UUID:
		if (rd_need(r, 16) < 0)
			return ERR_INVALID;
		memcpy(dst, r->p, 16);
		rd_skip(r, 16);
		return 0;
	case KC_STRING: {
		struct kc_str *v = (struct kc_str *)dst;
		if ((rc = rd_length(r, f, 2, &n)) < 0)
			return rc;
		if (n > KC_STRING_MAX || (n > 0 && (size_t)n > r->left))
			return ERR_INVALID;
		v->ptr = n >= 0 ? (const char *)r->p : NULL;
		v->len = (int32_t)n;
		if (n > 0)
			rd_skip(r, (size_t)n);
		return 0;
	}
	case KC_BYTES: {
		struct kc_bytes *v = (struct kc_bytes *)dst;
		if ((rc = rd_length(r, f, 4, &n)) < 0)
			return rc;
		if (n > 0 && (size_t)n > r->left)
			return ERR_INVALID;
		v->ptr = n >= 0 ? r->p : NULL;
		v->len = (int32_t)n;
		if (n > 0)
			rd_skip(r, (size_t)n);
		return 0;
	}
	case KC_ARRAY: {
		struct kc_array *v = (struct kc_array *)dst;
		const struct kc_schema *e = f->nested;
		if ((rc = rd_length(r, f, 4, &n)) < 0)
			return rc;
		v->items = NULL;
		v->count = (int32_t)n;
		if (n <= 0)
			return 0;
		if ((size_t)n > r->left / min_wire_bytes(e, r->version, r->flexible))
			return ERR_INVALID;
		/* n <= left, so n * size cannot overflow */
		uint8_t *items = arena_take(r->arena, (size_t)n * e->size);
		if (!items)
			return -ENOBUFS;
		v->items = items;
		for (int64_t i = 0; i < n; i++)
			if ((rc = rd_struct(r, e, items + (size_t)i * e->size)) < 0)
				return rc;
		return 0;
	}
	case KC_STRUCT: {
		bool is_null = false;
		if (nullable(f, r->version)) {
			if (as_tag) {
				uint32_t u;
				if ((rc = rd_uvarint(r, &u)) < 0)
					return rc;
				is_null = u == 0;
			} else {
				if (rd_need(r, 1) < 0)
					return ERR_INVALID;
				is_null = (int8_t)r->p[0] < 0;
				rd_skip(r, 1);
			}
		}
		if (has_flag(f))
			*(bool *)(base + f->present_offset) = !is_null;
		if (is_null) {
			kc_defaults(f->nested, dst);
			return 0;
		}
		return rd_struct(r, f->nested, dst);
	}
	}
	return ERR_INVALID; /* a schema bug, not reachable from input */
}

/* The field of s that travels as tag in version v, or NULL. */
static const struct kc_field *tagged_field(const struct kc_schema *s,
					   int16_t v, uint32_t tag)
{
	for (uint16_t i = 0; s && i < s->nfields; i++) {
		const struct kc_field *f = &s->fields[i];
		if (f->tag == tag && present(f, v) && tagged(f, v))
			return f;
	}
	return NULL;
}

/* A tagged-field section: the fields of s (NULL: none, as in headers) that
 * it names are decoded into out, the others skipped (optional by
 * definition). */
static int rd_tags(struct rd *r, const struct kc_schema *s, uint8_t *out)
{
	uint32_t count, tag, size;
	int64_t prev = -1;
	int rc = rd_uvarint(r, &count);
	if (rc < 0)
		return rc;
	if (count > r->left / 2) /* a tag is at least 2 bytes */
		return ERR_INVALID;
	for (uint32_t i = 0; i < count; i++) {
		if ((rc = rd_uvarint(r, &tag)) < 0 ||
		    (rc = rd_uvarint(r, &size)) < 0)
			return rc;
		if ((int64_t)tag <= prev || size > r->left)
			return ERR_INVALID;
		prev = tag;
		const struct kc_field *f = tagged_field(s, r->version, tag);
		if (f) {
			struct rd v = *r;
			v.left = size;
			if ((rc = rd_field(&v, f, out, true)) < 0)
				return rc;
			if (v.left != 0)
				return ERR_INVALID; /* the value is not size bytes */
		}
		rd_skip(r, size);
	}
	return 0;
}

static int rd_struct(struct rd *r, const struct kc_schema *s, uint8_t *out)
{
	int rc;
	for (uint16_t i = 0; i < s->nfields; i++) {
		const struct kc_field *f = &s->fields[i];
		assert(f->offset < s->size);
		if (!present(f, r->version) || tagged(f, r->version))
			set_default(f, out); /* a tag below may fill it */
		else if ((rc = rd_field(r, f, out, false)) < 0)
			return rc;
	}
	return r->flexible && !s->plain ? rd_tags(r, s, out) : 0;
}

long kc_decode(const struct kc_schema *s, int16_t version, bool flexible,
	       const uint8_t *buf, size_t len, void *out, struct kc_arena *a)
{
	assert(s && out && a && (buf || len == 0));
	struct rd r = {buf, len, version, flexible, a};
	int rc = rd_struct(&r, s, out);
	if (rc < 0)
		return rc;
	assert(r.left <= len);
	return (long)(len - r.left);
}

/* ---- writing ---- */

static int wr_need(const struct wr *w, size_t n)
{
	return w->left >= n ? 0 : -ENOBUFS;
}

static void wr_bytes(struct wr *w, const void *p, size_t n)
{
	assert(n <= w->left);
	if (!w->measure) {
		if (n)
			memcpy(w->p, p, n);
		w->p += n;
	}
	w->left -= n;
}

static int wr_uvarint(struct wr *w, uint32_t v)
{
	uint8_t b[5];
	size_t n = 0;
	do {
		b[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	if (wr_need(w, n) < 0)
		return -ENOBUFS;
	wr_bytes(w, b, n);
	return 0;
}

static int wr_int(struct wr *w, uint64_t v, size_t width)
{
	uint8_t b[8];
	if (wr_need(w, width) < 0)
		return -ENOBUFS;
	for (size_t i = 0; i < width; i++)
		b[i] = (uint8_t)(v >> (8 * (width - 1 - i)));
	wr_bytes(w, b, width);
	return 0;
}

static int wr_length(struct wr *w, const struct kc_field *f, int width,
		     int64_t n)
{
	if (n < -1 || (n == -1 && !nullable(f, w->version)))
		return -EINVAL;
	if (w->flexible)
		return wr_uvarint(w, (uint32_t)(n + 1));
	return wr_int(w, (uint64_t)n, (size_t)width);
}

static int wr_struct(struct wr *w, const struct kc_schema *s, const uint8_t *in);

/* Field f of the struct at base; as_tag: as a tagged-field value. */
static int wr_field(struct wr *w, const struct kc_field *f,
		    const uint8_t *base, bool as_tag)
{
	const uint8_t *src = base + f->offset;
	int rc;
	switch (f->type) {
	case KC_INT8: return wr_int(w, (uint8_t) * (const int8_t *)src, 1);
	case KC_BOOL: return wr_int(w, *(const bool *)src ? 1 : 0, 1);
	case KC_INT16: return wr_int(w, (uint16_t) * (const int16_t *)src, 2);
	case KC_UINT16: return wr_int(w, *(const uint16_t *)src, 2);
	case KC_INT32: return wr_int(w, (uint32_t) * (const int32_t *)src, 4);
	case KC_UINT32: return wr_int(w, *(const uint32_t *)src, 4);
	case KC_INT64:
	case KC_FLOAT64: {
		uint64_t bits;
		memcpy(&bits, src, 8); /* int64_t or the double's bits */
		return wr_int(w, bits, 8);
	}
	case KC_UUID:
		if (wr_need(w, 16) < 0)
			return -ENOBUFS;
		wr_bytes(w, src, 16);
		return 0;
	case KC_STRING: {
		const struct kc_str *v = (const struct kc_str *)src;
		if (v->len > KC_STRING_MAX)
			return -EINVAL;
		if ((rc = wr_length(w, f, 2, v->len)) < 0)
			return rc;
		if (v->len <= 0)
			return 0;
		if (wr_need(w, (size_t)v->len) < 0)
			return -ENOBUFS;
		wr_bytes(w, v->ptr, (size_t)v->len);
		return 0;
	}
	case KC_BYTES: {
		const struct kc_bytes *v = (const struct kc_bytes *)src;
		if ((rc = wr_length(w, f, 4, v->len)) < 0)
			return rc;
		if (v->len <= 0)
			return 0;
		if (v->ptr == KC_BYTES_EXTERNAL && !w->measure) {
			/* the caller sends the content itself, here */
			struct kc_holes *h = w->holes;
			if (!h || h->n == h->cap)
				return -EINVAL;
			h->at[h->n] = (size_t)(w->p - w->base);
			h->len[h->n] = (size_t)v->len;
			h->n++;
			return 0;
		}
		if (wr_need(w, (size_t)v->len) < 0)
			return -ENOBUFS;
		if (v->ptr == KC_BYTES_EXTERNAL) /* measuring: counted only */
			w->left -= (size_t)v->len;
		else
			wr_bytes(w, v->ptr, (size_t)v->len);
		return 0;
	}
	case KC_ARRAY: {
		const struct kc_array *v = (const struct kc_array *)src;
		const struct kc_schema *e = f->nested;
		if ((rc = wr_length(w, f, 4, v->count)) < 0)
			return rc;
		if (v->count > 0 && !v->items)
			return -EINVAL;
		for (int32_t i = 0; i < v->count; i++) {
			const uint8_t *it = (const uint8_t *)v->items +
					    (size_t)i * e->size;
			if ((rc = wr_struct(w, e, it)) < 0)
				return rc;
		}
		return 0;
	}
	case KC_STRUCT:
		if (nullable(f, w->version)) {
			bool has = !has_flag(f) ||
				   *(const bool *)(base + f->present_offset);
			rc = as_tag ? wr_uvarint(w, has ? 1 : 0)
				    : wr_int(w, has ? 1 : 0xff, 1);
			if (rc < 0 || !has)
				return rc;
		}
		return wr_struct(w, f->nested, src);
	}
	return -EINVAL;
}

/* The tagged-field section of the struct at in: the fields tagged in this
 * version whose values differ from their defaults, by increasing tag. */
static int wr_tags(struct wr *w, const struct kc_schema *s, const uint8_t *in)
{
	uint32_t n = 0;
	int rc;
	for (uint16_t i = 0; i < s->nfields; i++) {
		const struct kc_field *f = &s->fields[i];
		n += present(f, w->version) && tagged(f, w->version) &&
		     differs(f, in);
	}
	if ((rc = wr_uvarint(w, n)) < 0)
		return rc;
	int64_t prev = -1;
	for (uint32_t k = 0; k < n; k++) {
		const struct kc_field *next = NULL;
		for (uint16_t i = 0; i < s->nfields; i++) {
			const struct kc_field *f = &s->fields[i];
			if (present(f, w->version) && tagged(f, w->version) &&
			    (int64_t)f->tag > prev &&
			    (!next || f->tag < next->tag) && differs(f, in))
				next = f;
		}
		assert(next); /* n counted them */
		struct wr m = {NULL, SIZE_MAX, w->version, w->flexible, NULL,
			       NULL, true};
		if ((rc = wr_field(&m, next, in, true)) < 0)
			return rc;
		size_t size = SIZE_MAX - m.left;
		if (size > UINT32_MAX)
			return -EINVAL;
		if ((rc = wr_uvarint(w, next->tag)) < 0 ||
		    (rc = wr_uvarint(w, (uint32_t)size)) < 0 ||
		    (rc = wr_field(w, next, in, true)) < 0)
			return rc;
		prev = next->tag;
	}
	return 0;
}

static int wr_struct(struct wr *w, const struct kc_schema *s, const uint8_t *in)
{
	int rc;
	for (uint16_t i = 0; i < s->nfields; i++) {
		const struct kc_field *f = &s->fields[i];
		if (present(f, w->version) && !tagged(f, w->version) &&
		    (rc = wr_field(w, f, in, false)) < 0)
			return rc;
	}
	return w->flexible && !s->plain ? wr_tags(w, s, in) : 0;
}

long kc_encode(const struct kc_schema *s, int16_t version, bool flexible,
	       const void *in, uint8_t *buf, size_t cap)
{
	assert(s && in && (buf || cap == 0));
	struct wr w = {buf, cap, version, flexible, buf, NULL, false};
	int rc = wr_struct(&w, s, in);
	if (rc < 0)
		return rc;
	assert(w.left <= cap);
	return (long)(cap - w.left);
}

/* ---- headers and whole messages ---- */

/* The headers are framing, not messages of an API: their schemas are here.
 * client_id keeps its int16 length even in flexible versions (Kafka's
 * RequestHeader.json: "flexibleVersions": "none" for ClientId), which is
 * why the header is always read as non-flexible v1 and its tagged-field
 * section (v2) handled apart. */
#define HDR_F(st, m, name, t, lo, nul) \
	{name, t, lo, KC_VERSION_ANY, nul, KC_VERSION_ANY, 0, \
	 offsetof(struct st, m), 0, 0, NULL, NULL}
static const struct kc_field request_header_f[] = {
	HDR_F(kc_request_header, api_key, "RequestApiKey", KC_INT16, 0,
	      KC_VERSION_ANY),
	HDR_F(kc_request_header, api_version, "RequestApiVersion", KC_INT16, 0,
	      KC_VERSION_ANY),
	HDR_F(kc_request_header, correlation_id, "CorrelationId", KC_INT32, 0,
	      KC_VERSION_ANY),
	HDR_F(kc_request_header, client_id, "ClientId", KC_STRING, 1, 1),
};
const struct kc_schema kc_request_header_schema = {
	"kc_request_header", sizeof(struct kc_request_header),
	sizeof(request_header_f) / sizeof(request_header_f[0]),
	request_header_f, false};
static const struct kc_field response_header_f[] = {
	HDR_F(kc_response_header, correlation_id, "CorrelationId", KC_INT32, 0,
	      KC_VERSION_ANY),
};
const struct kc_schema kc_response_header_schema = {
	"kc_response_header", sizeof(struct kc_response_header),
	sizeof(response_header_f) / sizeof(response_header_f[0]),
	response_header_f, false};

static bool served(const struct kc_api *api)
{
	return api->min_version <= api->max_version;
}

const struct kc_api *kc_api_spec(int16_t key)
{
	for (size_t i = 0; i < kc_apis_n; i++)
		if (kc_apis[i].key == key)
			return &kc_apis[i];
	return NULL;
}

const struct kc_api *kc_api_find(int16_t key)
{
	const struct kc_api *api = kc_api_spec(key);
	return api && served(api) ? api : NULL;
}

const struct kc_api *kc_api_at(size_t i)
{
	for (size_t k = 0; k < kc_apis_n; k++)
		if (served(&kc_apis[k]) && i-- == 0)
			return &kc_apis[k];
	return NULL;
}

static bool is_flexible(const struct kc_api *api, int16_t version)
{
	return version >= api->flexible_min;
}

int kc_request_header_version(int16_t api_key, int16_t api_version)
{
	const struct kc_api *api = kc_api_find(api_key);
	return api && is_flexible(api, api_version) ? 2 : 1;
}

int kc_response_header_version(int16_t api_key, int16_t api_version)
{
	const struct kc_api *api = kc_api_find(api_key);
	if (!api || api_key == KC_API_API_VERSIONS)
		return 0;
	return is_flexible(api, api_version) ? 1 : 0;
}

static const struct kc_api *api_check(int16_t key, int16_t version)
{
	const struct kc_api *api = kc_api_find(key);
	if (!api || version < api->min_version || version > api->max_version)
		return NULL;
	return api;
}

long kc_decode_request(const uint8_t *buf, size_t len,
		       struct kc_request_header *h, union kc_request *body,
		       struct kc_arena *a)
{
	assert(buf || len == 0);
	memset(h, 0, sizeof(*h));
	h->client_id.len = -1;
	if (len < 8)
		return ERR_INVALID;
	h->api_key = (int16_t)rb_be16(buf);
	h->api_version = (int16_t)rb_be16(buf + 2);
	h->correlation_id = (int32_t)rb_be32(buf + 4);
	const struct kc_api *api = api_check(h->api_key, h->api_version);
	if (!api)
		return ERR_VERSION;
	long n = kc_decode(&kc_request_header_schema, 1, false, buf, len, h, a);
	if (n < 0)
		return n;
	struct rd r = {buf + n, len - (size_t)n, h->api_version, true, a};
	bool flex = is_flexible(api, h->api_version);
	if (flex) {
		int rc = rd_tags(&r, NULL, NULL);
		if (rc < 0)
			return rc;
	}
	n = kc_decode(api->request, h->api_version, flex, r.p, r.left, body, a);
	if (n < 0)
		return n;
	if ((size_t)n != r.left)
		return ERR_INVALID; /* trailing bytes */
	return (long)len;
}

long kc_encode_request(const struct kc_request_header *h,
		       const union kc_request *body, uint8_t *buf, size_t cap)
{
	const struct kc_api *api = api_check(h->api_key, h->api_version);
	if (!api)
		return -EINVAL;
	long n = kc_encode(&kc_request_header_schema, 1, false, h, buf, cap);
	if (n < 0)
		return n;
	struct wr w = {buf + n, cap - (size_t)n, h->api_version, true, buf, NULL,
		       false};
	bool flex = is_flexible(api, h->api_version);
	int rc;
	if (flex && (rc = wr_uvarint(&w, 0)) < 0)
		return rc;
	long b = kc_encode(api->request, h->api_version, flex, body, w.p, w.left);
	if (b < 0)
		return b;
	return (long)(cap - w.left) + b;
}

long kc_decode_response(int16_t api_key, int16_t api_version,
			const uint8_t *buf, size_t len,
			struct kc_response_header *h, union kc_response *body,
			struct kc_arena *a)
{
	assert(buf || len == 0);
	const struct kc_api *api = api_check(api_key, api_version);
	if (!api)
		return ERR_VERSION;
	long n = kc_decode(&kc_response_header_schema, 0, false, buf, len, h, a);
	if (n < 0)
		return n;
	struct rd r = {buf + n, len - (size_t)n, api_version, true, a};
	if (kc_response_header_version(api_key, api_version) == 1) {
		int rc = rd_tags(&r, NULL, NULL);
		if (rc < 0)
			return rc;
	}
	n = kc_decode(api->response, api_version, is_flexible(api, api_version),
		      r.p, r.left, body, a);
	if (n < 0)
		return n;
	if ((size_t)n != r.left)
		return ERR_INVALID;
	return (long)len;
}

long kc_encode_response(int16_t api_key, int16_t api_version,
			const struct kc_response_header *h,
			const union kc_response *body, uint8_t *buf, size_t cap)
{
	return kc_encode_response_ext(api_key, api_version, h, body, buf, cap,
				      NULL);
}

long kc_encode_response_ext(int16_t api_key, int16_t api_version,
			    const struct kc_response_header *h,
			    const union kc_response *body, uint8_t *buf,
			    size_t cap, struct kc_holes *holes)
{
	const struct kc_api *api = api_check(api_key, api_version);
	if (!api)
		return -EINVAL;
	long n = kc_encode(&kc_response_header_schema, 0, false, h, buf, cap);
	if (n < 0)
		return n;
	struct wr w = {buf + n, cap - (size_t)n, api_version, true, buf, holes,
		       false};
	int rc;
	if (kc_response_header_version(api_key, api_version) == 1 &&
	    (rc = wr_uvarint(&w, 0)) < 0)
		return rc;
	w.flexible = is_flexible(api, api_version);
	rc = wr_struct(&w, api->response, (const uint8_t *)body);
	if (rc < 0)
		return rc;

	return (long)(cap - w.left);
}

/* ---- building answers ---- */

void *kc_arena_take(struct kc_arena *a, size_t n, size_t size)
{
	size_t at = (a->used + 7) & ~(size_t)7;
	if (n == 0 || size == 0)
		return NULL;
	if (at > a->cap || n > (a->cap - at) / size)
		return NULL;
	a->used = at + n * size;
	return a->base + at;
}

void kc_response_init(union kc_response *u, int16_t key)
{
	const struct kc_api *api = kc_api_spec(key);
	assert(api && api->response->size <= sizeof(*u));
	memset(u, 0, sizeof(*u));
	kc_defaults(api->response, u->raw);
}

bool kc_str_is(struct kc_str s, const char *p, size_t len)
{
	return s.len >= 0 && (size_t)s.len == len &&
	       (len == 0 || memcmp(s.ptr, p, len) == 0);
}
