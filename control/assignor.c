/*
 * The server-side assignors (assignor.h has the contract).
 *
 * Partitions are numbered k = 0.. in topic order (the topics as given,
 * sorted by id), so owner[k] is the member a partition goes to and the
 * targets come out sorted.  uniform: each partition first stays with the
 * member whose previous target held it (when still subscribed), the rest
 * go one by one to the least loaded member subscribed to their topic, then
 * passes move a partition from its owner to the least loaded member
 * subscribed to its topic whenever their counts differ by two or more;
 * every move lowers the sum of the squared counts, so the passes end.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "control/assignor.h"

static const char *const names[SL_ASSIGNOR_COUNT] = {"uniform", "range"};

int sl_assignor_find(const char *name, size_t len)
{
	for (int i = 0; i < SL_ASSIGNOR_COUNT; i++)
		if (strlen(names[i]) == len && !memcmp(names[i], name, len))
			return i;
	return -1;
}

const char *sl_assignor_name(enum sl_assignor a)
{
	assert(a >= 0 && a < SL_ASSIGNOR_COUNT);
	return names[a];
}

int sl_tp_cmp(const struct sl_tp *a, const struct sl_tp *b)
{
	if (a->topic_id != b->topic_id)
		return a->topic_id < b->topic_id ? -1 : 1;
	if (a->partition != b->partition)
		return a->partition < b->partition ? -1 : 1;
	return 0;
}

/* The index of topic id in topics (sorted by id), or -1. */
static int64_t topic_index(const struct sl_assign_topic *topics, uint32_t n,
			   uint32_t id)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (topics[mid].id == id)
			return mid;
		if (topics[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* The least loaded member subscribed to topic t (lowest index on ties),
 * or -1. */
static int32_t least_loaded(const uint8_t *sub, uint32_t ntopics,
			    const uint32_t *load, uint32_t nmembers,
			    uint32_t t)
{
	int32_t best = -1;
	for (uint32_t m = 0; m < nmembers; m++)
		if (sub[(size_t)m * ntopics + t] &&
		    (best < 0 || load[m] < load[best]))
			best = (int32_t)m;
	return best;
}

static void uniform(const struct sl_assign_topic *topics, uint32_t ntopics,
		    const uint64_t *base, const uint8_t *sub,
		    struct sl_assign_member *members, uint32_t nmembers,
		    int32_t *owner, uint32_t *load, uint64_t total)
{
	/* sticky: the previous target, where still valid */
	for (uint32_t m = 0; m < nmembers; m++) {
		const struct sl_assign_member *am = &members[m];
		for (uint32_t i = 0; i < am->nprev; i++) {
			int64_t t = topic_index(topics, ntopics,
						am->prev[i].topic_id);
			if (t < 0 || !sub[(size_t)m * ntopics + (size_t)t] ||
			    am->prev[i].partition < 0 ||
			    am->prev[i].partition >= topics[t].partitions)
				continue;
			uint64_t k = base[t] + (uint64_t)am->prev[i].partition;
			if (owner[k] >= 0)
				continue; /* two previous owners: first wins */
			owner[k] = (int32_t)m;
			load[m]++;
		}
	}
	/* the rest to the least loaded */
	for (uint32_t t = 0; t < ntopics; t++)
		for (int32_t p = 0; p < topics[t].partitions; p++) {
			uint64_t k = base[t] + (uint64_t)p;
			if (owner[k] >= 0)
				continue;
			int32_t m = least_loaded(sub, ntopics, load, nmembers, t);
			if (m < 0)
				continue; /* nobody subscribes to t */
			owner[k] = m;
			load[m]++;
		}
	/* balance: each move lowers sum(load^2) by at least 2, which starts
	 * below total^2 + 1 */
	bool moved = true;
	for (uint64_t pass = 0; moved && pass <= total; pass++) {
		moved = false;
		for (uint32_t t = 0; t < ntopics; t++)
			for (int32_t p = 0; p < topics[t].partitions; p++) {
				uint64_t k = base[t] + (uint64_t)p;
				int32_t o = owner[k];
				if (o < 0)
					continue;
				int32_t c = least_loaded(sub, ntopics, load,
							 nmembers, t);
				assert(c >= 0); /* o is subscribed */
				if (load[o] < load[c] + 2)
					continue;
				owner[k] = c;
				load[o]--;
				load[c]++;
				moved = true;
			}
	}
	assert(!moved);
}

static int key_cmp(const struct sl_assign_member *a,
		   const struct sl_assign_member *b)
{
	size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
	int c = n ? memcmp(a->key, b->key, n) : 0;
	if (c)
		return c;
	return a->key_len < b->key_len ? -1 : a->key_len > b->key_len;
}

static void range(const struct sl_assign_topic *topics, uint32_t ntopics,
		  const uint64_t *base, const uint8_t *sub,
		  const struct sl_assign_member *members, uint32_t nmembers,
		  int32_t *owner, uint32_t *order)
{
	/* members by key: an insertion sort (at most the group's members) */
	for (uint32_t i = 0; i < nmembers; i++) {
		uint32_t j = i;
		while (j > 0 && key_cmp(&members[order[j - 1]], &members[i]) > 0) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	for (uint32_t t = 0; t < ntopics; t++) {
		uint32_t n = 0;
		for (uint32_t i = 0; i < nmembers; i++)
			n += sub[(size_t)order[i] * ntopics + t];
		if (n == 0)
			continue;
		int32_t each = topics[t].partitions / (int32_t)n;
		int32_t extra = topics[t].partitions % (int32_t)n;
		int32_t p = 0;
		uint32_t seen = 0;
		for (uint32_t i = 0; i < nmembers; i++) {
			uint32_t m = order[i];
			if (!sub[(size_t)m * ntopics + t])
				continue;
			int32_t take = each + ((int32_t)seen < extra ? 1 : 0);
			for (int32_t j = 0; j < take; j++, p++)
				owner[base[t] + (uint64_t)p] = (int32_t)m;
			seen++;
		}
		assert(p == topics[t].partitions);
	}
}

int sl_assign(enum sl_assignor a, const struct sl_assign_topic *topics,
	      uint32_t ntopics, struct sl_assign_member *members,
	      uint32_t nmembers)
{
	assert(a >= 0 && a < SL_ASSIGNOR_COUNT);
	assert(ntopics == 0 || topics);
	uint64_t total = 0;
	uint64_t *base = calloc(ntopics ? ntopics : 1, sizeof(*base));
	for (uint32_t t = 0; base && t < ntopics; t++) {
		assert(topics[t].partitions >= 0);
		assert(t == 0 || topics[t - 1].id < topics[t].id);
		base[t] = total;
		total += (uint64_t)topics[t].partitions;
	}
	size_t nsub = (size_t)nmembers * ntopics;
	uint8_t *sub = calloc(nsub ? nsub : 1, 1);
	int32_t *owner = malloc((total ? total : 1) * sizeof(*owner));
	uint32_t *load = calloc(nmembers ? nmembers : 1, sizeof(*load));
	uint32_t *order = calloc(nmembers ? nmembers : 1, sizeof(*order));
	int rc = -ENOMEM;
	for (uint32_t m = 0; m < nmembers; m++) {
		members[m].out = NULL;
		members[m].nout = 0;
	}
	if (!base || !sub || !owner || !load || !order)
		goto out_free;
	for (uint64_t k = 0; k < total; k++)
		owner[k] = -1;
	for (uint32_t m = 0; m < nmembers; m++)
		for (uint32_t i = 0; i < members[m].ntopics; i++) {
			assert(members[m].topics[i] < ntopics);
			sub[(size_t)m * ntopics + members[m].topics[i]] = 1;
		}
	if (a == SL_ASSIGNOR_UNIFORM)
		uniform(topics, ntopics, base, sub, members, nmembers, owner,
			load, total);
	else
		range(topics, ntopics, base, sub, members, nmembers, owner,
		      order);
	memset(load, 0, nmembers * sizeof(*load));
	for (uint64_t k = 0; k < total; k++)
		if (owner[k] >= 0)
			load[owner[k]]++;
	for (uint32_t m = 0; m < nmembers; m++) {
		if (load[m] == 0)
			continue;
		members[m].out = malloc(load[m] * sizeof(struct sl_tp));
		if (!members[m].out)
			goto out_outs;
	}
	for (uint32_t t = 0; t < ntopics; t++)
		for (int32_t p = 0; p < topics[t].partitions; p++) {
			int32_t m = owner[base[t] + (uint64_t)p];
			if (m >= 0)
				members[m].out[members[m].nout++] =
					(struct sl_tp){topics[t].id, p};
		}
	for (uint32_t m = 0; m < nmembers; m++)
		assert(members[m].nout == load[m]);
	rc = 0;
	goto out_free;
out_outs:
	for (uint32_t m = 0; m < nmembers; m++) {
		free(members[m].out);
		members[m].out = NULL;
		members[m].nout = 0;
	}
out_free:
	free(order);
	free(load);
	free(owner);
	free(sub);
	free(base);
	return rc;
}
