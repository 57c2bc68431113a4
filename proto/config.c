/*
 * The configuration file: one table of keys drives parsing, defaults,
 * dumping and the JSON view, so a key is added in one place.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/config.h"

#define UNIX_PATH_MAX_BYTES 107

enum kind { K_STR, K_U16, K_U32, K_U64, K_I32, K_I64, K_DURABILITY, K_BOOL,
	    K_RESET };

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	size_t size;      /* K_STR: buffer size */
	int64_t scale;    /* value in the file × scale = stored value */
	int64_t min, max; /* in file units */
	const char *help;
};

#define F(field) offsetof(struct sl_config, field), \
	sizeof(((struct sl_config *)0)->field)

static const struct key keys[] = {
	{ "data_dir", K_STR, F(data_dir), 1, 0, 0,
	  "directory for partition logs and run files" },
	{ "control_socket", K_STR, F(control_socket), 1, 0, 0,
	  "Unix socket where sluiced takes control commands" },
	{ "telemetry_socket", K_STR, F(telemetry_socket), 1, 0, 0,
	  "Unix socket of the telemetry protocol" },
	{ "control_dir", K_STR, F(control_dir), 1, 0, 0,
	  "directory of the control plane's metadata" },
	{ "listen_host", K_STR, F(listen_host), 1, 0, 0,
	  "IPv4 address to listen on" },
	{ "udp_port", K_U16, F(udp_port), 1, 0, 65535, "UDP port, 0 = off" },
	{ "tcp_port", K_U16, F(tcp_port), 1, 1, 65535, "TCP port" },
	{ "driver", K_STR, F(driver), 1, 0, 0, "socket or dpdk" },
	{ "kafka_port", K_U16, F(kafka_port), 1, 0, 65535,
	  "Kafka protocol TCP port, 0 = off" },
	{ "kafka_advertised_host", K_STR, F(kafka_advertised_host), 1, 0, 0,
	  "host Kafka clients are told to connect to" },
	{ "kafka_advertised_port", K_U16, F(kafka_advertised_port), 1, 0,
	  65535, "port Kafka clients are told to connect to, 0 = kafka_port" },
	{ "node_id", K_I32, F(node_id), 1, 0, INT32_MAX,
	  "this broker's Kafka node id" },
	{ "auto_create_topics", K_BOOL, F(auto_create_topics), 1, 0, 1,
	  "true: Kafka clients create a topic by asking for its metadata" },
	{ "udp_max_frame", K_U32, F(udp_max_frame), 1, 128, 65507,
	  "largest UDP frame accepted, bytes" },
	{ "tcp_max_frame", K_U32, F(tcp_max_frame), 1, 4096, 64 << 20,
	  "largest TCP frame accepted, bytes" },
	{ "max_connections", K_U32, F(max_connections), 1, 1, 1 << 20,
	  "TCP connections at once" },
	{ "max_connections_per_ip", K_U32, F(max_connections_per_ip), 1, 0,
	  1 << 20, "TCP connections from one source address, 0 = no cap" },
	{ "conn_idle_timeout_ms", K_U64, F(conn_idle_timeout_ms), 1, 0,
	  86400000, "close a connection idle this long, ms, 0 = never" },
	{ "conn_frame_timeout_ms", K_U64, F(conn_frame_timeout_ms), 1, 0,
	  3600000, "close a connection whose frame stays incomplete this "
	  "long, ms, 0 = never" },
	{ "conn_send_timeout_ms", K_U64, F(conn_send_timeout_ms), 1, 0,
	  3600000, "close a connection whose responses make no progress "
	  "this long, ms, 0 = never" },
	{ "conn_max_unsent_kb", K_U64, F(conn_max_unsent_bytes), 1024, 64,
	  1 << 20, "response bytes owed to one connection before its "
	  "requests are no longer read, KiB" },
	{ "net_cores", K_U32, F(net_cores), 1, 1, 16,
	  "net threads (socket driver: each binds the ports)" },
	{ "storage_cores", K_U32, F(storage_cores), 1, 1, 64,
	  "storage threads" },
	{ "ring_slots", K_U32, F(ring_slots), 1, 16, 1 << 20,
	  "batches queued per partition (power of two)" },
	{ "memory_budget_mb", K_U64, F(memory_budget_bytes), 1 << 20, 16,
	  1 << 20, "packet and frame buffers, MiB" },
	{ "default_partitions", K_I32, F(default_partitions), 1, 1, 1024,
	  "partitions of a topic created without a count" },
	{ "retention_hours", K_I64, F(retention_ms), 3600000, -1, 1000000,
	  "keep data this long, -1 = forever" },
	{ "retention_bytes", K_I64, F(retention_bytes), 1, -1, INT64_MAX,
	  "keep at most this much per partition, -1 = unlimited" },
	{ "segment_mb", K_I64, F(segment_bytes), 1 << 20, 1, 2047,
	  "segment file size, MiB" },
	{ "durability", K_DURABILITY, F(durability), 1, 0, 1,
	  "every_append (fdatasync before each ack) or group" },
	{ "group_commit_kb", K_U64, F(group_commit_bytes), 1024, 4,
	  1 << 20, "group commit after this many KiB" },
	{ "group_commit_us", K_U64, F(group_commit_us), 1, 10, 10000000,
	  "group commit after this many microseconds" },
	{ "log_buffer_mb", K_U32, F(log_buffer_bytes), 1 << 20, 4, 1024,
	  "write buffer of a partition with data on its way to the disk, "
	  "MiB" },
	{ "log_buffer_pool_mb", K_U64, F(log_buffer_pool_bytes), 1 << 20, 4,
	  1 << 20, "write buffers of all partitions together, MiB" },
	{ "retention_check_ms", K_U64, F(retention_check_ms), 1, 100,
	  3600000, "how often retention runs, ms" },
	{ "cleaner_io_kb_per_sec", K_U64, F(cleaner_io_bytes_per_sec), 1024,
	  0, 1 << 30, "compaction I/O (read + written) per storage core, "
	  "KiB per second; 0 = unbounded" },
	{ "dpdk_args", K_STR, F(dpdk_args), 1, 0, 0,
	  "EAL arguments of the dpdk driver" },
	{ "dpdk_ip", K_STR, F(dpdk_ip), 1, 0, 0,
	  "IPv4 address the dpdk driver answers for" },
	{ "dpdk_mbufs", K_U32, F(dpdk_mbufs), 1, 1023, 1 << 22,
	  "mbufs in the dpdk driver's pool" },
	{ "dpdk_queues", K_U32, F(dpdk_queues), 1, 1, 64,
	  "rx/tx queue pairs of the dpdk port" },
	{ "busy_poll", K_I32, F(busy_poll), 1, 0, 1,
	  "1: polling cores never sleep; 0: adaptive" },
	{ "offsets_retention_minutes", K_I64, F(offsets_retention_ms), 60000,
	  1, 10000000, "committed offsets of an empty group expire after "
	  "this many minutes" },
	{ "offsets_topic_partitions", K_I32, F(offsets_topic_partitions), 1,
	  1, 1000, "partitions of __consumer_offsets, the replicated log of "
	  "the group coordinators in a cluster (fixed once created)" },
	{ "offsets_topic_replication_factor", K_I32,
	  F(offsets_topic_replication_factor), 1, 1, 8,
	  "replicas of each __consumer_offsets partition (no more than the "
	  "voters); created once that many brokers are up" },
	{ "transaction_state_log_num_partitions", K_I32,
	  F(txn_topic_partitions), 1, 1, 1000,
	  "partitions of __transaction_state, the replicated log of the "
	  "transaction coordinators in a cluster (fixed once created)" },
	{ "transaction_state_log_replication_factor", K_I32,
	  F(txn_topic_replication_factor), 1, 1, 8,
	  "replicas of each __transaction_state partition (no more than the "
	  "voters); created once that many brokers are up" },
	{ "transaction_state_log_min_isr", K_I32, F(txn_topic_min_isr), 1, 1,
	  8, "min.insync.replicas of __transaction_state (no more than its "
	  "replicas)" },
	{ "controller_quorum_voters", K_STR, F(controller_quorum_voters), 1,
	  0, 0, "the controllers, id@host:port,... (Raft at port, broker "
	  "RPC at port+1); empty = one broker without Raft" },
	{ "controller_address", K_STR, F(controller_address), 1, 0, 0,
	  "host:port of this node's Raft listener when it is a controller "
	  "not among controller_quorum_voters, added later (AddRaftVoter); "
	  "empty = none" },
	{ "default_replication_factor", K_I32, F(default_replication_factor),
	  1, 0, 8, "replicas of a topic created without a count, 0 = 3 or "
	  "the number of voters when fewer" },
	{ "min_insync_replicas", K_I32, F(min_insync_replicas), 1, 0, 8,
	  "acks=all waits for this many in-sync replicas' fdatasync, 0 = 2 "
	  "when the default replication factor is 3 or more, else 1" },
	{ "replica_lag_time_max_ms", K_U64, F(replica_lag_time_max_ms), 1,
	  100, 3600000, "a follower behind the leader's log end this long "
	  "leaves the in-sync replicas, ms" },
	{ "follower_replication_throttled_rate", K_U64,
	  F(follower_replication_throttled_rate), 1, 0, 1ull << 40,
	  "bytes/s a follower fetches for the partitions it is not in sync "
	  "for (a reassignment's new replica catching up), 0 = no limit" },
	{ "broker_session_timeout_ms", K_U64, F(broker_session_timeout_ms),
	  1, 100, 3600000, "a broker without a heartbeat this long is "
	  "fenced and its partitions get new leaders, ms" },
	{ "broker_heartbeat_interval_ms", K_U64,
	  F(broker_heartbeat_interval_ms), 1, 10, 600000,
	  "how often a broker heartbeats the active controller, ms" },
	{ "unclean_leader_election", K_BOOL, F(unclean_leader_election), 1,
	  0, 1, "true: a topic whose in-sync replicas are all down may elect "
	  "an out-of-sync replica and lose acknowledged data" },
	{ "auto_leader_rebalance", K_BOOL, F(auto_leader_rebalance), 1, 0, 1,
	  "true: the controller gives partitions back to their preferred "
	  "replicas when a broker's share not led by it passes the "
	  "percentage below" },
	{ "leader_imbalance_check_interval_ms", K_U64,
	  F(leader_imbalance_check_interval_ms), 1, 1000, 86400000,
	  "how often the controller looks at the leaders' balance, ms" },
	{ "leader_imbalance_per_broker_percentage", K_I32,
	  F(leader_imbalance_per_broker_percentage), 1, 0, 100,
	  "a broker's partitions led by another replica, percent, above "
	  "which the controller rebalances" },
	{ "share_record_lock_duration_ms", K_U32,
	  F(share_record_lock_duration_ms), 1, 1000, 3600000,
	  "how long a message handed to a share group member stays its own "
	  "before it is handed out again, ms" },
	{ "share_delivery_count_limit", K_I32, F(share_delivery_count_limit),
	  1, 2, 10, "deliveries of a message before it becomes a dead letter" },
	{ "share_partition_max_record_locks", K_U32,
	  F(share_partition_max_record_locks), 1, 100, 10000,
	  "messages in flight (the window) of one share partition" },
	{ "share_heartbeat_interval_ms", K_I32, F(share_heartbeat_interval_ms),
	  1, 1000, 3600000, "how often a share group member heartbeats, ms" },
	{ "share_session_timeout_ms", K_I32, F(share_session_timeout_ms), 1,
	  1000, 3600000, "a share group member without a heartbeat this long "
	  "leaves and its messages are released, ms" },
	{ "share_auto_offset_reset", K_RESET,
	  F(share_auto_offset_reset_earliest), 1, 0, 1,
	  "where a new share partition starts: latest or earliest" },
	{ "share_priority_age_ms", K_U32, F(share_priority_age_ms), 1, 0,
	  86400000, "a message waiting this long goes before any priority, "
	  "ms, 0 = never" },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static size_t key_index(const char *name)
{
	size_t i = 0;
	while (i < NKEYS && strcmp(keys[i].name, name))
		i++;
	assert(i < NKEYS);
	return i;
}

/* Derived values that follow others unless set explicitly: paths follow
 * data_dir, the advertised Kafka address follows the listener. */
static void derive(struct sl_config *c, const unsigned char *set)
{
	if (!set[1])
		snprintf(c->control_socket, sizeof(c->control_socket),
			 "%s/run/sluiced.ctl", c->data_dir);
	if (!set[2]) {
		if (access("/var/run", W_OK) == 0)
			snprintf(c->telemetry_socket, sizeof(c->telemetry_socket),
				 "/var/run/dpdk/sluice/dpdk_telemetry.v2");
		else
			snprintf(c->telemetry_socket, sizeof(c->telemetry_socket),
				 "%s/run/telemetry.sock", c->data_dir);
	}
	if (!set[3])
		snprintf(c->control_dir, sizeof(c->control_dir), "%s/control",
			 c->data_dir);
	if (!set[key_index("kafka_advertised_host")])
		snprintf(c->kafka_advertised_host,
			 sizeof(c->kafka_advertised_host), "%s",
			 strcmp(c->listen_host, "0.0.0.0") ? c->listen_host :
							     "127.0.0.1");
	if (!set[key_index("kafka_advertised_port")])
		c->kafka_advertised_port = c->kafka_port;
}

/* The socket paths, derived from data_dir or set, fit a sockaddr_un. */
static int check_sockets(const struct sl_config *c, char *err, size_t errlen)
{
	static const struct {
		const char *key;
		size_t off;
	} socks[] = {
		{ "control_socket", offsetof(struct sl_config, control_socket) },
		{ "telemetry_socket",
		  offsetof(struct sl_config, telemetry_socket) },
	};
	for (unsigned i = 0; i < sizeof(socks) / sizeof(socks[0]); i++) {
		const char *p = (const char *)c + socks[i].off;
		size_t n = strlen(p);
		if (n > UNIX_PATH_MAX_BYTES) {
			snprintf(err, errlen, "%s %s is %zu bytes, a Unix "
				 "socket's is at most %d: set %s to a shorter "
				 "path (it follows data_dir unless set)",
				 socks[i].key, p, n, UNIX_PATH_MAX_BYTES,
				 socks[i].key);
			return -EINVAL;
		}
	}
	return 0;
}

void sl_config_defaults(struct sl_config *c)
{
	unsigned char set[NKEYS] = { 0 };
	memset(c, 0, sizeof(*c));
	snprintf(c->data_dir, sizeof(c->data_dir), "./data");
	snprintf(c->listen_host, sizeof(c->listen_host), "127.0.0.1");
	snprintf(c->driver, sizeof(c->driver), "socket");
	c->udp_port = 9093;
	c->tcp_port = 9093;
	c->kafka_port = 9092;
	c->node_id = 1;
	c->auto_create_topics = 1;
	c->udp_max_frame = 65507;
	c->tcp_max_frame = (16u << 20) + 64;
	c->max_connections = 16384;
	c->max_connections_per_ip = 1024;
	c->conn_idle_timeout_ms = 600000;
	c->conn_frame_timeout_ms = 30000;
	c->conn_send_timeout_ms = 30000;
	c->conn_max_unsent_bytes = 16ull << 20;
	c->storage_cores = 1;
	c->net_cores = 1;
	c->ring_slots = 1024;
	c->memory_budget_bytes = 256ull << 20;
	c->default_partitions = 1;
	c->retention_ms = 168ll * 3600000;
	c->retention_bytes = -1;
	c->segment_bytes = 1ll << 30;
	c->durability = 0;
	c->group_commit_bytes = 1u << 20;
	c->group_commit_us = 2000;
	c->log_buffer_bytes = 8u << 20;
	c->log_buffer_pool_bytes = 256ull << 20;
	c->retention_check_ms = 10000;
	c->cleaner_io_bytes_per_sec = 0;
	snprintf(c->dpdk_args, sizeof(c->dpdk_args),
		 "-l 1 --no-pci --in-memory");
	snprintf(c->dpdk_ip, sizeof(c->dpdk_ip), "10.0.0.2");
	c->dpdk_mbufs = 16383;
	c->dpdk_queues = 1;
	c->busy_poll = 0;
	c->offsets_retention_ms = 10080ll * 60000;
	c->offsets_topic_partitions = 50;
	c->offsets_topic_replication_factor = 3;
	c->txn_topic_partitions = 50;
	c->txn_topic_replication_factor = 3;
	c->txn_topic_min_isr = 2;
	c->replica_lag_time_max_ms = 30000;
	c->follower_replication_throttled_rate = 0;
	c->broker_session_timeout_ms = 9000;
	c->broker_heartbeat_interval_ms = 2000;
	c->auto_leader_rebalance = 1;
	c->leader_imbalance_check_interval_ms = 300000;
	c->leader_imbalance_per_broker_percentage = 10;
	c->share_record_lock_duration_ms = 30000;
	c->share_delivery_count_limit = 5;
	c->share_partition_max_record_locks = 2000;
	c->share_heartbeat_interval_ms = 5000;
	c->share_session_timeout_ms = 45000;
	c->share_auto_offset_reset_earliest = 0;
	c->share_priority_age_ms = 60000;
	derive(c, set);
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static int set_key(struct sl_config *c, const char *k, const char *v,
		   unsigned char *set, char *err, size_t errlen,
		   const char *where)
{
	for (unsigned i = 0; i < NKEYS; i++) {
		const struct key *key = &keys[i];
		if (strcmp(key->name, k))
			continue;
		char *dst = (char *)c + key->off;
		if (key->kind == K_STR) {
			/* an empty voter list is the single broker */
			int may_be_empty = !strcmp(k, "controller_quorum_voters") ||
					   !strcmp(k, "controller_address");
			if (strlen(v) >= key->size || (!*v && !may_be_empty)) {
				snprintf(err, errlen, "%s%s: value must be 1 to "
					 "%zu characters", where, k, key->size - 1);
				return -EINVAL;
			}
			memcpy(dst, v, strlen(v) + 1);
			if (!strcmp(k, "driver") && strcmp(v, "socket") &&
			    strcmp(v, "dpdk")) {
				snprintf(err, errlen, "%sdriver: '%s' is not a "
					 "driver; use socket or dpdk", where, v);
				return -EINVAL;
			}
			struct in_addr ip;
			if ((!strcmp(k, "listen_host") || !strcmp(k, "dpdk_ip")) &&
			    inet_pton(AF_INET, v, &ip) != 1) {
				snprintf(err, errlen, "%s%s: '%s' is not an IPv4 "
					 "address (a.b.c.d)", where, k, v);
				return -EINVAL;
			}
			if (!strcmp(k, "controller_address") && *v) {
				/* the same rules as a voter's address */
				struct sl_voter one;
				if (sl_config_voter_address(v, &one) != 0) {
					snprintf(err, errlen, "%s%s: '%s' is not "
						 "host:port (an IPv4 address, a "
						 "port 1 to 65534)", where, k, v);
					return -EINVAL;
				}
			}
			if (!strcmp(k, "controller_quorum_voters")) {
				struct sl_voter vs[SL_VOTERS_MAX];
				char why[256];
				if (sl_config_voters(v, vs, SL_VOTERS_MAX, why,
						     sizeof(why)) < 0) {
					snprintf(err, errlen, "%s%s: %s", where,
						 k, why);
					return -EINVAL;
				}
			}
			/* sockaddr_un's sun_path holds 107 bytes and a NUL */
			if ((!strcmp(k, "control_socket") ||
			     !strcmp(k, "telemetry_socket")) &&
			    strlen(v) > UNIX_PATH_MAX_BYTES) {
				snprintf(err, errlen, "%s%s: the path is %zu bytes, "
					 "a Unix socket's is at most %d", where, k,
					 strlen(v), UNIX_PATH_MAX_BYTES);
				return -EINVAL;
			}
			set[i] = 1;
			return 0;
		}
		if (key->kind == K_DURABILITY) {
			if (!strcmp(v, "every_append"))
				c->durability = 0;
			else if (!strcmp(v, "group"))
				c->durability = 1;
			else {
				snprintf(err, errlen, "%sdurability: '%s'; use "
					 "every_append or group", where, v);
				return -EINVAL;
			}
			set[i] = 1;
			return 0;
		}
		if (key->kind == K_RESET) {
			if (!strcmp(v, "latest"))
				*(int *)dst = 0;
			else if (!strcmp(v, "earliest"))
				*(int *)dst = 1;
			else {
				snprintf(err, errlen, "%s%s: '%s'; use latest "
					 "or earliest", where, k, v);
				return -EINVAL;
			}
			set[i] = 1;
			return 0;
		}
		if (key->kind == K_BOOL) {
			if (!strcmp(v, "true"))
				*(int *)dst = 1;
			else if (!strcmp(v, "false"))
				*(int *)dst = 0;
			else {
				snprintf(err, errlen, "%s%s: '%s'; use true or "
					 "false", where, k, v);
				return -EINVAL;
			}
			set[i] = 1;
			return 0;
		}
		char *end;
		errno = 0;
		long long n = strtoll(v, &end, 10);
		if (errno || end == v || *end || n < key->min || n > key->max) {
			snprintf(err, errlen, "%s%s: '%s' is not a number from "
				 "%lld to %lld", where, k, v,
				 (long long)key->min, (long long)key->max);
			return -EINVAL;
		}
		int64_t val = n < 0 ? n : n * key->scale;
		switch (key->kind) {
		case K_U16: *(uint16_t *)dst = (uint16_t)val; break;
		case K_U32: *(uint32_t *)dst = (uint32_t)val; break;
		case K_U64: *(uint64_t *)dst = (uint64_t)val; break;
		case K_I32: *(int32_t *)dst = (int32_t)val; break;
		case K_I64: *(int64_t *)dst = val; break;
		default: break;
		}
		if (!strcmp(k, "ring_slots") && (val & (val - 1))) {
			snprintf(err, errlen, "%sring_slots: %lld is not a power "
				 "of two", where, n);
			return -EINVAL;
		}
		set[i] = 1;
		return 0;
	}
	size_t n = (size_t)snprintf(err, errlen, "%sunknown key '%s'; known "
				    "keys:", where, k);
	for (unsigned i = 0; i < NKEYS && n < errlen; i++)
		n += (size_t)snprintf(err + n, errlen - n, " %s", keys[i].name);
	return -EINVAL;
}

static unsigned char g_set[NKEYS];

static int load_file(struct sl_config *c, const char *path, char *err,
		     size_t errlen);

int sl_config_load(struct sl_config *c, const char *path, char *err,
		   size_t errlen)
{
	char why[PATH_MAX + 256];
	int rc = load_file(c, path, err, errlen);
	if (rc < 0)
		return rc;
	rc = check_sockets(c, why, sizeof(why));
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", path ? path : "defaults", why);
	return rc;
}

/* sl_config_load without the final check (overrides may follow). */
static int load_file(struct sl_config *c, const char *path, char *err,
		     size_t errlen)
{
	char where[PATH_MAX + 32];
	char *line = NULL;
	size_t line_cap = 0;
	ssize_t line_len;
	unsigned lineno = 0;
	int rc = 0;
	memset(g_set, 0, sizeof(g_set));
	if (!path)
		return 0;
	FILE *f = fopen(path, "r");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	/* whole lines: a fixed buffer would cut a long one in two and read
	 * its tail as a line of its own */
	while ((line_len = getline(&line, &line_cap, f)) >= 0) {
		lineno++;
		if (line_len > SL_CONFIG_LINE_MAX) {
			snprintf(err, errlen, "%s:%u: line longer than %d "
				 "characters", path, lineno,
				 SL_CONFIG_LINE_MAX);
			rc = -EINVAL;
			break;
		}
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		char *s = trim(line);
		if (!*s)
			continue;
		snprintf(where, sizeof(where), "%s:%u: ", path, lineno);
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%sexpected 'key = value', got "
				 "'%s'", where, s);
			rc = -EINVAL;
			break;
		}
		*eq = 0;
		rc = set_key(c, trim(s), trim(eq + 1), g_set, err, errlen, where);
		if (rc < 0)
			break;
	}
	free(line);
	fclose(f);
	if (rc == 0)
		derive(c, g_set);
	return rc;
}

