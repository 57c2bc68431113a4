/*
 * sluice-kafka-bench: the broker's Kafka protocol measured through
 * librdkafka, the way a Kafka user would drive it for throughput.
 *
 *   sluice-kafka-bench produce -b HOST:PORT --topic T [--count N] [--size S]
 *       [--acks 0|1|all] [--linger-ms MS] [--batch-kib KIB]
 *       [--compression none|gzip|snappy|lz4|zstd] [--idempotent]
 *       [--max-in-flight N] [--timeout S] [--json]
 *   sluice-kafka-bench consume -b HOST:PORT --topic T [--count N]
 *       [--timeout S] [--json]
 *
 * produce: one producer sends N messages of S bytes (null key: librdkafka's
 * sticky partitioner fills one batch at a time) with linger.ms 5 and
 * batch.size 1 MiB by default, the usual throughput settings, up to
 * 1 GiB queued and 5 requests in flight per connection (Kafka's Java
 * producer default, and the native producer's 5 batches per partition;
 * librdkafka's own default is a million); the clock runs from the first send to the last delivery
 * report.  Prints msgs/s, MB/s (payload bytes, 10^6) and the delivery
 * latency p50/p99/p999 (from rd_kafka_producev to the delivery report), the
 * same figures `sluice perf produce` prints, so perf/kafka_bench.sh can put
 * them side by side.
 * consume: assigns every partition of T from the beginning (no group: the
 * fetch path alone) and reads N messages, or to the end of every partition
 * when --count is 0; the clock runs from the assignment to the last
 * message.  Prints msgs/s and MB/s.
 *
 * Both print the command, the commit and the machine first; --json adds the
 * summary as one JSON object on the last line (keys as `sluice perf
 * --json`).  A run never exceeds --timeout seconds (default 300): it stops
 * and reports what it did, with exit code 1.  Exit 1 as well when a
 * message failed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "bench_util.h"
#include "tools/sluice/lat_hist.h"

struct opts {
	int produce;
	const char *brokers, *topic, *acks, *compression;
	uint64_t count;
	uint32_t size;
	int linger_ms, batch_kib, idempotent, max_in_flight, timeout_s, json;
};

struct run {
	struct lat_hist lat;
	uint64_t delivered, failed, bytes;
	rd_kafka_resp_err_t first_err;
	uint64_t last_dr_ns;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: sluice-kafka-bench produce -b HOST:PORT --topic T [--count N] [--size S]\n"
		"           [--acks 0|1|all] [--linger-ms MS] [--batch-kib KIB]\n"
		"           [--compression none|gzip|snappy|lz4|zstd] [--idempotent]\n"
		"           [--max-in-flight N] [--timeout S] [--json]\n"
		"       sluice-kafka-bench consume -b HOST:PORT --topic T [--count N]\n"
		"           [--timeout S] [--json]\n");
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
	char err[256];
	if (rd_kafka_conf_set(c, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "sluice-kafka-bench: %s=%s: %s\n", k, v, err);
		exit(2);
	}
}

static void setn(rd_kafka_conf_t *c, const char *k, long long v)
{
	char s[32];
	snprintf(s, sizeof(s), "%lld", v);
	set(c, k, s);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *arg)
{
	struct run *r = arg;
	uint64_t now = bench_now_ns();
	if (m->err) {
		if (!r->failed++)
			r->first_err = m->err;
	} else {
		r->delivered++;
		r->bytes += m->len;
	}
	lat_hist_add(&r->lat, (now - (uint64_t)(uintptr_t)m->_private) / 1000u);
	r->last_dr_ns = now;
}

static void print_summary(const struct opts *o, const struct run *r,
			  double secs, uint64_t n)
{
	double mps = secs > 0 ? (double)n / secs : 0;
	double mbps = secs > 0 ? (double)r->bytes / secs / 1e6 : 0;
	uint64_t p50 = lat_hist_pct(&r->lat, 0.50), p99 = lat_hist_pct(&r->lat, 0.99),
		 p999 = lat_hist_pct(&r->lat, 0.999);
	printf("%s %s: %" PRIu64 " messages in %.2f s: %.0f msgs/s, %.2f MB/s\n",
	       o->produce ? "produced" : "consumed", o->topic, n, secs, mps, mbps);
	if (o->produce)
		printf("delivery latency: p50 %" PRIu64 " us, p99 %" PRIu64
		       " us, p999 %" PRIu64 " us\n", p50, p99, p999);
	if (r->failed)
		printf("%" PRIu64 " message(s) failed, the first with %s\n",
		       r->failed, rd_kafka_err2name(r->first_err));
	if (o->json)
		printf("{\"mode\":\"%s\",\"protocol\":\"kafka\",\"topic\":\"%s\","
		       "\"messages\":%" PRIu64 ",\"errors\":%" PRIu64 ","
		       "\"seconds\":%.3f,\"msgs_per_s\":%.0f,\"mb_per_s\":%.2f,"
		       "\"p50_us\":%" PRIu64 ",\"p99_us\":%" PRIu64 ","
		       "\"p999_us\":%" PRIu64 ",\"size\":%u,\"acks\":\"%s\","
		       "\"linger_ms\":%d,\"batch_kib\":%d,\"compression\":\"%s\","
		       "\"idempotent\":%d,\"max_in_flight\":%d}\n",
		       o->produce ? "produce" : "consume", o->topic, n, r->failed,
		       secs, mps, mbps, o->produce ? p50 : 0, o->produce ? p99 : 0,
		       o->produce ? p999 : 0, o->size, o->acks, o->linger_ms,
		       o->batch_kib, o->compression, o->idempotent, o->max_in_flight);
}


/* Create the client (it takes c) and learn o->topic from the broker.
 * Returns the topic's partition count, or -1 with the error printed. */
