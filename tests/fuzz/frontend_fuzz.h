/*
 * frontend_fuzz's input format, shared with make_seeds.c (frontend_fuzz.c
 * explains what the target does with it).
 *
 *   u8 setup | chunk*          chunk = u8 ctl | u16 len | len bytes
 *
 * setup: bits 0-1 how control answers admin requests (FE_CONTROL_*),
 *        bits 2-3 the memory budget (FE_BUDGET_*).
 * ctl:   bits 0-1 where the bytes go (FE_TO_*), bits 2-3 how far the fake
 *        clock moves before they are delivered (FE_CLOCK_*), and the
 *        FE_HANGUP / FE_NO_STEP flags.
 */
#ifndef SLUICE_TESTS_FUZZ_FRONTEND_FUZZ_H
#define SLUICE_TESTS_FUZZ_FRONTEND_FUZZ_H

/* the topic every input finds: FE_PARTITIONS partitions, empty */
#define FE_TOPIC_ID 1
#define FE_TOPIC_NAME "fz"
#define FE_PARTITIONS 2

enum {
	FE_CONTROL_ABSENT = 0,  /* not synchronised: admin refused */
	FE_CONTROL_ANSWER = 1,  /* answers each request with a frame */
	FE_CONTROL_ERROR = 2,   /* answers each request with an error */
	FE_CONTROL_SILENT = 3,  /* keeps requests until the input ends */
};

enum {
	FE_BUDGET_LARGE = 0,    /* 64 MiB */
	FE_BUDGET_64K = 1,
	FE_BUDGET_8K = 2,
	FE_BUDGET_2K = 3,
};

enum {
	FE_TO_NATIVE = 0,       /* the native TCP connection's stream */
	FE_TO_KAFKA = 1,        /* the Kafka TCP connection's stream */
	FE_TO_DATAGRAM = 2,     /* one native datagram (copied) */
	FE_TO_DATAGRAM_KEEP = 3, /* one native datagram, buffer keepable */
};

enum {
	FE_CLOCK_NONE = 0,
	FE_CLOCK_1MS = 1 << 2,
	FE_CLOCK_600MS = 2 << 2,
	FE_CLOCK_6S = 3 << 2,   /* past DP_STALL_MAX_MS */
};

#define FE_HANGUP 0x10   /* the client closes its connection right after */
#define FE_NO_STEP 0x20  /* no storage core step or drain after the chunk */

#endif
