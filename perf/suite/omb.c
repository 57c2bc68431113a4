/*
 * sluice-omb: an OpenMessaging-Benchmark-style driver.  One run = one
 * system x one workload: N producer threads and M consumer threads, each
 * with its own connection through the system's own client library
 * (omb.h: the backend interface; be_*.c: the backends), publishing
 * fixed-size messages at a fixed rate or as fast as acks allow, for a
 * warm-up and then a measured window.  Prints one JSON line on stdout:
 * publish and consume throughput, publish-to-ack and publish-to-consume
 * latency percentiles (p50 ... max and a percentile curve), counts and the
 * first error.
 *
 *   sluice-omb --system sluice --addr 127.0.0.1:19300 --partitions 16 \
 *       --size 1024 --producers 4 --consumers 4 [--rate MSGS_PER_S] \
 *       [--warmup S] [--duration S] [--opt STR]
 *   sluice-omb --workload queue --system rabbitmq --addr 127.0.0.1:5672 \
 *       --messages 20000 --consumers 4 [--prefetch 100] [--rate R] \
 *       [--opt classic]              the queue workload (queue.c)
 *   sluice-omb --memcpy [--mib N]      the memcpy bandwidth limit
 *   sluice-omb --list                  the backends built in
 *
 * Coordinated omission: at a fixed rate every message has a due time on
 * the producer's schedule (rate / producers each, staggered); its latency
 * counts from that due time, so a publish call that blocks or a window
 * that is full delays the stamps of every message behind it and the delay
 * shows in their latencies, as wrk2 and OMB do.  At max throughput the
 * stamp is the publish call's start.
 *
 * Bounds: the producers stop at warm-up + duration; their acks are waited
 * for at most 15 s; the consumers then get until every message acked in
 * the window is consumed, at most 15 s (3 s without progress).  Exit 0
 * with the figures; exit 1 (and "error" in the JSON) when a producer or
 * consumer could not be created or a publish failed.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "omb.h"

uint64_t omb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t omb_payload_stamp(const void *payload, size_t len)
{
	uint64_t stamp;

	if (!payload || len < OMB_STAMP_BYTES)
		return 0;
	memcpy(&stamp, payload, sizeof(stamp));
	return stamp;
}

static bool in_window(const struct omb_side *s, uint64_t stamp)
{
	return stamp >= s->window_start_ns && stamp < s->window_end_ns;
}

void omb_acked(struct omb_side *s, uint64_t stamp_ns, int err)
{
	uint64_t now = omb_now_ns();

	__atomic_fetch_add(&s->acked, 1, __ATOMIC_RELAXED);
	if (err) {
		if (__atomic_fetch_add(&s->errors, 1, __ATOMIC_RELAXED) == 0)
			omb_error(s, "ack failed: %d", err);
		return;
	}
	if (!in_window(s, stamp_ns))
		return;
	__atomic_fetch_add(&s->counted, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->bytes, s->conf->size, __ATOMIC_RELAXED);
	hist_record(s->lat, now > stamp_ns ? now - stamp_ns : 0);
}

void omb_consumed(struct omb_side *s, const void *payload, size_t len)
{
	uint64_t now = omb_now_ns(), stamp = omb_payload_stamp(payload, len);

	__atomic_fetch_add(&s->received, 1, __ATOMIC_RELAXED);
	if (!in_window(s, stamp))
		return;
	__atomic_fetch_add(&s->counted, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->bytes, len, __ATOMIC_RELAXED);
	hist_record(s->lat, now > stamp ? now - stamp : 0);
}

static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;

void omb_error(struct omb_side *s, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&err_lock);
	if (!s->err[0]) {
		va_start(ap, fmt);
		vsnprintf(s->err, sizeof(s->err), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&err_lock);
}

int omb_split_addr(const char *addr, char *host, size_t cap, int *port,
		   int def_port)
{
	const char *colon = addr ? strrchr(addr, ':') : NULL;
	size_t n;

	if (!addr || !*addr)
		return -EINVAL;
	n = colon ? (size_t)(colon - addr) : strlen(addr);
	if (n == 0 || n >= cap)
		return -EINVAL;
	memcpy(host, addr, n);
	host[n] = 0;
	*port = colon ? atoi(colon + 1) : def_port;
	return *port > 0 && *port < 65536 ? 0 : -EINVAL;
}

/* ---- the run ---- */

