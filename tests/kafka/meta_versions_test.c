/*
 * The Kafka APIs answered from the topic table and the partitions' state,
 * at their lowest and highest versions, against the real broker (suite
 * 'integration', tests/lib/broker.h), every field of the answers checked:
 *   - Metadata v0 (an empty list is every topic; automatic creation
 *     answers LEADER_NOT_AVAILABLE, then the topic), v1 (an empty list is
 *     none), v12 and v13 (topic ids; topics named by id; an unknown id
 *     is UNKNOWN_TOPIC_ID with a null name; v13's top-level error code
 *     0, its answer v12's and those 2 bytes), v11 with an id:
 *     INVALID_REQUEST;
 *   - DeleteRecords v0 and v2: the low watermark moves, ListOffsets
 *     earliest and Fetch follow it; above the high watermark is
 *     OFFSET_OUT_OF_RANGE, an unknown partition UNKNOWN_TOPIC_OR_PARTITION;
 *   - OffsetForLeaderEpoch v0 and v4: the current epoch's end is the log
 *     end, larger and undefined epochs -1, current_leader_epoch fencing;
 *   - DescribeCluster v0, v1 (endpoint types) and v2 (is_fenced false,
 *     also with fenced brokers asked for);
 *   - DescribeQuorum v0-2 of the single broker: a quorum of one, itself
 *     leading at epoch 0, caught up now; another partition
 *     UNKNOWN_TOPIC_OR_PARTITION;
 *   - InitProducerId v0, v5 and v6 (KIP-360 fields, transactional ids;
 *     v6's ongoing transaction -1, -1);
 *   - ListOffsets v7 and v10 MAX_TIMESTAMP (the first record with the
 *     largest timestamp), the found record's timestamp of a lookup;
 *   - DescribeLogDirs v0, v4 and v5 (sizes grow with a produce, partitions
 *     not here left out, v4 disk bytes, v5 is_cordoned false), DescribeProducers v0 (an
 *     idempotent producer appears with its epoch and last sequence).
 * Exit 77 when binaries are missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "kwire.h"
#include "proto/kafka/kcodec.h"
#include "proto/record_batch.h"
#include "proto/topic_uuid.h"
#include "sluice/sluice.h"

static struct tb b;
static int fd = -1;

static bool str_is(struct kc_str s, const char *z)
{
	return s.len == (int32_t)strlen(z) && !memcmp(s.ptr, z, (size_t)s.len);
}

static const struct kc_metadata_topic *
find_topic(const struct kc_metadata_resp *r, const char *name)
{
	const struct kc_metadata_topic *t = r->topics.items;
	for (int32_t i = 0; i < r->topics.count; i++)
		if (str_is(t[i].name, name))
			return &t[i];
	return NULL;
}

/* The broker list and a topic "mt" of 2 partitions led by node 1. */
static int check_mt(const struct kc_metadata_resp *r, int16_t v)
{
	CHECK(r->brokers.count == 1);
	const struct kc_metadata_broker *br = r->brokers.items;
	CHECK(br->node_id == 1 && br->port == b.kport);
	CHECK(str_is(br->host, "127.0.0.1"));
	if (v >= 1)
		CHECK(r->controller_id == 1);
	if (v >= 2)
		CHECK(str_is(r->cluster_id, "sluice"));
	const struct kc_metadata_topic *t = find_topic(r, "mt");
	CHECK(t && t->error_code == 0 && !t->is_internal);
	CHECK(t->partitions.count == 2);
	const struct kc_metadata_partition *p = t->partitions.items;
	for (int32_t i = 0; i < 2; i++) {
		CHECK(p[i].error_code == 0 && p[i].partition_index == i);
		CHECK(p[i].leader_id == 1);
		CHECK(p[i].replica_nodes.count == 1 && p[i].isr_nodes.count == 1);
		CHECK(*(const int32_t *)p[i].replica_nodes.items == 1);
	}
	return 0;
}

