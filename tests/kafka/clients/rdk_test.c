/*
 * librdkafka against the broker's Kafka listener, on a fresh broker of its
 * own (kbroker.h: sluiced and sluice-control on free loopback ports, temp
 * data dir).  Four parts, each checking content, count and order:
 *
 *  1. idempotent: topics created through Kafka CreateTopics; a producer
 *     with enable.idempotence=true and acks=all sends 3,000 keyed
 *     messages over 3 partitions; every delivery report is a success, the
 *     offsets of a partition are 0..n-1 in produce order, and reading each
 *     partition back from the beginning gives exactly those messages.
 *  2. group: 3,000 messages over 6 partitions consumed by a group whose
 *     members (threads, each its own rd_kafka_t) join and leave while it
 *     consumes: two start, a third joins at a quarter, the first leaves at
 *     half, a new one joins at three quarters.  Each message is committed
 *     synchronously once processed.  Every message is consumed exactly
 *     once in all, each partition in offset order with no gap, and the
 *     group's committed offsets end at the partitions' ends.
 *  3. resume: 600 more messages; one member consumes 200 and commits;
 *     the broker (both processes) is stopped and started again on the same
 *     data; the committed offsets read back are the same, and a new member
 *     of the group starts exactly there and gets the other 400, once each.
 *
 *  4. delete: rd_kafka_DeleteGroups of the group (now without members),
 *     of a group that has a member and of one that never existed: the
 *     first is deleted, the others answered NON_EMPTY_GROUP and
 *     GROUP_ID_NOT_FOUND; the deleted group's committed offsets are gone,
 *     and still gone after a broker restart.
 *
 * RDK_DEBUG=protocol,cgrp (any librdkafka debug contexts) turns on the
 * client's debug log.  Every wait has a deadline; exit 0 when all holds,
 * 1 with what did not.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "kbroker.h"

#define IDEM_TOPIC "rdk-idem"
#define IDEM_PARTITIONS 3
#define IDEM_COUNT 3000
#define GROUP_TOPIC "rdk-group"
#define GROUP_PARTITIONS 6
#define GROUP_COUNT 3000
#define GROUP_ID "rdk-group"
#define RESUME_COUNT 600
#define RESUME_FIRST 200
#define MEMBERS_MAX 4
#define PARTITIONS_MAX 8
#define MESSAGES_MAX (GROUP_COUNT + RESUME_COUNT)

static struct kb broker;
static int failures;

#define FAILF(...)                                                         \
	do {                                                               \
		fprintf(stderr, "FAIL: " __VA_ARGS__);                     \
		fputc('\n', stderr);                                       \
		failures++;                                                \
	} while (0)

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* Message seq: key "k-(seq % 61)", value "v-<seq, 5 digits>-rdk".  61
 * keys put messages in every one of 6 partitions (murmur2). */
static int msg_key(char *buf, size_t cap, int seq)
{
	return snprintf(buf, cap, "k-%d", seq % 61);
}

static int msg_value(char *buf, size_t cap, int seq)
{
	return snprintf(buf, cap, "v-%05d-rdk", seq);
}

/* The sequence number a consumed message carries, or -1 when its key or
 * value is not what message seq was produced with. */
static int msg_seq(const rd_kafka_message_t *m)
{
	char v[64], k[32];
	if (!m->payload || m->len < 8 || m->len >= sizeof(v))
		return -1;
	memcpy(v, m->payload, m->len);
	v[m->len] = 0;
	int seq = atoi(v + 2);
	char want[64];
	msg_value(want, sizeof(want), seq);
	if (strcmp(v, want))
		return -1;
	int kl = msg_key(k, sizeof(k), seq);
	if (!m->key || m->key_len != (size_t)kl || memcmp(m->key, k, (size_t)kl))
		return -1;
	return seq;
}

static rd_kafka_conf_t *conf_new(const char *client_id)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	char err[256];
	const char *debug = getenv("RDK_DEBUG");
	if (rd_kafka_conf_set(c, "bootstrap.servers", broker.kafka_addr, err,
			      sizeof(err)) ||
	    rd_kafka_conf_set(c, "client.id", client_id, err, sizeof(err)) ||
	    (debug && *debug &&
	     rd_kafka_conf_set(c, "debug", debug, err, sizeof(err)))) {
		fprintf(stderr, "conf: %s\n", err);
		abort();
	}
	return c;
}

static void conf_set(rd_kafka_conf_t *c, const char *k, const char *v)
{
	char err[256];
	if (rd_kafka_conf_set(c, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "conf %s=%s: %s\n", k, v, err);
		abort();
	}
}

/* ---- topics through CreateTopics ------------------------------------ */

