/*
 * Routing rules (control/route.h): the rules, their file, and the router
 * that copies matching messages from source partitions to destination
 * topics.
 *
 * Files (in cfg.dir):
 *   routes.conf   one line per rule: "NAME<TAB>TOPIC_ID_MAX<TAB>TEXT\n",
 *                 TOPIC_ID_MAX the largest topic id when the rule was
 *                 made (topics above it are routed from their start);
 *   routes.pos    one line per source partition: "ID PARTITION OFFSET\n",
 *                 the next offset to route.
 * Both are replaced whole and durably (sd_replace).
 *
 * The router, per source partition that some rule's pattern matches:
 * one read at a time (sl_glog_read_once from its position); each record
 * of the read's batches is matched against the rules and its copies
 * appended to the destinations' glogs; when the read is done and every
 * copy of it is answered durable, the position moves to the read's end.
 * A failed copy leaves the position where it was: the read is made again
 * (its other copies are made twice, none is missing).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/glog.h"
#include "control/log.h"
#include "control/route.h"
#include "proto/compression.h"
#include "proto/ipc.h"
#include "proto/native.h"
#include "proto/record_batch.h"
#include "storage/disk.h"

#define POS_FILE_MAX (4u << 20)
#define PUT_WAIT_MS 10000        /* a PUT waits for its partitions */
#define CONF_FILE_MAX (1u << 20)
#define HEADER_BYTES_MAX 256     /* a header condition's key or value */
#define PATTERN_BYTES_MAX 249    /* from=: a topic name's length */
#define PATTERN_WORDS_MAX (PATTERN_BYTES_MAX + 1) /* all empty words */
#define NAME_WORDS_MAX (SN_NAME_MAX + 1)
/* a LIST answer with every rule at its longest */
#define OUT_BYTES (SN_ROUTE_RESP_BYTES + 512 + SL_ROUTE_RULES_MAX * \
		   (SN_ROUTE_ENTRY_BYTES + SN_ROUTE_NAME_MAX + SN_ROUTE_RULE_MAX))

struct match {
	char key[HEADER_BYTES_MAX + 1];
	char value[HEADER_BYTES_MAX + 1];
	bool any_value;
};

struct rule {
	char name[SN_ROUTE_NAME_MAX + 1];
	char text[SN_ROUTE_RULE_MAX + 1];
	char from[SN_ROUTE_RULE_MAX + 1];
	char to[SN_NAME_MAX + 1];
	bool direct, any;
	struct match match[SL_ROUTE_MATCH_MAX];
	uint32_t nmatch;
	uint32_t topic_id_max;
	uint64_t copied;
	bool missing_logged;         /* its destination is missing */
};

/* A destination topic's writer. */
struct rdest {
	struct rdest *next;
	struct sl_route *r;
	char name[SN_NAME_MAX + 1];
	struct sl_glog *log;
};

/* A copy on its way: the source partition it is for. */
struct rpending {
	struct rpending *next;
	struct rdest *d;
	uint64_t seq;
	struct rpart *p;
	struct rule *rule;
};

/* A source partition. */
struct rpart {
	struct rpart *next;
	struct rsrc *src;
	int32_t partition;
	int64_t position;         /* next offset to route; -1: locate */
	bool reading;
	bool locating;            /* the read asks where the log ends */
	int64_t locate_from;      /* from where it asks */
	int64_t read_from;
	uint32_t pending;         /* copies of the read not yet answered */
	bool failed;              /* one of them failed */
	bool read_done;
	int64_t read_next;
	int64_t next_read_ms;
	bool seen;                /* still matched by a rule */
};

/* A source topic: its reader and partitions. */
struct rsrc {
	struct rsrc *next;
	struct sl_route *r;
	uint32_t topic_id;
	char name[SN_NAME_MAX + 1];
	size_t name_len;
	int32_t partitions;
	struct sl_glog *log;
	struct rpart *parts;
	bool seen;
};

/* A saved position not yet claimed by a partition (read at the open). */
struct rsaved {
	uint32_t topic_id;
	int32_t partition;
	int64_t offset;
};

/* A PUT answered once every partition its rule matches has a position
 * (so the rule routes every message produced after the answer). */
struct rput {
	struct rput *next;
	uint64_t token;
	int64_t deadline_ms;
};

struct sl_route {
	struct sl_route_config cfg;
	struct rput *puts;
	const struct sdisk *disk;
	char conf_path[PATH_MAX];
	char pos_path[PATH_MAX];
	struct rule *rules[SL_ROUTE_RULES_MAX];
	uint32_t nrules;
	struct rsrc *srcs;
	struct rdest *dests;
	struct rpending *pending;    /* oldest first: answers come in
					order (per partition) */
	struct rpending **pending_tail;
	struct rsaved *saved;
	uint32_t nsaved;
	bool pos_dirty;
	int64_t next_save_ms;
	int64_t now_ms;
	struct sl_route_stats st;
	int64_t next_sync_ms;        /* topics matched again */
	uint8_t out[OUT_BYTES];
};

/* ---- rules ---- */

/* Split s (len bytes) at dots into at most max words: the count, or -1
 * when there are more. */
