/*
 * `sluice queue`: a topic read as a queue by the share group of the same
 * name (docs/queues.md), through a broker's Kafka listener (default
 * 127.0.0.1:9092, --bootstrap HOST:PORT), with Kafka's APIs:
 *
 *   create NAME [--partitions N]   CreateTopics NAME, then the group NAME's
 *       share.auto.offset.reset set to earliest (IncrementalAlterConfigs of
 *       a GROUP resource): the queue hands out everything sent to it;
 *   send NAME [--priority P] [--delay-ms MS] [--deliver-at UNIX_MS]
 *       [--group G] [--partition N]   each line of stdin a message, with
 *       the headers that ask for those (sl-priority, sl-delay-ms,
 *       sl-deliver-at, sl-group); a FIFO group's messages all go to one
 *       partition (its hash), others round-robin; Produce acks=all;
 *   receive NAME [--max N] [--wait-ms MS] [--member ID] [--ack|--release|
 *       --reject]   joins the group (ShareGroupHeartbeat), waits up to MS
 *       for messages and takes one answer's worth, up to N (ShareFetch),
 *       prints "PARTITION:OFFSET COUNT VALUE" per
 *       message, and with --ack (accept), --release or --reject answers
 *       them at once (ShareAcknowledge); without, they stay the member's
 *       until their lock lapses or `queue ack` answers them;
 *   ack NAME --member ID [--release|--reject] PARTITION:OFFSET...
 *       answers messages a `receive --member ID` got (accept by default);
 *   stats NAME   the group's members and assignment (ShareGroupDescribe)
 *       and each partition's log start and end.
 *
 *   (and `sluice dlq`, the same file) dlq list NAME: the dead letters in
 *       NAME.dlq not redriven yet, with where they came from and why;
 *       dlq redrive NAME [--max N]: each sent back to its topic and
 *       partition of origin (its key, value and own headers), the
 *       position kept by the group NAME.dlq.redrive (OffsetCommit).
 *
 * Exit codes: 0 done, 1 the broker refused (its error printed), 2 usage,
 * or no broker answered.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/record_batch.h"
#include "tools/sluice/cli.h"
#include "tools/sluice/kcall.h"

#define DEFAULT_BOOTSTRAP "127.0.0.1:9092"
#define TIMEOUT_MS 30000
#define LINE_MAX_BYTES (1u << 20)
#define PARTS_MAX 1024
#define SEND_BATCH 500 /* messages per Produce */

static void usage(void)
{
	fprintf(stderr,
		"usage: sluice queue create NAME [--partitions N]\n"
		"       sluice queue send NAME [--priority 0-9] [--delay-ms MS] "
		"[--deliver-at UNIX_MS] [--group G] [--partition N]\n"
		"       sluice queue receive NAME [--max N] [--wait-ms MS] "
		"[--member ID] [--ack|--release|--reject]\n"
		"       sluice queue ack NAME --member ID [--release|--reject] "
		"PARTITION:OFFSET...\n"
		"       sluice queue stats NAME\n"
		"       sluice dlq list|redrive NAME [--max N]\n"
		"  every command takes --bootstrap HOST:PORT (a Kafka listener, "
		"default " DEFAULT_BOOTSTRAP ")\n"
		"  send reads one message per line of stdin\n");
}

static const char *why(int rc)
{
	switch (rc) {
	case -ECONNREFUSED:
		return "connection refused (is the broker running? "
		       "./tools/run starts one)";
	case -ETIMEDOUT:
		return "no answer in time";
	case -EPROTO:
		return "an answer that does not decode";
	case -EINVAL:
		return "not host:port";
	default:
		return strerror(-rc);
	}
}

static struct kc_str S(const char *s)
{
	return (struct kc_str){s, (int32_t)strlen(s)};
}

/* One round trip of api (its name for messages): 0, or 2 said why. */
static int call(struct kcall *k, int16_t key, int16_t version,
		const void *q, size_t size, union kc_response *u,
		const char *api)
{
	int rc = kcall_call(k, key, version, q, size, u);
	if (rc)
		fprintf(stderr, "sluice: %s: %s\n", api, why(rc));
	return rc ? 2 : 0;
}

static int connect_to(const char *bootstrap, struct kcall *k)
{
	int rc = kcall_connect(k, bootstrap, TIMEOUT_MS);
	if (rc) {
		fprintf(stderr, "sluice: %s: %s\n", bootstrap, why(rc));
		return 2;
	}
	return 0;
}

static int refused(const char *what, int16_t err, struct kc_str msg)
{
	fprintf(stderr, "sluice: %s: error %d%s%.*s\n", what, (int)err,
		msg.len > 0 ? ": " : "", msg.len > 0 ? (int)msg.len : 0,
		msg.len > 0 ? msg.ptr : "");
	return 1;
}

