/*
 * sluice perf produce|consume: a fixed amount of work (--count) or time
 * (--duration) through libsluice, a progress line on stderr about once a
 * second, and a summary: messages/s, MB/s, latency p50/p99/p999 (produce:
 * from sl_produce to the delivery report; consume: end to end from the
 * record's timestamp, ms resolution, meaningful while producers run).
 * --json prints the summary as one JSON object.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/native.h"
#include "tools/sluice/cli.h"
#include "tools/sluice/lat_hist.h"

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct perf_opts {
	const char *topic;
	uint64_t count;
	uint32_t size;
	int acks;
	int transport;
	double duration_s;
	int partitions;
	int producers;
	int json;
	double rate;      /* msgs/s in all (0: as fast as possible) */
	int linger_ms;    /* -1: the library's default */
	uint32_t batch_bytes; /* 0: the library's default */
	const char *udp_addr; /* UDP datagrams there (a DPDK port's address) */
};

struct worker {
	pthread_t th;
	const struct perf_opts *o;
	int index;
	uint64_t quota;
	_Atomic uint64_t done; /* messages reported (produce) or read */
	_Atomic uint64_t bytes;
	uint64_t errors;
	int err;
	struct lat_hist h;
	int32_t partition; /* consume */
	uint64_t end_us;   /* when the worker finished (its last report) */
	uint64_t last_msg_us; /* consume: when the last message came */
	_Atomic int finished;
};

static _Atomic int stop_flag;

static void perf_cb(void *opaque, int32_t partition, int64_t offset, int err,
		    void *arg)
{
	struct worker *w = arg;
	if (err) {
		w->errors++;
		if (!w->err)
			w->err = err;
	} else {
		lat_hist_add(&w->h, now_us() - (uint64_t)(uintptr_t)opaque);
	}
	atomic_fetch_add_explicit(&w->done, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->bytes, w->o->size, memory_order_relaxed);
}

static void *produce_main(void *arg)
{
	struct worker *w = arg;
	struct sl_producer_opts po;
	sl_producer_opts_default(&po);
	po.acks = w->o->acks;
	po.transport = w->o->transport;
	if (w->o->linger_ms >= 0)
		po.linger_ms = (uint32_t)w->o->linger_ms;
	if (w->o->batch_bytes)
		po.batch_bytes = w->o->batch_bytes;
	po.udp_addr = w->o->udp_addr;
	po.cb = perf_cb;
	po.cb_arg = w;
	struct sl_producer *p;
	int rc = sl_producer_create(cli_broker, &po, &p);
	if (rc) {
		w->err = rc;
		w->end_us = now_us();
	atomic_store(&w->finished, 1);
		return NULL;
	}
	uint8_t *val = malloc(w->o->size ? w->o->size : 1);
	for (uint32_t i = 0; i < w->o->size; i++)
		val[i] = (uint8_t)('a' + i % 26);
	/* --rate: open loop; each message has a due time and its latency
	 * counts from it, so a stalled broker cannot hide its stall
	 * (coordinated omission). */
	double interval_us = w->o->rate > 0 ?
		1e6 * (double)w->o->producers / w->o->rate : 0;
	uint64_t start = now_us();
	for (uint64_t i = 0; i < w->quota && !atomic_load(&stop_flag); i++) {
		uint64_t stamp = now_us();
		if (interval_us > 0) {
			uint64_t due = start + (uint64_t)((double)i * interval_us);
			while ((stamp = now_us()) < due &&
			       !atomic_load(&stop_flag)) {
				uint64_t wait_ms = (due - stamp) / 1000;
				if (sl_producer_poll(p, (int)wait_ms) < 0)
					break;
			}
			stamp = due;
		}
		rc = sl_produce(p, w->o->topic, -1, NULL, 0, val, w->o->size,
				(void *)(uintptr_t)stamp);
		if (rc < 0) {
			w->err = rc;
			break;
		}
	}
	sl_producer_flush(p, -1);
	sl_producer_destroy(p);
	free(val);
	w->end_us = now_us();
	atomic_store(&w->finished, 1);
	return NULL;
}

static void *consume_main(void *arg)
{
	struct worker *w = arg;
	struct sl_consumer *c;
	int rc = sl_consumer_create(cli_broker, w->o->topic, w->partition, NULL,
				    &c);
	if (rc) {
		w->err = rc;
		w->end_us = now_us();
	atomic_store(&w->finished, 1);
		return NULL;
	}
	struct sl_message m;
	int idle = 0;
	while (!atomic_load(&stop_flag) && w->done < w->quota) {
		rc = sl_consume(c, &m, 200);
		if (rc < 0) {
			w->err = rc;
			break;
		}
		if (rc == 0) {
			/* no --duration: stop at the end of the log */
			if (w->o->duration_s <= 0 && ++idle >= 3 &&
			    sl_consumer_position(c) >= sl_consumer_end_offset(c))
				break;
			continue;
		}
		idle = 0;
		w->last_msg_us = now_us();
		int64_t lat_ms = wall_ms() - m.timestamp_ms;
		lat_hist_add(&w->h, lat_ms > 0 ? (uint64_t)lat_ms * 1000u : 0);
		atomic_fetch_add_explicit(&w->done, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&w->bytes, m.vlen, memory_order_relaxed);
	}
	sl_consumer_destroy(c);
	/* the last message, not the idle polls that found the end */
	w->end_us = w->last_msg_us ? w->last_msg_us : now_us();
	atomic_store(&w->finished, 1);
	return NULL;
}

