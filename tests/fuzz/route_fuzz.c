/*
 * libFuzzer target for the routing rules (control/route.c).  The first
 * byte of the input says what the rest is:
 *
 *   0 (mod 3)  rule text, up to the first 0 byte, for sl_route_parse;
 *              after it, choices of topic names derived from the rule's
 *              pattern (instances of it, instances with a word dropped,
 *              added or changed, its to= topic, the router's topics);
 *   1          a pattern (a length byte, then its bytes: at most 249, a
 *              rule's longest) and a name (the rest: at most 200 bytes,
 *              a topic name's longest), any bytes, for
 *              sl_route_pattern_match;
 *   2          a program of steps (an opcode byte and its operands, zeros
 *              past the end) against a router made by sl_route_create on
 *              a scratch directory: ROUTE frames (PUT, DELETE, LIST;
 *              well-formed ones built from a few rule names and rule
 *              texts of patterns, topics, header conditions, flags and
 *              padding; a PUT's text as raw bytes; raw frames whole, cut
 *              or with bytes overwritten), time and a duty cycle, a topic
 *              made or deleted, restarts, and hostile bytes written to
 *              routes.conf or routes.pos before a restart.  The Kafka
 *              port refuses (port 1 on loopback): nothing is read or
 *              copied, and a PUT whose rule matches a topic is answered
 *              REQUEST_TIMED_OUT at its 10 s.
 *
 * The reference: a matcher written here from route.h's words (a name's
 * words between dots; `*` one word, `#` zero or more), recursive over
 * the words (with a table of what was tried, so many `#` stay cheap), and
 * a rule checker from docs/queues.md#routing-rules (words separated by
 * spaces, tabs and newlines: from=PATTERN of at most 249 topic-name
 * characters, `*` and `#`, a wildcard alone as a word; to=TOPIC a topic
 * name; header:KEY[=VALUE], KEY and VALUE at most 256 bytes, at most 16;
 * any, all, direct, copy; a rule at most 2048 bytes, from= not matching
 * its own to=).
 *
 * Properties:
 *   1. sl_route_parse takes (0) exactly the rules the reference does and
 *      refuses (-EINVAL) every other with a message;
 *   2. sl_route_pattern_match agrees with the reference matcher for every
 *      pattern and name within those bounds, derived or arbitrary (and an
 *      instance of a pattern matches it);
 *   3. sl_route_request refuses (-EINVAL, nothing answered) exactly the
 *      frames shorter than a header or of another opcode, and answers
 *      every other exactly once through reply: at once, or, a PUT whose
 *      rule was saved, by the first duty cycle 10 s after it (a restart
 *      drops an unanswered PUT);
 *   4. every answer is one whole ROUTE response (sn_decode_route_resp:
 *      the 24-byte error frame is one) with the request's correlation
 *      id; its error is the one the request calls for: the decoder's for
 *      a malformed frame; INVALID_REQUEST for a bad name or rule, a
 *      DELETE of no rule, a 257th rule; UNKNOWN_TOPIC_OR_PARTITION for a
 *      to= topic that does not exist; a saved PUT 0 or REQUEST_TIMED_OUT;
 *      an error comes with a message;
 *   5. LIST answers exactly the rules PUT and not deleted (a model: names
 *      and texts byte for byte, sorted by name, nothing copied), across
 *      restarts: a routes.conf the router wrote always loads;
 *   6. hostile bytes in routes.conf either load (every rule then listed
 *      is one the reference takes, names sorted, at most 256; the model
 *      starts again from that list) or are refused with a message;
 *      hostile bytes in routes.pos never stop a start.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/route.h"
#include "fuzz_util.h"
#include "proto/native.h"

#define STEPS_MAX 400
#define PENDING_MAX 64
#define PATTERN_MAX 249    /* a rule's from=: bytes */
#define PUT_WAIT_MS 10000  /* a saved PUT's answer comes by then */
#define RULE_WORDS_MAX (PATTERN_MAX + 1)
#define NAME_WORDS_MAX (SN_NAME_MAX + 1)

/* ---- the reference ---- */

struct words {
	const char *w[RULE_WORDS_MAX + 8];
	size_t l[RULE_WORDS_MAX + 8];
	int n;
};