static int t_metadata(void)
{
	union kc_response u;
	const struct kc_metadata_resp *r = &u.metadata;
	/* v0: an empty list is every topic */
	struct kc_metadata_req q = { .topics = { NULL, 0 },
				     .allow_auto_topic_creation = true };
	CHECK(!kw_call(fd, KC_API_METADATA, 0, &q, &u));
	if (check_mt(r, 0))
		return -1;
	/* v1: an empty list is no topic, null is every topic */
	CHECK(!kw_call(fd, KC_API_METADATA, 1, &q, &u));
	CHECK(r->topics.count == 0 && r->brokers.count == 1);
	q.topics = (struct kc_array){ NULL, -1 };
	CHECK(!kw_call(fd, KC_API_METADATA, 1, &q, &u));
	if (check_mt(r, 1))
		return -1;
	/* v0 creates a topic it names (allow_auto_topic_creation is
	 * implied): LEADER_NOT_AVAILABLE, then the topic */
	struct kc_metadata_req_topic nt = { .name = { "mt-auto", 7 } };
	q.topics = (struct kc_array){ &nt, 1 };
	CHECK(!kw_call(fd, KC_API_METADATA, 0, &q, &u));
	CHECK(r->topics.count == 1);
	const struct kc_metadata_topic *t = r->topics.items;
	CHECK(str_is(t->name, "mt-auto") && t->error_code == 5);
	CHECK(!kw_call(fd, KC_API_METADATA, 0, &q, &u));
	t = r->topics.items;
	CHECK(r->topics.count == 1 && t->error_code == 0);
	CHECK(str_is(t->name, "mt-auto") && t->partitions.count >= 1);
	/* v13: every topic with its id, the top-level error 0 */
	q.topics = (struct kc_array){ NULL, -1 };
	CHECK(!kw_call(fd, KC_API_METADATA, 13, &q, &u));
	if (check_mt(r, 13))
		return -1;
	CHECK(r->error_code == 0);
	t = find_topic(r, "mt");
	uint32_t id = sl_topic_uuid_id(t->topic_id.b);
	CHECK(id != 0);
	const struct kc_metadata_topic *ta = find_topic(r, "mt-auto");
	CHECK(ta && sl_topic_uuid_id(ta->topic_id.b) != 0 &&
	      sl_topic_uuid_id(ta->topic_id.b) != id);
	/* v12 by id: the topic with its name; an unknown id: 100, null name */
	struct kc_metadata_req_topic byid[2] = {
		{ .name = { NULL, -1 } }, { .name = { "mt", 2 } } };
	sl_topic_uuid(id, byid[0].topic_id.b);
	sl_topic_uuid(999999, byid[1].topic_id.b);
	q.topics = (struct kc_array){ byid, 2 };
	CHECK(!kw_call(fd, KC_API_METADATA, 12, &q, &u));
	long len12 = kw_resp_len();
	/* v13 is v12 and the top-level error code (int16, 0) */
	CHECK(!kw_call(fd, KC_API_METADATA, 13, &q, &u));
	CHECK(r->error_code == 0 && kw_resp_len() == len12 + 2);
	CHECK(r->topics.count == 2);
	t = r->topics.items;
	const struct kc_metadata_topic *known = NULL, *unknown = NULL;
	for (int i = 0; i < 2; i++) {
		if (t[i].error_code == 0)
			known = &t[i];
		else
			unknown = &t[i];
	}
	CHECK(known && str_is(known->name, "mt") &&
	      known->partitions.count == 2 &&
	      !memcmp(known->topic_id.b, byid[0].topic_id.b, 16));
	CHECK(unknown && unknown->error_code == 100 && unknown->name.len < 0 &&
	      !memcmp(unknown->topic_id.b, byid[1].topic_id.b, 16));
	/* an id before v12: INVALID_REQUEST for the topic */
	byid[0].name = (struct kc_str){ "mt", 2 };
	q.topics = (struct kc_array){ byid, 1 };
	CHECK(!kw_call(fd, KC_API_METADATA, 11, &q, &u));
	t = r->topics.items;
	CHECK(r->topics.count == 1 && t->error_code == 42 &&
	      str_is(t->name, "mt"));
	return 0;
}

static int produce(const char *topic, int32_t part, int n)
{
	static uint8_t buf[8192];
	struct rb_builder bb;
	rb_builder_init(&bb, buf, sizeof(buf), 1700000000000);
	for (int i = 0; i < n; i++) {
		char v[32];
		int vl = snprintf(v, sizeof(v), "v%d", i);
		rb_builder_add(&bb, NULL, -1, v, vl, 1700000000000 + i);
	}
	long len = rb_builder_finish(&bb);
	CHECK(len > 0);
	struct kc_produce_req_partition pp = { part, { buf, (int32_t)len } };
	struct kc_produce_req_topic pt = { { topic, (int32_t)strlen(topic) },
					   { { 0 } }, { &pp, 1 } };
	struct kc_produce_req q = { { NULL, -1 }, -1, 5000, { &pt, 1 } };
	union kc_response u;
	CHECK(!kw_call(fd, KC_API_PRODUCE, 3, &q, &u));
	const struct kc_produce_resp *r = (const void *)&u;
	const struct kc_produce_resp_topic *t = r->responses.items;
	const struct kc_produce_resp_partition *p = t->partition_responses.items;
	CHECK(p->error_code == 0);
	return 0;
}

/* DeleteRecords of one partition at version v: its result. */
static int delete_records(int16_t v, const char *topic, int32_t part,
			  int64_t offset,
			  struct kc_delete_records_resp_partition_result *out)
{
	struct kc_delete_records_req_partition dp = { part, offset };
	struct kc_delete_records_req_topic dt = {
		{ topic, (int32_t)strlen(topic) }, { &dp, 1 } };
	struct kc_delete_records_req q = { { &dt, 1 }, 5000 };
	union kc_response u;
	CHECK(!kw_call(fd, KC_API_DELETE_RECORDS, v, &q, &u));
	const struct kc_delete_records_resp *r = (const void *)&u;
	CHECK(r->topics.count == 1);
	const struct kc_delete_records_resp_topic_result *t = r->topics.items;
	CHECK(str_is(t->name, topic) && t->partitions.count == 1);
	*out = *(const struct kc_delete_records_resp_partition_result *)
			t->partitions.items;
	CHECK(out->partition_index == part);
	return 0;
}

