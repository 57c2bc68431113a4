/*
 * sluice-control: the control plane process.
 *
 *   sluice-control [-c FILE] [-o key=value ...]          run the daemon
 *   sluice-control [-c FILE] [-o ...] topic create NAME [--partitions N]
 *       [--retention-hours H] [--retention-bytes B] [--segment-mb M]
 *       [--durability every_append|group]
 *   sluice-control ... topic delete NAME | topic list | topic describe NAME
 *   sluice-control ... config                             effective config
 *
 * Configuration: -c FILE, else ./sluice.conf when it exists, else the
 * built-in defaults; -o overrides one key (repeatable).  A bad file or
 * value prints one line (file:line: what) and exits 2.
 *
 * The daemon owns the topic metadata (control/metadata.h) and drives
 * sluiced over the control socket (control/ipc.h).  The topic commands
 * edit the same store under its lock, whether or not the daemon runs; the
 * daemon notices the file changed (checked every SL_META_POLL_MS) and
 * pushes the difference to sluiced.
 *
 * Event loop: one thread, poll() on a signalfd and the link socket, with a
 * timeout bounded by SL_META_POLL_MS; each wake does bounded work.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "control/admin.h"
#include "control/groups.h"
#include "control/ipc.h"
#include "control/log.h"
#include "control/metadata.h"
#include "proto/config.h"
#include "storage/disk.h"

#define SL_META_POLL_MS 200
#define EXIT_USAGE 2

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluice-control [-c FILE] [-o key=value ...] [COMMAND]\n"
		"  (no command)          run the control plane daemon\n"
		"  topic create NAME [--partitions N] [--retention-hours H]\n"
		"        [--retention-bytes B] [--segment-mb M]\n"
		"        [--durability every_append|group]\n"
		"  topic delete NAME\n"
		"  topic list\n"
		"  topic describe NAME\n"
		"  config                print the effective configuration\n"
		"  -c FILE   config file (default ./sluice.conf if it exists,\n"
		"            else built-in defaults)\n"
		"  -o k=v    override one key (repeatable)\n");
}

static int parse_i64(const char *s, long long lo, long long hi,
		     long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static void print_topic_row(const struct sl_topic *t)
{
	printf("%-6u %-32s %10d %16lld %16lld %14lld %s\n", t->id, t->name,
	       t->partitions, (long long)t->retention_ms,
	       (long long)t->retention_bytes, (long long)t->segment_bytes,
	       t->durability ? "group" : "every_append");
}

static int open_meta(struct sl_meta **out, const struct sl_config *c)
{
	char err[1024];
	struct sl_meta *m = malloc(sizeof(*m));
	if (!m) {
		fprintf(stderr, "sluice-control: out of memory\n");
		return 1;
	}
	int rc = sl_meta_open(m, c->control_dir, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "sluice-control: %s\n", err);
		free(m);
		return 1;
	}
	*out = m;
	return 0;
}

static int cmd_topic(const struct sl_config *c, int argc, char **argv)
{
	char err[1024];
	struct sl_meta *m;
	if (argc < 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *sub = argv[0];
	if (!strcmp(sub, "list")) {
		if (argc != 1) {
			usage(stderr);
			return EXIT_USAGE;
		}
		if (open_meta(&m, c))
			return 1;
		printf("%-6s %-32s %10s %16s %16s %14s %s\n", "ID", "NAME",
		       "PARTITIONS", "RETENTION_MS", "RETENTION_BYTES",
		       "SEGMENT_BYTES", "DURABILITY");
		for (uint32_t i = 0; i < m->count; i++)
			print_topic_row(&m->topics[i]);
		sl_meta_close(m);
		free(m);
		return 0;
	}
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[1];
	size_t name_len = strlen(name);
	if (!sn_topic_name_valid(name, name_len)) {
		fprintf(stderr, "sluice-control: '%s' is not a valid topic name "
			"(1-200 of A-Z a-z 0-9 . _ -, not . or ..)\n", name);
		return EXIT_USAGE;
	}
	if (!strcmp(sub, "describe") || !strcmp(sub, "delete")) {
		if (argc != 2) {
			usage(stderr);
			return EXIT_USAGE;
		}
		if (open_meta(&m, c))
			return 1;
		int rc = 0;
		if (!strcmp(sub, "describe")) {
			const struct sl_topic *t = sl_meta_find(m, name,
								name_len);
			if (t) {
				printf("name: %s\nid: %u\npartitions: %d\n"
				       "retention_ms: %lld\nretention_bytes: "
				       "%lld\nsegment_bytes: %lld\n"
				       "durability: %s\n", t->name, t->id,
				       t->partitions,
				       (long long)t->retention_ms,
				       (long long)t->retention_bytes,
				       (long long)t->segment_bytes,
				       t->durability ? "group"
						     : "every_append");
			} else {
				fprintf(stderr, "sluice-control: topic '%s' "
					"does not exist\n", name);
				rc = 1;
			}
		} else {
			struct sl_topic gone;
			long r = sl_admin_delete(m, name, name_len, &gone, err,
						 sizeof(err));
			if (r < 0) {
				fprintf(stderr, "sluice-control: %s\n", err);
				rc = 1;
			} else {
				printf("deleted topic '%s' (id %u)\n", name,
				       gone.id);
			}
		}
		sl_meta_close(m);
		free(m);
		return rc;
	}
	if (strcmp(sub, "create")) {
		usage(stderr);
		return EXIT_USAGE;
	}
	struct sn_create_topic r = {
		.partitions = c->default_partitions,
		.durability = (uint8_t)c->durability,
		.name = name,
		.name_len = (uint16_t)name_len,
	};
	for (int i = 2; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1]
							      : NULL;
		long long v;
		if (!val) {
			fprintf(stderr, "sluice-control: %s needs a value\n",
				opt);
			return EXIT_USAGE;
		}
		i++;
		if (!strcmp(opt, "--partitions")) {
			if (parse_i64(val, 1, SN_PARTITIONS_MAX, &v))
				goto bad_value;
			r.partitions = (int32_t)v;
		} else if (!strcmp(opt, "--retention-hours")) {
			if (parse_i64(val, -1, 1000000, &v) || v == 0)
				goto bad_value;
			r.retention_ms = v < 0 ? -1 : v * 3600000;
		} else if (!strcmp(opt, "--retention-bytes")) {
			if (parse_i64(val, -1, INT64_MAX, &v) || v == 0)
				goto bad_value;
			r.retention_bytes = v;
		} else if (!strcmp(opt, "--segment-mb")) {
			if (parse_i64(val, 1, 2047, &v))
				goto bad_value;
			r.segment_bytes = v << 20;
		} else if (!strcmp(opt, "--durability")) {
			if (!strcmp(val, "every_append"))
				r.durability = 0;
			else if (!strcmp(val, "group"))
				r.durability = 1;
			else
				goto bad_value;
		} else {
			fprintf(stderr, "sluice-control: unknown option '%s'\n",
				opt);
			usage(stderr);
			return EXIT_USAGE;
		}
		continue;
bad_value:
		fprintf(stderr, "sluice-control: %s: bad value '%s' (partitions "
			"1..1024; retention hours -1 or 1..1000000; retention "
			"bytes -1 or > 0; segment MiB 1..2047; durability "
			"every_append or group)\n", opt, val);
		return EXIT_USAGE;
	}
	struct sl_topic t, made;
	int rc = sl_admin_topic_from(c, &r, &t);
	if (rc) {
		fprintf(stderr, "sluice-control: cannot create '%s': %s\n",
			name, sn_error_message(-rc));
		return EXIT_USAGE;
	}
	if (open_meta(&m, c))
		return 1;
	long id = sl_admin_create(m, &t, &made, err, sizeof(err));
	if (id < 0) {
		fprintf(stderr, "sluice-control: %s\n", err);
		rc = 1;
	} else {
		printf("created topic '%s' (id %ld, %d partitions)\n", name,
		       id, made.partitions);
	}
	sl_meta_close(m);
	free(m);
	return rc;
}

/* The daemon's instance lock: one daemon per control_dir. */
static int instance_lock(const struct sl_config *c)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/daemon.pid", c->control_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		sl_log("%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		char pid[32] = "?";
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		if (n > 0)
			pid[strcspn(pid, "\n")] = 0;
		sl_log("another sluice-control (pid %s) runs on control_dir "
		       "%s; stop it first", pid, c->control_dir);
		close(fd);
		return -1;
	}
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)n, 0) != n)
		sl_log("%s: cannot write pid: %s", path, strerror(errno));
	return fd; /* held until exit */
}

