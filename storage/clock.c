/*
 * The system clocks behind struct sl_clock.  Tests hand in their own.
 */
#include <time.h>

#include "storage/log.h"

static uint64_t system_mono_ns(void *ctx)
{
	struct timespec ts;
	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int64_t system_wall_ms(void *ctx)
{
	struct timespec ts;
	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const struct sl_clock sl_clock_system = {
	.mono_ns = system_mono_ns,
	.wall_ms = system_wall_ms,
	.ctx = NULL,
};
