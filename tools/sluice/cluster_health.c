/*
 * `sluice cluster status`: the verdict and its printing (contract in
 * cluster_health.h).
 */
#include <assert.h>
#include <inttypes.h>
#include <string.h>

#include "tools/sluice/cluster_health.h"

#define NOT_LEADER_OR_FOLLOWER 6

static const struct ch_broker *broker_of(const struct ch_cluster *c,
					 int32_t id)
{
	for (unsigned i = 0; i < c->n_brokers; i++)
		if (c->brokers[i].id == id)
			return &c->brokers[i];
	return NULL;
}

static bool is_voter(const struct ch_cluster *c, int32_t id)
{
	for (unsigned i = 0; i < c->quorum.n_voters; i++)
		if (c->quorum.voters[i].id == id)
			return true;
	return false;
}

static bool in_isr(const struct ch_partition *p, int32_t id)
{
	for (unsigned i = 0; i < p->n_isr; i++)
		if (p->isr[i] == id)
			return true;
	return false;
}

static bool leaderless(const struct ch_partition *p)
{
	return p->leader < 0;
}

static bool under_replicated(const struct ch_partition *p)
{
	return p->n_isr + p->n_adding < p->n_replicas;
}

static bool is_adding(const struct ch_partition *p, int32_t id)
{
	for (unsigned i = 0; i < p->n_adding; i++)
		if (p->adding[i] == id)
			return true;
	return false;
}

/* Add id to the ascending set out[0..*n) unless it is a listed broker
 * or already there (or the set is full). */
static void add_unlisted(const struct ch_cluster *c, int32_t id, int32_t *out,
			 unsigned *n, unsigned cap)
{
	if (broker_of(c, id))
		return;
	unsigned j = 0;
	while (j < *n && out[j] < id)
		j++;
	if ((j < *n && out[j] == id) || *n == cap)
		return;
	memmove(&out[j + 1], &out[j], (*n - j) * sizeof(*out));
	out[j] = id;
	(*n)++;
}

/* The node ids the cluster names (replicas, voters) but does not list as
 * brokers, ascending, without repeats: how many, up to cap, in out. */
static unsigned unlisted(const struct ch_cluster *c, int32_t *out,
			 unsigned cap)
{
	unsigned n = 0;
	for (unsigned t = 0; t < c->n_topics; t++)
		for (unsigned k = 0; k < c->topics[t].n_partitions; k++) {
			const struct ch_partition *p =
				&c->topics[t].partitions[k];
			for (unsigned i = 0; i < p->n_replicas; i++)
				add_unlisted(c, p->replicas[i], out, &n, cap);
		}
	for (unsigned i = 0; i < c->quorum.n_voters; i++)
		add_unlisted(c, c->quorum.voters[i].id, out, &n, cap);
	assert(n <= cap);
	return n;
}

/* The leader's own entry: its log end and its clock. */
static const struct ch_voter *leader_voter(const struct ch_quorum *q)
{
	for (unsigned i = 0; i < q->n_voters; i++)
		if (q->voters[i].id == q->leader_id)
			return &q->voters[i];
	return NULL;
}

static int64_t voter_lag(const struct ch_quorum *q, const struct ch_voter *v)
{
	const struct ch_voter *l = leader_voter(q);
	int64_t end = l && l->log_end_offset >= 0 ? l->log_end_offset :
						    q->high_watermark;
	if (v->log_end_offset < 0)
		return -1;
	return end > v->log_end_offset ? end - v->log_end_offset : 0;
}

static bool voter_behind(const struct ch_quorum *q, const struct ch_voter *v)
{
	if (v->id == q->leader_id)
		return false;
	if (v->log_end_offset < 0)
		return true;
	const struct ch_voter *l = leader_voter(q);
	int64_t now = l ? l->last_caught_up_ms : -1;
	return now >= 0 && v->last_fetch_ms >= 0 &&
	       now - v->last_fetch_ms > CH_VOTER_STALE_MS;
}

