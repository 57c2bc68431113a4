/*
 * The committed-offsets table (commits.h has the contract).
 *
 * Committed offsets are kept by the offsets store (offsets.h; the file
 * format is in offsets.c): every OffsetCommit appends its records as one
 * durable batch (one write and one fdatasync per request) before the
 * reply; DeleteGroups and offset expiry append tombstones, durable before
 * anything is forgotten; a group's becoming Empty appends a state record
 * (when it did); the store is rewritten with only what is live once it has
 * grown to SL_OFFSETS_COMPACT_RATIO times that (the live size is counted
 * here, record by record: live_bytes follows every change of a set).  At
 * the open the records are applied in file order: a later commit for the
 * same group, topic and partition replaces the earlier; a tombstone
 * removes what it names, if present; a later state replaces the earlier.
 *
 * Failure modes: a failed append leaves memory as the file is (the caller
 * answers KAFKA_STORAGE_ERROR, or tries an expiry again later); while the
 * store is broken (what is on disk is unknown) every batch fails with -EIO
 * until the coordinator is reopened, which reads back what survived.
 *
 * In memory a set is an array sorted by topic (its bytes, then its length)
 * and partition, searched by bisection; each offset's topic and metadata
 * sit in one allocation of their own.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control/commits.h"
#include "control/groups.h" /* the coordinator's limits */
#include "control/offsets.h"

/* The store's format bounds are the coordinator's limits: nothing accepted
 * there is too long to be kept here. */
_Static_assert(SL_GROUPS_NAME_MAX == SL_OFFSETS_GROUP_MAX, "group ids fit");
_Static_assert(SL_GROUPS_TOPIC_MAX == SL_OFFSETS_TOPIC_MAX, "topics fit");
_Static_assert(SL_GROUPS_OFFSET_METADATA_MAX == SL_OFFSETS_META_MAX,
	       "metadata fits");

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* ---- the records of a set (offsets.h) ---- */

/* o committed, the group's state (empty_ms: when it became Empty, or -1),
 * o expired, the group deleted. */
static struct sl_offsets_rec commit_rec(const struct sl_commit_set *s,
					const struct sl_commit *o)
{
	return (struct sl_offsets_rec){
		.type = SL_OFFSETS_COMMIT, .group_len = s->group_len,
		.group = s->group, .topic_len = o->topic_len,
		.topic = (const char *)o->blob, .partition = o->partition,
		.offset = o->offset, .leader_epoch = o->leader_epoch,
		.meta_len = o->meta_len,
		.meta = (const char *)o->blob + o->topic_len,
		.time_ms = o->commit_ms,
	};
}

static struct sl_offsets_rec state_rec(const struct sl_commit_set *s,
				       int64_t empty_ms)
{
	return (struct sl_offsets_rec){
		.type = SL_OFFSETS_STATE, .group_len = s->group_len,
		.group = s->group, .time_ms = empty_ms,
	};
}

static struct sl_offsets_rec expire_rec(const struct sl_commit_set *s,
					const struct sl_commit *o)
{
	return (struct sl_offsets_rec){
		.type = SL_OFFSETS_EXPIRE, .group_len = s->group_len,
		.group = s->group, .topic_len = o->topic_len,
		.topic = (const char *)o->blob, .partition = o->partition,
	};
}

static struct sl_offsets_rec delete_rec(const struct sl_commit_set *s)
{
	return (struct sl_offsets_rec){
		.type = SL_OFFSETS_DELETE, .group_len = s->group_len,
		.group = s->group,
	};
}

/* What o and s's state record take in the store (its live size). */
static uint64_t record_bytes(const struct sl_commit_set *s,
			     const struct sl_commit *o)
{
	struct sl_offsets_rec r = commit_rec(s, o);
	return sl_offsets_rec_bytes(&r);
}

static uint64_t state_bytes(const struct sl_commit_set *s)
{
	struct sl_offsets_rec r = state_rec(s, -1);
	return sl_offsets_rec_bytes(&r);
}

/* ---- the file ---- */

