/*
 * A real single-node broker for tests: sluiced and sluice-control started
 * as processes (paths from $SLUICED and $SLUICE_CONTROL) with a fresh data
 * directory under $SLUICE_TEST_TMPDIR.  Optionally sluiced runs inside a
 * network namespace (netns) created by the test.  Every wait has a
 * deadline; tb_destroy stops what is left.
 *
 * Ports: tb_init reserves two loopback ports (TCP and UDP on port, TCP on
 * kport) for the broker's whole life.  They are taken below the kernel's
 * ephemeral range (/proc/sys/net/ipv4/ip_local_port_range), so no client
 * socket's local port and no bind to port 0 can take them, and each is
 * held with an flock on /tmp/sluice-test-ports/<port> by the test process,
 * so two tests running at once, in this build or any other on the
 * machine, never get the same one.  The lock goes with tb_destroy or the
 * test's exit, whichever comes first; the kernel drops it after a crash.
 *
 * Exit status: a broker process that is still running at tb_stop or
 * tb_destroy must exit with status 0 on SIGTERM within 10 s; anything else
 * (a sanitizer report, a crash at shutdown or before, a hang) fails them,
 * prints the status, the log's path and its last lines, and keeps the
 * data dir with the logs.  Processes the test stops itself with
 * tb_stop_pid are the test's to check.
 */
#ifndef SLUICE_TESTS_BROKER_H
#define SLUICE_TESTS_BROKER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tb {
	char dir[PATH_MAX - 64];  /* data dir, removed by tb_destroy */
	char host[64];            /* listen host, 127.0.0.1 by default */
	char netns[64];           /* "" or the namespace sluiced runs in */
	int port;                 /* TCP and UDP */
	int kport;                /* the Kafka listener */
	char addr[96];            /* host:port */
	pid_t sluiced, control;
	unsigned restarts;        /* log files are numbered by start */
	const char *extra[12];    /* more -o key=value for both */
	unsigned nextra;
	int port_lock[2];         /* flock'ed fds reserving port, kport; -1 */
	char sluiced_log[PATH_MAX];  /* log of the latest sluiced */
	char control_log[PATH_MAX];  /* log of the latest sluice-control */
	unsigned bad_exits;       /* processes tb_stop found failed */
};

/* Binaries present?  0, or 77 (skip) with the reason printed. */
int tb_available(void);

/* Reserve one more loopback port as tb_init reserves its own ("Ports"
 * above): the port, with its lock's descriptor in *lock_fd (closing it
 * gives the port up), or -EADDRINUSE. */
int tb_reserve_port(int *lock_fd);

/* Make the data dir and choose a port; nothing started. */
int tb_init(struct tb *b, const char *name);
/* Start sluiced / sluice-control; tb_wait_ready waits until a topic can
 * be created and listed (control synced), up to timeout_ms. */
int tb_start_sluiced(struct tb *b);
int tb_start_control(struct tb *b);
int tb_start(struct tb *b); /* both, then tb_wait_ready */
int tb_wait_ready(struct tb *b, int timeout_ms);
/* Wait until the broker answers METADATA (sluiced up), up to timeout_ms. */
int tb_wait_sluiced(struct tb *b, int timeout_ms);
/* Signal a process and reap it (bounded: SIGKILL after 10 s). Returns
 * its wait status, or -1 when *pid is not a process.  The caller checks
 * the status. */
int tb_stop_pid(pid_t *pid, int sig);
/* SIGTERM to sluice-control, then sluiced, each reaped (SIGKILL after
 * 10 s), and each wait status checked: 0 when every process that was
 * running exited with status 0; -1 otherwise, with what happened, the
 * log's path and its last lines on stderr (b->bad_exits counts them). */
int tb_stop(struct tb *b);
/* tb_stop, release the ports, remove the data dir unless keep or a
 * process failed (then its path is printed).  0, or -1 when a process of
 * this broker failed at this or an earlier tb_stop. */
int tb_destroy(struct tb *b, int keep);

/* Ask the telemetry socket at path one command (DPDK's protocol: read the
 * greeting, send the command, read one reply); the reply goes into out,
 * NUL-terminated.  Waits at most 2 s for each read.  0 or -errno. */
int tb_tel_ask(const char *path, const char *cmd, char *out, size_t cap);

/* The integer after "key": inside the object "section":{...} of a
 * telemetry reply; -1 when it is missing. */
int64_t tb_json_i64(const char *json, const char *section, const char *key);

/* A UDP socket connected to the broker's native port on 127.0.0.1, reads
 * timing out after 3 s.  The descriptor, or -1. */
int tb_udp_open(const struct tb *b);

/* CLOCK_MONOTONIC in milliseconds: the tests' deadlines. */
uint64_t tb_now_ms(void);

/* Run a shell command, return its exit status (tests' ip/iptables). */
int tb_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Enter a network namespace in the calling process (children only). */
int tb_enter_netns(const char *name);

#endif