static int words(const char *s, size_t len, const char **w, size_t *wl,
		 int max)
{
	int n = 0;
	const char *p = s, *end = s + len;
	for (;;) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		const char *we = dot ? dot : end;
		if (n == max)
			return -1;
		w[n] = p;
		wl[n++] = (size_t)(we - p);
		if (!dot)
			return n;
		p = dot + 1;
	}
}

bool sl_route_pattern_match(const char *pattern, const char *name,
			    size_t len)
{
	const char *pw[PATTERN_WORDS_MAX], *nw[NAME_WORDS_MAX];
	size_t pl[PATTERN_WORDS_MAX], nl[NAME_WORDS_MAX];
	int np = words(pattern, strlen(pattern), pw, pl, PATTERN_WORDS_MAX);
	int nn = words(name, len, nw, nl, NAME_WORDS_MAX);
	if (np < 0 || nn < 0)
		return false;
	/* internal topics (__consumer_offsets, _sl.reply.*: a name
	 * starting with '_') only for a pattern that names them */
	if (len && name[0] == '_' && (pl[0] != nl[0] ||
				      memcmp(pw[0], nw[0], nl[0])))
		return false;
	/* m[i][j]: pattern words i.. match name words j.. (filled from
	 * the ends; `#` takes zero or more words, `*` exactly one) */
	static bool m[PATTERN_WORDS_MAX + 1][NAME_WORDS_MAX + 1];
	for (int j = 0; j <= nn; j++)
		m[np][j] = j == nn;
	for (int i = np - 1; i >= 0; i--) {
		bool hash = pl[i] == 1 && pw[i][0] == '#';
		bool star = pl[i] == 1 && pw[i][0] == '*';
		for (int j = nn; j >= 0; j--) {
			if (hash)
				m[i][j] = m[i + 1][j] || (j < nn && m[i][j + 1]);
			else
				m[i][j] = j < nn && m[i + 1][j + 1] &&
					  (star || (pl[i] == nl[j] &&
						    !memcmp(pw[i], nw[j],
							    pl[i])));
		}
	}
	return m[0][0];
}

static int parse(struct rule *r, const char *text, size_t len, char *err,
		 size_t errlen)
{
	if (len > SN_ROUTE_RULE_MAX) {
		snprintf(err, errlen, "a rule is at most %d bytes",
			 SN_ROUTE_RULE_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] < ' ' && text[i] != '\t') {
			snprintf(err, errlen, "a rule is one line of "
				 "printable text (byte %zu is 0x%02x)", i,
				 (unsigned char)text[i]);
			return -EINVAL;
		}
	char buf[SN_ROUTE_RULE_MAX + 1];
	memcpy(buf, text, len);
	buf[len] = 0;
	r->from[0] = r->to[0] = 0;
	r->direct = r->any = false;
	r->nmatch = 0;
	char *save = NULL;
	for (char *w = strtok_r(buf, " \t\n", &save); w;
	     w = strtok_r(NULL, " \t\n", &save)) {
		if (!strncmp(w, "from=", 5) && w[5]) {
			snprintf(r->from, sizeof(r->from), "%s", w + 5);
		} else if (!strncmp(w, "to=", 3)) {
			if (!sn_topic_name_valid(w + 3, strlen(w + 3))) {
				snprintf(err, errlen, "to=%s: not a topic "
					 "name", w + 3);
				return -EINVAL;
			}
			snprintf(r->to, sizeof(r->to), "%s", w + 3);
		} else if (!strcmp(w, "direct")) {
			r->direct = true;
		} else if (!strcmp(w, "copy")) {
			r->direct = false;
		} else if (!strcmp(w, "any")) {
			r->any = true;
		} else if (!strcmp(w, "all")) {
			r->any = false;
		} else if (!strncmp(w, "header:", 7) && w[7] && w[7] != '=') {
			if (r->nmatch == SL_ROUTE_MATCH_MAX) {
				snprintf(err, errlen, "at most %d header "
					 "conditions", SL_ROUTE_MATCH_MAX);
				return -EINVAL;
			}
			struct match *m = &r->match[r->nmatch++];
			char *eq = strchr(w + 7, '=');
			if (eq)
				*eq = 0;
			if (strlen(w + 7) > HEADER_BYTES_MAX ||
			    (eq && strlen(eq + 1) > HEADER_BYTES_MAX)) {
				snprintf(err, errlen, "a header condition's "
					 "name or value is at most %d bytes",
					 HEADER_BYTES_MAX);
				return -EINVAL;
			}
			snprintf(m->key, sizeof(m->key), "%s", w + 7);
			m->any_value = !eq;
			snprintf(m->value, sizeof(m->value), "%s",
				 eq ? eq + 1 : "");
		} else {
			snprintf(err, errlen, "'%s' is not a word of a rule "
				 "(from=PATTERN to=TOPIC [header:K=V|header:K]"
				 "... [any] [direct])", w);
			return -EINVAL;
		}
	}
	if (!r->from[0] || !r->to[0]) {
		snprintf(err, errlen, "a rule needs from=PATTERN and "
			 "to=TOPIC");
		return -EINVAL;
	}
	if (strlen(r->from) > PATTERN_BYTES_MAX) {
		snprintf(err, errlen, "from=: a pattern is at most %d bytes",
			 PATTERN_BYTES_MAX);
		return -EINVAL;
	}
	for (const char *p = r->from; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789._-*#", *p)) {
			snprintf(err, errlen, "from=%s: a pattern is topic "
				 "name characters, '*' and '#'", r->from);
			return -EINVAL;
		}
	/* a wildcard is a whole word: "ord*" would match nothing */
	for (const char *w = r->from; *w;) {
		const char *e = strchr(w, '.');
		size_t wl = e ? (size_t)(e - w) : strlen(w);
		if (wl > 1 && (memchr(w, '*', wl) || memchr(w, '#', wl))) {
			snprintf(err, errlen, "from=%s: '*' and '#' stand "
				 "alone as a word (orders.*, logs.#)",
				 r->from);
			return -EINVAL;
		}
		w += wl + (e ? 1 : 0);
	}
	if (sl_route_pattern_match(r->from, r->to, strlen(r->to))) {
		snprintf(err, errlen, "to=%s matches from=%s: the rule would "
			 "route its own copies", r->to, r->from);
		return -EINVAL;
	}
	return 0;
}