int sl_commits_open(struct sl_commits *c, const struct sdisk *d,
		    const char *dir, int64_t retention_ms, int64_t now_wall_ms,
		    sl_offsets_apply_fn replay, void *arg, char *err,
		    size_t errlen)
{
	assert(c && d && dir && replay && retention_ms > 0);
	*c = (struct sl_commits){.retention_ms = retention_ms};
	int rc = sl_offsets_open(d, dir, now_wall_ms, replay, arg, &c->store,
				 err, errlen);
	assert(rc < 0 ? c->store == NULL : c->store != NULL);
	return rc;
}

void sl_commits_open_sink(struct sl_commits *c, int64_t retention_ms,
			  const struct sl_commits_sink *sink)
{
	assert(c && sink && sink->add && sink->end && retention_ms > 0);
	*c = (struct sl_commits){.retention_ms = retention_ms, .sink = sink};
}

void sl_commits_close(struct sl_commits *c)
{
	assert(c->n == 0 && c->live_bytes == 0);
	sl_offsets_close(c->store);
	c->store = NULL;
}

bool sl_commits_must_rewrite(const struct sl_commits *c)
{
	return !c->sink && sl_offsets_must_rewrite(c->store);
}

bool sl_commits_broken(const struct sl_commits *c)
{
	return !c->sink && sl_offsets_broken(c->store);
}

/* A record of the batch under way, to the file or the sink. */
static void add(struct sl_commits *c, const struct sl_offsets_rec *r)
{
	if (c->sink)
		c->sink->add(c->sink->ctx, r);
	else
		sl_offsets_batch_add(c->store, r);
}

/* ---- a set in memory ---- */

void sl_commit_set_init(struct sl_commit_set *s, const char *group,
			size_t group_len)
{
	assert(group && group_len > 0 && group_len <= SL_OFFSETS_GROUP_MAX);
	*s = (struct sl_commit_set){
		.group = group, .group_len = (uint16_t)group_len,
		.logged_ms = SL_COMMITS_LOGGED_NONE,
	};
}

static int commit_cmp(const struct sl_commit *o, const char *topic,
		      size_t topic_len, int32_t partition)
{
	size_t n = o->topic_len < topic_len ? o->topic_len : topic_len;
	int c = memcmp(o->blob, topic, n);
	if (c)
		return c;
	if (o->topic_len != topic_len)
		return o->topic_len < topic_len ? -1 : 1;
	return o->partition < partition ? -1 : o->partition > partition;
}