void ch_assess(const struct ch_cluster *c, struct ch_health *h)
{
	assert(c->n_brokers <= CH_BROKERS_MAX &&
	       c->quorum.n_voters <= CH_VOTERS_MAX);
	memset(h, 0, sizeof(*h));
	for (unsigned i = 0; i < c->n_brokers; i++)
		h->brokers_down += c->brokers[i].fenced;
	int32_t ids[CH_BROKERS_MAX];
	h->brokers_down += unlisted(c, ids, CH_BROKERS_MAX);
	h->topics = c->n_topics;
	for (unsigned t = 0; t < c->n_topics; t++) {
		const struct ch_topic *tp = &c->topics[t];
		h->partitions += tp->n_partitions;
		for (unsigned k = 0; k < tp->n_partitions; k++) {
			h->leaderless += leaderless(&tp->partitions[k]);
			h->under_replicated +=
				under_replicated(&tp->partitions[k]);
		}
	}
	const struct ch_quorum *q = &c->quorum;
	h->quorum_ok = true;
	if (q->known) {
		for (unsigned i = 0; i < q->n_voters; i++)
			h->voters_behind += voter_behind(q, &q->voters[i]);
		h->quorum_ok = !q->error && q->leader_id >= 0 &&
			       !h->voters_behind;
	}
	h->healthy = !h->brokers_down && !h->leaderless &&
		     !h->under_replicated && h->quorum_ok;
	assert(h->leaderless <= h->partitions &&
	       h->under_replicated <= h->partitions);
}

int ch_exit_code(const struct ch_health *h)
{
	return h->healthy ? 0 : 1;
}

/* ---- text ---- */

static void print_ids(FILE *f, const int32_t *ids, unsigned n)
{
	fputc('[', f);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "%s%" PRId32, i ? "," : "", ids[i]);
	fputc(']', f);
}

static void print_partition(FILE *f, const char *topic,
			    const struct ch_partition *p)
{
	fprintf(f, "  %s-%" PRId32 "  leader ", topic, p->index);
	if (p->leader < 0)
		fprintf(f, "none");
	else
		fprintf(f, "%" PRId32, p->leader);
	fprintf(f, "  replicas ");
	print_ids(f, p->replicas, p->n_replicas);
	fprintf(f, "  isr ");
	print_ids(f, p->isr, p->n_isr);
	if (p->high_watermark >= 0)
		fprintf(f, "  high watermark %" PRId64, p->high_watermark);
	else
		fprintf(f, "  high watermark unknown");
	if (p->n_adding || p->n_removing) {
		fprintf(f, "  reassigning: adding ");
		print_ids(f, p->adding, p->n_adding);
		fprintf(f, " removing ");
		print_ids(f, p->removing, p->n_removing);
	}
	if (leaderless(p))
		fprintf(f, "  LEADERLESS");
	if (under_replicated(p)) {
		fprintf(f, "  UNDER-REPLICATED (out of sync:");
		for (unsigned i = 0; i < p->n_replicas; i++)
			if (!in_isr(p, p->replicas[i]) &&
			    !is_adding(p, p->replicas[i]))
				fprintf(f, " %" PRId32, p->replicas[i]);
		fputc(')', f);
	}
	fputc('\n', f);
}

static void print_age(FILE *f, int64_t now, int64_t then)
{
	if (then < 0 || now < 0)
		fprintf(f, "%-12s", "unknown");
	else
		fprintf(f, "%-12.1f", (double)(now - then) / 1000.0);
}

static void print_quorum(FILE *f, const struct ch_cluster *c)
{
	const struct ch_quorum *q = &c->quorum;
	fprintf(f, "quorum (__cluster_metadata)\n");
	if (!q->known) {
		fprintf(f, "  not described (the broker does not serve "
			   "DescribeQuorum)\n");
		return;
	}
	if (q->leader_id < 0)
		fprintf(f, "  NO LEADER");
	else
		fprintf(f, "  leader %" PRId32, q->leader_id);
	fprintf(f, ", epoch %" PRId32 ", high watermark %" PRId64, q->epoch,
		q->high_watermark);
	if (q->error == NOT_LEADER_OR_FOLLOWER)
		fprintf(f, " (as %s sees it: no controller answered)", c->via);
	else if (q->error)
		fprintf(f, " (error %d)", q->error);
	fputc('\n', f);
	const struct ch_voter *l = leader_voter(q);
	int64_t now = l ? l->last_caught_up_ms : -1;
	fprintf(f, "  %-6s %-12s %-8s %-12s %s\n", "voter", "log end", "lag",
		"replied (s)", "state");
	for (unsigned i = 0; i < q->n_voters; i++) {
		const struct ch_voter *v = &q->voters[i];
		fprintf(f, "  %-6" PRId32 " ", v->id);
		if (v->log_end_offset < 0)
			fprintf(f, "%-12s %-8s ", "unknown", "unknown");
		else
			fprintf(f, "%-12" PRId64 " %-8" PRId64 " ",
				v->log_end_offset, voter_lag(q, v));
		if (v->id == q->leader_id)
			fprintf(f, "%-12s leader\n", "-");
		else {
			print_age(f, now, v->last_fetch_ms);
			fprintf(f, " %s\n", voter_behind(q, v) ? "BEHIND" :
								  "in step");
		}
	}
}

