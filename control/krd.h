/*
 * A reader of untrusted Kafka-encoded bytes (the records sluice-control
 * reads back from its internal topics: control/gtopic.c, control/ttopic.c).
 * A read past the end, or of a value out of range, makes it bad and reads
 * as 0 from then on without moving: the caller checks bad once at the end,
 * and in every loop (so a loop ends with the bytes, whatever count the
 * input claims).
 *
 * Header only: small static functions, any thread.
 */
#ifndef SLUICE_CONTROL_KRD_H
#define SLUICE_CONTROL_KRD_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto/record_batch.h" /* rb_be* */

#define KRD_STRING_MAX 0x7fff /* Kafka's strings: an int16 length */

struct krd {
	const uint8_t *p;
	uint32_t len, pos;
	bool bad;
};

static inline void krd_init(struct krd *r, const uint8_t *p, int32_t len)
{
	assert(len >= 0);
	r->p = p;
	r->len = (uint32_t)len;
	r->pos = 0;
	r->bad = false;
}

static inline uint32_t krd_left(const struct krd *r)
{
	return r->len - r->pos;
}

/* n more bytes, or NULL (and bad) when fewer are left. */
static inline const uint8_t *krd_take(struct krd *r, uint32_t n)
{
	if (r->bad || n > krd_left(r)) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = r->p + r->pos;
	r->pos += n;
	return p;
}

static inline int16_t krd_i16(struct krd *r)
{
	const uint8_t *p = krd_take(r, 2);
	return p ? (int16_t)rb_be16(p) : 0;
}

static inline int32_t krd_i32(struct krd *r)
{
	const uint8_t *p = krd_take(r, 4);
	return p ? (int32_t)rb_be32(p) : 0;
}

static inline int64_t krd_i64(struct krd *r)
{
	const uint8_t *p = krd_take(r, 8);
	return p ? (int64_t)rb_be64(p) : 0;
}

static inline uint32_t krd_uvarint(struct krd *r)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < 5; i++) {
		const uint8_t *p = krd_take(r, 1);
		if (!p)
			return 0;
		if (i == 4 && *p > 0x0f)
			break; /* more than 32 bits */
		v |= (uint32_t)(*p & 0x7f) << (7 * i);
		if (!(*p & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

/*
 * A length prefix: an int16 (strings) or int32 (bytes, arrays) N, or in a
 * flexible version a uvarint N+1.  Returns N, -1 for null when nullable,
 * or -1 and bad: a null that is not allowed, N < -1, N past max.
 */
static inline int32_t krd_len(struct krd *r, bool flexible, bool wide,
			      bool nullable, int32_t max)
{
	int64_t n;
	if (flexible)
		n = (int64_t)krd_uvarint(r) - 1;
	else
		n = wide ? krd_i32(r) : krd_i16(r);
	if (r->bad || n < -1 || n > max || (n == -1 && !nullable)) {
		r->bad = true;
		return -1;
	}
	return (int32_t)n;
}

/* A string (or bytes): *s points at its bytes (NULL when null); returns
 * its length, -1 for null. */
static inline int32_t krd_str(struct krd *r, bool flexible, bool nullable,
			      const char **s)
{
	int32_t n = krd_len(r, flexible, false, nullable, KRD_STRING_MAX);
	*s = NULL;
	if (n > 0)
		*s = (const char *)krd_take(r, (uint32_t)n);
	else if (n == 0)
		*s = (const char *)r->p + r->pos;
	return r->bad ? -1 : n;
}

static inline void krd_bytes(struct krd *r, bool flexible)
{
	int32_t n = krd_len(r, flexible, true, false, INT32_MAX - 1);
	if (n > 0)
		krd_take(r, (uint32_t)n);
}

/* Tagged fields: none is known here, all are skipped.  Each takes at least
 * two bytes, so the loop ends with the bytes. */
static inline void krd_tags(struct krd *r)
{
	uint32_t n = krd_uvarint(r);
	for (uint32_t i = 0; i < n && !r->bad; i++) {
		(void)krd_uvarint(r); /* tag */
		uint32_t size = krd_uvarint(r);
		krd_take(r, size);
	}
}

/* Every byte read, none past the end. */
static inline bool krd_done(const struct krd *r)
{
	return !r->bad && r->pos == r->len;
}

#endif