static int client_open(rd_kafka_type_t type, rd_kafka_conf_t *c,
		       const struct opts *o, rd_kafka_t **rkp,
		       rd_kafka_topic_t **tp)
{
	char err[512];
	rd_kafka_t *rk = rd_kafka_new(type, c, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "sluice-kafka-bench: %s\n", err);
		return -1;
	}
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, o->topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, 10000);
	if (e || md->topic_cnt != 1 || md->topics[0].err) {
		fprintf(stderr, "sluice-kafka-bench: metadata of '%s' from %s: %s\n",
			o->topic, o->brokers,
			rd_kafka_err2str(e ? e : md->topic_cnt ? md->topics[0].err :
				RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
		if (md)
			rd_kafka_metadata_destroy(md);
		rd_kafka_topic_destroy(t);
		rd_kafka_destroy(rk);
		return -1;
	}
	int partitions = md->topics[0].partition_cnt;
	rd_kafka_metadata_destroy(md);
	*rkp = rk;
	*tp = t;
	return partitions;
}

static int run_produce(const struct opts *o)
{
	struct run r;
	memset(&r, 0, sizeof(r));
	r.lat.b = calloc(LAT_HIST_BUCKETS, sizeof(*r.lat.b));
	char *payload = malloc(o->size ? o->size : 1);
	if (!r.lat.b || !payload) {
		fprintf(stderr, "sluice-kafka-bench: out of memory\n");
		return 1;
	}
	for (uint32_t i = 0; i < o->size; i++)
		payload[i] = (char)('a' + i % 26);

	rd_kafka_conf_t *c = rd_kafka_conf_new();
	set(c, "bootstrap.servers", o->brokers);
	set(c, "client.id", "sluice-kafka-bench");
	set(c, "acks", o->acks);
	setn(c, "linger.ms", o->linger_ms);
	setn(c, "batch.size", (long long)o->batch_kib * 1024);
	set(c, "compression.type", o->compression);
	set(c, "enable.idempotence", o->idempotent ? "true" : "false");
	setn(c, "max.in.flight.requests.per.connection", o->max_in_flight);
	setn(c, "queue.buffering.max.kbytes", 1048576);
	setn(c, "queue.buffering.max.messages", 10000000);
	/* a batch may be as large as batch.size asks for */
	setn(c, "message.max.bytes", (long long)o->batch_kib * 1024 + 65536 >
		 1000000 ? (long long)o->batch_kib * 1024 + 65536 : 1000000);
	rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
	rd_kafka_conf_set_opaque(c, &r);
	rd_kafka_t *rk;
	rd_kafka_topic_t *t;
	/* connect and learn the topic before the clock starts */
	int partitions = client_open(RD_KAFKA_PRODUCER, c, o, &rk, &t);
	if (partitions < 0)
		return 1;
	fprintf(stderr, "producing %" PRIu64 " x %u B to %s (%d partitions), acks=%s, "
		"linger.ms=%d, batch.size=%d KiB, %d in flight, compression %s%s\n",
		o->count, o->size, o->topic, partitions, o->acks, o->linger_ms,
		o->batch_kib, o->max_in_flight, o->compression,
		o->idempotent ? ", idempotent" : "");

	uint64_t t0 = bench_now_ns();
	uint64_t deadline = t0 + (uint64_t)o->timeout_s * 1000000000u;
	uint64_t sent = 0;
	int timed_out = 0;
	while (sent < o->count) {
		if ((sent & 1023) == 0 && bench_now_ns() > deadline) {
			timed_out = 1;
			break;
		}
		uint64_t now = bench_now_ns();
		if (rd_kafka_produce(t, RD_KAFKA_PARTITION_UA, 0, payload, o->size,
				     NULL, 0, (void *)(uintptr_t)now) == -1) {
			rd_kafka_resp_err_t pe = rd_kafka_last_error();
			if (pe == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
				rd_kafka_poll(rk, 1);
				continue;
			}
			fprintf(stderr, "sluice-kafka-bench: produce: %s\n",
				rd_kafka_err2str(pe));
			break;
		}
		sent++;
		if ((sent & 255) == 0)
			rd_kafka_poll(rk, 0);
	}
	while (r.delivered + r.failed < sent && bench_now_ns() < deadline)
		rd_kafka_poll(rk, 50);
	if (r.delivered + r.failed < sent)
		timed_out = 1;
	uint64_t t1 = r.last_dr_ns ? r.last_dr_ns : bench_now_ns();
	rd_kafka_flush(rk, 1000);
	if (timed_out)
		fprintf(stderr, "sluice-kafka-bench: stopped after %d s: %" PRIu64
			" sent, %" PRIu64 " delivered\n", o->timeout_s, sent,
			r.delivered);
	print_summary(o, &r, (double)(t1 - t0) / 1e9, r.delivered);
	rd_kafka_topic_destroy(t);
	rd_kafka_destroy(rk);
	free(r.lat.b);
	free(payload);
	return timed_out || r.failed || r.delivered != o->count ? 1 : 0;
}

static int run_consume(const struct opts *o)
{
	struct run r;
	memset(&r, 0, sizeof(r));
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	set(c, "bootstrap.servers", o->brokers);
	set(c, "client.id", "sluice-kafka-bench");
	set(c, "enable.partition.eof", "true");
	/* rd_kafka_consumer_poll() wants a group; it is never joined (assign,
	 * not subscribe) and nothing is committed */
	set(c, "group.id", "sluice-kafka-bench");
	set(c, "enable.auto.commit", "false");
	set(c, "enable.auto.offset.store", "false");
	rd_kafka_t *rk;
	rd_kafka_topic_t *t;
	int partitions = client_open(RD_KAFKA_CONSUMER, c, o, &rk, &t);
	if (partitions < 0)
		return 1;
	rd_kafka_topic_destroy(t);
	rd_kafka_topic_partition_list_t *l =
		rd_kafka_topic_partition_list_new(partitions);
	for (int p = 0; p < partitions; p++)
		rd_kafka_topic_partition_list_add(l, o->topic, p)->offset =
			RD_KAFKA_OFFSET_BEGINNING;
	fprintf(stderr, "consuming %s%" PRIu64 " messages of %s (%d partitions)\n",
		o->count ? "" : "to the end: ", o->count, o->topic, partitions);
	uint64_t t0 = bench_now_ns(), t1 = t0;
	uint64_t deadline = t0 + (uint64_t)o->timeout_s * 1000000000u;
	rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	int eof = 0, timed_out = 0;
	while (o->count ? r.delivered < o->count : eof < partitions) {
		if (bench_now_ns() > deadline) {
			timed_out = 1;
			break;
		}
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			eof++;
		} else if (m->err) {
			if (!r.failed++)
				r.first_err = m->err;
			fprintf(stderr, "sluice-kafka-bench: consume: %s\n",
				rd_kafka_message_errstr(m));
		} else {
			r.delivered++;
			r.bytes += m->len;
			t1 = bench_now_ns();
		}
		rd_kafka_message_destroy(m);
		if (r.failed > 100)
			break;
	}
	if (timed_out)
		fprintf(stderr, "sluice-kafka-bench: stopped after %d s: %" PRIu64
			" consumed\n", o->timeout_s, r.delivered);
	print_summary(o, &r, (double)(t1 - t0) / 1e9, r.delivered);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return timed_out || r.failed || (o->count && r.delivered != o->count);
}

