/*
 * Telemetry commands of sluiced (dataplane/telemetry/telemetry.h):
 *   /sluice/info        version, pid, uptime, driver, ports, cores
 *   /sluice/config      the effective configuration
 *   /sluice/cores       net and storage core counters
 *   /sluice/partitions  one line per partition: offsets, batches
 *   /sluice/partition,<topic>-<n>   every counter of one partition
 *   /sluice/<driver>    the driver's own counters (ops->counters), for
 *                       drivers that have them: /sluice/dpdk
 *   /sluice/msgpool     the message pool (msg.h): totals, heap fallbacks,
 *                       and per size class blocks carved, out and taken
 * Callbacks read single-writer counters with plain loads (see the
 * telemetry header's threading rules); the topic table with acquire loads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/dp.h"
#include "dataplane/fetcher.h"
#include "dataplane/net.h"

const char *const dp_bad_names[DP_BAD_COUNT] = {
#define DP_BAD_NAME(n, s) s,
	DP_BAD_REASONS(DP_BAD_NAME)
#undef DP_BAD_NAME
};
_Static_assert(sizeof(dp_bad_names) / sizeof(dp_bad_names[0]) ==
		       DP_BAD_COUNT, "one name per reason");

#ifdef SLUICE_HAVE_TELEMETRY
#include "dataplane/telemetry/telemetry.h"

static struct dp *g;

static int cb_info(const char *cmd, const char *params, struct tel_data *d)
{
	tel_data_start_dict(d);
	tel_data_add_dict_string(d, "version", "sluice 0.1.0");
	tel_data_add_dict_int(d, "pid", getpid());
	tel_data_add_dict_u64(d, "uptime_s",
			      (uint64_t)time(NULL) - g->start_ms / 1000);
	tel_data_add_dict_string(d, "driver", g->net[0]->drv_ops->name);
	tel_data_add_dict_u64(d, "udp_port", g->udp_port);
	tel_data_add_dict_u64(d, "tcp_port", g->tcp_port);
	tel_data_add_dict_u64(d, "kafka_port", g->kafka_port);
	tel_data_add_dict_u64(d, "storage_cores", g->nstore);
	tel_data_add_dict_u64(d, "net_cores", g->nnet);
	tel_data_add_dict_u64(d, "memory_used_bytes", atomic_load(&g->mem_used));
	tel_data_add_dict_u64(d, "memory_limit_bytes", g->mem_limit);
	tel_data_add_dict_u64(d, "topics_freed", g->topics_freed);
	tel_data_add_dict_u64(d, "topics_leaked", g->topics_leaked);
	tel_data_add_dict_u64(d, "control_synced",
			      (uint64_t)atomic_load(&g->control_synced));
	/* local sockets: connections from another uid, refused */
	tel_data_add_dict_u64(d, "control_peers_refused",
			      dp_control_peers_refused());
	tel_data_add_dict_u64(d, "telemetry_peers_refused",
			      tel_server_peers_refused());
	return 0;
}

static int cb_config(const char *cmd, const char *params, struct tel_data *d)
{
	static char buf[8192];
	if (sl_config_json(&g->cfg, buf, sizeof(buf)) < 0)
		return -1;
	return tel_data_string(d, buf);
}