/* The topic's id and partition count (Metadata v12): 0, or 1/2 said. */
static int topic_of(struct kcall *k, const char *name, struct kc_uuid *id,
		    int32_t *parts)
{
	struct kc_metadata_req_topic t = {.name = S(name)};
	struct kc_metadata_req q = {.topics = {&t, 1},
				    .allow_auto_topic_creation = false};
	union kc_response u;
	int16_t v = kcall_version(k, KC_API_METADATA, 10, 12);
	if (v < 0) {
		fprintf(stderr, "sluice: the broker serves no Metadata v10+\n");
		return 2;
	}
	int rc = call(k, KC_API_METADATA, v, &q, sizeof(q), &u, "Metadata");
	if (rc)
		return 2;
	const struct kc_metadata_resp *r = (const void *)u.raw;
	const struct kc_metadata_topic *mt = r->topics.items;
	if (r->topics.count != 1 || mt->error_code) {
		fprintf(stderr, "sluice: queue '%s' does not exist (sluice "
			"queue create %s)\n", name, name);
		return 1;
	}
	*id = mt->topic_id;
	*parts = mt->partitions.count;
	return 0;
}

/* ---- create ---- */

static int set_earliest(struct kcall *k, const char *group)
{
	struct kc_incremental_alter_configs_req_alterable_config c = {
		S("share.auto.offset.reset"), 0, S("earliest")};
	struct kc_incremental_alter_configs_req_alter_configs_resource res = {
		32, S(group), {&c, 1}};
	struct kc_incremental_alter_configs_req q = {{&res, 1}, false};
	union kc_response u;
	int rc = call(k, KC_API_INCREMENTAL_ALTER_CONFIGS,
		    kcall_version(k, KC_API_INCREMENTAL_ALTER_CONFIGS, 0, 1),
		    &q, sizeof(q), &u, "IncrementalAlterConfigs");
	if (rc)
		return 2;
	const struct kc_incremental_alter_configs_resp *r = (const void *)u.raw;
	const struct kc_incremental_alter_configs_resp_alter_configs_resource_response
		*o = r->responses.items;
	if (r->responses.count != 1 || o->error_code)
		return refused("setting the group's share.auto.offset.reset",
			       r->responses.count == 1 ? o->error_code : -1,
			       r->responses.count == 1 ? o->error_message :
							 S(""));
	return 0;
}

static int cmd_create(struct kcall *k, const char *name, int32_t parts)
{
	char dlq[300];
	snprintf(dlq, sizeof(dlq), "%s.dlq", name);
	/* the queue, and its dead-letter topic */
	struct kc_create_topics_req_topic t[2] = {
		{.name = S(name), .num_partitions = parts,
		 .replication_factor = -1},
		{.name = S(dlq), .num_partitions = parts,
		 .replication_factor = -1}};
	struct kc_create_topics_req q = {.topics = {t, 2},
					 .timeout_ms = TIMEOUT_MS};
	union kc_response u;
	int rc = call(k, KC_API_CREATE_TOPICS,
		    kcall_version(k, KC_API_CREATE_TOPICS, 0, 7), &q, sizeof(q),
		    &u, "CreateTopics");
	if (rc)
		return 2;
	const struct kc_create_topics_resp *r = (const void *)u.raw;
	const struct kc_create_topics_resp_topic *o = r->topics.items;
	for (int32_t i = 0; i < r->topics.count; i++)
		if (o[i].error_code && o[i].error_code != 36)
			return refused("CreateTopics", o[i].error_code,
				       o[i].error_message);
	if (r->topics.count != 2)
		return refused("CreateTopics", -1, S("not two answers"));
	int exists = o->error_code != 0; /* the answer is gone after the
					    next call */
	rc = set_earliest(k, name);
	if (rc)
		return rc;
	if (exists)
		printf("queue %s exists; share group %s reads it from its "
		       "start\n", name, name);
	else
		printf("queue %s created, %d partition%s, dead letters to "
		       "%s.dlq; share group %s reads it from its start\n",
		       name, (int)parts, parts == 1 ? "" : "s", name, name);
	return 0;
}

/* ---- send ---- */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 1099511628211ull;
	}
	return h;
}

struct send_opts {
	int priority;          /* -1: none */
	long long delay_ms;    /* -1: none */
	long long deliver_at;  /* -1: none */
	const char *group;
	int32_t partition;     /* -1: chosen */
};

/* One Produce of the batch in buf to partition p: 0, or 1/2 said. */
static int produce(struct kcall *k, const char *name, int32_t p,
		   const uint8_t *buf, size_t len)
{
	struct kc_produce_req_partition pd = {p, {buf, (int32_t)len}};
	struct kc_produce_req_topic t = {.name = S(name),
					 .partition_data = {&pd, 1}};
	struct kc_produce_req q = {{NULL, -1}, -1, TIMEOUT_MS, {&t, 1}};
	union kc_response u;
	int16_t v = kcall_version(k, KC_API_PRODUCE, 3, 12);
	int rc = call(k, KC_API_PRODUCE, v, &q, sizeof(q), &u, "Produce");
	if (rc)
		return 2;
	const struct kc_produce_resp *r = (const void *)u.raw;
	const struct kc_produce_resp_topic *rt = r->responses.items;
	const struct kc_produce_resp_partition *rp =
		r->responses.count == 1 ? rt->partition_responses.items : NULL;
	if (!rp || rt->partition_responses.count != 1 || rp->error_code)
		return refused("Produce", rp ? rp->error_code : -1,
			       rp ? rp->error_message : S(""));
	return 0;
}

