/*
 * Integration: DPDK's own client, dpdk-telemetry.py, against our server.
 *
 * The script finds the socket at <runtime dir>/dpdk/<prefix>/
 * dpdk_telemetry.v2, where the runtime dir is $RUNTIME_DIRECTORY, else
 * /var/run for root.  Run 1 points RUNTIME_DIRECTORY into the test's
 * temporary directory; run 2 (root only) uses /var/run/dpdk/<unique
 * prefix>/ as `dpdk-telemetry.py -f sluice` would, and removes it after.
 * Commands are fed on stdin; without a tty the script prints one JSON line
 * per reply (Python's json.dumps: ", " and ": " separators).
 *
 * Exit 77 (skipped) when the script or a python3 is missing.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataplane/telemetry/telemetry.h"

#define SCRIPT "/usr/bin/dpdk-telemetry.py"

static int failures;

#define CHECK(c)                                                             \
	do {                                                                 \
		if (!(c)) {                                                  \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n",         \
				__FILE__, __LINE__, #c);                     \
			failures++;                                          \
		}                                                            \
	} while (0)

static uint64_t packets = 12345;

static int cb_stats(const char *cmd, const char *params, struct tel_data *d)
{
	tel_data_start_dict(d);
	tel_data_add_dict_u64(d, "packets", packets);
	tel_data_add_dict_string(d, "note", "quote\" and \xc3\xa9");
	if (params != NULL)
		tel_data_add_dict_string(d, "params", params);
	return 0;
}

static int cb_big(const char *cmd, const char *params, struct tel_data *d)
{
	tel_data_start_array(d, TEL_U64_VAL);
	for (int i = 0; i < TEL_MAX_ARRAY_ENTRIES; i++)
		tel_data_add_array_u64(d, UINT64_MAX - (uint64_t)i);
	return 0;
}

static char *slurp(const char *path)
{
	static char buf[256 * 1024];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Runs the script with env (a "VAR=value " prefix or "") and -f prefix,
 * feeding it the commands; returns its stdout or NULL. */
static char *run_script(const char *python, const char *env,
			const char *prefix, const char *dir)
{
	char in[PATH_MAX], outp[PATH_MAX], cmd[4 * PATH_MAX];
	FILE *f;
	int rc;

	snprintf(in, sizeof(in), "%s/in.txt", dir);
	snprintf(outp, sizeof(outp), "%s/out.txt", dir);
	f = fopen(in, "w");
	if (f == NULL)
		return NULL;
	fputs("/sluice/stats\n"
	      "/sluice/stats,orders-0\n"
	      "/nope\n"
	      "/help,/sluice/stats\n"
	      "/sluice/big\n"
	      "/info\n"
	      "/\n",
	      f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s timeout 30 %s %s -f %s < %s > %s 2>&1",
		 env, python, SCRIPT, prefix, in, outp);
	rc = system(cmd);
	if (rc != 0) {
		fprintf(stderr, "`%s` exited %d; output:\n%s\n", cmd, rc,
			slurp(outp) ? slurp(outp) : "");
		failures++;
		return NULL;
	}
	return slurp(outp);
}

static void check_output(const char *o)
{
	char want[128];

	if (o == NULL) {
		failures++;
		return;
	}
	printf("dpdk-telemetry.py said:\n%.2000s%s\n", o,
	       strlen(o) > 2000 ? "..." : "");
	CHECK(strstr(o, "{\"/sluice/stats\": {\"packets\": 12345, \"note\": "
			"\"quote\\\" and \\u00e9\"}}") != NULL);
	CHECK(strstr(o, "\"params\": \"orders-0\"") != NULL);
	CHECK(strstr(o, "{\"/nope\": null}") != NULL);
	CHECK(strstr(o, "{\"/help\": {\"/sluice/stats\": \"Test counters\"}}") !=
	      NULL);
	CHECK(strstr(o, "{\"/sluice/big\": [18446744073709551615, ") != NULL);
	snprintf(want, sizeof(want), "\"pid\": %d, \"max_output_len\": 16384",
		 (int)getpid());
	CHECK(strstr(o, want) != NULL);
	CHECK(strstr(o, "\"/sluice/big\", \"/sluice/stats\"") != NULL);
	CHECK(strstr(o, "Error") == NULL && strstr(o, "Traceback") == NULL);
}