static int create_topic(rd_kafka_t *rk, const char *name, int partitions)
{
	char err[256];
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(name, partitions, 1, err,
							sizeof(err));
	if (!nt) {
		FAILF("NewTopic %s: %s", name, err);
		return -1;
	}
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *o =
		rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_AdminOptions_set_operation_timeout(o, 10000, err, sizeof(err));
	rd_kafka_CreateTopics(rk, &nt, 1, o, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
	int rc = -1;
	if (!ev) {
		FAILF("CreateTopics %s: no answer within 15 s", name);
	} else if (rd_kafka_event_error(ev)) {
		FAILF("CreateTopics %s: %s", name, rd_kafka_event_error_string(ev));
	} else {
		size_t n = 0;
		const rd_kafka_topic_result_t **r = rd_kafka_CreateTopics_result_topics(
			rd_kafka_event_CreateTopics_result(ev), &n);
		if (n != 1 || strcmp(rd_kafka_topic_result_name(r[0]), name))
			FAILF("CreateTopics %s: %zu results", name, n);
		else if (rd_kafka_topic_result_error(r[0]))
			FAILF("CreateTopics %s: %s: %s", name,
			      rd_kafka_err2name(rd_kafka_topic_result_error(r[0])),
			      rd_kafka_topic_result_error_string(r[0]) ?
				      rd_kafka_topic_result_error_string(r[0]) : "");
		else
			rc = 0;
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	rd_kafka_NewTopic_destroy(nt);
	if (rc)
		return rc;
	/* Metadata shows it with every partition led by node 1 (bounded). */
	for (int64_t end = now_ms() + 10000; now_ms() < end; sleep_ms(100)) {
		rd_kafka_topic_t *t = rd_kafka_topic_new(rk, name, NULL);
		const struct rd_kafka_metadata *md = NULL;
		rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, 5000);
		rd_kafka_topic_destroy(t);
		int ok = 0;
		if (!e && md->topic_cnt == 1 && !md->topics[0].err &&
		    md->topics[0].partition_cnt == partitions) {
			ok = 1;
			for (int i = 0; i < partitions; i++)
				if (md->topics[0].partitions[i].leader != 1 ||
				    md->topics[0].partitions[i].id != i)
					ok = 0;
		}
		if (md)
			rd_kafka_metadata_destroy(md);
		if (ok)
			return 0;
	}
	FAILF("Metadata: topic %s does not show %d partitions led by node 1 "
	      "within 10 s of CreateTopics", name, partitions);
	return -1;
}

/* ---- producing ------------------------------------------------------ */

/* What the test knows of every produced message: seq_at[p][o]. */
static int seq_at[PARTITIONS_MAX][MESSAGES_MAX];
static int64_t produced_end[PARTITIONS_MAX]; /* next offset per partition */

struct dr_state {
	int ok, failed;
	rd_kafka_resp_err_t first_err;
	int first;                     /* seq of the first message of this run */
	int32_t part[MESSAGES_MAX];    /* by seq - first */
	int64_t off[MESSAGES_MAX];
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *arg)
{
	struct dr_state *s = arg;
	int i = (int)(intptr_t)m->_private - s->first;
	if (i < 0 || i >= MESSAGES_MAX) {
		s->failed++;
		return;
	}
	if (m->err) {
		if (!s->failed++)
			s->first_err = m->err;
		s->part[i] = -1;
		return;
	}
	s->ok++;
	s->part[i] = m->partition;
	s->off[i] = m->offset;
}

/* Produce seq first..first+n-1 with an idempotent acks=all producer and
 * check every delivery report: success, and per partition the offsets
 * continue produced_end[] in produce order.  Fills seq_at[][]. */
static int produce_range(const char *topic, int first, int n, int partitions)
{
	static struct dr_state s;
	memset(&s, 0, sizeof(s));
	s.first = first;
	rd_kafka_conf_t *c = conf_new("rdk-test-producer");
	conf_set(c, "enable.idempotence", "true");
	conf_set(c, "acks", "all");
	conf_set(c, "linger.ms", "5");
	conf_set(c, "partitioner", "murmur2_random");
	rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
	rd_kafka_conf_set_opaque(c, &s);
	char err[256];
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
	if (!rk) {
		FAILF("producer: %s", err);
		return -1;
	}
	int64_t deadline = now_ms() + 30000;
	for (int i = 0; i < n && now_ms() < deadline; i++) {
		char k[32], v[64];
		int kl = msg_key(k, sizeof(k), first + i);
		int vl = msg_value(v, sizeof(v), first + i);
		rd_kafka_resp_err_t e;
		while ((e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
					      RD_KAFKA_V_KEY(k, (size_t)kl),
					      RD_KAFKA_V_VALUE(v, (size_t)vl),
					      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
					      RD_KAFKA_V_OPAQUE((void *)(intptr_t)(first + i)),
					      RD_KAFKA_V_END)) ==
			       RD_KAFKA_RESP_ERR__QUEUE_FULL &&
		       now_ms() < deadline)
			rd_kafka_poll(rk, 10);
		if (e) {
			FAILF("produce seq %d: %s", first + i, rd_kafka_err2str(e));
			break;
		}
		rd_kafka_poll(rk, 0);
	}
	rd_kafka_resp_err_t fe = rd_kafka_flush(rk, 30000);
	char fatal[256] = "";
	rd_kafka_resp_err_t fatal_err = rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
	rd_kafka_destroy(rk);
	if (fe)
		FAILF("flush: %s (%d of %d delivered)", rd_kafka_err2str(fe), s.ok, n);
	if (fatal_err)
		FAILF("idempotent producer fatal error: %s: %s",
		      rd_kafka_err2name(fatal_err), fatal);
	if (s.failed)
		FAILF("%d of %d delivery reports failed, the first with %s: %s",
		      s.failed, n, rd_kafka_err2name(s.first_err),
		      rd_kafka_err2str(s.first_err));
	if (s.ok != n) {
		FAILF("%d of %d messages delivered", s.ok, n);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int32_t p = s.part[i];
		if (p < 0 || p >= partitions) {
			FAILF("message %d: delivered to partition %d of %d", first + i,
			      p, partitions);
			return -1;
		}
		if (s.off[i] != produced_end[p]) {
			FAILF("message %d: partition %d offset %" PRId64 ", expected %"
			      PRId64 " (offsets in produce order, no gap)",
			      first + i, p, s.off[i], produced_end[p]);
			return -1;
		}
		seq_at[p][produced_end[p]++] = first + i;
	}
	printf("ok: %d messages delivered, idempotent, acks=all; ends:", n);
	for (int p = 0; p < partitions; p++)
		printf(" p%d=%" PRId64, p, produced_end[p]);
	printf("\n");
	return 0;
}

