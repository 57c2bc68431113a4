/*
 * The packet-I/O interface of sluiced: one interface, one implementation
 * per backend (socket.c, dpdk.c), chosen by the config key `driver`
 * through drv_find() (registry.c).  The dataplane (dataplane/net.c) sees
 * only this header: frames in, frames out, connections by number, and a
 * driver's own counters by name.  Nothing socket-specific leaks into
 * dataplane/, and drivers/ uses nothing of dataplane/ (the dataplane's
 * telemetry serves the counters, dataplane/stats.c).
 *
 * Model (one driver instance per net core, owned by that thread):
 *   - datagrams (UDP): drv->cb.datagram() is called for each datagram with
 *     its bytes and source; the bytes are valid only during the call.
 *     Replies go out with drv_udp_send() (copied by the driver).
 *   - streams (TCP): connections are numbered by a 32-bit id (slot in the
 *     low 20 bits, a generation above it, so a stale id never reaches a new
 *     connection).  cb.conn_data() gets every byte not consumed yet (the
 *     driver keeps an unconsumed tail in a per-connection assembly buffer,
 *     bounded by max_frame + one receive buffer) and returns how many it
 *     consumed, or < 0 to have the connection closed.  Sends take ownership
 *     of a struct drv_buf, sent in order, released by its release().
 *   - a wake-up file descriptor (eventfd) can be watched: cb.wakeup() runs
 *     when it becomes readable (storage cores signal completions with it).
 *
 * Connection limits (the driver enforces them, so that one client cannot
 * hurt the others; each closes or refuses with a counter in drv_stats):
 *   - max_per_ip: connections from one source address at once; more are
 *     closed at accept (conns_refused_per_ip);
 *   - idle_timeout_ns: nothing received and nothing sent for this long,
 *     with no bytes owed either way: closed (conns_idle_closed);
 *   - frame_timeout_ns: an incomplete frame (bytes the dataplane left
 *     unconsumed while not paused) still incomplete this long after its
 *     first byte: closed (conns_frame_timeout) — slowloris;
 *   - send_timeout_ns: bytes queued for sending and none of them sent for
 *     this long (the peer does not read): closed (conns_send_timeout);
 *   - the assembly budget (rx_buffer_bytes) keeps a quarter for small
 *     frames: a connection whose assembly buffer is large (over 64 KiB)
 *     stops being read while the free budget is below that reserve
 *     (assembly_waits), and is read again once memory is freed; the frame
 *     deadline still runs.
 * Deadlines use cfg.now_ns (the dataplane's clock) read once per
 * do_work(); they are checked every DRV_SWEEP_NS.  0 disables a limit.
 *
 * Errors: functions return 0 / a count, or -errno.  Bad input is the
 * dataplane's business; the driver counts its own failures in
 * struct drv_stats.
 */
#ifndef SLUICE_DRIVERS_DRIVER_H
#define SLUICE_DRIVERS_DRIVER_H

#include <stddef.h>
#include <stdint.h>

struct drv;

/* A datagram peer (IPv4). */
struct drv_peer {
	uint32_t ip;   /* network byte order */
	uint16_t port; /* network byte order */
};

/* A buffer handed to the driver for sending; the driver calls
 * release(b) once the bytes are gone (or the connection closed). */
struct drv_buf {
	struct drv_buf *next; /* driver's queue link */
	void (*release)(struct drv_buf *b);
	uint32_t len;         /* bytes in data */
	uint32_t off;         /* driver: bytes already sent */
	uint8_t *data;
};