int64_t sl_commits_find(const struct sl_commit_set *s, const char *topic,
			size_t topic_len, int32_t partition)
{
	int64_t lo = 0, hi = (int64_t)s->n - 1;
	while (lo <= hi) {
		int64_t mid = lo + (hi - lo) / 2;
		int c = commit_cmp(&s->items[mid], topic, topic_len,
				   partition);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -lo - 1;
}

int sl_commits_put(struct sl_commits *c, struct sl_commit_set *s,
		   const char *topic, size_t topic_len, int32_t partition,
		   int64_t offset, int32_t leader_epoch, const char *meta,
		   int32_t meta_len, int64_t commit_ms)
{
	assert(topic_len > 0 && topic_len <= SL_GROUPS_TOPIC_MAX);
	assert(meta_len >= -1 && meta_len <= SL_GROUPS_OFFSET_METADATA_MAX);
	int64_t at = sl_commits_find(s, topic, topic_len, partition);
	if (at < 0 && c->n >= SL_GROUPS_OFFSETS_MAX)
		return -EOVERFLOW;
	size_t mlen = meta_len > 0 ? (size_t)meta_len : 0;
	uint8_t *blob = malloc(topic_len + mlen);
	if (!blob)
		return -ENOMEM;
	memcpy(blob, topic, topic_len);
	if (mlen)
		memcpy(blob + topic_len, meta, mlen);
	struct sl_commit *o;
	if (at >= 0) {
		o = &s->items[at];
		c->live_bytes -= record_bytes(s, o);
		free(o->blob);
	} else {
		if (s->n == s->cap) {
			uint32_t cap = s->cap ? s->cap * 2 : 8;
			struct sl_commit *n = realloc(s->items,
						      cap * sizeof(*n));
			if (!n) {
				free(blob);
				return -ENOMEM;
			}
			s->items = n;
			s->cap = cap;
		}
		at = -at - 1;
		memmove(&s->items[at + 1], &s->items[at],
			(s->n - (uint32_t)at) * sizeof(s->items[0]));
		s->n++;
		c->n++;
		o = &s->items[at];
	}
	*o = (struct sl_commit){blob, (uint16_t)topic_len, meta_len, partition,
				leader_epoch, offset, commit_ms};
	c->live_bytes += record_bytes(s, o);
	return 0;
}

/* Forget the offset at index i of s. */
static void commit_remove(struct sl_commits *c, struct sl_commit_set *s,
			  uint32_t i)
{
	assert(i < s->n && c->n > 0);
	const struct sl_commit *o = &s->items[i];
	c->live_bytes -= record_bytes(s, o);
	free(o->blob);
	memmove(&s->items[i], &s->items[i + 1],
		(s->n - i - 1) * sizeof(s->items[0]));
	s->n--;
	c->n--;
}

void sl_commits_drop(struct sl_commits *c, struct sl_commit_set *s)
{
	assert(c->n >= s->n);
	for (uint32_t i = 0; i < s->n; i++) {
		const struct sl_commit *o = &s->items[i];
		c->live_bytes -= record_bytes(s, o);
		free(o->blob);
	}
	free(s->items);
	s->items = NULL;
	s->cap = 0;
	c->n -= s->n;
	s->n = 0;
	if (s->logged_ms != SL_COMMITS_LOGGED_NONE)
		c->live_bytes -= state_bytes(s);
	s->logged_ms = SL_COMMITS_LOGGED_NONE;
}

void sl_commits_logged(struct sl_commits *c, struct sl_commit_set *s,
		       int64_t ms)
{
	assert(ms != SL_COMMITS_LOGGED_NONE);
	if (s->logged_ms == SL_COMMITS_LOGGED_NONE)
		c->live_bytes += state_bytes(s);
	s->logged_ms = ms;
}

int sl_commits_replay(struct sl_commits *c, struct sl_commit_set *s,
		      const struct sl_offsets_rec *r)
{
	assert(r->group_len == s->group_len &&
	       !memcmp(r->group, s->group, s->group_len));
	switch (r->type) {
	case SL_OFFSETS_COMMIT:
		return sl_commits_put(c, s, r->topic, r->topic_len,
				      r->partition, r->offset, r->leader_epoch,
				      r->meta, r->meta_len, r->time_ms);
	case SL_OFFSETS_STATE:
		sl_commits_logged(c, s, r->time_ms);
		return 0;
	case SL_OFFSETS_EXPIRE: {
		int64_t at = sl_commits_find(s, r->topic, r->topic_len,
					     r->partition);
		if (at >= 0)
			commit_remove(c, s, (uint32_t)at);
		return 0;
	}
	}
	assert(!"not a record of one set");
	return -EINVAL;
}

/* ---- appending ---- */

void sl_commits_batch_begin(struct sl_commits *c)
{
	if (c->sink) {
		if (c->sink->begin)
			c->sink->begin(c->sink->ctx);
	} else {
		sl_offsets_batch_begin(c->store);
	}
}

void sl_commits_add_state(struct sl_commits *c, const struct sl_commit_set *s,
			  int64_t ms)
{
	assert(ms >= -1);
	struct sl_offsets_rec r = state_rec(s, ms);
	add(c, &r);
}

void sl_commits_add_commit(struct sl_commits *c, const struct sl_commit_set *s,
			   const char *topic, size_t topic_len,
			   int32_t partition, int64_t offset,
			   int32_t leader_epoch, const char *meta,
			   int32_t meta_len, int64_t time_ms)
{
	assert(topic_len > 0 && topic_len <= SL_GROUPS_TOPIC_MAX);
	assert(meta_len >= -1 && meta_len <= SL_GROUPS_OFFSET_METADATA_MAX);
	struct sl_offsets_rec r = {
		.type = SL_OFFSETS_COMMIT,
		.group_len = s->group_len, .group = s->group,
		.topic_len = (uint16_t)topic_len, .topic = topic,
		.partition = partition, .offset = offset,
		.leader_epoch = leader_epoch,
		.meta_len = meta_len, .meta = meta,
		.time_ms = time_ms,
	};
	add(c, &r);
}

void sl_commits_add_delete(struct sl_commits *c,
			   const struct sl_commit_set *s)
{
	/* a compacted log keeps each offset's last record: its tombstone
	 * goes with the group's, else the offsets come back with the next
	 * load once the cleaner has removed what came before the DELETE */
	if (c->sink)
		for (uint32_t i = 0; i < s->n; i++) {
			struct sl_offsets_rec e = expire_rec(s, &s->items[i]);
			add(c, &e);
		}
	struct sl_offsets_rec r = delete_rec(s);
	add(c, &r);
}

void sl_commits_add_remove(struct sl_commits *c,
			   const struct sl_commit_set *s, uint32_t i)
{
	assert(i < s->n);
	struct sl_offsets_rec r = expire_rec(s, &s->items[i]);
	add(c, &r);
}

void sl_commits_remove(struct sl_commits *c, struct sl_commit_set *s,
		       uint32_t i)
{
	commit_remove(c, s, i);
}

int sl_commits_batch_end(struct sl_commits *c)
{
	return c->sink ? c->sink->end(c->sink->ctx) :
			 sl_offsets_batch_end(c->store);
}

/* ---- expiry ---- */

int64_t sl_commits_expires_at(const struct sl_commits *c, int64_t ms)
{
	assert(c->retention_ms > 0);
	return ms > INT64_MAX - c->retention_ms ? INT64_MAX :
						  ms + c->retention_ms;
}

/* Whether o, of a group Empty since since_ms (or SL_COMMITS_EACH), is
 * expired at wall ms; *next is lowered to when it will be when it is
 * not. */
static bool expired(const struct sl_commits *c, const struct sl_commit *o,
		    int64_t since_ms, int64_t wall, int64_t *next)
{
	int64_t at = sl_commits_expires_at(c, since_ms != SL_COMMITS_EACH ?
					      since_ms : o->commit_ms);
	if (wall >= at)
		return true;
	*next = min64(*next, at);
	return false;
}

uint32_t sl_commits_expire_add(struct sl_commits *c,
			       const struct sl_commit_set *s, int64_t since_ms,
			       int64_t wall, int64_t *next)
{
	uint32_t n = 0;
	if (s->n == 0)
		return 0;
	if (since_ms != SL_COMMITS_EACH) {
		assert(since_ms >= 0);
		if (expired(c, &s->items[0], since_ms, wall, next)) {
			sl_commits_add_delete(c, s);
			n++;
		}
		return n;
	}
	for (uint32_t k = 0; k < s->n; k++) {
		const struct sl_commit *o = &s->items[k];
		if (expired(c, o, since_ms, wall, next)) {
			struct sl_offsets_rec r = expire_rec(s, o);
			add(c, &r);
			n++;
		}
	}
	return n;
}

uint32_t sl_commits_expire_apply(struct sl_commits *c,
				 struct sl_commit_set *s, int64_t since_ms,
				 int64_t wall)
{
	int64_t ignored = INT64_MAX;
	uint32_t n = 0;
	if (s->n == 0)
		return 0;
	if (since_ms != SL_COMMITS_EACH) {
		if (expired(c, &s->items[0], since_ms, wall, &ignored)) {
			sl_commits_drop(c, s);
			n++;
		}
		return n;
	}
	for (uint32_t k = s->n; k-- > 0;)
		if (expired(c, &s->items[k], since_ms, wall, &ignored)) {
			commit_remove(c, s, k);
			n++;
		}
	return n;
}

/* ---- compaction ---- */

bool sl_commits_compact_due(const struct sl_commits *c)
{
	return !c->sink && sl_offsets_compact_due(c->store, c->live_bytes);
}

void sl_commits_rewrite_begin(struct sl_commits *c)
{
	sl_offsets_rewrite_begin(c->store);
}

void sl_commits_rewrite_add(struct sl_commits *c,
			    const struct sl_commit_set *s)
{
	if (s->logged_ms != SL_COMMITS_LOGGED_NONE) {
		struct sl_offsets_rec r = state_rec(s, s->logged_ms);
		sl_offsets_rewrite_add(c->store, &r);
	}
	for (uint32_t j = 0; j < s->n; j++) {
		struct sl_offsets_rec r = commit_rec(s, &s->items[j]);
		sl_offsets_rewrite_add(c->store, &r);
	}
}

int sl_commits_rewrite_end(struct sl_commits *c)
{
	int rc = sl_offsets_rewrite_end(c->store);
	assert(rc < 0 || sl_offsets_size(c->store) ==
			 SL_OFFSETS_HEADER_BYTES + c->live_bytes);
	return rc;
}