static void print_summary(FILE *f, const struct ch_cluster *c,
			  const struct ch_health *h)
{
	fprintf(f, "%s: %u broker%s, %u topic%s, %u partition%s",
		h->healthy ? "healthy" : "UNHEALTHY", c->n_brokers,
		c->n_brokers == 1 ? "" : "s", h->topics,
		h->topics == 1 ? "" : "s", h->partitions,
		h->partitions == 1 ? "" : "s");
	for (unsigned i = 0; i < c->n_brokers; i++)
		if (c->brokers[i].fenced)
			fprintf(f, "; broker %" PRId32 " fenced",
				c->brokers[i].id);
	int32_t ids[CH_BROKERS_MAX];
	unsigned n = unlisted(c, ids, CH_BROKERS_MAX);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "; broker %" PRId32 " not registered", ids[i]);
	if (h->leaderless)
		fprintf(f, "; %u partition%s without a leader", h->leaderless,
			h->leaderless == 1 ? "" : "s");
	if (h->under_replicated)
		fprintf(f, "; %u under-replicated", h->under_replicated);
	if (!c->quorum.known)
		fprintf(f, "; quorum not described");
	else if (c->quorum.leader_id < 0 || c->quorum.error)
		fprintf(f, "; quorum without a leader");
	else
		fprintf(f, "; quorum led by %" PRId32 " (epoch %" PRId32 ")",
			c->quorum.leader_id, c->quorum.epoch);
	if (h->voters_behind)
		fprintf(f, ", %u voter%s behind", h->voters_behind,
			h->voters_behind == 1 ? "" : "s");
	fputc('\n', f);
}

void ch_print_text(FILE *f, const struct ch_cluster *c,
		   const struct ch_health *h)
{
	fprintf(f, "brokers (as %s sees them)\n", c->via);
	fprintf(f, "  %-6s %-28s %-9s %s\n", "id", "address", "state", "role");
	for (unsigned i = 0; i < c->n_brokers; i++) {
		const struct ch_broker *b = &c->brokers[i];
		char addr[CH_HOST_MAX + 16];
		snprintf(addr, sizeof(addr), "%s:%" PRId32, b->host, b->port);
		fprintf(f, "  %-6" PRId32 " %-28s %-9s %s%s\n", b->id, addr,
			b->fenced ? "FENCED" : "unfenced",
			is_voter(c, b->id) ? "voter" : "broker",
			c->quorum.known && c->quorum.leader_id == b->id ?
				", active controller" : "");
	}
	int32_t ids[CH_BROKERS_MAX];
	unsigned n = unlisted(c, ids, CH_BROKERS_MAX);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "  %-6" PRId32 " %-28s %-9s %s\n", ids[i], "-",
			"MISSING", "named by the metadata, not registered");
	print_quorum(f, c);
	fprintf(f, "partitions\n");
	if (!h->leaderless && !h->under_replicated)
		fprintf(f, "  all %u partition%s of %u topic%s led, every "
			   "replica in sync\n", h->partitions,
			h->partitions == 1 ? "" : "s", h->topics,
			h->topics == 1 ? "" : "s");
	for (unsigned t = 0; t < c->n_topics; t++)
		for (unsigned k = 0; k < c->topics[t].n_partitions; k++) {
			const struct ch_partition *p =
				&c->topics[t].partitions[k];
			if (leaderless(p) || under_replicated(p))
				print_partition(f, c->topics[t].name, p);
		}
	if (h->partitions)
		fprintf(f, "every partition (high watermark: its leader's "
			   "answer)\n");
	for (unsigned t = 0; t < c->n_topics; t++)
		for (unsigned k = 0; k < c->topics[t].n_partitions; k++)
			print_partition(f, c->topics[t].name,
					&c->topics[t].partitions[k]);
	print_summary(f, c, h);
}

