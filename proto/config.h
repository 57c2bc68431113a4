/*
 * sluice's configuration file, read by sluice-control and sluiced alike.
 *
 * Format: one "key = value" per line; '#' starts a comment; blank lines are
 * ignored; every key is optional and the defaults run the embedded
 * single-node broker with nothing to edit.  docs/config.md lists every key;
 * tools/sluice.conf is a commented example.  An unknown key, a bad value,
 * a line without '=' or a line longer than SL_CONFIG_LINE_MAX is an error
 * that names the file, the line and what is allowed.
 *
 * Paths that are relative are taken relative to the working directory of
 * the process.  Thread-safety: load once at start-up, then read-only.
 */
#ifndef SLUICE_PROTO_CONFIG_H
#define SLUICE_PROTO_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Longest line of a configuration file, newline included: room for the
 * longest value (a path of PATH_MAX - 1) with its key and a comment. */
#define SL_CONFIG_LINE_MAX 16384

struct sl_config {
	/* where everything lives */
	char data_dir[PATH_MAX - 64];    /* data_dir, ./data */
	char control_socket[PATH_MAX];   /* control_socket,
					    <data_dir>/run/sluiced.ctl */
	char telemetry_socket[PATH_MAX]; /* telemetry_socket,
					    /var/run/dpdk/sluice/dpdk_telemetry.v2
					    (so dpdk-telemetry.py -f sluice
					    works), or <data_dir>/run/telemetry.sock
					    when /var/run is not writable */
	/* network */
	char listen_host[64];     /* listen_host, 127.0.0.1 */
	uint16_t udp_port;        /* udp_port, 9093 (0: no UDP) */
	uint16_t tcp_port;        /* tcp_port, 9093 */
	char driver[16];          /* driver: socket (default) | dpdk */
	uint32_t udp_max_frame;   /* udp_max_frame, 65507 */
	uint32_t tcp_max_frame;   /* tcp_max_frame, 16 MiB + 64 */
	uint32_t max_connections; /* max_connections, 16384 */
	/* limits that keep one client from hurting the others
	 * (drivers/driver.h); 0 turns a limit off */
	uint32_t max_connections_per_ip; /* max_connections_per_ip: from one
					    source address, 1024 */
	uint64_t conn_idle_timeout_ms;  /* conn_idle_timeout_ms: nothing
					   received or sent, 600000 (Kafka's
					   connections.max.idle.ms) */
	uint64_t conn_frame_timeout_ms; /* conn_frame_timeout_ms: a frame
					   still incomplete this long after
					   its first byte, 30000 */
	uint64_t conn_send_timeout_ms;  /* conn_send_timeout_ms: queued
					   response bytes and none sent for
					   this long, 30000 */
	uint64_t conn_max_unsent_bytes; /* conn_max_unsent_kb: response bytes
					   owed to one connection before it
					   is no longer read, 16384 KiB */
	/* the Kafka listener (docs/kafka.md) */
	uint16_t kafka_port;      /* kafka_port, 9092 (0: no Kafka listener) */
	char kafka_advertised_host[256]; /* kafka_advertised_host: the host
					    Kafka clients are told to connect
					    to; listen_host (127.0.0.1 when
					    listening on 0.0.0.0) */
	uint16_t kafka_advertised_port; /* kafka_advertised_port, kafka_port */
	int32_t node_id;          /* node_id: this broker's Kafka node id, 1 */
	int auto_create_topics;   /* auto_create_topics: 1 (true, default) =
				     a Metadata request naming a topic that
				     does not exist creates it, as Kafka's
				     auto.create.topics.enable */
	/* dataplane */
	uint32_t storage_cores;   /* storage_cores, 1 */
	uint32_t net_cores;       /* net_cores, 1 */
	uint32_t ring_slots;      /* ring_slots: batches queued per partition,
				     1024 (power of two) */
	uint64_t memory_budget_bytes; /* memory_budget_mb: packet and frame
					 buffers, 256 MiB */
	/* topic defaults (CREATE_TOPIC may override) */
	int32_t default_partitions;   /* default_partitions, 1 */
	int64_t retention_ms;         /* retention_hours, 168 */
	int64_t retention_bytes;      /* retention_bytes, -1 */
	int64_t segment_bytes;        /* segment_mb, 1024 */
	int durability;               /* durability: every_append (0, default)
					 | group (1) */
	uint64_t group_commit_bytes;  /* group_commit_kb, 1024 */
	uint64_t group_commit_us;     /* group_commit_us, 2000 */
	uint32_t log_buffer_bytes;    /* log_buffer_mb, 8 */
	uint64_t log_buffer_pool_bytes; /* log_buffer_pool_mb, 256: every
					   storage core's pool together */
	uint64_t retention_check_ms;  /* retention_check_ms: how often the
					 storage cores apply retention, 10000 */
	uint64_t cleaner_io_bytes_per_sec; /* cleaner_io_kb_per_sec: log
					 compaction's I/O per storage core,
					 0 = unbounded (default) */
	/* the DPDK driver (driver = dpdk; docs/dpdk.md) */
	char dpdk_args[1024];         /* dpdk_args: EAL arguments, e.g.
					 "-l 1 --no-pci --in-memory
					 --vdev=net_af_packet0,iface=veth0" */
	char dpdk_ip[64];             /* dpdk_ip: the IPv4 address the
					 dataplane answers ARP/ICMP/UDP for */
	uint32_t dpdk_mbufs;          /* dpdk_mbufs: mbuf pool size, 16383 */
	uint32_t dpdk_queues;         /* dpdk_queues: rx/tx queue pairs, 1 */
	int busy_poll;                /* busy_poll: 1 = never sleep (only on
					 dedicated cores), 0 = adaptive */
	/* control plane */
	char control_dir[PATH_MAX];   /* control_dir, <data_dir>/control */
	int64_t offsets_retention_ms; /* offsets_retention_minutes: how long
					 committed offsets of a group outlive
					 its last member (or their commit,
					 groups without members), 10080 (7
					 days, Kafka's default) */
	/* the cluster (docs/cluster.md) */
	int32_t offsets_topic_partitions; /* offsets_topic_partitions, 50 */
	int32_t offsets_topic_replication_factor; /* ..._replication_factor,
					 3, no more than the voters */
	int32_t txn_topic_partitions; /* transaction_state_log_num_partitions,
					 50 */
	int32_t txn_topic_replication_factor; /* transaction_state_log_
					 replication_factor, 3, no more than
					 the voters */
	int32_t txn_topic_min_isr;    /* transaction_state_log_min_isr, 2, no
					 more than the replicas */
	char controller_quorum_voters[1024]; /* controller_quorum_voters:
					 "id@host:port,...", empty = a single
					 broker without Raft (default) */
	char controller_address[80];  /* controller_address: "host:port",
					 the Raft listener of a controller
					 that is not among the voters above
					 and joins the quorum when added
					 (AddRaftVoter); empty (default) =
					 none */
	int32_t default_replication_factor; /* default_replication_factor:
					 0 (default) = 3, or the number of
					 voters when fewer */
	int32_t min_insync_replicas;  /* min_insync_replicas: 0 (default) =
					 2 when the default replication factor
					 is 3 or more, else 1 */
	uint64_t replica_lag_time_max_ms; /* replica_lag_time_max_ms, 30000 */
	uint64_t follower_replication_throttled_rate; /* bytes/s a follower
					 fetches for the partitions it is not
					 in sync for (catching up: a
					 reassignment's new replica, a
					 returning broker); 0 (default) = no
					 limit */
	uint64_t broker_session_timeout_ms; /* broker_session_timeout_ms,
					       9000 */
	uint64_t broker_heartbeat_interval_ms; /* broker_heartbeat_interval_ms,
						  2000 */
	int unclean_leader_election;  /* unclean_leader_election: false */
	int auto_leader_rebalance;    /* auto_leader_rebalance: true (Kafka's
					 auto.leader.rebalance.enable) */
	uint64_t leader_imbalance_check_interval_ms; /* 300000 */
	int32_t leader_imbalance_per_broker_percentage; /* 10 */
	/* share groups (docs/queues.md): Kafka's group.share.* */
	uint32_t share_record_lock_duration_ms; /* 30000 */
	int32_t share_delivery_count_limit;     /* 5 */
	uint32_t share_partition_max_record_locks; /* 2000 */
	int32_t share_heartbeat_interval_ms;    /* 5000 */
	int32_t share_session_timeout_ms;       /* 45000 */
	int share_auto_offset_reset_earliest;   /* share_auto_offset_reset:
						 latest (0) or earliest */
	uint32_t share_priority_age_ms;         /* 60000; 0: off */
};