/* s split at dots (at least one word, maybe empty). */
static void split(const char *s, size_t len, struct words *out, int max)
{
	out->n = 0;
	size_t b = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		FUZZ_CHECK(out->n < max);
		out->w[out->n] = s + b;
		out->l[out->n++] = i - b;
		b = i + 1;
	}
}

static bool word_is(const struct words *p, int i, char c)
{
	return p->l[i] == 1 && p->w[i][0] == c;
}

/* what pattern words i.. and name words j.. gave: 0 not tried, 1 no,
 * 2 yes */
static uint8_t tried[RULE_WORDS_MAX + 1][NAME_WORDS_MAX + 1];

static bool ref_words(const struct words *p, int i, const struct words *n,
		      int j)
{
	if (i == p->n)
		return j == n->n;
	if (tried[i][j])
		return tried[i][j] == 2;
	bool m;
	if (word_is(p, i, '#'))
		m = ref_words(p, i + 1, n, j) ||
		    (j < n->n && ref_words(p, i, n, j + 1));
	else
		m = j < n->n &&
		    (word_is(p, i, '*') ||
		     (p->l[i] == n->l[j] &&
		      !memcmp(p->w[i], n->w[j], p->l[i]))) &&
		    ref_words(p, i + 1, n, j + 1);
	tried[i][j] = m ? 2 : 1;
	return m;
}

/* Whether name (at most SN_NAME_MAX bytes) matches pattern (at most
 * PATTERN_MAX). */
static bool ref_match(const char *pat, size_t plen, const char *name,
		      size_t nlen)
{
	static struct words p, n;
	FUZZ_CHECK(plen <= PATTERN_MAX && nlen <= SN_NAME_MAX);
	split(pat, plen, &p, RULE_WORDS_MAX);
	split(name, nlen, &n, NAME_WORDS_MAX);
	/* internal topics ('_' first) only for their own first word */
	if (nlen && name[0] == '_' &&
	    (p.l[0] != n.l[0] || memcmp(p.w[0], n.w[0], n.l[0])))
		return false;
	for (int i = 0; i <= p.n; i++)
		memset(tried[i], 0, (size_t)n.n + 1);
	return ref_words(&p, 0, &n, 0);
}

/* The implementation against the reference (pattern: no 0 byte). */
static void check_match(const char *pat, size_t plen, const char *name,
			size_t nlen)
{
	char p[PATTERN_MAX + 1];
	if (plen > PATTERN_MAX || nlen > SN_NAME_MAX)
		return;
	memcpy(p, pat, plen);
	p[plen] = 0;
	FUZZ_CHECK(sl_route_pattern_match(p, name, nlen) ==
		   ref_match(pat, plen, name, nlen));
}

static bool is_sep(char c)
{
	return c == ' ' || c == '\t';
}

static bool has_prefix(const char *w, size_t wl, const char *pre)
{
	size_t n = strlen(pre);
	return wl >= n && !memcmp(w, pre, n);
}

static bool is_word(const char *w, size_t wl, const char *s)
{
	return wl == strlen(s) && !memcmp(w, s, wl);
}

/* A rule's pattern and destination, as the reference reads them. */
struct ref_rule {
	const char *from, *to;
	size_t from_len, to_len;
};

/* Whether text is a rule (docs/queues.md#routing-rules), with its
 * from= and to= (the last of each). */