int main(int argc, char **argv)
{
	struct opts o = {
		.topic = NULL, .brokers = NULL, .acks = "all",
		.compression = "none", .count = 1000000, .size = 100,
		.linger_ms = 5, .batch_kib = 1024, .max_in_flight = 5,
		.timeout_s = 300,
	};
	if (argc < 2 || (strcmp(argv[1], "produce") && strcmp(argv[1], "consume"))) {
		usage();
		return 2;
	}
	o.produce = !strcmp(argv[1], "produce");
	static const struct option lo[] = {
		{ "brokers", required_argument, 0, 'b' },
		{ "topic", required_argument, 0, 't' },
		{ "count", required_argument, 0, 'n' },
		{ "size", required_argument, 0, 's' },
		{ "acks", required_argument, 0, 'a' },
		{ "linger-ms", required_argument, 0, 'l' },
		{ "batch-kib", required_argument, 0, 'k' },
		{ "compression", required_argument, 0, 'z' },
		{ "idempotent", no_argument, 0, 'i' },
		{ "max-in-flight", required_argument, 0, 'f' },
		{ "timeout", required_argument, 0, 'T' },
		{ "json", no_argument, 0, 'j' },
		{ 0, 0, 0, 0 },
	};
	int ch;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "b:t:n:s:a:", lo, NULL)) != -1) {
		switch (ch) {
		case 'b': o.brokers = optarg; break;
		case 't': o.topic = optarg; break;
		case 'n': o.count = strtoull(optarg, NULL, 10); break;
		case 's': o.size = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'a': o.acks = !strcmp(optarg, "-1") ? "all" : optarg; break;
		case 'l': o.linger_ms = atoi(optarg); break;
		case 'k': o.batch_kib = atoi(optarg); break;
		case 'z': o.compression = optarg; break;
		case 'i': o.idempotent = 1; break;
		case 'f': o.max_in_flight = atoi(optarg); break;
		case 'T': o.timeout_s = atoi(optarg); break;
		case 'j': o.json = 1; break;
		default: usage(); return 2;
		}
	}
	if (!o.brokers || !o.topic || optind != argc || o.timeout_s <= 0 ||
	    (strcmp(o.acks, "0") && strcmp(o.acks, "1") && strcmp(o.acks, "all")) ||
	    o.size > 1000000 || o.linger_ms < 0 || o.batch_kib <= 0 ||
	    o.max_in_flight <= 0 || (o.idempotent && o.max_in_flight > 5) ||
	    (o.produce && o.count == 0)) {
		usage();
		return 2;
	}
	struct bench_env env;
	bench_env_init(&env, argc, argv);
	printf("command: %s\ncommit: %s\nmachine: %s; %s\nlibrdkafka: %s\ndate: %s\n",
	       env.command, env.commit, env.uname, env.cpu,
	       rd_kafka_version_str(), env.date);
	fflush(stdout);
	return o.produce ? run_produce(&o) : run_consume(&o);
}
