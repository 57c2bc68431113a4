/*
 * sluice: the command-line tool on libsluice.
 *
 *   sluice [-b host:port] topic create|list|describe|delete ...
 *   sluice [-b host:port] produce TOPIC [options]   lines from stdin
 *   sluice [-b host:port] consume TOPIC [options]   values to stdout
 *   sluice status [--telemetry PATH]
 *   sluice [-b host:port] perf produce|consume [options]
 *   sluice cluster status [--bootstrap host:port,...] [--json]   (Kafka)
 *
 * docs/client.md is the reference.  With no -b, every command talks to
 * 127.0.0.1:9093, the broker ./tools/run starts.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/native.h"
#include "tools/sluice/cli.h"

const char *cli_broker;

static const char *broker_text(void)
{
	return cli_broker ? cli_broker : "127.0.0.1:9093";
}

int cli_fail(const char *what, int rc)
{
	if (rc == -ECONNREFUSED || rc == -ETIMEDOUT || rc == -EHOSTUNREACH ||
	    rc == -ENETUNREACH)
		fprintf(stderr,
			"sluice: cannot connect to %s: is the broker running? "
			"start it with ./tools/run (or pass -b host:port)\n",
			broker_text());
	else
		fprintf(stderr, "sluice: %s: %s\n", what, sl_error_message(rc));
	return 1;
}

struct sl_client *cli_connect(void)
{
	struct sl_client *c;
	int rc = sl_client_create(cli_broker, 5000, &c);
	if (rc) {
		cli_fail("connect", rc);
		return NULL;
	}
	return c;
}

int cli_parse_acks(const char *s, int *acks)
{
	if (!strcmp(s, "0"))
		*acks = 0;
	else if (!strcmp(s, "1"))
		*acks = 1;
	else if (!strcmp(s, "all") || !strcmp(s, "-1"))
		*acks = -1;
	else
		return -1;
	return 0;
}

static int topic_missing(const char *name)
{
	fprintf(stderr,
		"sluice: topic '%s' does not exist; create it with: sluice "
		"topic create %s\n", name, name);
	return 1;
}

static void print_topic(const struct sl_topic_info *t)
{
	char ret[32];
	if (t->retention_ms < 0)
		snprintf(ret, sizeof(ret), "forever");
	else if (t->retention_ms % 3600000 == 0)
		snprintf(ret, sizeof(ret), "%lldh",
			 (long long)(t->retention_ms / 3600000));
	else
		snprintf(ret, sizeof(ret), "%lldms", (long long)t->retention_ms);
	printf("%-30s id %-5u partitions %-5d retention %-8s durability %s",
	       t->name, t->topic_id, t->partitions, ret,
	       t->durability ? "group" : "every_append");
	if (t->retention_bytes >= 0)
		printf(" retention_bytes %lld", (long long)t->retention_bytes);
	if (t->segment_bytes > 0)
		printf(" segment_bytes %lld", (long long)t->segment_bytes);
	printf("\n");
}

static void topic_usage(void)
{
	fprintf(stderr,
		"usage: sluice topic create NAME [--partitions N] "
		"[--retention-hours H] [--durability every_append|group]\n"
		"       sluice topic list\n"
		"       sluice topic describe NAME\n"
		"       sluice topic delete NAME\n");
}

int cmd_topic(int argc, char **argv)
{
	if (argc < 2) {
		topic_usage();
		return 2;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "list")) {
		struct sl_client *c = cli_connect();
		if (!c)
			return 1;
		static struct sl_topic_info t[4096];
		int n = sl_topic_list(c, t, 4096);
		sl_client_destroy(c);
		if (n < 0)
			return cli_fail("topic list", n);
		if (n == 0)
			printf("no topics; create one with: sluice topic create NAME\n");
		for (int i = 0; i < n && i < 4096; i++)
			print_topic(&t[i]);
		return 0;
	}
	if (argc < 3 || argv[2][0] == '-') {
		topic_usage();
		return 2;
	}
	const char *name = argv[2];
	if (!sn_topic_name_valid(name, strlen(name))) {
		fprintf(stderr, "sluice: '%s' is not a valid topic name: use 1-200 "
			"characters of [A-Za-z0-9._-], not '.' or '..'\n", name);
		return 2;
	}
	if (!strcmp(sub, "create")) {
		struct sl_topic_config cfg = { .partitions = 1 };
		static const struct option lo[] = {
			{ "partitions", required_argument, 0, 'p' },
			{ "retention-hours", required_argument, 0, 'r' },
			{ "durability", required_argument, 0, 'd' },
			{ 0, 0, 0, 0 } };
		int ch;
		optind = 3;
		while ((ch = getopt_long(argc, argv, "p:r:d:", lo, NULL)) != -1) {
			char *end;
			switch (ch) {
			case 'p':
				cfg.partitions = (int32_t)strtol(optarg, &end, 10);
				if (*end || cfg.partitions < 1 ||
				    cfg.partitions > SN_PARTITIONS_MAX) {
					fprintf(stderr, "sluice: --partitions must be 1 to 1024\n");
					return 2;
				}
				break;
			case 'r': {
				double h = strtod(optarg, &end);
				if (*end || (h <= 0 && h != -1)) {
					fprintf(stderr, "sluice: --retention-hours must be > 0 (or -1 for forever)\n");
					return 2;
				}
				cfg.retention_ms = h < 0 ? -1 : (int64_t)(h * 3600000.0);
				break;
			}
			case 'd':
				if (!strcmp(optarg, "every_append"))
					cfg.durability = SL_DURABILITY_EVERY_APPEND;
				else if (!strcmp(optarg, "group"))
					cfg.durability = SL_DURABILITY_GROUP;
				else {
					fprintf(stderr, "sluice: --durability is every_append or group\n");
					return 2;
				}
				break;
			default:
				topic_usage();
				return 2;
			}
		}
		struct sl_client *c = cli_connect();
		if (!c)
			return 1;
		long id = sl_topic_create(c, name, &cfg);
		sl_client_destroy(c);
		if (id == sl_err_broker(SN_ERR_TOPIC_ALREADY_EXISTS)) {
			fprintf(stderr, "sluice: topic '%s' already exists; see it with: sluice topic describe %s\n",
				name, name);
			return 1;
		}
		if (id < 0)
			return cli_fail("topic create", (int)id);
		printf("created topic '%s' (id %ld, %d partition%s)\n", name, id,
		       cfg.partitions, cfg.partitions == 1 ? "" : "s");
		return 0;
	}
	if (!strcmp(sub, "describe") || !strcmp(sub, "delete")) {
		struct sl_client *c = cli_connect();
		if (!c)
			return 1;
		int rc;
		struct sl_topic_info t;
		if (sub[1] == 'e' && sub[2] == 's') {
			rc = sl_topic_describe(c, name, &t);
			if (rc == 0) {
				print_topic(&t);
				for (int32_t i = 0; i < t.partitions && i < 1024; i++) {
					int64_t lo = -1, hi = -1;
					if (sl_list_offset(c, name, i, SL_OFFSET_BEGINNING, &lo) ||
					    sl_list_offset(c, name, i, SL_OFFSET_END, &hi))
						break;
					printf("  partition %-4d start %-12lld end %lld\n",
					       i, (long long)lo, (long long)hi);
				}
			}
		} else {
			rc = sl_topic_delete(c, name);
			if (rc == 0)
				printf("deleted topic '%s'\n", name);
		}
		sl_client_destroy(c);
		if (rc == sl_err_broker(SN_ERR_UNKNOWN_TOPIC_OR_PARTITION))
			return topic_missing(name);
		return rc ? cli_fail(sub, rc) : 0;
	}
	topic_usage();
	return 2;
}

/* ---- produce ---- */