/* ListOffsets (v1) of partition part for timestamp ts. */
static int list_offset(const char *topic, int32_t part, int64_t ts,
		       int64_t *off)
{
	struct kc_list_offsets_req_partition lp = { .partition_index = part,
						    .current_leader_epoch = -1,
						    .timestamp = ts,
						    .max_num_offsets = 1 };
	struct kc_list_offsets_req_topic lt = {
		{ topic, (int32_t)strlen(topic) }, { &lp, 1 } };
	struct kc_list_offsets_req q = { .replica_id = -1,
					 .topics = { &lt, 1 } };
	union kc_response u;
	CHECK(!kw_call(fd, KC_API_LIST_OFFSETS, 1, &q, &u));
	const struct kc_list_offsets_resp *r = &u.list_offsets;
	const struct kc_list_offsets_resp_topic *t = r->topics.items;
	const struct kc_list_offsets_resp_partition *p = t->partitions.items;
	CHECK(p->error_code == 0);
	*off = p->offset;
	return 0;
}

/* Fetch (v4) at offset: its error and log start offset. */
static int fetch_at(const char *topic, int32_t part, int64_t offset,
		    int16_t *err, int64_t *log_start, int32_t *bytes)
{
	struct kc_fetch_req_partition fp = { .partition = part,
					     .current_leader_epoch = -1,
					     .fetch_offset = offset,
					     .last_fetched_epoch = -1,
					     .log_start_offset = -1,
					     .partition_max_bytes = 1 << 20 };
	struct kc_fetch_req_topic ft = {
		.topic = { topic, (int32_t)strlen(topic) },
		.partitions = { &fp, 1 } };
	struct kc_fetch_req q = { .replica_id = -1, .max_wait_ms = 0,
				  .min_bytes = 1, .max_bytes = 1 << 20,
				  .session_epoch = -1, .topics = { &ft, 1 },
				  .forgotten_topics_data = { NULL, 0 },
				  .rack_id = { "", 0 } };
	union kc_response u;
	CHECK(!kw_call(fd, KC_API_FETCH, 5, &q, &u));
	const struct kc_fetch_resp *r = (const void *)&u;
	const struct kc_fetch_resp_topic *t = r->responses.items;
	const struct kc_fetch_resp_partition *p = t->partitions.items;
	*err = p->error_code;
	*log_start = p->log_start_offset;
	*bytes = p->records.len;
	return 0;
}

