/*
 * Unit tests of `sluice cluster status`'s verdict and output
 * (tools/sluice/cluster_health.c) on hand-made clusters: healthy; a
 * fenced broker with under-replicated partitions; a leaderless
 * partition; a partition being reassigned (its adding replicas not
 * counted out of sync); a replica on a broker nobody registered; the
 * quorum without
 * a leader, with a voter whose log end is unknown, with a voter silent
 * for just under, at and over CH_VOTER_STALE_MS; a quorum not described;
 * the exit codes; the text (summary naming the brokers down) and the
 * JSON (fields, escaping).  Output is printed into memory
 * (open_memstream) and searched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl.h"
#include "tools/sluice/cluster_health.h"

static struct ch_cluster g_c;
static struct ch_topic g_topic;
static struct ch_partition g_parts[3];
static char *g_out;

/* Three brokers, all voters, node 1 leading in step; one topic "orders"
 * of three partitions, each on all three brokers and in sync. */
static void healthy(struct ch_cluster *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->via, "127.0.0.1:9092");
	c->n_brokers = 3;
	for (int i = 0; i < 3; i++) {
		c->brokers[i].id = i + 1;
		strcpy(c->brokers[i].host, "127.0.0.1");
		c->brokers[i].port = 9092 + 100 * i;
	}
	struct ch_quorum *q = &c->quorum;
	q->known = true;
	q->leader_id = 1;
	q->epoch = 3;
	q->high_watermark = 40;
	q->n_voters = 3;
	q->voters[0] = (struct ch_voter){1, 41, -1, 1700000010000};
	q->voters[1] = (struct ch_voter){2, 41, 1700000009900, 1700000009900};
	q->voters[2] = (struct ch_voter){3, 40, 1700000009950, 1700000009000};
	memset(&g_topic, 0, sizeof(g_topic));
	strcpy(g_topic.name, "orders");
	g_topic.n_partitions = 3;
	g_topic.partitions = g_parts;
	for (int k = 0; k < 3; k++) {
		struct ch_partition *p = &g_parts[k];
		memset(p, 0, sizeof(*p));
		p->index = k;
		p->leader = k + 1;
		p->high_watermark = 100 * (k + 1);
		p->n_replicas = p->n_isr = 3;
		for (int i = 0; i < 3; i++)
			p->replicas[i] = p->isr[i] = (k + i) % 3 + 1;
	}
	c->n_topics = 1;
	c->topics = &g_topic;
}

/* The verdict, and the text or the JSON in g_out (freed by teardown). */
static void run(struct ch_health *h, int json)
{
	ch_assess(&g_c, h);
	free(g_out);
	g_out = NULL;
	size_t len;
	FILE *f = open_memstream(&g_out, &len);
	TL_TRUE(f != NULL);
	if (json)
		ch_print_json(f, &g_c, h);
	else
		ch_print_text(f, &g_c, h);
	TL_OK(fclose(f));
	TL_EQ(strlen(g_out), len);
}

static void has(const char *what)
{
	if (!strstr(g_out, what))
		fail_msg("output lacks \"%s\":\n%s", what, g_out);
}

static void lacks(const char *what)
{
	if (strstr(g_out, what))
		fail_msg("output has \"%s\":\n%s", what, g_out);
}

/* The JSON's braces and brackets balance outside strings, and it is one
 * line. */
static void json_shape(void)
{
	int depth = 0, in_str = 0;
	for (const char *p = g_out; *p; p++) {
		if (in_str) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				in_str = 0;
			continue;
		}
		if (*p == '"')
			in_str = 1;
		else if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']')
			TL_TRUE(--depth >= 0);
		else if (*p == '\n')
			TL_TRUE(p[1] == 0);
	}
	TL_EQ(depth, 0);
	TL_EQ(in_str, 0);
}

static int teardown(void **state)
{
	(void)state;
	free(g_out);
	g_out = NULL;
	return 0;
}