struct produce_state {
	uint64_t ok, failed;
	int first_err;
};

static void produce_cb(void *opaque, int32_t partition, int64_t offset,
		       int err, void *arg)
{
	struct produce_state *s = arg;
	if (err) {
		s->failed++;
		if (!s->first_err)
			s->first_err = err;
	} else {
		s->ok++;
	}
}

int cmd_produce(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "key-separator", required_argument, 0, 'k' },
		{ "udp", no_argument, 0, 'u' },
		{ "tcp", no_argument, 0, 't' },
		{ "acks", required_argument, 0, 'a' },
		{ "partition", required_argument, 0, 'p' },
		{ "linger-ms", required_argument, 0, 'l' },
		{ "udp-addr", required_argument, 0, 'U' },
		{ "header", required_argument, 0, 'H' },
		{ 0, 0, 0, 0 } };
	struct sl_producer_opts o;
	sl_producer_opts_default(&o);
	int sep = -1;
	struct sl_header hdr[16];
	size_t nh = 0;
	int32_t partition = -1;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "k:a:p:", lo, NULL)) != -1) {
		switch (ch) {
		case 'k':
			if (strlen(optarg) != 1) {
				fprintf(stderr, "sluice: --key-separator takes one character\n");
				return 2;
			}
			sep = (unsigned char)optarg[0];
			break;
		case 'u': o.transport = SL_UDP; break;
		case 't': o.transport = SL_TCP; break;
		case 'a':
			if (cli_parse_acks(optarg, &o.acks)) {
				fprintf(stderr, "sluice: --acks is 0, 1 or all\n");
				return 2;
			}
			break;
		case 'p': partition = atoi(optarg); break;
		case 'l': o.linger_ms = (uint32_t)atoi(optarg); break;
		case 'H': {
			/* K=V, or K alone (a null value) */
			if (nh == sizeof(hdr) / sizeof(hdr[0])) {
				fprintf(stderr, "sluice: at most 16 --header\n");
				return 2;
			}
			char *eq = strchr(optarg, '=');
			hdr[nh++] = (struct sl_header){
				optarg, eq ? (size_t)(eq - optarg) : strlen(optarg),
				eq ? eq + 1 : NULL, eq ? strlen(eq + 1) : 0};
			break;
		}
		case 'U':
			/* datagrams to another address than the broker's
			 * (a DPDK port's dpdk_ip): UDP implied */
			o.udp_addr = optarg;
			o.transport = SL_UDP;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1)
		goto usage;
	const char *topic = argv[optind];
	struct produce_state st = { 0 };
	o.cb = produce_cb;
	o.cb_arg = &st;
	struct sl_producer *p;
	int rc = sl_producer_create(cli_broker, &o, &p);
	if (rc)
		return cli_fail("produce", rc);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int ret = 0;
	struct pollfd pfd = { .fd = 0, .events = POLLIN };
	for (;;) {
		/* interactive input: let linger expire between lines */
		while (poll(&pfd, 1, (int)o.linger_ms + 1) == 0)
			sl_producer_poll(p, 0);
		if ((n = getline(&line, &cap, stdin)) < 0)
			break;
		if (n && line[n - 1] == '\n')
			line[--n] = 0;
		const char *key = NULL, *val = line;
		size_t klen = 0, vlen = (size_t)n;
		if (sep >= 0) {
			char *s = memchr(line, sep, (size_t)n);
			if (s) {
				key = line;
				klen = (size_t)(s - line);
				val = s + 1;
				vlen = (size_t)n - klen - 1;
			}
		}
		rc = sl_produce_h(p, topic, partition, key, klen, val, vlen,
				  hdr, nh, NULL);
		if (rc == sl_err_broker(SN_ERR_UNKNOWN_TOPIC_OR_PARTITION)) {
			if (partition >= 0)
				fprintf(stderr, "sluice: topic '%s' has no partition %d; see: sluice topic describe %s\n",
					topic, partition, topic);
			else
				topic_missing(topic);
			ret = 1;
			break;
		}
		if (rc < 0) {
			ret = cli_fail("produce", rc);
			break;
		}
	}
	free(line);
	rc = sl_producer_flush(p, -1);
	sl_producer_destroy(p);
	if (rc)
		ret = cli_fail("flush", rc);
	if (st.failed) {
		fprintf(stderr, "sluice: %llu message(s) not delivered: %s\n",
			(unsigned long long)st.failed, sl_error_message(st.first_err));
		ret = 1;
	}
	if (o.acks != 0)
		fprintf(stderr, "%llu message(s) delivered\n", (unsigned long long)st.ok);
	return ret;
usage:
	fprintf(stderr, "usage: sluice produce TOPIC [--key-separator C] [--udp|--tcp] "
		"[--udp-addr HOST:PORT] [--acks 0|1|all] [--partition N] "
		"[--header K=V]...\n");
	return 2;
}

