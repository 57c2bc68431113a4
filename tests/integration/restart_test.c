/*
 * What sluiced finds when it starts again, with real processes:
 *
 *   - a topic deleted and created again under the same name while sluiced
 *     was down never serves the deleted topic's data (the partition
 *     directory records its topic id, dataplane/partition_dir.h; control
 *     sends the tombstone of every id that is not live);
 *   - a damaged producer-id file stops the start with a message naming
 *     the file and what to do, instead of handing out ids again
 *     (dataplane/producer_ids.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker.h"
#include "sluice/sluice.h"

static struct tb b;

static int teardown(void **state)
{
	(void)state;
	return tb_destroy(&b, 0);
}

static long create_topic(const char *name)
{
	struct sl_client *c;
	assert_int_equal(sl_client_create(b.addr, 5000, &c), 0);
	struct sl_topic_config cfg = { .partitions = 1 };
	long id = sl_topic_create(c, name, &cfg);
	if (id < 0)
		fail_msg("creating topic %s: %s", name, sl_error_message((int)id));
	sl_client_destroy(c);
	return id;
}

/* The id sluiced serves name under (0: none), asked through the broker. */
static uint32_t served_id(const char *name)
{
	struct sl_client *c;
	struct sl_topic_info ti;
	assert_int_equal(sl_client_create(b.addr, 5000, &c), 0);
	int rc = sl_topic_describe(c, name, &ti);
	sl_client_destroy(c);
	return rc == 0 ? ti.topic_id : 0;
}

static void produce(const char *topic, const char *prefix, int n)
{
	struct sl_producer_opts o;
	sl_producer_opts_default(&o);
	o.acks = -1;
	struct sl_producer *p;
	assert_int_equal(sl_producer_create(b.addr, &o, &p), 0);
	for (int i = 0; i < n; i++) {
		char v[64];
		int len = snprintf(v, sizeof(v), "%s-%d", prefix, i);
		assert_true(sl_produce(p, topic, 0, NULL, 0, v, (size_t)len,
				       NULL) >= 0);
	}
	assert_int_equal(sl_producer_flush(p, 10000), 0);
	sl_producer_destroy(p);
}

/* Every message of the partition from the beginning; values into out
 * (one string each, up to cap), returns how many. */
static int consume_all(const char *topic, char out[][64], int cap)
{
	struct sl_consumer *c;
	assert_int_equal(sl_consumer_create(b.addr, topic, 0, NULL, &c), 0);
	int rc = sl_consumer_seek(c, SL_OFFSET_BEGINNING);
	if (rc)
		fail_msg("seek to the beginning of %s: %s", topic,
			 sl_error_message(rc));
	int n = 0;
	for (;;) {
		struct sl_message m;
		rc = sl_consume(c, &m, 1000);
		if (rc == 0)
			break;
		assert_int_equal(rc, 1);
		if (n < cap) {
			size_t len = m.vlen < 63 ? m.vlen : 63;
			memcpy(out[n], m.value, len);
			out[n][len] = 0;
		}
		n++;
	}
	sl_consumer_destroy(c);
	return n;
}

/* sluice-control's topic command against this broker's control dir. */
static int control_cmd(const char *args)
{
	return tb_sh("'%s' -o data_dir='%s' %s >/dev/null 2>&1",
		     getenv("SLUICE_CONTROL"), b.dir, args);
}

static void test_recreated_while_down(void **state)
{
	(void)state;
	char got[16][64];
	assert_int_equal(tb_init(&b, "recreate"), 0);
	assert_int_equal(tb_start(&b), 0);
	long old_id = create_topic("recreated");
	produce("recreated", "old", 10);
	assert_int_equal(consume_all("recreated", got, 16), 10);

	/* sluiced down; the topic deleted and created again meanwhile */
	int st = tb_stop_pid(&b.sluiced, SIGTERM);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(control_cmd("topic delete recreated"), 0);
	assert_int_equal(control_cmd("topic create recreated --partitions 1"), 0);

	assert_int_equal(tb_start_sluiced(&b), 0);
	assert_int_equal(tb_wait_ready(&b, 20000), 0);
	/* the deleted id is never served again, from the first moment
	 * sluiced serves the name */
	uint64_t deadline = tb_now_ms() + 10000;
	uint32_t id;
	while ((id = served_id("recreated")) == 0 && tb_now_ms() < deadline)
		usleep(50000);
	if (id == (uint32_t)old_id)
		fail_msg("sluiced serves the deleted topic id %u again", id);
	assert_true(id != 0);
	/* the new topic is empty: none of the old data is served */
	int n = consume_all("recreated", got, 16);
	if (n)
		fail_msg("topic 'recreated' created again serves %d message(s) of the "
			 "deleted one (first: %s)", n, got[0]);
	produce("recreated", "new", 3);
	n = consume_all("recreated", got, 16);
	assert_int_equal(n, 3);
	assert_string_equal(got[0], "new-0");
	assert_string_equal(got[2], "new-2");
	printf("recreated_while_down: the topic created again holds only its "
	       "own 3 messages\n");
}

/* The last lines of the latest sluiced log, into out. */
static void read_log(char *out, size_t cap)
{
	FILE *f = fopen(b.sluiced_log, "r");
	assert_non_null(f);
	size_t n = fread(out, 1, cap - 1, f);
	out[n] = 0;
	fclose(f);
}

static void test_damaged_producer_id(void **state)
{
	(void)state;
	char path[PATH_MAX + 32], log[8192];
	assert_int_equal(tb_init(&b, "pid"), 0);
	assert_int_equal(tb_start_sluiced(&b), 0);
	assert_int_equal(tb_wait_sluiced(&b, 20000), 0);
	int st = tb_stop_pid(&b.sluiced, SIGTERM);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	snprintf(path, sizeof(path), "%s/run/producer_id", b.dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("12x4\n", f); /* not a number */
	fclose(f);

	assert_int_equal(tb_start_sluiced(&b), 0);
	int status = -1;
	uint64_t deadline = tb_now_ms() + 10000;
	pid_t r = 0;
	while (tb_now_ms() < deadline &&
	       (r = waitpid(b.sluiced, &status, WNOHANG)) == 0)
		usleep(50000);
	if (r != b.sluiced)
		fail_msg("sluiced still runs with a damaged %s", path);
	b.sluiced = 0;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
	read_log(log, sizeof(log));
	if (!strstr(log, "producer_id is damaged") || !strstr(log, path))
		fail_msg("sluiced's log does not name the damaged file:\n%s",
			 log);
	printf("damaged_producer_id: sluiced refused to start, exit %d\n",
	       WEXITSTATUS(status));

	/* what the message says to do works */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("900000\n", f);
	fclose(f);
	assert_int_equal(tb_start_sluiced(&b), 0);
	assert_int_equal(tb_wait_sluiced(&b, 20000), 0);
}

int main(void)
{
	if (tb_available())
		return 77;
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_recreated_while_down, teardown),
		cmocka_unit_test_teardown(test_damaged_producer_id, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
