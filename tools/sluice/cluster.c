/*
 * `sluice cluster status`: a cluster's health from one broker's Kafka
 * listener (docs/client.md, docs/cluster.md "Operating a cluster").
 *
 * Three Kafka requests to the first broker of --bootstrap that answers
 * them all (the next one is tried when a broker cannot be reached or
 * stops answering):
 *   - Metadata (v12 at most, every topic): each partition's leader,
 *     replicas and in-sync set;
 *   - DescribeCluster (v2: include_fenced_brokers): the brokers, fenced
 *     ones included (v0/v1: only the unfenced);
 *   - DescribeQuorum (v2 at most): the metadata quorum's leader (the
 *     active controller), epoch, high watermark and each voter's log
 *     end and reply time;
 *   - ListPartitionReassignments (when served): the partitions being
 *     moved, with the replicas being added and removed.
 * The answers are decoded by the generated codec (already fuzzed); the
 * verdict and the output are cluster_health.c's.
 *
 * Exit codes: 0 healthy, 1 not (cluster_health.h says when), 2 no broker
 * of --bootstrap answered (or a usage error).
 *
 * `sluice cluster reassign TOPIC PARTITION BROKERS|--cancel [--wait S]`
 * and `sluice cluster reassignments`: Kafka's AlterPartitionReassignments
 * and ListPartitionReassignments, through the first broker that answers;
 * --wait follows the move until ListPartitionReassignments no longer
 * shows it, saying every 5 s what it waits for.  Exit 0 done (or under
 * way without --wait), 1 refused or not done in time, 2 unreachable or
 * a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/sluice/cli.h"
#include "tools/sluice/cluster_health.h"
#include "tools/sluice/kcall.h"

#define DEFAULT_BOOTSTRAP "127.0.0.1:9092"
#define TIMEOUT_MS 5000
#define ADDRESSES_MAX 64

static void kstr_copy(char *dst, size_t cap, struct kc_str s)
{
	size_t n = s.len > 0 ? (size_t)s.len : 0;
	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, s.ptr, n);
	dst[n] = 0;
}

static uint8_t ids_copy(int32_t *dst, struct kc_array a)
{
	int32_t n = a.count > CH_REPLICAS_MAX ? CH_REPLICAS_MAX :
		    a.count < 0 ? 0 : a.count;
	if (n)
		memcpy(dst, a.items, (size_t)n * sizeof(*dst));
	return (uint8_t)n;
}

static void free_topics(struct ch_cluster *c)
{
	for (unsigned t = 0; t < c->n_topics; t++)
		free(c->topics[t].partitions);
	free(c->topics);
	c->topics = NULL;
	c->n_topics = 0;
}

/* Metadata: every topic's partitions, and the brokers when
 * DescribeCluster is not served. */
static int ask_metadata(struct kcall *k, struct ch_cluster *c)
{
	int16_t v = kcall_version(k, KC_API_METADATA, 1, 12);
	if (v < 0)
		return -EPROTO;
	struct kc_metadata_req q = {
		.topics = {NULL, -1}, /* v1+: every topic */
		.allow_auto_topic_creation = false,
	};
	union kc_response u;
	int rc = kcall_call(k, KC_API_METADATA, v, &q, sizeof(q), &u);
	if (rc)
		return rc;
	const struct kc_metadata_resp *r = &u.metadata;
	const struct kc_metadata_broker *b = r->brokers.items;
	c->n_brokers = 0;
	for (int32_t i = 0; i < r->brokers.count && i < CH_BROKERS_MAX; i++) {
		struct ch_broker *cb = &c->brokers[c->n_brokers++];
		cb->id = b[i].node_id;
		kstr_copy(cb->host, sizeof(cb->host), b[i].host);
		cb->port = b[i].port;
		cb->fenced = false;
	}
	const struct kc_metadata_topic *t = r->topics.items;
	int32_t nt = r->topics.count > 0 ? r->topics.count : 0;
	c->topics = calloc((size_t)nt + 1, sizeof(*c->topics));
	if (!c->topics)
		return -ENOMEM;
	for (int32_t i = 0; i < nt; i++) {
		if (t[i].error_code || t[i].is_internal)
			continue;
		struct ch_topic *ct = &c->topics[c->n_topics];
		kstr_copy(ct->name, sizeof(ct->name), t[i].name);
		const struct kc_metadata_partition *p = t[i].partitions.items;
		int32_t np = t[i].partitions.count > 0 ?
				     t[i].partitions.count : 0;
		ct->partitions = calloc((size_t)np + 1,
					sizeof(*ct->partitions));
		if (!ct->partitions)
			return -ENOMEM;
		c->n_topics++;
		for (int32_t j = 0; j < np; j++) {
			struct ch_partition *cp =
				&ct->partitions[ct->n_partitions++];
			cp->high_watermark = -1;
			cp->index = p[j].partition_index;
			cp->leader = p[j].leader_id;
			cp->n_replicas = ids_copy(cp->replicas,
						  p[j].replica_nodes);
			cp->n_isr = ids_copy(cp->isr, p[j].isr_nodes);
		}
	}
	return 0;
}