int main(void)
{
	const char *tmp = getenv("SLUICE_TEST_TMPDIR");
	char dir[256], sock[PATH_MAX], env[PATH_MAX], prefix[64];
	const char *python = "/usr/bin/python3";
	char *o;
	int rc;

	if (access(SCRIPT, R_OK) != 0) {
		printf("SKIP: %s is missing (apt-get install dpdk-dev)\n",
		       SCRIPT);
		return 77;
	}
	if (access(python, X_OK) != 0) {
		printf("SKIP: %s is missing\n", python);
		return 77;
	}
	rc = tel_register_cmd("/sluice/stats", cb_stats, "Test counters");
	rc |= tel_register_cmd("/sluice/big", cb_big, "A truncated reply");
	CHECK(rc == 0);

	/* 1: RUNTIME_DIRECTORY in the test's temporary directory */
	snprintf(dir, sizeof(dir), "%s/tel-int-%d", tmp ? tmp : "/tmp",
		 (int)getpid());
	snprintf(prefix, sizeof(prefix), "sluice-test-%d", (int)getpid());
	snprintf(sock, sizeof(sock), "%s/dpdk/%s/dpdk_telemetry.v2", dir,
		 prefix);
	rc = tel_server_start(sock, "sluice 0.1.0");
	if (rc != 0) {
		fprintf(stderr, "tel_server_start(%s): %s\n", sock,
			strerror(-rc));
		return 1;
	}
	snprintf(env, sizeof(env), "RUNTIME_DIRECTORY='%s'", dir);
	o = run_script(python, env, prefix, dir);
	check_output(o);
	tel_server_stop();
	{
		char p[PATH_MAX + 64];
		snprintf(p, sizeof(p), "%s/in.txt", dir);
		unlink(p);
		snprintf(p, sizeof(p), "%s/out.txt", dir);
		unlink(p);
		snprintf(p, sizeof(p), "%s/dpdk/%s", dir, prefix);
		rmdir(p);
		snprintf(p, sizeof(p), "%s/dpdk", dir);
		rmdir(p);
	}

	/* 2: the real /var/run/dpdk/<prefix>/, as in production (root) */
	if (getuid() == 0 && access("/var/run", W_OK) == 0) {
		char rundir[256];

		snprintf(rundir, sizeof(rundir), "/var/run/dpdk/%s", prefix);
		snprintf(sock, sizeof(sock), "%s/dpdk_telemetry.v2", rundir);
		rc = tel_server_start(sock, "sluice 0.1.0");
		CHECK(rc == 0);
		if (rc == 0) {
			o = run_script(python, "env -u RUNTIME_DIRECTORY",
				       prefix, dir);
			check_output(o);
			tel_server_stop();
		}
		CHECK(access(sock, F_OK) != 0);
		rmdir(rundir); /* leaves /var/run/dpdk, shared with DPDK */
		char p[PATH_MAX + 64];
		snprintf(p, sizeof(p), "%s/in.txt", dir);
		unlink(p);
		snprintf(p, sizeof(p), "%s/out.txt", dir);
		unlink(p);
	} else {
		printf("(not root: /var/run/dpdk/%s not tried)\n", prefix);
	}
	rmdir(dir);

	if (failures != 0) {
		fprintf(stderr, "FAIL: %d check(s) failed\n", failures);
		return 1;
	}
	printf("PASS: dpdk-telemetry.py read every reply\n");
	return 0;
}