static void test_healthy(void **state)
{
	(void)state;
	struct ch_health h;
	healthy(&g_c);
	run(&h, 0);
	TL_TRUE(h.healthy);
	TL_TRUE(h.quorum_ok);
	TL_EQ(ch_exit_code(&h), 0);
	TL_EQ(h.topics, 1);
	TL_EQ(h.partitions, 3);
	TL_EQ(h.brokers_down + h.leaderless + h.under_replicated +
		      h.voters_behind, 0);
	has("healthy: 3 brokers, 1 topic, 3 partitions; quorum led by 1 "
	    "(epoch 3)\n");
	has("127.0.0.1:9192");
	has("voter, active controller");
	has("all 3 partitions of 1 topic led, every replica in sync");
	/* every partition, with its leader's high watermark */
	has("every partition (high watermark: its leader's answer)\n"
	    "  orders-0  leader 1  replicas [1,2,3]  isr [1,2,3]  "
	    "high watermark 100\n"
	    "  orders-1  leader 2  replicas [2,3,1]  isr [2,3,1]  "
	    "high watermark 200\n");
	lacks("UNHEALTHY");
	run(&h, 1);
	json_shape();
	has("{\"healthy\":true,\"exit_code\":0,\"via\":\"127.0.0.1:9092\"");
	has("{\"id\":1,\"host\":\"127.0.0.1\",\"port\":9092,\"fenced\":false,"
	    "\"voter\":true,\"controller\":true}");
	has("\"missing_brokers\":[]");
	has("\"leader\":1,\"epoch\":3,\"high_watermark\":40");
	/* lag against the leader's log end (41); replied 100 ms before the
	 * leader's clock */
	has("{\"id\":3,\"log_end_offset\":40,\"lag\":1,\"last_fetch_ms\":"
	    "1700000009950,\"last_caught_up_ms\":1700000009000,"
	    "\"replied_ms_ago\":50,\"behind\":false}");
	has("\"topics\":1,\"partitions\":3,\"leaderless\":[],"
	    "\"under_replicated\":[],\"every_partition\":[{\"topic\":"
	    "\"orders\",\"partition\":0,\"leader\":1,\"replicas\":[1,2,3],"
	    "\"isr\":[1,2,3],\"high_watermark\":100},");
	has("\"partition\":2,\"leader\":3,\"replicas\":[3,1,2],"
	    "\"isr\":[3,1,2],\"high_watermark\":300}]}");
}

static void test_fenced(void **state)
{
	(void)state;
	struct ch_health h;
	healthy(&g_c);
	g_c.brokers[1].fenced = true;
	for (int k = 0; k < 3; k++) { /* broker 2 left every in-sync set */
		struct ch_partition *p = &g_parts[k];
		p->n_isr = 0;
		for (int i = 0; i < 3; i++)
			if (p->replicas[i] != 2)
				p->isr[p->n_isr++] = p->replicas[i];
		if (p->leader == 2)
			p->leader = p->isr[0];
	}
	run(&h, 0);
	TL_TRUE(!h.healthy);
	TL_EQ(ch_exit_code(&h), 1);
	TL_EQ(h.brokers_down, 1);
	TL_EQ(h.under_replicated, 3);
	TL_EQ(h.leaderless, 0);
	has("FENCED");
	has("orders-1  leader 3  replicas [2,3,1]  isr [3,1]  "
	    "high watermark 200  UNDER-REPLICATED (out of sync: 2)\n");
	has("UNHEALTHY: 3 brokers, 1 topic, 3 partitions; broker 2 fenced; "
	    "3 under-replicated; quorum led by 1 (epoch 3)\n");
	run(&h, 1);
	json_shape();
	has("\"healthy\":false,\"exit_code\":1");
	has("{\"id\":2,\"host\":\"127.0.0.1\",\"port\":9192,\"fenced\":true");
	has("\"under_replicated\":[{\"topic\":\"orders\",\"partition\":0,"
	    "\"leader\":1,\"replicas\":[1,2,3],\"isr\":[1,3],"
	    "\"high_watermark\":100},");
}

static void test_leaderless(void **state)
{
	(void)state;
	struct ch_health h;
	healthy(&g_c);
	g_parts[2].leader = -1;
	g_parts[2].high_watermark = -1; /* no leader to ask */
	run(&h, 0);
	TL_TRUE(!h.healthy);
	TL_EQ(h.leaderless, 1);
	TL_EQ(h.under_replicated, 0);
	has("orders-2  leader none  replicas [3,1,2]  isr [3,1,2]  "
	    "high watermark unknown  LEADERLESS\n");
	has("; 1 partition without a leader;");
	run(&h, 1);
	json_shape();
	has("\"leaderless\":[{\"topic\":\"orders\",\"partition\":2,"
	    "\"leader\":-1,\"replicas\":[3,1,2],\"isr\":[3,1,2],"
	    "\"high_watermark\":-1}]");
}

/* A partition being moved from [2] to [3, 2]: broker 3 is being added
 * and not in sync yet, which is no under-replication (Kafka counts the
 * replicas it moves from); the text and the JSON show the move.  Once
 * broker 2, which stays, is out of sync too, it is under-replicated, and
 * only broker 2 is named out of sync. */