/* DescribeCluster: the brokers with their fencing (v2). */
static int ask_brokers(struct kcall *k, struct ch_cluster *c)
{
	int16_t v = kcall_version(k, KC_API_DESCRIBE_CLUSTER, 0, 2);
	if (v < 0)
		return 0; /* Metadata's list stands */
	struct kc_describe_cluster_req q = {
		.include_cluster_authorized_operations = false,
		.endpoint_type = 1, /* brokers */
		.include_fenced_brokers = true,
	};
	union kc_response u;
	int rc = kcall_call(k, KC_API_DESCRIBE_CLUSTER, v, &q, sizeof(q), &u);
	if (rc)
		return rc;
	const struct kc_describe_cluster_resp *r = (const void *)u.raw;
	if (r->error_code)
		return 0;
	const struct kc_describe_cluster_resp_broker *b = r->brokers.items;
	c->n_brokers = 0;
	for (int32_t i = 0; i < r->brokers.count && i < CH_BROKERS_MAX; i++) {
		struct ch_broker *cb = &c->brokers[c->n_brokers++];
		cb->id = b[i].broker_id;
		kstr_copy(cb->host, sizeof(cb->host), b[i].host);
		cb->port = b[i].port;
		cb->fenced = b[i].is_fenced;
	}
	return 0;
}

static int ask_quorum(struct kcall *k, struct ch_cluster *c)
{
	struct ch_quorum *cq = &c->quorum;
	memset(cq, 0, sizeof(*cq));
	int16_t v = kcall_version(k, KC_API_DESCRIBE_QUORUM, 0, 2);
	if (v < 0)
		return 0; /* known stays false */
	struct kc_describe_quorum_req_partition_data p = {0};
	struct kc_describe_quorum_req_topic_data t = {
		{"__cluster_metadata", 18}, {&p, 1}};
	struct kc_describe_quorum_req q = {{&t, 1}};
	union kc_response u;
	int rc = kcall_call(k, KC_API_DESCRIBE_QUORUM, v, &q, sizeof(q), &u);
	if (rc)
		return rc;
	const struct kc_describe_quorum_resp *r = (const void *)u.raw;
	cq->known = true;
	cq->leader_id = -1;
	cq->error = r->error_code;
	const struct kc_describe_quorum_resp_topic_data *rt = r->topics.items;
	if (r->error_code || r->topics.count != 1 ||
	    rt->partitions.count != 1)
		return 0;
	const struct kc_describe_quorum_resp_partition_data *rp =
		rt->partitions.items;
	cq->error = rp->error_code;
	cq->leader_id = rp->leader_id;
	cq->epoch = rp->leader_epoch;
	cq->high_watermark = rp->high_watermark;
	const struct kc_describe_quorum_resp_replica_state *s =
		rp->current_voters.items;
	for (int32_t i = 0; i < rp->current_voters.count &&
			    cq->n_voters < CH_VOTERS_MAX; i++)
		cq->voters[cq->n_voters++] = (struct ch_voter){
			s[i].replica_id, s[i].log_end_offset,
			s[i].last_fetch_timestamp,
			s[i].last_caught_up_timestamp};
	return 0;
}