static bool ref_rule(const char *text, size_t len, struct ref_rule *r)
{
	static const char pattern_chars[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"0123456789._-*#";
	int conditions = 0;
	*r = (struct ref_rule){ NULL, NULL, 0, 0 };
	if (len > SN_ROUTE_RULE_MAX)
		return false;
	/* one line of printable text (a tab separates too) */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] < ' ' && text[i] != '\t')
			return false;
	for (size_t i = 0; i < len;) {
		if (is_sep(text[i])) {
			i++;
			continue;
		}
		const char *w = text + i;
		size_t wl = 0;
		while (i < len && !is_sep(text[i])) {
			i++;
			wl++;
		}
		if (has_prefix(w, wl, "from=") && wl > 5) {
			r->from = w + 5;
			r->from_len = wl - 5;
		} else if (has_prefix(w, wl, "to=")) {
			if (!sn_topic_name_valid(w + 3, wl - 3))
				return false;
			r->to = w + 3;
			r->to_len = wl - 3;
		} else if (is_word(w, wl, "direct") || is_word(w, wl, "copy") ||
			   is_word(w, wl, "any") || is_word(w, wl, "all")) {
			continue;
		} else if (has_prefix(w, wl, "header:") && wl > 7 &&
			   w[7] != '=') {
			const char *k = w + 7, *eq = memchr(k, '=', wl - 7);
			size_t kl = eq ? (size_t)(eq - k) : wl - 7;
			size_t vl = eq ? wl - 7 - kl - 1 : 0;
			if (++conditions > SL_ROUTE_MATCH_MAX || kl > 256 ||
			    vl > 256)
				return false;
		} else {
			return false;
		}
	}
	if (!r->from || !r->to || r->from_len > PATTERN_MAX)
		return false;
	for (size_t i = 0; i < r->from_len; i++)
		if (!r->from[i] || !strchr(pattern_chars, r->from[i]))
			return false;
	struct words p;
	split(r->from, r->from_len, &p, RULE_WORDS_MAX);
	for (int i = 0; i < p.n; i++)
		if (p.l[i] > 1 && (memchr(p.w[i], '*', p.l[i]) ||
				   memchr(p.w[i], '#', p.l[i])))
			return false;
	return !ref_match(r->from, r->from_len, r->to, r->to_len);
}

/* ---- mode 0: rule text ---- */

static const char *const vocab[] = { "orders", "eu", "us", "east", "logs",
				     "a", "b", "", "x", "dest", "*", "#" };
#define NVOCAB (sizeof(vocab) / sizeof(vocab[0]))

/* An instance of pattern p into name (each `*` a word, each `#` none to
 * two); false when it does not fit a topic name's length. */
static bool instance(struct fz_reader *r, const struct words *p, char *name,
		     size_t *len)
{
	size_t n = 0;
	int words = 0;
	for (int i = 0; i < p->n; i++) {
		int k = word_is(p, i, '#') ? fz_u8(r) % 3 : 1;
		for (int j = 0; j < k; j++) {
			const char *w = p->w[i];
			size_t wl = p->l[i];
			if (word_is(p, i, '#') || word_is(p, i, '*')) {
				w = vocab[fz_u8(r) % NVOCAB];
				wl = strlen(w);
			}
			if (n + (words > 0) + wl > SN_NAME_MAX)
				return false;
			if (words++)
				name[n++] = '.';
			memcpy(name + n, w, wl);
			n += wl;
		}
	}
	if (!words)
		return false; /* only `#`s, each none: no word at all */
	*len = n;
	return true;
}

static void rule_text(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t len = nul ? (size_t)(nul - data) : size;
	const char *text = (const char *)data;
	char err[512] = "";
	int rc = sl_route_parse(text, len, err, sizeof(err));
	struct ref_rule rr;
	bool ok = ref_rule(text, len, &rr);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL);
	FUZZ_CHECK((rc == 0) == ok);
	FUZZ_CHECK(rc == 0 || err[0]); /* refused with a message */
	if (!ok)
		return;
	struct fz_reader r;
	fz_init(&r, nul ? nul + 1 : data + size, nul ? size - len - 1 : 0);
	struct words p;
	split(rr.from, rr.from_len, &p, RULE_WORDS_MAX);
	char name[SN_NAME_MAX + 1];
	size_t nl;
	check_match(rr.from, rr.from_len, rr.to, rr.to_len);
	int names = 1 + fz_u8(&r) % 6;
	for (int i = 0; i < names; i++) {
		if (!instance(&r, &p, name, &nl))
			continue;
		if (fz_u8(&r) & 1) {
			FUZZ_CHECK(ref_match(rr.from, rr.from_len, name, nl));
			check_match(rr.from, rr.from_len, name, nl);
			continue;
		}
		/* a word dropped, added or changed */
		struct words n;
		split(name, nl, &n, NAME_WORDS_MAX);
		int at = fz_u8(&r) % n.n;
		uint8_t how = fz_u8(&r) % 3;
		const char *v = vocab[fz_u8(&r) % NVOCAB];
		char m[SN_NAME_MAX + 32];
		size_t ml = 0;
		for (int k = 0; k <= n.n; k++) {
			const char *w = k < n.n ? n.w[k] : NULL;
			size_t wl = k < n.n ? n.l[k] : 0;
			if (k == at && how == 1) {
				ml += (size_t)sprintf(m + ml, "%s.", v);
			} else if (k == at && how == 2) {
				w = v;
				wl = strlen(v);
			} else if (k == at && how == 0 && n.n > 1) {
				continue;
			}
			if (!w)
				break;
			if (ml + wl + 1 > SN_NAME_MAX + 1)
				break;
			memcpy(m + ml, w, wl);
			ml += wl;
			m[ml++] = '.';
		}
		if (ml)
			check_match(rr.from, rr.from_len, m, ml - 1);
	}
}