/* ---- part 1: idempotent producer, read back ------------------------- */

static void part_idempotent(void)
{
	printf("== part 1: idempotent producer, acks=all, %d messages over %d "
	       "partitions\n", IDEM_COUNT, IDEM_PARTITIONS);
	memset(produced_end, 0, sizeof(produced_end));
	if (produce_range(IDEM_TOPIC, 0, IDEM_COUNT, IDEM_PARTITIONS))
		return;
	/* Read every partition from the beginning, no group. */
	rd_kafka_conf_t *c = conf_new("rdk-test-reader");
	conf_set(c, "enable.partition.eof", "true");
	conf_set(c, "enable.auto.commit", "false");
	conf_set(c, "group.id", "rdk-reader-unused");
	char err[256];
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
	if (!rk) {
		FAILF("consumer: %s", err);
		return;
	}
	rd_kafka_topic_partition_list_t *l =
		rd_kafka_topic_partition_list_new(IDEM_PARTITIONS);
	for (int p = 0; p < IDEM_PARTITIONS; p++)
		rd_kafka_topic_partition_list_add(l, IDEM_TOPIC, p)->offset =
			RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	int64_t next[IDEM_PARTITIONS] = { 0 };
	int eof[IDEM_PARTITIONS] = { 0 }, neof = 0, got = 0, bad = 0;
	int64_t deadline = now_ms() + 30000;
	while (neof < IDEM_PARTITIONS && now_ms() < deadline && bad < 10) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
		if (!m)
			continue;
		int p = m->partition;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			if (p >= 0 && p < IDEM_PARTITIONS && !eof[p] &&
			    next[p] == produced_end[p]) {
				eof[p] = 1;
				neof++;
			}
		} else if (m->err) {
			FAILF("read back: %s", rd_kafka_message_errstr(m));
			bad++;
		} else if (p < 0 || p >= IDEM_PARTITIONS || m->offset != next[p]) {
			FAILF("read back: partition %d offset %" PRId64 ", expected %"
			      PRId64, p, m->offset, p >= 0 && p < IDEM_PARTITIONS ?
			      next[p] : -1);
			bad++;
		} else if (msg_seq(m) != seq_at[p][m->offset]) {
			FAILF("read back: partition %d offset %" PRId64 " holds '%.*s', "
			      "expected message %d", p, m->offset, (int)m->len,
			      (const char *)m->payload, seq_at[p][m->offset]);
			bad++;
		} else {
			next[p]++;
			got++;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	if (neof < IDEM_PARTITIONS || got != IDEM_COUNT)
		FAILF("read back %d of %d messages; partitions at their end: %d of %d",
		      got, IDEM_COUNT, neof, IDEM_PARTITIONS);
	else if (!bad)
		printf("ok: read back %d messages, each where its delivery report "
		       "said, in order\n", got);
}