int sl_config_set(struct sl_config *c, const char *assignment, char *err,
		  size_t errlen)
{
	char buf[PATH_MAX + 64];
	if (strlen(assignment) >= sizeof(buf)) {
		snprintf(err, errlen, "setting too long");
		return -EINVAL;
	}
	strcpy(buf, assignment);
	char *eq = strchr(buf, '=');
	if (!eq) {
		snprintf(err, errlen, "expected key=value, got '%s'", assignment);
		return -EINVAL;
	}
	*eq = 0;
	int rc = set_key(c, trim(buf), trim(eq + 1), g_set, err, errlen, "");
	if (rc == 0)
		derive(c, g_set);
	return rc;
}

/* The value of key i in file units. */
static void value_str(const struct sl_config *c, const struct key *k,
		      char *out, size_t cap, int *is_str)
{
	const char *src = (const char *)c + k->off;
	int64_t v = 0;
	*is_str = 0;
	switch (k->kind) {
	case K_STR:
		snprintf(out, cap, "%s", src);
		*is_str = 1;
		return;
	case K_DURABILITY:
		snprintf(out, cap, "%s", c->durability ? "group" : "every_append");
		*is_str = 1;
		return;
	case K_RESET:
		snprintf(out, cap, "%s", *(const int *)src ? "earliest" :
							      "latest");
		*is_str = 1;
		return;
	case K_BOOL:
		/* a JSON true or false, unquoted */
		snprintf(out, cap, "%s", *(const int *)src ? "true" : "false");
		return;
	case K_U16: v = *(const uint16_t *)src; break;
	case K_U32: v = *(const uint32_t *)src; break;
	case K_U64: v = (int64_t)*(const uint64_t *)src; break;
	case K_I32: v = *(const int32_t *)src; break;
	case K_I64: v = *(const int64_t *)src; break;
	}
	snprintf(out, cap, "%lld", (long long)(v < 0 ? v : v / k->scale));
}