int sl_route_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct rule *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	int rc = parse(r, text, len, err, errlen);
	free(r);
	return rc;
}


static struct rule *rule_find(struct sl_route *r, const char *name,
			      size_t len)
{
	for (uint32_t i = 0; i < r->nrules; i++)
		if (strlen(r->rules[i]->name) == len &&
		    !memcmp(r->rules[i]->name, name, len))
			return r->rules[i];
	return NULL;
}

static int cmp_rule(const void *a, const void *b)
{
	return strcmp((*(struct rule *const *)a)->name,
		      (*(struct rule *const *)b)->name);
}

static int save_rules(struct sl_route *r)
{
	size_t cap = 64 + (size_t)r->nrules * (SN_ROUTE_NAME_MAX +
					       SN_ROUTE_RULE_MAX + 16);
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	size_t n = 0;
	for (uint32_t i = 0; i < r->nrules; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s\t%u\t%s\n",
				      r->rules[i]->name,
				      r->rules[i]->topic_id_max,
				      r->rules[i]->text);
	int rc = sd_replace(r->disk, r->conf_path, buf, n);
	free(buf);
	return rc;
}

static int load_rules(struct sl_route *r, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	ssize_t n = sd_read_file(r->disk, r->conf_path, CONF_FILE_MAX, &buf);
	if (n == -ENOENT || n == 0)
		return 0; /* no rules (the last one deleted: an empty file) */
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", r->conf_path,
			 strerror((int)-n));
		return (int)n;
	}
	char *p = (char *)buf, *end = p + n;
	unsigned line = 0;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break; /* sd_replace writes whole files: not ours */
		*nl = 0;
		line++;
		char *t1 = strchr(p, '\t');
		char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		struct rule *ru = calloc(1, sizeof(*ru));
		char why[256];
		if (!ru || !t1 || !t2 || t1 - p < 1 ||
		    t1 - p > SN_ROUTE_NAME_MAX ||
		    r->nrules == SL_ROUTE_RULES_MAX ||
		    memchr(p, ' ', (size_t)(t1 - p)) ||
		    rule_find(r, p, (size_t)(t1 - p)) ||
		    parse(ru, t2 + 1, strlen(t2 + 1), why, sizeof(why))) {
			free(ru);
			snprintf(err, errlen, "%s line %u is not a rule: move "
				 "the file away to start without rules",
				 r->conf_path, line);
			free(buf);
			return -EINVAL;
		}
		memcpy(ru->name, p, (size_t)(t1 - p));
		ru->topic_id_max = (uint32_t)strtoul(t1 + 1, NULL, 10);
		snprintf(ru->text, sizeof(ru->text), "%s", t2 + 1);
		r->rules[r->nrules++] = ru;
		p = nl + 1;
	}
	free(buf);
	qsort(r->rules, r->nrules, sizeof(r->rules[0]), cmp_rule);
	return 0;
}

/* ---- positions ---- */

static int save_positions(struct sl_route *r)
{
	size_t cap = 64, n = 0;
	for (struct rsrc *s = r->srcs; s; s = s->next)
		for (struct rpart *p = s->parts; p; p = p->next)
			cap += 48;
	cap += (size_t)r->nsaved * 48;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (struct rsrc *s = r->srcs; s; s = s->next)
		for (struct rpart *p = s->parts; p; p = p->next)
			if (p->position >= 0)
				n += (size_t)snprintf(buf + n, cap - n,
						      "%u %d %lld\n",
						      s->topic_id,
						      p->partition,
						      (long long)p->position);
	/* positions of partitions not routed for now stay */
	for (uint32_t i = 0; i < r->nsaved; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%u %d %lld\n",
				      r->saved[i].topic_id,
				      r->saved[i].partition,
				      (long long)r->saved[i].offset);
	int rc = sd_replace(r->disk, r->pos_path, buf, n);
	free(buf);
	if (rc)
		sl_log("routing: saving %s: %s (the positions are saved "
		       "again in a second)", r->pos_path, strerror(-rc));
	else
		r->pos_dirty = false;
	return rc;
}

