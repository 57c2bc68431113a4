/*
 * sluiced's view of the cluster: dataplane/cluster.h.  What writes it
 * (control's BROKERS and PARTITION_STATE) is in control.c, the main
 * thread's, which also hands each state to its storage core.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/cluster.h"
#include "dataplane/dp.h"

#define ALTER_RING_SLOTS 1024

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

unsigned dp_brokers_all(struct dp *dp, struct dp_broker *out, unsigned cap)
{
	unsigned n = 0;
	pthread_rwlock_rdlock(&dp->cluster_lock);
	for (unsigned i = 0; i < dp->nbrokers && n < cap; i++)
		out[n++] = dp->brokers[i];
	pthread_rwlock_unlock(&dp->cluster_lock);
	return n;
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