int sl_config_voters(const char *spec, struct sl_voter *out, unsigned max,
		     char *err, size_t errlen)
{
	unsigned n = 0;
	const char *p = spec;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char item[128];
		if (len == 0 || len >= sizeof(item)) {
			snprintf(err, errlen, "voter %u: expected id@host:port "
				 "(e.g. 1@10.0.0.1:9094)", n + 1);
			return -EINVAL;
		}
		memcpy(item, p, len);
		item[len] = 0;
		char *at = strchr(item, '@'), *colon = strrchr(item, ':');
		if (!at || !colon || colon < at) {
			snprintf(err, errlen, "'%s' is not id@host:port "
				 "(e.g. 1@10.0.0.1:9094)", item);
			return -EINVAL;
		}
		*at = 0;
		*colon = 0;
		char *e1, *e2;
		errno = 0;
		long id = strtol(item, &e1, 10);
		long port = strtol(colon + 1, &e2, 10);
		struct in_addr ip;
		if (errno || e1 == item || *e1 || id < 1 || id > 65535 ||
		    e2 == colon + 1 || *e2 || port < 1 || port > 65534) {
			snprintf(err, errlen, "voter %u: the id must be 1 to "
				 "65535 and the port 1 to 65534 (the broker RPC "
				 "takes port+1)", n + 1);
			return -EINVAL;
		}
		if (inet_pton(AF_INET, at + 1, &ip) != 1) {
			snprintf(err, errlen, "voter %ld: '%s' is not an IPv4 "
				 "address (a.b.c.d)", id, at + 1);
			return -EINVAL;
		}
		for (unsigned i = 0; i < n; i++)
			if (out[i].id == id) {
				snprintf(err, errlen, "voter id %ld is listed "
					 "twice", id);
				return -EINVAL;
			}
		if (n == max) {
			snprintf(err, errlen, "at most %u voters", max);
			return -EINVAL;
		}
		out[n].id = (int32_t)id;
		snprintf(out[n].host, sizeof(out[n].host), "%s", at + 1);
		out[n].port = (uint16_t)port;
		n++;
		p += len;
		if (*p == ',')
			p++;
		if (end && !*p) {
			snprintf(err, errlen, "a trailing comma");
			return -EINVAL;
		}
	}
	return (int)n;
}