/* ---- mode 2: the router ---- */

static const struct {
	uint32_t id;
	const char *name;
	int32_t partitions;
} topics[] = {
	{ 1, "orders.eu", 2 }, { 2, "orders.us.east", 1 }, { 3, "logs", 1 },
	{ 4, "dest", 1 }, { 5, "a..b", 1 },
	{ 9, "late.topic", 3 }, /* made and deleted by the program */
};
#define NTOPICS (sizeof(topics) / sizeof(topics[0]))

static struct sl_route *R;
static char dir[PATH_MAX];
static int64_t now;
static uint64_t seq;
static bool late_topic;

static bool topic_at(void *ctx, uint32_t i, uint32_t *id, const char **name,
		     size_t *len, int32_t *partitions)
{
	(void)ctx;
	if (i >= NTOPICS - !late_topic)
		return false;
	*id = topics[i].id;
	*name = topics[i].name;
	*len = strlen(topics[i].name);
	*partitions = topics[i].partitions;
	return true;
}

static bool topic_exists(const char *name, size_t len)
{
	const char *n;
	size_t nl;
	uint32_t id;
	int32_t parts;
	for (uint32_t i = 0; topic_at(NULL, i, &id, &n, &nl, &parts); i++)
		if (nl == len && !memcmp(n, name, len))
			return true;
	return false;
}

/* The rules PUT and not deleted (unknown after a hostile routes.conf
 * that loaded two rules of one name: which of them a PUT or DELETE
 * names is the router's choice). */
struct mrule {
	char name[SN_ROUTE_NAME_MAX];
	uint16_t name_len;
	char text[SN_ROUTE_RULE_MAX];
	uint16_t text_len;
};
static struct mrule model[SL_ROUTE_RULES_MAX];
static uint32_t nmodel;
static bool model_known;

static int model_find(const char *name, size_t len)
{
	for (uint32_t i = 0; i < nmodel; i++)
		if (model[i].name_len == len &&
		    !memcmp(model[i].name, name, len))
			return (int)i;
	return -1;
}

/* Requests taken and not answered yet, with what the answer must say. */
#define ERR_SAVED INT16_MIN /* a saved PUT: 0 or REQUEST_TIMED_OUT */
#define ERR_ANY (INT16_MIN + 1) /* the model is not known */
static struct pend {
	uint64_t token;
	uint8_t op;       /* enum sn_route_op; 0: malformed */
	int16_t err;
	int64_t deadline; /* a saved PUT: answered by then */
} pending[PENDING_MAX];
static int npending;