static int cmd_send(struct kcall *k, const char *name,
		    const struct send_opts *o)
{
	struct kc_uuid id;
	int32_t parts;
	int rc = topic_of(k, name, &id, &parts);
	if (rc)
		return rc;
	if (o->partition >= parts) {
		fprintf(stderr, "sluice: queue %s has %d partitions\n", name,
			(int)parts);
		return 2;
	}
	char prio[12], delay[24], at[24];
	struct rb_header_kv h[4];
	uint32_t nh = 0;
	if (o->priority >= 0) {
		snprintf(prio, sizeof(prio), "%d", o->priority);
		h[nh++] = (struct rb_header_kv){"sl-priority", 11, prio, 1};
	}
	if (o->delay_ms >= 0) {
		snprintf(delay, sizeof(delay), "%lld", o->delay_ms);
		h[nh++] = (struct rb_header_kv){"sl-delay-ms", 11, delay,
						(int32_t)strlen(delay)};
	}
	if (o->deliver_at >= 0) {
		snprintf(at, sizeof(at), "%lld", o->deliver_at);
		h[nh++] = (struct rb_header_kv){"sl-deliver-at", 13, at,
						(int32_t)strlen(at)};
	}
	if (o->group)
		h[nh++] = (struct rb_header_kv){"sl-group", 8, o->group,
						(int32_t)strlen(o->group)};
	size_t cap = 2 * LINE_MAX_BYTES + 4096;
	uint8_t *buf = malloc(cap);
	char *line = malloc(LINE_MAX_BYTES);
	if (!buf || !line) {
		free(buf);
		free(line);
		fprintf(stderr, "sluice: out of memory\n");
		return 2;
	}
	int32_t next = 0;
	long sent = 0;
	rc = 0;
	while (!rc && fgets(line, LINE_MAX_BYTES, stdin)) {
		size_t n = strcspn(line, "\n");
		line[n] = 0;
		int32_t p = o->partition >= 0 ? o->partition :
			    o->group ? (int32_t)(hash_str(o->group) %
						 (uint64_t)parts) :
			    next++ % parts;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		struct rb_builder b;
		rb_builder_init(&b, buf, cap, now);
		if (rb_builder_add_h(&b, NULL, 0, line, (int32_t)n, now, h, nh) ||
		    rb_builder_finish(&b) <= 0) {
			fprintf(stderr, "sluice: a line too long\n");
			rc = 2;
			break;
		}
		rc = produce(k, name, p, buf, (size_t)rb_builder_finish(&b));
		sent += !rc;
	}
	free(buf);
	free(line);
	if (!rc)
		printf("sent %ld message%s to queue %s\n", sent,
		       sent == 1 ? "" : "s", name);
	return rc;
}

/* ---- receive and ack ---- */

struct member {
	struct kcall *k;
	const char *group;
	char id[64];
	int32_t session;
};

static int join(struct member *m, const char *topic)
{
	struct kc_str names[1] = {S(topic)};
	struct kc_share_group_heartbeat_req q = {
		S(m->group), S(m->id), 0, {NULL, -1}, {names, 1}};
	union kc_response u;
	if (kcall_version(m->k, KC_API_SHARE_GROUP_HEARTBEAT, 1, 1) < 0) {
		fprintf(stderr, "sluice: the broker serves no share groups "
			"(ShareGroupHeartbeat v1)\n");
		return 2;
	}
	int rc = call(m->k, KC_API_SHARE_GROUP_HEARTBEAT, 1, &q, sizeof(q), &u,
		    "ShareGroupHeartbeat");
	if (rc)
		return 2;
	const struct kc_share_group_heartbeat_resp *r = (const void *)u.raw;
	if (r->error_code)
		return refused("ShareGroupHeartbeat", r->error_code,
			       r->error_message);
	return 0;
}

/* A ShareFetch (records NULL: acknowledgements only, or none): the
 * answer's partitions in *out.  0, or 1/2 said. */
static int fetch(struct member *m, const struct kc_uuid *id, int32_t parts,
		 int32_t max, int32_t wait_ms, union kc_response *u)
{
	struct kc_share_fetch_req_fetch_partition fp[PARTS_MAX];
	for (int32_t i = 0; i < parts; i++)
		fp[i] = (struct kc_share_fetch_req_fetch_partition){
			i, 0, {NULL, 0}};
	struct kc_share_fetch_req_fetch_topic t = {*id, {fp, parts}};
	struct kc_share_fetch_req q = {
		S(m->group), S(m->id), m->session, wait_ms, 1, 1 << 20,
		max, max, 0, false, {&t, parts ? 1 : 0}, {NULL, 0}};
	int rc = call(m->k, KC_API_SHARE_FETCH, 1, &q, sizeof(q), u,
		    "ShareFetch");
	if (rc)
		return 2;
	m->session++;
	const struct kc_share_fetch_resp *r = (const void *)u->raw;
	if (r->error_code)
		return refused("ShareFetch", r->error_code, r->error_message);
	return 0;
}

/* The value of the record at offset in the batches of recs: 1 with
 * *val, *vlen, or 0. */