/* ---- consume ---- */

int cmd_consume(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "from-beginning", no_argument, 0, 'B' },
		{ "offset", required_argument, 0, 'o' },
		{ "partition", required_argument, 0, 'p' },
		{ "follow", no_argument, 0, 'f' },
		{ "count", required_argument, 0, 'c' },
		{ "print-key", no_argument, 0, 'K' },
		{ "print-offset", no_argument, 0, 'O' },
		{ "print-headers", no_argument, 0, 'H' },
		{ 0, 0, 0, 0 } };
	int from_beginning = 0, follow = 0, print_key = 0, print_offset = 0;
	int print_headers = 0;
	int64_t offset = -1, count = -1;
	int32_t partition = -1;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "o:p:c:f", lo, NULL)) != -1) {
		switch (ch) {
		case 'B': from_beginning = 1; break;
		case 'o': offset = atoll(optarg); break;
		case 'p': partition = atoi(optarg); break;
		case 'f': follow = 1; break;
		case 'c': count = atoll(optarg); break;
		case 'K': print_key = 1; break;
		case 'O': print_offset = 1; break;
		case 'H': print_headers = 1; break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1)
		goto usage;
	const char *topic = argv[optind];
	struct sl_client *c = cli_connect();
	if (!c)
		return 1;
	struct sl_topic_info ti;
	int rc = sl_topic_describe(c, topic, &ti);
	sl_client_destroy(c);
	if (rc == sl_err_broker(SN_ERR_UNKNOWN_TOPIC_OR_PARTITION))
		return topic_missing(topic);
	if (rc)
		return cli_fail("consume", rc);
	if (partition >= ti.partitions) {
		fprintf(stderr, "sluice: topic '%s' has %d partition(s); --partition is 0 to %d\n",
			topic, ti.partitions, ti.partitions - 1);
		return 2;
	}
	int32_t first = partition >= 0 ? partition : 0;
	int32_t last = partition >= 0 ? partition : ti.partitions - 1;
	int np = last - first + 1;
	struct sl_consumer **cs = calloc((size_t)np, sizeof(*cs));
	int *done = calloc((size_t)np, sizeof(*done));
	struct sl_consumer_opts co;
	sl_consumer_opts_default(&co);
	co.max_wait_ms = np > 1 ? 100 : 500;
	int ret = 0;
	for (int i = 0; i < np; i++) {
		rc = sl_consumer_create(cli_broker, topic, first + i, &co, &cs[i]);
		if (!rc) {
			if (offset >= 0)
				rc = sl_consumer_seek(cs[i], offset);
			else if (!from_beginning)
				rc = sl_consumer_seek(cs[i], follow ? SL_OFFSET_END :
								      SL_OFFSET_BEGINNING);
		}
		if (rc) {
			ret = cli_fail("consume", rc);
			goto out;
		}
	}
	/* Without --follow the command reads up to the end of the log as it
	 * was at the start.  Without --from-beginning or --offset, it starts
	 * at the beginning too unless --follow (then only new messages). */
	int64_t printed = 0;
	int live = np;
	while (live > 0 && (count < 0 || printed < count)) {
		for (int i = 0; i < np && (count < 0 || printed < count); i++) {
			if (done[i])
				continue;
			struct sl_message m;
			rc = sl_consume(cs[i], &m, np > 1 ? 50 : 500);
			if (rc < 0) {
				ret = cli_fail("consume", rc);
				goto out;
			}
			if (rc == 1) {
				if (print_offset)
					printf("%d:%lld\t", m.partition, (long long)m.offset);
				if (print_key) {
					if (m.key)
						fwrite(m.key, 1, m.klen, stdout);
					putchar('\t');
				}
				if (print_headers) {
					struct sl_header h;
					for (size_t k = 0; sl_message_header_at(
						     &m, k, &h); k++)
						printf("%s%.*s=%.*s", k ? "," : "",
						       (int)h.klen, h.key,
						       (int)h.vlen,
						       h.value ? (const char *)h.value : "");
					putchar('\t');
				}
				if (m.value)
					fwrite(m.value, 1, m.vlen, stdout);
				putchar('\n');
				printed++;
				if (np == 1)
					i--; /* drain this partition first */
				continue;
			}
			fflush(stdout);
			if (!follow) {
				int64_t end = sl_consumer_end_offset(cs[i]);
				int64_t hw = sl_consumer_high_watermark(cs[i]);
				int64_t lim = hw >= 0 ? hw : end;
				if (lim < 0 || sl_consumer_position(cs[i]) >= lim) {
					done[i] = 1;
					live--;
				}
			}
		}
	}
	fflush(stdout);
out:
	for (int i = 0; i < np; i++)
		sl_consumer_destroy(cs[i]);
	free(cs);
	free(done);
	return ret;
usage:
	fprintf(stderr, "usage: sluice consume TOPIC [--from-beginning] [--offset N] "
		"[--partition N] [--follow] [--count N] [--print-key] [--print-offset] "
		"[--print-headers]\n");
	return 2;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluice [-b host:port] COMMAND ...\n"
		"  topic create NAME [--partitions N] [--retention-hours H] [--durability every_append|group]\n"
		"  topic list | topic describe NAME | topic delete NAME\n"
		"  produce TOPIC [--key-separator C] [--udp|--tcp] [--udp-addr HOST:PORT]\n"
		"       [--acks 0|1|all] [--partition N]\n"
		"  consume TOPIC [--from-beginning] [--offset N] [--partition N] [--follow] [--count N]\n"
		"  status [--telemetry PATH] [--json]\n"
		"  perf produce|consume [--topic T] [--count N] [--size BYTES] [--acks 0|1|all]\n"
		"       [--transport tcp|udp] [--duration S] [--partitions N] [--producers N]\n"
		"       [--rate N] [--linger-ms MS] [--batch-kib KIB] [--udp-addr HOST:PORT] [--json]\n"
		"  cluster status [--bootstrap HOST:PORT,...] [--json]   (the Kafka listeners, default 127.0.0.1:9092)\n"
		"  cluster reassign TOPIC PARTITION BROKER,...|--cancel [--wait S] [--bootstrap ...]\n"
		"  cluster reassignments [--bootstrap ...]\n"
		"  queue create|send|receive|ack|stats NAME ...   (a topic read as a queue by its share\n"
		"       group; the Kafka listener, default 127.0.0.1:9092: sluice queue for more)\n"
		"  dlq list|redrive NAME [--max N]   (the queue's dead letters in NAME.dlq)\n"
		"  request TOPIC [MESSAGE] [--gather N] [--timeout-ms MS]   (request-reply, scatter-gather)\n"
		"  respond TOPIC [--group G] [--exec CMD] [--count N] [--idle-ms MS]\n"
		"  route add NAME --from PATTERN --to TOPIC [--header K=V|K]... [--any] [--direct]\n"
		"  route list | route delete NAME   (routing rules: copy messages by topic pattern and headers)\n"
		"The broker is 127.0.0.1:9093 unless -b says otherwise (./tools/run starts it).\n");
}

