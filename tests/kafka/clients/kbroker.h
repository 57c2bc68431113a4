/*
 * A real single-node broker with its Kafka listener, for the real-client
 * tests: tests/lib/broker.h (sluiced and sluice-control from $SLUICED and
 * $SLUICE_CONTROL, the native protocol and kafka_port on free loopback
 * ports, fresh data dir under $SLUICE_TEST_TMPDIR).  Never 9092 or 9093.
 *
 * Ready means: the native protocol answers and sluice-control is synced
 * (tb_wait_ready), and the Kafka port answers an ApiVersions v0 request
 * with the right correlation id.  Every wait has a deadline; a failure
 * says which step did not happen and prints the end of both logs.
 */
#ifndef SLUICE_TESTS_KBROKER_H
#define SLUICE_TESTS_KBROKER_H

#include "broker.h"

struct kb {
	struct tb tb;
	int kafka_port;         /* TCP, loopback (tb.kport) */
	char kafka_addr[64];    /* 127.0.0.1:kafka_port: bootstrap.servers */
	char opt[64];           /* "kafka_port=N", for messages */
};

/* Data dir and both ports chosen, nothing started.  0 or -errno. */
int kb_init(struct kb *k, const char *name);

/* Start both processes and wait until ready (see above), up to
 * timeout_ms in all.  0, or -ETIMEDOUT / -errno with the reason printed
 * on stderr. */
int kb_start(struct kb *k, int timeout_ms);

/* kb_start in two steps, for a cluster whose brokers must all be started
 * before any is ready: kb_launch starts both processes (0 or -errno),
 * kb_ready waits as kb_start does. */
int kb_launch(struct kb *k);
int kb_ready(struct kb *k, int timeout_ms);

/* Wait until the broker's Metadata (v1) lists want brokers (in a cluster:
 * every broker registered and unfenced), up to timeout_ms.  0 or
 * -ETIMEDOUT with what it listed printed. */
int kb_wait_brokers(struct kb *k, int want, int timeout_ms);

/* Only the Kafka part of readiness: connect to kafka_port and exchange
 * ApiVersions v0.  0 or a negative error; *why says which step failed. */
int kb_wait_kafka(struct kb *k, int timeout_ms, const char **why);

/* Stop both processes (SIGTERM, reaped, SIGKILL after 10 s); the data
 * dir stays, kb_start starts them again on the same ports and data.
 * 0, or -1 when one did not exit with status 0 (tb_stop: printed with
 * the end of its log). */
int kb_stop(struct kb *k);

/* Print the last lines of every log of this broker on stderr. */
void kb_print_logs(const struct kb *k, int lines);

/* kb_stop, then remove the data dir unless keep (tb_destroy: kept when a
 * process failed).  0, or -1 when a process failed at any kb_stop. */
int kb_destroy(struct kb *k, int keep);

#endif