/* The reassignments that run, into the partitions Metadata gave. */
static int ask_reassignments(struct kcall *k, struct ch_cluster *c)
{
	int16_t v = kcall_version(k, KC_API_LIST_PARTITION_REASSIGNMENTS, 0,
				  0);
	if (v < 0)
		return 0; /* not served: none shown */
	struct kc_list_partition_reassignments_req q = {10000, {NULL, -1}};
	union kc_response u;
	int rc = kcall_call(k, KC_API_LIST_PARTITION_REASSIGNMENTS, v, &q,
			    sizeof(q), &u);
	if (rc)
		return rc;
	const struct kc_list_partition_reassignments_resp *r =
		(const void *)u.raw;
	const struct kc_list_partition_reassignments_resp_ongoing_topic_reassignment
		*rt = r->topics.items;
	for (int32_t i = 0; i < r->topics.count; i++) {
		char name[CH_NAME_MAX];
		kstr_copy(name, sizeof(name), rt[i].name);
		const struct
		kc_list_partition_reassignments_resp_ongoing_partition_reassignment
			*rp = rt[i].partitions.items;
		for (unsigned t = 0; t < c->n_topics; t++) {
			struct ch_topic *ct = &c->topics[t];
			if (strcmp(ct->name, name))
				continue;
			for (int32_t j = 0; j < rt[i].partitions.count; j++)
				for (unsigned x = 0; x < ct->n_partitions; x++) {
					struct ch_partition *p =
						&ct->partitions[x];
					if (p->index != rp[j].partition_index)
						continue;
					p->n_adding = ids_copy(
						p->adding,
						rp[j].adding_replicas);
					p->n_removing = ids_copy(
						p->removing,
						rp[j].removing_replicas);
				}
		}
	}
	return 0;
}

/* The high watermarks of the partitions broker b leads, from b itself
 * (ListOffsets latest, read_uncommitted: its high watermark), one topic
 * per request.  Partitions whose leader does not answer keep -1. */
static void ask_leader_hws(const struct ch_broker *b, struct ch_cluster *c)
{
	char addr[CH_HOST_MAX + 16];
	snprintf(addr, sizeof(addr), "%s:%" PRId32, b->host, b->port);
	struct kcall k;
	if (kcall_connect(&k, addr, TIMEOUT_MS))
		return;
	int16_t v = kcall_version(&k, KC_API_LIST_OFFSETS, 1, 7);
	for (unsigned t = 0; v >= 0 && t < c->n_topics; t++) {
		struct ch_topic *ct = &c->topics[t];
		struct kc_list_offsets_req_partition *qp =
			calloc(ct->n_partitions + 1, sizeof(*qp));
		if (!qp)
			break;
		int32_t n = 0;
		for (unsigned i = 0; i < ct->n_partitions; i++)
			if (ct->partitions[i].leader == b->id)
				qp[n++] = (struct kc_list_offsets_req_partition){
					.partition_index =
						ct->partitions[i].index,
					.current_leader_epoch = -1,
					.timestamp = -1, /* latest */
					.max_num_offsets = 1,
				};
		struct kc_list_offsets_req_topic qt = {
			{ct->name, (int32_t)strlen(ct->name)}, {qp, n}};
		struct kc_list_offsets_req q = {-1, 0, {&qt, 1}, 10000};
		union kc_response u;
		int rc = n ? kcall_call(&k, KC_API_LIST_OFFSETS, v, &q,
					sizeof(q), &u) : -ENOENT;
		free(qp);
		if (rc == -ENOENT)
			continue;
		if (rc)
			break;
		const struct kc_list_offsets_resp *r = &u.list_offsets;
		const struct kc_list_offsets_resp_topic *rt = r->topics.items;
		for (int32_t i = 0; i < r->topics.count; i++) {
			const struct kc_list_offsets_resp_partition *rp =
				rt[i].partitions.items;
			for (int32_t j = 0; j < rt[i].partitions.count; j++)
				for (unsigned x = 0; x < ct->n_partitions; x++)
					if (ct->partitions[x].index ==
						    rp[j].partition_index &&
					    !rp[j].error_code)
						ct->partitions[x]
							.high_watermark =
							rp[j].offset;
		}
	}
	kcall_close(&k);
}

/* Everything from one broker: 0, or -errno. */
static int ask(const char *addr, struct ch_cluster *c)
{
	struct kcall k;
	int rc = kcall_connect(&k, addr, TIMEOUT_MS);
	if (rc)
		return rc;
	snprintf(c->via, sizeof(c->via), "%s", addr);
	rc = ask_metadata(&k, c);
	if (!rc)
		rc = ask_brokers(&k, c);
	if (!rc)
		rc = ask_quorum(&k, c);
	if (!rc)
		rc = ask_reassignments(&k, c);
	kcall_close(&k);
	if (rc) {
		free_topics(c);
		return rc;
	}
	for (unsigned i = 0; i < c->n_brokers; i++)
		if (!c->brokers[i].fenced)
			ask_leader_hws(&c->brokers[i], c);
	return 0;
}