int main(int argc, char **argv)
{
	int i = 1;
	while (i < argc && argv[i][0] == '-') {
		if ((!strcmp(argv[i], "-b") || !strcmp(argv[i], "--broker")) &&
		    i + 1 < argc) {
			cli_broker = argv[i + 1];
			i += 2;
		} else if (!strncmp(argv[i], "--broker=", 9)) {
			cli_broker = argv[i] + 9;
			i++;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[i];
	argc -= i;
	argv += i;
	if (!strcmp(cmd, "topic"))
		return cmd_topic(argc, argv);
	if (!strcmp(cmd, "produce"))
		return cmd_produce(argc, argv);
	if (!strcmp(cmd, "consume"))
		return cmd_consume(argc, argv);
	if (!strcmp(cmd, "status"))
		return cmd_status(argc, argv);
	if (!strcmp(cmd, "perf"))
		return cmd_perf(argc, argv);
	if (!strcmp(cmd, "cluster"))
		return cmd_cluster(argc, argv);
	if (!strcmp(cmd, "queue"))
		return cmd_queue(argc, argv);
	if (!strcmp(cmd, "dlq"))
		return cmd_dlq(argc, argv);
	if (!strcmp(cmd, "request") || !strcmp(cmd, "respond"))
		return cmd_request_reply(argc, argv);
	if (!strcmp(cmd, "route"))
		return cmd_route(argc, argv);
	if (!strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "sluice: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