/* Net core ni's counters (and its driver's) as the dict net<ni>. */
static int net_counters(struct tel_data *d, uint32_t ni)
{
	struct tel_data *n = tel_data_alloc();
	if (!n)
		return -1;
	tel_data_start_dict(n);
	const struct dp_net *nc = g->net[ni];
	const struct dp_net_stats *s = &nc->st;
	const struct drv_stats *ds = nc->drv_ops->stats(nc->drv);
	tel_data_add_dict_u64(n, "frames", s->frames);
	tel_data_add_dict_u64(n, "frame_bytes", s->frame_bytes);
	tel_data_add_dict_u64(n, "produce", s->produce);
	tel_data_add_dict_u64(n, "fetch", s->fetch);
	tel_data_add_dict_u64(n, "list_offsets", s->list_offsets);
	tel_data_add_dict_u64(n, "metadata", s->metadata);
	tel_data_add_dict_u64(n, "admin", s->admin);
	tel_data_add_dict_u64(n, "kafka_requests", s->kafka_requests);
	tel_data_add_dict_u64(n, "kafka_forwarded", s->kafka_forwarded);
	tel_data_add_dict_u64(n, "kafka_fetch_waits", s->kafka_waits);
	tel_data_add_dict_u64(n, "kafka_upconverted", s->kafka_upconverted);
	tel_data_add_dict_u64(n, "kafka_downconverted",
			      s->kafka_downconverted);
	tel_data_add_dict_u64(n, "kafka_auto_create_requests",
			      s->kafka_auto_create_requests);
	tel_data_add_dict_u64(n, "kafka_topics_auto_created",
			      s->kafka_topics_auto_created);
	tel_data_add_dict_u64(n, "kafka_auto_create_failed",
			      s->kafka_auto_create_failed);
	tel_data_add_dict_u64(n, "ring_full", s->ring_full);
	tel_data_add_dict_u64(n, "budget_exhausted", s->budget_exhausted);
	for (int i = 0; i < DP_BAD_COUNT; i++) {
		char k[64];
		uint64_t v = s->bad[i];
		/* the storage cores find these two (idempotence state):
		 * counted on net0 */
		for (uint32_t c = 0; ni == 0 && c < g->nstore; c++)
			v += i == DP_BAD_OUT_OF_ORDER ? g->store[c]->st.out_of_order :
			     i == DP_BAD_FENCED_EPOCH ? g->store[c]->st.fenced_epoch :
							0;
		snprintf(k, sizeof(k), "bad_%s", dp_bad_names[i]);
		tel_data_add_dict_u64(n, k, v);
	}
	tel_data_add_dict_u64(n, "rx_packets", ds->rx_packets);
	tel_data_add_dict_u64(n, "rx_bytes", ds->rx_bytes);
	tel_data_add_dict_u64(n, "tx_packets", ds->tx_packets);
	tel_data_add_dict_u64(n, "tcp_rx_bytes", ds->tcp_rx_bytes);
	tel_data_add_dict_u64(n, "tcp_tx_bytes", ds->tcp_tx_bytes);
	tel_data_add_dict_u64(n, "conns_open", ds->conns_open);
	tel_data_add_dict_u64(n, "conns_accepted", ds->conns_accepted);
	tel_data_add_dict_u64(n, "conns_refused", ds->conns_refused);
	tel_data_add_dict_u64(n, "rx_no_buffers", ds->rx_no_buffers);
	tel_data_add_dict_u64(n, "assembly_overflow", ds->assembly_overflow);
	/* limits that keep one client from hurting the others */
	tel_data_add_dict_u64(n, "conns_refused_per_ip",
			      ds->conns_refused_per_ip);
	tel_data_add_dict_u64(n, "conns_idle_closed", ds->conns_idle_closed);
	tel_data_add_dict_u64(n, "conns_frame_timeout",
			      ds->conns_frame_timeout);
	tel_data_add_dict_u64(n, "conns_send_timeout", ds->conns_send_timeout);
	tel_data_add_dict_u64(n, "assembly_waits", ds->assembly_waits);
	tel_data_add_dict_u64(n, "conn_paused", s->conn_paused);
	tel_data_add_dict_u64(n, "conn_paused_unsent", s->conn_paused_unsent);
	tel_data_add_dict_u64(n, "udp_admin_refused", s->udp_admin_refused);
	tel_data_add_dict_u64(n, "udp_reply_limited", s->udp_reply_limited);
	tel_data_add_dict_u64(n, "idle_waits", s->idle_waits);
	char nk[32];
	snprintf(nk, sizeof(nk), "net%u", ni);
	tel_data_add_dict_container(d, nk, n, 0);
	return 0;
}