static const char *why(int rc)
{
	switch (rc) {
	case -EPROTO:
		return "not a Kafka listener, or an answer that does not "
		       "decode";
	case -ECONNRESET:
	case -EPIPE:
		return "the broker closed the connection (is its "
		       "sluice-control running?)";
	case -EINVAL:
		return "not host:port";
	default:
		return strerror(-rc);
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: sluice cluster status [--bootstrap HOST:PORT,...] "
		"[--json]\n"
		"       sluice cluster reassign TOPIC PARTITION BROKER,...|"
		"--cancel [--wait SECONDS] [--bootstrap ...]\n"
		"       sluice cluster reassignments [--bootstrap ...]\n"
		"       sluice cluster add-voter ID HOST:PORT [--bootstrap ...]"
		"\n"
		"       sluice cluster remove-voter ID [--bootstrap ...]\n"
		"  asks the brokers' Kafka listeners (default "
		DEFAULT_BOOTSTRAP "; ./tools/run --cluster 3 prints the list)\n"
		"  status: exit 0 healthy, 1 under-replicated, leaderless, a "
		"broker or the quorum in trouble, 2 unreachable\n");
}

/* ---- reassignments ---- */

/* A connection to the first broker of list that answers, each call on
 * it bounded by timeout_ms: 0, or 2 (said why on stderr). */
static int connect_any(const char *list, struct kcall *k, int timeout_ms)
{
	char copy[4096];
	snprintf(copy, sizeof(copy), "%s", list);
	char *save = NULL;
	unsigned tried = 0;
	for (char *a = strtok_r(copy, ",", &save); a && tried < ADDRESSES_MAX;
	     a = strtok_r(NULL, ",", &save), tried++) {
		int rc = kcall_connect(k, a, timeout_ms);
		if (!rc)
			return 0;
		fprintf(stderr, "sluice: %s: %s\n", a, why(rc));
	}
	fprintf(stderr, "sluice: cannot reach the cluster: no broker of %s "
		"answered\n", list);
	return 2;
}

static void print_ids(FILE *f, struct kc_array a)
{
	const int32_t *ids = a.items;
	fputc('[', f);
	for (int32_t i = 0; i < a.count; i++)
		fprintf(f, "%s%" PRId32, i ? "," : "", ids[i]);
	fputc(']', f);
}

/* The moves that run (topic NULL: all; else that partition's): printed
 * when print; returns how many, or -errno. */
static int list_moves(struct kcall *k, const char *topic, int32_t partition,
		      int print)
{
	int16_t v = kcall_version(k, KC_API_LIST_PARTITION_REASSIGNMENTS, 0,
				  0);
	if (v < 0)
		return -EOPNOTSUPP;
	struct kc_list_partition_reassignments_req_topics t = {
		{topic, topic ? (int32_t)strlen(topic) : 0},
		{&partition, 1}};
	struct kc_list_partition_reassignments_req q = {
		10000, topic ? (struct kc_array){&t, 1} :
			       (struct kc_array){NULL, -1}};
	union kc_response u;
	int rc = kcall_call(k, KC_API_LIST_PARTITION_REASSIGNMENTS, v, &q,
			    sizeof(q), &u);
	if (rc)
		return rc;
	const struct kc_list_partition_reassignments_resp *r =
		(const void *)u.raw;
	const struct kc_list_partition_reassignments_resp_ongoing_topic_reassignment
		*rt = r->topics.items;
	int n = 0;
	for (int32_t i = 0; i < r->topics.count; i++) {
		const struct
		kc_list_partition_reassignments_resp_ongoing_partition_reassignment
			*rp = rt[i].partitions.items;
		for (int32_t j = 0; j < rt[i].partitions.count; j++, n++) {
			if (!print)
				continue;
			printf("%.*s-%" PRId32 "  replicas ",
			       (int)rt[i].name.len, rt[i].name.ptr,
			       rp[j].partition_index);
			print_ids(stdout, rp[j].replicas);
			printf("  adding ");
			print_ids(stdout, rp[j].adding_replicas);
			printf("  removing ");
			print_ids(stdout, rp[j].removing_replicas);
			putchar('\n');
		}
	}
	return n;
}

