/*
 * A net core: one driver instance (drivers/driver.h), its connections and
 * the front-ends that speak on them.  sluiced runs net_cores of them
 * (config); with more than one, every core binds the same ports
 * (SO_REUSEPORT) and the kernel spreads connections and datagrams over
 * them.  Everything here is owned by the core's thread; other threads
 * only push completions to its ring (dp_complete) and read its counters.
 *
 * A front-end is a protocol: it registers for a listener and implements
 * decode -> typed request (request.h) -> typed result -> encode.  It reads
 * its connections' bytes (conn_data), or datagrams, makes messages through
 * the connection layer (conn.h), submits them (dp_store_submit,
 * dp_admin_submit) and encodes the answer in the message's done callback.
 * The net core calls a front-end only through struct dp_frontend.
 */
#ifndef SLUICE_DATAPLANE_NET_H
#define SLUICE_DATAPLANE_NET_H

#include "dataplane/dp.h"

#define DP_MAX_FRONTENDS 4
#define DP_MAX_LISTENERS DRV_MAX_LISTENERS

struct dp_conn;

struct dp_frontend {
	const char *name;
	/* This front-end's state on net core n (*priv), or -errno. */
	int (*init)(struct dp_net *n, void **priv);
	void (*fini)(struct dp_net *n, void *priv);
	/* Bytes at p from connection c: bytes consumed (0: wait for more),
	 * or < 0 to close the connection. */
	long (*conn_data)(struct dp_net *n, struct dp_conn *c,
			  const uint8_t *p, size_t len);
	/* Optional: one datagram (the bytes are valid during the call). */
	void (*datagram)(struct dp_net *n, const uint8_t *p, size_t len,
			 const struct drv_peer *from);
	/* Optional: a datagram whose buffer may be kept (drivers/driver.h
	 * datagram_keep); 1 when kept. */
	int (*datagram_keep)(struct dp_net *n, uint8_t *p, size_t len,
			     const struct drv_peer *from, void *token);
	/* Optional: timers (long polls); returns work done. */
	int (*do_work)(struct dp_net *n);
	/* Optional: the longest the core may sleep, in microseconds, for
	 * this front-end's timers (0: no limit). */
	uint64_t (*max_sleep_us)(struct dp_net *n);
};

/* Net core counters (single writer: the net core). */
struct dp_net_stats {
	uint64_t frames, frame_bytes;
	uint64_t produce, fetch, list_offsets, metadata, admin, init_pid;
	uint64_t kafka_requests, kafka_forwarded, kafka_waits;
	uint64_t kafka_auto_create_requests; /* Metadata requests that asked
						control to create topics */
	uint64_t kafka_topics_auto_created;  /* topics those created */
	uint64_t kafka_auto_create_failed;   /* topics control refused
						(not: already there) */
	uint64_t kafka_upconverted;   /* message sets (Produce v0-2) stored
					 as batches */
	uint64_t kafka_downconverted; /* partitions answered as message
					 sets (Fetch v0-3) */
	uint64_t bad[DP_BAD_COUNT];
	uint64_t ring_full;        /* produce throttled: partition ring full */
	uint64_t budget_exhausted; /* throttled: memory budget spent */
	uint64_t completions;
	uint64_t conn_paused;
	uint64_t conn_paused_unsent; /* not read: responses owed over
					conn_max_unsent_bytes */
	uint64_t udp_admin_refused;  /* admin opcode over UDP */
	uint64_t udp_reply_limited;  /* a UDP reply larger than its request
					replaced by a header-only error */
	uint64_t loops, idle_waits;
} __attribute__((aligned(64)));

struct dp_net {
	uint32_t id;
	struct dp *dp;
	pthread_t thread;
	const struct drv_ops *drv_ops;
	struct drv *drv;
	/* listeners: tcp port i is served by listener_fe[i] */
	uint32_t nlisteners;
	const struct dp_frontend *listener_fe[DP_MAX_LISTENERS];
	const struct dp_frontend *udp_fe;   /* datagrams, or NULL */
	/* front-ends' state on this core */
	uint32_t nfe;
	const struct dp_frontend *fe[DP_MAX_FRONTENDS];
	void *fe_priv[DP_MAX_FRONTENDS];
	/* the connection layer's table (conn.c) */
	struct dp_conn *conns;
	uint32_t nconns;
	/* storage cores this cycle sent to: woken at its end */
	uint8_t core_touched[DP_MAX_STORAGE_CORES];
	/* storage cores and main -> this core */
	struct dp_ring *completions;
	int wake_fd;
	_Atomic int sleeping;
	/* duty cycles; release-stored at the top of each (topics.c waits
	 * for it to move before freeing a deleted topic) */
	_Atomic uint64_t epoch;
	struct dp_net_stats st;
};

/* A front-end's state on n (registered with dp_net_add_frontend). */
void *dp_net_priv(struct dp_net *n, const struct dp_frontend *fe);

/* Start net core id with its driver (listeners: tcp port and front-end
 * each; the udp front-end may be NULL).  With reuse set every core binds
 * the same ports.  0 or -errno (logged). */
struct dp_listen {
	uint16_t udp_port;
	const struct dp_frontend *udp_fe;
	uint32_t ntcp;
	uint16_t tcp_port[DP_MAX_LISTENERS];
	const struct dp_frontend *tcp_fe[DP_MAX_LISTENERS];
};
int dp_net_start(struct dp *dp, uint32_t id, const struct dp_listen *l,
		 int reuse_port, uint16_t *udp_bound, uint16_t *tcp_bound);
/* Stop net core id's thread (dp->stop set first); its driver and state
 * stay until dp_net_destroy, once no other thread reads them (storage
 * cores stopped, telemetry stopped). */
void dp_net_join(struct dp *dp, uint32_t id);
void dp_net_destroy(struct dp *dp, uint32_t id);

/* The front-ends. */
extern const struct dp_frontend dp_fe_native;
extern const struct dp_frontend dp_fe_kafka;

#endif
