/*
 * Kafka admin requests in the control plane (see kadmin.h).
 *
 * Happy path: decode the request into an arena sized from its length (the
 * codec bounds every array by the bytes left, and no element struct is more
 * than 8 times its fewest wire bytes, so 16 x len always fits); lay the
 * response out in a second arena sized from the decoded counts; apply each
 * topic with sl_admin_create / sl_admin_delete (one metadata transaction
 * each); encode the response with the request's correlation id.
 *
 * Failure modes:
 *   - a request the codec rejects is returned as the codec's error, and the
 *     caller closes the connection (as Kafka does for a malformed request);
 *   - a topic that cannot be created or deleted gets its Kafka error code
 *     and a message in the response; the others in the same request are
 *     still applied (Kafka's per-topic semantics);
 *   - the response buffer: for CreateTopics and DeleteTopics the response
 *     without error messages is bounded before anything changes (-ENOBUFS
 *     then, nothing done); messages are added only while they fit, so the
 *     final encode cannot fail after topics were created or deleted;
 *   - a metadata file another process changed is re-read before a
 *     validate_only check or a DescribeConfigs; if it cannot be read the
 *     affected topics answer KAFKA_STORAGE_ERROR with the reason.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/admin.h"
#include "control/kadmin.h"
#include "proto/kafka/kcodec.h"
#include "proto/topic_uuid.h"

/* Kafka error codes used here that the native protocol has no name for. */
#define KA_ERR_INVALID_REPLICATION_FACTOR 38
#define SL_KADMIN_RF_MAX 8 /* the cluster image's replicas per partition */
#define KA_ERR_INVALID_REPLICA_ASSIGNMENT 39
#define KA_ERR_INVALID_CONFIG 40
#define KA_ERR_UNKNOWN_TOPIC_ID 100

/* Kafka's ConfigType numbers (DescribeConfigs v3+). */
#define KA_TYPE_BOOLEAN 1
#define KA_TYPE_STRING 2
#define KA_TYPE_INT 3
#define KA_TYPE_LONG 5
#define KA_TYPE_DOUBLE 6
#define KA_TYPE_LIST 7

#define KA_MSG_MAX 200       /* bytes of one error message */
#define KA_VALUE_MAX 24      /* bytes of a formatted int64, NUL included */
#define KA_PER_TOPIC_BYTES 20 /* kadmin.h: the response bound per topic */
#define KA_FIXED_BYTES 16     /* and for the rest */
#define SEGMENT_BYTES_MIN (1ll << 20)   /* as control/admin.c */
#define SEGMENT_BYTES_MAX (2047ll << 20)

/* One request being answered. */
struct ka {
	struct sl_meta *m;
	const struct sl_config *c;
	bool cluster;         /* a cluster's broker (controller_quorum_voters) */
	int32_t brokers;      /* a cluster's live brokers (0 while none is
				 unfenced) */
	const struct sl_kadmin_brokers *b; /* their states (NULL: manual
					      assignments refused) */
	struct kc_arena out;  /* the response's arrays and strings */
	size_t msg_budget;    /* message bytes the response can still take */
	int fresh_rc;         /* 0, or -1 when the metadata could not be
				 re-read (fresh_err says why) */
	char fresh_err[256];
};

static void *ka_take(struct ka *k, size_t bytes)
{
	size_t at = (k->out.used + 7) & ~(size_t)7;
	/* the arena is sized from the decoded counts before any take */
	assert(at <= k->out.cap && bytes <= k->out.cap - at);
	k->out.used = at + bytes;
	return k->out.base + at;
}

/* An error message for the response, or null when it would not fit the
 * budget (the error code is still there). */
