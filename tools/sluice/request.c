/*
 * `sluice request` and `sluice respond`: request-reply and scatter-gather
 * over the native protocol (libsluice's sl_request, sl_queue, sl_reply).
 *
 *   request TOPIC [MESSAGE] [--gather N] [--timeout-ms MS]
 *       sends MESSAGE (else all of stdin) to TOPIC with a temporary reply
 *       topic and a correlation id in its headers, and prints each reply's
 *       value on its own line as it comes, until N replies (1) or MS
 *       (5000) have passed.  Exit 0 with at least one reply (and, with
 *       --gather, "N of M replies" on stderr), 1 with none.
 *   respond TOPIC [--group G] [--exec CMD] [--count N] [--idle-ms MS]
 *       consumes TOPIC as a queue in group G (TOPIC), each message's value
 *       given to `sh -c CMD` on stdin (without --exec: the value itself is
 *       the answer), and its output (one trailing newline dropped) sent to
 *       the message's reply topic when it names one; the message is
 *       accepted once the broker holds the reply.  A command that exits
 *       non-zero releases its message for another try after a second (a
 *       dead letter after the broker's delivery limit).  Stops after N
 *       messages, or MS without one (both: never, by default).
 *
 *   route add NAME --from PATTERN --to TOPIC [--header K=V|K]... [--any]
 *       [--direct]   a routing rule (docs/queues.md#routing-rules), added
 *       or replaced
 *   route list | route delete NAME
 *
 * Exit codes: 0 done, 1 a failure (printed), 2 usage.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/sluice/cli.h"

#define VALUE_MAX (1u << 20)
#define REPLY_TOPIC_WAIT_MS 5000 /* a topic just made, unknown here */

static int read_all(FILE *f, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);
	if (!b)
		return -ENOMEM;
	for (;;) {
		if (n == cap) {
			if (cap >= VALUE_MAX) {
				free(b);
				return -EMSGSIZE;
			}
			char *nb = realloc(b, cap * 2);
			if (!nb) {
				free(b);
				return -ENOMEM;
			}
			b = nb;
			cap *= 2;
		}
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	*out = b;
	*len = n;
	return 0;
}

struct printed {
	int n;
};

static void print_reply(void *arg, const struct sl_message *m)
{
	struct printed *p = arg;
	p->n++;
	fwrite(m->value ? m->value : "", 1, m->vlen, stdout);
	fputc('\n', stdout);
	fflush(stdout);
}

static int cmd_request(int argc, char **argv)
{
	const char *topic = NULL, *msg = NULL;
	int gather = 0, timeout = 5000;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--gather") && i + 1 < argc)
			gather = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc)
			timeout = atoi(argv[++i]);
		else if (argv[i][0] == '-' && argv[i][1])
			goto usage;
		else if (!topic)
			topic = argv[i];
		else if (!msg)
			msg = argv[i];
		else
			goto usage;
	}
	if (!topic || gather < 0 || timeout <= 0)
		goto usage;
	char *buf = NULL;
	size_t len;
	if (msg) {
		len = strlen(msg);
	} else {
		int rc = read_all(stdin, &buf, &len);
		if (rc)
			return cli_fail("reading the request from stdin", rc);
		msg = buf;
	}
	struct printed p = {0};
	int want = gather ? gather : 1;
	int rc = sl_request(cli_broker, topic, msg, len, want, timeout,
			    print_reply, &p);
	free(buf);
	if (rc < 0)
		return cli_fail("request", rc);
	if (gather)
		fprintf(stderr, "%d of %d replies\n", rc, want);
	if (!rc) {
		fprintf(stderr, "sluice: request: no reply within %d ms (is a "
			"responder consuming %s? sluice respond %s)\n",
			timeout, topic, topic);
		return 1;
	}
	return 0;
usage:
	fprintf(stderr, "usage: sluice request TOPIC [MESSAGE] [--gather N] "
		"[--timeout-ms MS]\n");
	return 2;
}

/* Run `sh -c cmd` with in on its stdin; its stdout into *out.  The exit
 * status (0 success), or -errno. */