/* "2,3,1" into ids (at most max): how many, or -1. */
static int parse_ids(const char *s, int32_t *ids, int max)
{
	int n = 0;
	while (*s) {
		char *end;
		long v = strtol(s, &end, 10);
		if (end == s || v < 1 || v > 65535 || n == max ||
		    (*end && *end != ','))
			return -1;
		ids[n++] = (int32_t)v;
		s = *end ? end + 1 : end;
	}
	return n;
}

static int cmd_reassign(int argc, char **argv, const char *bootstrap)
{
	static const struct option lo[] = {
		{"bootstrap", required_argument, 0, 'b'},
		{"cancel", no_argument, 0, 'c'},
		{"wait", required_argument, 0, 'w'},
		{0, 0, 0, 0}};
	int cancel = 0, ch;
	long wait_s = -1;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "b:cw:", lo, NULL)) != -1) {
		switch (ch) {
		case 'b': bootstrap = optarg; break;
		case 'c': cancel = 1; break;
		case 'w': wait_s = strtol(optarg, NULL, 10); break;
		default:
			usage();
			return 2;
		}
	}
	int32_t ids[8];
	int nids = 0;
	if (argc - optind != (cancel ? 2 : 3) || (!cancel &&
	    (nids = parse_ids(argv[optind + 2], ids, 8)) < 1)) {
		fprintf(stderr, "sluice: give TOPIC PARTITION and the brokers "
			"(ids, comma-separated, at most 8, the preferred "
			"leader first), or --cancel\n");
		usage();
		return 2;
	}
	const char *topic = argv[optind];
	int32_t partition = (int32_t)strtol(argv[optind + 1], NULL, 10);
	struct kcall k;
	if (connect_any(bootstrap, &k, TIMEOUT_MS))
		return 2;
	int16_t v = kcall_version(&k, KC_API_ALTER_PARTITION_REASSIGNMENTS, 0,
				  1);
	if (v < 0) {
		fprintf(stderr, "sluice: the broker does not serve "
			"AlterPartitionReassignments\n");
		kcall_close(&k);
		return 2;
	}
	struct kc_alter_partition_reassignments_req_reassignable_partition p = {
		partition, cancel ? (struct kc_array){NULL, -1} :
				    (struct kc_array){ids, nids}};
	struct kc_alter_partition_reassignments_req_reassignable_topic t = {
		{topic, (int32_t)strlen(topic)}, {&p, 1}};
	struct kc_alter_partition_reassignments_req q = {30000, true,
							 {&t, 1}};
	union kc_response u;
	int rc = kcall_call(&k, KC_API_ALTER_PARTITION_REASSIGNMENTS, v, &q,
			    sizeof(q), &u);
	if (rc) {
		fprintf(stderr, "sluice: AlterPartitionReassignments: %s\n",
			why(rc));
		kcall_close(&k);
		return 2;
	}
	const struct kc_alter_partition_reassignments_resp *r =
		(const void *)u.raw;
	const struct kc_alter_partition_reassignments_resp_reassignable_topic_response
		*rt = r->responses.items;
	const struct
	kc_alter_partition_reassignments_resp_reassignable_partition_response
		*rp = r->responses.count == 1 &&
				      rt->partitions.count == 1 ?
			      rt->partitions.items : NULL;
	int16_t err = r->error_code ? r->error_code :
		      rp ? rp->error_code : SN_ERR_UNKNOWN_SERVER_ERROR;
	if (err) {
		struct kc_str m = r->error_code ? r->error_message :
				  rp ? rp->error_message :
				       (struct kc_str){NULL, -1};
		fprintf(stderr, "sluice: %s-%" PRId32 ": %s%s%.*s\n", topic,
			partition, sn_error_name(err), m.len > 0 ? ": " : "",
			m.len > 0 ? (int)m.len : 0, m.len > 0 ? m.ptr : "");
		kcall_close(&k);
		return 1;
	}
	int n = list_moves(&k, topic, partition, 0);
	if (cancel)
		printf("%s-%" PRId32 ": reassignment cancelled\n", topic,
		       partition);
	else if (n == 0)
		printf("%s-%" PRId32 ": on its replicas already\n", topic,
		       partition);
	else
		printf("%s-%" PRId32 ": moving; its new replicas catch up\n",
		       topic, partition);
	int ret = 0;
	if (!cancel && n > 0 && wait_s >= 0) {
		uint64_t t0 = (uint64_t)time(NULL), said = t0;
		while ((n = list_moves(&k, topic, partition, 0)) > 0) {
			uint64_t now = (uint64_t)time(NULL);
			if (now - t0 >= (uint64_t)wait_s)
				break;
			if (now - said >= 5) {
				printf("  still moving after %llu s:\n",
				       (unsigned long long)(now - t0));
				list_moves(&k, topic, partition, 1);
				fflush(stdout);
				said = now;
			}
			struct timespec ts = {0, 200000000};
			nanosleep(&ts, NULL);
		}
		if (n == 0) {
			printf("%s-%" PRId32 ": moved\n", topic, partition);
		} else {
			fprintf(stderr, "sluice: %s-%" PRId32 ": still moving "
				"after %ld s%s\n", topic, partition, wait_s,
				n < 0 ? " (the broker stopped answering)" : "");
			ret = 1;
		}
	}
	kcall_close(&k);
	return ret;
}