int32_t sl_config_default_rf(const struct sl_config *c)
{
	if (c->default_replication_factor > 0)
		return c->default_replication_factor;
	struct sl_voter v[SL_VOTERS_MAX];
	char err[256];
	int n = sl_config_voters(c->controller_quorum_voters, v,
				 SL_VOTERS_MAX, err, sizeof(err));
	if (n <= 0)
		return 1;
	return n < 3 ? n : 3;
}

int sl_config_voter_address(const char *address, struct sl_voter *v)
{
	char one[96], err[256];
	if (!address || strlen(address) > sizeof(one) - 3)
		return -EINVAL;
	snprintf(one, sizeof(one), "1@%s", address);
	if (sl_config_voters(one, v, 1, err, sizeof(err)) != 1)
		return -EINVAL;
	v->id = 0;
	return 0;
}

int sl_config_voter_ids(const struct sl_config *c, int32_t *ids)
{
	struct sl_voter v[SL_VOTERS_MAX];
	char err[256];
	int n = sl_config_voters(c->controller_quorum_voters, v,
				 SL_VOTERS_MAX, err, sizeof(err));
	if (n <= 0)
		return 0;
	for (int i = 0; i < n; i++) { /* insertion: at most 16 */
		int k = i;
		while (k > 0 && ids[k - 1] > v[i].id) {
			ids[k] = ids[k - 1];
			k--;
		}
		ids[k] = v[i].id;
	}
	return n;
}

