/*
 * sluice-control's log and clock.
 *
 * The log is stderr, one line per call, stamped with the wall-clock time
 * in UTC to the millisecond, the program and its pid:
 *     2024-05-01T12:00:00.123Z sluice-control[4242]: synced 3 topics
 * The clock is CLOCK_MONOTONIC in milliseconds, for deadlines and
 * timeouts: it never jumps with the wall clock.
 *
 * Both may be called from any thread; the control plane calls them from
 * its event loop only.
 */
#ifndef SLUICE_CONTROL_LOG_H
#define SLUICE_CONTROL_LOG_H

#include <stdint.h>

/* Milliseconds since an arbitrary fixed point (CLOCK_MONOTONIC). */
int64_t sl_now_ms(void);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME): for timestamps
 * shown to people and clients (Kafka's), never for deadlines. */
int64_t sl_wall_ms(void);

/* One log line to stderr (printf format; lines longer than 2 KiB are cut,
 * no newline needed). */
void sl_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