/* ---- part 2: a group whose members come and go ---------------------- */

struct group_state {
	pthread_mutex_t lock;
	int64_t next[PARTITIONS_MAX]; /* next offset the group must consume */
	int64_t end[PARTITIONS_MAX];  /* where consuming stops */
	int consumed, target, errors;
	int assignments;              /* assignment events, all members */
	unsigned members_of[PARTITIONS_MAX]; /* bit id: consumed from p */
};
static struct group_state gs = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct member {
	pthread_t thread;
	int id, running, consumed, commits;
	atomic_int stop;
};

static void group_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void group_error(const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&gs.lock);
	if (gs.errors++ < 20) {
		fprintf(stderr, "FAIL: ");
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	pthread_mutex_unlock(&gs.lock);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct member *m = opaque;
	char list[256] = "";
	size_t n = 0;
	for (int i = 0; i < parts->cnt && n < sizeof(list) - 8; i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%d",
				      i ? "," : "", parts->elems[i].partition);
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		printf("  member %d: assigned [%s]\n", m->id, list);
		pthread_mutex_lock(&gs.lock);
		gs.assignments++;
		pthread_mutex_unlock(&gs.lock);
		rd_kafka_assign(rk, parts);
	} else {
		printf("  member %d: revoked [%s]\n", m->id, list);
		rd_kafka_assign(rk, NULL);
	}
	fflush(stdout);
}

static rd_kafka_t *group_consumer(struct member *m)
{
	char id[32];
	snprintf(id, sizeof(id), "rdk-member-%d", m->id);
	rd_kafka_conf_t *c = conf_new(id);
	conf_set(c, "group.id", GROUP_ID);
	conf_set(c, "enable.auto.commit", "false");
	conf_set(c, "auto.offset.reset", "earliest");
	conf_set(c, "session.timeout.ms", "10000");
	conf_set(c, "heartbeat.interval.ms", "500");
	conf_set(c, "partition.assignment.strategy", "range");
	rd_kafka_conf_set_rebalance_cb(c, on_rebalance);
	rd_kafka_conf_set_opaque(c, m);
	char err[256];
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
	if (!rk) {
		group_error("member %d: %s", m->id, err);
		return NULL;
	}
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, GROUP_TOPIC, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (e) {
		group_error("member %d: subscribe: %s", m->id, rd_kafka_err2str(e));
		rd_kafka_destroy(rk);
		return NULL;
	}
	return rk;
}

/* Process one message: it must be the next of its partition and be the
 * message produced there; then commit it synchronously. */
static void group_process(struct member *m, rd_kafka_t *rk,
			  const rd_kafka_message_t *msg)
{
	int p = msg->partition, ok = 0;
	pthread_mutex_lock(&gs.lock);
	if (p < 0 || p >= GROUP_PARTITIONS) {
		pthread_mutex_unlock(&gs.lock);
		group_error("member %d: partition %d", m->id, p);
		return;
	}
	int64_t want = gs.next[p];
	int seq = msg_seq(msg);
	if (msg->offset == want && msg->offset < gs.end[p] &&
	    seq == seq_at[p][msg->offset]) {
		gs.next[p]++;
		gs.consumed++;
		gs.members_of[p] |= 1u << m->id;
		ok = 1;
	}
	pthread_mutex_unlock(&gs.lock);
	if (!ok) {
		group_error("member %d: partition %d offset %" PRId64 " ('%.*s'): "
			    "expected offset %" PRId64 " (%s)", m->id, p, msg->offset,
			    (int)msg->len, (const char *)msg->payload, want,
			    msg->offset < want ? "consumed twice" :
			    msg->offset > want ? "gap" : "wrong content");
		return;
	}
	m->consumed++;
	rd_kafka_resp_err_t e = rd_kafka_commit_message(rk, msg, 0);
	if (e)
		group_error("member %d: synchronous commit of partition %d offset %"
			    PRId64 ": %s", m->id, p, msg->offset + 1,
			    rd_kafka_err2name(e));
	else
		m->commits++;
}