/* A LIST answer against the model. */
static void check_list(const struct sn_route_resp *rr)
{
	size_t pos = 0;
	struct sn_route_entry e, prev = { 0 };
	uint32_t n = 0;
	bool dup = false;
	while (sn_route_next(rr, &pos, &e) == 1) {
		FUZZ_CHECK(e.copied == 0); /* nothing is readable */
		/* (a name of a hostile file may list empty: a 0 byte) */
		FUZZ_CHECK(e.name_len <= SN_ROUTE_NAME_MAX);
		struct ref_rule ru;
		FUZZ_CHECK(ref_rule(e.rule, e.rule_len, &ru));
		if (n) {
			/* sorted by name (strcmp: a shorter name first) */
			size_t l = prev.name_len < e.name_len ? prev.name_len :
								e.name_len;
			int c = memcmp(prev.name, e.name, l);
			FUZZ_CHECK(c < 0 ||
				   (c == 0 && prev.name_len <= e.name_len));
			dup |= c == 0 && prev.name_len == e.name_len;
		}
		if (model_known) {
			int i = model_find(e.name, e.name_len);
			FUZZ_CHECK(i >= 0);
			FUZZ_CHECK(model[i].text_len == e.rule_len &&
				   !memcmp(model[i].text, e.rule, e.rule_len));
		}
		prev = e;
		n++;
	}
	FUZZ_CHECK(n == rr->count && n <= SL_ROUTE_RULES_MAX);
	if (model_known) {
		FUZZ_CHECK(!dup && n == nmodel);
		return;
	}
	if (dup)
		return;
	/* the model again from what the router says it has */
	pos = 0;
	nmodel = 0;
	while (sn_route_next(rr, &pos, &e) == 1) {
		struct mrule *m = &model[nmodel++];
		memcpy(m->name, e.name, e.name_len);
		m->name_len = e.name_len;
		memcpy(m->text, e.rule, e.rule_len);
		m->text_len = e.rule_len;
	}
	model_known = true;
}

static void on_reply(void *ctx, uint64_t token, const uint8_t *resp,
		     size_t len)
{
	(void)ctx;
	int i = 0;
	while (i < npending && pending[i].token != token)
		i++;
	FUZZ_CHECK(i < npending); /* taken, and not answered before */
	const struct pend *p = &pending[i];
	struct sn_header h;
	FUZZ_CHECK(sn_header_parse(resp, len, SN_TCP_MAX_FRAME, &h) ==
		   (long)len);
	FUZZ_CHECK(h.opcode == (SN_ROUTE | SN_RESPONSE));
	FUZZ_CHECK(h.corr == (uint32_t)token);
	struct sn_route_resp rr;
	FUZZ_CHECK(sn_decode_route_resp(resp, len, &rr) == 0);
	if (p->err == ERR_SAVED)
		FUZZ_CHECK(h.error == 0 ||
			   h.error == SN_ERR_REQUEST_TIMED_OUT);
	else if (p->err != ERR_ANY)
		FUZZ_CHECK(h.error == p->err);
	FUZZ_CHECK(h.error >= -1 && h.error <= 133);
	if (h.error)
		/* with why, or the 24-byte error frame */
		FUZZ_CHECK(rr.count == 0 &&
			   (rr.message_len > 0 || len == SN_ROUTE_RESP_BYTES));
	else if (p->op == SN_ROUTE_LIST)
		check_list(&rr);
	else
		FUZZ_CHECK(rr.count == 0 && rr.message_len == 0);
	pending[i] = pending[--npending];
}

/* What the answer to frame f must say, the model changed as the request
 * changes the router's rules. */
static struct pend expect(const uint8_t *f, size_t n)
{
	struct pend p = { .token = seq, .err = ERR_ANY };
	struct sn_route q;
	int rc = sn_decode_route(f, n, &q);
	if (rc) {
		p.err = (int16_t)-rc;
		return p;
	}
	p.op = q.op;
	if (q.op == SN_ROUTE_LIST) {
		p.err = 0;
		return p;
	}
	int at = model_find(q.name, q.name_len);
	if (q.op == SN_ROUTE_DELETE) {
		if (!model_known)
			return p;
		p.err = at < 0 ? SN_ERR_INVALID_REQUEST : 0;
		if (at >= 0)
			model[at] = model[--nmodel];
		return p;
	}
	/* a name is 1..64 bytes, printable ASCII without spaces */
	bool name_ok = true;
	for (uint16_t i = 0; i < q.name_len; i++)
		name_ok &= (uint8_t)q.name[i] > ' ' &&
			   (uint8_t)q.name[i] < 0x7f;
	struct ref_rule ru;
	bool rule_ok = ref_rule(q.rule, q.rule_len, &ru);
	if (!name_ok || !rule_ok) {
		p.err = SN_ERR_INVALID_REQUEST;
	} else if (!topic_exists(ru.to, ru.to_len)) {
		p.err = SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	} else if (!model_known) {
		p.deadline = now + PUT_WAIT_MS;
	} else if (at < 0 && nmodel == SL_ROUTE_RULES_MAX) {
		p.err = SN_ERR_INVALID_REQUEST;
	} else {
		p.err = ERR_SAVED;
		p.deadline = now + PUT_WAIT_MS;
		struct mrule *m = &model[at < 0 ? nmodel++ : (uint32_t)at];
		memcpy(m->name, q.name, q.name_len);
		m->name_len = q.name_len;
		memcpy(m->text, q.rule, q.rule_len);
		m->text_len = q.rule_len;
	}
	return p;
}