static int t_delete_records(void)
{
	struct kc_delete_records_resp_partition_result d;
	int64_t off;
	int16_t err;
	int32_t bytes;
	/* three batches of 4 records: offsets 0-11 */
	for (int i = 0; i < 3; i++)
		if (produce("mt", 0, 4))
			return -1;
	CHECK(!list_offset("mt", 0, -1, &off) && off == 12);
	/* v0: to 5, inside the second batch */
	CHECK(!delete_records(0, "mt", 0, 5, &d));
	CHECK(d.error_code == 0 && d.low_watermark == 5);
	CHECK(!list_offset("mt", 0, -2, &off) && off == 5);
	CHECK(!fetch_at("mt", 0, 4, &err, &off, &bytes));
	CHECK(err == SN_ERR_OFFSET_OUT_OF_RANGE);
	CHECK(!fetch_at("mt", 0, 5, &err, &off, &bytes));
	CHECK(err == 0 && off == 5 && bytes > 0);
	/* below the start: the start stays */
	CHECK(!delete_records(0, "mt", 0, 2, &d));
	CHECK(d.error_code == 0 && d.low_watermark == 5);
	/* above the high watermark: OFFSET_OUT_OF_RANGE, -1 */
	CHECK(!delete_records(2, "mt", 0, 13, &d));
	CHECK(d.error_code == SN_ERR_OFFSET_OUT_OF_RANGE && d.low_watermark == -1);
	CHECK(!delete_records(2, "mt", 0, -7, &d));
	CHECK(d.error_code == SN_ERR_OFFSET_OUT_OF_RANGE && d.low_watermark == -1);
	/* unknown partition and topic */
	CHECK(!delete_records(2, "mt", 9, 0, &d));
	CHECK(d.error_code == SN_ERR_UNKNOWN_TOPIC_OR_PARTITION &&
	      d.low_watermark == -1);
	CHECK(!delete_records(2, "no-such-topic", 0, 0, &d));
	CHECK(d.error_code == SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	/* v2: -1 is the high watermark */
	CHECK(!delete_records(2, "mt", 0, -1, &d));
	CHECK(d.error_code == 0 && d.low_watermark == 12);
	CHECK(!list_offset("mt", 0, -2, &off) && off == 12);
	CHECK(!fetch_at("mt", 0, 11, &err, &off, &bytes));
	CHECK(err == SN_ERR_OFFSET_OUT_OF_RANGE);
	CHECK(!fetch_at("mt", 0, 12, &err, &off, &bytes));
	CHECK(err == 0 && off == 12 && bytes == 0);
	/* the other partition untouched */
	CHECK(!list_offset("mt", 1, -2, &off) && off == 0);
	return 0;
}

/* OffsetForLeaderEpoch of partition 1 of "mt" (3 records, 0-2) */
static int t_offset_for_leader_epoch(void)
{
	if (produce("mt", 1, 3))
		return -1;
	/* (current epoch, epoch) -> (error, epoch, end offset) */
	static const struct {
		int32_t part, cur, epoch;
		int16_t err;
		int32_t out_epoch;
		int64_t end;
	} c[] = {
		{ 1, -1, 0, 0, 0, 3 },     /* the current epoch: the log end */
		{ 1, 0, 0, 0, 0, 3 },
		{ 1, 0, 1, 0, -1, -1 },    /* a larger epoch: undefined */
		{ 1, -1, -1, 0, -1, -1 },  /* undefined */
		{ 1, 0, -3, 0, -3, 0 },    /* a smaller one: the log start */
		{ 1, 1, 0, 75, -1, -1 },   /* UNKNOWN_LEADER_EPOCH */
		{ 1, -5, 0, 74, -1, -1 },  /* FENCED_LEADER_EPOCH */
		{ 7, -1, 0, 3, -1, -1 },   /* UNKNOWN_TOPIC_OR_PARTITION */
	};
	enum { N = sizeof(c) / sizeof(c[0]) };
	struct kc_offset_for_leader_epoch_req_offset_for_leader_partition ps[N];
	for (int16_t v = 0; v <= 4; v += 4) {
		for (int i = 0; i < N; i++)
			ps[i] = (struct kc_offset_for_leader_epoch_req_offset_for_leader_partition){
				c[i].part, v >= 2 ? c[i].cur : -1, c[i].epoch };
		struct kc_offset_for_leader_epoch_req_offset_for_leader_topic t = {
			{ "mt", 2 }, { ps, v >= 2 ? N : 4 } };
		struct kc_offset_for_leader_epoch_req q = { v >= 3 ? 3 : -2,
							    { &t, 1 } };
		union kc_response u;
		CHECK(!kw_call(fd, KC_API_OFFSET_FOR_LEADER_EPOCH, v, &q, &u));
		const struct kc_offset_for_leader_epoch_resp *r = (const void *)&u;
		CHECK(r->topics.count == 1);
		const struct kc_offset_for_leader_epoch_resp_offset_for_leader_topic_result
			*rt = r->topics.items;
		CHECK(str_is(rt->topic, "mt") && rt->partitions.count == t.partitions.count);
		const struct kc_offset_for_leader_epoch_resp_epoch_end_offset *e =
			rt->partitions.items;
		for (int i = 0; i < t.partitions.count; i++) {
			CHECK(e[i].partition == c[i].part);
			CHECK(e[i].error_code == c[i].err);
			CHECK(e[i].end_offset == c[i].end);
			/* v0 has no epoch in its answer (-1 when decoded) */
			CHECK(e[i].leader_epoch == (v >= 1 ? c[i].out_epoch : -1));
		}
	}
	return 0;
}

static int t_describe_cluster(void)
{
	union kc_response u;
	const struct kc_describe_cluster_resp *r = (const void *)&u;
	struct kc_describe_cluster_req q = { false, 1, false };
	long len[3];
	for (int16_t v = 0; v <= 2; v++) {
		CHECK(!kw_call(fd, KC_API_DESCRIBE_CLUSTER, v, &q, &u));
		len[v] = kw_resp_len();
		CHECK(r->error_code == 0 && r->error_message.len < 0);
		CHECK(str_is(r->cluster_id, "sluice"));
		CHECK(r->controller_id == 1);
		CHECK(r->endpoint_type == 1);
		CHECK(r->cluster_authorized_operations == INT32_MIN);
		CHECK(r->brokers.count == 1);
		const struct kc_describe_cluster_resp_broker *br = r->brokers.items;
		CHECK(br->broker_id == 1 && br->port == b.kport &&
		      str_is(br->host, "127.0.0.1") && br->rack.len < 0);
		CHECK(!br->is_fenced);
	}
	/* v1 is v0 and the endpoint type (int8); v2 is v1 and each broker's
	 * is_fenced (bool, false: the one broker serves) */
	CHECK(len[1] == len[0] + 1 && len[2] == len[1] + 1);
	/* v2 with fenced brokers asked for too (KIP-1073): none is */
	q.include_fenced_brokers = true;
	CHECK(!kw_call(fd, KC_API_DESCRIBE_CLUSTER, 2, &q, &u));
	CHECK(r->error_code == 0 && r->brokers.count == 1 &&
	      kw_resp_len() == len[2]);
	CHECK(!((const struct kc_describe_cluster_resp_broker *)
			r->brokers.items)->is_fenced);
	q.include_fenced_brokers = false;
	/* a controller's endpoint asked of a broker, and an unknown type */
	q.endpoint_type = 2;
	CHECK(!kw_call(fd, KC_API_DESCRIBE_CLUSTER, 1, &q, &u));
	CHECK(r->error_code == 114 && r->error_message.len > 0 &&
	      r->brokers.count == 0 && r->controller_id == -1);
	q.endpoint_type = 7;
	CHECK(!kw_call(fd, KC_API_DESCRIBE_CLUSTER, 1, &q, &u));
	CHECK(r->error_code == 115 && r->brokers.count == 0);
	return 0;
}

static int t_describe_quorum(void)
{
	union kc_response u;
	const struct kc_describe_quorum_resp *r = (const void *)&u;
	struct kc_describe_quorum_req_partition_data p = { 0 };
	struct kc_describe_quorum_req_topic_data t = {
		{ "__cluster_metadata", 18 }, { &p, 1 } };
	struct kc_describe_quorum_req q = { { &t, 1 } };
	for (int16_t v = 0; v <= 2; v++) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		int64_t now_ms = (int64_t)now.tv_sec * 1000 +
				 now.tv_nsec / 1000000;
		CHECK(!kw_call(fd, KC_API_DESCRIBE_QUORUM, v, &q, &u));
		CHECK(r->error_code == 0 && r->topics.count == 1);
		const struct kc_describe_quorum_resp_topic_data *rt =
			r->topics.items;
		CHECK(str_is(rt->topic_name, "__cluster_metadata"));
		CHECK(rt->partitions.count == 1);
		const struct kc_describe_quorum_resp_partition_data *rp =
			rt->partitions.items;
		CHECK(rp->partition_index == 0 && rp->error_code == 0);
		CHECK(rp->leader_id == 1 && rp->leader_epoch == 0);
		CHECK(rp->high_watermark >= 0);
		CHECK(rp->current_voters.count == 1 &&
		      rp->observers.count == 0);
		const struct kc_describe_quorum_resp_replica_state *s =
			rp->current_voters.items;
		CHECK(s->replica_id == 1 &&
		      s->log_end_offset == rp->high_watermark);
		CHECK(s->last_fetch_timestamp == -1);
		/* v0 has no timestamps; from v1 the leader is caught up now */
		CHECK(v == 0 ? s->last_caught_up_timestamp == -1 :
			       s->last_caught_up_timestamp >= now_ms - 1000 &&
			       s->last_caught_up_timestamp <= now_ms + 60000);
		/* v2: no error message, no controller listener on a single
		 * broker */
		CHECK(r->nodes.count == 0);
		CHECK(v < 2 || r->error_message.len < 0);
	}
	p.partition_index = 1;
	CHECK(!kw_call(fd, KC_API_DESCRIBE_QUORUM, 1, &q, &u));
	CHECK(r->error_code == 3 && r->topics.count == 0);
	return 0;
}

