/*
 * The replies of a coordinator under test.  sluice-control's group and
 * transaction coordinators answer through a reply callback; the tests'
 * callbacks keep each reply as it came (kr_add) and decode it when the
 * test asks for it, into an arena that lives until kr_teardown.
 *
 * One set of replies per test program (the coordinators are single
 * threaded, and so are these tests).
 */
#ifndef SLUICE_TESTS_CONTROL_KREPLIES_H
#define SLUICE_TESTS_CONTROL_KREPLIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/kafka/kcodec.h"

#define KR_MAX 2048

struct kr_reply {
	uint64_t token;
	uint8_t *bytes; /* the whole response, a copy */
	size_t len;
	bool taken;     /* kr_take'n */
};
extern struct kr_reply kr_cap[KR_MAX];
extern int kr_n;

/* No replies, an empty decode arena. */
void kr_setup(void);
/* Free every reply. */
void kr_teardown(void);

/* Keep a reply to token (at least 4 and at most max_len bytes; a token
 * answered twice fails the test). */
void kr_add(uint64_t token, const uint8_t *resp, size_t len, size_t max_len);
bool kr_has(uint64_t token);
int kr_untaken(void);

/* The reply to token decoded as API key's response at ver: the whole
 * reply must decode, with the token's correlation id (its low 31 bits).
 * kr_take fails the test when the reply is missing or was taken before;
 * kr_decode may decode one reply any number of times. */
void *kr_take(uint64_t token, int16_t key, int16_t ver);
void *kr_decode(uint64_t token, int16_t key, int16_t ver);

/* The request of API key at ver with body, of client id client, with the
 * token's low 31 bits as correlation id, encoded into a buffer that the
 * next call reuses: its bytes, and their number in *len. */
const uint8_t *kr_request(uint64_t token, int16_t key, int16_t ver,
			  const void *body, const char *client, size_t *len);

/* The tests' shorthands: a Kafka string of a C string (NULL: null), and
 * whether s is want. */
struct kc_str S(const char *s);
bool streq(struct kc_str s, const char *want);

#endif