static void test_reassigning(void **state)
{
	(void)state;
	struct ch_health h;
	healthy(&g_c);
	struct ch_partition *p = &g_parts[1];
	p->leader = 2;
	p->n_replicas = 2;
	p->replicas[0] = 3;
	p->replicas[1] = 2;
	p->replicas[2] = 0;
	p->n_isr = 1;
	p->isr[0] = 2;
	p->n_adding = 1;
	p->adding[0] = 3;
	run(&h, 0);
	TL_TRUE(h.healthy);
	TL_EQ(h.under_replicated, 0);
	has("orders-1  leader 2  replicas [3,2]  isr [2]  high watermark 200  "
	    "reassigning: adding [3] removing []\n");
	run(&h, 1);
	json_shape();
	has("{\"topic\":\"orders\",\"partition\":1,\"leader\":2,"
	    "\"replicas\":[3,2],\"isr\":[2],\"adding\":[3],"
	    "\"removing\":[],\"high_watermark\":200}");
	lacks("\"adding\":[],");
	/* the move from [2, 1] to [3]: both old replicas being removed */
	p->n_replicas = 3;
	p->replicas[2] = 1;
	p->n_isr = 1;
	p->n_removing = 2;
	p->removing[0] = 2;
	p->removing[1] = 1;
	run(&h, 0);
	TL_TRUE(!h.healthy);
	TL_EQ(h.under_replicated, 1);
	has("reassigning: adding [3] removing [2,1]  UNDER-REPLICATED (out of "
	    "sync: 1)\n");
}

static void test_unregistered(void **state)
{
	(void)state;
	struct ch_health h;
	healthy(&g_c);
	g_parts[0].replicas[2] = 7; /* a broker nobody lists */
	g_parts[0].isr[2] = 7;
	g_c.quorum.voters[2].id = 5;
	run(&h, 0);
	TL_TRUE(!h.healthy);
	TL_EQ(h.brokers_down, 2);
	has("MISSING");
	has("; broker 5 not registered; broker 7 not registered;");
	run(&h, 1);
	json_shape();
	has("\"missing_brokers\":[5,7]");
}

static void test_quorum(void **state)
{
	(void)state;
	struct ch_health h;
	struct ch_quorum *q = &g_c.quorum;

	/* no leader: NOT_LEADER_OR_FOLLOWER from a node that reached no
	 * controller */
	healthy(&g_c);
	q->leader_id = -1;
	q->error = 6;
	for (unsigned i = 0; i < 3; i++)
		q->voters[i].log_end_offset = -1;
	run(&h, 0);
	TL_TRUE(!h.quorum_ok);
	TL_TRUE(!h.healthy);
	has("NO LEADER");
	has("no controller answered");
	has("; quorum without a leader");

	/* a voter not heard from in this term */
	healthy(&g_c);
	q->voters[2].log_end_offset = -1;
	run(&h, 0);
	TL_EQ(h.voters_behind, 1);
	TL_TRUE(!h.healthy);
	has("BEHIND");
	has(", 1 voter behind\n");

	/* silent for exactly the limit: in step; one ms more: behind */
	healthy(&g_c);
	q->voters[1].last_fetch_ms = 1700000010000 - CH_VOTER_STALE_MS;
	run(&h, 0);
	TL_TRUE(h.healthy);
	q->voters[1].last_fetch_ms--;
	run(&h, 0);
	TL_EQ(h.voters_behind, 1);
	TL_TRUE(!h.healthy);
	TL_EQ(ch_exit_code(&h), 1);

	/* v0 answers carry no times: only the log end counts */
	healthy(&g_c);
	for (unsigned i = 0; i < 3; i++)
		q->voters[i].last_fetch_ms = q->voters[i].last_caught_up_ms =
			-1;
	run(&h, 0);
	TL_TRUE(h.healthy);
	has("unknown");

	/* not described at all: shown, not held against the cluster */
	healthy(&g_c);
	q->known = false;
	run(&h, 0);
	TL_TRUE(h.healthy);
	has("not described");
	lacks("active controller");
	run(&h, 1);
	json_shape();
	has("\"quorum\":null");
}

static void test_json_escapes(void **state)
{
	(void)state;
	struct ch_health h;
	healthy(&g_c);
	strcpy(g_c.brokers[0].host, "a\"b\\c\n\x01");
	run(&h, 1);
	json_shape();
	has("\"host\":\"a\\\"b\\\\c\\u000a\\u0001\"");
}

static void test_empty(void **state)
{
	(void)state;
	struct ch_health h;
	healthy(&g_c);
	g_c.n_topics = 0;
	run(&h, 0);
	TL_TRUE(h.healthy);
	has("healthy: 3 brokers, 0 topics, 0 partitions;");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_healthy, teardown),
		cmocka_unit_test_teardown(test_fenced, teardown),
		cmocka_unit_test_teardown(test_leaderless, teardown),
		cmocka_unit_test_teardown(test_reassigning, teardown),
		cmocka_unit_test_teardown(test_unregistered, teardown),
		cmocka_unit_test_teardown(test_quorum, teardown),
		cmocka_unit_test_teardown(test_json_escapes, teardown),
		cmocka_unit_test_teardown(test_empty, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