/* ElectLeaders v0-2 on a single broker: it leads every partition it has,
 * so every election is ELECTION_NOT_NEEDED (84) with a message, an unknown
 * partition UNKNOWN_TOPIC_OR_PARTITION; all partitions (null): nothing to
 * report; an unknown election type: INVALID_REQUEST (v1+). */
static int t_elect_leaders(void)
{
	union kc_response u;
	const struct kc_elect_leaders_resp *r = (const void *)&u;
	int32_t parts[] = { 0, 9 };
	struct kc_elect_leaders_req_topic_partitions t = {
		{ "mt", 2 }, { parts, 2 } };
	for (int16_t v = 0; v <= 2; v++) {
		struct kc_elect_leaders_req q = { 0, { &t, 1 }, 30000 };
		CHECK(!kw_call(fd, KC_API_ELECT_LEADERS, v, &q, &u));
		CHECK(r->error_code == 0 && r->replica_election_results.count == 1);
		const struct kc_elect_leaders_resp_replica_election_result *rt =
			r->replica_election_results.items;
		CHECK(str_is(rt->topic, "mt") && rt->partition_result.count == 2);
		const struct kc_elect_leaders_resp_partition_result *p =
			rt->partition_result.items;
		CHECK(p[0].partition_id == 0 && p[0].error_code == 84 &&
		      p[0].error_message.len > 0);
		CHECK(p[1].partition_id == 9 && p[1].error_code == 3);
		q.topic_partitions = (struct kc_array){ NULL, -1 };
		q.election_type = 1;
		CHECK(!kw_call(fd, KC_API_ELECT_LEADERS, v, &q, &u));
		CHECK(r->error_code == 0 && r->replica_election_results.count == 0);
	}
	struct kc_elect_leaders_req bad = { 7, { &t, 1 }, 30000 };
	CHECK(!kw_call(fd, KC_API_ELECT_LEADERS, 1, &bad, &u));
	CHECK(r->error_code == 42 && r->replica_election_results.count == 0);
	return 0;
}