/* The code point of the UTF-8 sequence at p (avail bytes): its length
 * in *used, U+FFFD and 1 byte for a byte that does not start a valid
 * sequence (overlong forms, surrogates and values past U+10FFFF too). */
static uint32_t utf8_next(const uint8_t *p, size_t avail, size_t *used)
{
	static const uint32_t min[4] = {0, 0x80, 0x800, 0x10000};
	uint8_t b = p[0];
	size_t n = b < 0x80 ? 1 : (b & 0xe0) == 0xc0 ? 2 :
		   (b & 0xf0) == 0xe0 ? 3 : (b & 0xf8) == 0xf0 ? 4 : 0;
	*used = 1;
	if (n == 1)
		return b;
	if (n == 0 || n > avail)
		return 0xfffd;
	uint32_t cp = b & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0xfffd;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min[n - 1] || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
		return 0xfffd;
	*used = n;
	return cp;
}

int32_t sl_offsets_partition(const char *group, size_t len, int32_t n)
{
	const uint8_t *p = (const uint8_t *)group;
	uint32_t h = 0;
	for (size_t i = 0; i < len;) {
		size_t used;
		uint32_t cp = utf8_next(p + i, len - i, &used);
		i += used;
		if (cp >= 0x10000) { /* a surrogate pair */
			cp -= 0x10000;
			h = h * 31 + (0xd800 + (cp >> 10));
			h = h * 31 + (0xdc00 + (cp & 0x3ff));
		} else {
			h = h * 31 + cp;
		}
	}
	return n > 0 ? (int32_t)((h & 0x7fffffffu) % (uint32_t)n) : 0;
}