static int value_at(struct kc_bytes recs, int64_t offset, const uint8_t **val,
		    int32_t *vlen)
{
	const uint8_t *p = recs.ptr;
	size_t left = recs.len > 0 ? (size_t)recs.len : 0;
	while (left >= RB_HEADER_BYTES) {
		long sz = rb_frame_size(p, left, left);
		if (sz <= 0 || (size_t)sz > left)
			return 0;
		struct rb_iter it;
		struct rb_record rec;
		if (rb_iter_init(&it, p, (size_t)sz) == 0)
			while (rb_iter_next(&it, &rec) == 1)
				if (rec.offset == offset) {
					*val = rec.value;
					*vlen = rec.value ? rec.vlen : -1;
					return 1;
				}
		p += sz;
		left -= (size_t)sz;
	}
	return 0;
}

struct ack1 {
	int32_t partition;
	int64_t offset;
};

static int acknowledge(struct member *m, const struct kc_uuid *id,
		       const struct ack1 *a, int n, int8_t type)
{
	struct kc_share_acknowledge_req_acknowledgement_batch *b =
		calloc((size_t)n ? (size_t)n : 1, sizeof(*b));
	struct kc_share_acknowledge_req_acknowledge_partition *ap =
		calloc((size_t)n ? (size_t)n : 1, sizeof(*ap));
	int8_t t = type;
	if (!b || !ap) {
		free(b);
		free(ap);
		return 2;
	}
	int np = 0;
	for (int i = 0; i < n; i++) {
		b[i] = (typeof(b[i])){a[i].offset, a[i].offset, {&t, 1}};
		ap[np++] = (typeof(ap[0])){a[i].partition, {&b[i], 1}};
	}
	struct kc_share_acknowledge_req_acknowledge_topic tp = {*id,
								{ap, np}};
	struct kc_share_acknowledge_req q = {S(m->group), S(m->id),
					     m->session, false, {&tp, 1}};
	union kc_response u;
	int rc = call(m->k, KC_API_SHARE_ACKNOWLEDGE, 1, &q, sizeof(q), &u,
		    "ShareAcknowledge");
	free(b);
	free(ap);
	if (rc)
		return 2;
	m->session++;
	const struct kc_share_acknowledge_resp *r = (const void *)u.raw;
	if (r->error_code)
		return refused("ShareAcknowledge", r->error_code,
			       r->error_message);
	int bad = 0;
	const struct kc_share_acknowledge_resp_topic_response *rt =
		r->responses.items;
	for (int32_t i = 0; i < r->responses.count; i++) {
		const struct kc_share_acknowledge_resp_partition_data *pd =
			rt[i].partitions.items;
		for (int32_t j = 0; j < rt[i].partitions.count; j++)
			if (pd[j].error_code) {
				refused("ShareAcknowledge", pd[j].error_code,
					pd[j].error_message);
				bad = 1;
			}
	}
	return bad;
}

static int cmd_receive(struct kcall *k, const char *name, struct member *m,
		       int32_t max, int32_t wait_ms, int8_t answer)
{
	struct kc_uuid id;
	int32_t parts;
	int rc = topic_of(k, name, &id, &parts);
	if (!rc)
		rc = join(m, name);
	if (rc)
		return rc;
	if (parts > PARTS_MAX)
		parts = PARTS_MAX;
	union kc_response u;
	struct ack1 *got = calloc((size_t)max, sizeof(*got));
	if (!got)
		return 2;
	int n = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* until something comes (one answer's worth: a message's lock
	 * starts when it is handed out) or the wait is over */
	for (int round = 0; !n && round < 1000; round++) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long spent = (t1.tv_sec - t0.tv_sec) * 1000 +
			     (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (round && spent >= wait_ms)
			break;
		rc = fetch(m, &id, round ? 0 : parts, max - n,
			   (int32_t)(wait_ms - spent), &u);
		if (rc) {
			free(got);
			return rc;
		}
		const struct kc_share_fetch_resp *r = (const void *)u.raw;
		const struct kc_share_fetch_resp_able_topic_response *t =
			r->responses.items;
		for (int32_t i = 0; i < r->responses.count; i++) {
			const struct kc_share_fetch_resp_partition_data *pd =
				t[i].partitions.items;
			for (int32_t j = 0; j < t[i].partitions.count; j++) {
				const struct kc_share_fetch_resp_acquired_records
					*ar = pd[j].acquired_records.items;
				for (int32_t x = 0;
				     x < pd[j].acquired_records.count; x++)
					for (int64_t o = ar[x].first_offset;
					     o <= ar[x].last_offset && n < max;
					     o++) {
						const uint8_t *v = NULL;
						int32_t vl = -1;
						value_at(pd[j].records, o, &v,
							 &vl);
						printf("%d:%" PRId64 " %d %.*s\n",
						       (int)pd[j].partition_index,
						       o,
						       (int)ar[x].delivery_count,
						       vl > 0 ? (int)vl : 0,
						       vl > 0 ? (const char *)v
							      : "");
						got[n++] = (struct ack1){
							pd[j].partition_index,
							o};
					}
			}
		}
	}
	fflush(stdout);
	rc = 0;
	if (answer && n)
		rc = acknowledge(m, &id, got, n, answer);
	free(got);
	if (!rc)
		fprintf(stderr, "%d message%s%s (member %s)\n", n,
			n == 1 ? "" : "s",
			!n ? "" : answer == 1 ? ", accepted" :
			answer == 2 ? ", released" : answer == 3 ?
			", rejected" : ", held until acknowledged (sluice "
				       "queue ack) or their lock lapses",
			m->id);
	return rc;
}