/* One frame (any bytes): taken unless shorter than a header or of
 * another opcode, then answered exactly once. */
static void send(const uint8_t *f, size_t n)
{
	if (npending == PENDING_MAX)
		return;
	bool route = n >= SN_HEADER_BYTES && f[3] == SN_ROUTE;
	pending[npending++] = route ? expect(f, n) :
				      (struct pend){ .token = seq };
	int rc = sl_route_request(R, seq, f, n, now);
	FUZZ_CHECK(rc == (route ? 0 : -EINVAL));
	int i = 0;
	while (i < npending && pending[i].token != seq)
		i++;
	if (rc) {
		/* refused: never answered */
		FUZZ_CHECK(i < npending);
		pending[i] = pending[--npending];
	} else if (i < npending) {
		/* only a saved PUT waits */
		FUZZ_CHECK(pending[i].deadline > 0);
	}
}

/* After a duty cycle: every saved PUT 10 s old is answered. */
static void check_late(void)
{
	for (int i = 0; i < npending; i++)
		FUZZ_CHECK(pending[i].deadline > now);
}

/* A LIST, checked against the model (or making it). */
static void list(void)
{
	uint8_t buf[SN_ROUTE_REQ_BYTES];
	struct sn_route q = { .op = SN_ROUTE_LIST };
	seq++;
	long n = sn_encode_route(buf, sizeof(buf), (uint32_t)seq, &q);
	FUZZ_CHECK(n > 0);
	send(buf, (size_t)n);
}

/* A start: 0, or (hostile) refused with a message. */
static int open_route(void)
{
	char err[512] = "";
	struct sl_route_config c = {
		.dir = dir, .kafka_port = 1, /* refuses: nothing is read */
		.topic_at = topic_at, .reply = on_reply };
	int rc = sl_route_create(&c, now, &R, err, sizeof(err));
	FUZZ_CHECK(rc <= 0);
	FUZZ_CHECK(rc == 0 || err[0]);
	return rc;
}

static void close_route(void)
{
	sl_route_destroy(R);
	R = NULL;
	npending = 0; /* a PUT not answered yet is dropped */
}

/* A restart from what the router wrote: it loads, the rules the same. */
static void restart(void)
{
	close_route();
	FUZZ_CHECK(open_route() == 0);
	list();
}

/* A restart after hostile bytes in routes.conf: the rules it loads are
 * the model from now on; refused, the file goes and the router starts
 * without rules. */
static void restart_hostile(void)
{
	close_route();
	if (open_route() == 0) {
		model_known = false;
		list();
		return;
	}
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/routes.conf", dir);
	FUZZ_CHECK(unlink(path) == 0);
	FUZZ_CHECK(open_route() == 0);
	nmodel = 0;
	model_known = true;
	list();
}

static const char *const rule_names[] = {
	"r1", "r2", "r3", "orders-copy",
	"n1234567890123456789012345678901234567890123456789012345678901234",
	"a b", "\x7f", "",
};

/* A rule's name: one of a few (the 64-byte one, then one too long, one
 * with a space, one not printable, none), or one of 256 numbered. */
static size_t rule_name(struct fz_reader *r, char *out)
{
	uint8_t c = fz_u8(r);
	if (c % 9 == 8)
		return (size_t)sprintf(out, "n%u", fz_u8(r));
	const char *n = rule_names[c % 8];
	size_t len = strlen(n);
	if (c % 8 == 4 && (c & 0x80))
		len = SN_ROUTE_NAME_MAX; /* else 65 bytes: malformed */
	memcpy(out, n, len);
	return len;
}

