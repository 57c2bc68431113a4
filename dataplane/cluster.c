/*
 * sluiced's view of the cluster: dataplane/cluster.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/cluster.h"
#include "dataplane/dp.h"
#include "dataplane/fetcher.h"

#define ALTER_RING_SLOTS 1024

bool dp_clustered(const struct dp *dp)
{
	return dp->cfg.controller_quorum_voters[0] != '\0';
}

void dp_pview_init(const struct dp *dp, struct dp_pview *v)
{
	memset(v, 0, sizeof(*v));
	if (dp_clustered(dp)) {
		v->leader = -1;
		v->leader_epoch = -1;
		v->partition_epoch = -1;
		return;
	}
	v->leader = dp->cfg.node_id;
	v->nreplicas = v->nisr = v->min_isr = 1;
	v->replicas[0] = v->isr[0] = dp->cfg.node_id;
}

void dp_pview_get(struct dp *dp, const struct dp_partition *p,
		  struct dp_pview *out)
{
	pthread_rwlock_rdlock(&dp->cluster_lock);
	*out = p->view;
	pthread_rwlock_unlock(&dp->cluster_lock);
}

int dp_broker_get(struct dp *dp, int32_t node, struct dp_broker *out)
{
	int rc = -ENOENT;
	pthread_rwlock_rdlock(&dp->cluster_lock);
	for (unsigned i = 0; i < dp->nbrokers; i++)
		if (dp->brokers[i].node_id == node) {
			*out = dp->brokers[i];
			rc = 0;
			break;
		}
	pthread_rwlock_unlock(&dp->cluster_lock);
	return rc;
}

unsigned dp_brokers_live(struct dp *dp, struct dp_broker *out, unsigned cap)
{
	unsigned n = 0;
	pthread_rwlock_rdlock(&dp->cluster_lock);
	for (unsigned i = 0; i < dp->nbrokers && n < cap; i++)
		if (!dp->brokers[i].fenced)
			out[n++] = dp->brokers[i];
	pthread_rwlock_unlock(&dp->cluster_lock);
	return n;
}

static int broker_cmp(const void *a, const void *b)
{
	const struct dp_broker *x = a, *y = b;
	return (x->node_id > y->node_id) - (x->node_id < y->node_id);
}

int dp_cluster_put_brokers(struct dp *dp, const struct sipc_broker *b,
			   unsigned n)
{
	if (!dp->brokers || n > SIPC_BROKERS_MAX)
		return SN_ERR_INVALID_REQUEST;
	static struct dp_broker next[SIPC_BROKERS_MAX]; /* main only */
	for (unsigned i = 0; i < n; i++) {
		if (!b[i].host_len || b[i].host_len > SIPC_HOST_MAX)
			return SN_ERR_INVALID_REQUEST;
		next[i] = (struct dp_broker){ .node_id = b[i].node_id,
					      .kafka_port = b[i].kafka_port,
					      .native_port = b[i].native_port,
					      .fenced = b[i].fenced };
		memcpy(next[i].host, b[i].host, b[i].host_len);
		next[i].host[b[i].host_len] = '\0';
	}
	qsort(next, n, sizeof(next[0]), broker_cmp);
	for (unsigned i = 1; i < n; i++)
		if (next[i].node_id == next[i - 1].node_id)
			return SN_ERR_INVALID_REQUEST;
	pthread_rwlock_wrlock(&dp->cluster_lock);
	memcpy(dp->brokers, next, n * sizeof(next[0]));
	dp->nbrokers = n;
	pthread_rwlock_unlock(&dp->cluster_lock);
	dp_fetcher_kick(dp);
	return 0;
}

/* s is one that isr_apply would take: nodes in range, none twice, the
 * in-sync ones and the leader among the replicas. */