static void *member_main(void *arg)
{
	struct member *m = arg;
	rd_kafka_t *rk = group_consumer(m);
	if (!rk)
		return NULL;
	int64_t deadline = now_ms() + 90000;
	while (!atomic_load(&m->stop) && now_ms() < deadline) {
		rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
		if (!msg)
			continue;
		if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			;
		else if (msg->err)
			group_error("member %d: %s", m->id, rd_kafka_message_errstr(msg));
		else
			group_process(m, rk, msg);
		rd_kafka_message_destroy(msg);
		usleep(500); /* slow enough for the group to change under it */
	}
	rd_kafka_resp_err_t e = rd_kafka_consumer_close(rk);
	if (e)
		group_error("member %d: close: %s", m->id, rd_kafka_err2str(e));
	rd_kafka_destroy(rk);
	return NULL;
}

static int group_consumed(void)
{
	pthread_mutex_lock(&gs.lock);
	int n = gs.consumed;
	pthread_mutex_unlock(&gs.lock);
	return n;
}

static void member_start(struct member *m, int id)
{
	memset(m, 0, sizeof(*m));
	m->id = id;
	atomic_store(&m->stop, 0);
	printf("  member %d joins (consumed so far: %d)\n", id, group_consumed());
	fflush(stdout);
	if (pthread_create(&m->thread, NULL, member_main, m) == 0)
		m->running = 1;
	else
		group_error("member %d: pthread_create", id);
}

static void member_stop(struct member *m)
{
	if (!m->running)
		return;
	atomic_store(&m->stop, 1);
	pthread_join(m->thread, NULL);
	m->running = 0;
	printf("  member %d left after %d messages, %d synchronous commits\n",
	       m->id, m->consumed, m->commits);
	fflush(stdout);
}

/* Wait until the group consumed at least n in all (or errors, or the
 * deadline); 0 when it did. */
static int group_wait(int n, int64_t deadline)
{
	while (now_ms() < deadline) {
		if (group_consumed() >= n)
			return 0;
		if (gs.errors)
			return -1;
		sleep_ms(20);
	}
	return -ETIMEDOUT;
}

/* The group's committed offsets, read by a fresh member-to-be. */
static int committed_offsets(int64_t *out, int partitions)
{
	rd_kafka_conf_t *c = conf_new("rdk-committed");
	conf_set(c, "group.id", GROUP_ID);
	conf_set(c, "enable.auto.commit", "false");
	char err[256];
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
	if (!rk) {
		FAILF("consumer: %s", err);
		return -1;
	}
	rd_kafka_topic_partition_list_t *l =
		rd_kafka_topic_partition_list_new(partitions);
	for (int p = 0; p < partitions; p++)
		rd_kafka_topic_partition_list_add(l, GROUP_TOPIC, p);
	rd_kafka_resp_err_t e = rd_kafka_committed(rk, l, 15000);
	int rc = 0;
	if (e) {
		FAILF("OffsetFetch (rd_kafka_committed): %s", rd_kafka_err2name(e));
		rc = -1;
	}
	for (int i = 0; !rc && i < l->cnt; i++) {
		if (l->elems[i].err) {
			FAILF("OffsetFetch partition %d: %s", l->elems[i].partition,
			      rd_kafka_err2name(l->elems[i].err));
			rc = -1;
		}
		out[l->elems[i].partition] = l->elems[i].offset;
	}
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return rc;
}

static void group_report(void)
{
	fprintf(stderr, "  group: consumed %d of %d; per partition next/end:",
		gs.consumed, gs.target);
	for (int p = 0; p < GROUP_PARTITIONS; p++)
		fprintf(stderr, " p%d=%" PRId64 "/%" PRId64, p, gs.next[p], gs.end[p]);
	fprintf(stderr, "\n");
}

