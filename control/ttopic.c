/*
 * __transaction_state's keys and values (ttopic.h).
 *
 * TransactionLogValue, as this file writes it (version 1, flexible):
 *
 *   int16   version (1)
 *   int64   producer id
 *   int16   producer epoch
 *   int32   transaction timeout ms
 *   int8    status
 *   uvarint topics + 1 (0: null, never written)
 *     compact string  topic
 *     uvarint         partitions + 1, then int32 each
 *     uvarint         0 (no tagged fields)
 *   int64   last update timestamp ms
 *   int64   start timestamp ms (-1: none)
 *   uvarint tagged fields, then each: uvarint tag, uvarint size, bytes
 *     0      int64 previous producer id
 *     32512  int16 last epoch
 *     32513  uvarint groups + 1, then a compact string each
 *
 * Version 0 is the same without the flexible encodings: strings with an
 * int16 length, arrays with an int32 count, no tagged fields.
 */
#include <errno.h>
#include <string.h>

#include "control/krd.h"
#include "control/ttopic.h"
#include "proto/record_batch.h" /* rb_put* */

#define KEY_VERSION 0
#define VALUE_VERSION 1
#define TAG_PREV_PRODUCER_ID 0
#define STATUS_MAX 5 /* CompleteAbort: Kafka's 6 and 7 are not sluice's */