struct drv_callbacks {
	void *ctx;
	void (*datagram)(void *ctx, const uint8_t *p, size_t len,
			 const struct drv_peer *from);
	/* A new connection on listener (its index in cfg.tcp_ports);
	 * return < 0 to refuse it (closed at once). */
	int (*conn_open)(void *ctx, uint32_t conn, int listener);
	/* Bytes at p (all not yet consumed).  Return bytes consumed (0: wait
	 * for more), or < 0: close the connection after sending what is
	 * queued. */
	long (*conn_data)(void *ctx, uint32_t conn, const uint8_t *p,
			  size_t len);
	/* The connection is gone; its id is dead from now on. */
	void (*conn_closed)(void *ctx, uint32_t conn);
	/* The wake-up fd fired (it has been drained). */
	void (*wakeup)(void *ctx);
	/* Optional: bytes of conn were sent; unsent_bytes are still queued
	 * (the dataplane resumes a connection it paused at its unsent cap). */
	void (*conn_sent)(void *ctx, uint32_t conn, uint64_t unsent_bytes);
	/* Optional, for drivers whose receive buffers can be kept (dpdk: an
	 * mbuf): the dataplane may keep the bytes instead of copying them.
	 * Return 1 when it kept them — it then calls ops->release(token)
	 * exactly once, from any thread — or 0 to have the datagram handled
	 * by datagram() as usual. */
	int (*datagram_keep)(void *ctx, uint8_t *p, size_t len,
			     const struct drv_peer *from, void *token);
};

/* TCP listeners one driver instance can have. */
#define DRV_MAX_LISTENERS 8

struct drv_config {
	const char *listen_host; /* IPv4 literal */
	uint16_t udp_port;       /* 0: no UDP */
	/* TCP listeners: tcp_ports[0 .. ntcp-1], each 0 for an ephemeral
	 * port (ops->ports() says which); conn_open() gets the index */
	uint16_t tcp_ports[DRV_MAX_LISTENERS];
	uint32_t ntcp;           /* <= DRV_MAX_LISTENERS; 0: no TCP */
	/* 1: SO_REUSEPORT on the UDP socket and every listener, so that
	 * several instances (one per net core) in one process bind the same
	 * ports and the kernel spreads connections and datagrams over them
	 * (by a hash of the 4-tuple).  Every instance sharing a port must
	 * set it; give the ports the first instance bound (ports()) to the
	 * others when asking for ephemeral ones.  dpdk: its TCP listeners
	 * only (its UDP is the port's). */
	int reuse_port;
	uint32_t udp_max_frame;
	uint32_t tcp_max_frame;
	uint32_t max_connections;
	uint64_t rx_buffer_bytes; /* memory for receive buffers */
	int wake_fd;              /* eventfd to watch, -1 none */
	/* the dpdk driver only (docs/dpdk.md) */
	const char *dpdk_args;    /* EAL arguments */
	const char *dpdk_ip;      /* IPv4 the port answers ARP/ICMP/UDP for */
	uint32_t dpdk_mbufs;      /* mbuf pool size */
	uint32_t dpdk_queues;     /* rx/tx queue pairs */
	int busy_poll;            /* 1: never sleep when idle */
	/* connection limits (see the top of this file); 0: none */
	uint32_t max_per_ip;      /* connections per source address */
	uint64_t idle_timeout_ns;
	uint64_t frame_timeout_ns;
	uint64_t send_timeout_ns;
	uint64_t (*now_ns)(void); /* the clock of deadlines; NULL: monotonic */
};

/* How often the connection deadlines are checked. */
#define DRV_SWEEP_NS 100000000ull

/* Counters, single writer (the net core), readable by others. */
struct drv_stats {
	uint64_t rx_packets, rx_bytes;  /* datagrams */
	uint64_t tcp_rx_bytes, tcp_tx_bytes;
	uint64_t tx_packets, tx_bytes, tx_errors;
	uint64_t conns_accepted, conns_refused, conns_closed;
	uint64_t conns_open;
	uint64_t rx_no_buffers;   /* buffer ring ran dry: receive re-armed */
	uint64_t assembly_overflow; /* connection closed: too much pending */
	uint64_t assembly_waits;  /* a large frame paused: budget low */
	uint64_t conns_refused_per_ip; /* max_per_ip reached (also counted
					  in conns_refused) */
	uint64_t conns_idle_closed;    /* idle_timeout */
	uint64_t conns_frame_timeout;  /* frame_timeout (slowloris) */
	uint64_t conns_send_timeout;   /* send_timeout: peer not reading */
	uint64_t ring_errors;
	uint64_t waits;           /* times the core blocked */
};