struct worker {
	pthread_t th;
	struct omb_side side;
	struct hist lat;
	int partitions[OMB_PARTITIONS_MAX];
	int npartitions;
	bool ok; /* created */
};

static const struct omb_backend *be;
static struct omb_conf conf;
static struct worker producers[OMB_THREADS_MAX], consumers[OMB_THREADS_MAX];
static pthread_barrier_t ready;    /* every worker created (or failed) */
static pthread_barrier_t go;       /* main set the window: start */
static volatile int stop_consumers; /* written by main, read by consumers */
static uint64_t run_start_ns;

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u),
			       (long)(ns % 1000000000u) };
	nanosleep(&ts, NULL);
}

static void *producer_main(void *arg)
{
	struct worker *w = arg;
	struct omb_side *s = &w->side;
	void *p = NULL;
	unsigned char *buf = malloc(conf.size);
	uint64_t end, next, interval_ns = 0;
	int part, rc;

	if (buf)
		for (uint32_t i = 0; i < conf.size; i++)
			buf[i] = (unsigned char)('a' + i % 26);
	rc = buf ? be->producer_create(&conf, s, &p) : -ENOMEM;
	w->ok = rc == 0;
	if (rc)
		omb_error(s, "producer %d: create: %d", s->id, rc);
	pthread_barrier_wait(&ready);
	pthread_barrier_wait(&go);
	if (!w->ok)
		goto out;
	end = run_start_ns + (uint64_t)((conf.warmup_s + conf.duration_s) * 1e9);
	if (conf.rate > 0)
		interval_ns = (uint64_t)(1e9 * conf.producers / conf.rate);
	next = run_start_ns + interval_ns * (uint64_t)s->id / (uint64_t)conf.producers;
	part = s->id % conf.partitions;
	for (uint64_t iter = 0;; iter++) {
		uint64_t now = omb_now_ns(), stamp;

		if (now >= end)
			break;
		if (interval_ns && now < next) {
			uint64_t wait = next - now;
			if (wait >= 2000000)
				be->producer_poll(p, wait > 10000000 ? 10 : 1);
			else if (be->producer_poll(p, 0) >= 0 && wait > 50000)
				sleep_ns(wait - 50000 < 1000000 ? wait - 50000 : 1000000);
			continue;
		}
		stamp = interval_ns ? next : now;
		memcpy(buf, &stamp, sizeof(stamp));
		rc = be->produce(p, part, buf, conf.size, stamp);
		if (rc == -EAGAIN) {
			be->producer_poll(p, 1);
			continue;
		}
		if (rc < 0) {
			omb_error(s, "producer %d: publish: %d", s->id, rc);
			break;
		}
		s->sent++;
		part = (part + 1) % conf.partitions;
		next += interval_ns;
		if ((iter & 63) == 63)
			be->producer_poll(p, 0);
	}
	rc = be->producer_flush(p, 15000);
	if (rc < 0)
		omb_error(s, "producer %d: flush: %d (acks missing)", s->id, rc);
out:
	if (p)
		be->producer_destroy(p);
	free(buf);
	return NULL;
}

static void *consumer_main(void *arg)
{
	struct worker *w = arg;
	struct omb_side *s = &w->side;
	void *cn = NULL;
	int rc = be->consumer_create(&conf, s, w->partitions, w->npartitions, &cn);

	w->ok = rc == 0;
	if (rc)
		omb_error(s, "consumer %d: create: %d", s->id, rc);
	pthread_barrier_wait(&ready);
	pthread_barrier_wait(&go);
	while (w->ok && !__atomic_load_n(&stop_consumers, __ATOMIC_ACQUIRE)) {
		rc = be->consumer_poll(cn, 50);
		if (rc < 0) {
			omb_error(s, "consumer %d: poll: %d", s->id, rc);
			break;
		}
	}
	if (cn)
		be->consumer_destroy(cn);
	return NULL;
}

static const double quantiles[] = { 0.5, 0.75, 0.9, 0.95, 0.99, 0.995,
				    0.999, 0.9995, 0.9999, 1.0 };