static int cmd_ack(struct kcall *k, const char *name, struct member *m,
		   char **items, int nitems, int8_t type)
{
	struct kc_uuid id;
	int32_t parts;
	int rc = topic_of(k, name, &id, &parts);
	if (rc)
		return rc;
	struct ack1 *a = calloc((size_t)nitems, sizeof(*a));
	if (!a)
		return 2;
	for (int i = 0; i < nitems; i++) {
		char *end;
		long p = strtol(items[i], &end, 10);
		long long o = *end == ':' ? strtoll(end + 1, &end, 10) : -1;
		if (*end || p < 0 || p >= parts || o < 0) {
			fprintf(stderr, "sluice: '%s' is not PARTITION:OFFSET "
				"of queue %s\n", items[i], name);
			free(a);
			return 2;
		}
		a[i] = (struct ack1){(int32_t)p, (int64_t)o};
	}
	/* a session to answer in (opening one releases nothing) */
	union kc_response u;
	rc = fetch(m, &id, 0, 0, 0, &u);
	if (!rc)
		rc = acknowledge(m, &id, a, nitems, type);
	free(a);
	if (!rc)
		printf("%d message%s %s\n", nitems, nitems == 1 ? "" : "s",
		       type == 1 ? "accepted" : type == 2 ? "released" :
							  "rejected");
	return rc;
}

/* ---- stats ---- */

static int cmd_stats(struct kcall *k, const char *name)
{
	struct kc_uuid id;
	int32_t parts;
	int rc = topic_of(k, name, &id, &parts);
	if (rc)
		return rc;
	struct kc_str g = S(name);
	struct kc_share_group_describe_req q = {{&g, 1}, false};
	union kc_response u;
	rc = call(k, KC_API_SHARE_GROUP_DESCRIBE, 1, &q, sizeof(q), &u,
		    "ShareGroupDescribe");
	if (rc)
		return 2;
	const struct kc_share_group_describe_resp *r = (const void *)u.raw;
	const struct kc_share_group_describe_resp_described_group *d =
		r->groups.items;
	printf("queue %s: %d partition%s\n", name, (int)parts,
	       parts == 1 ? "" : "s");
	if (r->groups.count != 1 || d->error_code) {
		printf("share group %s: no members yet\n", name);
	} else {
		printf("share group %s: %.*s, epoch %d, %d member%s\n", name,
		       (int)d->group_state.len, d->group_state.ptr,
		       (int)d->group_epoch, (int)d->members.count,
		       d->members.count == 1 ? "" : "s");
		const struct kc_share_group_describe_resp_member *mm =
			d->members.items;
		for (int32_t i = 0; i < d->members.count; i++)
			printf("  member %.*s epoch %d client %.*s\n",
			       (int)mm[i].member_id.len, mm[i].member_id.ptr,
			       (int)mm[i].member_epoch,
			       (int)mm[i].client_id.len, mm[i].client_id.ptr);
	}
	/* each partition's log start and end */
	for (int32_t p = 0; p < parts; p++) {
		int64_t at[2];
		for (int e = 0; e < 2; e++) {
			struct kc_list_offsets_req_partition lp = {
				.partition_index = p,
				.current_leader_epoch = -1,
				.timestamp = e ? -1 : -2};
			struct kc_list_offsets_req_topic lt = {S(name), {&lp, 1}};
			struct kc_list_offsets_req lq = {
				.replica_id = -1, .isolation_level = 0,
				.topics = {&lt, 1}};
			at[e] = -1;
			if (kcall_call(k, KC_API_LIST_OFFSETS,
				       kcall_version(k, KC_API_LIST_OFFSETS, 1,
						     7),
				       &lq, sizeof(lq), &u) == 0) {
				const struct kc_list_offsets_resp *lr =
					(const void *)u.raw;
				const struct kc_list_offsets_resp_topic *tr =
					lr->topics.items;
				if (lr->topics.count == 1 &&
				    tr->partitions.count == 1) {
					const struct
					kc_list_offsets_resp_partition *pr =
						tr->partitions.items;
					if (!pr->error_code)
						at[e] = pr->offset;
				}
			}
		}
		printf("  partition %d: log %" PRId64 "..%" PRId64 "\n",
		       (int)p, at[0], at[1]);
	}
	return 0;
}

/* ---- dead letters ---- */

/* The header name of r as a string in out ("" when absent). */
static void header_str(const struct rb_record *r, const char *name, char *out,
		       size_t cap)
{
	const uint8_t *v;
	int32_t vl;
	out[0] = 0;
	if (rb_header_find(r, name, strlen(name), &v, &vl) && v)
		snprintf(out, cap, "%.*s", (int)vl, (const char *)v);
}

typedef int (*dlq_record_fn)(void *ctx, int32_t partition,
			     const struct rb_record *r);