static struct kc_str ka_msg(struct ka *k, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static struct kc_str ka_msg(struct ka *k, const char *fmt, ...)
{
	char buf[KA_MSG_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return (struct kc_str){NULL, -1};
	if (n > KA_MSG_MAX)
		n = KA_MSG_MAX;
	if ((size_t)n > k->msg_budget)
		return (struct kc_str){NULL, -1};
	k->msg_budget -= (size_t)n;
	char *p = ka_take(k, (size_t)n + 1);
	memcpy(p, buf, (size_t)n + 1);
	return (struct kc_str){p, n};
}

/* A number as a string in the response arena. */
static struct kc_str ka_num(struct ka *k, int64_t v)
{
	char *p = ka_take(k, KA_VALUE_MAX);
	int n = snprintf(p, KA_VALUE_MAX, "%" PRId64, v);
	assert(n > 0 && n < KA_VALUE_MAX);
	return (struct kc_str){p, n};
}

/* A double as Java's Double.toString writes the ones sluice keeps (0..1):
 * the shortest digits that read back the same, with ".0" on an integer. */
static struct kc_str ka_double(struct ka *k, double v)
{
	char *p = ka_take(k, KA_VALUE_MAX + 8);
	int n = 0;
	for (int prec = 1; prec <= 17; prec++) {
		n = snprintf(p, KA_VALUE_MAX + 8, "%.*g", prec, v);
		if (strtod(p, NULL) == v)
			break;
	}
	assert(n > 0 && n < KA_VALUE_MAX);
	if (!strpbrk(p, ".e")) {
		memcpy(p + n, ".0", 3);
		n += 2;
	}
	return (struct kc_str){p, n};
}

static struct kc_str cstr(const char *s)
{
	return (struct kc_str){s, (int32_t)strlen(s)};
}

static bool str_is(struct kc_str s, const char *want)
{
	size_t n = strlen(want);
	return s.len >= 0 && (size_t)s.len == n &&
	       (n == 0 || memcmp(s.ptr, want, n) == 0);
}

static bool str_eq(struct kc_str a, struct kc_str b)
{
	return a.len == b.len && (a.len <= 0 || memcmp(a.ptr, b.ptr,
						       (size_t)a.len) == 0);
}

/* Up to 64 bytes of s for a message, anything unprintable as '?'. */
static const char *shown(struct kc_str s, char buf[static 68])
{
	size_t n = s.len > 0 ? (size_t)s.len : 0, i;
	for (i = 0; i < n && i < 64; i++)
		buf[i] = s.ptr[i] >= 0x20 && s.ptr[i] < 0x7f ? s.ptr[i] : '?';
	if (n > 64) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = 0;
	return buf;
}

/* Re-read the metadata if another process saved it since. */
static void ka_refresh(struct ka *k)
{
	int rc = sl_meta_changed(k->m);
	if (rc > 0)
		rc = sl_meta_reload(k->m, k->fresh_err, sizeof(k->fresh_err));
	else if (rc < 0)
		snprintf(k->fresh_err, sizeof(k->fresh_err),
			 "cannot check the topic metadata: %s", strerror(-rc));
	k->fresh_rc = rc < 0 ? -1 : 0;
}

/* Names that occur more than once in a list: dup[i] is 0 for a name that
 * occurs once, 1 for the first of several, 2 for the others.  Sorting keeps
 * it O(n log n) however many topics a request names. */
struct ka_name {
	struct kc_str name;
	int32_t index;
};

static int name_cmp(const void *a, const void *b)
{
	const struct kc_str *x = &((const struct ka_name *)a)->name;
	const struct kc_str *y = &((const struct ka_name *)b)->name;
	int32_t n = x->len < y->len ? x->len : y->len;
	int c = n > 0 ? memcmp(x->ptr, y->ptr, (size_t)n) : 0;
	if (c)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

_Static_assert(offsetof(struct kc_create_topics_req_topic, name) == 0,
	       "mark_duplicates reads a name at the start of each item");

static void mark_duplicates(struct ka *k, const uint8_t *items, size_t stride,
			    int32_t n, uint8_t *dup)
{
	struct ka_name *v = ka_take(k, (size_t)n * sizeof(*v));
	for (int32_t i = 0; i < n; i++) {
		v[i].name = *(const struct kc_str *)(items + (size_t)i * stride);
		v[i].index = i;
		dup[i] = 0;
	}
	qsort(v, (size_t)n, sizeof(*v), name_cmp);
	for (int32_t i = 0, end; i < n; i = end) {
		int32_t first = v[i].index;
		for (end = i + 1; end < n && str_eq(v[end].name, v[i].name); end++)
			if (v[end].index < first)
				first = v[end].index;
		for (int32_t j = i; end - i > 1 && j < end; j++)
			dup[v[j].index] = v[j].index == first ? 1 : 2;
	}
}

/* ---- the configs sluice describes ---- */

/* One describable config: where its value comes from and how Kafka types
 * it.  Topic entries without a field are fixed by what sluice does. */
enum ka_src {
	TOPIC_RETENTION_MS, TOPIC_RETENTION_BYTES, TOPIC_SEGMENT_BYTES,
	TOPIC_CLEANUP_POLICY, TOPIC_DIRTY_RATIO, TOPIC_MIN_LAG_MS,
	TOPIC_MAX_LAG_MS, TOPIC_DELETE_RETENTION_MS, TOPIC_MIN_ISR, TOPIC_UNCLEAN,
	FIXED,
	BROKER_ID, BROKER_PARTITIONS, BROKER_LOG_DIRS, BROKER_RETENTION_MS,
	BROKER_RETENTION_BYTES, BROKER_SEGMENT_BYTES,
};

struct ka_config {
	const char *name;
	enum ka_src src;
	const char *fixed;  /* the value of a FIXED entry */
	int8_t type;        /* KA_TYPE_* */
	bool read_only;     /* false: settable when the topic is created */
	const char *doc;
	const char *synonym; /* the broker config a topic one defaults to */
	int8_t synonym_source; /* its KC_CONFIG_SOURCE_* */
};

#define STATIC KC_CONFIG_SOURCE_STATIC_BROKER
#define DEFAULT KC_CONFIG_SOURCE_DEFAULT

static const struct ka_config topic_configs_all[] = {
	{"retention.ms", TOPIC_RETENTION_MS, NULL, KA_TYPE_LONG, false,
	 "How long records are kept, in milliseconds: a segment is deleted once "
	 "its newest record is older; -1: forever.",
	 "log.retention.ms", STATIC},
	{"retention.bytes", TOPIC_RETENTION_BYTES, NULL, KA_TYPE_LONG, false,
	 "The bytes a partition keeps: its oldest segments are deleted while "
	 "the rest still holds this much; -1: unlimited.",
	 "log.retention.bytes", STATIC},
	{"segment.bytes", TOPIC_SEGMENT_BYTES, NULL, KA_TYPE_INT, false,
	 "The size at which a partition's log rolls to a new segment.",
	 "log.segment.bytes", STATIC},
	{"cleanup.policy", TOPIC_CLEANUP_POLICY, NULL, KA_TYPE_LIST, false,
	 "delete: old segments are removed by retention; compact: the "
	 "cleaner keeps the last record of each key; compact,delete: both.",
	 "log.cleanup.policy", DEFAULT},
	{"min.cleanable.dirty.ratio", TOPIC_DIRTY_RATIO, NULL, KA_TYPE_DOUBLE,
	 false, "A compaction pass starts when the part of the log not yet "
	 "cleaned is more than this share of it.",
	 "log.cleaner.min.cleanable.ratio", DEFAULT},
	{"min.compaction.lag.ms", TOPIC_MIN_LAG_MS, NULL, KA_TYPE_LONG, false,
	 "A record stays uncompacted for at least this long.",
	 "log.cleaner.min.compaction.lag.ms", DEFAULT},
	{"max.compaction.lag.ms", TOPIC_MAX_LAG_MS, NULL, KA_TYPE_LONG, false,
	 "A record older than this is compacted whatever the dirty ratio.",
	 "log.cleaner.max.compaction.lag.ms", DEFAULT},
	{"delete.retention.ms", TOPIC_DELETE_RETENTION_MS, NULL, KA_TYPE_LONG,
	 false, "How long a delete marker (null value) is kept after the "
	 "pass that first cleaned it.",
	 "log.cleaner.delete.retention.ms", DEFAULT},
	{"compression.type", FIXED, "producer", KA_TYPE_STRING, true,
	 "Record batches are stored as the producer compressed them.",
	 "compression.type", DEFAULT},
	{"message.timestamp.type", FIXED, "CreateTime", KA_TYPE_STRING, true,
	 "Timestamps are the producer's.",
	 "log.message.timestamp.type", DEFAULT},
	{"min.insync.replicas", TOPIC_MIN_ISR, NULL, KA_TYPE_INT, false,
	 "acks=all is refused unless this many replicas are in sync, and "
	 "answered once all in-sync replicas hold the batch on disk; a "
	 "single-node broker has one replica (1, read-only).",
	 "min.insync.replicas", STATIC},
	{"unclean.leader.election.enable", TOPIC_UNCLEAN, NULL, KA_TYPE_BOOLEAN,
	 false, "Whether a replica that is not in sync may become leader when "
	 "no in-sync one is alive (losing what only the others had); off "
	 "unless the topic asks.",
	 "unclean.leader.election.enable", STATIC},
};

static const struct ka_config broker_configs_all[] = {
	{"broker.id", BROKER_ID, NULL, KA_TYPE_INT, true,
	 "This broker's node id (node_id in sluice.conf).",
	 NULL, STATIC},
	{"num.partitions", BROKER_PARTITIONS, NULL, KA_TYPE_INT, true,
	 "Partitions of a topic created without a count "
	 "(default_partitions).",
	 NULL, STATIC},
	{"default.replication.factor", FIXED, "1", KA_TYPE_INT, true,
	 "A single-node broker keeps one replica.",
	 NULL, STATIC},
	{"log.dirs", BROKER_LOG_DIRS, NULL, KA_TYPE_STRING, true,
	 "Where the logs live (data_dir).",
	 NULL, STATIC},
	{"log.retention.ms", BROKER_RETENTION_MS, NULL, KA_TYPE_LONG, true,
	 "Default retention.ms of new topics (retention_hours).",
	 NULL, STATIC},
	{"log.retention.bytes", BROKER_RETENTION_BYTES, NULL, KA_TYPE_LONG, true,
	 "Default retention.bytes of new topics (retention_bytes).",
	 NULL, STATIC},
	{"log.segment.bytes", BROKER_SEGMENT_BYTES, NULL, KA_TYPE_INT, true,
	 "Default segment.bytes of new topics (segment_mb).",
	 NULL, STATIC},
};

#undef STATIC
#undef DEFAULT

#define NCONFIGS(a) (sizeof(a) / sizeof((a)[0]))

/* The value of config d (of topic t, or of this broker when t is null) and
 * the one it has when nothing overrides it, both as Kafka writes them. */
static void config_value(struct ka *k, const struct ka_config *d,
			 const struct sl_topic *t, struct kc_str *value,
			 struct kc_str *dflt_value)
{
	const struct sl_config *c = k->c;
	int64_t v = 0, dflt = 0;
	switch (d->src) {
	case TOPIC_RETENTION_MS:
		v = t->retention_ms, dflt = c->retention_ms; break;
	case TOPIC_RETENTION_BYTES:
		v = t->retention_bytes, dflt = c->retention_bytes; break;
	case TOPIC_SEGMENT_BYTES:
		v = t->segment_bytes, dflt = c->segment_bytes; break;
	case TOPIC_MIN_LAG_MS:
		v = t->min_compaction_lag_ms, dflt = SL_MIN_LAG_MS_DEFAULT; break;
	case TOPIC_MAX_LAG_MS:
		v = t->max_compaction_lag_ms, dflt = SL_MAX_LAG_MS_DEFAULT; break;
	case TOPIC_DELETE_RETENTION_MS:
		v = t->delete_retention_ms;
		dflt = SL_DELETE_RETENTION_MS_DEFAULT;
		break;
	case TOPIC_MIN_ISR:
		dflt = k->cluster ? sl_config_default_min_isr(c) : 1;
		v = k->cluster && t->min_insync_replicas > 0 ?
			    t->min_insync_replicas : dflt;
		break;
	case TOPIC_UNCLEAN: {
		bool dv = k->cluster && c->unclean_leader_election;
		bool tv = k->cluster && t->unclean_leader_election ?
				  t->unclean_leader_election == 2 : dv;
		*value = cstr(tv ? "true" : "false");
		*dflt_value = cstr(dv ? "true" : "false");
		return;
	}
	case BROKER_ID: v = dflt = c->node_id; break;
	case BROKER_PARTITIONS: v = dflt = c->default_partitions; break;
	case BROKER_RETENTION_MS: v = dflt = c->retention_ms; break;
	case BROKER_RETENTION_BYTES: v = dflt = c->retention_bytes; break;
	case BROKER_SEGMENT_BYTES: v = dflt = c->segment_bytes; break;
	case TOPIC_CLEANUP_POLICY:
		*value = cstr(t->cleanup_policy == SN_CLEANUP_DELETE ? "delete"
			      : t->cleanup_policy == SN_CLEANUP_COMPACT
				      ? "compact" : "compact,delete");
		*dflt_value = cstr("delete");
		return;
	case TOPIC_DIRTY_RATIO:
		*value = ka_double(k, t->min_cleanable_dirty_ratio);
		*dflt_value = ka_double(k, SL_DIRTY_RATIO_DEFAULT);
		return;
	case FIXED:
		*value = *dflt_value = cstr(d->fixed);
		return;
	case BROKER_LOG_DIRS:
		*value = *dflt_value = cstr(c->data_dir);
		return;
	}
	*value = ka_num(k, v);
	*dflt_value = v == dflt ? *value : ka_num(k, dflt);
}

#define KA_CONFIGS_MAX 12
_Static_assert(sizeof(topic_configs_all) / sizeof(topic_configs_all[0]) <=
		       KA_CONFIGS_MAX &&
	       sizeof(broker_configs_all) / sizeof(broker_configs_all[0]) <=
		       KA_CONFIGS_MAX,
	       "the response arena is sized for KA_CONFIGS_MAX per resource");

/* ---- CreateTopics ---- */

/* A config value as an int64: decimal, nothing else.  Returns 0 or -1. */
static int parse_i64(struct kc_str s, int64_t *out)
{
	char buf[32];
	if (s.len <= 0 || (size_t)s.len >= sizeof(buf))
		return -1;
	memcpy(buf, s.ptr, (size_t)s.len);
	buf[s.len] = 0;
	if (!(buf[0] == '-' || (buf[0] >= '0' && buf[0] <= '9')))
		return -1;
	char *end;
	errno = 0;
	long long v = strtoll(buf, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

/* A config value as a double: decimal, finite.  Returns 0 or -1. */
static int parse_double(struct kc_str s, double *out)
{
	char buf[64];
	if (s.len <= 0 || (size_t)s.len >= sizeof(buf))
		return -1;
	memcpy(buf, s.ptr, (size_t)s.len);
	buf[s.len] = 0;
	char *end;
	errno = 0;
	double v = strtod(buf, &end);
	if (errno || *end || !(v == v) || v > 1e308 || v < -1e308)
		return -1;
	*out = v;
	return 0;
}

/* cleanup.policy as Kafka lists it: "delete", "compact", or both with a
 * comma (either order, blanks around the items ignored).  Returns the
 * SN_CLEANUP_* bits, or 0 when it is not such a list. */
static uint8_t parse_policy(struct kc_str s)
{
	uint8_t bits = 0;
	int32_t i = 0;
	if (s.len <= 0)
		return 0;
	/* bounded: each round consumes one item of s */
	while (i <= s.len) {
		int32_t j = i;
		while (j < s.len && s.ptr[j] != ',')
			j++;
		int32_t a = i, b = j;
		while (a < b && (s.ptr[a] == ' ' || s.ptr[a] == '\t'))
			a++;
		while (b > a && (s.ptr[b - 1] == ' ' || s.ptr[b - 1] == '\t'))
			b--;
		struct kc_str item = {s.ptr + a, b - a};
		if (str_is(item, "delete"))
			bits |= SN_CLEANUP_DELETE;
		else if (str_is(item, "compact"))
			bits |= SN_CLEANUP_COMPACT;
		else
			return 0;
		i = j + 1;
	}
	return bits;
}

/* Is config d read-only here?  The replication configs are a cluster's:
 * a single broker has one replica of everything. */
static bool ka_read_only(const struct ka *k, const struct ka_config *d)
{
	return d->read_only || (!k->cluster && (d->src == TOPIC_MIN_ISR ||
						d->src == TOPIC_UNCLEAN));
}

/*
 * One topic config (a key and its value) onto t, as CreateTopics and the
 * Alter*Configs requests set it.  Returns 0, or INVALID_CONFIG with *msg
 * set: an unknown or read-only key, a null or malformed value, or one out
 * of Kafka's range for the key.
 */
static int apply_config(struct ka *k, struct kc_str key, struct kc_str val,
			struct sl_topic *t, struct kc_str *msg)
{
	char kb[68], vb[68];
	int64_t v = 0;
	double d = 0;
	if (val.len < 0) {
		*msg = ka_msg(k, "config '%s' has a null value", shown(key, kb));
		return KA_ERR_INVALID_CONFIG;
	}
	if ((str_is(key, "min.insync.replicas") ||
	     str_is(key, "unclean.leader.election.enable")) && !k->cluster) {
		*msg = ka_msg(k, "config '%s' is a cluster's: a single broker "
			      "keeps one replica of each partition",
			      shown(key, kb));
		return KA_ERR_INVALID_CONFIG;
	}
	if (str_is(key, "min.insync.replicas")) {
		if (parse_i64(val, &v) || v < 1 || v > INT16_MAX) {
			*msg = ka_msg(k, "Invalid value %s for configuration "
				      "min.insync.replicas: a count of "
				      "replicas, at least 1", shown(val, vb));
			return KA_ERR_INVALID_CONFIG;
		}
		t->min_insync_replicas = (int16_t)v;
		return 0;
	}
	if (str_is(key, "unclean.leader.election.enable")) {
		if (!str_is(val, "true") && !str_is(val, "false")) {
			*msg = ka_msg(k, "Invalid value %s for configuration "
				      "unclean.leader.election.enable: true or "
				      "false", shown(val, vb));
			return KA_ERR_INVALID_CONFIG;
		}
		t->unclean_leader_election = str_is(val, "true") ? 2 : 1;
		return 0;
	}
	if (str_is(key, "cleanup.policy")) {
		uint8_t bits = parse_policy(val);
		if (!bits) {
			*msg = ka_msg(k, "Invalid value %s for configuration "
				      "cleanup.policy: give delete, compact or "
				      "compact,delete", shown(val, vb));
			return KA_ERR_INVALID_CONFIG;
		}
		t->cleanup_policy = bits;
		return 0;
	}
	if (str_is(key, "min.cleanable.dirty.ratio")) {
		if (parse_double(val, &d) || d < 0 || d > 1) {
			*msg = ka_msg(k, "Invalid value %s for configuration "
				      "min.cleanable.dirty.ratio: a number "
				      "between 0 and 1", shown(val, vb));
			return KA_ERR_INVALID_CONFIG;
		}
		t->min_cleanable_dirty_ratio = d;
		return 0;
	}
	static const struct {
		const char *name;
		int64_t min, max;
		const char *unit;
	} nums[] = {
		{"retention.ms", -1, INT64_MAX, "milliseconds, or -1 (forever)"},
		{"retention.bytes", -1, INT64_MAX, "bytes, or -1 (unlimited)"},
		{"segment.bytes", SEGMENT_BYTES_MIN, SEGMENT_BYTES_MAX,
		 "bytes, 1 MiB to 2047 MiB"},
		{"min.compaction.lag.ms", 0, INT64_MAX, "milliseconds, >= 0"},
		{"max.compaction.lag.ms", 1, INT64_MAX, "milliseconds, >= 1"},
		{"delete.retention.ms", 0, INT64_MAX, "milliseconds, >= 0"},
	};
	int64_t *dst[] = {&t->retention_ms, &t->retention_bytes,
			  &t->segment_bytes, &t->min_compaction_lag_ms,
			  &t->max_compaction_lag_ms, &t->delete_retention_ms};
	_Static_assert(sizeof(nums) / sizeof(nums[0]) ==
			       sizeof(dst) / sizeof(dst[0]),
		       "one destination per numeric config");
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (!str_is(key, nums[i].name))
			continue;
		/* 0 would mean "the default" to the native path */
		bool zero_bad = i < 2;
		if (parse_i64(val, &v) || v < nums[i].min || v > nums[i].max ||
		    (zero_bad && v == 0)) {
			*msg = ka_msg(k, "Invalid value %s for configuration "
				      "%s: %s%s", shown(val, vb), nums[i].name,
				      nums[i].unit,
				      zero_bad ? ", not 0" : "");
			return KA_ERR_INVALID_CONFIG;
		}
		*dst[i] = v;
		return 0;
	}
	*msg = ka_msg(k, "config '%s' is not supported: sluice's topic configs "
		      "are retention.ms, retention.bytes, segment.bytes, "
		      "cleanup.policy, min.cleanable.dirty.ratio, "
		      "min.compaction.lag.ms, max.compaction.lag.ms, "
		      "delete.retention.ms and, in a cluster, "
		      "min.insync.replicas and unclean.leader.election.enable",
		      shown(key, kb));
	return KA_ERR_INVALID_CONFIG;
}

/* The rule Kafka checks across configs.  Returns 0 or INVALID_CONFIG. */
static int check_topic_configs(struct ka *k, const struct sl_topic *t,
			       struct kc_str *msg)
{
	if (t->min_compaction_lag_ms > t->max_compaction_lag_ms) {
		*msg = ka_msg(k, "conflict topic config setting "
			      "min.compaction.lag.ms (%lld) > "
			      "max.compaction.lag.ms (%lld)",
			      (long long)t->min_compaction_lag_ms,
			      (long long)t->max_compaction_lag_ms);
		return KA_ERR_INVALID_CONFIG;
	}
	assert(sl_topic_compaction_valid(t));
	return 0;
}

/* The topic configs of one CreatableTopic onto out.  Returns 0 or an error
 * code with *msg set. */
static int topic_configs(struct ka *k, const struct kc_create_topics_req_topic *t,
			 struct sl_topic *out, struct kc_str *msg)
{
	const struct kc_create_topics_req_config *cf = t->configs.items;
	char kb[68];
	for (int32_t i = 0; i < t->configs.count; i++) {
		struct kc_str key = cf[i].name;
		for (int32_t j = 0; j < i; j++) {
			if (str_eq(cf[j].name, key)) {
				*msg = ka_msg(k, "config '%s' is given twice",
					      shown(key, kb));
				return KA_ERR_INVALID_CONFIG;
			}
		}
		int rc = apply_config(k, key, cf[i].value, out, msg);
		if (rc)
			return rc;
	}
	return check_topic_configs(k, out, msg);
}

/* A manual assignment's first checks: counts of -1 beside it, and not
 * more partitions than a topic may have; *seen: a flag per partition. */
static int assignment_start(struct ka *k,
			    const struct kc_create_topics_req_topic *t,
			    uint8_t **seen, struct kc_str *msg)
{
	int32_t n = t->assignments.count;
	if (t->num_partitions != -1 || t->replication_factor != -1) {
		*msg = ka_msg(k, "give either num_partitions and "
			      "replication_factor or a manual assignment "
			      "(with both -1), not both");
		return SN_ERR_INVALID_REQUEST;
	}
	if (n > SN_PARTITIONS_MAX) {
		*msg = ka_msg(k, "%d partitions assigned: at most %d",
			      (int)n, SN_PARTITIONS_MAX);
		return SN_ERR_INVALID_PARTITIONS;
	}
	*seen = ka_take(k, (size_t)n);
	memset(*seen, 0, (size_t)n);
	return 0;
}

/* Partition p of an assignment of n: 0..n-1, not seen before. */
static int assignment_partition(struct ka *k, int32_t n, int32_t p,
				uint8_t *seen, struct kc_str *msg)
{
	if (p < 0 || p >= n || seen[p]) {
		*msg = ka_msg(k, "the assignment must list partitions 0 to %d "
			      "once each (partition %d)", (int)n - 1, (int)p);
		return KA_ERR_INVALID_REPLICA_ASSIGNMENT;
	}
	seen[p] = 1;
	return 0;
}

/* Partitions from a manual assignment: accepted when it lists every
 * partition 0..n-1 once, each with this broker as its only replica. */
static int topic_assignment(struct ka *k,
			    const struct kc_create_topics_req_topic *t,
			    int32_t *partitions, struct kc_str *msg)
{
	int32_t n = t->assignments.count;
	const struct kc_create_topics_assignment *a = t->assignments.items;
	uint8_t *seen;
	int rc = assignment_start(k, t, &seen, msg);
	if (rc)
		return rc;
	for (int32_t i = 0; i < n; i++) {
		int32_t p = a[i].partition_index;
		const int32_t *b = a[i].broker_ids.items;
		if ((rc = assignment_partition(k, n, p, seen, msg)))
			return rc;
		if (a[i].broker_ids.count != 1 || b[0] != k->c->node_id) {
			*msg = ka_msg(k, "partition %d: this broker is a single "
				      "node (id %d), so each partition has "
				      "exactly one replica, on it", (int)p,
				      (int)k->c->node_id);
			return KA_ERR_INVALID_REPLICA_ASSIGNMENT;
		}
	}
	*partitions = n;
	return 0;
}

/* A cluster's manual assignment (sl_kadmin_handle_brokers): 0 with
 * *partitions and *rf, or an error code with *msg set. */
static int cluster_assignment(struct ka *k,
			      const struct kc_create_topics_req_topic *t,
			      int32_t *partitions, int16_t *rf,
			      struct kc_str *msg)
{
	int32_t n = t->assignments.count;
	const struct kc_create_topics_assignment *a = t->assignments.items;
	uint8_t *seen;
	int rc = assignment_start(k, t, &seen, msg);
	if (rc)
		return rc;
	int32_t want = a[0].broker_ids.count;
	for (int32_t i = 0; i < n; i++) {
		int32_t p = a[i].partition_index;
		const int32_t *b = a[i].broker_ids.items;
		int32_t cnt = a[i].broker_ids.count;
		if ((rc = assignment_partition(k, n, p, seen, msg)))
			return rc;
		if (cnt < 1 || cnt > SL_KADMIN_RF_MAX || cnt != want) {
			*msg = ka_msg(k, "partition %d lists %d replica(s): "
				      "every partition lists the same number, "
				      "1 to %d", (int)p, (int)cnt,
				      SL_KADMIN_RF_MAX);
			return KA_ERR_INVALID_REPLICA_ASSIGNMENT;
		}
		bool live = false;
		for (int32_t j = 0; j < cnt; j++) {
			for (int32_t q = 0; q < j; q++)
				if (b[q] == b[j]) {
					*msg = ka_msg(k, "partition %d lists "
						      "broker %d twice",
						      (int)p, (int)b[j]);
					return KA_ERR_INVALID_REPLICA_ASSIGNMENT;
				}
			int st = k->b->state(k->b->ctx, b[j]);
			if (st == 0) {
				*msg = ka_msg(k, "partition %d: broker %d is "
					      "not registered in this "
					      "cluster", (int)p, (int)b[j]);
				return KA_ERR_INVALID_REPLICA_ASSIGNMENT;
			}
			live |= st == 2;
		}
		if (!live) {
			*msg = ka_msg(k, "partition %d: none of its replicas "
				      "is a live broker", (int)p);
			return KA_ERR_INVALID_REPLICA_ASSIGNMENT;
		}
	}
	*partitions = n;
	*rf = (int16_t)want;
	return 0;
}

/* Check one CreatableTopic and turn it into a topic as the native path
 * would.  Returns 0 or an error code with *msg set. */
static int topic_from(struct ka *k, const struct kc_create_topics_req_topic *t,
		      struct sl_topic *out, struct kc_str *msg)
{
	const struct sl_config *c = k->c;
	struct sn_create_topic r = {
		.durability = (uint8_t)c->durability,
		.name = t->name.ptr,
		.name_len = (uint16_t)(t->name.len > 0 ? t->name.len : 0),
	};
	int rc;
	if (t->name.len <= 0 || t->name.len > SN_NAME_MAX ||
	    !sn_topic_name_valid(t->name.ptr, (size_t)t->name.len)) {
		*msg = ka_msg(k, "a topic name is 1 to %d characters of "
			      "[A-Za-z0-9._-], and not '.' or '..'",
			      SN_NAME_MAX);
		return SN_ERR_INVALID_TOPIC_EXCEPTION;
	}
	int16_t rf = 0;
	if (t->assignments.count > 0 && k->cluster && k->b) {
		if ((rc = cluster_assignment(k, t, &r.partitions, &rf, msg)))
			return rc;
	} else if (t->assignments.count > 0 && k->cluster) {
		*msg = ka_msg(k, "a manual replica assignment is taken by the "
			      "active controller only");
		return KA_ERR_INVALID_REPLICA_ASSIGNMENT;
	} else if (t->assignments.count > 0) {
		if ((rc = topic_assignment(k, t, &r.partitions, msg)))
			return rc;
	} else {
		r.partitions = t->num_partitions == -1 ? c->default_partitions
						       : t->num_partitions;
		if (r.partitions < 1 || r.partitions > SN_PARTITIONS_MAX) {
			*msg = ka_msg(k, "num_partitions %d: give 1 to %d, or -1"
				      " for the default (%d)",
				      (int)t->num_partitions, SN_PARTITIONS_MAX,
				      (int)c->default_partitions);
			return SN_ERR_INVALID_PARTITIONS;
		}
		rf = t->replication_factor == -1 ?
			     (int16_t)sl_config_default_rf(c) :
			     t->replication_factor;
		if (k->cluster && (rf < 1 || rf > SL_KADMIN_RF_MAX)) {
			*msg = ka_msg(k, "replication factor %d: give 1 to %d, "
				      "or -1 for the default (%d)", (int)rf,
				      SL_KADMIN_RF_MAX,
				      (int)sl_config_default_rf(c));
			return KA_ERR_INVALID_REPLICATION_FACTOR;
		} else if (k->cluster && rf > k->brokers) {
			*msg = ka_msg(k, "Unable to replicate the partition %d "
				      "time(s): The target replication factor "
				      "of %d cannot be reached because only "
				      "%d broker(s) are registered.", (int)rf,
				      (int)rf, (int)k->brokers);
			return KA_ERR_INVALID_REPLICATION_FACTOR;
		} else if (k->cluster) {
			/* within the cluster */
		} else if (t->replication_factor > 1) {
			*msg = ka_msg(k, "replication factor %d: this broker is "
				      "a single node, so the replication "
				      "factor is 1 (or -1 for the default)",
				      (int)t->replication_factor);
			return KA_ERR_INVALID_REPLICATION_FACTOR;
		} else if (t->replication_factor != 1 &&
			 t->replication_factor != -1) {
			*msg = ka_msg(k, "replication factor %d: give 1, or -1 "
				      "for the default",
				      (int)t->replication_factor);
			return KA_ERR_INVALID_REPLICATION_FACTOR;
		}
	}
	rc = sl_admin_topic_from(c, &r, out);
	if (rc < 0) {
		/* every field was checked above; this is a configured default
		 * the native rules refuse */
		*msg = ka_msg(k, "the broker's topic defaults are refused: %s",
			      sn_error_message(-rc));
		return -rc;
	}
	sl_topic_compaction_defaults(out);
	out->replication_factor = k->cluster ? rf : 0;
	return topic_configs(k, t, out, msg);
}

/* The bytes a created topic adds to a v5+ result at most: its id, counts
 * and configs (compact strings, tagged-field counts). */
static size_t created_bytes(void)
{
	size_t n = 16 + 4 + 2 + 5 + 1;
	for (size_t i = 0; i < NCONFIGS(topic_configs_all); i++)
		n += strlen(topic_configs_all[i].name) + KA_VALUE_MAX + 8 + 16;
	return n;
}

/* The configs of a created topic for its v5+ result, as DescribeConfigs
 * lists them. */
static void created_configs(struct ka *k, const struct sl_topic *t,
			    struct kc_create_topics_resp_topic *o)
{
	size_t n = NCONFIGS(topic_configs_all);
	struct kc_create_topics_resp_config *e = ka_take(k, n * sizeof(*e));
	for (size_t i = 0; i < n; i++) {
		const struct ka_config *d = &topic_configs_all[i];
		struct kc_str value, dflt;
		config_value(k, d, t, &value, &dflt);
		e[i] = (struct kc_create_topics_resp_config){
			.name = cstr(d->name),
			.value = value,
			.read_only = ka_read_only(k, d),
			.config_source = str_eq(value, dflt)
						 ? KC_CONFIG_SOURCE_DEFAULT
						 : KC_CONFIG_SOURCE_TOPIC,
			.is_sensitive = false,
		};
	}
	o->configs = (struct kc_array){e, (int32_t)n};
}

static long create_topics(struct ka *k, const struct kc_request_header *h,
			  const struct kc_create_topics_req *q, uint8_t *resp,
			  size_t cap, int *changed)
{
	union kc_response body;
	struct kc_create_topics_resp *r = (void *)body.raw;
	const struct kc_create_topics_req_topic *t = q->topics.items;
	int32_t n = q->topics.count > 0 ? q->topics.count : 0;
	size_t bound = KA_FIXED_BYTES;
	size_t per_topic = KA_PER_TOPIC_BYTES +
			   (h->api_version >= 5 ? created_bytes() : 0);
	for (int32_t i = 0; i < n; i++)
		bound += (size_t)t[i].name.len + per_topic;
	if (bound > cap)
		return -ENOBUFS;
	k->msg_budget = cap - bound;

	kc_defaults(kc_api_spec(KC_API_CREATE_TOPICS)->response, body.raw);
	struct kc_create_topics_resp_topic *out = ka_take(k, (size_t)n * sizeof(*out));
	uint8_t *dup = ka_take(k, (size_t)n);
	mark_duplicates(k, (const uint8_t *)t, sizeof(*t), n, dup);
	if (q->validate_only)
		ka_refresh(k);
	int32_t m = 0;
	for (int32_t i = 0; i < n; i++) {
		if (dup[i] == 2)
			continue; /* one result per name, as Kafka */
		struct kc_create_topics_resp_topic *o = &out[m++];
		*o = (struct kc_create_topics_resp_topic){
			.name = t[i].name,
			.error_message = {NULL, -1},
			.num_partitions = -1,
			.replication_factor = -1,
			.configs = {NULL, -1},
		};
		struct sl_topic topic, done;
		int code = 0;
		if (dup[i]) {
			o->error_message = ka_msg(k, "the topic is named more "
						  "than once in the request");
			o->error_code = SN_ERR_INVALID_REQUEST;
			continue;
		}
		code = topic_from(k, &t[i], &topic, &o->error_message);
		if (!code && q->validate_only) {
			if (k->fresh_rc) {
				o->error_message = ka_msg(k, "%s", k->fresh_err);
				code = SN_ERR_KAFKA_STORAGE_ERROR;
			} else if (sl_meta_find(k->m, topic.name, topic.name_len)) {
				o->error_message = ka_msg(k, "topic '%s' already "
							  "exists", topic.name);
				code = SN_ERR_TOPIC_ALREADY_EXISTS;
			}
		} else if (!code) {
			char err[512] = "";
			long id = sl_admin_create(k->m, &topic, &done, err,
						  sizeof(err));
			if (id > 0) {
				*changed = 1;
				topic = done;
			} else {
				o->error_message = ka_msg(k, "%s", err);
				code = (int)-id;
			}
		}
		o->error_code = (int16_t)code;
		if (!code) {
			o->num_partitions = topic.partitions;
			o->replication_factor = topic.replication_factor > 0 ?
						topic.replication_factor : 1;
			if (topic.id)
				sl_topic_uuid(topic.id, o->topic_id.b);
			created_configs(k, &topic, o);
		}
	}
	r->throttle_time_ms = 0;
	r->topics = (struct kc_array){out, m};
	struct kc_response_header rh = {h->correlation_id};
	long len = kc_encode_response(h->api_key, h->api_version, &rh, &body,
				      resp, cap);
	assert(len > 0); /* the bound above holds it */
	return len;
}

/* ---- DeleteTopics ---- */

static bool uuid_is_zero(const struct kc_uuid *u)
{
	static const struct kc_uuid zero;
	return !memcmp(u->b, zero.b, sizeof(zero.b));
}

/*
 * v0-5 name the topics in topic_names; v6 in topics, each by name or (a
 * non-zero topic_id) by id.  Ids are resolved to names first, so a topic
 * named twice either way is one duplicate; an id that is not a live
 * topic's is UNKNOWN_TOPIC_ID.
 */
static long delete_topics(struct ka *k, const struct kc_request_header *h,
			  const struct kc_delete_topics_req *q, uint8_t *resp,
			  size_t cap, int *changed)
{
	union kc_response body;
	struct kc_delete_topics_resp *r = (void *)body.raw;
	bool by_topics = h->api_version >= 6;
	const struct kc_delete_topics_req_topic *tv = q->topics.items;
	const struct kc_str *names = q->topic_names.items;
	int32_t n = by_topics ? q->topics.count : q->topic_names.count;
	if (n < 0)
		n = 0;
	size_t bound = KA_FIXED_BYTES;
	for (int32_t i = 0; i < n; i++) {
		struct kc_str nm = by_topics ? tv[i].name : names[i];
		/* v6: the id, and a name an id resolves to (at most
		 * SN_NAME_MAX) */
		bound += (size_t)(nm.len >= 0 ? nm.len : 0) + KA_PER_TOPIC_BYTES +
			 (by_topics ? 16 + SN_NAME_MAX : 0);
	}
	if (bound > cap)
		return -ENOBUFS;
	k->msg_budget = cap - bound;

	kc_defaults(kc_api_spec(KC_API_DELETE_TOPICS)->response, body.raw);
	struct kc_delete_topics_resp_topic *out = ka_take(k, (size_t)n * sizeof(*out));
	struct kc_str *want = ka_take(k, (size_t)n * sizeof(*want));
	int16_t *err_of = ka_take(k, (size_t)n * sizeof(*err_of));
	uint8_t *dup = ka_take(k, (size_t)n);
	if (by_topics)
		ka_refresh(k);
	for (int32_t i = 0; i < n; i++) {
		err_of[i] = 0;
		want[i] = by_topics ? tv[i].name : names[i];
		if (!by_topics || uuid_is_zero(&tv[i].topic_id))
			continue;
		uint32_t id = sl_topic_uuid_id(tv[i].topic_id.b);
		const struct sl_topic *t = id && !k->fresh_rc
						   ? sl_meta_find_id(k->m, id)
						   : NULL;
		if (k->fresh_rc) {
			err_of[i] = SN_ERR_KAFKA_STORAGE_ERROR;
		} else if (!t) {
			err_of[i] = KA_ERR_UNKNOWN_TOPIC_ID;
		} else {
			char *p = ka_take(k, t->name_len + 1u);
			memcpy(p, t->name, t->name_len + 1u);
			want[i] = (struct kc_str){p, t->name_len};
		}
	}
	mark_duplicates(k, (const uint8_t *)want, sizeof(*want), n, dup);
	int32_t m = 0;
	for (int32_t i = 0; i < n; i++) {
		if (!err_of[i] && dup[i] == 2)
			continue; /* one result per name, as Kafka */
		struct kc_delete_topics_resp_topic *o = &out[m++];
		*o = (struct kc_delete_topics_resp_topic){
			.name = want[i], .error_message = {NULL, -1}};
		if (by_topics)
			o->topic_id = tv[i].topic_id;
		if (err_of[i] == KA_ERR_UNKNOWN_TOPIC_ID) {
			o->error_code = err_of[i];
			o->error_message = ka_msg(k, "no topic has this id");
			continue;
		}
		if (err_of[i]) {
			o->error_code = err_of[i];
			o->error_message = ka_msg(k, "%s", k->fresh_err);
			continue;
		}
		if (dup[i]) {
			o->error_code = SN_ERR_INVALID_REQUEST;
			o->error_message = ka_msg(k, "the topic is named more "
						  "than once in the request");
			continue;
		}
		char err[512] = "";
		struct sl_topic done;
		long rc = want[i].len > 0
				  ? sl_admin_delete(k->m, want[i].ptr,
						    (size_t)want[i].len, &done,
						    err, sizeof(err))
				  : -SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		if (rc == 0) {
			*changed = 1;
			if (by_topics)
				sl_topic_uuid(done.id, o->topic_id.b);
		} else {
			o->error_code = (int16_t)-rc;
			o->error_message = ka_msg(k, "%s", err[0] ? err :
						  "a topic has no empty name");
		}
	}
	r->throttle_time_ms = 0;
	r->responses = (struct kc_array){out, m};
	struct kc_response_header rh = {h->correlation_id};
	long len = kc_encode_response(h->api_key, h->api_version, &rh, &body,
				      resp, cap);
	assert(len > 0); /* the bound above holds it */
	return len;
}

/* ---- CreatePartitions ---- */

struct grow {
	int32_t count;
	int32_t assignments;  /* -1: none given */
	int32_t node_id;
	const struct kc_create_partitions_req_topic *t;
};

/* sl_admin_modify's step for CreatePartitions: Kafka's checks, in its
 * order, against the topic as the store has it now. */
static int grow_topic(struct sl_topic *t, void *ctx, char *err, size_t errlen)
{
	const struct grow *g = ctx;
	if (g->count == t->partitions) {
		snprintf(err, errlen, "Topic already has %d partition(s).",
			 (int)t->partitions);
		return SN_ERR_INVALID_PARTITIONS;
	}
	if (g->count < t->partitions) {
		snprintf(err, errlen, "The topic %s currently has %d "
			 "partition(s); %d would not be an increase.", t->name,
			 (int)t->partitions, (int)g->count);
		return SN_ERR_INVALID_PARTITIONS;
	}
	if (g->count > SN_PARTITIONS_MAX) {
		snprintf(err, errlen, "%d partitions: a topic has at most %d",
			 (int)g->count, SN_PARTITIONS_MAX);
		return SN_ERR_INVALID_PARTITIONS;
	}
	int32_t added = g->count - t->partitions;
	if (g->assignments >= 0 && g->assignments != added) {
		snprintf(err, errlen, "Attempted to add %d additional "
			 "partition(s), but only %d assignment(s) were "
			 "specified.", (int)added, (int)g->assignments);
		return KA_ERR_INVALID_REPLICA_ASSIGNMENT;
	}
	const struct kc_create_partitions_req_assignment *a =
		g->t->assignments.items;
	for (int32_t i = 0; i < g->assignments; i++) {
		const int32_t *b = a[i].broker_ids.items;
		if (a[i].broker_ids.count != 1 || b[0] != g->node_id) {
			snprintf(err, errlen, "new partition %d: this broker is "
				 "a single node (id %d), so each partition has "
				 "exactly one replica, on it",
				 (int)(t->partitions + i), (int)g->node_id);
			return KA_ERR_INVALID_REPLICA_ASSIGNMENT;
		}
	}
	t->partitions = g->count;
	return 0;
}

static long create_partitions(struct ka *k, const struct kc_request_header *h,
			      const struct kc_create_partitions_req *q,
			      uint8_t *resp, size_t cap, int *changed)
{
	union kc_response body;
	struct kc_create_partitions_resp *r = (void *)body.raw;
	const struct kc_create_partitions_req_topic *t = q->topics.items;
	int32_t n = q->topics.count > 0 ? q->topics.count : 0;
	size_t bound = KA_FIXED_BYTES;
	for (int32_t i = 0; i < n; i++)
		bound += (size_t)t[i].name.len + KA_PER_TOPIC_BYTES;
	if (bound > cap)
		return -ENOBUFS;
	k->msg_budget = cap - bound;

	memset(&body, 0, sizeof(body));
	struct kc_create_partitions_resp_topic_result *out =
		ka_take(k, (size_t)n * sizeof(*out));
	uint8_t *dup = ka_take(k, (size_t)n);
	_Static_assert(offsetof(struct kc_create_partitions_req_topic, name) == 0,
		       "mark_duplicates reads a name at the start of each item");
	mark_duplicates(k, (const uint8_t *)t, sizeof(*t), n, dup);
	int32_t m = 0;
	for (int32_t i = 0; i < n; i++) {
		if (dup[i] == 2)
			continue; /* one result per name, as Kafka */
		struct kc_create_partitions_resp_topic_result *o = &out[m++];
		*o = (struct kc_create_partitions_resp_topic_result){
			.name = t[i].name, .error_message = {NULL, -1}};
		if (dup[i]) {
			o->error_code = SN_ERR_INVALID_REQUEST;
			o->error_message = ka_msg(k, "Duplicate topic name.");
			continue;
		}
		struct grow g = {
			.count = t[i].count,
			.assignments = t[i].assignments.count,
			.node_id = k->c->node_id,
			.t = &t[i],
		};
		char err[512] = "";
		long rc = t[i].name.len > 0
				  ? sl_admin_modify(k->m, t[i].name.ptr,
						    (size_t)t[i].name.len,
						    grow_topic, &g,
						    q->validate_only, NULL, err,
						    sizeof(err))
				  : -SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		if (rc == 0) {
			*changed |= !q->validate_only;
		} else {
			o->error_code = (int16_t)-rc;
			o->error_message = ka_msg(k, "%s", err[0] ? err :
						  "topic '' does not exist");
		}
	}
	r->throttle_time_ms = 0;
	r->results = (struct kc_array){out, m};
	struct kc_response_header rh = {h->correlation_id};
	long len = kc_encode_response(h->api_key, h->api_version, &rh, &body,
				      resp, cap);
	assert(len > 0); /* the bound above holds it */
	return len;
}

/* ---- DescribeConfigs ---- */

static bool wanted(const struct kc_describe_configs_resource *res,
		   const char *name)
{
	if (res->configuration_keys.count < 0)
		return true; /* null: all */
	const struct kc_str *keys = res->configuration_keys.items;
	for (int32_t i = 0; i < res->configuration_keys.count; i++)
		if (str_is(keys[i], name))
			return true;
	return false;
}

static void describe_entries(struct ka *k, const struct kc_describe_configs_req *q,
			     const struct kc_describe_configs_resource *res,
			     const struct ka_config *all, size_t nall,
			     const struct sl_topic *t,
			     struct kc_describe_configs_result *o)
{
	struct kc_describe_configs_entry *e = ka_take(k, KA_CONFIGS_MAX * sizeof(*e));
	int32_t n = 0;
	assert(nall <= KA_CONFIGS_MAX);
	for (size_t i = 0; i < nall; i++) {
		const struct ka_config *d = &all[i];
		if (!wanted(res, d->name))
			continue;
		struct kc_str value, dflt;
		config_value(k, d, t, &value, &dflt);
		bool is_default = str_eq(value, dflt);
		struct kc_describe_configs_entry *x = &e[n++];
		*x = (struct kc_describe_configs_entry){
			.name = cstr(d->name),
			.value = value,
			.read_only = ka_read_only(k, d),
			.is_default = is_default,
			.is_sensitive = false,
			.synonyms = {NULL, 0},
			.config_type = d->type,
			.documentation = q->include_documentation
						 ? cstr(d->doc)
						 : (struct kc_str){NULL, -1},
		};
		if (t)
			x->config_source = is_default ? KC_CONFIG_SOURCE_DEFAULT
						      : KC_CONFIG_SOURCE_TOPIC;
		else
			x->config_source = KC_CONFIG_SOURCE_STATIC_BROKER;
		if (!q->include_synonyms)
			continue;
		/* as Kafka lists them: the value in force first, then what it
		 * falls back to (the broker's config of the same meaning) */
		struct kc_describe_configs_synonym *y = ka_take(k, 2 * sizeof(*y));
		int32_t ny = 0;
		if (t && !is_default)
			y[ny++] = (struct kc_describe_configs_synonym){
				x->name, value, KC_CONFIG_SOURCE_TOPIC};
		y[ny++] = (struct kc_describe_configs_synonym){
			d->synonym ? cstr(d->synonym) : x->name, dflt,
			t ? d->synonym_source : KC_CONFIG_SOURCE_STATIC_BROKER};
		x->synonyms = (struct kc_array){y, ny};
	}
	o->configs = (struct kc_array){e, n};
}

static long describe_configs(struct ka *k, const struct kc_request_header *h,
			     const struct kc_describe_configs_req *q,
			     uint8_t *resp, size_t cap)
{
	union kc_response body;
	struct kc_describe_configs_resp *r = (void *)body.raw;
	const struct kc_describe_configs_resource *res = q->resources.items;
	int32_t n = q->resources.count > 0 ? q->resources.count : 0;
	char nb[68];
	memset(&body, 0, sizeof(body));
	k->msg_budget = SIZE_MAX; /* nothing changes: -ENOBUFS is harmless */
	ka_refresh(k);
	struct kc_describe_configs_result *out = ka_take(k, (size_t)n * sizeof(*out));
	for (int32_t i = 0; i < n; i++) {
		struct kc_describe_configs_result *o = &out[i];
		*o = (struct kc_describe_configs_result){
			.error_message = {NULL, -1},
			.resource_type = res[i].resource_type,
			.resource_name = res[i].resource_name,
			.configs = {NULL, 0},
		};
		struct kc_str name = res[i].resource_name;
		if (res[i].resource_type == KC_RESOURCE_TOPIC) {
			const struct sl_topic *t = NULL;
			if (name.len <= 0 || name.len > SN_NAME_MAX ||
			    !sn_topic_name_valid(name.ptr, (size_t)name.len)) {
				o->error_code = SN_ERR_INVALID_TOPIC_EXCEPTION;
				o->error_message = ka_msg(k, "'%s' is not a valid "
							  "topic name",
							  shown(name, nb));
			} else if (k->fresh_rc) {
				o->error_code = SN_ERR_KAFKA_STORAGE_ERROR;
				o->error_message = ka_msg(k, "%s", k->fresh_err);
			} else if (!(t = sl_meta_find(k->m, name.ptr,
						      (size_t)name.len))) {
				o->error_code = SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
				o->error_message = ka_msg(k, "topic '%s' does not "
							  "exist",
							  shown(name, nb));
			} else {
				describe_entries(k, q, &res[i], topic_configs_all,
						 NCONFIGS(topic_configs_all),
						 t, o);
			}
		} else if (res[i].resource_type == KC_RESOURCE_BROKER) {
			char id[16];
			snprintf(id, sizeof(id), "%d", (int)k->c->node_id);
			if (name.len > 0 && !str_is(name, id)) {
				o->error_code = SN_ERR_INVALID_REQUEST;
				o->error_message = ka_msg(k, "broker '%s' is not "
							  "this broker: ask for "
							  "'%s' (or '' for the "
							  "defaults)",
							  shown(name, nb), id);
			} else {
				describe_entries(k, q, &res[i], broker_configs_all,
						 NCONFIGS(broker_configs_all),
						 NULL, o);
			}
		} else {
			o->error_code = SN_ERR_INVALID_REQUEST;
			o->error_message = ka_msg(k, "resource type %d is not "
						  "supported: 2 (topic) and 4 "
						  "(broker) are",
						  (int)res[i].resource_type);
		}
	}
	r->throttle_time_ms = 0;
	r->results = (struct kc_array){out, n};
	struct kc_response_header rh = {h->correlation_id};
	long len = kc_encode_response(h->api_key, h->api_version, &rh, &body,
				      resp, cap);
	assert(len > 0 || len == -ENOBUFS);
	return len;
}

/* ---- AlterConfigs and IncrementalAlterConfigs ---- */

/* Kafka's AlterConfigOp.OpType ids (IncrementalAlterConfigs). */
#define KA_OP_SET 0
#define KA_OP_DELETE 1
#define KA_OP_APPEND 2
#define KA_OP_SUBTRACT 3

/* One resource's config changes, for sl_admin_modify's step. */
struct alter {
	struct ka *k;
	const void *items;  /* kc_alter_configs_req_alterable_config, or the
			       incremental one */
	int32_t n;
	bool incremental;
	struct kc_str msg;  /* why, when the step refuses */
};

static void alter_op(const struct alter *a, int32_t i, struct kc_str *name,
		     int8_t *op, struct kc_str *value)
{
	if (a->incremental) {
		const struct kc_incremental_alter_configs_req_alterable_config
			*c = a->items;
		*name = c[i].name, *op = c[i].config_operation,
		*value = c[i].value;
	} else {
		const struct kc_alter_configs_req_alterable_config *c = a->items;
		*name = c[i].name, *op = KA_OP_SET, *value = c[i].value;
	}
}

/* Set key of t back to what a topic created without it has. */
static int reset_config(struct ka *k, struct kc_str key, struct sl_topic *t)
{
	struct sl_topic d = *t;
	d.retention_ms = k->c->retention_ms;
	d.retention_bytes = k->c->retention_bytes;
	d.segment_bytes = k->c->segment_bytes;
	sl_topic_compaction_defaults(&d);
	for (size_t i = 0; i < NCONFIGS(topic_configs_all); i++) {
		const struct ka_config *c = &topic_configs_all[i];
		if (ka_read_only(k, c) || !str_is(key, c->name))
			continue;
		switch (c->src) {
		case TOPIC_RETENTION_MS: t->retention_ms = d.retention_ms; break;
		case TOPIC_RETENTION_BYTES:
			t->retention_bytes = d.retention_bytes; break;
		case TOPIC_SEGMENT_BYTES: t->segment_bytes = d.segment_bytes; break;
		case TOPIC_CLEANUP_POLICY:
			t->cleanup_policy = d.cleanup_policy; break;
		case TOPIC_DIRTY_RATIO:
			t->min_cleanable_dirty_ratio = d.min_cleanable_dirty_ratio;
			break;
		case TOPIC_MIN_LAG_MS:
			t->min_compaction_lag_ms = d.min_compaction_lag_ms; break;
		case TOPIC_MAX_LAG_MS:
			t->max_compaction_lag_ms = d.max_compaction_lag_ms; break;
		case TOPIC_DELETE_RETENTION_MS:
			t->delete_retention_ms = d.delete_retention_ms; break;
		case TOPIC_MIN_ISR: t->min_insync_replicas = 0; break;
		case TOPIC_UNCLEAN: t->unclean_leader_election = 0; break;
		default:
			assert(!"a writable config has a topic source");
		}
		return 0;
	}
	return -1;
}

/* sl_admin_modify's step: the changes onto the topic as stored now.
 * AlterConfigs replaces the whole set (a config not given goes back to its
 * default); IncrementalAlterConfigs changes the configs it names. */
static int alter_topic(struct sl_topic *t, void *ctx, char *err, size_t errlen)
{
	struct alter *a = ctx;
	struct ka *k = a->k;
	char kb[68];
	(void)err, (void)errlen;
	if (!a->incremental) {
		t->retention_ms = k->c->retention_ms;
		t->retention_bytes = k->c->retention_bytes;
		t->segment_bytes = k->c->segment_bytes;
		sl_topic_compaction_defaults(t);
		t->min_insync_replicas = 0;
		t->unclean_leader_election = 0;
	}
	for (int32_t i = 0; i < a->n; i++) {
		struct kc_str key, value;
		int8_t op;
		alter_op(a, i, &key, &op, &value);
		int rc = 0;
		if (op == KA_OP_SET) {
			rc = apply_config(k, key, value, t, &a->msg);
		} else if (op == KA_OP_DELETE) {
			if (reset_config(k, key, t)) {
				/* as SET names an unknown key */
				rc = apply_config(k, key, cstr(""), t, &a->msg);
				assert(rc);
			}
		} else if (!str_is(key, "cleanup.policy")) {
			a->msg = ka_msg(k, "Config value %s is not allowed for "
					"config key: %s",
					op == KA_OP_APPEND ? "append" : "subtract",
					shown(key, kb));
			rc = KA_ERR_INVALID_CONFIG;
		} else {
			/* the one list config: items added or taken away */
			struct sl_topic one = *t;
			rc = apply_config(k, key, value, &one, &a->msg);
			uint8_t bits = op == KA_OP_APPEND
					       ? t->cleanup_policy | one.cleanup_policy
					       : t->cleanup_policy & ~one.cleanup_policy;
			if (!rc && !bits) {
				a->msg = ka_msg(k, "cleanup.policy would be "
						"empty: it is delete, compact "
						"or both");
				rc = KA_ERR_INVALID_CONFIG;
			}
			if (!rc)
				t->cleanup_policy = bits;
		}
		if (rc)
			return rc;
	}
	return check_topic_configs(k, t, &a->msg);
}

/* The checks Kafka makes of a resource before applying it (the same for
 * both APIs): each key once, a value for every SET/APPEND/SUBTRACT, a known
 * operation.  Returns 0 or INVALID_REQUEST with *msg set. */
static int alter_precheck(struct ka *k, const struct alter *a,
			  struct kc_str *msg)
{
	/* duplicates by sorting, as mark_duplicates does for topics */
	struct kc_str *names = ka_take(k, (size_t)a->n * sizeof(*names));
	uint8_t *dup = ka_take(k, (size_t)a->n);
	char kb[68];
	bool nulls = false;
	for (int32_t i = 0; i < a->n; i++) {
		int8_t op;
		struct kc_str value;
		alter_op(a, i, &names[i], &op, &value);
		if (op < KA_OP_SET || op > KA_OP_SUBTRACT) {
			*msg = ka_msg(k, "Unknown operations type %d", (int)op);
			return SN_ERR_INVALID_REQUEST;
		}
		nulls |= op != KA_OP_DELETE && value.len < 0;
	}
	mark_duplicates(k, (const uint8_t *)names, sizeof(*names), a->n, dup);
	for (int32_t i = 0; i < a->n; i++) {
		if (dup[i]) {
			*msg = ka_msg(k, "Error due to duplicate config keys");
			return SN_ERR_INVALID_REQUEST;
		}
	}
	if (nulls) {
		char list[KA_MSG_MAX] = "";
		size_t used = 0;
		for (int32_t i = 0; i < a->n; i++) {
			int8_t op;
			struct kc_str key, value;
			alter_op(a, i, &key, &op, &value);
			if (op == KA_OP_DELETE || value.len >= 0)
				continue;
			int w = snprintf(list + used, sizeof(list) - used, "%s%s",
					 used ? ", " : "", shown(key, kb));
			if (w < 0 || (size_t)w >= sizeof(list) - used)
				break;
			used += (size_t)w;
		}
		*msg = ka_msg(k, "Null value not supported for : %s", list);
		return SN_ERR_INVALID_REQUEST;
	}
	return 0;
}

/* A broker resource: sluice's broker configs come from sluice.conf and
 * none can be changed while it runs, which Kafka answers for a config it
 * cannot update dynamically with INVALID_REQUEST. */
static int alter_broker(struct ka *k, struct kc_str name, const struct alter *a,
			struct kc_str *msg)
{
	char nb[68], id[16], list[KA_MSG_MAX] = "";
	size_t used = 0;
	snprintf(id, sizeof(id), "%d", (int)k->c->node_id);
	if (name.len > 0 && !str_is(name, id)) {
		bool digits = name.len <= 10;
		for (int32_t i = 0; digits && i < name.len; i++)
			digits = name.ptr[i] >= '0' && name.ptr[i] <= '9';
		if (!digits)
			*msg = ka_msg(k, "Node id must be an integer, but it "
				      "is: %s", shown(name, nb));
		else
			*msg = ka_msg(k, "Unexpected broker id, expected %s, "
				      "but received %s", id, shown(name, nb));
		return SN_ERR_INVALID_REQUEST;
	}
	for (int32_t i = 0; i < a->n; i++) {
		int8_t op;
		struct kc_str key, value;
		alter_op(a, i, &key, &op, &value);
		const struct ka_config *d = NULL;
		for (size_t j = 0; j < NCONFIGS(broker_configs_all); j++)
			if (str_is(key, broker_configs_all[j].name))
				d = &broker_configs_all[j];
		if (!d) {
			*msg = ka_msg(k, "Unknown config name: %s",
				      shown(key, nb));
			return KA_ERR_INVALID_CONFIG;
		}
		if (op == KA_OP_DELETE)
			continue; /* nothing set dynamically to delete */
		if ((op == KA_OP_APPEND || op == KA_OP_SUBTRACT) &&
		    d->type != KA_TYPE_LIST) {
			*msg = ka_msg(k, "Config value %s is not allowed for "
				      "config key: %s",
				      op == KA_OP_APPEND ? "append" : "subtract",
				      d->name);
			return KA_ERR_INVALID_CONFIG;
		}
		int w = snprintf(list + used, sizeof(list) - used, "%s%s",
				 used ? ", " : "", d->name);
		if (w > 0 && (size_t)w < sizeof(list) - used)
			used += (size_t)w;
	}
	if (!used)
		return 0;
	*msg = ka_msg(k, "Cannot update these configs dynamically: Set(%s)",
		      list);
	return SN_ERR_INVALID_REQUEST;
}

/* Both APIs: their requests and responses have the same shape (the
 * incremental config has an operation more); the responses' resource
 * struct is the same. */
_Static_assert(sizeof(struct kc_alter_configs_resp_resource_response) ==
		       sizeof(struct kc_incremental_alter_configs_resp_alter_configs_resource_response),
	       "one result layout for both APIs");
_Static_assert(sizeof(struct kc_alter_configs_req_resource) ==
		       sizeof(struct kc_incremental_alter_configs_req_alter_configs_resource) &&
	       offsetof(struct kc_alter_configs_req_resource, configs) ==
		       offsetof(struct kc_incremental_alter_configs_req_alter_configs_resource, configs),
	       "one resource layout for both APIs");
_Static_assert(sizeof(struct kc_alter_configs_req) ==
		       sizeof(struct kc_incremental_alter_configs_req) &&
	       offsetof(struct kc_alter_configs_req, validate_only) ==
		       offsetof(struct kc_incremental_alter_configs_req, validate_only),
	       "one request layout for both APIs");

static long alter_configs(struct ka *k, const struct kc_request_header *h,
			  const struct kc_alter_configs_req *q, uint8_t *resp,
			  size_t cap, int *changed)
{
	bool incremental = h->api_key == KC_API_INCREMENTAL_ALTER_CONFIGS;
	union kc_response body;
	struct kc_alter_configs_resp *r = (void *)body.raw;
	const struct kc_alter_configs_req_resource *res = q->resources.items;
	int32_t n = q->resources.count > 0 ? q->resources.count : 0;
	size_t bound = KA_FIXED_BYTES;
	for (int32_t i = 0; i < n; i++)
		bound += (size_t)(res[i].resource_name.len > 0
					  ? res[i].resource_name.len : 0) +
			 KA_PER_TOPIC_BYTES;
	if (bound > cap)
		return -ENOBUFS;
	k->msg_budget = cap - bound;

	kc_defaults(kc_api_spec(h->api_key)->response, body.raw);
	struct kc_alter_configs_resp_resource_response *out =
		ka_take(k, (size_t)n * sizeof(*out));
	/* a resource named twice: both answered INVALID_REQUEST, as Kafka */
	struct kc_str *ids = ka_take(k, (size_t)n * sizeof(*ids));
	uint8_t *dup = ka_take(k, (size_t)n);
	for (int32_t i = 0; i < n; i++) {
		struct kc_str nm = res[i].resource_name;
		size_t len = nm.len > 0 ? (size_t)nm.len : 0;
		char *p = ka_take(k, len + 1);
		p[0] = (char)res[i].resource_type;
		if (len)
			memcpy(p + 1, nm.ptr, len);
		ids[i] = (struct kc_str){p, (int32_t)len + 1};
	}
	mark_duplicates(k, (const uint8_t *)ids, sizeof(*ids), n, dup);
	for (int32_t i = 0; i < n; i++) {
		struct kc_alter_configs_resp_resource_response *o = &out[i];
		struct kc_str name = res[i].resource_name;
		*o = (struct kc_alter_configs_resp_resource_response){
			.error_message = {NULL, -1},
			.resource_type = res[i].resource_type,
			.resource_name = name,
		};
		struct alter a = {
			.k = k,
			.items = res[i].configs.items,
			.n = res[i].configs.count > 0 ? res[i].configs.count : 0,
			.incremental = incremental,
			.msg = {NULL, -1},
		};
		int code;
		char nb[68];
		if (dup[i]) {
			o->error_code = SN_ERR_INVALID_REQUEST;
			o->error_message = ka_msg(k, "Each resource must appear "
						  "at most once.");
			continue;
		}
		if ((code = alter_precheck(k, &a, &o->error_message))) {
			o->error_code = (int16_t)code;
			continue;
		}
		if (res[i].resource_type == KC_RESOURCE_BROKER) {
			o->error_code = (int16_t)alter_broker(k, name, &a,
							      &o->error_message);
			continue;
		}
		if (res[i].resource_type != KC_RESOURCE_TOPIC) {
			o->error_code = SN_ERR_INVALID_REQUEST;
			o->error_message = ka_msg(k, "resource type %d is not "
						  "supported: 2 (topic) and 4 "
						  "(broker) are",
						  (int)res[i].resource_type);
			continue;
		}
		if (name.len <= 0 || name.len > SN_NAME_MAX ||
		    !sn_topic_name_valid(name.ptr, (size_t)name.len)) {
			o->error_code = SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
			o->error_message = ka_msg(k, "topic '%s' does not exist",
						  shown(name, nb));
			continue;
		}
		char err[512] = "";
		long rc = sl_admin_modify(k->m, name.ptr, (size_t)name.len,
					  alter_topic, &a, q->validate_only,
					  NULL, err, sizeof(err));
		if (rc == 0) {
			*changed |= !q->validate_only;
		} else {
			o->error_code = (int16_t)-rc;
			o->error_message = err[0] ? ka_msg(k, "%s", err) : a.msg;
		}
	}
	r->throttle_time_ms = 0;
	r->responses = (struct kc_array){out, n};
	struct kc_response_header rh = {h->correlation_id};
	long len = kc_encode_response(h->api_key, h->api_version, &rh, &body,
				      resp, cap);
	assert(len > 0); /* the bound above holds it */
	return len;
}

/* ---- the entry point ---- */

/* Bytes of the response arena for a decoded request of key. */
static size_t out_bytes(int16_t key, const union kc_request *body)
{
	size_t n, per, extra = 64;
	switch (key) {
	case KC_API_CREATE_TOPICS: {
		const struct kc_create_topics_req *q = (const void *)body->raw;
		const struct kc_create_topics_req_topic *t = q->topics.items;
		n = q->topics.count > 0 ? (size_t)q->topics.count : 0;
		/* result, duplicate flag and sort entry, message; and each
		 * topic's assignment check */
		per = sizeof(struct kc_create_topics_resp_topic) + 1 +
		      sizeof(struct ka_name) + KA_MSG_MAX + 1 + 32 +
		      KA_CONFIGS_MAX * (sizeof(struct kc_create_topics_resp_config) +
					2 * (KA_VALUE_MAX + 8));
		for (size_t i = 0; i < n; i++)
			extra += (t[i].assignments.count > 0
					  ? (size_t)t[i].assignments.count : 0) + 8;
		break;
	}
	case KC_API_DELETE_TOPICS: {
		const struct kc_delete_topics_req *q = (const void *)body->raw;
		int32_t c = q->topics.count > q->topic_names.count
				    ? q->topics.count : q->topic_names.count;
		n = c > 0 ? (size_t)c : 0;
		per = sizeof(struct kc_delete_topics_resp_topic) + 1 +
		      sizeof(struct kc_str) + 2 + SN_NAME_MAX + 1 + 8 +
		      sizeof(struct ka_name) + KA_MSG_MAX + 1 + 32;
		break;
	}
	case KC_API_CREATE_PARTITIONS: {
		const struct kc_create_partitions_req *q = (const void *)body->raw;
		n = q->topics.count > 0 ? (size_t)q->topics.count : 0;
		per = sizeof(struct kc_create_partitions_resp_topic_result) + 1 +
		      sizeof(struct ka_name) + KA_MSG_MAX + 1 + 32;
		break;
	}
	case KC_API_ALTER_CONFIGS:
	case KC_API_INCREMENTAL_ALTER_CONFIGS: {
		const struct kc_alter_configs_req *q = (const void *)body->raw;
		const struct kc_alter_configs_req_resource *r = q->resources.items;
		n = q->resources.count > 0 ? (size_t)q->resources.count : 0;
		/* result, duplicate flag, sort entry, id string, messages
		 * (the resource's and apply_config's); each config's name,
		 * flag and sort entry for the key check */
		per = sizeof(struct kc_alter_configs_resp_resource_response) +
		      1 + sizeof(struct ka_name) + sizeof(struct kc_str) + 8 +
		      SN_NAME_MAX + 2 * (KA_MSG_MAX + 1 + 8) + 64;
		for (size_t i = 0; i < n; i++)
			extra += (r[i].configs.count > 0
					  ? (size_t)r[i].configs.count : 0) *
					 (sizeof(struct kc_str) + 1 +
					  sizeof(struct ka_name)) + 24 +
				 (r[i].resource_name.len > 0
					  ? (size_t)r[i].resource_name.len : 0);
		break;
	}
	default: {
		const struct kc_describe_configs_req *q = (const void *)body->raw;
		n = q->resources.count > 0 ? (size_t)q->resources.count : 0;
		per = sizeof(struct kc_describe_configs_result) + KA_MSG_MAX + 1 +
		      KA_CONFIGS_MAX * (sizeof(struct kc_describe_configs_entry) +
					2 * sizeof(struct kc_describe_configs_synonym) +
					2 * (KA_VALUE_MAX + 8) + 24) + 16;
		break;
	}
	}
	return 3 * 8 + n * per + extra;
}

bool sl_kadmin_serves(int16_t api_key)
{
	return api_key == KC_API_CREATE_TOPICS ||
	       api_key == KC_API_DELETE_TOPICS ||
	       api_key == KC_API_DESCRIBE_CONFIGS ||
	       api_key == KC_API_CREATE_PARTITIONS ||
	       api_key == KC_API_ALTER_CONFIGS ||
	       api_key == KC_API_INCREMENTAL_ALTER_CONFIGS;
}

long sl_kadmin_handle(struct sl_meta *m, const struct sl_config *c,
		      const uint8_t *req, size_t len, uint8_t *resp,
		      size_t cap, int *changed)
{
	return sl_kadmin_handle_in(m, c, 0, req, len, resp, cap, changed);
}

long sl_kadmin_handle_in(struct sl_meta *m, const struct sl_config *c,
			 int32_t brokers, const uint8_t *req, size_t len,
			 uint8_t *resp, size_t cap, int *changed)
{
	struct sl_kadmin_brokers b = {brokers, NULL, NULL};
	return sl_kadmin_handle_brokers(m, c, &b, req, len, resp, cap,
					changed);
}

long sl_kadmin_handle_brokers(struct sl_meta *m, const struct sl_config *c,
			      const struct sl_kadmin_brokers *b,
			      const uint8_t *req, size_t len, uint8_t *resp,
			      size_t cap, int *changed)
{
	int32_t brokers = b->live;
	assert(m && c && changed && (req || len == 0) && (resp || cap == 0));
	*changed = 0;
	if (len >= 2 && !sl_kadmin_serves((int16_t)((req[0] << 8) | req[1])))
		return -EINVAL;
	if (len > SIZE_MAX / 32)
		return -ENOMEM;
	struct kc_request_header h;
	union kc_request body;
	size_t in_cap = 16 * len + 64;
	struct kc_arena in = {malloc(in_cap), in_cap, 0};
	if (!in.base)
		return -ENOMEM;
	long rc = kc_decode_request(req, len, &h, &body, &in);
	if (rc < 0) {
		/* 16 x len holds any request of these schemas; should one
		 * grow, this is still not the caller's -ENOBUFS */
		if (rc == -ENOBUFS)
			rc = -EMSGSIZE;
		goto out_in;
	}
	struct ka k = {.m = m, .c = c, .brokers = brokers,
		       .b = b->state ? b : NULL,
		       .cluster = brokers > 0 ||
				  c->controller_quorum_voters[0] != '\0'};
	k.out.cap = out_bytes(h.api_key, &body);
	k.out.base = malloc(k.out.cap);
	if (!k.out.base) {
		rc = -ENOMEM;
		goto out_in;
	}
	switch (h.api_key) {
	case KC_API_CREATE_TOPICS:
		rc = create_topics(&k, &h, (const void *)body.raw, resp, cap,
				   changed);
		break;
	case KC_API_DELETE_TOPICS:
		rc = delete_topics(&k, &h, (const void *)body.raw, resp, cap,
				   changed);
		break;
	case KC_API_CREATE_PARTITIONS:
		rc = create_partitions(&k, &h, (const void *)body.raw, resp, cap,
				       changed);
		break;
	case KC_API_ALTER_CONFIGS:
	case KC_API_INCREMENTAL_ALTER_CONFIGS:
		rc = alter_configs(&k, &h, (const void *)body.raw, resp, cap,
				   changed);
		break;
	default:
		assert(h.api_key == KC_API_DESCRIBE_CONFIGS);
		rc = describe_configs(&k, &h, (const void *)body.raw, resp, cap);
		break;
	}
	assert(k.out.used <= k.out.cap);
	free(k.out.base);
out_in:
	free(in.base);
	return rc;
}
