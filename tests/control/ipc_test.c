/*
 * Integration tests of sluice-control as a real process.  The test plays
 * sluiced's side of the control socket (proto/ipc.h): it listens on a
 * SOCK_SEQPACKET path, accepts, answers HELLO / TOPIC_PUT / TOPIC_DELETE,
 * reads SYNC_DONE, and sends ADMIN requests built with proto/native.h,
 * reading and writing every message with proto/ipc.c as sluiced does
 * (tests/unit/proto_ipc_test.c pins those bytes to the layout).
 *
 * Checked: topics are pushed after connect (sluice-control started before
 * the peer listens, so the retry path runs); pushed again after the peer
 * restarts; changes made with `sluice-control topic ...` while the daemon
 * runs are pushed (and a delete made while no peer is connected is pushed
 * at the next sync); ADMIN create/delete round trips with their error
 * codes, including a sluiced-side failure; the metadata survives SIGKILL +
 * restart and ids keep growing; a second daemon on the same control_dir is
 * refused; a bad override exits 2; SIGTERM exits 0; a reply from sluiced
 * that breaks proto/ipc.h's rule drops the link, and the next connection
 * pushes everything again; a control_socket
 * served by another uid (not root) is refused before anything is sent
 * (proto/local_socket.h), and the same path served by our uid is used.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tl.h"
#include "proto/ipc.h"
#include "proto/native.h"

#define WAIT_MS 8000 /* reconnect backoff tops at 2 s: plenty */

struct ctx {
	char dir[PATH_MAX];
	char sock[108];
	char log[PATH_MAX];
	pid_t pid;
	int lfd, fd;
	uint32_t corr;
};
static struct ctx g;

static const char *control_bin(void)
{
	return getenv("SLUICE_CONTROL");
}

static int setup(void **state)
{
	(void)state;
	memset(&g, 0, sizeof(g));
	g.lfd = g.fd = -1;
	g.pid = -1;
	g.corr = 1000;
	if (tl_tmpdir(g.dir, "control-ipc"))
		return -1;
	if (snprintf(g.sock, sizeof(g.sock), "%s/ctl.sock", g.dir) >=
	    (int)sizeof(g.sock)) {
		/* sun_path is short: fall back to /tmp for the socket only */
		snprintf(g.sock, sizeof(g.sock), "/tmp/slc-%d.sock",
			 (int)getpid());
	}
	tl_pathf(g.log, "%s/control.log", g.dir);
	return 0;
}

static void dump_log(void)
{
	uint8_t *text;
	long long n = tl_read_file(g.log, &text);
	if (n > 0) {
		fprintf(stderr, "---- sluice-control log ----\n%.*s----\n",
			(int)n, (char *)text);
		free(text);
	}
}

static int teardown(void **state)
{
	(void)state;
	if (g.pid > 0) {
		kill(g.pid, SIGKILL);
		waitpid(g.pid, NULL, 0);
	}
	if (g.fd >= 0)
		close(g.fd);
	if (g.lfd >= 0)
		close(g.lfd);
	unlink(g.sock);
	dump_log();
	tl_rmrf(g.dir);
	return 0;
}

static void build_args(char **argv, int *argc, char *bufs, size_t cap)
{
	int n = 0;
	argv[n++] = (char *)control_bin();
	snprintf(bufs, cap, "data_dir=%s/data", g.dir);
	snprintf(bufs + cap, cap, "control_dir=%s/control", g.dir);
	snprintf(bufs + 2 * cap, cap, "control_socket=%s", g.sock);
	for (int i = 0; i < 3; i++) {
		argv[n++] = "-o";
		argv[n++] = bufs + (size_t)i * cap;
	}
	*argc = n;
}