static void load_positions(struct sl_route *r)
{
	uint8_t *buf = NULL;
	ssize_t n = sd_read_file(r->disk, r->pos_path, POS_FILE_MAX, &buf);
	if (n <= 0)
		return;
	uint32_t lines = 0;
	for (ssize_t i = 0; i < n; i++)
		lines += buf[i] == '\n';
	r->saved = calloc(lines ? lines : 1, sizeof(*r->saved));
	char *p = (char *)buf, *end = p + n;
	while (r->saved && p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break;
		*nl = 0;
		unsigned id;
		int part;
		long long off;
		if (sscanf(p, "%u %d %lld", &id, &part, &off) == 3 &&
		    off >= 0 && part >= 0)
			r->saved[r->nsaved++] = (struct rsaved){id, part, off};
		p = nl + 1;
	}
	free(buf);
}

static int64_t claim_saved(struct sl_route *r, uint32_t id, int32_t part)
{
	for (uint32_t i = 0; i < r->nsaved; i++)
		if (r->saved[i].topic_id == id &&
		    r->saved[i].partition == part) {
			int64_t off = r->saved[i].offset;
			r->saved[i] = r->saved[--r->nsaved];
			return off;
		}
	return -1;
}

/* ---- destinations ---- */

static void on_appended(void *ctx, uint64_t seq, int32_t partition,
			int16_t err, int64_t offset);

static struct rdest *dest_of(struct sl_route *r, const char *name)
{
	for (struct rdest *d = r->dests; d; d = d->next)
		if (!strcmp(d->name, name))
			return d;
	struct rdest *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	snprintf(d->name, sizeof(d->name), "%s", name);
	if (sl_glog_create(name, r->cfg.kafka_port, &d->log)) {
		free(d);
		return NULL;
	}
	if (r->cfg.kafka_addr)
		sl_glog_set_addr(d->log, r->cfg.kafka_addr);
	d->r = r;
	sl_glog_set_callbacks(d->log, on_appended, NULL, NULL, d);
	d->next = r->dests;
	r->dests = d;
	return d;
}

static bool topic_named(struct sl_route *r, const char *name, uint32_t *id,
			int32_t *parts)
{
	const char *n;
	size_t len;
	for (uint32_t i = 0;
	     r->cfg.topic_at(r->cfg.topic_ctx, i, id, &n, &len, parts); i++)
		if (len == strlen(name) && !memcmp(n, name, len))
			return true;
	return false;
}

static void part_settle(struct sl_route *r, struct rpart *p);

static void on_appended(void *ctx, uint64_t seq, int32_t partition,
			int16_t err, int64_t offset)
{
	(void)partition;
	(void)offset;
	struct rdest *d = ctx;
	struct sl_route *r = d->r;
	for (struct rpending **pp = &r->pending; *pp; pp = &(*pp)->next) {
		struct rpending *w = *pp;
		if (w->d != d || w->seq != seq) /* seqs are per writer */
			continue;
		*pp = w->next;
		if (!w->next)
			r->pending_tail = pp;
		struct rpart *p = w->p; /* NULL: its source went meanwhile */
		if (err) {
			if (p)
				p->failed = true;
			r->st.append_failures++;
		} else {
			if (w->rule) /* NULL: deleted meanwhile */
				w->rule->copied++;
			r->st.copied++;
		}
		free(w);
		if (p) {
			p->pending--;
			part_settle(r, p);
		}
		return;
	}
}

/* ---- matching ---- */

static bool header_matches(const struct rb_record *rec, const struct match *m)
{
	const uint8_t *v;
	int32_t vl;
	if (!rb_header_find(rec, m->key, strlen(m->key), &v, &vl))
		return false;
	if (m->any_value)
		return true;
	return vl >= 0 && (size_t)vl == strlen(m->value) &&
	       !memcmp(v, m->value, (size_t)vl);
}

static bool rule_matches(const struct rule *ru, const struct rb_record *rec)
{
	if (!ru->nmatch)
		return true;
	for (uint32_t i = 0; i < ru->nmatch; i++) {
		bool ok = header_matches(rec, &ru->match[i]);
		if (ok && ru->any)
			return true;
		if (!ok && !ru->any)
			return false;
	}
	return !ru->any;
}

static uint32_t hash_key(const void *k, int32_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (int32_t i = 0; i < n; i++) {
		h ^= ((const uint8_t *)k)[i];
		h *= 16777619u;
	}
	return h;
}

static uint32_t hops_of(const struct rb_record *rec)
{
	const uint8_t *v;
	int32_t vl;
	if (!rb_header_find(rec, "sl-route-hops", 13, &v, &vl) || vl <= 0 ||
	    vl > 3)
		return 0;
	uint32_t h = 0;
	for (int32_t i = 0; i < vl; i++) {
		if (v[i] < '0' || v[i] > '9')
			return 0;
		h = h * 10 + (uint32_t)(v[i] - '0');
	}
	return h;
}