static int run_daemon(const struct sl_config *c)
{
	char err[1024], last_err[1024] = "";
	struct sl_meta *m;
	static struct sl_link link;
	int rc = 1;

	signal(SIGPIPE, SIG_IGN);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL)) {
		sl_log("sigprocmask: %s", strerror(errno));
		return 1;
	}
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		sl_log("signalfd: %s", strerror(errno));
		return 1;
	}
	m = malloc(sizeof(*m));
	if (!m) {
		sl_log("out of memory");
		goto out_sfd;
	}
	if (sl_meta_open(m, c->control_dir, err, sizeof(err))) {
		sl_log("%s", err);
		goto out_free;
	}
	int lfd = instance_lock(c);
	if (lfd < 0)
		goto out_meta;
	if (sl_link_create(&link, c, m)) {
		sl_log("out of memory");
		goto out_lock;
	}
	char gdir[PATH_MAX];
	snprintf(gdir, sizeof(gdir), "%.4000s/groups", c->control_dir);
	struct sl_groups *groups = NULL;
	struct sl_groups_config gcfg = {c->offsets_retention_ms, NULL,
					&sdisk_posix};
	int grc = sl_groups_open(gdir, &gcfg, sl_link_kafka_reply, &link,
				 sl_now_ms(), &groups, err, sizeof(err));
	if (grc) {
		sl_log("consumer groups: %s", err);
		goto out_link;
	}
	link.groups = groups;
	sl_log("started: control_dir %s (%u topics, next id %u), "
	       "control_socket %s", c->control_dir, m->count, m->next_id,
	       c->control_socket);

	int64_t next_meta_check = 0;
	for (;;) {
		int64_t now = sl_now_ms();
		struct pollfd pfd[2] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = sl_link_fd(&link), .events = POLLIN },
		};
		int timeout = sl_link_timeout_ms(&link, now, SL_META_POLL_MS);
		int gt = sl_groups_tick(groups, now);
		if (gt >= 0 && gt < timeout)
			timeout = gt;
		int n = poll(pfd, pfd[1].fd >= 0 ? 2 : 1, timeout);
		if (n < 0 && errno != EINTR) {
			sl_log("poll: %s", strerror(errno));
			break;
		}
		if (n > 0 && (pfd[0].revents & POLLIN)) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				sl_log("exiting on %s", strsignal((int)
								  si.ssi_signo));
				rc = 0;
				break;
			}
		}
		now = sl_now_ms();
		if (now >= next_meta_check) {
			next_meta_check = now + SL_META_POLL_MS;
			if (sl_meta_changed(m) > 0) {
				if (sl_meta_reload(m, err, sizeof(err))) {
					if (strcmp(err, last_err))
						sl_log("re-reading metadata "
						       "failed, keeping the "
						       "previous topics: %s",
						       err);
					snprintf(last_err, sizeof(last_err),
						 "%s", err);
				} else {
					last_err[0] = 0;
					sl_log("metadata changed on disk: %u "
					       "topics", m->count);
					sl_link_changed(&link, now);
				}
			}
		}
		sl_link_do_work(&link, now);
	}
	link.groups = NULL;
	sl_groups_close(groups);