/* One controller of controller_quorum_voters: Raft listens on host:port,
 * the controller's broker RPC on host:port+1. */
#define SL_VOTERS_MAX 16
struct sl_voter {
	int32_t id;
	char host[64];
	uint16_t port;
};

/*
 * Parse controller_quorum_voters ("1@127.0.0.1:9094,2@...").  Returns the
 * number of voters (0 when the key is empty: no cluster) or -EINVAL with
 * one line in err.  Ids are 1..65535 and distinct, hosts IPv4 addresses,
 * ports 1..65534.
 */
int sl_config_voters(const char *spec, struct sl_voter *out, unsigned max,
		     char *err, size_t errlen);

/* One voter's address, "a.b.c.d:port" as controller_quorum_voters has
 * it, into v (host and port; id 0): 0, or -EINVAL. */
int sl_config_voter_address(const char *address, struct sl_voter *v);

/* c's voter ids sorted ascending into ids (SL_VOTERS_MAX of room); how
 * many (0: no voters, a single broker). */
int sl_config_voter_ids(const struct sl_config *c, int32_t *ids);

/* The replication factor and min.insync.replicas a topic gets by default
 * under c (the "0 = automatic" rules above). */
/* The group coordinators' replicated log in a cluster (Kafka's name). */
#define SL_OFFSETS_TOPIC "__consumer_offsets"
#define SL_TXN_TOPIC "__transaction_state"

