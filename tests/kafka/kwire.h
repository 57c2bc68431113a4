/*
 * The Kafka wire from a byte-level test's side, against a real broker
 * started by tests/lib/broker.h: a connection to its Kafka port, requests
 * encoded and sent with their size prefix, one framed answer read and
 * decoded into an arena, and the scaffolding that every such test
 * program's main() shares (start the broker, run the named tests,
 * check the broker survived them and exited cleanly).
 *
 * One thread; the buffers are static and reused by the next call, so a
 * decoded answer is valid until the next kw_call() or kw_arena().
 */
#ifndef SLUICE_TESTS_KWIRE_H
#define SLUICE_TESTS_KWIRE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "broker.h"
#include "proto/kafka/kcodec.h"

/* The receive timeout of a kw_connect() socket: a hang, not a measure. */
#define KW_RECV_TIMEOUT_S 10

/* Checks failed so far, in every test of the program. */
extern int kw_failures;

/* In a function returning int: on a false condition, print it, count a
 * failure and return -1. */
#define CHECK(c)                                                           \
	do {                                                               \
		if (!(c)) {                                                \
			fprintf(stderr, "%s:%d: check failed: %s\n",       \
				__FILE__, __LINE__, #c);                   \
			kw_failures++;                                     \
			return -1;                                         \
		}                                                          \
	} while (0)

/* The client id of every request sent from now on (a static string). */
void kw_init(const char *client_id);

/* A TCP connection to 127.0.0.1:port with a KW_RECV_TIMEOUT_S receive
 * timeout: the fd, or -1 (printed). */
int kw_connect(int port);

/* All n bytes, or -1 (peer gone, send error). */
int kw_send_all(int fd, const void *p, size_t n);

/* Request (key, version, corr, body) encoded and sent with its size
 * prefix: 0, or -1 (encode error printed, or the send failed). */
int kw_send_request(int fd, int16_t key, int16_t version, int32_t corr,
		    const void *body);

/* One answer frame into buf, without its size prefix: its size, 0 when
 * the peer closed before its first byte, -1 on an error, a timeout or a
 * frame larger than cap. */
long kw_read(int fd, uint8_t *buf, size_t cap);

/* An empty arena over the decode memory (1 MiB) that kw_call uses too. */
struct kc_arena kw_arena(void);

/* A round trip: the request with the next correlation id, then its
 * answer (up to 4 MiB) decoded into out: 0, or -1 (a decode error or a
 * correlation id not ours printed). */
int kw_call(int fd, int16_t key, int16_t version, const void *body,
	    union kc_response *out);

/* The size of the last answer kw_call read (its header included), or -1. */
long kw_resp_len(void);

/* tb_available, tb_init(name) and tb_start, then, when conn is given, a
 * connection to the broker's Kafka port that the tests share, in *conn:
 * 0 with the broker up, 77 when its binaries are missing (said), 1 when
 * it did not start or did not accept (said, the broker destroyed). */
int kw_broker_start(struct tb *b, const char *name, int *conn);

/* A topic of that many partitions through the native client: its id, or
 * -1 (printed). */
long kw_topic_create(const struct tb *b, const char *name, int partitions);

struct kw_test {
	const char *name;
	int (*fn)(void); /* 0, or -1 with kw_failures moved */
};

/* Each test in turn, "ok" or "FAIL" and its name on stdout.  After a
 * failed one, the shared connection *conn (when given) is opened anew, as
 * a failed check may leave an answer unread; if that fails, the remaining
 * tests are not run. */
void kw_run(const struct tb *b, const struct kw_test *tests, size_t count,
	    int *conn);

/* The shared connection closed (when given), the broker still up, then
 * stopped; the program's exit code: 1 when a check failed, the broker
 * was down, or it failed at exit (a sanitizer report, a crash); else 0.
 * The data dir is kept for a failure. */
int kw_finish(struct tb *b, int *conn);

#define KW_COUNT(a) (sizeof(a) / sizeof((a)[0]))

#endif