/* ---- JSON ---- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void json_ids(FILE *f, const int32_t *ids, unsigned n)
{
	fputc('[', f);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "%s%" PRId32, i ? "," : "", ids[i]);
	fputc(']', f);
}

static bool any_partition(const struct ch_partition *p)
{
	(void)p;
	return true;
}

/* The partitions for which pick() is true, as a JSON array. */
static void json_partitions(FILE *f, const struct ch_cluster *c,
			    bool (*pick)(const struct ch_partition *))
{
	bool first = true;
	fputc('[', f);
	for (unsigned t = 0; t < c->n_topics; t++)
		for (unsigned k = 0; k < c->topics[t].n_partitions; k++) {
			const struct ch_partition *p =
				&c->topics[t].partitions[k];
			if (!pick(p))
				continue;
			fprintf(f, "%s{\"topic\":", first ? "" : ",");
			json_str(f, c->topics[t].name);
			fprintf(f, ",\"partition\":%" PRId32
				   ",\"leader\":%" PRId32 ",\"replicas\":",
				p->index, p->leader);
			json_ids(f, p->replicas, p->n_replicas);
			fprintf(f, ",\"isr\":");
			json_ids(f, p->isr, p->n_isr);
			if (p->n_adding || p->n_removing) {
				fprintf(f, ",\"adding\":");
				json_ids(f, p->adding, p->n_adding);
				fprintf(f, ",\"removing\":");
				json_ids(f, p->removing, p->n_removing);
			}
			fprintf(f, ",\"high_watermark\":%" PRId64 "}",
				p->high_watermark);
			first = false;
		}
	fputc(']', f);
}

void ch_print_json(FILE *f, const struct ch_cluster *c,
		   const struct ch_health *h)
{
	const struct ch_quorum *q = &c->quorum;
	fprintf(f, "{\"healthy\":%s,\"exit_code\":%d,\"via\":",
		h->healthy ? "true" : "false", ch_exit_code(h));
	json_str(f, c->via);
	fprintf(f, ",\"brokers\":[");
	for (unsigned i = 0; i < c->n_brokers; i++) {
		const struct ch_broker *b = &c->brokers[i];
		fprintf(f, "%s{\"id\":%" PRId32 ",\"host\":", i ? "," : "",
			b->id);
		json_str(f, b->host);
		fprintf(f, ",\"port\":%" PRId32 ",\"fenced\":%s,\"voter\":%s,"
			   "\"controller\":%s}",
			b->port, b->fenced ? "true" : "false",
			is_voter(c, b->id) ? "true" : "false",
			q->known && q->leader_id == b->id ? "true" : "false");
	}
	int32_t ids[CH_BROKERS_MAX];
	unsigned n = unlisted(c, ids, CH_BROKERS_MAX);
	fprintf(f, "],\"missing_brokers\":");
	json_ids(f, ids, n);
	if (!q->known) {
		fprintf(f, ",\"quorum\":null");
	} else {
		const struct ch_voter *l = leader_voter(q);
		int64_t now = l ? l->last_caught_up_ms : -1;
		fprintf(f, ",\"quorum\":{\"ok\":%s,\"error_code\":%d,"
			   "\"leader\":%" PRId32 ",\"epoch\":%" PRId32
			   ",\"high_watermark\":%" PRId64 ",\"voters\":[",
			h->quorum_ok ? "true" : "false", q->error,
			q->leader_id, q->epoch, q->high_watermark);
		for (unsigned i = 0; i < q->n_voters; i++) {
			const struct ch_voter *v = &q->voters[i];
			fprintf(f, "%s{\"id\":%" PRId32
				   ",\"log_end_offset\":%" PRId64
				   ",\"lag\":%" PRId64
				   ",\"last_fetch_ms\":%" PRId64
				   ",\"last_caught_up_ms\":%" PRId64
				   ",\"replied_ms_ago\":%" PRId64
				   ",\"behind\":%s}",
				i ? "," : "", v->id, v->log_end_offset,
				voter_lag(q, v), v->last_fetch_ms,
				v->last_caught_up_ms,
				now >= 0 && v->last_fetch_ms >= 0 ?
					now - v->last_fetch_ms : -1,
				voter_behind(q, v) ? "true" : "false");
		}
		fprintf(f, "]}");
	}
	fprintf(f, ",\"topics\":%u,\"partitions\":%u,\"leaderless\":",
		h->topics, h->partitions);
	json_partitions(f, c, leaderless);
	fprintf(f, ",\"under_replicated\":");
	json_partitions(f, c, under_replicated);
	fprintf(f, ",\"every_partition\":");
	json_partitions(f, c, any_partition);
	fprintf(f, "}\n");
}