void omb_print_lat(const char *name, const struct hist *h)
{
	printf("\"%s\":{\"count\":%llu,\"p50_us\":%.1f,\"p99_us\":%.1f,"
	       "\"p999_us\":%.1f,\"max_us\":%.1f,\"curve\":[",
	       name, (unsigned long long)h->total, hist_quantile(h, 0.5) / 1e3,
	       hist_quantile(h, 0.99) / 1e3, hist_quantile(h, 0.999) / 1e3,
	       h->max_ns / 1e3);
	for (size_t i = 0; i < sizeof(quantiles) / sizeof(quantiles[0]); i++)
		printf("%s[%g,%.1f]", i ? "," : "", quantiles[i] * 100,
		       hist_quantile(h, quantiles[i]) / 1e3);
	printf("]}");
}

static int run(void)
{
	struct hist *ack = calloc(1, sizeof(*ack)), *e2e = calloc(1, sizeof(*e2e));
	uint64_t acked = 0, sent = 0, errors = 0, pub_counted = 0, pub_bytes = 0;
	uint64_t con_counted = 0, con_bytes = 0, received = 0, last, t0, waited_ns;
	const char *err = "";
	int failed = 0, nworkers = conf.producers + conf.consumers;

	if (!ack || !e2e)
		return -ENOMEM;
	int rc = be->setup(&conf);
	if (rc < 0) {
		printf("{\"system\":\"%s\",\"error\":\"setup failed: %d\"}\n",
		       conf.system, rc);
		return 1;
	}
	pthread_barrier_init(&ready, NULL, (unsigned)nworkers + 1);
	pthread_barrier_init(&go, NULL, (unsigned)nworkers + 1);
	for (int i = 0; i < conf.consumers; i++) {
		struct worker *w = &consumers[i];
		w->side = (struct omb_side){ .conf = &conf, .id = i, .lat = &w->lat };
		for (int p = i; p < conf.partitions; p += conf.consumers)
			w->partitions[w->npartitions++] = p;
		pthread_create(&w->th, NULL, consumer_main, w);
	}
	for (int i = 0; i < conf.producers; i++) {
		struct worker *w = &producers[i];
		w->side = (struct omb_side){ .conf = &conf, .id = i, .lat = &w->lat };
		pthread_create(&w->th, NULL, producer_main, w);
	}
	pthread_barrier_wait(&ready);
	/* consumers subscribed: let the systems that subscribe asynchronously
	 * (NATS, MQTT, AMQP) settle before the first message */
	sleep_ns(300000000);
	run_start_ns = omb_now_ns();
	for (int i = 0; i < nworkers; i++) {
		struct worker *w = i < conf.producers ? &producers[i]
						      : &consumers[i - conf.producers];
		w->side.window_start_ns = run_start_ns + (uint64_t)(conf.warmup_s * 1e9);
		w->side.window_end_ns = w->side.window_start_ns +
					(uint64_t)(conf.duration_s * 1e9);
	}
	pthread_barrier_wait(&go);
	for (int i = 0; i < conf.producers; i++) {
		struct worker *w = &producers[i];
		pthread_join(w->th, NULL);
		acked += w->side.acked;
		sent += w->side.sent;
		errors += w->side.errors;
		pub_counted += w->side.counted;
		pub_bytes += w->side.bytes;
		hist_merge(ack, &w->lat);
		failed |= !w->ok;
		if (!*err && w->side.err[0])
			err = w->side.err;
	}
	/* the consumers: until what was acked in the window is consumed */
	t0 = last = omb_now_ns();
	uint64_t prev = 0;
	for (;;) {
		uint64_t got = 0, now = omb_now_ns();
		for (int i = 0; i < conf.consumers; i++)
			got += __atomic_load_n(&consumers[i].side.counted,
					       __ATOMIC_RELAXED);
		if (got >= pub_counted || conf.consumers == 0)
			break;
		if (got != prev) {
			prev = got;
			last = now;
		}
		if (now - t0 > 15000000000ull || now - last > 3000000000ull)
			break;
		sleep_ns(20000000);
	}
	waited_ns = omb_now_ns() - t0;
	__atomic_store_n(&stop_consumers, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < conf.consumers; i++) {
		struct worker *w = &consumers[i];
		pthread_join(w->th, NULL);
		con_counted += w->side.counted;
		con_bytes += w->side.bytes;
		received += w->side.received;
		hist_merge(e2e, &w->lat);
		failed |= !w->ok;
		if (!*err && w->side.err[0])
			err = w->side.err;
	}
	be->teardown(&conf);

	printf("{\"system\":\"%s\",\"client\":\"%s\",\"opt\":\"%s\","
	       "\"partitions\":%d,\"size\":%u,\"producers\":%d,\"consumers\":%d,"
	       "\"mode\":\"%s\",\"target_rate\":%.0f,\"warmup_s\":%g,"
	       "\"duration_s\":%g,\"sent\":%llu,\"acked\":%llu,\"ack_errors\":%llu,"
	       "\"pub_msgs_per_s\":%.1f,\"pub_mb_per_s\":%.3f,"
	       "\"received\":%llu,\"con_msgs_per_s\":%.1f,\"con_mb_per_s\":%.3f,"
	       "\"consumed_of_acked\":%.4f,\"drain_s\":%.2f,",
	       conf.system, be->client, conf.opt, conf.partitions, conf.size,
	       conf.producers, conf.consumers, conf.rate > 0 ? "rate" : "max",
	       conf.rate, conf.warmup_s, conf.duration_s,
	       (unsigned long long)sent, (unsigned long long)acked,
	       (unsigned long long)errors, pub_counted / conf.duration_s,
	       pub_bytes / conf.duration_s / 1e6, (unsigned long long)received,
	       con_counted / conf.duration_s, con_bytes / conf.duration_s / 1e6,
	       pub_counted ? (double)con_counted / (double)pub_counted : 0.0,
	       waited_ns / 1e9);
	omb_print_lat("ack", ack);
	printf(",");
	omb_print_lat("e2e", e2e);
	printf(",\"error\":\"");
	for (const char *c = err; *c; c++)
		putchar(*c == '"' || *c == '\\' ? '\'' : *c);
	printf("\"}\n");
	fflush(stdout);
	free(ack);
	free(e2e);
	return failed || *err ? 1 : 0;
}