static int run(const char *cmd, const void *in, size_t inlen, char **out,
	       size_t *outlen)
{
	int to[2], from[2];
	if (pipe(to))
		return -errno;
	if (pipe(from)) {
		close(to[0]);
		close(to[1]);
		return -errno;
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = -errno;
		close(to[0]);
		close(to[1]);
		close(from[0]);
		close(from[1]);
		return e;
	}
	if (pid == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		close(to[0]);
		close(to[1]);
		close(from[0]);
		close(from[1]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	size_t cap = 4096, n = 0, sent = 0;
	char *b = malloc(cap);
	int wfd = to[1], rfd = from[0], err = b ? 0 : -ENOMEM;
	if (!inlen) {
		close(wfd);
		wfd = -1;
	}
	while (rfd >= 0 && !err) {
		struct pollfd pf[2] = {{rfd, POLLIN, 0}, {wfd, POLLOUT, 0}};
		if (poll(pf, wfd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (wfd >= 0 && pf[1].revents) {
			ssize_t w = write(wfd, (const char *)in + sent,
					  inlen - sent);
			if (w > 0)
				sent += (size_t)w;
			if (w < 0 || sent == inlen) {
				close(wfd);
				wfd = -1;
			}
		}
		if (pf[0].revents) {
			if (n == cap) {
				char *nb = cap < VALUE_MAX ?
					realloc(b, cap * 2) : NULL;
				if (!nb) {
					err = -EMSGSIZE;
					break;
				}
				b = nb;
				cap *= 2;
			}
			ssize_t r = read(rfd, b + n, cap - n);
			if (r > 0) {
				n += (size_t)r;
			} else if (r == 0 || errno != EINTR) {
				close(rfd);
				rfd = -1;
			}
		}
	}
	if (wfd >= 0)
		close(wfd);
	if (rfd >= 0)
		close(rfd);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (err) {
		free(b);
		return err;
	}
	if (n && b[n - 1] == '\n')
		n--;
	*out = b;
	*outlen = n;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

struct delivered {
	int done, err;
};

static void on_delivered(void *opaque, int32_t partition, int64_t offset,
			 int err, void *arg)
{
	(void)partition;
	(void)offset;
	(void)arg;
	struct delivered *d = opaque;
	d->done = 1;
	d->err = err;
}

static int cmd_respond(int argc, char **argv)
{
	const char *topic = NULL, *group = NULL, *cmd = NULL;
	long count = -1, idle = -1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--group") && i + 1 < argc)
			group = argv[++i];
		else if (!strcmp(argv[i], "--exec") && i + 1 < argc)
			cmd = argv[++i];
		else if (!strcmp(argv[i], "--count") && i + 1 < argc)
			count = atol(argv[++i]);
		else if (!strcmp(argv[i], "--idle-ms") && i + 1 < argc)
			idle = atol(argv[++i]);
		else if (argv[i][0] == '-' || topic)
			goto usage;
		else
			topic = argv[i];
	}
	if (!topic)
		goto usage;
	if (!group)
		group = topic;
	signal(SIGPIPE, SIG_IGN);
	struct sl_queue *q;
	/* a topic made a moment ago may not be known yet to every broker
	 * of a cluster */
	int rc;
	for (int tries = 0;; tries++) {
		rc = sl_queue_create(cli_broker, group, topic, NULL, &q);
		if (rc != sl_err_broker(3) || tries * 100 >= REPLY_TOPIC_WAIT_MS)
			break;
		usleep(100 * 1000);
	}
	if (rc)
		return cli_fail("joining the queue", rc);
	struct sl_producer_opts po;
	sl_producer_opts_default(&po);
	po.cb = on_delivered;
	po.linger_ms = 0;
	struct sl_producer *p;
	if ((rc = sl_producer_create(cli_broker, &po, &p))) {
		sl_queue_destroy(q);
		return cli_fail("connecting the reply producer", rc);
	}
	fprintf(stderr, "responding to %s as group %s\n", topic, group);
	int ret = 0;
	long handled = 0;
	while (count < 0 || handled < count) {
		struct sl_queue_message m;
		rc = sl_queue_receive(q, &m, idle >= 0 ? (int)idle : 1000);
		if (rc < 0) {
			ret = cli_fail("receiving", rc);
			break;
		}
		if (!rc) {
			if (idle >= 0)
				break;
			continue;
		}
		char *out = NULL;
		size_t olen = 0;
		int st = 0;
		if (cmd) {
			st = run(cmd, m.msg.value, m.msg.vlen, &out, &olen);
			if (st < 0) {
				ret = cli_fail("running the command", st);
				break;
			}
		}
		if (st) {
			fprintf(stderr, "sluice: respond: the command exited "
				"%d on %d/%lld (delivery %u): released for "
				"another try\n", st, m.msg.partition,
				(long long)m.msg.offset, m.delivery_count);
			free(out);
			(void)sl_queue_ack(q, m.msg.partition, m.msg.offset,
					   SL_ACK_RELEASE, 1000);
			continue;
		}
		const void *to;
		size_t tl;
		if (sl_message_header(&m.msg, SL_HEADER_REPLY_TO, &to, &tl)) {
			/* a reply topic made a moment ago may not be known
			 * yet to every broker of a cluster: unknown for
			 * REPLY_TOPIC_WAIT_MS means gone */
			for (int tries = 0;; tries++) {
				struct delivered d = {0, 0};
				rc = sl_reply(p, &m.msg, cmd ? out : m.msg.value,
					      cmd ? olen : m.msg.vlen, &d);
				if (!rc)
					rc = sl_producer_flush(p, 30000);
				if (!rc && d.err)
					rc = d.err;
				if (rc != sl_err_broker(3) ||
				    tries * 100 >= REPLY_TOPIC_WAIT_MS)
					break;
				usleep(100 * 1000);
			}
			if (rc == sl_err_broker(3)) {
				/* UNKNOWN_TOPIC_OR_PARTITION: the requester
				 * gave up and its reply topic went */
				fprintf(stderr, "sluice: respond: %d/%lld: its "
					"reply topic is gone (the requester "
					"gave up); accepted\n",
					m.msg.partition,
					(long long)m.msg.offset);
				rc = 0;
			}
			if (rc) {
				free(out);
				ret = cli_fail("sending the reply", rc);
				break;
			}
		}
		free(out);
		rc = sl_queue_ack(q, m.msg.partition, m.msg.offset,
				  SL_ACK_ACCEPT, 0);
		if (rc)
			fprintf(stderr, "sluice: respond: accepting %d/%lld: "
				"%s\n", m.msg.partition,
				(long long)m.msg.offset, sl_error_message(rc));
		handled++;
	}
	sl_producer_destroy(p);
	sl_queue_destroy(q);
	fprintf(stderr, "%ld handled\n", handled);
	return ret;
usage:
	fprintf(stderr, "usage: sluice respond TOPIC [--group G] [--exec CMD] "
		"[--count N] [--idle-ms MS]\n");
	return 2;
}

int cmd_request_reply(int argc, char **argv)
{
	if (!strcmp(argv[0], "request"))
		return cmd_request(argc, argv);
	return cmd_respond(argc, argv);
}

static void print_rule(void *arg, const char *name, const char *rule,
		       uint64_t copied)
{
	(void)arg;
	printf("%-20s %-60s copied %llu\n", name, rule,
	       (unsigned long long)copied);
}

int cmd_route(int argc, char **argv)
{
	if (argc < 2)
		goto usage;
	const char *sub = argv[1];
	char rule[2048] = "", err[512];
	size_t n = 0;
	const char *name = NULL;
	if (!strcmp(sub, "add")) {
		for (int i = 2; i < argc; i++) {
			const char *w = NULL, *v = NULL;
			if (!strcmp(argv[i], "--from") && i + 1 < argc)
				w = "from=", v = argv[++i];
			else if (!strcmp(argv[i], "--to") && i + 1 < argc)
				w = "to=", v = argv[++i];
			else if (!strcmp(argv[i], "--header") && i + 1 < argc)
				w = "header:", v = argv[++i];
			else if (!strcmp(argv[i], "--any"))
				w = "any", v = "";
			else if (!strcmp(argv[i], "--direct"))
				w = "direct", v = "";
			else if (argv[i][0] != '-' && !name)
				name = argv[i];
			else
				goto usage;
			if (w) {
				if (strchr(v, ' ')) {
					fprintf(stderr, "sluice: route: '%s': "
						"a rule's words have no "
						"spaces\n", v);
					return 2;
				}
				int k = snprintf(rule + n, sizeof(rule) - n,
						 "%s%s%s", n ? " " : "", w, v);
				if (k < 0 || (size_t)k >= sizeof(rule) - n)
					goto usage;
				n += (size_t)k;
			}
		}
		if (!name || !n)
			goto usage;
	} else if (!strcmp(sub, "delete")) {
		if (argc != 3)
			goto usage;
		name = argv[2];
	} else if (strcmp(sub, "list") || argc != 2) {
		goto usage;
	}
	struct sl_client *c = cli_connect();
	if (!c)
		return 1;
	int rc;
	err[0] = 0;
	if (!strcmp(sub, "add"))
		rc = sl_route_put(c, name, rule, err, sizeof(err));
	else if (!strcmp(sub, "delete"))
		rc = sl_route_delete(c, name, err, sizeof(err));
	else
		rc = sl_route_list(c, print_rule, NULL);
	sl_client_destroy(c);
	if (rc < 0) {
		if (err[0])
			fprintf(stderr, "sluice: route %s: %s\n", sub, err);
		else
			cli_fail("route", rc);
		return 1;
	}
	if (!strcmp(sub, "add"))
		printf("rule %s: %s\n", name, rule);
	else if (!strcmp(sub, "delete"))
		printf("rule %s deleted\n", name);
	return 0;
usage:
	fprintf(stderr, "usage: sluice route add NAME --from PATTERN --to TOPIC "
		"[--header K=V|K]... [--any] [--direct]\n"
		"       sluice route list | sluice route delete NAME\n");
	return 2;
}