/* Read partition p of topic from offset from to its high watermark,
 * each record to fn (stop early: fn returns non-zero); *next: the offset
 * after the last record handed.  0, or 1/2 said. */
static int read_partition(struct kcall *k, const char *topic, int32_t p,
			  int64_t from, long max, dlq_record_fn fn, void *ctx,
			  int64_t *next, long *handed)
{
	*next = from;
	for (int rounds = 0; rounds < 10000 && *handed < max; rounds++) {
		struct kc_fetch_req_partition fp = {
			.partition = p, .current_leader_epoch = -1,
			.fetch_offset = *next, .last_fetched_epoch = -1,
			.log_start_offset = -1, .partition_max_bytes = 1 << 20};
		struct kc_fetch_req_topic ft = {.topic = S(topic),
						.partitions = {&fp, 1}};
		struct kc_fetch_req q = {
			.cluster_id = {NULL, -1}, .replica_id = -1,
			.replica_state = {-1, -1}, .max_wait_ms = 0,
			.min_bytes = 0, .max_bytes = 1 << 20,
			.session_epoch = -1, .topics = {&ft, 1},
			.forgotten_topics_data = {NULL, 0},
			.rack_id = {"", 0}};
		union kc_response u;
		int rc = call(k, KC_API_FETCH, 11, &q, sizeof(q), &u, "Fetch");
		if (rc)
			return 2;
		const struct kc_fetch_resp *r = (const void *)u.raw;
		const struct kc_fetch_resp_topic *rt = r->responses.items;
		const struct kc_fetch_resp_partition *rp =
			r->responses.count == 1 ? rt->partitions.items : NULL;
		if (!rp || rt->partitions.count != 1)
			return refused("Fetch", -1, S("no answer for the "
						      "partition"));
		if (rp->error_code == 1 && rp->log_start_offset > *next) {
			*next = rp->log_start_offset; /* retention */
			continue;
		}
		if (rp->error_code)
			return refused("Fetch", rp->error_code, S(""));
		const uint8_t *b = rp->records.ptr;
		size_t left = rp->records.len > 0 ? (size_t)rp->records.len : 0;
		int64_t before = *next;
		while (left >= RB_HEADER_BYTES && *handed < max) {
			long sz = rb_frame_size(b, left, left);
			if (sz <= 0 || (size_t)sz > left)
				break;
			struct rb_iter it;
			struct rb_record rec;
			struct rb_header h;
			rb_header_decode(b, &h);
			if (!(h.attributes & RB_ATTR_CONTROL) &&
			    rb_iter_init(&it, b, (size_t)sz) == 0) {
				while (*handed < max &&
				       rb_iter_next(&it, &rec) == 1) {
					if (rec.offset < *next)
						continue;
					if (fn(ctx, p, &rec))
						return 1;
					*next = rec.offset + 1;
					++*handed;
				}
			}
			if (*handed < max && rb_last_offset(b) + 1 > *next)
				*next = rb_last_offset(b) + 1;
			b += sz;
			left -= (size_t)sz;
		}
		if (*next >= rp->high_watermark || *next == before)
			break;
	}
	return 0;
}

static int print_dead(void *ctx, int32_t partition, const struct rb_record *r)
{
	(void)ctx;
	char topic[256], part[24], off[24], why_[32], count[24];
	header_str(r, "sl-dlq-topic", topic, sizeof(topic));
	header_str(r, "sl-dlq-partition", part, sizeof(part));
	header_str(r, "sl-dlq-offset", off, sizeof(off));
	header_str(r, "sl-dlq-reason", why_, sizeof(why_));
	header_str(r, "sl-dlq-count", count, sizeof(count));
	printf("%d:%" PRId64 " from %s %s:%s %s after %s deliver%s: %.*s\n",
	       (int)partition, r->offset, topic, part, off, why_, count,
	       !strcmp(count, "1") ? "y" : "ies", r->value ? (int)r->vlen : 0,
	       r->value ? (const char *)r->value : "");
	return 0;
}

struct redrive {
	struct kcall *k;
	const char *queue;
	uint8_t *buf;
	size_t cap;
	int failed;
};

/* Send a dead letter back to where it came from: its key, value and
 * own headers (not the sl-dlq-* ones), to its partition of origin. */
static int redrive_one(void *ctx, int32_t partition, const struct rb_record *r)
{
	struct redrive *d = ctx;
	(void)partition;
	char topic[256], part[24];
	header_str(r, "sl-dlq-topic", topic, sizeof(topic));
	header_str(r, "sl-dlq-partition", part, sizeof(part));
	if (!topic[0])
		snprintf(topic, sizeof(topic), "%s", d->queue);
	struct rb_header_kv h[32];
	uint32_t nh = 0;
	for (int32_t i = 0; i < r->nheaders && nh < 32; i++) {
		const uint8_t *v;
		int32_t vl;
		if (!rb_header_at(r, i, &h[nh].key, &h[nh].klen, &v, &vl))
			break;
		if (h[nh].klen >= 7 && !memcmp(h[nh].key, "sl-dlq-", 7))
			continue;
		h[nh].value = v;
		h[nh].vlen = vl;
		nh++;
	}
	struct rb_builder b;
	rb_builder_init(&b, d->buf, d->cap, r->timestamp);
	if (rb_builder_add_h(&b, r->key, r->key ? r->klen : -1, r->value,
			     r->value ? r->vlen : -1, r->timestamp, h, nh) ||
	    rb_builder_finish(&b) <= 0) {
		d->failed = 2;
		return 1;
	}
	d->failed = produce(d->k, topic, part[0] ? (int32_t)atoi(part) : 0,
			    d->buf, (size_t)rb_builder_finish(&b));
	return d->failed;
}