static int init_pid(int16_t v, struct kc_str txn, int64_t pid, int16_t epoch,
		    struct kc_init_producer_id_resp *out)
{
	struct kc_init_producer_id_req q = { txn, 60000, pid, epoch, false, false };
	union kc_response u;
	CHECK(!kw_call(fd, KC_API_INIT_PRODUCER_ID, v, &q, &u));
	*out = *(const struct kc_init_producer_id_resp *)(const void *)&u;
	return 0;
}

static int t_init_producer_id(void)
{
	struct kc_init_producer_id_resp r;
	const struct kc_str null = { NULL, -1 };
	CHECK(!init_pid(0, null, -1, -1, &r));
	CHECK(r.error_code == 0 && r.producer_id >= 0 && r.producer_epoch == 0);
	int64_t first = r.producer_id;
	CHECK(!init_pid(5, null, -1, -1, &r));
	CHECK(r.error_code == 0 && r.producer_id > first &&
	      r.producer_epoch == 0);
	/* KIP-360 without a transactional id: a new id, epoch 0 (Kafka) */
	int64_t second = r.producer_id;
	CHECK(!init_pid(5, null, second, 0, &r));
	CHECK(r.error_code == 0 && r.producer_id > second &&
	      r.producer_epoch == 0);
	/* v6 (KIP-939): no ongoing transaction, -1 and -1 */
	CHECK(!init_pid(6, null, -1, -1, &r));
	CHECK(r.error_code == 0 && r.producer_id > second &&
	      r.producer_epoch == 0);
	CHECK(r.ongoing_txn_producer_id == -1 &&
	      r.ongoing_txn_producer_epoch == -1);
	/* an id without an epoch */
	CHECK(!init_pid(5, null, second, -1, &r));
	CHECK(r.error_code == SN_ERR_INVALID_REQUEST && r.producer_id == -1 &&
	      r.producer_epoch == -1);
	/* transactional ids: sluice-control's transaction coordinator hands
	 * out ids from 1 << 40, the next epoch each time; empty:
	 * INVALID_REQUEST */
	CHECK(!init_pid(5, (struct kc_str){ "tx", 2 }, -1, -1, &r));
	CHECK(r.error_code == 0 && r.producer_id >= (1ll << 40) &&
	      r.producer_epoch == 0);
	int64_t tx = r.producer_id;
	CHECK(!init_pid(0, (struct kc_str){ "tx", 2 }, -1, -1, &r));
	CHECK(r.error_code == 0 && r.producer_id == tx &&
	      r.producer_epoch == 1);
	CHECK(!init_pid(0, (struct kc_str){ "", 0 }, -1, -1, &r));
	CHECK(r.error_code == SN_ERR_INVALID_REQUEST);
	return 0;
}

/* Produce records with these timestamps to topic part (one batch). */
static int produce_pid(const char *topic, int32_t part, const int64_t *ts,
		       int n, int64_t pid, int16_t epoch, int32_t seq)
{
	static uint8_t buf[8192];
	struct rb_builder bb;
	rb_builder_init(&bb, buf, sizeof(buf), ts[0]);
	if (pid >= 0)
		rb_builder_set_producer(&bb, pid, epoch, seq);
	for (int i = 0; i < n; i++)
		rb_builder_add(&bb, NULL, -1, "x", 1, ts[i]);
	long len = rb_builder_finish(&bb);
	CHECK(len > 0);
	struct kc_produce_req_partition pp = { part, { buf, (int32_t)len } };
	struct kc_produce_req_topic pt = { { topic, (int32_t)strlen(topic) },
					   { { 0 } }, { &pp, 1 } };
	struct kc_produce_req q = { { NULL, -1 }, -1, 5000, { &pt, 1 } };
	union kc_response u;
	CHECK(!kw_call(fd, KC_API_PRODUCE, 3, &q, &u));
	const struct kc_produce_resp *r = (const void *)&u;
	const struct kc_produce_resp_topic *t = r->responses.items;
	const struct kc_produce_resp_partition *p = t->partition_responses.items;
	CHECK(p->error_code == 0);
	return 0;
}

static int produce_ts(const char *topic, int32_t part, const int64_t *ts,
		      int n)
{
	return produce_pid(topic, part, ts, n, -1, -1, -1);
}

/* ListOffsets at version v of topic part for timestamp ts: its answer. */
static int list_at(int16_t v, const char *topic, int32_t part, int64_t ts,
		   struct kc_list_offsets_resp_partition *out)
{
	struct kc_list_offsets_req_partition lp = { .partition_index = part,
						    .current_leader_epoch = -1,
						    .timestamp = ts,
						    .max_num_offsets = 1 };
	struct kc_list_offsets_req_topic lt = {
		{ topic, (int32_t)strlen(topic) }, { &lp, 1 } };
	struct kc_list_offsets_req q = { .replica_id = -1,
					 .topics = { &lt, 1 } };
	union kc_response u;
	CHECK(!kw_call(fd, KC_API_LIST_OFFSETS, v, &q, &u));
	const struct kc_list_offsets_resp *r = &u.list_offsets;
	CHECK(r->topics.count == 1);
	const struct kc_list_offsets_resp_topic *t = r->topics.items;
	CHECK(str_is(t->name, topic) && t->partitions.count == 1);
	*out = *(const struct kc_list_offsets_resp_partition *)t->partitions.items;
	CHECK(out->partition_index == part);
	return 0;
}

