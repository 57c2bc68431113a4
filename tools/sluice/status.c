/*
 * sluice status: a client of the DPDK telemetry protocol (AF_UNIX
 * SOCK_SEQPACKET).  On connect the server sends {"version":..,"pid":..,
 * "max_output_len":..}; each command string ("/", "/sluice/info") gets one
 * JSON reply.  The socket is --telemetry PATH, else
 * /var/run/dpdk/sluice/dpdk_telemetry.v2 when it exists, else
 * ./data/run/telemetry.sock.
 *
 * Tolerant by design: "/" lists the commands the server has; every
 * /sluice/... command listed is asked, anything missing is skipped, and
 * each answer is printed as indented "key: value" lines (--json: raw).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tools/sluice/cli.h"

#define REPLY_MAX (1 << 20)

static int ask(int fd, const char *cmd, char *buf, size_t cap)
{
	if (send(fd, cmd, strlen(cmd), 0) < 0)
		return -errno;
	ssize_t n = recv(fd, buf, cap - 1, 0);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return (int)n;
}

/* Print JSON as indented lines; no allocation, tolerant of anything. */
static void pretty(const char *s)
{
	int depth = 0, in_str = 0, line_start = 1;
	for (; *s; s++) {
		char c = *s;
		if (in_str) {
			if (c == '\\' && s[1]) {
				putchar(s[1]);
				s++;
				continue;
			}
			if (c == '"') {
				in_str = 0;
				continue;
			}
			putchar(c);
			continue;
		}
		if (line_start && c != '}' && c != ']' && c != ' ') {
			for (int i = 0; i < depth; i++)
				fputs("  ", stdout);
			line_start = 0;
		}
		switch (c) {
		case '"':
			in_str = 1;
			break;
		case '{':
		case '[':
			if (depth > 0)
				putchar('\n');
			depth++;
			line_start = 1;
			break;
		case '}':
		case ']':
			depth--;
			if (!line_start)
				putchar('\n');
			line_start = 1;
			break;
		case ',':
			if (!line_start)
				putchar('\n');
			line_start = 1;
			break;
		case ':':
			fputs(": ", stdout);
			break;
		case ' ':
		case '\n':
			break;
		default:
			putchar(c);
		}
	}
	if (!line_start)
		putchar('\n');
}

int cmd_status(int argc, char **argv)
{
	const char *path = NULL;
	int json = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--telemetry") && i + 1 < argc)
			path = argv[++i];
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else {
			fprintf(stderr, "usage: sluice status [--telemetry PATH] [--json]\n");
			return 2;
		}
	}
	struct stat stb;
	if (!path)
		path = stat("/var/run/dpdk/sluice/dpdk_telemetry.v2", &stb) == 0 ?
			       "/var/run/dpdk/sluice/dpdk_telemetry.v2" :
			       "./data/run/telemetry.sock";
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "sluice: telemetry path too long: %s\n", path);
		return 2;
	}
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr,
			"sluice: cannot connect to the telemetry socket %s (%s): is "
			"the broker running? start it with ./tools/run, or give the "
			"path with --telemetry PATH\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	char *buf = malloc(REPLY_MAX);
	char *list = malloc(REPLY_MAX);
	int ret = 0;
	ssize_t n = recv(fd, buf, REPLY_MAX - 1, 0);
	if (n <= 0) {
		fprintf(stderr, "sluice: the telemetry socket %s sent no greeting\n", path);
		ret = 1;
		goto out;
	}
	buf[n] = 0;
	if (json)
		printf("%s\n", buf);
	else {
		printf("telemetry %s\n", path);
		pretty(buf);
	}
	int rc = ask(fd, "/", list, REPLY_MAX);
	if (rc <= 0) {
		fprintf(stderr, "sluice: no answer to '/': %s\n",
			rc < 0 ? strerror(-rc) : "empty");
		ret = 1;
		goto out;
	}
	/* every "/sluice/..." command listed; /sluice/info first when there */
	int asked = 0;
	const char *p = list;
	const char *first[] = { "/sluice/info" };
	for (int pass = 0; pass < 2; pass++) {
		p = list;
		while ((p = strstr(p, "\"/sluice/")) != NULL) {
			const char *e = strchr(p + 1, '"');
			if (!e)
				break;
			char cmd[256];
			size_t len = (size_t)(e - p - 1);
			p = e + 1;
			if (len >= sizeof(cmd))
				continue;
			memcpy(cmd, p - len - 1, len);
			cmd[len] = 0;
			int is_first = !strcmp(cmd, first[0]);
			if (pass == 0 ? !is_first : is_first)
				continue;
			/* commands that need a parameter answer null: skip them */
			if (ask(fd, cmd, buf, REPLY_MAX) <= 0)
				continue;
			if (strstr(buf, ":null}"))
				continue;
			asked++;
			if (json)
				printf("%s\n", buf);
			else
				pretty(buf);
		}
	}
	if (!asked) {
		/* an older server without a command list: try the usual one */
		if (ask(fd, "/sluice/info", buf, REPLY_MAX) > 0 &&
		    !strstr(buf, ":null}")) {
			if (json)
				printf("%s\n", buf);
			else
				pretty(buf);
		} else if (!json) {
			printf("(the server offers no /sluice/ commands yet; it lists:)\n");
			pretty(list);
		}
	}
out:
	free(buf);
	free(list);
	close(fd);
	return ret;
}
