/*
 * Tests of control/raft_reply.c, the corrections of libraft's
 * AppendEntries replies: a follower's reply sent while it handles an
 * AppendEntries is rewritten, others pass as they are.  The follower is a
 * struct raft of which only the term, the snapshot and the snapshot being
 * installed are read; its "libraft" is a recv callback that sends the
 * reply the test chose.
 *
 *   - a success that claims more than the request let it check says the
 *     request's last index;
 *   - a rejection for want of an entry that the follower's snapshot
 *     covers is a success up to the snapshot; one for an entry at or past
 *     the snapshot, for the term, of another term than the follower's, or
 *     while a snapshot is being installed is left as it is;
 *   - replies outside an AppendEntries and other messages pass.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "control/raft_reply.h"

static struct raft node;           /* the follower: term, snapshot */
static struct sl_raft_reply fix;
static struct raft_message reply;  /* what the follower's libraft sends */
static const struct raft_message *sent;
static struct raft_message scratch;
static int snapshot_put;           /* stands for a snapshot being installed */

/* The follower's libraft: answers the request with `reply`, through the
 * correction as the raft_io's send would. */
static void follower_recv(struct raft_io *io, struct raft_message *m)
{
	(void)io;
	assert_int_equal(m->type, RAFT_IO_APPEND_ENTRIES);
	sent = sl_raft_reply_send(&fix, &reply, &scratch);
}

static void other_recv(struct raft_io *io, struct raft_message *m)
{
	(void)io;
	(void)m;
}

static int setup(void **state)
{
	(void)state;
	memset(&node, 0, sizeof(node));
	node.current_term = 10;
	node.log.snapshot.last_index = 110;
	node.log.snapshot.last_term = 9;
	fix = (struct sl_raft_reply){.recv = follower_recv, .raft = &node};
	sent = NULL;
	return 0;
}

/* An AppendEntries of term 10 with prev and n entries, handled by the
 * follower, whose reply is `rejected` and `last`, of term 10. */
static const struct raft_append_entries_result *
handle(raft_index prev, unsigned n, raft_index rejected, raft_index last)
{
	struct raft_message m = {.type = RAFT_IO_APPEND_ENTRIES};
	m.append_entries.term = 10;
	m.append_entries.prev_log_index = prev;
	m.append_entries.prev_log_term = 9;
	m.append_entries.n_entries = n;
	reply = (struct raft_message){.type = RAFT_IO_APPEND_ENTRIES_RESULT};
	reply.append_entries_result.term = 10;
	reply.append_entries_result.rejected = rejected;
	reply.append_entries_result.last_log_index = last;
	sl_raft_reply_recv(&fix, NULL, &m);
	assert_non_null(sent);
	return &sent->append_entries_result;
}

/* The leader probes below the follower's log (103..110, snapshot 110):
 * the rejection becomes a success up to 110. */
static void test_covered_by_snapshot(void **state)
{
	(void)state;
	const struct raft_append_entries_result *r = handle(102, 0, 102, 110);
	assert_ptr_equal(sent, &scratch);
	assert_int_equal(r->rejected, 0);
	assert_int_equal(r->last_log_index, 110);
	assert_int_equal(r->term, 10);
	assert_int_equal(fix.covered, 1);
	/* with entries that the follower did not take */
	r = handle(95, 10, 95, 110);
	assert_int_equal(r->rejected, 0);
	assert_int_equal(r->last_log_index, 110);
	assert_int_equal(fix.covered, 2);
	assert_int_equal(fix.fixed, 0);
}

static void test_rejections_left(void **state)
{
	(void)state;
	/* at the snapshot's own entry libraft knows the term: its verdict */
	const struct raft_append_entries_result *r = handle(110, 0, 110, 110);
	assert_ptr_equal(sent, &reply);
	/* past the snapshot: a real mismatch */
	r = handle(112, 1, 112, 110);
	assert_ptr_equal(sent, &reply);
	assert_int_equal(r->rejected, 112);
	/* the rejection is not of the previous entry (libraft names that
	 * one when the entry is what is missing) */
	handle(102, 0, 101, 110);
	assert_ptr_equal(sent, &reply);
	/* rejected for the term: the reply carries the follower's newer one */
	node.current_term = 11;
	reply.append_entries_result.term = 11;
	handle(102, 0, 102, 110);
	assert_ptr_equal(sent, &reply);
	node.current_term = 10;
	/* a snapshot being installed: its index may not be stored yet */
	node.snapshot.put.data = &snapshot_put;
	handle(102, 0, 102, 110);
	assert_ptr_equal(sent, &reply);
	node.snapshot.put.data = NULL;
	/* no node given: nothing to judge by */
	fix.raft = NULL;
	handle(102, 0, 102, 110);
	assert_ptr_equal(sent, &reply);
	assert_int_equal(fix.covered, 0);
}

/* The heartbeat reply: a success past the request's last index says
 * that index; one within it passes. */
static void test_heartbeat(void **state)
{
	(void)state;
	const struct raft_append_entries_result *r = handle(100, 2, 0, 110);
	assert_ptr_equal(sent, &scratch);
	assert_int_equal(r->rejected, 0);
	assert_int_equal(r->last_log_index, 102);
	assert_int_equal(fix.fixed, 1);
	handle(100, 20, 0, 110);
	assert_ptr_equal(sent, &reply);
	assert_int_equal(fix.fixed, 1);
}

/* Outside an AppendEntries, and for other messages: as they are. */
static void test_outside(void **state)
{
	(void)state;
	reply = (struct raft_message){.type = RAFT_IO_APPEND_ENTRIES_RESULT};
	reply.append_entries_result.term = 10;
	reply.append_entries_result.rejected = 102;
	reply.append_entries_result.last_log_index = 110;
	fix.prev = 102;
	fix.term = 10;
	assert_ptr_equal(sl_raft_reply_send(&fix, &reply, &scratch), &reply);
	struct raft_message vote = {.type = RAFT_IO_REQUEST_VOTE_RESULT};
	fix.in_append = true;
	assert_ptr_equal(sl_raft_reply_send(&fix, &vote, &scratch), &vote);
	fix.in_append = false;
	/* a message other than an AppendEntries goes to libraft untouched
	 * and leaves nothing noted */
	fix.recv = other_recv;
	struct raft_message rv = {.type = RAFT_IO_REQUEST_VOTE};
	sl_raft_reply_recv(&fix, NULL, &rv);
	assert_false(fix.in_append);
	assert_int_equal(fix.covered + fix.fixed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_covered_by_snapshot, setup),
		cmocka_unit_test_setup(test_rejections_left, setup),
		cmocka_unit_test_setup(test_heartbeat, setup),
		cmocka_unit_test_setup(test_outside, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