static const char *const rule_topics[] = {
	"dest", "logs", "orders.eu", "late.topic", "nope", "a/b", "",
	"orders.us.east",
};
static const char *const conditions[] = {
	"header:k=v", "header:k", "header:sl-priority=9", "header:=v",
	"header:", "header:a=b=c",
};
static const char *const flags[] = { "any", "all", "direct", "copy",
				     "bogus" };
static const char seps[] = { ' ', ' ', ' ', ' ', ' ', '\t', '\n', ' ' };

static size_t put(char *t, size_t at, const char *s, size_t len)
{
	if (at + len > SN_ROUTE_RULE_MAX)
		len = SN_ROUTE_RULE_MAX - at;
	memcpy(t + at, s, len);
	return at + len;
}

/* A rule's text from the program: mostly from= and to=, then words of
 * any kind (patterns of the vocabulary, topics, header conditions,
 * flags, raw bytes, padding up to the longest rule), separators. */
static size_t rule_text_of(struct fz_reader *r, char *t)
{
	size_t n = 0;
	uint8_t head = fz_u8(r);
	int words = head & 0x80 ? fz_u8(r) % 7 : 2 + fz_u8(r) % 5;
	for (int i = 0; i < words; i++) {
		uint8_t kind = i == 0 && !(head & 1) ? 0 :
			       i == 1 && !(head & 2) ? 1 : fz_u8(r) % 8;
		char w[600];
		size_t wl = 0;
		if (kind == 0) {
			wl = (size_t)sprintf(w, "from=");
			int k = 1 + fz_u8(r) % 4;
			for (int j = 0; j < k; j++)
				wl += (size_t)sprintf(w + wl, "%s%s",
						      j ? "." : "",
						      vocab[fz_u8(r) % NVOCAB]);
		} else if (kind == 1) {
			wl = (size_t)sprintf(w, "to=%s",
					     rule_topics[fz_u8(r) % 8]);
		} else if (kind == 2) {
			wl = (size_t)sprintf(w, "%s",
					     conditions[fz_u8(r) % 6]);
		} else if (kind == 3) {
			wl = (size_t)sprintf(w, "%s", flags[fz_u8(r) % 5]);
		} else if (kind == 4) {
			size_t got;
			const uint8_t *p = fz_bytes(r, fz_u8(r) % 32, &got);
			memcpy(w, p, got);
			wl = got;
		} else if (kind == 5) {
			/* padding: long rules, many of them a long LIST */
			wl = (size_t)fz_u8(r) * 8 + 1;
			memset(w, ' ', wl > sizeof(w) ? sizeof(w) : wl);
			if (wl > sizeof(w))
				wl = sizeof(w);
		} else if (kind == 6) {
			/* a header condition of a long key or value */
			wl = (size_t)sprintf(w, "header:k=");
			size_t v = 250 + fz_u8(r) % 10;
			memset(w + wl, 'v', v);
			wl += v;
		} else {
			wl = (size_t)sprintf(w, "from=%s",
					     topics[fz_u8(r) % NTOPICS].name);
		}
		if (i)
			n = put(t, n, &seps[fz_u8(r) % 8], 1);
		n = put(t, n, w, wl);
	}
	return n;
}

/* A well-formed ROUTE frame from the program; its length. */
static size_t build_route(struct fz_reader *r, uint8_t *buf, size_t cap)
{
	static char text[SN_ROUTE_RULE_MAX];
	char name[SN_ROUTE_NAME_MAX + 8];
	struct sn_route q = { 0 };
	uint8_t op = fz_u8(r) % 3;
	q.op = op == 0 ? SN_ROUTE_PUT : op == 1 ? SN_ROUTE_DELETE :
					       SN_ROUTE_LIST;
	if (q.op != SN_ROUTE_LIST) {
		q.name_len = (uint16_t)rule_name(r, name);
		q.name = name;
	}
	if (q.op == SN_ROUTE_PUT) {
		q.rule_len = (uint16_t)rule_text_of(r, text);
		q.rule = text;
	}
	seq++;
	long n = sn_encode_route(buf, cap, (uint32_t)seq, &q);
	FUZZ_CHECK(n > 0);
	return (size_t)n;
}