/* Copy rec of p to ru's destination. */
static void copy_to(struct sl_route *r, struct rpart *p, struct rule *ru,
		    const struct rb_record *rec, uint32_t hops)
{
	uint32_t did;
	int32_t dparts;
	if (!topic_named(r, ru->to, &did, &dparts) || dparts < 1) {
		/* the source waits (read again later) until it exists */
		if (!ru->missing_logged)
			sl_log("routing: rule %s: topic %s does not exist; "
			       "%s waits at offset %lld until it does (or "
			       "the rule goes)", ru->name, ru->to,
			       p->src->name, (long long)rec->offset);
		ru->missing_logged = true;
		p->failed = true;
		r->st.append_failures++;
		return;
	}
	ru->missing_logged = false;
	struct rdest *d = dest_of(r, ru->to);
	struct rpending *w = calloc(1, sizeof(*w));
	if (!d || !w) {
		free(w);
		p->failed = true;
		return;
	}
	struct rb_header_kv h[SL_GLOG_HEADERS_MAX];
	uint32_t nh = 0;
	for (int32_t i = 0; i < rec->nheaders && nh < SL_GLOG_HEADERS_MAX - 2;
	     i++) {
		const char *k;
		size_t kl;
		const uint8_t *v;
		int32_t vl;
		if (!rb_header_at(rec, i, &k, &kl, &v, &vl))
			break;
		if ((kl == 13 && !memcmp(k, "sl-route-hops", 13)) ||
		    (kl == 14 && !memcmp(k, "sl-routed-from", 14)))
			continue;
		h[nh++] = (struct rb_header_kv){k, kl, v, vl};
	}
	char from[SN_NAME_MAX + 48], hop[16];
	int fl = snprintf(from, sizeof(from), "%s/%d/%lld", p->src->name,
			  p->partition, (long long)rec->offset);
	int hl = snprintf(hop, sizeof(hop), "%u", hops + 1);
	h[nh++] = (struct rb_header_kv){"sl-routed-from", 14, from, fl};
	h[nh++] = (struct rb_header_kv){"sl-route-hops", 13, hop, hl};
	struct sl_glog_rec gr = {
		.key = rec->key, .key_len = rec->key ? rec->klen : -1,
		.value = rec->vlen >= 0 ? rec->value : NULL,
		.value_len = rec->vlen, .headers = h, .nheaders = nh};
	int32_t dp = rec->key ? (int32_t)(hash_key(rec->key, rec->klen) %
					  (uint32_t)dparts) :
		     p->partition % dparts;
	if (sl_glog_append(d->log, dp, &gr, 1, rec->timestamp, &w->seq)) {
		free(w);
		p->failed = true;
		r->st.append_failures++;
		return;
	}
	w->d = d;
	w->p = p;
	w->rule = ru;
	w->next = NULL;
	*r->pending_tail = w;
	r->pending_tail = &w->next;
	p->pending++;
}

static void route_record(struct sl_route *r, struct rpart *p,
			 const struct rb_record *rec)
{
	uint32_t hops = hops_of(rec);
	if (hops >= SL_ROUTE_HOPS_MAX) {
		r->st.hops_dropped++;
		return;
	}
	bool directed = false;
	for (uint32_t i = 0; i < r->nrules; i++) {
		struct rule *ru = r->rules[i];
		if ((ru->direct && directed) ||
		    !sl_route_pattern_match(ru->from, p->src->name,
					    p->src->name_len) ||
		    !rule_matches(ru, rec))
			continue;
		directed |= ru->direct;
		copy_to(r, p, ru, rec, hops);
	}
}

/* ---- sources ---- */

static struct rpart *part_find(struct rsrc *s, int32_t partition)
{
	for (struct rpart *p = s->parts; p; p = p->next)
		if (p->partition == partition)
			return p;
	return NULL;
}

static void on_batch(void *ctx, int32_t partition, const uint8_t *b,
		     size_t len)
{
	struct rsrc *s = ctx;
	struct rpart *p = part_find(s, partition);
	if (!p || !p->reading || p->locating)
		return;
	struct rb_header h;
	rb_header_decode(b, &h);
	if (h.attributes & RB_ATTR_CONTROL)
		return; /* a transaction marker */
	struct rb_iter it;
	uint8_t *plain;
	if (sl_batch_records(&it, b, len, 64u << 20, &plain)) {
		sl_log("routing: %s-%d: a batch at %lld cannot be read (its "
		       "compression); its messages are not routed", s->name,
		       partition, (long long)h.base_offset);
		return;
	}
	struct rb_record rec;
	while (rb_iter_next(&it, &rec) == 1)
		if (rec.offset >= p->read_from)
			route_record(s->r, p, &rec);
	free(plain);
}

static void on_read_done(void *ctx, int32_t partition, int16_t err)
{
	struct rsrc *s = ctx;
	struct rpart *p = part_find(s, partition);
	if (!p || !p->reading)
		return;
	p->read_done = true;
	p->read_next = sl_glog_read_next(s->log, partition);
	if (p->locating && !err) {
		/* where the log ends: the answer's high watermark (none from
		 * below the log's start: asked again from there) */
		int64_t hw = sl_glog_high_watermark(s->log, partition);
		if (hw < 0) {
			p->locate_from = p->read_next;
			p->failed = true;
		} else {
			p->read_next = hw;
		}
	}
	if (err) {
		/* not led here (a cluster), or the listener went: later */
		p->failed = true;
		s->r->st.read_failures++;
	}
	part_settle(s->r, p);
}

/* A read and all its copies done: move on (or read again). */
static void part_settle(struct sl_route *r, struct rpart *p)
{
	if (!p->reading || !p->read_done || p->pending)
		return;
	p->reading = false;
	p->read_done = false;
	if (p->failed) {
		p->failed = false;
		p->next_read_ms = r->now_ms + SL_ROUTE_POLL_MS * 5;
		return;
	}
	if (p->locating) {
		p->locating = false;
		if (p->read_next >= 0) {
			p->position = p->read_next;
			r->pos_dirty = true;
		}
		return;
	}
	if (p->read_next > p->position) {
		p->position = p->read_next;
		r->pos_dirty = true;
	}
	/* again at once: a read at the log's end waits there */
	p->next_read_ms = r->now_ms;
}