static size_t uvarint_bytes(uint32_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *put_uvarint(uint8_t *p, uint32_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static uint8_t *put_compact(uint8_t *p, const char *s, uint16_t len)
{
	p = put_uvarint(p, (uint32_t)len + 1);
	if (len)
		memcpy(p, s, len);
	return p + len;
}

int32_t sl_ttopic_key(const char *id, uint16_t len, uint8_t *key)
{
	rb_put16(key, KEY_VERSION);
	rb_put16(key + 2, len);
	if (len)
		memcpy(key + 4, id, len);
	return 4 + (int32_t)len;
}

/* The runs of one topic in s->parts: the count of parts from i on that
 * share parts[i]'s topic. */
static uint32_t run_of(const struct sl_ttopic_state *s, uint32_t i)
{
	uint32_t k = i + 1;
	while (k < s->nparts && s->parts[k].len == s->parts[i].len &&
	       !memcmp(s->parts[k].name, s->parts[i].name, s->parts[i].len))
		k++;
	return k - i;
}

static size_t groups_bytes(const struct sl_ttopic_state *s)
{
	size_t n = uvarint_bytes(s->ngroups + 1);
	for (uint32_t i = 0; i < s->ngroups; i++)
		n += uvarint_bytes(s->groups[i].len + 1u) + s->groups[i].len;
	return n;
}

static uint32_t tag_count(const struct sl_ttopic_state *s)
{
	return (s->state->prev_producer_id != -1) +
	       (s->state->last_epoch != -1) + (s->ngroups > 0);
}

size_t sl_ttopic_value_bytes(const struct sl_ttopic_state *s)
{
	size_t n = 2 + 8 + 2 + 4 + 1;
	uint32_t topics = 0;
	size_t body = 0;
	for (uint32_t i = 0; i < s->nparts;) {
		uint32_t run = run_of(s, i);
		body += uvarint_bytes(s->parts[i].len + 1u) + s->parts[i].len +
			uvarint_bytes(run + 1) + 4 * (size_t)run + 1;
		topics++;
		i += run;
	}
	n += uvarint_bytes(topics + 1) + body + 8 + 8;
	n += uvarint_bytes(tag_count(s));
	if (s->state->prev_producer_id != -1)
		n += 1 + 1 + 8;
	if (s->state->last_epoch != -1)
		n += uvarint_bytes(SL_TTOPIC_TAG_LAST_EPOCH) + 1 + 2;
	if (s->ngroups) {
		size_t g = groups_bytes(s);
		n += uvarint_bytes(SL_TTOPIC_TAG_GROUPS) +
		     uvarint_bytes((uint32_t)g) + g;
	}
	return n;
}

size_t sl_ttopic_value(const struct sl_ttopic_state *s, uint8_t *value)
{
	const struct sl_txnlog_rec *r = s->state;
	uint8_t *p = value;
	rb_put16(p, VALUE_VERSION);
	rb_put64(p + 2, (uint64_t)r->producer_id);
	rb_put16(p + 10, (uint16_t)r->epoch);
	rb_put32(p + 12, (uint32_t)r->timeout_ms);
	p[16] = r->state;
	p += 17;
	uint32_t topics = 0;
	for (uint32_t i = 0; i < s->nparts; i += run_of(s, i))
		topics++;
	p = put_uvarint(p, topics + 1);
	for (uint32_t i = 0; i < s->nparts;) {
		uint32_t run = run_of(s, i);
		p = put_compact(p, s->parts[i].name, s->parts[i].len);
		p = put_uvarint(p, run + 1);
		for (uint32_t k = i; k < i + run; k++, p += 4)
			rb_put32(p, (uint32_t)s->parts[k].partition);
		*p++ = 0;
		i += run;
	}
	rb_put64(p, (uint64_t)r->update_ms);
	rb_put64(p + 8, (uint64_t)r->start_ms);
	p += 16;
	p = put_uvarint(p, tag_count(s));
	if (r->prev_producer_id != -1) {
		p = put_uvarint(p, TAG_PREV_PRODUCER_ID);
		p = put_uvarint(p, 8);
		rb_put64(p, (uint64_t)r->prev_producer_id);
		p += 8;
	}
	if (r->last_epoch != -1) {
		p = put_uvarint(p, SL_TTOPIC_TAG_LAST_EPOCH);
		p = put_uvarint(p, 2);
		rb_put16(p, (uint16_t)r->last_epoch);
		p += 2;
	}
	if (s->ngroups) {
		p = put_uvarint(p, SL_TTOPIC_TAG_GROUPS);
		p = put_uvarint(p, (uint32_t)groups_bytes(s));
		p = put_uvarint(p, s->ngroups + 1);
		for (uint32_t i = 0; i < s->ngroups; i++)
			p = put_compact(p, s->groups[i].name,
					s->groups[i].len);
	}
	return (size_t)(p - value);
}

/* ---- decoding ---- */

/* Where a decode's records go: apply NULL checks only. */
struct out {
	sl_txnlog_apply_fn apply;
	void *arg;
	int rc;
	struct sl_txnlog_rec base; /* the id */
};

static void emit(struct out *o, const struct sl_txnlog_rec *r)
{
	if (o && o->apply && o->rc == 0) {
		int rc = o->apply(o->arg, r);
		o->rc = rc < 0 ? rc : 0; /* as an open: negative stops */
	}
}

/* The partitions (handed to o unless NULL; base is the id's record). */
static bool partitions(struct krd *r, bool flex,
		       const struct sl_txnlog_rec *base, struct out *o)
{
	int32_t nt = krd_len(r, flex, true, true, INT32_MAX - 1);
	for (int32_t t = 0; t < nt && !r->bad; t++) {
		const char *topic;
		int32_t tl = krd_str(r, flex, false, &topic);
		if (tl < 1 || tl > SL_TXNLOG_TOPIC_MAX)
			return false;
		int32_t np = krd_len(r, flex, true, false, INT32_MAX - 1);
		for (int32_t i = 0; i < np && !r->bad; i++) {
			struct sl_txnlog_rec pr = *base;
			pr.type = SL_TXNLOG_PARTITION;
			pr.topic = topic;
			pr.topic_len = (uint16_t)tl;
			pr.partition = krd_i32(r);
			if (pr.partition < 0)
				return false;
			if (!r->bad)
				emit(o, &pr);
		}
		if (flex)
			krd_tags(r);
	}
	return !r->bad;
}

static bool groups(struct krd *r, const struct sl_txnlog_rec *base,
		   struct out *o)
{
	int32_t n = krd_len(r, true, true, false, INT32_MAX - 1);
	for (int32_t i = 0; i < n && !r->bad; i++) {
		struct sl_txnlog_rec g = *base;
		g.type = SL_TXNLOG_GROUP;
		int32_t len = krd_str(r, true, false, &g.group);
		if (len < 1 || len > SL_TXNLOG_GROUP_MAX)
			return false;
		g.group_len = (uint16_t)len;
		emit(o, &g);
	}
	return !r->bad;
}

/* The tagged fields of a v1 value into st (its groups handed to o
 * unless NULL). */
static bool tags(struct krd *r, struct sl_txnlog_rec *st, struct out *o)
{
	uint32_t n = krd_uvarint(r);
	for (uint32_t i = 0; i < n && !r->bad; i++) {
		uint32_t tag = krd_uvarint(r);
		uint32_t size = krd_uvarint(r);
		const uint8_t *p = krd_take(r, size);
		if (!p)
			return false;
		struct krd f;
		krd_init(&f, p, (int32_t)size);
		if (tag == TAG_PREV_PRODUCER_ID) {
			st->prev_producer_id = krd_i64(&f);
		} else if (tag == SL_TTOPIC_TAG_LAST_EPOCH) {
			st->last_epoch = krd_i16(&f);
		} else if (tag == SL_TTOPIC_TAG_GROUPS) {
			if (!groups(&f, st, o))
				return false;
		} else {
			continue; /* another's: skipped */
		}
		if (!krd_done(&f))
			return false;
	}
	return !r->bad;
}

/* The value into st (its id already there); its partitions handed to
 * parts and its groups to grps, each unless NULL.  Returns 0, -ENOTSUP or
 * -EBADMSG. */
static int value(const uint8_t *v, int32_t vlen, struct sl_txnlog_rec *st,
		 struct out *parts, struct out *grps)
{
	struct krd r;
	krd_init(&r, v, vlen);
	int16_t version = krd_i16(&r);
	if (r.bad)
		return -EBADMSG;
	if (version < 0 || version > VALUE_VERSION)
		return -ENOTSUP;
	bool flex = version >= 1;
	st->type = SL_TXNLOG_STATE;
	st->producer_id = krd_i64(&r);
	st->prev_producer_id = -1;
	st->epoch = krd_i16(&r);
	st->last_epoch = -1;
	st->timeout_ms = krd_i32(&r);
	int8_t status = (int8_t)(krd_take(&r, 1) ? r.p[r.pos - 1] : 0);
	if (r.bad)
		return -EBADMSG;
	if (status < 0 || status > STATUS_MAX)
		return -ENOTSUP;
	st->state = (uint8_t)status;
	if (!partitions(&r, flex, st, parts))
		return -EBADMSG;
	st->update_ms = krd_i64(&r);
	st->start_ms = krd_i64(&r);
	if (flex && !tags(&r, st, grps))
		return -EBADMSG;
	if (!krd_done(&r) || st->producer_id < 0 ||
	    st->prev_producer_id < -1 || st->epoch < -1 ||
	    st->last_epoch < -1 || st->timeout_ms <= 0)
		return -EBADMSG;
	return 0;
}

int sl_ttopic_decode(const uint8_t *key, int32_t klen, const uint8_t *value_p,
		     int32_t vlen, sl_txnlog_apply_fn apply, void *arg)
{
	struct krd r;
	if (!key || klen < 0 || vlen < -1 || (vlen >= 0 && !value_p))
		return -EBADMSG;
	krd_init(&r, key, klen);
	int16_t version = krd_i16(&r);
	if (r.bad)
		return -EBADMSG;
	if (version != KEY_VERSION)
		return -ENOTSUP;
	const char *id;
	int32_t idl = krd_str(&r, false, false, &id);
	if (!krd_done(&r) || idl < 0 || idl > SL_TXNLOG_ID_MAX)
		return -EBADMSG;
	if (idl == 0)
		return vlen < 0 ? 1 : -EBADMSG;
	struct out o = {.base = {.id = id, .id_len = (uint16_t)idl}};
	struct sl_txnlog_rec st = o.base;
	if (vlen >= 0) {
		/* checked whole first, handed after */
		int rc = value(value_p, vlen, &st, NULL, NULL);
		if (rc)
			return rc;
	}
	struct sl_txnlog_rec del = o.base;
	del.type = SL_TXNLOG_DELETE;
	o.apply = apply;
	o.arg = arg;
	emit(&o, &del);
	if (vlen < 0 || o.rc)
		return o.rc;
	emit(&o, &st);
	/* partitions then groups, as a load applies them */
	struct sl_txnlog_rec again = o.base;
	(void)value(value_p, vlen, &again, &o, NULL);
	again = o.base;
	(void)value(value_p, vlen, &again, NULL, &o);
	return o.rc;
}