static void write_hostile(struct fz_reader *r, const char *file)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	size_t got;
	const uint8_t *p = fz_bytes(r, fz_u16(r) % 4096, &got);
	FILE *f = fopen(path, fz_u8(r) & 1 ? "ab" : "wb");
	FUZZ_CHECK(f != NULL);
	FUZZ_CHECK(fwrite(p, 1, got, f) == got);
	fclose(f);
}

static void step(struct fz_reader *r)
{
	static uint8_t buf[SN_ROUTE_REQ_BYTES + SN_ROUTE_NAME_MAX + 8 +
			   SN_ROUTE_RULE_MAX];
	uint8_t op = fz_u8(r) % 10;
	switch (op) {
	case 0:
	case 1:
		send(buf, build_route(r, buf, sizeof(buf)));
		break;
	case 2: {
		/* a PUT of raw rule bytes */
		char name[SN_ROUTE_NAME_MAX + 8];
		size_t got;
		struct sn_route q = { .op = SN_ROUTE_PUT };
		q.name_len = (uint16_t)rule_name(r, name);
		q.name = name;
		q.rule = (const char *)fz_bytes(r, fz_u16(r) % 2100, &got);
		q.rule_len = (uint16_t)got;
		seq++;
		long n = sn_encode_route(buf, sizeof(buf), (uint32_t)seq, &q);
		FUZZ_CHECK(n > 0);
		send(buf, (size_t)n);
		break;
	}
	case 3:
		list();
		break;
	case 4: {
		/* raw: a ROUTE header over bytes of the program, any bytes,
		 * or a well-formed frame with bytes overwritten or cut */
		uint8_t mode = fz_u8(r) % 3;
		size_t got, n;
		seq++;
		if (mode == 0) {
			const uint8_t *p = fz_bytes(r, fz_u8(r), &got);
			n = SN_HEADER_BYTES + got;
			sn_header_put(buf, SN_ROUTE, (uint32_t)n,
				      (uint32_t)seq, 0);
			memcpy(buf + SN_HEADER_BYTES, p, got);
		} else if (mode == 1) {
			const uint8_t *p = fz_bytes(r, fz_u8(r), &got);
			memcpy(buf, p, got);
			n = got;
		} else {
			n = build_route(r, buf, sizeof(buf));
			int k = fz_u8(r) % 5;
			for (int i = 0; i < k; i++)
				buf[fz_u8(r) % (n < 64 ? n : 64)] = fz_u8(r);
			if (fz_u8(r) == 0xff)
				n -= fz_u8(r) % n;
		}
		send(buf, n);
		break;
	}
	case 5: {
		uint8_t c = fz_u8(r);
		now += c == 0xff ? PUT_WAIT_MS : (int64_t)c * 64;
		sl_route_do_work(R, now);
		check_late();
		break;
	}
	case 6:
		restart();
		break;
	case 7:
		write_hostile(r, "routes.conf");
		restart_hostile();
		break;
	case 8:
		write_hostile(r, "routes.pos");
		restart();
		break;
	case 9:
		late_topic = !late_topic; /* made, or deleted */
		break;
	}
}

static void program(const uint8_t *data, size_t size)
{
	struct fz_reader r;
	fz_init(&r, data, size);
	fz_clear_dir(fz_tmpdir());
	FUZZ_CHECK(mkdir(dir, 0700) == 0);
	now = 1000;
	seq = 0;
	npending = 0;
	nmodel = 0;
	model_known = true;
	late_topic = false;
	FUZZ_CHECK(open_route() == 0);
	for (int i = 0; i < STEPS_MAX && fz_left(&r); i++)
		step(&r);
	list();
	close_route();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet_control_log();
	snprintf(dir, sizeof(dir), "%s/route", fz_tmpdir());
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		rule_text(data + 1, size - 1);
		break;
	case 1: {
		/* the pattern's bytes up to a 0 byte (a C string) */
		if (size < 2)
			break;
		size_t plen = data[1] < size - 2 ? data[1] : size - 2;
		const char *pat = (const char *)data + 2;
		const char *nul = memchr(pat, 0, plen);
		check_match(pat, nul ? (size_t)(nul - pat) : plen, pat + plen,
			    size - 2 - plen);
		break;
	}
	default:
		program(data + 1, size - 1);
		break;
	}
	return 0;
}