static int cb_cores(const char *cmd, const char *params, struct tel_data *d)
{
	tel_data_start_dict(d);
	for (uint32_t ni = 0; ni < g->nnet; ni++)
		if (net_counters(d, ni))
			return -1;
	for (uint32_t i = 0; i < g->nstore; i++) {
		const struct dp_store_stats *t = &g->store[i]->st;
		struct tel_data *c = tel_data_alloc();
		if (!c)
			break;
		tel_data_start_dict(c);
		tel_data_add_dict_u64(c, "partitions", g->store[i]->nparts);
		tel_data_add_dict_u64(c, "batches", t->batches);
		tel_data_add_dict_u64(c, "batch_bytes", t->batch_bytes);
		tel_data_add_dict_u64(c, "duplicates", t->duplicates);
		tel_data_add_dict_u64(c, "log_full", t->log_full);
		tel_data_add_dict_u64(c, "storage_errors", t->storage_errors);
		tel_data_add_dict_u64(c, "timeouts", t->timeouts);
		tel_data_add_dict_u64(c, "fetches", t->fetches);
		tel_data_add_dict_u64(c, "fetch_bytes", t->fetch_bytes);
		tel_data_add_dict_u64(c, "parked", t->parked);
		tel_data_add_dict_u64(c, "list_offsets", t->list_offsets);
		tel_data_add_dict_u64(c, "delete_records", t->delete_records);
		tel_data_add_dict_u64(c, "retention_runs", t->retention_runs);
		tel_data_add_dict_u64(c, "segments_deleted", t->segments_deleted);
		/* compaction (storage/cleaner.h) */
		tel_data_add_dict_u64(c, "cleaner_calls", t->cleaner_calls);
		tel_data_add_dict_u64(c, "cleaner_errors", t->cleaner_errors);
		tel_data_add_dict_u64(c, "cleaner_passes", t->cleaner.passes);
		tel_data_add_dict_u64(c, "cleaner_passes_abandoned",
				      t->cleaner.passes_abandoned);
		tel_data_add_dict_u64(c, "cleaner_bytes_read",
				      t->cleaner.bytes_read);
		tel_data_add_dict_u64(c, "cleaner_bytes_written",
				      t->cleaner.bytes_written);
		tel_data_add_dict_u64(c, "cleaner_segments_cleaned",
				      t->cleaner.segments_cleaned);
		tel_data_add_dict_u64(c, "cleaner_records_removed",
				      t->cleaner.records_removed);
		tel_data_add_dict_u64(c, "cleaner_tombstones_removed",
				      t->cleaner.tombstones_removed);
		tel_data_add_dict_u64(c, "cleaner_throttled",
				      t->cleaner.throttled);
		tel_data_add_dict_u64(c, "keyless_refused", t->keyless_refused);
		/* transactions: markers written, refused as fenced (the
		 * producer's epoch, the coordinator's), batches refused
		 * while a partition had TXN_OPEN_MAX open */
		tel_data_add_dict_u64(c, "txn_markers", t->markers);
		tel_data_add_dict_u64(c, "txn_markers_fenced",
				      t->markers_fenced);
		tel_data_add_dict_u64(c, "txn_markers_coordinator_fenced",
				      t->markers_coordinator_fenced);
		tel_data_add_dict_u64(c, "txn_refused", t->txn_refused);
		tel_data_add_dict_u64(c, "idle_waits", t->idle_waits);
		/* the write buffer pool (storage/pool.c) */
		tel_data_add_dict_u64(c, "buffers", t->pool.buffers);
		tel_data_add_dict_u64(c, "buffer_bytes", t->pool.buffer_bytes);
		tel_data_add_dict_u64(c, "buffers_in_use", t->pool.in_use);
		tel_data_add_dict_u64(c, "buffer_takes", t->pool.takes);
		tel_data_add_dict_u64(c, "buffer_idle_releases",
				      t->pool.idle_releases);
		tel_data_add_dict_u64(c, "buffer_steals", t->pool.steals);
		tel_data_add_dict_u64(c, "buffer_pool_empty", t->pool.empty);
		char k[32];
		snprintf(k, sizeof(k), "storage%u", i);
		tel_data_add_dict_container(d, k, c, 0);
	}
	return 0;
}