out_link:
	sl_link_destroy(&link);
out_lock:
	close(lfd);
out_meta:
	sl_meta_close(m);
out_free:
	free(m);
out_sfd:
	close(sfd);
	return rc;
}

int main(int argc, char **argv)
{
	struct sl_config cfg;
	char err[4096];
	const char *file = NULL;
	char *overrides[64];
	int n_over = 0, opt;

	sl_config_defaults(&cfg);
	while ((opt = getopt(argc, argv, "+c:o:h")) != -1) {
		switch (opt) {
		case 'c':
			file = optarg;
			break;
		case 'o':
			if (n_over == 64) {
				fprintf(stderr, "sluice-control: at most 64 "
					"-o overrides\n");
				return EXIT_USAGE;
			}
			overrides[n_over++] = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (sl_config_setup(&cfg, file, (const char *const *)overrides,
			    (unsigned)n_over, err, sizeof(err))) {
		fprintf(stderr, "sluice-control: %s\n", err);
		return EXIT_USAGE;
	}
	if (optind == argc)
		return run_daemon(&cfg);
	if (!strcmp(argv[optind], "topic"))
		return cmd_topic(&cfg, argc - optind - 1, argv + optind + 1);
	if (!strcmp(argv[optind], "config") && optind + 1 == argc) {
		sl_config_dump(&cfg, stdout);
		return 0;
	}
	fprintf(stderr, "sluice-control: unknown command '%s'\n", argv[optind]);
	usage(stderr);
	return EXIT_USAGE;
}