static pid_t spawn(char *const *extra, int nextra)
{
	static char bufs[3 * (PATH_MAX + 32)];
	char *argv[32];
	int argc;
	build_args(argv, &argc, bufs, PATH_MAX + 32);
	for (int i = 0; i < nextra; i++)
		argv[argc++] = extra[i];
	argv[argc] = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(g.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static int wait_exit(pid_t pid, int timeout_ms)
{
	for (int i = 0; i < timeout_ms / 10; i++) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st)
					     : 128 + WTERMSIG(st);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* sluice-control [-o ...] args...: its exit status. */
static int cli(const char *a0, const char *a1, const char *a2,
	       const char *a3, const char *a4)
{
	char *extra[5];
	int n = 0;
	const char *a[5] = { a0, a1, a2, a3, a4 };
	for (int i = 0; i < 5 && a[i]; i++)
		extra[n++] = (char *)a[i];
	return wait_exit(spawn(extra, n), 10000);
}

static void start_daemon(void)
{
	g.pid = spawn(NULL, 0);
	TL_TRUE(g.pid > 0);
}

static void peer_listen(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, g.sock, strlen(g.sock) + 1);
	unlink(g.sock);
	g.lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	TL_TRUE(g.lfd >= 0);
	TL_OK(bind(g.lfd, (struct sockaddr *)&sa, sizeof(sa)));
	TL_OK(listen(g.lfd, 4));
}

static void peer_accept(void)
{
	struct pollfd p = { .fd = g.lfd, .events = POLLIN };
	if (poll(&p, 1, WAIT_MS) != 1)
		fail_msg("sluice-control did not connect within %d ms",
			 WAIT_MS);
	g.fd = accept4(g.lfd, NULL, NULL, SOCK_CLOEXEC);
	TL_TRUE(g.fd >= 0);
}

static void peer_close(void)
{
	close(g.fd);
	close(g.lfd);
	g.fd = g.lfd = -1;
	unlink(g.sock);
}

/* One message: its length, 0 when the peer closed; fails on timeout. */
static long peer_recv(uint8_t *buf, struct sn_header *h)
{
	struct pollfd p = { .fd = g.fd, .events = POLLIN };
	if (poll(&p, 1, WAIT_MS) != 1)
		fail_msg("no message from sluice-control within %d ms",
			 WAIT_MS);
	long n = recv(g.fd, buf, SIPC_MAX_MESSAGE, 0);
	TL_TRUE(n >= 0);
	if (n == 0)
		return 0;
	TL_EQ(sn_header_parse(buf, (size_t)n, SIPC_MAX_MESSAGE, h), n);
	return n;
}

static void peer_send(const uint8_t *buf, size_t len)
{
	TL_EQ(send(g.fd, buf, len, MSG_NOSIGNAL), (long)len);
}

static void peer_reply(uint8_t opcode, uint32_t corr, int16_t error)
{
	uint8_t r[SN_HEADER_BYTES];
	TL_EQ(sipc_encode_reply(r, sizeof(r), opcode, corr, error),
	      SN_HEADER_BYTES);
	peer_send(r, sizeof(r));
}

struct seen {
	int puts, dels;
	struct sn_topic_info put[16];
	char put_name[16][SN_NAME_MAX + 1];
	uint32_t del_id[16];
	char del_name[16][SN_NAME_MAX + 1];
};

/* Decode a TOPIC_PUT / TOPIC_DELETE into s. */
static void record(struct seen *s, const uint8_t *buf, long n,
		   const struct sn_header *h)
{
	if (h->opcode == SIPC_TOPIC_PUT) {
		TL_TRUE(s->puts < 16);
		struct sn_topic_info *t = &s->put[s->puts];
		TL_OK(sipc_decode_topic_put(buf, (size_t)n, t));
		memcpy(s->put_name[s->puts], t->name, t->name_len);
		s->put_name[s->puts][t->name_len] = 0;
		s->puts++;
	} else {
		TL_EQ(h->opcode, SIPC_TOPIC_DELETE);
		TL_TRUE(s->dels < 16);
		struct sipc_topic_delete d;
		TL_OK(sipc_decode_topic_delete(buf, (size_t)n, &d));
		s->del_id[s->dels] = d.topic_id;
		memcpy(s->del_name[s->dels], d.name, d.name_len);
		s->del_name[s->dels][d.name_len] = 0;
		s->dels++;
	}
}

/* Accept, answer HELLO, collect the sync up to SYNC_DONE. */
static void peer_sync(struct seen *s)
{
	static uint8_t buf[SIPC_MAX_MESSAGE];
	struct sn_header h;
	memset(s, 0, sizeof(*s));
	peer_accept();
	long n = peer_recv(buf, &h);
	uint32_t pid = 0;
	TL_OK(sipc_decode_hello(buf, (size_t)n, &pid));
	TL_EQ(pid, g.pid);
	uint8_t r[SIPC_HELLO_REPLY_BYTES];
	struct sipc_hello_reply hr = { (uint32_t)getpid(), 9093, 9093 };
	TL_EQ(sipc_encode_hello_reply(r, sizeof(r), h.corr, &hr), sizeof(r));
	peer_send(r, sizeof(r));
	for (int i = 0; i < 64; i++) {
		n = peer_recv(buf, &h);
		TL_TRUE(n > 0);
		if (h.opcode == SIPC_SYNC_DONE) {
			TL_OK(sipc_decode_sync_done(buf, (size_t)n));
			return;
		}
		record(s, buf, n, &h);
		peer_reply(h.opcode, h.corr, 0);
	}
	fail_msg("no SYNC_DONE after 64 messages");
}

static int put_index(const struct seen *s, const char *name)
{
	for (int i = 0; i < s->puts; i++)
		if (!strcmp(s->put_name[i], name))
			return i;
	return -1;
}

/* The next message must be a TOPIC_PUT/DELETE: record it, answer it. */
static void expect_op(struct seen *s, uint8_t opcode, int16_t answer)
{
	static uint8_t buf[SIPC_MAX_MESSAGE];
	struct sn_header h;
	memset(s, 0, sizeof(*s));
	long n = peer_recv(buf, &h);
	TL_TRUE(n > 0);
	TL_EQ(h.opcode, opcode);
	record(s, buf, n, &h);
	peer_reply(h.opcode, h.corr, answer);
}

/* ADMIN round trip: send req, optionally expect one op first, then the
 * ADMIN reply; returns the inner response's error, *id for creates. */
static int16_t admin(const uint8_t *req, size_t len, uint8_t expect,
		     int16_t answer, struct seen *s, uint32_t *id)
{
	static uint8_t buf[SIPC_MAX_MESSAGE];
	uint8_t msg[SN_HEADER_BYTES + 512];
	struct sn_header h, inner;
	uint32_t corr = ++g.corr;
	long mlen = sipc_encode_admin(msg, sizeof(msg), corr, req, len);
	TL_EQ(mlen, SN_HEADER_BYTES + len);
	peer_send(msg, (size_t)mlen);
	if (expect)
		expect_op(s, expect, answer);
	long n = peer_recv(buf, &h);
	TL_EQ(h.opcode, SIPC_ADMIN | SN_RESPONSE);
	TL_EQ(h.corr, corr);
	const uint8_t *resp;
	size_t rlen;
	TL_OK(sipc_decode_admin_reply(buf, (size_t)n, &resp, &rlen));
	TL_EQ(sn_header_parse(resp, rlen, 4096, &inner), rlen);
	TL_EQ(inner.corr, 4242);
	if (inner.opcode == (SN_CREATE_TOPIC | SN_RESPONSE) && id)
		TL_OK(sn_decode_create_topic_resp(resp, rlen, id));
	return inner.error;
}

static int16_t admin_create(const char *name, int32_t partitions,
			    uint8_t expect, int16_t answer, struct seen *s,
			    uint32_t *id)
{
	uint8_t req[512];
	struct sn_create_topic r = { .partitions = partitions, .name = name,
				     .name_len = (uint16_t)strlen(name) };
	long n = sn_encode_create_topic(req, sizeof(req), 4242, &r);
	TL_TRUE(n > 0);
	return admin(req, (size_t)n, expect, answer, s, id);
}

static int16_t admin_delete(const char *name, uint8_t expect, struct seen *s)
{
	uint8_t req[512];
	long n = sn_encode_delete_topic(req, sizeof(req), 4242, name,
					(uint16_t)strlen(name));
	TL_TRUE(n > 0);
	return admin(req, (size_t)n, expect, 0, s, NULL);
}

static void stop_daemon(void)
{
	TL_OK(kill(g.pid, SIGTERM));
	TL_EQ(wait_exit(g.pid, 5000), 0);
	g.pid = -1;
}

/* The peer listens as uid (SO_PEERCRED reports the listener's effective
 * uid at listen()). */
static void peer_listen_as(uid_t uid)
{
	TL_OK(chmod(g.dir, 0777)); /* so uid may bind there */
	TL_OK(seteuid(uid));
	peer_listen();
	TL_OK(seteuid(0));
	TL_OK(chmod(g.dir, 0700));
}

/* Does the log contain s?  Waits up to WAIT_MS. */
static int log_shows(const char *s)
{
	for (int i = 0; i < WAIT_MS / 50; i++) {
		uint8_t *text;
		long long n = tl_read_file(g.log, &text);
		int found = n > 0 && memmem(text, (size_t)n, s, strlen(s));
		if (n >= 0)
			free(text); /* an empty file is a 1-byte buffer too */
		if (found)
			return 1;
		usleep(50 * 1000);
	}
	return 0;
}

static void test_refuses_foreign_peer(void **state)
{
	(void)state;
	static uint8_t buf[SIPC_MAX_MESSAGE];
	struct seen s;
	if (geteuid() != 0)
		skip(); /* needs root to listen as another uid */
	/* a socket served by nobody (65534): sluice-control connects, sees
	 * the uid, closes without sending anything */
	peer_listen_as(65534);
	start_daemon();
	TL_TRUE(log_shows("is served by uid 65534"));
	int refused = 0;
	for (int i = 0; i < 4; i++) { /* bounded: each retry is 2 s apart */
		struct pollfd p = { .fd = g.lfd, .events = POLLIN };
		if (poll(&p, 1, 100) != 1)
			break;
		int fd = accept4(g.lfd, NULL, NULL, SOCK_CLOEXEC);
		TL_TRUE(fd >= 0);
		p = (struct pollfd){ .fd = fd, .events = POLLIN };
		TL_EQ(poll(&p, 1, WAIT_MS), 1);
		TL_EQ(recv(fd, buf, sizeof(buf), 0), 0); /* no HELLO: EOF */
		close(fd);
		refused++;
	}
	TL_TRUE(refused >= 1);
	/* the same path served by our uid: the usual sync */
	peer_close();
	peer_listen();
	peer_sync(&s);
	stop_daemon();
}

static void test_sync_and_repush(void **state)
{
	(void)state;
	struct seen s;
	TL_EQ(cli("-o", "udp_port=nope", "topic", "list", NULL), 2);
	TL_EQ(cli("topic", "create", "alpha", "--partitions", "2"), 0);
	TL_EQ(cli("topic", "create", "beta", NULL, NULL), 0);
	TL_EQ(cli("topic", "create", "beta", NULL, NULL), 1);
	/* the daemon starts first: sluiced "is not up yet" */
	start_daemon();
	usleep(300 * 1000);
	peer_listen();
	peer_sync(&s);
	TL_EQ(s.puts, 2);
	TL_EQ(s.dels, 0);
	int a = put_index(&s, "alpha"), b = put_index(&s, "beta");
	TL_TRUE(a >= 0 && b >= 0);
	TL_EQ(s.put[a].topic_id, 1);
	TL_EQ(s.put[a].partitions, 2);
	TL_EQ(s.put[a].retention_ms, 168ll * 3600000);
	TL_EQ(s.put[b].topic_id, 2);
	/* local admin while the daemon runs: pushed */
	TL_EQ(cli("topic", "create", "gamma", "--durability", "group"), 0);
	expect_op(&s, SIPC_TOPIC_PUT, 0);
	TL_EQ(s.put[0].topic_id, 3);
	TL_EQ(s.put[0].durability, 1);
	TL_EQ(cli("topic", "delete", "alpha", NULL, NULL), 0);
	expect_op(&s, SIPC_TOPIC_DELETE, 0);
	TL_EQ(s.del_id[0], 1);
	TL_TRUE(!strcmp(s.del_name[0], "alpha"));
	/* sluiced restarts: everything again */
	peer_close();
	usleep(200 * 1000);
	peer_listen();
	peer_sync(&s);
	TL_EQ(s.puts, 2);
	TL_TRUE(put_index(&s, "beta") >= 0 && put_index(&s, "gamma") >= 0);
	TL_EQ(s.dels, 1); /* the tombstone of alpha, for a sluiced that missed it */
	/* a delete while sluiced is down reaches it at the next sync */
	peer_close();
	TL_EQ(cli("topic", "delete", "beta", NULL, NULL), 0);
	usleep(500 * 1000);
	peer_listen();
	peer_sync(&s);
	TL_EQ(s.puts, 1);
	TL_TRUE(put_index(&s, "gamma") >= 0);
	TL_EQ(s.dels, 2);
	stop_daemon();
}

static void test_admin_round_trip(void **state)
{
	(void)state;
	struct seen s;
	uint32_t id = 0;
	start_daemon();
	peer_listen();
	peer_sync(&s);
	TL_EQ(s.puts, 0);
	TL_EQ(admin_create("orders", 4, SIPC_TOPIC_PUT, 0, &s, &id), 0);
	TL_EQ(id, 1);
	TL_EQ(s.put[0].topic_id, 1);
	TL_EQ(s.put[0].partitions, 4);
	TL_EQ(s.put[0].segment_bytes, 1ll << 30);
	TL_TRUE(!strcmp(s.put_name[0], "orders"));
	TL_EQ(admin_create("orders", 1, 0, 0, &s, &id),
	      SN_ERR_TOPIC_ALREADY_EXISTS);
	TL_EQ(id, 0);
	TL_EQ(admin_create("zero", 0, 0, 0, &s, &id),
	      SN_ERR_INVALID_PARTITIONS);
	TL_EQ(admin_create("big", 1025, 0, 0, &s, &id),
	      SN_ERR_INVALID_PARTITIONS);
	TL_EQ(admin_create("bad/name", 1, 0, 0, &s, &id),
	      SN_ERR_INVALID_TOPIC_EXCEPTION);
	TL_EQ(admin_create("..", 1, 0, 0, &s, &id),
	      SN_ERR_INVALID_TOPIC_EXCEPTION);
	TL_EQ(admin_delete("nope", 0, &s), SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	TL_EQ(admin_delete("orders", SIPC_TOPIC_DELETE, &s), 0);
	TL_EQ(s.del_id[0], 1);
	TL_EQ(admin_delete("orders", 0, &s), SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	/* sluiced fails to open the logs: the client hears it */
	TL_EQ(admin_create("disk", 1, SIPC_TOPIC_PUT,
			   SN_ERR_KAFKA_STORAGE_ERROR, &s, &id),
	      SN_ERR_KAFKA_STORAGE_ERROR);
	/* a new name gets a new id, never 1 again */
	TL_EQ(admin_create("orders", 2, SIPC_TOPIC_PUT, 0, &s, &id), 0);
	TL_EQ(id, 3);
	stop_daemon();
	TL_EQ(cli("topic", "describe", "orders", NULL, NULL), 0);
}

static void test_malformed_reply(void **state)
{
	(void)state;
	static uint8_t buf[SIPC_MAX_MESSAGE];
	struct seen s;
	struct sn_header h;
	TL_EQ(cli("topic", "create", "first", NULL, NULL), 0);
	start_daemon();
	peer_listen();
	peer_sync(&s);
	TL_EQ(s.puts, 1);
	TL_EQ(cli("topic", "create", "second", NULL, NULL), 0);
	long n = peer_recv(buf, &h);
	TL_EQ(h.opcode, SIPC_TOPIC_PUT);
	TL_TRUE(n > 0);
	/* the reply with a byte after its header */
	uint8_t r[SN_HEADER_BYTES + 1] = { 0 };
	sn_header_put(r, SIPC_TOPIC_PUT | SN_RESPONSE, sizeof(r), h.corr, 0);
	peer_send(r, sizeof(r));
	TL_EQ(peer_recv(buf, &h), 0); /* dropped */
	TL_TRUE(log_shows("malformed message from sluiced (opcode 0xc2, "
			  "17 bytes)"));
	close(g.fd);
	g.fd = -1;
	peer_sync(&s);
	TL_EQ(s.puts, 2);
	TL_TRUE(put_index(&s, "first") >= 0 && put_index(&s, "second") >= 0);
	stop_daemon();
}

static void test_sigkill_restart(void **state)
{
	(void)state;
	struct seen s;
	uint32_t id = 0, id2 = 0;
	start_daemon();
	peer_listen();
	peer_sync(&s);
	TL_EQ(admin_create("durable", 3, SIPC_TOPIC_PUT, 0, &s, &id), 0);
	TL_TRUE(id > 0);
	/* one daemon per control_dir */
	pid_t second = spawn(NULL, 0);
	TL_EQ(wait_exit(second, 5000), 1);
	TL_OK(kill(g.pid, SIGKILL));
	waitpid(g.pid, NULL, 0);
	g.pid = -1;
	uint8_t buf[SIPC_MAX_MESSAGE];
	struct sn_header h;
	TL_EQ(peer_recv(buf, &h), 0); /* the peer sees the close */
	close(g.fd);
	g.fd = -1;
	start_daemon();
	peer_sync(&s);
	TL_EQ(s.puts, 1);
	TL_EQ(s.put[0].topic_id, id);
	TL_EQ(s.put[0].partitions, 3);
	TL_TRUE(!strcmp(s.put_name[0], "durable"));
	TL_EQ(admin_create("after", 1, SIPC_TOPIC_PUT, 0, &s, &id2), 0);
	TL_TRUE(id2 > id);
	stop_daemon();
}

int main(void)
{
	if (!control_bin() || access(control_bin(), X_OK)) {
		fprintf(stderr, "SLUICE_CONTROL is not set to the "
			"sluice-control binary; skipped\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sync_and_repush, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_admin_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_refuses_foreign_peer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sigkill_restart, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_malformed_reply, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