static void src_free(struct sl_route *r, struct rsrc *s)
{
	for (struct rpending *w = r->pending; w; w = w->next)
		if (w->p && w->p->src == s)
			w->p = NULL; /* its answer changes nothing now */
	while (s->parts) {
		struct rpart *p = s->parts;
		s->parts = p->next;
		free(p);
	}
	sl_glog_destroy(s->log);
	free(s);
}

/* The sources the rules name now: made for new matches, dropped for
 * topics no rule matches (their positions kept for later). */
static void sync_sources(struct sl_route *r)
{
	for (struct rsrc *s = r->srcs; s; s = s->next)
		s->seen = false;
	uint32_t id;
	const char *name;
	size_t len;
	int32_t parts;
	for (uint32_t i = 0;
	     r->cfg.topic_at(r->cfg.topic_ctx, i, &id, &name, &len, &parts);
	     i++) {
		uint32_t newest = 0;
		bool matched = false;
		for (uint32_t k = 0; k < r->nrules; k++)
			if (sl_route_pattern_match(r->rules[k]->from, name,
						   len)) {
				matched = true;
				if (r->rules[k]->topic_id_max > newest)
					newest = r->rules[k]->topic_id_max;
			}
		if (!matched)
			continue;
		struct rsrc *s = r->srcs;
		while (s && s->topic_id != id)
			s = s->next;
		if (!s) {
			s = calloc(1, sizeof(*s));
			if (!s)
				return;
			s->r = r;
			s->topic_id = id;
			s->name_len = len < SN_NAME_MAX ? len : SN_NAME_MAX;
			memcpy(s->name, name, s->name_len);
			if (sl_glog_create(s->name, r->cfg.kafka_port,
					   &s->log)) {
				free(s);
				return;
			}
			if (r->cfg.kafka_addr)
				sl_glog_set_addr(s->log, r->cfg.kafka_addr);
			sl_glog_set_callbacks(s->log, NULL, NULL,
					      on_read_done, s);
			sl_glog_set_batch_callback(s->log, on_batch);
			/* at the log's end a read waits for more */
			sl_glog_set_read_wait(s->log, SL_ROUTE_POLL_MS);
			s->next = r->srcs;
			r->srcs = s;
		}
		s->seen = true;
		s->partitions = parts;
		for (int32_t k = 0; k < parts; k++) {
			if (part_find(s, k))
				continue;
			struct rpart *p = calloc(1, sizeof(*p));
			if (!p)
				return;
			p->src = s;
			p->partition = k;
			p->position = claim_saved(r, id, k);
			/* a topic younger than every rule that matches it
			 * is routed from its start; else from now */
			if (p->position < 0 && id > newest)
				p->position = 0;
			p->next = s->parts;
			s->parts = p;
		}
	}
	for (struct rsrc **pp = &r->srcs; *pp;) {
		struct rsrc *s = *pp;
		bool busy = false;
		for (struct rpart *p = s->parts; p; p = p->next)
			busy |= p->reading;
		if (s->seen || busy) {
			pp = &s->next;
			continue;
		}
		/* keep its positions: a rule may match it again */
		for (struct rpart *p = s->parts; p; p = p->next) {
			if (p->position < 0)
				continue;
			struct rsaved *n = realloc(r->saved,
						   (r->nsaved + 1) *
						   sizeof(*n));
			if (!n)
				break;
			r->saved = n;
			r->saved[r->nsaved++] = (struct rsaved){
				s->topic_id, p->partition, p->position};
		}
		*pp = s->next;
		src_free(r, s);
	}
}

static void start_reads(struct sl_route *r)
{
	for (struct rsrc *s = r->srcs; s; s = s->next)
		for (struct rpart *p = s->parts; p; p = p->next) {
			if (p->reading || p->next_read_ms > r->now_ms)
				continue;
			p->locating = p->position < 0;
			p->read_from = p->locating ? p->locate_from :
						     p->position;
			if (sl_glog_read_once(s->log, p->partition,
					      p->read_from))
				continue;
			p->reading = true;
			p->read_done = false;
			p->failed = false;
		}
}

/* ---- requests ---- */

static long answer(struct sl_route *r, uint32_t corr, int16_t error,
		   const char *msg, bool list)
{
	struct sn_route_builder b;
	size_t ml = msg ? strlen(msg) : 0;
	sn_route_resp_begin(&b, r->out, sizeof(r->out), msg ? msg : "",
			    (uint16_t)ml);
	for (uint32_t i = 0; list && i < r->nrules; i++) {
		const struct rule *ru = r->rules[i];
		struct sn_route_entry e = {
			ru->name, (uint16_t)strlen(ru->name), ru->text,
			(uint16_t)strlen(ru->text), ru->copied};
		if (sn_route_resp_add(&b, &e))
			break;
	}
	return sn_route_resp_finish(&b, corr, error);
}

static uint32_t topic_id_max(struct sl_route *r)
{
	uint32_t id, max = 0;
	const char *name;
	size_t len;
	int32_t parts;
	for (uint32_t i = 0;
	     r->cfg.topic_at(r->cfg.topic_ctx, i, &id, &name, &len, &parts);
	     i++)
		if (id > max)
			max = id;
	return max;
}