/* The redrive group's committed offsets of the dead-letter topic. */
static int committed(struct kcall *k, const char *group, const char *topic,
		     int32_t parts, int64_t *at)
{
	int32_t *pi = calloc((size_t)parts, sizeof(*pi));
	if (!pi)
		return 2;
	for (int32_t i = 0; i < parts; i++) {
		pi[i] = i;
		at[i] = 0;
	}
	struct kc_offset_fetch_req_topic t = {S(topic), {pi, parts}};
	struct kc_offset_fetch_req q = {.group_id = S(group),
					.topics = {&t, 1}};
	union kc_response u;
	int rc = call(k, KC_API_OFFSET_FETCH, 5, &q, sizeof(q), &u,
		    "OffsetFetch");
	free(pi);
	if (rc)
		return 2;
	const struct kc_offset_fetch_resp *r = (const void *)u.raw;
	const struct kc_offset_fetch_resp_topic *rt = r->topics.items;
	for (int32_t i = 0; i < r->topics.count; i++) {
		const struct kc_offset_fetch_resp_partition *rp =
			rt[i].partitions.items;
		for (int32_t j = 0; j < rt[i].partitions.count; j++)
			if (!rp[j].error_code && rp[j].committed_offset > 0 &&
			    rp[j].partition_index >= 0 &&
			    rp[j].partition_index < parts)
				at[rp[j].partition_index] =
					rp[j].committed_offset;
	}
	return 0;
}

static int commit(struct kcall *k, const char *group, const char *topic,
		  int32_t p, int64_t offset)
{
	struct kc_offset_commit_req_partition cp = {
		.partition_index = p, .committed_offset = offset,
		.committed_leader_epoch = -1, .commit_timestamp = -1,
		.committed_metadata = {NULL, -1}};
	struct kc_offset_commit_req_topic t = {.name = S(topic),
					       .partitions = {&cp, 1}};
	struct kc_offset_commit_req q = {
		.group_id = S(group), .generation_id_or_member_epoch = -1,
		.member_id = S(""), .group_instance_id = {NULL, -1},
		.retention_time_ms = -1, .topics = {&t, 1}};
	union kc_response u;
	int rc = call(k, KC_API_OFFSET_COMMIT, 2, &q, sizeof(q), &u,
		    "OffsetCommit");
	if (rc)
		return 2;
	const struct kc_offset_commit_resp *r = (const void *)u.raw;
	const struct kc_offset_commit_resp_topic *rt = r->topics.items;
	const struct kc_offset_commit_resp_partition *rp =
		r->topics.count == 1 ? rt->partitions.items : NULL;
	if (!rp || rp->error_code)
		return refused("OffsetCommit", rp ? rp->error_code : -1, S(""));
	return 0;
}

/* dlq list NAME: what NAME.dlq holds past the redrive group's position;
 * dlq redrive NAME [--max N]: sends them back, the position committed
 * after each partition's. */
int cmd_dlq(int argc, char **argv)
{
	static const struct option lo[] = {
		{"bootstrap", required_argument, 0, 'b'},
		{"max", required_argument, 0, 'm'},
		{0, 0, 0, 0}};
	if (argc < 3) {
		usage();
		return 2;
	}
	const char *sub = argv[1], *name = argv[2];
	const char *bootstrap = DEFAULT_BOOTSTRAP;
	long max = 1000000;
	int ch;
	optind = 3;
	while ((ch = getopt_long(argc, argv, "b:", lo, NULL)) != -1) {
		char *end = NULL;
		if (ch == 'b')
			bootstrap = optarg;
		else if (ch == 'm')
			max = strtol(optarg, &end, 10);
		else {
			usage();
			return 2;
		}
		if (end && (*end || max < 1)) {
			fprintf(stderr, "sluice: --max takes a count\n");
			return 2;
		}
	}
	int list = !strcmp(sub, "list"), redrive = !strcmp(sub, "redrive");
	if ((!list && !redrive) || optind != argc) {
		usage();
		return 2;
	}
	struct kcall k;
	if (connect_to(bootstrap, &k))
		return 2;
	char dlq[300], group[320];
	snprintf(dlq, sizeof(dlq), "%s.dlq", name);
	snprintf(group, sizeof(group), "%s.dlq.redrive", name);
	struct kc_uuid id;
	int32_t parts;
	int rc = topic_of(&k, dlq, &id, &parts);
	int64_t *at = rc ? NULL : calloc((size_t)parts, sizeof(*at));
	if (!rc && !at)
		rc = 2;
	if (!rc)
		rc = committed(&k, group, dlq, parts, at);
	struct redrive d = {&k, name, malloc(4u << 20), 4u << 20, 0};
	long handed = 0;
	for (int32_t p = 0; !rc && p < parts && handed < max; p++) {
		int64_t next;
		long before = handed;
		if (list) {
			rc = read_partition(&k, dlq, p, at[p], max,
					    print_dead, NULL, &next, &handed);
			continue;
		}
		if (!d.buf) {
			rc = 2;
			break;
		}
		rc = read_partition(&k, dlq, p, at[p], max, redrive_one, &d,
				    &next, &handed);
		if (rc == 1 && d.failed)
			rc = d.failed;
		/* what was sent back, even when a later one failed */
		if (handed > before) {
			int crc = commit(&k, group, dlq, p, next);
			rc = rc ? rc : crc;
		}
	}
	free(d.buf);
	free(at);
	kcall_close(&k);
	if (!rc)
		fprintf(stderr, "%ld dead letter%s %s\n", handed,
			handed == 1 ? "" : "s",
			list ? "not redriven yet" : "sent back to their queue");
	return rc;
}

