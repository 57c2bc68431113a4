/*
 * A real single-node broker for tests: sluiced and sluice-control started
 * as processes (paths from $SLUICED and $SLUICE_CONTROL) on a free
 * loopback port, with a fresh data directory under $SLUICE_TEST_TMPDIR.
 * Optionally sluiced runs inside a network namespace (netns) created by
 * the test.  Every wait has a deadline; tb_destroy stops what is left.
 */
#ifndef SLUICE_TESTS_BROKER_H
#define SLUICE_TESTS_BROKER_H

#include <limits.h>
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
	const char *extra[8];     /* more -o key=value for both */
	unsigned nextra;
};

/* Binaries present?  0, or 77 (skip) with the reason printed. */
int tb_available(void);

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
 * its wait status. */
int tb_stop_pid(pid_t *pid, int sig);
/* Stop both (SIGTERM), remove the data dir unless keep. */
void tb_destroy(struct tb *b, int keep);

/* Run a shell command, return its exit status (tests' ip/iptables). */
int tb_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Enter a network namespace in the calling process (children only). */
int tb_enter_netns(const char *name);

#endif