bool sl_route_serves(uint8_t opcode)
{
	return opcode == SN_ROUTE;
}

int sl_route_request(struct sl_route *r, uint64_t token, const uint8_t *req,
		     size_t len, int64_t now_ms)
{
	if (len < SN_HEADER_BYTES || req[3] != SN_ROUTE)
		return -EINVAL;
	r->now_ms = now_ms;
	uint32_t corr = (uint32_t)token;
	struct sn_route q;
	char err[512] = "";
	long n;
	int rc = sn_decode_route(req, len, &q);
	if (rc) {
		n = answer(r, corr, (int16_t)-rc, "malformed ROUTE request",
			   false);
	} else if (q.op == SN_ROUTE_LIST) {
		n = answer(r, corr, 0, NULL, true);
	} else if (q.op == SN_ROUTE_DELETE) {
		struct rule *ru = rule_find(r, q.name, q.name_len);
		if (!ru) {
			n = answer(r, corr, SN_ERR_INVALID_REQUEST,
				   "no rule of that name", false);
		} else {
			for (uint32_t i = 0; i < r->nrules; i++)
				if (r->rules[i] == ru)
					memmove(&r->rules[i], &r->rules[i + 1],
						(r->nrules - i - 1) *
						sizeof(r->rules[0]));
			r->nrules--;
			for (struct rpending *w = r->pending; w; w = w->next)
				if (w->rule == ru)
					w->rule = NULL;
			rc = save_rules(r);
			sl_log("routing: rule %s deleted", ru->name);
			free(ru);
			n = rc ? answer(r, corr, SN_ERR_KAFKA_STORAGE_ERROR,
					"the rules file could not be saved",
					false) :
				 answer(r, corr, 0, NULL, false);
			sync_sources(r);
		}
	} else {
		struct rule *ru = calloc(1, sizeof(*ru));
		uint32_t did;
		int32_t dparts;
		bool valid_name = q.name_len > 0;
		for (uint16_t i = 0; i < q.name_len; i++)
			valid_name &= q.name[i] > ' ' && q.name[i] != 0x7f;
		struct rule *old = rule_find(r, q.name, q.name_len);
		if (!ru) {
			n = -ENOMEM;
		} else if (!valid_name) {
			n = answer(r, corr, SN_ERR_INVALID_REQUEST,
				   "a rule's name is 1..64 printable bytes "
				   "without spaces", false);
		} else if (parse(ru, q.rule, q.rule_len, err, sizeof(err))) {
			n = answer(r, corr, SN_ERR_INVALID_REQUEST, err,
				   false);
		} else if (!topic_named(r, ru->to, &did, &dparts)) {
			snprintf(err, sizeof(err), "to=%s: no such topic: "
				 "create it first", ru->to);
			n = answer(r, corr, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION,
				   err, false);
		} else if (!old && r->nrules == SL_ROUTE_RULES_MAX) {
			n = answer(r, corr, SN_ERR_INVALID_REQUEST,
				   "the broker has its most rules (256)",
				   false);
		} else {
			memcpy(ru->name, q.name, q.name_len);
			memcpy(ru->text, q.rule, q.rule_len);
			ru->topic_id_max = old ? old->topic_id_max :
					   topic_id_max(r);
			if (old) {
				ru->copied = old->copied;
				for (uint32_t i = 0; i < r->nrules; i++)
					if (r->rules[i] == old)
						r->rules[i] = ru;
				for (struct rpending *w = r->pending; w;
				     w = w->next)
					if (w->rule == old)
						w->rule = ru;
				free(old);
			} else {
				r->rules[r->nrules++] = ru;
				qsort(r->rules, r->nrules,
				      sizeof(r->rules[0]), cmp_rule);
			}
			ru = NULL;
			rc = save_rules(r);
			sl_log("routing: rule %.*s: %.*s", (int)q.name_len,
			       q.name, (int)q.rule_len, q.rule);
			sync_sources(r);
			start_reads(r);
			struct rput *w = rc ? NULL : calloc(1, sizeof(*w));
			if (w) {
				/* answered when its partitions are placed */
				w->token = token;
				w->deadline_ms = now_ms + PUT_WAIT_MS;
				w->next = r->puts;
				r->puts = w;
				free(ru);
				return 0;
			}
			n = rc ? answer(r, corr, SN_ERR_KAFKA_STORAGE_ERROR,
					"the rules file could not be saved",
					false) :
				 answer(r, corr, 0, NULL, false);
		}
		free(ru);
	}
	if (n <= 0)
		n = sn_encode_error_resp(r->out, sizeof(r->out), SN_ROUTE,
					 corr, SN_ERR_UNKNOWN_SERVER_ERROR);
	r->cfg.reply(r->cfg.reply_ctx, token, r->out, (size_t)n);
	return 0;
}

/* ---- life ---- */