int cmd_queue(int argc, char **argv)
{
	static const struct option lo[] = {
		{"bootstrap", required_argument, 0, 'b'},
		{"partitions", required_argument, 0, 'p'},
		{"priority", required_argument, 0, 'P'},
		{"delay-ms", required_argument, 0, 'd'},
		{"deliver-at", required_argument, 0, 'a'},
		{"group", required_argument, 0, 'g'},
		{"partition", required_argument, 0, 'n'},
		{"max", required_argument, 0, 'm'},
		{"wait-ms", required_argument, 0, 'w'},
		{"member", required_argument, 0, 'M'},
		{"ack", no_argument, 0, 'A'},
		{"release", no_argument, 0, 'R'},
		{"reject", no_argument, 0, 'J'},
		{0, 0, 0, 0}};
	if (argc < 3) {
		usage();
		return 2;
	}
	const char *sub = argv[1], *name = argv[2];
	const char *bootstrap = DEFAULT_BOOTSTRAP;
	struct send_opts so = {-1, -1, -1, NULL, -1};
	long parts = 1, max = 10, wait_ms = 5000;
	int8_t answer = 0;
	struct member m = {.group = name};
	snprintf(m.id, sizeof(m.id), "sluice-cli-%ld", (long)getpid());
	int ch;
	optind = 3;
	while ((ch = getopt_long(argc, argv, "b:", lo, NULL)) != -1) {
		char *end = NULL;
		switch (ch) {
		case 'b': bootstrap = optarg; break;
		case 'p': parts = strtol(optarg, &end, 10); break;
		case 'P': so.priority = (int)strtol(optarg, &end, 10); break;
		case 'd': so.delay_ms = strtoll(optarg, &end, 10); break;
		case 'a': so.deliver_at = strtoll(optarg, &end, 10); break;
		case 'g': so.group = optarg; break;
		case 'n': so.partition = (int32_t)strtol(optarg, &end, 10); break;
		case 'm': max = strtol(optarg, &end, 10); break;
		case 'w': wait_ms = strtol(optarg, &end, 10); break;
		case 'M': snprintf(m.id, sizeof(m.id), "%s", optarg); break;
		case 'A': answer = 1; break;
		case 'R': answer = 2; break;
		case 'J': answer = 3; break;
		default: usage(); return 2;
		}
		if (end && *end) {
			fprintf(stderr, "sluice: '%s' is not a number\n", optarg);
			return 2;
		}
	}
	if (parts < 1 || parts > PARTS_MAX || max < 1 || max > 100000 ||
	    wait_ms < 0 || wait_ms > 3600000 || so.priority > 9 ||
	    so.priority < -1 || !name[0]) {
		fprintf(stderr, "sluice: an option out of range (--partitions "
			"1..%d, --max 1..100000, --wait-ms 0..3600000, "
			"--priority 0..9)\n", PARTS_MAX);
		return 2;
	}
	struct kcall k;
	if (connect_to(bootstrap, &k))
		return 2;
	m.k = &k;
	int rc;
	if (!strcmp(sub, "create") && optind == argc)
		rc = cmd_create(&k, name, (int32_t)parts);
	else if (!strcmp(sub, "send") && optind == argc)
		rc = cmd_send(&k, name, &so);
	else if (!strcmp(sub, "receive") && optind == argc)
		rc = cmd_receive(&k, name, &m, (int32_t)max, (int32_t)wait_ms,
				 answer);
	else if (!strcmp(sub, "ack") && optind < argc &&
		 !strncmp(m.id, "sluice-cli-", 11) &&
		 strtol(m.id + 11, NULL, 10) == (long)getpid()) {
		fprintf(stderr, "sluice: queue ack needs --member: the id "
			"`queue receive` printed\n");
		rc = 2;
	} else if (!strcmp(sub, "ack") && optind < argc)
		rc = cmd_ack(&k, name, &m, argv + optind, argc - optind,
			     answer ? answer : 1);
	else if (!strcmp(sub, "stats") && optind == argc)
		rc = cmd_stats(&k, name);
	else {
		usage();
		rc = 2;
	}
	kcall_close(&k);
	return rc;
}