static void part_group(void)
{
	printf("== part 2: a group of 3 members over %d partitions, members "
	       "joining and leaving, %d messages\n", GROUP_PARTITIONS, GROUP_COUNT);
	memset(produced_end, 0, sizeof(produced_end));
	if (produce_range(GROUP_TOPIC, 0, GROUP_COUNT, GROUP_PARTITIONS))
		return;
	for (int p = 0; p < GROUP_PARTITIONS; p++) {
		gs.next[p] = 0;
		gs.end[p] = produced_end[p];
	}
	gs.target = GROUP_COUNT;
	struct member ms[MEMBERS_MAX];
	memset(ms, 0, sizeof(ms));
	int64_t deadline = now_ms() + 75000;
	member_start(&ms[0], 1);
	member_start(&ms[1], 2);
	int rc = group_wait(GROUP_COUNT / 4, deadline);
	if (!rc) {
		member_start(&ms[2], 3);
		rc = group_wait(GROUP_COUNT / 2, deadline);
	}
	if (!rc) {
		printf("  member 1 leaves (consumed so far: %d)\n", group_consumed());
		member_stop(&ms[0]);
		rc = group_wait(3 * GROUP_COUNT / 4, deadline);
	}
	if (!rc) {
		member_start(&ms[3], 4);
		rc = group_wait(GROUP_COUNT, deadline);
	}
	for (int i = 0; i < MEMBERS_MAX; i++)
		member_stop(&ms[i]);
	int sum = 0;
	for (int i = 0; i < MEMBERS_MAX; i++)
		sum += ms[i].consumed;
	if (rc || gs.errors || gs.consumed != GROUP_COUNT || sum != GROUP_COUNT) {
		FAILF("group: %s; %d errors", rc == -ETIMEDOUT ? "timed out (75 s)" :
		      rc ? "stopped on an error" : "finished", gs.errors);
		group_report();
		return;
	}
	for (int p = 0; p < GROUP_PARTITIONS; p++)
		if (gs.next[p] != gs.end[p])
			FAILF("group: partition %d consumed up to %" PRId64 " of %" PRId64,
			      p, gs.next[p], gs.end[p]);
	if (gs.assignments < 5)
		FAILF("group: %d assignments in all; 4 membership changes should "
		      "make at least 5", gs.assignments);
	int handed = 0;
	for (int p = 0; p < GROUP_PARTITIONS; p++)
		handed += __builtin_popcount(gs.members_of[p]) > 1;
	if (handed < 1)
		FAILF("group: no partition went from one member to another in the "
		      "middle of its messages: the rebalances handed over nothing");
	int64_t committed[PARTITIONS_MAX];
	if (committed_offsets(committed, GROUP_PARTITIONS) == 0)
		for (int p = 0; p < GROUP_PARTITIONS; p++)
			if (committed[p] != gs.end[p] &&
			    !(gs.end[p] == 0 && committed[p] == RD_KAFKA_OFFSET_INVALID))
				FAILF("group: partition %d committed at %" PRId64 ", "
				      "consumed to %" PRId64, p, committed[p], gs.end[p]);
	if (!failures)
		printf("ok: %d messages consumed exactly once by 4 members in turn "
		       "(%d assignments, %d partitions handed over midway), in "
		       "offset order per partition, committed at the ends\n",
		       GROUP_COUNT, gs.assignments, handed);
}

/* ---- part 3: committed offsets survive a broker restart ------------- */

/* One member consumes until the group's consumed count reaches target
 * (or the deadline), committing each message synchronously. */
