/*
 * Drives the group coordinator (control/groups.h) in-process for the fuzz
 * targets, as tests/control/groups_test.c does: whole Kafka requests in,
 * replies through the callback, a fake clock that moves only when told.
 *
 * Every reply is checked as it arrives: it answers a request that was
 * made and not yet answered, on a connection not dropped, fits
 * SL_GROUPS_MAX_RESPONSE, decodes whole as the response of the request's
 * API and version, and carries its correlation id.  A broken rule aborts
 * (libFuzzer keeps the input).
 */
#ifndef SLUICE_TESTS_FUZZ_GROUPS_PROBE_H
#define SLUICE_TESTS_FUZZ_GROUPS_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/groups.h"
#include "proto/kafka/kcodec.h"

#define GP_WALL_START_MS 1700000000000ll /* the fake wall clock at reset */
#define GP_MONO_START_MS 1000000ll
#define GP_CONNS 8

/* Called with each reply, decoded (valid during the call only). */
typedef void (*gp_hook_fn)(uint64_t token, int16_t key, int16_t version,
			   const void *resp);

/* Reset the requests table and the clock (wall clock at wall_ms). */
void gp_reset(int64_t wall_ms);
/* sl_groups_open on dir with the fake clock; returns its result. */
int gp_open(const char *dir, int64_t retention_ms, struct sl_groups **out);
void gp_close(void);
struct sl_groups *gp_groups(void);

void gp_set_hook(gp_hook_fn fn);

/* Encode and send one request (body: the API's request struct) on conn.
 * Returns sl_groups_request's result; *token the request's token. */
int gp_send(uint32_t conn, int16_t key, int16_t version, const void *body,
	    uint64_t *token);
/* Send raw request bytes (a header and a body the fuzzer made); the
 * correlation id at bytes 4..8 is replaced by the token's. */
int gp_send_raw(uint32_t conn, const uint8_t *req, size_t len,
		uint64_t *token);

/* The partition count of topic t1 that consumer groups see from now on
 * (t0 has 3; other names are no topic). */
void gp_set_partitions(int32_t n);

/* Move both clocks forward by ms and run the timers. */
void gp_advance(int64_t ms);
int64_t gp_now_ms(void);
/* sl_groups_drop_conn, and remember that conn's replies must not come. */
void gp_drop_conn(uint32_t conn);
/* Was token answered? */
bool gp_answered(uint64_t token);

/*
 * Every committed offset the coordinator answers (ListGroups, then an
 * OffsetFetch of every topic for each group), as one canonical byte string
 * (groups, topics and partitions sorted) in buf; its length.  Groups
 * without offsets (membership only) are left out, and so is everything
 * when ListGroups answers an error (too many groups to list).  Aborts if
 * the coordinator refuses a query.
 */
size_t gp_snapshot(uint8_t *buf, size_t cap);

#endif