/* The memcpy limit: MB/s copied between two 256 MiB buffers. */
static int memcpy_limit(unsigned mib)
{
	size_t n = (size_t)mib << 20;
	char *a = malloc(n), *b = malloc(n);
	double best = 0;

	if (!a || !b)
		return 1;
	memset(a, 1, n);
	memset(b, 2, n);
	for (int rep = 0; rep < 5; rep++) {
		uint64_t t0 = omb_now_ns();
		memcpy(rep & 1 ? a : b, rep & 1 ? b : a, n);
		double mbps = (double)n / ((omb_now_ns() - t0) / 1e9) / 1e6;
		if (mbps > best)
			best = mbps;
	}
	printf("{\"memcpy_mb_per_s\":%.0f,\"bytes\":%zu,\"check\":%d}\n", best,
	       n, a[n / 2] + b[n / 3]);
	free(a);
	free(b);
	return 0;
}

static const struct omb_backend *const *backends(void)
{
	static const struct omb_backend *list[8];
	const struct omb_backend *all[] = {
		&omb_backend_sluice, &omb_backend_kafka, &omb_backend_redis,
		&omb_backend_nats,   &omb_backend_rabbitmq, &omb_backend_mqtt,
	};
	unsigned n = 0;

	for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (all[i]) /* weak: NULL when not linked */
			list[n++] = all[i];
	list[n] = NULL;
	return list;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: sluice-omb --system NAME --addr HOST:PORT [--addr2 HOST:PORT]\n"
		"         [--partitions N] [--producers N] [--consumers N] [--size B]\n"
		"         [--rate MSGS_PER_S] [--warmup S] [--duration S] [--opt STR]\n"
		"         [--topic NAME]\n"
		"       sluice-omb --workload queue --system NAME --addr HOST:PORT\n"
		"         [--messages N] [--consumers N] [--prefetch N] [--rate R]\n"
		"         [--producers N] [--size B] [--opt STR]\n"
		"       sluice-omb --memcpy [--mib N]\n"
		"       sluice-omb --list\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "system", 1, 0, 's' },     { "addr", 1, 0, 'a' },
		{ "addr2", 1, 0, 'A' },      { "partitions", 1, 0, 'p' },
		{ "producers", 1, 0, 'P' },  { "consumers", 1, 0, 'C' },
		{ "size", 1, 0, 'z' },       { "rate", 1, 0, 'r' },
		{ "warmup", 1, 0, 'w' },     { "duration", 1, 0, 'd' },
		{ "opt", 1, 0, 'o' },        { "topic", 1, 0, 't' },
		{ "memcpy", 0, 0, 'm' },     { "mib", 1, 0, 'M' },
		{ "list", 0, 0, 'l' },       { "workload", 1, 0, 'W' },
		{ "messages", 1, 0, 'n' },   { "prefetch", 1, 0, 'f' },
		{ 0, 0, 0, 0 },
	};
	const struct omb_backend *const *list = backends();
	int c, do_memcpy = 0;
	unsigned mib = 256;

	conf = (struct omb_conf){ .partitions = 1, .producers = 1, .consumers = 1,
				  .size = 1024, .warmup_s = 2, .duration_s = 10,
				  .opt = "", .messages = 20000, .prefetch = 100 };
	snprintf(conf.topic, sizeof(conf.topic), "omb-%d-%ld", (int)getpid(),
		 (long)time(NULL) % 100000);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': conf.system = optarg; break;
		case 'a': conf.addr = optarg; break;
		case 'A': conf.addr2 = optarg; break;
		case 'p': conf.partitions = atoi(optarg); break;
		case 'P': conf.producers = atoi(optarg); break;
		case 'C': conf.consumers = atoi(optarg); break;
		case 'z': conf.size = (uint32_t)atoi(optarg); break;
		case 'r': conf.rate = atof(optarg); break;
		case 'w': conf.warmup_s = atof(optarg); break;
		case 'd': conf.duration_s = atof(optarg); break;
		case 'o': conf.opt = optarg; break;
		case 't': snprintf(conf.topic, sizeof(conf.topic), "%s", optarg); break;
		case 'm': do_memcpy = 1; break;
		case 'M': mib = (unsigned)atoi(optarg); break;
		case 'W':
			if (!strcmp(optarg, "log")) {
				conf.workload = OMB_LOG;
			} else if (!strcmp(optarg, "queue")) {
				conf.workload = OMB_QUEUE;
			} else {
				fprintf(stderr, "sluice-omb: --workload is log "
					"or queue\n");
				return 2;
			}
			break;
		case 'n': conf.messages = strtoull(optarg, NULL, 10); break;
		case 'f': conf.prefetch = (uint32_t)atoi(optarg); break;
		case 'l':
			for (unsigned i = 0; list[i]; i++)
				printf("%s\t%s\n", list[i]->name, list[i]->client);
			return 0;
		default: usage(); return 2;
		}
	}
	if (do_memcpy)
		return memcpy_limit(mib ? mib : 256);
	for (unsigned i = 0; conf.system && list[i]; i++)
		if (!strcmp(list[i]->name, conf.system))
			be = list[i];
	if (!be || !conf.addr) {
		fprintf(stderr, "sluice-omb: %s\n", !be ? "unknown or missing "
			"--system (see --list)" : "--addr missing");
		usage();
		return 2;
	}
	if (conf.partitions < 1 || conf.partitions > OMB_PARTITIONS_MAX ||
	    conf.producers < 1 || conf.producers > OMB_THREADS_MAX ||
	    conf.consumers < 0 || conf.consumers > OMB_THREADS_MAX ||
	    conf.size < OMB_STAMP_BYTES || conf.size > (16u << 20) ||
	    conf.duration_s <= 0 || conf.warmup_s < 0 || conf.rate < 0) {
		fprintf(stderr, "sluice-omb: a setting is out of range\n");
		return 2;
	}
	if (conf.workload == OMB_QUEUE) {
		if (!be->queue_consumer_create) {
			fprintf(stderr, "sluice-omb: %s has no queue workload\n",
				be->name);
			return 2;
		}
		if (conf.messages < 1 || conf.messages > OMB_QUEUE_MESSAGES_MAX ||
		    conf.consumers < 1 || conf.prefetch < 1 ||
		    conf.prefetch > OMB_PREFETCH_MAX ||
		    conf.size < OMB_STAMP_BYTES + OMB_SEQ_BYTES ||
		    (conf.rate > 0 && conf.messages / conf.rate > 600)) {
			fprintf(stderr, "sluice-omb: a queue setting is out of "
				"range (at least 1 consumer, a size of 16 B, a "
				"prefetch of 1..%u, at most 600 s of "
				"publishing)\n", OMB_PREFETCH_MAX);
			return 2;
		}
		/* competing consumers share the queue: no partition each */
		return omb_queue_run(be, &conf);
	}
	if (conf.consumers > conf.partitions)
		conf.consumers = conf.partitions;
	return run();
}