/* ListOffsets MAX_TIMESTAMP (-3, v7+): the first record with the largest
 * timestamp and that timestamp; a time lookup gives the found record's
 * timestamp; before v7 -3 is UNSUPPORTED_VERSION. */
static int t_list_max_timestamp(void)
{
	const int64_t T = 1700000000000;
	struct kc_list_offsets_resp_partition r;
	/* an empty partition: none */
	CHECK(!list_at(7, "mx", 0, -3, &r));
	CHECK(r.error_code == 0 && r.offset == -1 && r.timestamp == -1);
	/* offsets 0-3, then 4-6: the largest (T+90) at 2 and 5 */
	const int64_t a[4] = { T + 10, T + 50, T + 90, T + 20 };
	const int64_t c[3] = { T + 30, T + 90, T + 60 };
	if (produce_ts("mx", 0, a, 4) || produce_ts("mx", 0, c, 3))
		return -1;
	for (int16_t v = 7; v <= 10; v += 3) {
		CHECK(!list_at(v, "mx", 0, -3, &r));
		CHECK(r.error_code == 0 && r.offset == 2 && r.timestamp == T + 90);
		CHECK(r.leader_epoch == 0);
		/* a time: the first record as new, its own timestamp */
		CHECK(!list_at(v, "mx", 0, T + 55, &r));
		CHECK(r.error_code == 0 && r.offset == 2 && r.timestamp == T + 90);
		CHECK(!list_at(v, "mx", 0, T + 25, &r));
		CHECK(r.error_code == 0 && r.offset == 1 && r.timestamp == T + 50);
		CHECK(!list_at(v, "mx", 0, T + 91, &r));
		CHECK(r.error_code == 0 && r.offset == -1 && r.timestamp == -1);
		/* latest and earliest: no timestamp, as Kafka */
		CHECK(!list_at(v, "mx", 0, -1, &r));
		CHECK(r.error_code == 0 && r.offset == 7 && r.timestamp == -1);
	}
	CHECK(!list_at(1, "mx", 0, T + 12, &r));
	CHECK(r.error_code == 0 && r.offset == 1 && r.timestamp == T + 50);
	CHECK(!list_at(6, "mx", 0, -3, &r));
	CHECK(r.error_code == SN_ERR_UNSUPPORTED_VERSION && r.offset == -1);
	return 0;
}

/* DescribeLogDirs at version v (topics null: every one, else topic "mt"
 * partitions 0, 7 and 1): the partition sizes of "mt" in sizes[2] (-1: not
 * listed). */
static int log_dirs(int16_t v, bool all, int64_t sizes[2])
{
	int32_t parts[3] = { 0, 7, 1 };
	struct kc_describe_log_dirs_req_describable_log_dir_topic dt = {
		{ "mt", 2 }, { parts, 3 } };
	struct kc_describe_log_dirs_req q = {
		.topics = all ? (struct kc_array){ NULL, -1 }
			      : (struct kc_array){ &dt, 1 } };
	union kc_response u;
	CHECK(!kw_call(fd, KC_API_DESCRIBE_LOG_DIRS, v, &q, &u));
	const struct kc_describe_log_dirs_resp *r = (const void *)&u;
	CHECK(r->error_code == 0 && r->results.count == 1);
	const struct kc_describe_log_dirs_resp_result *d = r->results.items;
	CHECK(d->error_code == 0 && d->log_dir.len > 0);
	CHECK(!memcmp(d->log_dir.ptr, b.dir, strlen(b.dir)));
	if (v >= 4)
		CHECK(d->total_bytes > 0 && d->usable_bytes > 0 &&
		      d->usable_bytes <= d->total_bytes);
	CHECK(!d->is_cordoned); /* v5+; never cordoned */
	sizes[0] = sizes[1] = -1;
	bool saw_mx = false;
	const struct kc_describe_log_dirs_resp_topic *t = d->topics.items;
	for (int32_t i = 0; i < d->topics.count; i++) {
		if (str_is(t[i].name, "mx"))
			saw_mx = true;
		if (!str_is(t[i].name, "mt"))
			continue;
		const struct kc_describe_log_dirs_resp_partition *p =
			t[i].partitions.items;
		for (int32_t j = 0; j < t[i].partitions.count; j++) {
			CHECK(p[j].partition_index == 0 ||
			      p[j].partition_index == 1);
			CHECK(p[j].offset_lag == 0 && !p[j].is_future_key);
			CHECK(p[j].partition_size >= 0);
			sizes[p[j].partition_index] = p[j].partition_size;
		}
	}
	CHECK(saw_mx == all);
	return 0;
}