static int ensure_topic(const struct perf_opts *o, int create, int *partitions)
{
	struct sl_client *c = cli_connect();
	if (!c)
		return 1;
	struct sl_topic_info t;
	int rc = sl_topic_describe(c, o->topic, &t);
	if (rc == sl_err_broker(SN_ERR_UNKNOWN_TOPIC_OR_PARTITION) && create) {
		struct sl_topic_config cfg = { .partitions = o->partitions };
		long id = sl_topic_create(c, o->topic, &cfg);
		rc = id < 0 ? (int)id : sl_topic_describe(c, o->topic, &t);
		if (!rc)
			fprintf(stderr, "created topic '%s' with %d partition(s)\n",
				o->topic, t.partitions);
	}
	sl_client_destroy(c);
	if (rc == sl_err_broker(SN_ERR_UNKNOWN_TOPIC_OR_PARTITION)) {
		fprintf(stderr, "sluice: topic '%s' does not exist; create it with: "
			"sluice topic create %s (or run sluice perf produce first)\n",
			o->topic, o->topic);
		return 1;
	}
	if (rc)
		return cli_fail("perf", rc);
	*partitions = t.partitions;
	return 0;
}

int cmd_perf(int argc, char **argv)
{
	if (argc < 2 || (strcmp(argv[1], "produce") && strcmp(argv[1], "consume")))
		goto usage;
	int produce = !strcmp(argv[1], "produce");
	struct perf_opts o = { .topic = "perf", .count = 1000000, .size = 100,
			       .acks = 1, .transport = SL_TCP, .partitions = 1,
			       .producers = 1, .linger_ms = -1 };
	int count_given = 0;
	static const struct option lo[] = {
		{ "topic", required_argument, 0, 't' },
		{ "count", required_argument, 0, 'n' },
		{ "size", required_argument, 0, 's' },
		{ "acks", required_argument, 0, 'a' },
		{ "transport", required_argument, 0, 'T' },
		{ "duration", required_argument, 0, 'd' },
		{ "partitions", required_argument, 0, 'p' },
		{ "producers", required_argument, 0, 'P' },
		{ "json", no_argument, 0, 'j' },
		{ "rate", required_argument, 0, 'r' },
		{ "linger-ms", required_argument, 0, 'l' },
		{ "batch-kib", required_argument, 0, 'b' },
		{ "udp-addr", required_argument, 0, 'U' },
		{ 0, 0, 0, 0 } };
	int ch;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 't': o.topic = optarg; break;
		case 'n': o.count = strtoull(optarg, NULL, 10); count_given = 1; break;
		case 's': o.size = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'a':
			if (cli_parse_acks(optarg, &o.acks))
				goto usage;
			break;
		case 'T':
			if (!strcmp(optarg, "tcp"))
				o.transport = SL_TCP;
			else if (!strcmp(optarg, "udp"))
				o.transport = SL_UDP;
			else
				goto usage;
			break;
		case 'd': o.duration_s = atof(optarg); break;
		case 'p': o.partitions = atoi(optarg); break;
		case 'P': o.producers = atoi(optarg); break;
		case 'j': o.json = 1; break;
		case 'r': o.rate = atof(optarg); break;
		case 'l': o.linger_ms = atoi(optarg); break;
		case 'b': o.batch_bytes = (uint32_t)strtoul(optarg, NULL, 10) << 10; break;
		case 'U': o.udp_addr = optarg; o.transport = SL_UDP; break;
		default:
			goto usage;
		}
	}
	if (o.producers < 1 || o.producers > 256 || o.partitions < 1 ||
	    o.partitions > SN_PARTITIONS_MAX)
		goto usage;
	if (o.duration_s > 0 && !count_given)
		o.count = UINT64_MAX;
	int partitions = 0;
	if (ensure_topic(&o, produce, &partitions))
		return 1;
	int nw = produce ? o.producers : partitions;
	struct worker *w = calloc((size_t)nw, sizeof(*w));
	for (int i = 0; i < nw; i++) {
		w[i].o = &o;
		w[i].index = i;
		w[i].partition = i;
		w[i].quota = o.count == UINT64_MAX ? UINT64_MAX :
			     o.count / (uint64_t)nw + ((uint64_t)i < o.count % (uint64_t)nw);
		w[i].h.b = calloc(LAT_HIST_BUCKETS, sizeof(uint32_t));
		if (!produce && o.count != UINT64_MAX)
			w[i].quota = o.count; /* a total, checked below */
	}
	uint64_t t0 = now_us();
	for (int i = 0; i < nw; i++)
		pthread_create(&w[i].th, NULL, produce ? produce_main : consume_main,
			       &w[i]);
	uint64_t last_n = 0, last_t = t0;
	for (;;) {
		usleep(100000);
		uint64_t n = 0;
		for (int i = 0; i < nw; i++)
			n += atomic_load(&w[i].done);
		uint64_t t = now_us();
		int all_done = 1;
		for (int i = 0; i < nw; i++)
			if (!atomic_load(&w[i].finished))
				all_done = 0;
		if (!produce && o.count != UINT64_MAX && n >= o.count)
			atomic_store(&stop_flag, 1);
		if (o.duration_s > 0 && (double)(t - t0) / 1e6 >= o.duration_s)
			atomic_store(&stop_flag, 1);
		if (t - last_t >= 1000000) {
			double rate = (double)(n - last_n) * 1e6 / (double)(t - last_t);
			fprintf(stderr, "\r%s: %llu msgs, %.0f msgs/s, %.1f MB/s   ",
				produce ? "produce" : "consume", (unsigned long long)n,
				rate, rate * o.size / 1e6);
			last_n = n;
			last_t = t;
		}
		if (all_done || atomic_load(&stop_flag))
			break;
	}
	uint64_t t1 = t0;
	for (int i = 0; i < nw; i++) {
		pthread_join(w[i].th, NULL);
		if (w[i].end_us > t1)
			t1 = w[i].end_us; /* not the 100 ms progress tick */
	}
	fprintf(stderr, "\n");
	struct lat_hist all = { .b = calloc(LAT_HIST_BUCKETS, sizeof(uint32_t)) };
	uint64_t n = 0, bytes = 0, errors = 0;
	int err = 0;
	for (int i = 0; i < nw; i++) {
		n += w[i].done;
		bytes += w[i].bytes;
		errors += w[i].errors;
		if (w[i].err && !err)
			err = w[i].err;
		for (uint32_t k = 0; k < LAT_HIST_BUCKETS; k++)
			all.b[k] += w[i].h.b[k];
		all.n += w[i].h.n;
		free(w[i].h.b);
	}
	double secs = (double)(t1 - t0) / 1e6;
	double mps = secs > 0 ? (double)n / secs : 0;
	double mbps = secs > 0 ? (double)bytes / secs / 1e6 : 0;
	uint64_t p50 = lat_hist_pct(&all, 0.50), p99 = lat_hist_pct(&all, 0.99),
		 p999 = lat_hist_pct(&all, 0.999);
	if (o.json) {
		printf("{\"mode\":\"%s\",\"topic\":\"%s\",\"messages\":%llu,"
		       "\"errors\":%llu,\"seconds\":%.3f,\"msgs_per_s\":%.0f,"
		       "\"mb_per_s\":%.2f,\"p50_us\":%llu,\"p99_us\":%llu,"
		       "\"p999_us\":%llu,\"size\":%u,\"acks\":%d,\"transport\":\"%s\","
		       "\"workers\":%d}\n",
		       produce ? "produce" : "consume", o.topic,
		       (unsigned long long)n, (unsigned long long)errors, secs,
		       mps, mbps, (unsigned long long)p50, (unsigned long long)p99,
		       (unsigned long long)p999, o.size, o.acks,
		       o.transport == SL_UDP ? "udp" : "tcp", nw);
	} else {
		printf("%s %s: %llu messages in %.2f s: %.0f msgs/s, %.2f MB/s\n",
		       produce ? "produced" : "consumed", o.topic,
		       (unsigned long long)n, secs, mps, mbps);
		printf("%s latency: p50 %llu us, p99 %llu us, p999 %llu us%s\n",
		       produce ? "ack" : "end-to-end", (unsigned long long)p50,
		       (unsigned long long)p99, (unsigned long long)p999,
		       produce ? "" : " (from record timestamps, ms resolution)");
		if (errors)
			printf("%llu message(s) failed\n", (unsigned long long)errors);
	}
	free(all.b);
	free(w);
	if (err)
		return cli_fail(produce ? "perf produce" : "perf consume", err);
	return errors ? 1 : 0;
usage:
	fprintf(stderr,
		"usage: sluice perf produce|consume [--topic T] [--count N] [--size BYTES]\n"
		"       [--acks 0|1|all] [--transport tcp|udp] [--duration S]\n"
		"       [--partitions N] [--producers N] [--rate MSGS_PER_S]\n"
		"       [--linger-ms MS] [--batch-kib KIB] [--udp-addr HOST:PORT]\n"
		"       [--json]\n");
	return 2;
}