static int consume_until(int id, int target, int64_t deadline)
{
	struct member m;
	memset(&m, 0, sizeof(m));
	m.id = id;
	rd_kafka_t *rk = group_consumer(&m);
	if (!rk)
		return -1;
	while (group_consumed() < target && !gs.errors && now_ms() < deadline) {
		rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
		if (!msg)
			continue;
		if (msg->err && msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			group_error("member %d: %s", id, rd_kafka_message_errstr(msg));
		else if (!msg->err)
			group_process(&m, rk, msg);
		rd_kafka_message_destroy(msg);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	printf("  member %d consumed %d messages, %d synchronous commits\n", id,
	       m.consumed, m.commits);
	return group_consumed() == target && !gs.errors ? 0 : -1;
}

static void part_resume(void)
{
	printf("== part 3: %d more messages; %d consumed and committed; the "
	       "broker restarts; a new member resumes at the committed offsets\n",
	       RESUME_COUNT, RESUME_FIRST);
	if (produce_range(GROUP_TOPIC, GROUP_COUNT, RESUME_COUNT, GROUP_PARTITIONS))
		return;
	int64_t start[PARTITIONS_MAX];
	for (int p = 0; p < GROUP_PARTITIONS; p++) {
		start[p] = gs.next[p];
		gs.end[p] = produced_end[p];
	}
	gs.consumed = 0;
	gs.target = RESUME_COUNT;
	if (consume_until(5, RESUME_FIRST, now_ms() + 30000)) {
		FAILF("resume: the first %d of the new messages were not consumed",
		      RESUME_FIRST);
		group_report();
		return;
	}
	int64_t before[PARTITIONS_MAX], after[PARTITIONS_MAX];
	if (committed_offsets(before, GROUP_PARTITIONS))
		return;
	for (int p = 0; p < GROUP_PARTITIONS; p++)
		if (before[p] != gs.next[p] &&
		    !(gs.next[p] == 0 && before[p] == RD_KAFKA_OFFSET_INVALID)) {
			FAILF("resume: partition %d committed at %" PRId64 ", consumed to %"
			      PRId64, p, before[p], gs.next[p]);
			return;
		}
	printf("  committed before the restart:");
	for (int p = 0; p < GROUP_PARTITIONS; p++)
		printf(" p%d=%" PRId64 " (from %" PRId64 ")", p, before[p], start[p]);
	printf("\n  restarting the broker (sluiced and sluice-control)\n");
	fflush(stdout);
	if (kb_stop(&broker))
		FAILF("resume: a broker process failed when stopped for the "
		      "restart (above)");
	if (kb_start(&broker, 20000)) {
		FAILF("resume: the broker did not come back on %s", broker.kafka_addr);
		return;
	}
	if (committed_offsets(after, GROUP_PARTITIONS))
		return;
	for (int p = 0; p < GROUP_PARTITIONS; p++)
		if (after[p] != before[p])
			FAILF("resume: partition %d committed at %" PRId64 " before the "
			      "restart, %" PRId64 " after", p, before[p], after[p]);
	if (failures)
		return;
	/* group_process() requires each partition to continue at next[],
	 * which is the committed offset: a restart at any other offset is
	 * reported as a gap or as a message consumed twice. */
	if (consume_until(6, RESUME_COUNT, now_ms() + 40000)) {
		FAILF("resume: after the restart the group did not consume the other %d",
		      RESUME_COUNT - RESUME_FIRST);
		group_report();
		return;
	}
	for (int p = 0; p < GROUP_PARTITIONS; p++)
		if (gs.next[p] != gs.end[p])
			FAILF("resume: partition %d consumed to %" PRId64 " of %" PRId64,
			      p, gs.next[p], gs.end[p]);
	if (!failures)
		printf("ok: committed offsets survived the restart; the new member "
		       "started at them and consumed the other %d, once each\n",
		       RESUME_COUNT - RESUME_FIRST);
}

/* ---- part 4: DeleteGroups ------------------------------------------- */

#define BUSY_GROUP "rdk-busy"
#define NOSUCH_GROUP "rdk-nosuch"

/* A consumer of BUSY_GROUP that has its assignment, or NULL. */
static rd_kafka_t *busy_member(void)
{
	rd_kafka_conf_t *c = conf_new("rdk-busy");
	conf_set(c, "group.id", BUSY_GROUP);
	char err[256];
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
	if (!rk) {
		FAILF("consumer: %s", err);
		return NULL;
	}
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, GROUP_TOPIC, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	for (int64_t end = now_ms() + 15000; !e && now_ms() < end;) {
		rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
		if (msg)
			rd_kafka_message_destroy(msg);
		rd_kafka_topic_partition_list_t *a = NULL;
		int n = 0;
		if (!rd_kafka_assignment(rk, &a) && a)
			n = a->cnt;
		if (a)
			rd_kafka_topic_partition_list_destroy(a);
		if (n > 0)
			return rk;
	}
	FAILF("delete: the member of %s got no assignment within 15 s (%s)",
	      BUSY_GROUP, rd_kafka_err2name(e));
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return NULL;
}

/* DeleteGroups of names[0..n); each group's error code to codes. */
static int delete_groups(const char *const *names, int n,
			 rd_kafka_resp_err_t *codes)
{
	rd_kafka_conf_t *c = conf_new("rdk-delete");
	char err[256];
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
	if (!rk) {
		FAILF("admin client: %s", err);
		return -1;
	}
	rd_kafka_DeleteGroup_t *del[4];
	for (int i = 0; i < n; i++)
		del[i] = rd_kafka_DeleteGroup_new(names[i]);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *o =
		rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DELETEGROUPS);
	rd_kafka_AdminOptions_set_request_timeout(o, 10000, err, sizeof(err));
	rd_kafka_DeleteGroups(rk, del, (size_t)n, o, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
	int rc = -1;
	if (!ev) {
		FAILF("DeleteGroups: no answer within 15 s");
	} else if (rd_kafka_event_error(ev)) {
		FAILF("DeleteGroups: %s", rd_kafka_event_error_string(ev));
	} else {
		size_t cnt = 0;
		const rd_kafka_group_result_t **r = rd_kafka_DeleteGroups_result_groups(
			rd_kafka_event_DeleteGroups_result(ev), &cnt);
		rc = cnt == (size_t)n ? 0 : -1;
		if (rc)
			FAILF("DeleteGroups: %zu results for %d groups", cnt, n);
		for (int i = 0; !rc && i < n; i++) {
			codes[i] = RD_KAFKA_RESP_ERR__FAIL;
			for (size_t k = 0; k < cnt; k++) {
				const rd_kafka_error_t *e = rd_kafka_group_result_error(r[k]);
				if (!strcmp(rd_kafka_group_result_name(r[k]), names[i]))
					codes[i] = e ? rd_kafka_error_code(e) :
						       RD_KAFKA_RESP_ERR_NO_ERROR;
			}
		}
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	for (int i = 0; i < n; i++)
		rd_kafka_DeleteGroup_destroy(del[i]);
	rd_kafka_destroy(rk);
	return rc;
}

static int none_committed(const char *when)
{
	int64_t off[PARTITIONS_MAX];
	if (committed_offsets(off, GROUP_PARTITIONS))
		return -1;
	for (int p = 0; p < GROUP_PARTITIONS; p++)
		if (off[p] != RD_KAFKA_OFFSET_INVALID) {
			FAILF("delete: partition %d still committed at %" PRId64
			      " %s", p, off[p], when);
			return -1;
		}
	return 0;
}

static void part_delete(void)
{
	printf("== part 4: DeleteGroups of %s (no members), %s (a member), "
	       "%s (never existed)\n", GROUP_ID, BUSY_GROUP, NOSUCH_GROUP);
	int64_t off[PARTITIONS_MAX];
	if (committed_offsets(off, GROUP_PARTITIONS))
		return;
	if (off[0] < 0) {
		FAILF("delete: %s has no committed offset to delete", GROUP_ID);
		return;
	}
	rd_kafka_t *busy = busy_member();
	if (!busy)
		return;
	const char *names[3] = {GROUP_ID, BUSY_GROUP, NOSUCH_GROUP};
	const rd_kafka_resp_err_t want[3] = {
		RD_KAFKA_RESP_ERR_NO_ERROR, RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP,
		RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND,
	};
	rd_kafka_resp_err_t got[3];
	int rc = delete_groups(names, 3, got);
	rd_kafka_consumer_close(busy);
	rd_kafka_destroy(busy);
	for (int i = 0; !rc && i < 3; i++)
		if (got[i] != want[i])
			FAILF("delete: %s answered %s, expected %s", names[i],
			      rd_kafka_err2name(got[i]), rd_kafka_err2name(want[i]));
	if (rc || failures || none_committed("after DeleteGroups"))
		return;
	printf("  restarting the broker (sluiced and sluice-control)\n");
	fflush(stdout);
	kb_stop(&broker);
	if (kb_start(&broker, 20000)) {
		FAILF("delete: the broker did not come back on %s",
		      broker.kafka_addr);
		return;
	}
	if (none_committed("after DeleteGroups and a restart"))
		return;
	printf("ok: DeleteGroups deleted %s (its offsets gone, also after a "
	       "restart), answered NON_EMPTY_GROUP and GROUP_ID_NOT_FOUND\n",
	       GROUP_ID);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (tb_available())
		return 1; /* a client test never skips; the reason is printed */
	int rc = kb_init(&broker, "rdk");
	if (rc) {
		fprintf(stderr, "cannot prepare a broker: %s\n", strerror(-rc));
		return 1;
	}
	printf("librdkafka %s\n", rd_kafka_version_str());
	if (kb_start(&broker, 20000)) {
		fprintf(stderr, "FAIL: the broker did not get ready\n");
		kb_destroy(&broker, 0);
		return 1;
	}
	printf("broker: kafka %s, native %s\n", broker.kafka_addr, broker.tb.addr);
	rd_kafka_conf_t *c = conf_new("rdk-test-admin");
	char err[256];
	rd_kafka_t *admin = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
	if (!admin) {
		fprintf(stderr, "FAIL: admin client: %s\n", err);
		kb_destroy(&broker, 0);
		return 1;
	}
	int ok = create_topic(admin, IDEM_TOPIC, IDEM_PARTITIONS) == 0 &&
		 create_topic(admin, GROUP_TOPIC, GROUP_PARTITIONS) == 0;
	rd_kafka_destroy(admin);
	if (ok) {
		printf("ok: CreateTopics %s (%d) and %s (%d); metadata shows them\n",
		       IDEM_TOPIC, IDEM_PARTITIONS, GROUP_TOPIC, GROUP_PARTITIONS);
		part_idempotent();
		int before = failures;
		part_group();
		if (failures == before)
			part_resume();
		else
			printf("== part 3 not run: part 2 failed\n");
		if (failures == before)
			part_delete();
		else
			printf("== part 4 not run: an earlier part failed\n");
	}
	if (failures)
		kb_print_logs(&broker, 30);
	if (kb_destroy(&broker, 0))
		FAILF("a broker process failed at exit (above)");
	if (failures) {
		printf("FAIL: %d check(s) failed\n", failures);
		return 1;
	}
	printf("PASS: librdkafka idempotent producer, consumer group with "
	       "rebalances, committed offsets across a restart, DeleteGroups\n");
	return 0;
}