static int cb_partitions(const char *cmd, const char *params,
			 struct tel_data *d)
{
	tel_data_start_dict(d);
	/* a deleted topic is not freed while we look (topics.c) */
	pthread_mutex_lock(&g->topics_lock);
	for (unsigned i = 0; i < DP_MAX_TOPICS; i++) {
		struct dp_topic *t = atomic_load_explicit(&g->topics[i],
							  memory_order_acquire);
		if (!t || !atomic_load(&t->live))
			continue;
		for (int32_t k = 0; k < t->partitions; k++) {
			const struct dp_partition *p = &t->parts[k];
			char key[TEL_MAX_STRING_LEN];
			snprintf(key, sizeof(key), "%.100s-%d", t->name, k);
			for (char *c = key; *c; c++)
				if (*c == '.' || *c == '-')
					*c = '_';
			char val[TEL_MAX_STRING_LEN];
			struct dp_pview v;
			dp_pview_get(g, p, &v);
			snprintf(val, sizeof(val),
				 "start=%lld end=%lld durable=%lld hw=%lld "
				 "batches=%llu core=%u leader=%d epoch=%d isr=%u",
				 (long long)p->start_offset,
				 (long long)p->end_offset,
				 (long long)p->durable_offset,
				 (long long)p->high_watermark,
				 (unsigned long long)p->batches, p->core,
				 v.leader, v.leader_epoch, v.nisr);
			tel_data_add_dict_string(d, key, val);
		}
	}
	pthread_mutex_unlock(&g->topics_lock);
	return 0;
}

static int cb_partition(const char *cmd, const char *params,
			struct tel_data *d)
{
	if (!params)
		return -1;
	const char *dash = strrchr(params, '-');
	if (!dash)
		return -1;
	int32_t idx = atoi(dash + 1);
	size_t nl = (size_t)(dash - params);
	int rc = -1;
	/* a deleted topic is not freed while we look (topics.c) */
	pthread_mutex_lock(&g->topics_lock);
	for (unsigned i = 0; i < DP_MAX_TOPICS && rc < 0; i++) {
		struct dp_topic *t = atomic_load_explicit(&g->topics[i],
							  memory_order_acquire);
		if (!t || !atomic_load(&t->live) || strlen(t->name) != nl ||
		    memcmp(t->name, params, nl) || idx < 0 ||
		    idx >= t->partitions)
			continue;
		const struct dp_partition *p = &t->parts[idx];
		const struct slog_stats *s = &p->log_stats;
		tel_data_start_dict(d);
		tel_data_add_dict_u64(d, "topic_id", t->id);
		tel_data_add_dict_u64(d, "core", p->core);
		tel_data_add_dict_int(d, "log_start_offset", p->start_offset);
		tel_data_add_dict_int(d, "log_end_offset", p->end_offset);
		tel_data_add_dict_int(d, "durable_offset", p->durable_offset);
		tel_data_add_dict_int(d, "high_watermark", p->high_watermark);
		struct dp_pview v;
		dp_pview_get(g, p, &v);
		tel_data_add_dict_int(d, "leader", v.leader);
		tel_data_add_dict_int(d, "leader_epoch", v.leader_epoch);
		tel_data_add_dict_int(d, "partition_epoch", v.partition_epoch);
		tel_data_add_dict_u64(d, "replicas", v.nreplicas);
		tel_data_add_dict_u64(d, "in_sync_replicas", v.nisr);
		tel_data_add_dict_u64(d, "batches", p->batches);
		tel_data_add_dict_u64(d, "bytes", p->bytes);
		tel_data_add_dict_u64(d, "duplicates", p->duplicates);
		tel_data_add_dict_u64(d, "fetch_bytes", p->fetch_bytes);
		tel_data_add_dict_u64(d, "ring_occupancy", p->ring_occupancy);
		tel_data_add_dict_u64(d, "ring_drops", p->ring_drops);
		tel_data_add_dict_u64(d, "appends", s->appends);
		tel_data_add_dict_u64(d, "writes", s->writes);
		tel_data_add_dict_u64(d, "fsyncs", s->fsyncs);
		tel_data_add_dict_u64(d, "fsync_ns_total", s->fsync_ns_total);
		tel_data_add_dict_u64(d, "fsync_ns_max", s->fsync_ns_max);
		tel_data_add_dict_u64(d, "full_errors", s->full_errors);
		tel_data_add_dict_u64(d, "io_errors", s->io_errors);
		tel_data_add_dict_u64(d, "segments_rolled", s->segments_rolled);
		tel_data_add_dict_u64(d, "cache_reads", s->cache_reads);
		tel_data_add_dict_u64(d, "file_reads", s->file_reads);
		tel_data_add_dict_u64(d, "pool_empty", s->pool_empty);
		tel_data_add_dict_u64(d, "buffer_takes", s->buffer_takes);
		rc = 0;
	}
	pthread_mutex_unlock(&g->topics_lock);
	return rc;
}