/* Options of a subcommand that takes --bootstrap alone (argv[2] on):
 * 0 with *bootstrap set when given and optind at the operands, or 2
 * after the usage. */
static int bootstrap_only(int argc, char **argv, const char **bootstrap)
{
	static const struct option lo[] = {
		{"bootstrap", required_argument, 0, 'b'},
		{0, 0, 0, 0}};
	int ch;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "b:", lo, NULL)) != -1) {
		if (ch != 'b') {
			usage();
			return 2;
		}
		*bootstrap = optarg;
	}
	return 0;
}

static int cmd_reassignments(int argc, char **argv, const char *bootstrap)
{
	if (bootstrap_only(argc, argv, &bootstrap))
		return 2;
	if (optind != argc) {
		usage();
		return 2;
	}
	struct kcall k;
	if (connect_any(bootstrap, &k, TIMEOUT_MS))
		return 2;
	int n = list_moves(&k, NULL, 0, 1);
	kcall_close(&k);
	if (n < 0) {
		fprintf(stderr, "sluice: ListPartitionReassignments: %s\n",
			n == -EOPNOTSUPP ? "not served by the broker" :
					   why(n));
		return 2;
	}
	if (n == 0)
		printf("no reassignment is running\n");
	return 0;
}

/* ---- the metadata quorum's voters ---- */

#define VOTER_TIMEOUT_MS 60000 /* an add waits for the node to catch up */

/* add-voter ID HOST:PORT / remove-voter ID: Kafka's AddRaftVoter /
 * RemoveRaftVoter (v0) through the first broker that answers. */