int sl_route_create(const struct sl_route_config *cfg, int64_t now_ms,
		    struct sl_route **out, char *err, size_t errlen)
{
	struct sl_route *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cfg = *cfg;
	r->disk = cfg->disk ? cfg->disk : &sdisk_posix;
	r->pending_tail = &r->pending;
	r->now_ms = now_ms;
	if (snprintf(r->conf_path, sizeof(r->conf_path), "%s/routes.conf",
		     cfg->dir) >= (int)sizeof(r->conf_path) ||
	    snprintf(r->pos_path, sizeof(r->pos_path), "%s/routes.pos",
		     cfg->dir) >= (int)sizeof(r->pos_path)) {
		snprintf(err, errlen, "%s: path too long", cfg->dir);
		free(r);
		return -ENAMETOOLONG;
	}
	int rc = load_rules(r, err, errlen);
	if (rc) {
		sl_route_destroy(r);
		return rc;
	}
	load_positions(r);
	if (r->nrules)
		sl_log("routing: %u rules", r->nrules);
	r->next_save_ms = now_ms + SL_ROUTE_SAVE_MS;
	*out = r;
	return 0;
}

void sl_route_destroy(struct sl_route *r)
{
	if (!r)
		return;
	if (r->pos_dirty)
		(void)save_positions(r);
	while (r->puts) {
		struct rput *w = r->puts;
		r->puts = w->next;
		free(w);
	}
	r->pending_tail = &r->pending;
	while (r->pending) {
		struct rpending *w = r->pending;
		r->pending = w->next;
		free(w);
	}
	while (r->srcs) {
		struct rsrc *s = r->srcs;
		r->srcs = s->next;
		src_free(r, s);
	}
	while (r->dests) {
		struct rdest *d = r->dests;
		r->dests = d->next;
		sl_glog_destroy(d->log);
		free(d);
	}
	for (uint32_t i = 0; i < r->nrules; i++)
		free(r->rules[i]);
	free(r->saved);
	free(r);
}

uint32_t sl_route_pollfds(const struct sl_route *r, struct pollfd *pfd,
			  uint32_t max)
{
	uint32_t n = 0;
	for (const struct rsrc *s = r->srcs; s && n < max; s = s->next)
		n += sl_glog_pollfd(s->log, &pfd[n]);
	for (const struct rdest *d = r->dests; d && n < max; d = d->next)
		n += sl_glog_pollfd(d->log, &pfd[n]);
	return n;
}

int sl_route_timeout_ms(const struct sl_route *r, int64_t now_ms)
{
	if (!r->nrules && !r->srcs && !r->dests)
		return -1;
	int64_t at = r->pos_dirty ? r->next_save_ms : INT64_MAX;
	for (const struct rput *w = r->puts; w; w = w->next)
		if (w->deadline_ms < at)
			at = w->deadline_ms;
	for (const struct rsrc *s = r->srcs; s; s = s->next) {
		int t = sl_glog_timeout_ms(s->log, now_ms);
		if (t >= 0 && now_ms + t < at)
			at = now_ms + t;
		for (const struct rpart *p = s->parts; p; p = p->next)
			if (!p->reading && p->next_read_ms < at)
				at = p->next_read_ms;
	}
	for (const struct rdest *d = r->dests; d; d = d->next) {
		int t = sl_glog_timeout_ms(d->log, now_ms);
		if (t >= 0 && now_ms + t < at)
			at = now_ms + t;
	}
	/* topics come and go: look again now and then */
	if (r->nrules && now_ms + SL_ROUTE_SAVE_MS < at)
		at = now_ms + SL_ROUTE_SAVE_MS;
	if (at == INT64_MAX)
		return -1;
	return at <= now_ms ? 0 : (int)(at - now_ms < INT_MAX ?
					 at - now_ms : INT_MAX);
}

/* Every routed partition placed (a position), or none waits. */
static bool all_placed(const struct sl_route *r)
{
	for (const struct rsrc *s = r->srcs; s; s = s->next)
		for (const struct rpart *p = s->parts; p; p = p->next)
			if (p->position < 0)
				return false;
	return true;
}

static void answer_puts(struct sl_route *r)
{
	bool placed = all_placed(r);
	for (struct rput **pp = &r->puts; *pp;) {
		struct rput *w = *pp;
		if (!placed && r->now_ms < w->deadline_ms) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		long n = placed ? answer(r, (uint32_t)w->token, 0, NULL,
					 false) :
			 answer(r, (uint32_t)w->token,
				SN_ERR_REQUEST_TIMED_OUT,
				"the rule is saved, but a partition it "
				"matches could not be read yet (see the "
				"broker's log): messages produced before "
				"it is may not be routed", false);
		if (n > 0)
			r->cfg.reply(r->cfg.reply_ctx, w->token, r->out,
				     (size_t)n);
		free(w);
	}
}

void sl_route_do_work(struct sl_route *r, int64_t now_ms)
{
	r->now_ms = now_ms;
	for (struct rsrc *s = r->srcs; s; s = s->next)
		sl_glog_do_work(s->log, now_ms);
	for (struct rdest *d = r->dests; d; d = d->next)
		sl_glog_do_work(d->log, now_ms);
	if ((r->nrules || r->srcs) && now_ms >= r->next_sync_ms) {
		sync_sources(r);
		r->next_sync_ms = now_ms + SL_ROUTE_POLL_MS;
	}
	start_reads(r);
	if (r->puts)
		answer_puts(r);
	if (r->pos_dirty && now_ms >= r->next_save_ms) {
		(void)save_positions(r);
		r->next_save_ms = now_ms + SL_ROUTE_SAVE_MS;
	}
}

void sl_route_get_stats(const struct sl_route *r, struct sl_route_stats *out)
{
	*out = r->st;
}