static void add_counter(void *arg, const char *name, uint64_t v)
{
	tel_data_add_dict_u64(arg, name, v);
}

static int cb_driver(const char *cmd, const char *params, struct tel_data *d)
{
	/* the driver of net core 0 (a DPDK port runs one net core) */
	const struct dp_net *n = g->nnet ? g->net[0] : NULL;
	tel_data_start_dict(d);
	return n && n->drv ? n->drv_ops->counters(n->drv, add_counter, d) : -1;
}

static int cb_msgpool(const char *cmd, const char *params,
		      struct tel_data *d)
{
	struct dp_msgpool_stats st;
	dp_msgpool_stats(&g->msgpool, &st);
	/* totals first: blocks out now (pool and heap), blocks handed out
	 * from the pool ever */
	uint64_t in_use = st.heap_in_use, gets = 0;
	for (int c = 0; c < DP_MSGPOOL_CLASSES; c++) {
		in_use += st.cls[c].in_use;
		gets += st.cls[c].gets;
	}
	tel_data_start_dict(d);
	tel_data_add_dict_u64(d, "in_use", in_use);
	tel_data_add_dict_u64(d, "gets", gets);
	tel_data_add_dict_u64(d, "bytes_max", st.bytes_max);
	tel_data_add_dict_u64(d, "carved_bytes", st.carved_bytes);
	tel_data_add_dict_u64(d, "reserved_bytes", st.reserved_bytes);
	tel_data_add_dict_u64(d, "hugepages", (uint64_t)st.hugepages);
	tel_data_add_dict_u64(d, "heap_exhausted", st.heap_exhausted);
	tel_data_add_dict_u64(d, "heap_oversize", st.heap_oversize);
	tel_data_add_dict_u64(d, "heap_failed", st.heap_failed);
	tel_data_add_dict_u64(d, "heap_in_use", st.heap_in_use);
	for (int c = 0; c < DP_MSGPOOL_CLASSES; c++) {
		struct tel_data *k = tel_data_alloc();
		if (!k)
			return -1;
		char name[32];
		snprintf(name, sizeof(name), "class%d", c);
		tel_data_start_dict(k);
		tel_data_add_dict_u64(k, "block_bytes", st.cls[c].block_bytes);
		tel_data_add_dict_u64(k, "blocks", st.cls[c].blocks);
		tel_data_add_dict_u64(k, "carved", st.cls[c].carved);
		tel_data_add_dict_u64(k, "in_use", st.cls[c].in_use);
		tel_data_add_dict_u64(k, "gets", st.cls[c].gets);
		if (tel_data_add_dict_container(d, name, k, 0)) {
			tel_data_free(k);
			return -1;
		}
	}
	return 0;
}