int32_t sl_config_offsets_rf(const struct sl_config *c)
{
	int32_t ids[SL_VOTERS_MAX];
	int n = sl_config_voter_ids(c, ids);
	if (n < 1)
		n = 1;
	return c->offsets_topic_replication_factor < n ?
		       c->offsets_topic_replication_factor : n;
}

int32_t sl_config_txn_topic_rf(const struct sl_config *c)
{
	int32_t ids[SL_VOTERS_MAX];
	int n = sl_config_voter_ids(c, ids);
	if (n < 1)
		n = 1;
	return c->txn_topic_replication_factor < n ?
		       c->txn_topic_replication_factor : n;
}

int32_t sl_config_default_min_isr(const struct sl_config *c)
{
	if (c->min_insync_replicas > 0)
		return c->min_insync_replicas;
	return sl_config_default_rf(c) >= 3 ? 2 : 1;
}

int sl_config_setup(struct sl_config *c, const char *path,
		    const char *const *overrides, unsigned n_overrides,
		    char *err, size_t errlen)
{
	sl_config_defaults(c);
	if (!path && access("sluice.conf", F_OK) == 0)
		path = "sluice.conf";
	int rc = load_file(c, path, err, errlen);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < n_overrides; i++) {
		char why[512];
		rc = sl_config_set(c, overrides[i], why, sizeof(why));
		if (rc < 0) {
			snprintf(err, errlen, "-o %s: %s", overrides[i], why);
			return rc;
		}
	}
	return check_sockets(c, err, errlen);
}