struct drv_ops {
	const char *name;
	/* An instance with cfg's ports bound (start-up only; cfg and cb are
	 * copied).  0, or -EINVAL (ntcp > DRV_MAX_LISTENERS, max_connections
	 * 0 or >= 2^20, listen_host not an IPv4 literal; dpdk: see dpdk.c),
	 * -EADDRINUSE (a port is held by another socket without
	 * SO_REUSEPORT, or reuse_port is 0), -ENOMEM, other -errno. */
	int (*create)(const struct drv_config *cfg,
		      const struct drv_callbacks *cb, struct drv **out);
	void (*destroy)(struct drv *d);
	/* One duty cycle: reap completions, call callbacks, submit.  When
	 * wait_us > 0 and there is nothing to do, block up to wait_us.
	 * Returns work done (>= 0) or -errno. */
	int (*do_work)(struct drv *d, uint64_t wait_us);
	int (*udp_send)(struct drv *d, const struct drv_peer *to,
			const uint8_t *p, size_t len);
	/* Queue b on conn; ownership passes to the driver even on error
	 * (-ENOTCONN: released at once). */
	int (*conn_send)(struct drv *d, uint32_t conn, struct drv_buf *b);
	/* Close after the queued sends (or at once if hard). */
	void (*conn_close)(struct drv *d, uint32_t conn, int hard);
	/* Call conn_data again with the pending bytes (after the dataplane
	 * had returned 0 because it was at its in-flight limit). */
	void (*conn_resume)(struct drv *d, uint32_t conn);
	/* Stop reading conn (the dataplane is at its in-flight limit) so
	 * that TCP flow control holds the peer back; conn_resume undoes it. */
	void (*conn_pause)(struct drv *d, uint32_t conn);
	/* Bytes queued on conn and not sent yet (0 for an unknown conn). */
	uint64_t (*conn_unsent)(const struct drv *d, uint32_t conn);
	const struct drv_stats *(*stats)(const struct drv *d);
	/* Ports actually bound: *udp (0: no UDP), tcp_out[i] for listener i
	 * (the ephemeral port the kernel chose where cfg.tcp_ports[i] was
	 * 0); entries from cfg.ntcp up to ntcp are set to 0. */
	void (*ports)(const struct drv *d, uint16_t *udp, uint16_t *tcp_out,
		      uint32_t ntcp);
	/* Give back a buffer kept through datagram_keep().  Thread-safe.
	 * NULL for drivers that never offer datagram_keep. */
	void (*release)(void *token);
	/* The driver's own figures beyond struct drv_stats (dpdk: its port
	 * and MTU, then ARP, ICMP, tx and drop-by-reason counters), each
	 * through fn(arg, name, value); names are [a-z0-9_] and stable.  Any
	 * thread (single-writer counters read without tearing).  0, or
	 * -EINVAL (NULL d or fn).  NULL for drivers that have none (socket). */
	int (*counters)(const struct drv *d,
			void (*fn)(void *arg, const char *name, uint64_t v),
			void *arg);
	/* The largest UDP payload the driver takes and sends whole (dpdk:
	 * the port's MTU less the IPv4 and UDP headers, since it refuses
	 * fragments), which the broker advertises to its clients.  NULL
	 * (socket): cfg.udp_max_frame. */
	uint32_t (*udp_max_payload)(const struct drv *d);
};

/* The socket driver (kernel UDP/TCP through io_uring). */
extern const struct drv_ops drv_socket_ops;
/* The DPDK driver (built when DPDK is found): UDP through a poll-mode
 * driver with its own Ethernet/ARP/IPv4/UDP, TCP through an inner socket
 * driver in the same thread. */
extern const struct drv_ops drv_dpdk_ops;

/* The registry (registry.c): the drivers this build holds. */
/* The driver named name ("socket", "dpdk"; "" is "socket"), or NULL when
 * this build has none of that name.  Any thread. */
const struct drv_ops *drv_find(const char *name);
/* The names drv_find() knows, for messages: "socket, dpdk".  A static
 * string; any thread. */
const char *drv_names(void);

#endif