static int cb_follower(const char *cmd, const char *params,
		       struct tel_data *d)
{
	(void)cmd;
	(void)params;
	struct dp_fetcher_stats st;
	dp_fetcher_stats(g, &st);
	tel_data_start_dict(d);
	tel_data_add_dict_u64(d, "partitions", st.partitions);
	tel_data_add_dict_u64(d, "fetches", st.fetches);
	tel_data_add_dict_u64(d, "fetch_errors", st.fetch_errors);
	tel_data_add_dict_u64(d, "records_bytes", st.records_bytes);
	tel_data_add_dict_u64(d, "appends", st.appends);
	tel_data_add_dict_u64(d, "truncations", st.truncations);
	tel_data_add_dict_u64(d, "connects", st.connects);
	tel_data_add_dict_u64(d, "connect_failures", st.connect_failures);
	tel_data_add_dict_u64(d, "disconnects", st.disconnects);
	tel_data_add_dict_u64(d, "timeouts", st.timeouts);
	tel_data_add_dict_u64(d, "malformed_responses",
			      st.malformed_responses);
	tel_data_add_dict_u64(d, "malformed_batches", st.malformed_batches);
	tel_data_add_dict_u64(d, "alloc_failures", st.alloc_failures);
	tel_data_add_dict_u64(d, "ring_full", st.ring_full);
	tel_data_add_dict_u64(d, "starts_over", st.starts_over);
	tel_data_add_dict_u64(d, "throttled_bytes", st.throttled_bytes);
	tel_data_add_dict_u64(d, "throttle_waits", st.throttle_waits);
	return 0;
}

void dp_stats_register(struct dp *dp)
{
	g = dp;
	const struct drv_ops *ops = dp->nnet ? dp->net[0]->drv_ops : NULL;
	if (ops && ops->counters) {
		char path[TEL_MAX_CMD_LEN];
		snprintf(path, sizeof(path), "/sluice/%s", ops->name);
		tel_register_cmd(path, cb_driver,
				 "driver counters (dpdk: ARP, ICMP, drops by "
				 "reason, tx)");
	}
	tel_register_cmd("/sluice/info", cb_info, "sluiced process information");
	tel_register_cmd("/sluice/config", cb_config, "effective configuration");
	tel_register_cmd("/sluice/cores", cb_cores, "per-core counters");
	tel_register_cmd("/sluice/partitions", cb_partitions,
			 "offsets of every partition");
	tel_register_cmd("/sluice/partition", cb_partition,
			 "counters of one partition: ,<topic>-<n>");
	tel_register_cmd("/sluice/msgpool", cb_msgpool,
			 "message pool: size classes and heap fallbacks");
	tel_register_cmd("/sluice/follower", cb_follower,
			 "the follower fetcher's counters (a cluster's broker)");
	int rc = tel_server_start(dp->cfg.telemetry_socket, "sluice 0.1.0");
	if (rc)
		dp_log("telemetry socket %s: %s (telemetry off)",
		       dp->cfg.telemetry_socket, sl_strerror(rc));
	else
		dp_log("telemetry socket %s", dp->cfg.telemetry_socket);
}

void dp_stats_stop(void)
{
	tel_server_stop();
}
#else
void dp_stats_stop(void)
{
}

void dp_stats_register(struct dp *dp)
{
	(void)dp;
	dp_log("telemetry not built (dataplane/telemetry has no library yet)");
}
#endif