static bool state_valid(const struct sipc_partition_state *s)
{
	if (s->nreplicas > DP_REPLICAS_MAX || s->nisr > s->nreplicas)
		return false;
	for (unsigned i = 0; i < s->nreplicas; i++)
		for (unsigned j = 0; j < i; j++)
			if (s->replicas[i] == s->replicas[j])
				return false;
	for (unsigned i = 0; i < s->nisr; i++) {
		bool found = false;
		for (unsigned j = 0; j < s->nreplicas; j++)
			found |= s->isr[i] == s->replicas[j];
		for (unsigned j = 0; j < i; j++)
			if (s->isr[i] == s->isr[j])
				return false;
		if (!found)
			return false;
	}
	if (s->leader >= 0) {
		bool found = false;
		for (unsigned j = 0; j < s->nisr; j++)
			found |= s->leader == s->isr[j];
		if (!found)
			return false;
	}
	return true;
}

int dp_cluster_put_state(struct dp *dp, const struct sipc_partition_state *s)
{
	struct dp_partition *p = dp_partition_get(dp, s->topic_id,
						  s->partition);
	if (!p)
		return SN_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	if (!state_valid(s))
		return SN_ERR_INVALID_REQUEST;
	/* main is the view's only writer: reading it needs no lock */
	if (s->leader_epoch < p->view.leader_epoch ||
	    (s->leader_epoch == p->view.leader_epoch &&
	     s->partition_epoch < p->view.partition_epoch))
		return 74; /* FENCED_LEADER_EPOCH: older than what we have */
	struct dp_pview v = { .leader = s->leader,
			      .leader_epoch = s->leader_epoch,
			      .partition_epoch = s->partition_epoch,
			      .nreplicas = s->nreplicas,
			      .nisr = s->nisr,
			      .min_isr = s->min_isr ? s->min_isr : 1 };
	memcpy(v.replicas, s->replicas, s->nreplicas * sizeof(int32_t));
	memcpy(v.isr, s->isr, s->nisr * sizeof(int32_t));
	pthread_rwlock_wrlock(&dp->cluster_lock);
	p->view = v;
	pthread_rwlock_unlock(&dp->cluster_lock);
	int rc = dp_store_cmd(dp, p->core, DPC_STATE, p);
	dp_fetcher_kick(dp);
	return rc < 0 ? SN_ERR_INVALID_REQUEST : 0;
}

int dp_cluster_alter_isr(struct dp *dp, const struct sipc_alter_isr *a)
{
	struct sipc_alter_isr *copy = malloc(sizeof(*copy));
	if (!copy)
		return -ENOBUFS;
	*copy = *a;
	void *obj = copy;
	if (dp_ring_enqueue_burst(dp->alter_ring, &obj, 1) != 1) {
		free(copy);
		return -ENOBUFS;
	}
	dp_wake_fd(dp->main_wake_fd);
	return 0;
}

int dp_cluster_next_alter(struct dp *dp, struct sipc_alter_isr *out)
{
	void *obj;
	if (!dp->alter_ring || dp_ring_dequeue_burst(dp->alter_ring, &obj, 1) != 1)
		return 0;
	*out = *(struct sipc_alter_isr *)obj;
	free(obj);
	return 1;
}

int dp_cluster_init(struct dp *dp)
{
	pthread_rwlock_init(&dp->cluster_lock, NULL);
	dp->brokers = calloc(SIPC_BROKERS_MAX, sizeof(*dp->brokers));
	if (!dp->brokers || dp_ring_create(ALTER_RING_SLOTS, &dp->alter_ring) < 0) {
		free(dp->brokers);
		dp->brokers = NULL;
		return -ENOMEM;
	}
	return 0;
}

void dp_cluster_fini(struct dp *dp)
{
	struct sipc_alter_isr a;
	while (dp_cluster_next_alter(dp, &a)) {
	}
	if (dp->alter_ring)
		dp_ring_destroy(dp->alter_ring);
	dp->alter_ring = NULL;
	free(dp->brokers);
	dp->brokers = NULL;
	pthread_rwlock_destroy(&dp->cluster_lock);
}