void sl_config_dump(const struct sl_config *c, FILE *f)
{
	char v[PATH_MAX];
	int is_str;
	for (unsigned i = 0; i < NKEYS; i++) {
		value_str(c, &keys[i], v, sizeof(v), &is_str);
		fprintf(f, "%s = %s\n", keys[i].name, v);
	}
}

int sl_config_json(const struct sl_config *c, char *buf, size_t cap)
{
	char v[PATH_MAX];
	int is_str;
	size_t n = (size_t)snprintf(buf, cap, "{");
	for (unsigned i = 0; i < NKEYS && n < cap; i++) {
		value_str(c, &keys[i], v, sizeof(v), &is_str);
		/* values are paths and numbers: escape quotes and backslashes */
		n += (size_t)snprintf(buf + n, cap - n, "%s\"%s\":%s", i ? "," : "",
				      keys[i].name, is_str ? "\"" : "");
		for (char *p = v; *p && n + 2 < cap; p++) {
			if (*p == '"' || *p == '\\')
				buf[n++] = '\\';
			buf[n++] = *p;
		}
		if (n < cap)
			n += (size_t)snprintf(buf + n, cap - n, "%s",
					      is_str ? "\"" : "");
	}
	if (n + 2 > cap)
		return -ENOBUFS;
	buf[n++] = '}';
	buf[n] = 0;
	return (int)n;
}