static int cmd_voter(int argc, char **argv, const char *bootstrap, int add)
{
	if (bootstrap_only(argc, argv, &bootstrap))
		return 2;
	char *end = NULL;
	long id = argc - optind == (add ? 2 : 1) ?
		  strtol(argv[optind], &end, 10) : 0;
	char host[64] = "";
	long port = 0;
	if (add && id > 0) {
		const char *a = argv[optind + 1], *colon = strrchr(a, ':');
		char *pend;
		if (colon && colon > a && (size_t)(colon - a) < sizeof(host)) {
			memcpy(host, a, (size_t)(colon - a));
			host[colon - a] = 0;
			port = strtol(colon + 1, &pend, 10);
			if (*pend)
				port = 0;
		}
	}
	if (id < 1 || id > 65535 || !end || *end ||
	    (add && (port < 1 || port > 65534))) {
		fprintf(stderr, "sluice: give the node id%s\n", add ?
			" and its Raft address HOST:PORT (its "
			"controller_address)" : "");
		usage();
		return 2;
	}
	struct kcall k;
	if (connect_any(bootstrap, &k, VOTER_TIMEOUT_MS))
		return 2;
	int rc;
	int16_t key = add ? KC_API_ADD_RAFT_VOTER : KC_API_REMOVE_RAFT_VOTER;
	const char *api = add ? "AddRaftVoter" : "RemoveRaftVoter";
	if (kcall_version(&k, key, 0, 0) < 0) {
		fprintf(stderr, "sluice: the broker does not serve %s\n", api);
		kcall_close(&k);
		return 2;
	}
	union kc_response u;
	if (add) {
		struct kc_add_raft_voter_req_listener l = {
			{"CONTROLLER", 10}, {host, (int32_t)strlen(host)},
			(uint16_t)port};
		struct kc_add_raft_voter_req q = {
			.cluster_id = {NULL, -1}, .timeout_ms = VOTER_TIMEOUT_MS,
			.voter_id = (int32_t)id, .listeners = {&l, 1}};
		rc = kcall_call(&k, key, 0, &q, sizeof(q), &u);
	} else {
		struct kc_remove_raft_voter_req q = {
			.cluster_id = {NULL, -1}, .voter_id = (int32_t)id};
		rc = kcall_call(&k, key, 0, &q, sizeof(q), &u);
	}
	kcall_close(&k);
	if (rc) {
		fprintf(stderr, "sluice: %s: %s\n", api, why(rc));
		return 2;
	}
	const struct kc_add_raft_voter_resp *r = (const void *)u.raw;
	if (r->error_code) {
		fprintf(stderr, "sluice: %s %ld: error %d%s%.*s\n", api, id,
			(int)r->error_code, r->error_message.len > 0 ? ": " : "",
			r->error_message.len > 0 ? (int)r->error_message.len : 0,
			r->error_message.len > 0 ? r->error_message.ptr : "");
		return 1;
	}
	if (add)
		printf("node %ld is a voter (Raft at %s:%ld)\n", id, host, port);
	else
		printf("node %ld is no longer a voter\n", id);
	return 0;
}

int cmd_cluster(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "add-voter"))
		return cmd_voter(argc, argv, DEFAULT_BOOTSTRAP, 1);
	if (argc >= 2 && !strcmp(argv[1], "remove-voter"))
		return cmd_voter(argc, argv, DEFAULT_BOOTSTRAP, 0);
	if (argc >= 2 && !strcmp(argv[1], "reassign"))
		return cmd_reassign(argc, argv, DEFAULT_BOOTSTRAP);
	if (argc >= 2 && !strcmp(argv[1], "reassignments"))
		return cmd_reassignments(argc, argv, DEFAULT_BOOTSTRAP);
	if (argc < 2 || strcmp(argv[1], "status")) {
		usage();
		return 2;
	}
	static const struct option lo[] = {
		{"bootstrap", required_argument, 0, 'b'},
		{"json", no_argument, 0, 'j'},
		{0, 0, 0, 0}};
	const char *bootstrap = NULL;
	int json = 0, ch;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "b:j", lo, NULL)) != -1) {
		switch (ch) {
		case 'b': bootstrap = optarg; break;
		case 'j': json = 1; break;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc) {
		usage();
		return 2;
	}
	if (!bootstrap && cli_broker) {
		fprintf(stderr, "sluice: cluster status speaks Kafka: give the "
			"brokers' Kafka listeners with --bootstrap (e.g. "
			DEFAULT_BOOTSTRAP "), not -b (the native port)\n");
		return 2;
	}
	char list[4096];
	snprintf(list, sizeof(list), "%s", bootstrap ? bootstrap :
						       DEFAULT_BOOTSTRAP);
	static struct ch_cluster c;
	int rc = -EINVAL;
	char *save = NULL;
	unsigned tried = 0;
	for (char *a = strtok_r(list, ",", &save); a && tried < ADDRESSES_MAX;
	     a = strtok_r(NULL, ",", &save), tried++) {
		memset(&c, 0, sizeof(c));
		rc = ask(a, &c);
		if (!rc)
			break;
		fprintf(stderr, "sluice: %s: %s\n", a, why(rc));
	}
	if (rc) {
		fprintf(stderr, "sluice: cannot reach the cluster: no broker of "
			"%s answered; start one with ./tools/run --cluster 3 "
			"(or pass --bootstrap)\n",
			bootstrap ? bootstrap : DEFAULT_BOOTSTRAP);
		return 2;
	}
	struct ch_health h;
	ch_assess(&c, &h);
	if (json)
		ch_print_json(stdout, &c, &h);
	else
		ch_print_text(stdout, &c, &h);
	fflush(stdout);
	free_topics(&c);
	return ch_exit_code(&h);
}