/* The partition of __consumer_offsets (n of them) that holds group id
 * (len bytes): Kafka's rule, (Java String.hashCode of the id) & 0x7fffffff
 * modulo n, the hash over the UTF-16 units of the id read as UTF-8 (a
 * byte that does not start a valid sequence counts as U+FFFD). */
int32_t sl_offsets_partition(const char *group, size_t len, int32_t n);

/* transaction_state_log_replication_factor, no more than the voters. */
int32_t sl_config_txn_topic_rf(const struct sl_config *c);
/* offsets_topic_replication_factor, no more than the voters (1 alone). */
int32_t sl_config_offsets_rf(const struct sl_config *c);
int32_t sl_config_default_rf(const struct sl_config *c);
int32_t sl_config_default_min_isr(const struct sl_config *c);

/* Defaults (derived paths filled from data_dir). */
void sl_config_defaults(struct sl_config *c);

/*
 * Load path over the defaults.  path NULL: defaults only.  Returns 0, or
 * -errno / -EINVAL with a one-line message in err ("sluice.conf:12:
 * unknown key 'udp_prot'; known keys: ...").
 */
int sl_config_load(struct sl_config *c, const char *path, char *err,
		   size_t errlen);

/* Set one key from "key=value" (command-line overrides).  As above. */
int sl_config_set(struct sl_config *c, const char *assignment, char *err,
		  size_t errlen);

/*
 * What both processes do at start: defaults, then the file (path, or
 * ./sluice.conf when path is NULL and that file exists), then each
 * "key=value" override in order.  Returns 0 or -EINVAL / -errno with one
 * line in err naming the file and line or the override.
 */
int sl_config_setup(struct sl_config *c, const char *path,
		    const char *const *overrides, unsigned n_overrides,
		    char *err, size_t errlen);

/* Every key with its effective value, one "key = value" per line. */
void sl_config_dump(const struct sl_config *c, FILE *f);

/* The effective values as one JSON object (telemetry /sluice/config). */
int sl_config_json(const struct sl_config *c, char *buf, size_t cap);

#endif