/* DescribeLogDirs v0, v4 and v5: one dir (the data dir), "mt"'s
 * partitions with their sizes, which grow by a produced batch; a
 * partition that does not exist is left out; v4's total and usable
 * bytes; v5's is_cordoned false, its answer v4's and that byte. */
static int t_describe_log_dirs(void)
{
	int64_t s0[2], s1[2];
	for (int16_t v = 0; v <= 5; v += v == 0 ? 4 : 1) {
		if (log_dirs(v, true, s0))
			return -1;
		CHECK(s0[0] >= 0 && s0[1] >= 0);
		if (produce("mt", 1, 5))
			return -1;
		if (log_dirs(v, false, s1))
			return -1;
		CHECK(s1[0] == s0[0] && s1[1] > s0[1]);
	}
	if (log_dirs(4, false, s0))
		return -1;
	long len4 = kw_resp_len();
	if (log_dirs(5, false, s1))
		return -1;
	CHECK(kw_resp_len() == len4 + 1 && s1[0] == s0[0] && s1[1] == s0[1]);
	return 0;
}

/* DescribeProducers of topic part (and partition 9, which is not): the
 * producers listed. */
static int producers(const char *topic, int32_t part,
		     struct kc_describe_producers_resp_producer_state *out,
		     int32_t *n)
{
	int32_t parts[2] = { part, 9 };
	struct kc_describe_producers_req_topic_request dt = {
		{ topic, (int32_t)strlen(topic) }, { parts, 2 } };
	struct kc_describe_producers_req q = { { &dt, 1 } };
	union kc_response u;
	CHECK(!kw_call(fd, KC_API_DESCRIBE_PRODUCERS, 0, &q, &u));
	const struct kc_describe_producers_resp *r = (const void *)&u;
	CHECK(r->topics.count == 1);
	const struct kc_describe_producers_resp_topic_response *t = r->topics.items;
	CHECK(str_is(t->name, topic) && t->partitions.count == 2);
	const struct kc_describe_producers_resp_partition_response *p =
		t->partitions.items;
	CHECK(p[1].partition_index == 9 &&
	      p[1].error_code == SN_ERR_UNKNOWN_TOPIC_OR_PARTITION &&
	      p[1].active_producers.count == 0);
	CHECK(p[0].partition_index == part && p[0].error_code == 0);
	*n = p[0].active_producers.count;
	CHECK(*n <= 4);
	if (*n > 0)
		memcpy(out, p[0].active_producers.items,
		       (size_t)*n * sizeof(*out));
	return 0;
}

/* DescribeProducers v0: none before, then the idempotent producer with
 * its epoch and last sequence after two batches of it. */
static int t_describe_producers(void)
{
	struct kc_describe_producers_resp_producer_state ps[4];
	int32_t n = -1;
	if (producers("mx", 0, ps, &n))
		return -1;
	CHECK(n == 0);
	struct kc_init_producer_id_resp ip;
	CHECK(!init_pid(0, (struct kc_str){ NULL, -1 }, -1, -1, &ip));
	CHECK(ip.error_code == 0 && ip.producer_id >= 0);
	const int64_t ts[3] = { 1700000000000, 1700000000001, 1700000000002 };
	if (produce_pid("mx", 0, ts, 3, ip.producer_id, ip.producer_epoch, 0) ||
	    produce_pid("mx", 0, ts, 2, ip.producer_id, ip.producer_epoch, 3))
		return -1;
	if (producers("mx", 0, ps, &n))
		return -1;
	CHECK(n == 1);
	CHECK(ps[0].producer_id == ip.producer_id &&
	      ps[0].producer_epoch == ip.producer_epoch);
	CHECK(ps[0].last_sequence == 4 && ps[0].last_timestamp == -1);
	CHECK(ps[0].coordinator_epoch == -1 &&
	      ps[0].current_txn_start_offset == -1);
	return 0;
}

int main(void)
{
	kw_init("meta-test");
	int rc = kw_broker_start(&b, "kmeta", &fd);
	if (rc)
		return rc;
	if (kw_topic_create(&b, "mt", 2) < 0 ||
	    kw_topic_create(&b, "mx", 1) < 0) {
		tb_destroy(&b, 1);
		return 1;
	}
	static const struct kw_test tests[] = {
		{ "metadata", t_metadata },
		{ "delete_records", t_delete_records },
		{ "offset_for_leader_epoch", t_offset_for_leader_epoch },
		{ "describe_cluster", t_describe_cluster },
		{ "describe_quorum", t_describe_quorum },
		{ "elect_leaders", t_elect_leaders },
		{ "init_producer_id", t_init_producer_id },
		{ "list_max_timestamp", t_list_max_timestamp },
		{ "describe_log_dirs", t_describe_log_dirs },
		{ "describe_producers", t_describe_producers },
	};
	kw_run(&b, tests, KW_COUNT(tests), &fd);
	return kw_finish(&b, &fd);
}
