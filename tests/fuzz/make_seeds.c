/*
 * Writes the committed seed corpora of the fuzz targets:
 *     build-fuzz/tests/fuzz/make_seeds tests/fuzz/corpus
 * makes tests/fuzz/corpus/<target>/seed-* for each target (regress-* files,
 * inputs that once found a bug, are kept by hand and never overwritten).
 *
 * Valid inputs are made by the code under test itself (a partition log
 * written by slog_append and closed, an offsets file written by the group
 * coordinator, topics.meta by sl_meta_save, frames by the netstack's and
 * the protocols' encoders), then damaged the ways a crash or a hostile peer
 * would damage them: a torn tail, a missing or unclean recovery point, a
 * truncated frame, a wrong version.  Deterministic: the same seeds every
 * run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/cluster_image.h"
#include "control/groups.h"
#include "control/gtopic.h"
#include "control/ipc.h"
#include "control/metadata.h"
#include "control/quorum.h"
#include "control/quorum_pvt.h"
#include "control/ttopic.h"
#include "drivers/netstack.h"
#include "proto/config.h"
#include "proto/ipc.h"
#include "proto/kafka/kcodec.h"
#include "proto/native.h"
#include "proto/record_batch.h"
#include "storage/disk.h"
#include "storage/log.h"
#include "groups_probe.h"
#include "frontend_fuzz.h"
#include "fuzz_util.h"

static const char *out_root;
static unsigned written;

/* LLVMFuzzer* are declared by fuzz_util.h for the targets; unused here. */

static void seed(const char *target, const char *name, const void *p,
		 size_t len)
{
	char dir[PATH_MAX], path[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/%s", out_root, target);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		perror(dir);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/seed-%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, p, len) != (ssize_t)len) {
		perror(path);
		exit(1);
	}
	close(fd);
	written++;
}

/* flags byte + bytes */
static void seed_f(const char *target, const char *name, uint8_t flags,
		   const void *p, size_t len)
{
	uint8_t *b = malloc(len + 1);
	b[0] = flags;
	memcpy(b + 1, p, len);
	seed(target, name, b, len + 1);
	free(b);
}

static size_t read_all(const char *path, uint8_t *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	ssize_t n = read(fd, buf, cap);
	close(fd);
	if (n < 0 || (size_t)n == cap) {
		fprintf(stderr, "%s: unreadable or too large\n", path);
		exit(1);
	}
	return (size_t)n;
}

/* ---- netstack ---- */

static const struct ns_self us = {
	.mac = { 0x02, 0, 0, 0, 0, 0x02 }, .ip = 0x0200580au,
	.udp_port = 0x8523u };
static const struct ns_self peer = {
	.mac = { 0x02, 0, 0, 0, 0, 0x01 }, .ip = 0x0100580au,
	.udp_port = 0x409cu };

static void seeds_netstack(void)
{
	static uint8_t f[2048];
	const char *t = "netstack_fuzz";
	memcpy(f + NS_UDP_HDRS, "hello sluice", 12);
	size_t n = ns_build_udp(&peer, us.mac, us.ip, us.udp_port, f, 12, 7,
				NS_TX_IP_CKSUM | NS_TX_UDP_CKSUM);
	seed_f(t, "udp", 0, f, n);
	seed_f(t, "udp-truncated", 0, f, n - 5);
	seed_f(t, "udp-offloaded", NS_RX_IP_CKSUM_GOOD | NS_RX_L4_CKSUM_GOOD,
	       f, n);
	f[NS_ETH_LEN + 6] = 0x20; /* MF: a fragment */
	seed_f(t, "udp-fragment", 8, f, n);
	n = ns_build_udp(&peer, us.mac, us.ip, us.udp_port, f, 0, 8,
			 NS_TX_IP_CKSUM);
	seed_f(t, "udp-empty-no-cksum", 0, f, n);
	n = ns_build_arp_request(&peer, us.ip, f, sizeof(f));
	seed_f(t, "arp-request", 0, f, n);
	f[NS_ETH_LEN + 7] = 2; /* a reply */
	seed_f(t, "arp-reply", 0, f, n);
	/* an ICMP echo request with IP options; bit 3 makes its checksums */
	memset(f, 0, 128);
	memcpy(f, us.mac, 6);
	memcpy(f + 6, peer.mac, 6);
	f[12] = 0x08;
	uint8_t *ip = f + NS_ETH_LEN;
	ip[0] = 0x46;
	ip[3] = 24 + 8 + 16;
	ip[8] = 64;
	ip[9] = 1;
	memcpy(ip + 12, &peer.ip, 4);
	memcpy(ip + 16, &us.ip, 4);
	ip[20] = 1; /* NOP options */
	ip[24] = 8; /* echo request */
	ip[28] = 0x12;
	ip[30] = 0x01;
	memcpy(ip + 32, "ping-data-16byte", 16);
	seed_f(t, "icmp-echo-options", 8, f, NS_ETH_LEN + 48);
	seed_f(t, "icmp-echo-padded", 8 | 4, f, 64 + NS_ETH_LEN);
	f[12] = 0x81; /* a VLAN tag */
	seed_f(t, "vlan", 0, f, 64);
}

/* ---- config ---- */

static void seeds_config(void)
{
	const char *t = "config_fuzz";
	struct sl_config c;
	static char buf[64 * 1024];
	sl_config_defaults(&c);
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	sl_config_dump(&c, f);
	long n = ftell(f);
	fclose(f);
	seed(t, "defaults", buf, (size_t)n);
	static const char every[] =
		"# every key at a value that is not its default\n"
		"data_dir = /var/lib/sluice\n"
		"control_socket = /run/sluice/ctl   # a comment\n"
		"telemetry_socket = /run/sluice/telemetry\n"
		"control_dir = /var/lib/sluice/control\n"
		"listen_host = 0.0.0.0\n"
		"udp_port = 0\n"
		"tcp_port = 19093\n"
		"driver = dpdk\n"
		"kafka_port = 19092\n"
		"kafka_advertised_host = broker.example\n"
		"kafka_advertised_port = 29092\n"
		"node_id = 7\n"
		"udp_max_frame = 9000\n"
		"tcp_max_frame = 1048576\n"
		"max_connections = 100\n"
		"storage_cores = 4\n"
		"ring_slots = 4096\n"
		"memory_budget_mb = 1024\n"
		"default_partitions = 8\n"
		"retention_hours = -1\n"
		"retention_bytes = 1073741824\n"
		"segment_mb = 64\n"
		"durability = group\n"
		"group_commit_kb = 64\n"
		"group_commit_us = 500\n"
		"log_buffer_mb = 16\n"
		"retention_check_ms = 1000\n"
		"dpdk_args = -l 2 --vdev=net_af_packet0,iface=veth0\n"
		"dpdk_ip = 10.88.0.2\n"
		"dpdk_mbufs = 8191\n"
		"dpdk_queues = 2\n"
		"busy_poll = 1\n"
		"offsets_retention_minutes = 1440\n";
	seed(t, "every-key", every, sizeof(every) - 1);
	static const char errors[] =
		"\t  # blank and comment lines\n\n"
		"udp_port=65536\n"
		"ring_slots = 1000\n"
		"no equals sign\n"
		"unknown_key = 1\n"
		"driver = xdp\n"
		"retention_hours = 99999999999999999999\n"
		"data_dir =\n";
	seed(t, "errors", errors, sizeof(errors) - 1);
	static const char crlf[] = "tcp_port = 1\r\nudp_port = 2\r\n";
	seed(t, "crlf", crlf, sizeof(crlf) - 1);
}

/* ---- topics.meta ---- */

static void seeds_topics_meta(const char *tmp)
{
	const char *t = "topics_meta_fuzz";
	char dir[PATH_MAX], path[PATH_MAX], err[512];
	static uint8_t buf[1 << 20];
	snprintf(dir, sizeof(dir), "%s/meta", tmp);
	snprintf(path, sizeof(path), "%s/%s", dir, SL_META_FILE);
	struct sl_meta *m = malloc(sizeof(*m));
	if (sl_meta_open(m, dir, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	FUZZ_CHECK(sl_meta_save(m, err, sizeof(err)) == 0);
	seed_f(t, "empty", 0, buf, read_all(path, buf, sizeof(buf)));
	static const char *const names[] = { "orders", "payments.v2",
					     "a", "logs-eu_1", "x" };
	for (unsigned i = 0; i < 5; i++) {
		struct sl_topic tp = { .partitions = (int32_t)(1 + i * 3),
				       .durability = (uint8_t)(i & 1),
				       .retention_ms = i ? 3600000 : -1,
				       .retention_bytes = i == 2 ? 1 << 30 : -1,
				       .segment_bytes = 1 << 26 };
		tp.name_len = (uint16_t)strlen(names[i]);
		memcpy(tp.name, names[i], tp.name_len + 1);
		if (i == 3) {
			sl_topic_compaction_defaults(&tp);
			tp.cleanup_policy = SN_CLEANUP_COMPACT;
			tp.min_cleanable_dirty_ratio = 0.01;
			tp.min_compaction_lag_ms = 1000;
			tp.delete_retention_ms = 0;
		}
		FUZZ_CHECK(sl_meta_create(m, &tp) > 0);
	}
	FUZZ_CHECK(sl_meta_save(m, err, sizeof(err)) == 0);
	size_t n = read_all(path, buf, sizeof(buf));
	seed_f(t, "five-topics", 0, buf, n);
	buf[n - 1] ^= 1;
	seed_f(t, "five-topics-bad-crc", 0, buf, n);
	seed_f(t, "five-topics-repaired", 1, buf, n);
	FUZZ_CHECK(sl_meta_delete(m, "a", 1, NULL) == 0);
	FUZZ_CHECK(sl_meta_delete(m, "x", 1, NULL) == 0);
	FUZZ_CHECK(sl_meta_save(m, err, sizeof(err)) == 0);
	n = read_all(path, buf, sizeof(buf));
	seed_f(t, "tombstones", 0, buf, n);
	seed_f(t, "torn", 1, buf, n / 2);
	sl_meta_close(m);
	free(m);
}

/* ---- the cluster image ---- */

static struct kc_str S(const char *s);

/* An entry op of cluster_image_fuzz's program: 0, u16 length, bytes. */
static size_t ci_entry_op(uint8_t *out, const uint8_t *e, size_t n)
{
	out[0] = 0;
	out[1] = (uint8_t)(n >> 8);
	out[2] = (uint8_t)n;
	memcpy(out + 3, e, n);
	return 3 + n;
}

/* Operation 4 of cluster_image_fuzz's program at prog + n: a forwarded
 * Kafka request of rl bytes.  Returns the program's new length. */
static size_t put_forwarded(uint8_t *prog, size_t n, const uint8_t *req,
			    long rl)
{
	prog[n++] = 4;
	prog[n++] = (uint8_t)(rl >> 8);
	prog[n++] = (uint8_t)rl;
	memcpy(prog + n, req, (size_t)rl);
	return n + (size_t)rl;
}

static void seeds_cluster_image(void)
{
	const char *t = "cluster_image_fuzz";
	struct sl_ci_image *img = malloc(sizeof(*img));
	uint8_t *e = malloc(1 << 16), *snap = malloc(1 << 16);
	uint8_t *prog = malloc(1 << 17);
	char msg[256], err[256];
	struct sl_ci_batch b;
	size_t n = 0;
	FUZZ_CHECK(img && e && snap && prog);
	sl_ci_init(img);
	/* cluster_image_fuzz's base, the same way */
	for (int32_t id = 1; id <= 4; id++) {
		FUZZ_CHECK(sl_ci_batch_init(&b, e, 1 << 16) == 0);
		FUZZ_CHECK(sl_ci_register_broker(img, id, 1, "host", 4, 9092,
						 9093, &b, msg,
						 sizeof(msg)) == 0);
		FUZZ_CHECK(sl_ci_apply(img, img->applied_index + 1, e, b.len,
				       err, sizeof(err)) == 0);
		if (id == 4)
			continue;
		FUZZ_CHECK(sl_ci_batch_init(&b, e, 1 << 16) == 0);
		FUZZ_CHECK(sl_ci_unfence_broker(img, id, &b, msg,
						sizeof(msg)) == 0);
		FUZZ_CHECK(sl_ci_apply(img, img->applied_index + 1, e, b.len,
				       err, sizeof(err)) == 0);
	}
	static const char *const names[] = { "a", "b" };
	for (int i = 0; i < 2; i++) {
		struct sl_ci_topic_req q;
		memset(&q, 0, sizeof(q));
		q.name = names[i];
		q.name_len = 1;
		q.partitions = 2 - i;
		q.replication_factor = 3 - 2 * i;
		q.config.retention_ms = -1;
		q.config.retention_bytes = -1;
		q.config.segment_bytes = 1 << 20;
		q.min_insync_replicas = 1;
		q.unclean_leader_election = (uint8_t)i;
		FUZZ_CHECK(sl_ci_batch_init(&b, e, 1 << 16) == 0);
		FUZZ_CHECK(sl_ci_create_topic(img, &q, &b, msg,
					      sizeof(msg)) == 0);
		FUZZ_CHECK(sl_ci_apply(img, img->applied_index + 1, e, b.len,
				       err, sizeof(err)) == 0);
	}
	/* a reassignment running (b/0 from [1] to [4, 2]) in a snapshot of
	 * its own, then the base again */
	struct sl_ci_image *moved = malloc(sizeof(*moved));
	FUZZ_CHECK(moved);
	sl_ci_copy(moved, img);
	static const int32_t to[] = { 4, 2 };
	FUZZ_CHECK(sl_ci_batch_init(&b, e, 1 << 16) == 0);
	FUZZ_CHECK(sl_ci_reassign(moved, 2, 0, to, 2, 1, &b, msg,
				  sizeof(msg)) == 0 && b.count == 1);
	FUZZ_CHECK(sl_ci_apply(moved, moved->applied_index + 1, e, b.len,
			       err, sizeof(err)) == 0);
	long mn = sl_ci_snapshot_encode(moved, snap, 1 << 16);
	FUZZ_CHECK(mn > 0);
	seed_f(t, "snapshot-reassigning", 1, snap, (size_t)mn);
	free(moved);
	long sn = sl_ci_snapshot_encode(img, snap, 1 << 16);
	FUZZ_CHECK(sn > 0);
	seed_f(t, "snapshot", 1, snap, (size_t)sn);
	snap[sn / 2] ^= 0x10;
	seed_f(t, "snapshot-bad-crc", 1, snap, (size_t)sn);
	seed_f(t, "snapshot-repaired", 3, snap, (size_t)sn);
	snap[sn / 2] ^= 0x10;
	/* a program: entries decided on the base (a fence, a new topic, an
	 * ISR change), decisions, snapshots */
	FUZZ_CHECK(sl_ci_batch_init(&b, e, 1 << 16) == 0);
	FUZZ_CHECK(sl_ci_fence_broker(img, 1, &b, msg, sizeof(msg)) == 0);
	n += ci_entry_op(prog + n, e, b.len);
	FUZZ_CHECK(sl_ci_apply(img, img->applied_index + 1, e, b.len, err,
			       sizeof(err)) == 0);
	FUZZ_CHECK(sl_ci_batch_init(&b, e, 1 << 16) == 0);
	static const int32_t isr[] = { 2 };
	FUZZ_CHECK(sl_ci_alter_isr(img, 1, 0, 2, 1, 1, isr, 1, &b, msg,
				   sizeof(msg)) == 0);
	FUZZ_CHECK(sl_ci_delete_topic(img, "b", 1, &b, msg,
				      sizeof(msg)) == 0);
	n += ci_entry_op(prog + n, e, b.len);
	static const uint8_t decisions[] = {
		1, 2, 1, 0,            /* unfence 1 */
		1, 3, 0, 2, 0, 4, 4, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1,
				       /* create "c" */
		1, 6, 2, 0, 0, 1, 3, 0, /* alter the ISR of a/0 */
		1, 7, 0, 0, 0, 1,      /* elect a/0 */
		1, 5, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0,
				       /* a to 6 partitions */
		1, 8, 0, 1, 0, 0, 9, 2, 1, /* alter b's config */
		1, 9, 0, 0, 0, 1, 2, 4, 1, 0, 0, 0, 0, 0, 0, 0,
				       /* a/0 to [4, 1] */
		1, 6, 0, 0, 0, 1, 0x0f, 0, /* its ISR with 4 in it */
		1, 10, 0, 0, 0, 1,     /* its reassignment ends */
		1, 9, 0, 0, 0, 2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				       /* a/1: cancel with none running */
		1, 1, 2, 0,            /* fence 2 */
		2,                     /* snapshot round trip */
	};
	memcpy(prog + n, decisions, sizeof(decisions));
	n += sizeof(decisions);
	prog[n++] = 3;
	prog[n++] = (uint8_t)(sn >> 8);
	prog[n++] = (uint8_t)sn;
	memcpy(prog + n, snap, (size_t)sn);
	n += (size_t)sn;
	seed_f(t, "program", 0, prog, n);
	/* a program of forwarded requests (op 4): a v1 reassignment of
	 * a/0 to [2, 4] and of a/0 again (refused: named twice), then
	 * UnregisterBroker of broker 4 (refused: a target replica now) */
	static int32_t to24[] = { 2, 4 };
	struct kc_alter_partition_reassignments_req_reassignable_partition
		rp[2] = { { 0, { to24, 2 } }, { 0, { to24, 2 } } };
	struct kc_alter_partition_reassignments_req_reassignable_topic rt = {
		S("a"), { rp, 2 } };
	struct kc_alter_partition_reassignments_req rq = { 30000, true,
							   { &rt, 1 } };
	struct kc_request_header rh = { KC_API_ALTER_PARTITION_REASSIGNMENTS,
					1, 21, S("seed") };
	uint8_t req[512];
	long rl = kc_encode_request(&rh, (const void *)&rq, req, sizeof(req));
	FUZZ_CHECK(rl > 0);
	n = 0;
	n = put_forwarded(prog, n, req, rl);
	struct kc_unregister_broker_req uq = { 4 };
	struct kc_request_header uh = { KC_API_UNREGISTER_BROKER, 0, 22,
					S("seed") };
	rl = kc_encode_request(&uh, (const void *)&uq, req, sizeof(req));
	FUZZ_CHECK(rl > 0);
	n = put_forwarded(prog, n, req, rl);
	/* AddRaftVoter of node 5 at its CONTROLLER listener, RemoveRaftVoter
	 * of node 3 */
	struct kc_add_raft_voter_req_listener al = { S("CONTROLLER"),
						     S("127.0.0.1"), 9494 };
	struct kc_add_raft_voter_req aq = { { NULL, -1 }, 30000, 5, { { 0 } },
					    { &al, 1 } };
	struct kc_request_header ah = { KC_API_ADD_RAFT_VOTER, 0, 23,
					S("seed") };
	rl = kc_encode_request(&ah, (const void *)&aq, req, sizeof(req));
	FUZZ_CHECK(rl > 0);
	n = put_forwarded(prog, n, req, rl);
	struct kc_remove_raft_voter_req vq = { S("sluice"), 3, { { 0 } } };
	struct kc_request_header vh = { KC_API_REMOVE_RAFT_VOTER, 0, 24,
					S("seed") };
	rl = kc_encode_request(&vh, (const void *)&vq, req, sizeof(req));
	FUZZ_CHECK(rl > 0);
	n = put_forwarded(prog, n, req, rl);
	seed_f(t, "forwarded", 0, prog, n);
	free(prog);
	free(snap);
	free(e);
	free(img);
}

/* ---- offsets.log ---- */

static struct kc_str S(const char *s)
{
	return (struct kc_str){ s, (int32_t)strlen(s) };
}

static void commit(const char *group, const char *topic, int32_t part,
		   int64_t offset, const char *meta)
{
	struct kc_offset_commit_req_partition p = {
		part, offset, 5, -1, meta ? S(meta) : (struct kc_str){ NULL, -1 } };
	struct kc_offset_commit_req_topic tp = { S(topic), { { 0 } }, { &p, 1 } };
	struct kc_offset_commit_req q = { S(group), -1, S(""), { NULL, -1 },
					  -1, { &tp, 1 } };
	uint64_t tok;
	FUZZ_CHECK(gp_send(0, KC_API_OFFSET_COMMIT, 7, &q, &tok) == 0);
}

static void seeds_offsets_log(const char *tmp)
{
	const char *t = "offsets_log_fuzz";
	char dir[PATH_MAX], path[PATH_MAX];
	static uint8_t buf[1 << 20];
	snprintf(dir, sizeof(dir), "%s/groups", tmp);
	snprintf(path, sizeof(path), "%s/%s", dir, SL_GROUPS_OFFSETS_FILE);
	gp_reset(GP_WALL_START_MS);
	FUZZ_CHECK(gp_open(dir, SL_GROUPS_RETENTION_MS_DEFAULT, NULL) == 0);
	size_t n = read_all(path, buf, sizeof(buf));
	seed_f(t, "header-only", 0, buf, n);
	commit("payments", "orders", 0, 100, "m");
	commit("payments", "orders", 1, 200, NULL);
	commit("payments", "orders", 0, 150, "later");
	commit("audit", "logs", 3, 0, "");
	gp_advance(1000);
	/* a member joins and leaves: state records of a managed group */
	struct kc_join_group_req_protocol p = { S("range"),
						{ (const uint8_t *)"m", 1 } };
	struct kc_join_group_req jq = { S("payments"), 10000, 10000, S(""),
					{ NULL, -1 }, S("consumer"), { &p, 1 },
					{ NULL, -1 } };
	uint64_t tok;
	FUZZ_CHECK(gp_send(1, KC_API_JOIN_GROUP, 3, &jq, &tok) == 0);
	gp_advance(400);
	gp_advance(30000); /* the session expires: Empty again */
	commit("doomed", "t", 0, 1, NULL);
	struct kc_str ids[1] = { S("doomed") };
	struct kc_delete_groups_req dq = { { ids, 1 } };
	FUZZ_CHECK(gp_send(0, KC_API_DELETE_GROUPS, 2, &dq, &tok) == 0);
	gp_close();
	n = read_all(path, buf, sizeof(buf));
	seed_f(t, "commits-states-delete", 0, buf, n);
	seed_f(t, "commits-expired-at-open", 2, buf, n);
	seed_f(t, "torn-tail", 1, buf, n - 7);
	/* a version 1 file: commits only, times of a monotonic clock */
	fz_clear_dir(dir);
	gp_reset(GP_WALL_START_MS);
	FUZZ_CHECK(gp_open(dir, SL_GROUPS_RETENTION_MS_DEFAULT, NULL) == 0);
	commit("g", "t", 0, 42, "v1");
	commit("g", "t", 1, 43, NULL);
	gp_close();
	n = read_all(path, buf, sizeof(buf));
	buf[5] = 1;
	rb_put32(buf + 12, rb_crc32c(buf, 12));
	seed_f(t, "version-1", 0, buf, n);
	fz_clear_dir(dir);
}

/* ---- groups: request programs (groups_fuzz.c step()) ---- */

static void seeds_groups(void)
{
	const char *t = "groups_fuzz";
	/* one consumer: join v3, wait the initial delay, sync as leader,
	 * heartbeat, commit, fetch, describe, list, leave, restart */
	static const uint8_t one[] = {
		0x00, 0, 3, 0, 0x00, 5, 0x01,     /* join g0 v3 new member */
		0x0a, 50,                         /* 500 ms */
		0x01, 0, 0x40, 0x00, 0x57,        /* sync: leader assigns */
		0x02, 0, 0x40, 0x00, 3,           /* heartbeat */
		0x04, 0, 0x40, 0x00, 0x01, 2, 0x81, 3, 0, 100, 0x00, 4, 0,
		      200, 1, 0x00, 7, 1, 5,      /* commit 2 topics */
		0x05, 0, 0x80, 0,                 /* fetch all */
		0x06, 0x3f,                       /* describe */
		0x07, 2,                          /* list */
		0x03, 0, 0x40, 1,                 /* leave */
		0x0d,                             /* restart */
		0x05, 0, 0x80, 0,
	};
	seed(t, "one-consumer", one, sizeof(one));
	/* two members v5 (MEMBER_ID_REQUIRED first), a rebalance, a drop,
	 * sessions expiring */
	static const uint8_t two[] = {
		0x00, 1, 5, 0x00, 0x00, 8, 0x01,  /* conn 0: member id required */
		0x10, 1, 5, 0x40, 0x00, 8, 0x01,  /* conn 1: joins with it */
		0x20, 1, 5, 0x00, 0x03, 4, 0x09,  /* conn 2: another */
		0x20, 1, 5, 0x41, 0x03, 4, 0x09,
		0x0a, 100,
		0x11, 1, 0x40, 0x00, 0x31,
		0x21, 1, 0x41, 0x00, 0x30,
		0x0c,                             /* drop conn 0 */
		0x0b, 0x01, 0x00,                 /* 25.6 s */
		0x02, 1, 0x41, 0x00, 3,
		0x08, 0x1f,                       /* delete groups */
		0x0e, 8,                          /* two days */
		0x07, 2,
	};
	seed(t, "two-members", two, sizeof(two));
	/* simple consumers committing, expiry, delete, restart */
	static const uint8_t simple[] = {
		0x04, 2, 0x00, 0x02, 0x00, 1, 0xc0, 1, 0, 9,
		0x04, 0, 0x01, 0x02, 0x00, 1, 0x85, 2, 0, 1, 5,
		0x0d, 0x0e, 15, 0x05, 2, 0x80, 0, 0x08, 0x05, 0x0d,
	};
	seed(t, "simple-commits", simple, sizeof(simple));
	/* raw bytes as each API */
	static const uint8_t raw[] = {
		0x09, 0, 3, 6, 0, 2, 'g', '0', 0, 0,
		0x09, 2, 5, 8, 0, 2, 'g', '0', 0, 0, 0x75, 0x30,
		0x09, 8, 2, 3, 1, 0, 0xff,
	};
	seed(t, "raw", raw, sizeof(raw));
}

/* ---- recovery: a real log's files in recovery_fuzz.c's container ---- */

struct container {
	uint8_t buf[1 << 20];
	size_t len;
};

static void put_file(struct container *c, uint8_t kind, int64_t base,
		     const uint8_t *p, size_t n)
{
	FUZZ_CHECK(n <= 0xffff && c->len + 13 + n <= sizeof(c->buf));
	c->buf[c->len++] = kind;
	c->buf[c->len++] = 255; /* a u64 base follows */
	rb_put64(c->buf + c->len, (uint64_t)base);
	c->len += 8;
	rb_put16(c->buf + c->len, (uint16_t)n);
	c->len += 2;
	memcpy(c->buf + c->len, p, n);
	c->len += n;
}

static void log_quiet(void *ctx, int level, const char *line)
{
	(void)ctx;
	(void)level;
	(void)line;
}

static void seeds_recovery(const char *tmp)
{
	const char *t = "recovery_fuzz";
	char base_dir[PATH_MAX], part[PATH_MAX], path[PATH_MAX];
	snprintf(base_dir, sizeof(base_dir), "%s/data", tmp);
	snprintf(part, sizeof(part), "%s/fz-0", base_dir);
	struct swriter_config wc;
	swriter_config_defaults(&wc);
	wc.use_hugepages = 0;
	wc.register_buffers = 0;
	struct swriter *w;
	FUZZ_CHECK(swriter_create(&wc, &w) == 0);
	struct slog_config cfg;
	slog_config_defaults(&cfg);
	cfg.topic = "fz";
	cfg.segment_bytes = 4096; /* several segments from a few batches */
	cfg.batch_max_bytes = 64 << 10;
	cfg.buffer_bytes = 2 * (64 << 10) + 4 * 4096;
	cfg.write_chunk_bytes = 4096;
	cfg.index_interval_bytes = 512;
	cfg.log_fn = log_quiet;
	struct slog *log;
	FUZZ_CHECK(slog_open(w, base_dir, &cfg, &log) == 0);
	static uint8_t batch[4096];
	for (int i = 0; i < 24; i++) {
		struct rb_builder b;
		rb_builder_init(&b, batch, sizeof(batch), 1700000000000ll + i);
		for (int r = 0; r <= i % 3; r++) {
			char v[64];
			int vl = snprintf(v, sizeof(v), "value %d.%d", i, r);
			FUZZ_CHECK(rb_builder_add(&b, "key", 3, v, vl,
						  1700000000000ll + i) == 0);
		}
		long n = rb_builder_finish(&b);
		struct slog_append_result res;
		FUZZ_CHECK(n > 0 && slog_append(log, batch, (size_t)n, &res) == 0);
		if (i % 8 == 7)
			FUZZ_CHECK(slog_roll(log) == 0);
	}
	FUZZ_CHECK(slog_sync(log) == 0);
	FUZZ_CHECK(slog_close(log) == 0);
	swriter_destroy(w);

	/* the directory as it is: clean, and variants */
	static struct container clean, noclean, norp, torn;
	static uint8_t f[1 << 16];
	clean.len = noclean.len = norp.len = torn.len = 0;
	static const char *const exts[] = { ".log", ".index", ".timeindex" };
	for (int64_t base = 0; base < 1000; base++) {
		for (uint8_t k = 0; k < 3; k++) {
			snprintf(path, sizeof(path), "%s/%020lld%s", part,
				 (long long)base, exts[k]);
			if (access(path, F_OK))
				continue;
			size_t n = read_all(path, f, sizeof(f));
			put_file(&clean, k, base, f, n);
			put_file(&noclean, k, base, f, n);
			put_file(&norp, k, base, f, n);
			put_file(&torn, k, base, f, k == 0 && n > 30 ? n - 30 : n);
		}
	}
	snprintf(path, sizeof(path), "%s/recovery-point", part);
	size_t n = read_all(path, f, sizeof(f));
	put_file(&clean, 3, 0, f, n);
	put_file(&torn, 3, 0, f, n);
	f[19] &= ~1u; /* not closed cleanly */
	put_file(&noclean, 3, 0, f, n);
	seed_f(t, "clean", 0, clean.buf, clean.len);
	seed_f(t, "unclean-other-boot", 1, noclean.buf, noclean.len);
	seed_f(t, "unclean-same-boot", 1 | 4, noclean.buf, noclean.len);
	seed_f(t, "no-recovery-point", 0, norp.buf, norp.len);
	seed_f(t, "torn-tail", 1, torn.buf, torn.len);
	fz_clear_dir(tmp);
}

/* ---- ipc: messages both ends get ---- */

static size_t put_msg(uint8_t *out, uint8_t ctl, const uint8_t *m, size_t n)
{
	out[0] = ctl;
	rb_put16(out + 1, (uint16_t)n);
	memcpy(out + 3, m, n);
	return 3 + n;
}

static void seeds_ipc(void)
{
	const char *t = "ipc_fuzz";
	static uint8_t s[1 << 16], m[8192];
	size_t n = 0;
	long l;
	/* sluiced's HELLO reply (the link waits for it), then: control sends
	 * SYNC_DONE for an empty store and is READY */
	struct sipc_hello_reply hr = { 4242, 9093, 9093 };
	l = sipc_encode_hello_reply(m, sizeof(m), 0, &hr);
	n += put_msg(s + n, 3, m, (size_t)l);
	/* a client's CREATE_TOPIC through sluiced: control creates the topic
	 * and pushes a TOPIC_PUT, whose reply releases the ADMIN reply */
	struct sn_create_topic ct = { 3, 0, -1, -1, 0, "orders", 6 };
	l = sn_encode_create_topic(m + SN_HEADER_BYTES, sizeof(m) - 16, 77, &ct);
	sn_header_put(m, SIPC_ADMIN, (uint32_t)(SN_HEADER_BYTES + l), 900, 0);
	n += put_msg(s + n, 1, m, SN_HEADER_BYTES + (size_t)l);
	sn_header_put(m, SIPC_TOPIC_PUT | SN_RESPONSE, SN_HEADER_BYTES, 0, 0);
	n += put_msg(s + n, 3, m, SN_HEADER_BYTES);
	/* a Kafka JoinGroup and a CreateTopics through sluiced */
	struct kc_join_group_req_protocol p = { S("range"),
						{ (const uint8_t *)"m", 1 } };
	struct kc_join_group_req jq = { S("g"), 10000, 10000, S(""),
					{ NULL, -1 }, S("consumer"), { &p, 1 },
					{ NULL, -1 } };
	struct kc_request_header h = { KC_API_JOIN_GROUP, 3, 5, S("c") };
	l = kc_encode_request(&h, (const void *)&jq, m + 16, sizeof(m) - 16);
	FUZZ_CHECK(l > 0);
	sn_header_put(m, SIPC_KAFKA, (uint32_t)(16 + l), 901, 0);
	n += put_msg(s + n, 1 | 4, m, 16 + (size_t)l);
	struct kc_create_topics_req_topic ctt = { S("kt"), 2, -1, { NULL, 0 },
						  { NULL, 0 } };
	struct kc_create_topics_req cq = { { &ctt, 1 }, 1000, false };
	struct kc_request_header h2 = { KC_API_CREATE_TOPICS, 2, 6, S("c") };
	l = kc_encode_request(&h2, (const void *)&cq, m + 16, sizeof(m) - 16);
	FUZZ_CHECK(l > 0);
	sn_header_put(m, SIPC_KAFKA, (uint32_t)(16 + l), 902, 0);
	n += put_msg(s + n, 1, m, 16 + (size_t)l);
	sn_header_put(m, SIPC_TOPIC_PUT | SN_RESPONSE, SN_HEADER_BYTES, 0, 0);
	n += put_msg(s + n, 3, m, SN_HEADER_BYTES);
	seed(t, "control-session", s, n);

	/* what control sends sluiced */
	n = 0;
	l = sipc_encode_hello(m, sizeof(m), 1, 4242);
	n += put_msg(s + n, 0, m, (size_t)l);
	struct sn_topic_info tp = { .topic_id = 1, .partitions = 2,
				    .retention_ms = -1, .retention_bytes = -1,
				    .segment_bytes = 1 << 20, .name = "orders",
				    .name_len = 6 };
	l = sipc_encode_topic_put(m, sizeof(m), 2, &tp);
	n += put_msg(s + n, 0, m, (size_t)l);
	l = sipc_encode_topic_delete(m, sizeof(m), 3, 1, "orders", 6);
	n += put_msg(s + n, 0, m, (size_t)l);
	l = sipc_encode_sync_done(m, sizeof(m), 4);
	n += put_msg(s + n, 0, m, (size_t)l);
	uint8_t resp[32];
	long rl = sn_encode_create_topic_resp(resp, sizeof(resp), 77, 0, 1);
	l = sipc_encode_admin_reply(m, sizeof(m), 5, resp, (size_t)rl);
	n += put_msg(s + n, 0, m, (size_t)l);
	seed(t, "sluiced-session", s, n);
	/* damage: wrong magic, a length field that lies, an old version */
	n = 0;
	l = sipc_encode_hello(m, sizeof(m), 1, 1);
	m[0] ^= 0xff;
	n += put_msg(s + n, 0, m, (size_t)l);
	l = sipc_encode_hello(m, sizeof(m), 1, 1);
	rb_put32(m + 16, 2);
	n += put_msg(s + n, 0, m, (size_t)l);
	l = sipc_encode_topic_put(m, sizeof(m), 2, &tp);
	n += put_msg(s + n, 0, m, (size_t)l - 3);
	seed(t, "damaged", s, n);
}

/* ---- frontend: sessions on both protocols ---- */

/* One chunk of a frontend_fuzz input: ctl, u16 length, the bytes. */
static size_t fe_chunk(uint8_t *out, uint8_t ctl, const void *p, size_t n)
{
	FUZZ_CHECK(n <= 0xffff);
	out[0] = ctl;
	rb_put16(out + 1, (uint16_t)n);
	if (n)
		memcpy(out + 3, p, n);
	return 3 + n;
}

/* A Kafka request frame (size prefix included) at out; its length. */
static size_t fe_kafka(uint8_t *out, size_t cap, int16_t api, int16_t version,
		       const void *body)
{
	struct kc_request_header h = { api, version, 0, S("fuzz") };
	long l = kc_encode_request(&h, body, out + 4, cap - 4);
	FUZZ_CHECK(l > 0);
	rb_put32(out, (uint32_t)l);
	return 4 + (size_t)l;
}

static void seeds_frontend(void)
{
	const char *t = "frontend_fuzz";
	static uint8_t s[1 << 16], m[1 << 15], batch[512];
	size_t n = 0, k = 0;
	long l;
	/* a valid batch of two records (correlation ids are numbered by
	 * the target) */
	struct rb_builder b;
	rb_builder_init(&b, batch, sizeof(batch), 1700000000000ll);
	FUZZ_CHECK(rb_builder_add(&b, "k", 1, "v1", 2, 1700000000000ll) == 0);
	FUZZ_CHECK(rb_builder_add(&b, NULL, -1, "v2", 2, 1700000000001ll) == 0);
	long bl = rb_builder_finish(&b);
	FUZZ_CHECK(bl > 0);

	/* native TCP: metadata, produce with each acks, fetch, list offsets,
	 * create topic (control answers), init producer id; then a long
	 * poll that the clock ends */
	s[n++] = FE_CONTROL_ANSWER;
	l = sn_encode_metadata(m + k, sizeof(m) - k, 0, NULL, 0);
	k += (size_t)l;
	int16_t acks[3] = { 1, -1, 0 };
	for (int i = 0; i < 3; i++) {
		struct sn_produce pr = { FE_TOPIC_ID, i % FE_PARTITIONS,
					 acks[i], 1000, batch, (uint32_t)bl };
		l = sn_encode_produce(m + k, sizeof(m) - k, 0, &pr);
		FUZZ_CHECK(l > 0);
		k += (size_t)l;
	}
	struct sn_fetch fe = { FE_TOPIC_ID, 0, 0, 1 << 20, 0, 0, 1 };
	k += (size_t)sn_encode_fetch(m + k, sizeof(m) - k, 0, &fe);
	struct sn_list_offsets lo = { FE_TOPIC_ID, 0, -1 };
	k += (size_t)sn_encode_list_offsets(m + k, sizeof(m) - k, 0, &lo);
	struct sn_create_topic ct = { 3, 1, 3600000, -1, 1 << 20, "orders", 6 };
	k += (size_t)sn_encode_create_topic(m + k, sizeof(m) - k, 0, &ct);
	k += (size_t)sn_encode_init_pid(m + k, sizeof(m) - k, 0);
	n += fe_chunk(s + n, FE_TO_NATIVE, m, k);
	static uint8_t whole[1 << 14];
	size_t wk = k;
	FUZZ_CHECK(wk <= sizeof(whole));
	memcpy(whole, m, wk);
	struct sn_fetch lp = { FE_TOPIC_ID, 1, 0, 1 << 20, 500, 1 << 20, 0 };
	l = sn_encode_fetch(m, sizeof(m), 0, &lp);
	n += fe_chunk(s + n, FE_TO_NATIVE, m, (size_t)l);
	n += fe_chunk(s + n, FE_TO_NATIVE | FE_CLOCK_600MS, NULL, 0);
	seed(t, "native-tcp", s, n);

	/* the same frames split at odd places, nothing stepped between */
	size_t half = wk / 2;
	n = 0;
	s[n++] = FE_CONTROL_SILENT | (FE_BUDGET_8K << 2);
	n += fe_chunk(s + n, FE_TO_NATIVE | FE_NO_STEP, whole, 7);
	n += fe_chunk(s + n, FE_TO_NATIVE | FE_NO_STEP, whole + 7, half);
	n += fe_chunk(s + n, FE_TO_NATIVE | FE_HANGUP, whole + 7 + half,
		      wk - 7 - half);
	seed(t, "native-split-hangup", s, n);

	/* native datagrams: produce (copied and kept), a padded fetch,
	 * metadata, a refused create topic */
	n = 0;
	s[n++] = FE_CONTROL_ABSENT;
	struct sn_produce pr = { FE_TOPIC_ID, 0, 1, 1000, batch, (uint32_t)bl };
	l = sn_encode_produce(m, sizeof(m), 11, &pr);
	n += fe_chunk(s + n, FE_TO_DATAGRAM, m, (size_t)l);
	n += fe_chunk(s + n, FE_TO_DATAGRAM_KEEP, m, (size_t)l);
	memset(m, 0, 1024);
	l = sn_encode_fetch(m, sizeof(m), 12, &fe);
	rb_put32(m + 4, 1024); /* padded: room for the records */
	n += fe_chunk(s + n, FE_TO_DATAGRAM, m, 1024);
	l = sn_encode_metadata(m, sizeof(m), 13, NULL, 0);
	n += fe_chunk(s + n, FE_TO_DATAGRAM, m, (size_t)l);
	l = sn_encode_create_topic(m, sizeof(m), 14, &ct);
	n += fe_chunk(s + n, FE_TO_DATAGRAM, m, (size_t)l);
	seed(t, "native-datagrams", s, n);

	/* Kafka: ApiVersions, Metadata (all, named), Produce to both
	 * partitions, Fetch, ListOffsets, InitProducerId, FindCoordinator,
	 * JoinGroup (forwarded to control) */
	n = 0;
	k = 0;
	s[n++] = FE_CONTROL_ANSWER;
	struct kc_api_versions_req av = { S("fuzz"), S("1") };
	k += fe_kafka(m + k, sizeof(m) - k, KC_API_API_VERSIONS, 3, &av);
	struct kc_metadata_req md = { { NULL, -1 }, false, false, false };
	k += fe_kafka(m + k, sizeof(m) - k, KC_API_METADATA, 8, &md);
	struct kc_metadata_req_topic mt[2] = { { .name = S(FE_TOPIC_NAME) },
					       { .name = S("nope") } };
	struct kc_metadata_req mdn = { { mt, 2 }, false, false, false };
	k += fe_kafka(m + k, sizeof(m) - k, KC_API_METADATA, 8, &mdn);
	struct kc_produce_req_partition pp[2] = {
		{ 0, { batch, (int32_t)bl } }, { 1, { batch, (int32_t)bl } } };
	struct kc_produce_req_topic pt = { S(FE_TOPIC_NAME), { { 0 } }, { pp, 2 } };
	struct kc_produce_req pq = { { NULL, -1 }, -1, 1000, { &pt, 1 } };
	k += fe_kafka(m + k, sizeof(m) - k, KC_API_PRODUCE, 7, &pq);
	struct kc_fetch_req_partition fp = {
		.partition = 0, .current_leader_epoch = -1, .fetch_offset = 0,
		.last_fetched_epoch = -1, .log_start_offset = -1,
		.partition_max_bytes = 1 << 20 };
	struct kc_fetch_req_topic ft = { .topic = S(FE_TOPIC_NAME),
					 .partitions = { &fp, 1 } };
	struct kc_fetch_req fq = { .replica_id = -1, .max_wait_ms = 0,
				   .min_bytes = 1, .max_bytes = 1 << 20,
				   .isolation_level = 0, .session_id = 0,
				   .session_epoch = -1, .topics = { &ft, 1 },
				   .forgotten_topics_data = { NULL, 0 },
				   .rack_id = S("") };
	k += fe_kafka(m + k, sizeof(m) - k, KC_API_FETCH, 11, &fq);
	struct kc_list_offsets_req_partition lp2 = { 0, -1, -1, 1 };
	struct kc_list_offsets_req_topic lt = { S(FE_TOPIC_NAME), { &lp2, 1 } };
	struct kc_list_offsets_req lq = { .replica_id = -1, .isolation_level = 0,
					  .topics = { &lt, 1 } };
	k += fe_kafka(m + k, sizeof(m) - k, KC_API_LIST_OFFSETS, 5, &lq);
	struct kc_init_producer_id_req ip = { { NULL, -1 }, 60000, -1, -1, false, false };
	k += fe_kafka(m + k, sizeof(m) - k, KC_API_INIT_PRODUCER_ID, 1, &ip);
	struct kc_find_coordinator_req fc = { S("g"), 0, { NULL, 0 } };
	k += fe_kafka(m + k, sizeof(m) - k, KC_API_FIND_COORDINATOR, 2, &fc);
	struct kc_join_group_req_protocol jp = { S("range"),
						 { (const uint8_t *)"m", 1 } };
	struct kc_join_group_req jq = { S("g"), 10000, 10000, S(""),
					{ NULL, -1 }, S("consumer"),
					{ &jp, 1 }, { NULL, -1 } };
	k += fe_kafka(m + k, sizeof(m) - k, KC_API_JOIN_GROUP, 5, &jq);
	n += fe_chunk(s + n, FE_TO_KAFKA, m, k);
	seed(t, "kafka-tcp", s, n);

	/* Kafka long poll: a fetch waiting on an empty partition, woken by
	 * a produce on the other connection's protocol, then one that the
	 * clock ends */
	n = 0;
	s[n++] = FE_CONTROL_ERROR;
	fp.partition = 1;
	fq.max_wait_ms = 500;
	l = (long)fe_kafka(m, sizeof(m), KC_API_FETCH, 11, &fq);
	n += fe_chunk(s + n, FE_TO_KAFKA, m, (size_t)l);
	struct sn_produce p1 = { FE_TOPIC_ID, 1, -1, 1000, batch,
				 (uint32_t)bl };
	l = sn_encode_produce(m, sizeof(m), 0, &p1);
	n += fe_chunk(s + n, FE_TO_NATIVE | FE_CLOCK_1MS, m, (size_t)l);
	fp.fetch_offset = 2;
	l = (long)fe_kafka(m, sizeof(m), KC_API_FETCH, 11, &fq);
	n += fe_chunk(s + n, FE_TO_KAFKA | FE_CLOCK_1MS, m, (size_t)l);
	n += fe_chunk(s + n, FE_TO_KAFKA | FE_CLOCK_600MS, NULL, 0);
	seed(t, "kafka-long-poll", s, n);

	/* pipelined, nothing stepped: 48 native fetches fill both
	 * partitions' rings (16 slots) and the connection's window (32):
	 * refused, paused, resumed; 40 Kafka ListOffsets the same way */
	n = 0;
	k = 0;
	s[n++] = FE_CONTROL_ANSWER;
	for (int i = 0; i < 48; i++) {
		struct sn_fetch pf = { FE_TOPIC_ID, i % FE_PARTITIONS, 0,
				       4096, 0, 0, 1 };
		k += (size_t)sn_encode_fetch(m + k, sizeof(m) - k, 0, &pf);
	}
	n += fe_chunk(s + n, FE_TO_NATIVE | FE_NO_STEP, m, k);
	k = 0;
	for (int i = 0; i < 40; i++) {
		lp2.partition_index = i % FE_PARTITIONS;
		k += fe_kafka(m + k, sizeof(m) - k, KC_API_LIST_OFFSETS, 5,
			      &lq);
	}
	n += fe_chunk(s + n, FE_TO_KAFKA | FE_NO_STEP, m, k);
	n += fe_chunk(s + n, FE_TO_NATIVE, NULL, 0);
	seed(t, "pipelined", s, n);

	/* Kafka transactions, the partition side: a transactional batch,
	 * read_committed Fetch (v4, v11) and ListOffsets while it is open,
	 * WriteTxnMarkers v0 (abort, and a topic that does not exist) and
	 * v1 (an older epoch, then a commit), the fetches again */
	static uint8_t tbatch[512];
	memcpy(tbatch, batch, (size_t)bl);
	rb_put64(tbatch + RB_OFF_PRODUCER_ID, (uint64_t)1 << 40);
	rb_put16(tbatch + RB_OFF_PRODUCER_EPOCH, 1);
	rb_put32(tbatch + RB_OFF_BASE_SEQUENCE, 0);
	rb_put16(tbatch + RB_OFF_ATTRIBUTES, RB_ATTR_TRANSACTIONAL);
	rb_put32(tbatch + RB_OFF_CRC, rb_crc32c(tbatch + RB_CRC_START,
						(size_t)bl - RB_CRC_START));
	n = 0;
	k = 0;
	s[n++] = FE_CONTROL_ANSWER;
	pp[0] = (struct kc_produce_req_partition){ 0, { tbatch, (int32_t)bl } };
	pt.partition_data.count = 1;
	pq.transactional_id = S("tx");
	k += fe_kafka(m + k, sizeof(m) - k, KC_API_PRODUCE, 7, &pq);
	fp.partition = 0;
	fp.fetch_offset = 0;
	fq.max_wait_ms = 0;
	fq.isolation_level = 1;
	k += fe_kafka(m + k, sizeof(m) - k, KC_API_FETCH, 4, &fq);
	lp2.partition_index = 0;
	lq.isolation_level = 1;
	k += fe_kafka(m + k, sizeof(m) - k, KC_API_LIST_OFFSETS, 5, &lq);
	static const int32_t part0 = 0;
	struct kc_write_txn_markers_req_writable_txn_marker_topic wt[2] = {
		{ S(FE_TOPIC_NAME), { (void *)&part0, 1 } },
		{ S("nope"), { (void *)&part0, 1 } } };
	struct kc_write_txn_markers_req_writable_txn_marker wm[2] = {
		{ (int64_t)1 << 40, 1, false, { wt, 2 }, 3, 0 },
		{ (int64_t)1 << 40, 0, true, { wt, 1 }, 3, 0 } };
	struct kc_write_txn_markers_req wq = { { wm, 1 } };
	k += fe_kafka(m + k, sizeof(m) - k, KC_API_WRITE_TXN_MARKERS, 0, &wq);
	k += fe_kafka(m + k, sizeof(m) - k, KC_API_FETCH, 11, &fq);
	wq.markers = (struct kc_array){ wm + 1, 1 };
	k += fe_kafka(m + k, sizeof(m) - k, KC_API_WRITE_TXN_MARKERS, 1, &wq);
	wm[1].producer_epoch = 1;
	k += fe_kafka(m + k, sizeof(m) - k, KC_API_WRITE_TXN_MARKERS, 1, &wq);
	k += fe_kafka(m + k, sizeof(m) - k, KC_API_FETCH, 4, &fq);
	n += fe_chunk(s + n, FE_TO_KAFKA, m, k);
	seed(t, "kafka-txn", s, n);
}

/* ---- the three older targets ---- */

static void seeds_proto(void)
{
	static uint8_t batch[1024], frame[2048];
	struct rb_builder b;
	rb_builder_init(&b, batch, sizeof(batch), 1700000000000ll);
	FUZZ_CHECK(rb_builder_add(&b, "k", 1, "v1", 2, 1700000000000ll) == 0);
	FUZZ_CHECK(rb_builder_add(&b, NULL, -1, "v2", 2, 1700000000001ll) == 0);
	long bl = rb_builder_finish(&b);
	FUZZ_CHECK(bl > 0);
	seed("record_batch_fuzz", "two-records", batch, (size_t)bl);
	struct sn_produce pr = { 1, 0, -1, 1000, batch, (uint32_t)bl };
	long fl = sn_encode_produce(frame, sizeof(frame), 9, &pr);
	FUZZ_CHECK(fl > 0);
	seed("native_fuzz", "produce", frame, (size_t)fl);
	struct sn_create_topic ct = { 3, 1, 3600000, -1, 1 << 20, "orders", 6 };
	fl = sn_encode_create_topic(frame, sizeof(frame), 10, &ct);
	seed("native_fuzz", "create-topic", frame, (size_t)fl);
	/* LEADERS: a request for two topics, an answer with two brokers, a
	 * topic of three partitions and an unknown one */
	static const char *const two[] = { "orders", "nope" };
	fl = sn_encode_leaders(frame, sizeof(frame), 11, two, 2);
	FUZZ_CHECK(fl > 0);
	seed("native_fuzz", "leaders", frame, (size_t)fl);
	struct sn_leaders_builder lb;
	sn_leaders_resp_begin(&lb, frame, sizeof(frame));
	struct sn_leaders_broker b1 = { 1, 9093, 9093, "10.0.0.1", 8, "", 0 };
	struct sn_leaders_broker b2 = { 2, 9193, 9193, "", 0, "10.9.0.2", 8 };
	FUZZ_CHECK(sn_leaders_resp_broker(&lb, &b1) == 0 &&
		   sn_leaders_resp_broker(&lb, &b2) == 0);
	static const int32_t ld[] = { 1, 2, -1 }, ep[] = { 4, 0, 7 };
	struct sn_leaders_topic lt = { 5, 0, 3, "orders", 6, NULL };
	struct sn_leaders_topic ln = { 0, SN_ERR_UNKNOWN_TOPIC_OR_PARTITION, 0,
				       "nope", 4, NULL };
	FUZZ_CHECK(sn_leaders_resp_topic(&lb, &lt, ld, ep) == 0 &&
		   sn_leaders_resp_topic(&lb, &ln, NULL, NULL) == 0);
	fl = sn_leaders_resp_finish(&lb, 11, 0);
	FUZZ_CHECK(fl > 0);
	seed("native_fuzz", "leaders-resp", frame, (size_t)fl);
	/* QUEUE_RECEIVE and QUEUE_ACK: a receive; its answer of three
	 * partitions (the batch above with a range of each of its records,
	 * an error alone, a range alone) and an error answer; an
	 * acknowledgement of each kind and their answer */
	static const uint8_t member[SN_MEMBER_BYTES] = { 0x5e, 0xed, [15] = 1 };
	struct sn_queue_receive qr = { .max_messages = 100,
				       .max_wait_ms = 500, .group = "workers",
				       .group_len = 7, .topic = "orders",
				       .topic_len = 6 };
	memcpy(qr.member, member, sizeof(member));
	fl = sn_encode_queue_receive(frame, sizeof(frame), 12, &qr);
	FUZZ_CHECK(fl > 0);
	seed("native_fuzz", "queue-receive", frame, (size_t)fl);
	static const struct sn_qrange qg[2] = { { 0, 0, 1 }, { 1, 1, 2 } };
	struct sn_qrecv_builder qb;
	sn_qrecv_resp_begin(&qb, frame, sizeof(frame));
	FUZZ_CHECK(sn_qrecv_resp_part(&qb, 0, 0, qg, 2, batch,
				      (uint32_t)bl) == 0 &&
		   sn_qrecv_resp_part(&qb, 1, SN_ERR_NOT_LEADER_OR_FOLLOWER,
				      NULL, 0, NULL, 0) == 0 &&
		   sn_qrecv_resp_part(&qb, 2, 0, qg + 1, 1, NULL, 0) == 0);
	fl = sn_qrecv_resp_finish(&qb, 12, 0, 1, 30000);
	FUZZ_CHECK(fl > 0);
	seed("native_fuzz", "queue-receive-resp", frame, (size_t)fl);
	fl = sn_encode_error_resp(frame, sizeof(frame), SN_QUEUE_RECEIVE, 12,
				  SN_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	FUZZ_CHECK(fl == SN_QRECV_RESP_BYTES);
	seed("native_fuzz", "queue-receive-error", frame, (size_t)fl);
	static const struct sn_qack_entry qe[4] = {
		{ 0, 0, 0, 0, SN_ACK_ACCEPT }, { 1, 1, 0, 5000, SN_ACK_RELEASE },
		{ 2, 4, 1, 0, SN_ACK_REJECT }, { 7, 7, 2, 0, SN_ACK_EXTEND } };
	struct sn_queue_ack qa = { .group = "workers", .group_len = 7,
				   .topic = "orders", .topic_len = 6,
				   .count = 4 };
	memcpy(qa.member, member, sizeof(member));
	fl = sn_encode_queue_ack(frame, sizeof(frame), 13, &qa, qe);
	FUZZ_CHECK(fl > 0);
	seed("native_fuzz", "queue-ack", frame, (size_t)fl);
	static const int16_t qerr[4] = { 0, 0, SN_ERR_INVALID_RECORD_STATE,
					 SN_ERR_INVALID_REQUEST };
	fl = sn_encode_queue_ack_resp(frame, sizeof(frame), 13, 0, qerr, 4);
	FUZZ_CHECK(fl > 0);
	seed("native_fuzz", "queue-ack-resp", frame, (size_t)fl);
	struct sn_route rt = { SN_ROUTE_PUT, "eu", 2,
			       "from=orders.*.eu to=eu header:k=v any", 38 };
	fl = sn_encode_route(frame, sizeof(frame), 14, &rt);
	FUZZ_CHECK(fl > 0);
	seed("native_fuzz", "route-put", frame, (size_t)fl);
	struct sn_route_builder rb;
	sn_route_resp_begin(&rb, frame, sizeof(frame), "", 0);
	struct sn_route_entry re = { "eu", 2, "from=a.# to=b", 13, 42 };
	FUZZ_CHECK(sn_route_resp_add(&rb, &re) == 0);
	fl = sn_route_resp_finish(&rb, 15, 0);
	FUZZ_CHECK(fl > 0);
	seed("native_fuzz", "route-list-resp", frame, (size_t)fl);
	struct kc_join_group_req_protocol p = { S("range"),
						{ (const uint8_t *)"m", 1 } };
	struct kc_join_group_req jq = { S("g"), 10000, 10000, S(""),
					{ NULL, -1 }, S("consumer"), { &p, 1 },
					{ NULL, -1 } };
	struct kc_request_header h = { KC_API_JOIN_GROUP, 5, 5, S("c") };
	fl = kc_encode_request(&h, (const void *)&jq, frame, sizeof(frame));
	FUZZ_CHECK(fl > 0);
	seed("kafka_fuzz", "join-group-v5", frame, (size_t)fl);
}

/* ---- quorum_envelope ---- */

static void seeds_quorum_envelope(void)
{
	const char *t = "quorum_envelope_fuzz";
	static const char rec[] = "CREATE_TOPIC orders 3 partitions";
	uint8_t b[SL_QUORUM_SNAP_HDR + 64];
	size_t n = sl_quorum_entry_size(sizeof(rec) - 1);
	sl_quorum_entry_encode(b, rec, sizeof(rec) - 1);
	seed_f(t, "entry", 0, b, n);
	seed_f(t, "entry-truncated", 0, b, n - 8);
	b[12] ^= 1;
	seed_f(t, "entry-bad-crc", 0, b, n);
	seed_f(t, "entry-repaired", 2, b, n);
	sl_quorum_entry_encode(b, "12345678", 8);
	seed_f(t, "entry-8", 0, b, sl_quorum_entry_size(8));
	static const uint8_t state[24] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
	sl_quorum_snap_header(b, 1042, state, sizeof(state));
	memcpy(b + SL_QUORUM_SNAP_HDR, state, sizeof(state));
	seed_f(t, "snapshot", 1, b, SL_QUORUM_SNAP_HDR + sizeof(state));
	seed_f(t, "snapshot-short", 1, b, SL_QUORUM_SNAP_HDR + 3);
	seed_f(t, "snapshot-repaired", 3, b, SL_QUORUM_SNAP_HDR + 3);
	sl_quorum_snap_header(b, 7, NULL, 0);
	seed_f(t, "snapshot-empty", 1, b, SL_QUORUM_SNAP_HDR);
}

/* ---- replica_wire ---- */

/* A batch of n records at base offset base into buf; its size. */
static size_t rw_batch(uint8_t *buf, size_t cap, int64_t base, int n)
{
	struct rb_builder b;
	rb_builder_init(&b, buf, cap, 1700000000000ll);
	for (int i = 0; i < n; i++)
		FUZZ_CHECK(rb_builder_add(&b, "k", 1, "value", 5,
					  1700000000000ll + i) == 0);
	long len = rb_builder_finish(&b);
	FUZZ_CHECK(len > 0);
	rb_stamp(buf, base, 3);
	return (size_t)len;
}

static struct kc_fetch_resp_partition rw_part(int32_t index, int16_t err,
					      const uint8_t *rec, size_t len)
{
	return (struct kc_fetch_resp_partition){
		.partition_index = index, .error_code = err,
		.high_watermark = 40, .last_stable_offset = 40,
		.log_start_offset = 0,
		.diverging_epoch = { -1, -1 }, .current_leader = { -1, -1 },
		.snapshot_id = { -1, -1 },
		.aborted_transactions = { NULL, -1 },
		.preferred_read_replica = -1,
		.records = { rec ? rec : (const uint8_t *)"", rec ?
					 (int32_t)len : 0 },
	};
}

static void seeds_replica_wire(void)
{
	const char *t = "replica_wire_fuzz";
	static uint8_t r0[2048], r1[2048], out[8192];
	/* partition 0: two whole batches and a third cut in the middle */
	size_t a = rw_batch(r0, sizeof(r0), 10, 3);
	a += rw_batch(r0 + a, sizeof(r0) - a, 13, 2);
	size_t c = rw_batch(r0 + a, sizeof(r0) - a, 15, 4);
	/* partition 1: a batch, then one with a bad CRC */
	size_t b = rw_batch(r1, sizeof(r1), 20, 1);
	size_t d = rw_batch(r1 + b, sizeof(r1) - b, 21, 2);
	r1[b + d - 1] ^= 0x40;
	struct kc_fetch_resp_partition ps[4] = {
		rw_part(0, 0, r0, a + c / 2),
		rw_part(1, 0, r1, b + d),
		rw_part(2, 6, NULL, 0), /* NOT_LEADER_OR_FOLLOWER */
		rw_part(3, 0, NULL, 0),
	};
	ps[3].diverging_epoch = (struct kc_fetch_resp_epoch_end_offset){ 2,
									  12 };
	struct kc_fetch_resp_topic tp = { .topic = S("orders"),
					  .partitions = { ps, 4 } };
	union kc_response u;
	kc_response_init(&u, KC_API_FETCH);
	struct kc_fetch_resp *fr = (void *)u.raw;
	fr->responses = (struct kc_array){ &tp, 1 };
	struct kc_response_header h = { 7 };
	long n = kc_encode_response(KC_API_FETCH, 12, &h, &u, out, sizeof(out));
	FUZZ_CHECK(n > 0);
	seed_f(t, "fetch", 0, out, (size_t)n);
	seed_f(t, "fetch-truncated", 0, out, (size_t)n - 9);
	/* the records alone, as rw_split_records sees them */
	seed_f(t, "records", 0, r0, a + c);
	kc_response_init(&u, KC_API_OFFSET_FOR_LEADER_EPOCH);
	struct kc_offset_for_leader_epoch_resp *er = (void *)u.raw;
	struct kc_offset_for_leader_epoch_resp_epoch_end_offset eps[2] = {
		{ 0, 0, 3, 15 }, { 74, 1, -1, -1 } };
	struct kc_offset_for_leader_epoch_resp_offset_for_leader_topic_result
		et = { S("orders"), { eps, 2 } };
	er->topics = (struct kc_array){ &et, 1 };
	n = kc_encode_response(KC_API_OFFSET_FOR_LEADER_EPOCH, 4, &h, &u, out,
			       sizeof(out));
	FUZZ_CHECK(n > 0);
	seed_f(t, "epoch", 1, out, (size_t)n);
}

/* ---- gtopic ---- */

/* flags byte, 2-byte key length, key, value (gtopic_fuzz.c) */
static void seed_gtopic(const char *name, uint8_t flags, const uint8_t *k,
			int32_t klen, const uint8_t *v, int32_t vlen)
{
	static uint8_t b[3 + SL_GTOPIC_KEY_MAX + SL_GTOPIC_VALUE_MAX];
	size_t n = 3;
	b[0] = flags;
	b[1] = (uint8_t)(klen >> 8);
	b[2] = (uint8_t)klen;
	memcpy(b + n, k, (size_t)klen);
	n += (size_t)klen;
	if (vlen > 0) {
		memcpy(b + n, v, (size_t)vlen);
		n += (size_t)vlen;
	}
	seed("gtopic_fuzz", name, b, n);
}

static void seeds_gtopic(void)
{
	static uint8_t k[SL_GTOPIC_KEY_MAX], v[SL_GTOPIC_VALUE_MAX];
	int32_t kl, vl;
	/* what sluice writes: a commit and an Empty group (flipping flag
	 * bit 0 makes their tombstones) */
	struct sl_offsets_rec r = {
		.type = SL_OFFSETS_COMMIT,
		.group = "orders-app", .group_len = 10,
		.topic = "orders", .topic_len = 6, .partition = 3,
		.offset = 42, .leader_epoch = 7, .meta = "w1", .meta_len = 2,
		.time_ms = 1700000000000ll,
	};
	sl_gtopic_encode(&r, k, &kl, v, &vl);
	seed_gtopic("commit", 0, k, kl, v, vl);
	/* as Kafka writes it: the same key with a flexible
	 * OffsetCommitValue (v4) carrying a tagged field */
	static const uint8_t cval[] = {
		0, 4,                                   /* version */
		0, 0, 0, 0, 0, 0, 0, 42,                /* offset */
		0, 0, 0, 7,                             /* leader_epoch */
		3, 'w', '1',                            /* metadata */
		0, 0, 1, 0x8b, 0xcf, 0xe5, 0x68, 0,     /* commit time */
		1, 0, 2, 'x', 'y',                      /* tag 0: 2 bytes */
	};
	seed_gtopic("commit-v4", 0, k, kl, cval, sizeof(cval));
	r.type = SL_OFFSETS_STATE;
	sl_gtopic_encode(&r, k, &kl, v, &vl);
	seed_gtopic("state", 0, k, kl, v, vl);
	/* and a flexible GroupMetadataValue (v4) of a group with a static
	 * member */
	static const uint8_t gkey[] = { 0, 2, 0, 3, 'g', 'r', 'p' };
	static const uint8_t gval[] = {
		0, 4,                                   /* version */
		9, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r',
		0, 0, 0, 5,                             /* generation */
		6, 'r', 'a', 'n', 'g', 'e',             /* protocol */
		4, 'm', '-', '1',                       /* leader */
		0, 0, 1, 0x8b, 0xcf, 0xe5, 0x68, 0,     /* state time */
		2,                                      /* one member */
		4, 'm', '-', '1',                       /* member_id */
		3, 'i', '1',                            /* group_instance_id */
		3, 'c', '1',                            /* client_id */
		11, '/', '1', '2', '7', '.', '0', '.', '0', '.', '1',
		0, 4, 0x93, 0xe0,                       /* rebalance_timeout */
		0, 0, 0xaf, 0xc8,                       /* session_timeout */
		1, 1,                                   /* subscription,
							   assignment: empty */
		0,                                      /* member's tags */
		0,                                      /* value's tags */
	};
	seed_gtopic("group-v4", 0, gkey, sizeof(gkey), gval, sizeof(gval));
}

/* ---- ttopic ---- */

#define TTOPIC_VALUE_SEED_MAX 1024

/* flags byte, 2-byte key length, key, value (ttopic_fuzz.c) */
static void seed_ttopic(const char *name, uint8_t flags, const uint8_t *k,
			int32_t klen, const uint8_t *v, size_t vlen)
{
	static uint8_t b[3 + SL_TTOPIC_KEY_MAX + TTOPIC_VALUE_SEED_MAX];
	size_t n = 3;
	b[0] = flags;
	b[1] = (uint8_t)(klen >> 8);
	b[2] = (uint8_t)klen;
	memcpy(b + n, k, (size_t)klen);
	n += (size_t)klen;
	if (vlen > 0) {
		memcpy(b + n, v, vlen);
		n += vlen;
	}
	seed("ttopic_fuzz", name, b, n);
}

static size_t ttopic_value(const struct sl_ttopic_state *s, uint8_t *v,
			   size_t cap)
{
	if (sl_ttopic_value_bytes(s) > cap) {
		fprintf(stderr, "ttopic seed: value past %zu bytes\n", cap);
		exit(1);
	}
	return sl_ttopic_value(s, v);
}

static void seeds_ttopic(void)
{
	static uint8_t k[SL_TTOPIC_KEY_MAX], v[TTOPIC_VALUE_SEED_MAX];
	/* what sluice writes: a completed transaction (flipping flag bit 0
	 * makes its tombstone) */
	struct sl_txnlog_rec r = {
		.type = SL_TXNLOG_STATE, .id = "orders-tx", .id_len = 9,
		.producer_id = 4000, .prev_producer_id = -1, .epoch = 3,
		.last_epoch = -1, .timeout_ms = 60000, .state = 4,
		.start_ms = -1, .update_ms = 1700000000000ll,
	};
	struct sl_ttopic_state s = { .state = &r };
	int32_t kl = sl_ttopic_key(r.id, r.id_len, k);
	seed_ttopic("state", 0, k, kl, v, ttopic_value(&s, v, sizeof(v)));
	/* an ongoing one with partitions of two topics, groups and every
	 * tag sluice writes */
	static const struct sl_ttopic_name parts[] = {
		{ .name = "orders", .len = 6, .partition = 0 },
		{ .name = "orders", .len = 6, .partition = 3 },
		{ .name = "payments", .len = 8, .partition = 1 },
	};
	static const struct sl_ttopic_name groups[] = {
		{ .name = "billing", .len = 7 },
		{ .name = "audit", .len = 5 },
	};
	r.prev_producer_id = 3999;
	r.last_epoch = 2;
	r.state = 1;
	r.start_ms = 1699999999000ll;
	s = (struct sl_ttopic_state){ .state = &r, .parts = parts,
				      .nparts = 3, .groups = groups,
				      .ngroups = 2 };
	seed_ttopic("ongoing", 0, k, kl, v, ttopic_value(&s, v, sizeof(v)));
	seed_ttopic("tombstone", 1, k, kl, NULL, 0);
	kl = sl_ttopic_key(NULL, 0, k);
	seed_ttopic("load-mark", 1, k, kl, NULL, 0);
	/* as Kafka writes them: a v0 value (int16 strings, int32 counts, no
	 * tags), and a v1 value with Kafka's own tags (PreviousProducerId,
	 * NextProducerId, ClientTransactionVersion) */
	static const uint8_t kkey[] = { 0, 0, 0, 3, 'k', 't', 'x' };
	static const uint8_t v0[] = {
		0, 0,                                   /* version */
		0, 0, 0, 0, 0, 0, 0, 77,                /* producer id */
		0, 2,                                   /* epoch */
		0, 1, 0x5f, 0x90,                       /* timeout */
		2,                                      /* PrepareCommit */
		0, 0, 0, 1,                             /* one topic */
		0, 1, 't',
		0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, 6,     /* partitions 5, 6 */
		0, 0, 1, 0x8b, 0xcf, 0xe5, 0x6b, 0xe8,  /* last update */
		0, 0, 1, 0x8b, 0xcf, 0xe5, 0x68, 0,     /* start */
	};
	seed_ttopic("kafka-v0", 0, kkey, sizeof(kkey), v0, sizeof(v0));
	static const uint8_t v1[] = {
		0, 1,                                   /* version */
		0, 0, 0, 0, 0, 0, 0, 78,                /* producer id */
		0, 0,                                   /* epoch */
		0, 1, 0x5f, 0x90,                       /* timeout */
		5,                                      /* CompleteAbort */
		1,                                      /* no topics */
		0, 0, 1, 0x8b, 0xcf, 0xe5, 0x6b, 0xe8,  /* last update */
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* start */
		3,                                      /* three tags */
		0, 8, 0, 0, 0, 0, 0, 0, 0, 77,          /* previous */
		1, 8, 0, 0, 0, 0, 0, 0, 0, 79,          /* next */
		2, 2, 0, 2,                             /* client version */
	};
	seed_ttopic("kafka-v1-tags", 0, kkey, sizeof(kkey), v1, sizeof(v1));
}

/* ---- route: rule texts, patterns and ROUTE programs (route_fuzz.c) ---- */

/* A program step of route_fuzz with n bytes after it (a file's or a
 * raw PUT's: a 16-bit length first) into p at *at. */
static void route_bytes(uint8_t *p, size_t *at, const uint8_t *head,
			size_t hn, const void *b, size_t n)
{
	memcpy(p + *at, head, hn);
	*at += hn;
	p[(*at)++] = (uint8_t)(n >> 8);
	p[(*at)++] = (uint8_t)n;
	memcpy(p + *at, b, n);
	*at += n;
}

static void seeds_route(void)
{
	const char *t = "route_fuzz";
	/* mode 0: rule texts, then choices of names (instances of the
	 * pattern, changed ones) */
	static const char text[] =
		"\0from=orders.# to=dest header:a=1 header:b any direct"
		"\0\3\1\0\1\2\0\3\1\5\0\0\2\7\2\1";
	seed(t, "rule", text, sizeof(text) - 1);
	static const char star[] = "\3from=*.eu.* to=logs copy all\0\4\1\2\0"
				   "\1\0\0\1\4\2\2";
	seed(t, "rule-star", star, sizeof(star) - 1);
	static const char bad[] = "\0from=ord* to=y";
	seed(t, "rule-refused", bad, sizeof(bad) - 1);
	static const char own[] = "\0\tfrom=#\nto=dest\t";
	seed(t, "rule-own-copies", own, sizeof(own) - 1);
	/* mode 1: a pattern (its length first) and a name */
	static const char pairs[][40] = {
		"\10orders.*orders.eu", "\5a.#.za.b.c.z",
		"\5#.weborders.eu.web.x", "\5a.*.ba..b",
	};
	static const char *const pair_names[] = {
		"pattern-star", "pattern-hash", "pattern-hash-tail",
		"pattern-empty-word" };
	for (int i = 0; i < 4; i++)
		seed_f(t, pair_names[i], 1, pairs[i], strlen(pairs[i]));
	/* mode 2: programs (route_fuzz.c step()) */
	static const uint8_t rules[] = {
		2,
		0, 0, 0, 0, 0, 1, 0, 10, 0, 0, /* PUT r1 from=orders.* */
					       /*   to=dest */
		0, 0, 1, 0, 2, 0, 4, 7, 0,     /* PUT r2 from=logs */
		2, 0, 0, 3, 0, 0,              /*   to=orders.us.east */
					       /*   header:k=v any */
		3,                             /* LIST */
		5, 0xff,                       /* 10 s: both answered */
		6,                             /* restart */
		0, 1, 0,                       /* DELETE r1 */
		0, 1, 0,                       /* again: no rule of that name */
		9,                             /* late.topic made */
		0, 0, 2, 1, 0, 7, 5, 0, 0,     /* PUT r3 from=late.topic */
		0, 0, 8, 7, 0, 1, 1, 2, 0, 4,  /* PUT n7 from=us.orders */
		0, 3, 2, 0,                    /*   to=nope direct: no such */
					       /*   topic */
		5, 3, 3, 9, 5, 0xff, 3,        /* late.topic deleted */
	};
	seed(t, "rules", rules, sizeof(rules));
	static uint8_t prog[512];
	size_t n = 0;
	static const char conf[] = "r1\t3\tfrom=logs to=dest\n"
				   "r0\t1\tfrom=orders.# to=dest any\n";
	prog[n++] = 2;
	route_bytes(prog, &n, (const uint8_t[]){ 7 }, 1, conf,
		    sizeof(conf) - 1);
	/* written whole (loads), LIST, DELETE r2 (no such rule) */
	static const uint8_t loaded[] = { 0, 3, 0, 1, 1 };
	memcpy(prog + n, loaded, sizeof(loaded));
	n += sizeof(loaded);
	/* a line that is not a rule appended: refused; LIST */
	route_bytes(prog, &n, (const uint8_t[]){ 7 }, 1, "x\n", 2);
	prog[n++] = 1;
	prog[n++] = 3;
	/* positions of every kind, a restart, 10 s, LIST */
	static const char pos[] = "3 0 17\n1 1 5\n9 2 -1\nbad\n";
	route_bytes(prog, &n, (const uint8_t[]){ 8 }, 1, pos,
		    sizeof(pos) - 1);
	static const uint8_t tail[] = { 0, 5, 0xff, 3 };
	memcpy(prog + n, tail, sizeof(tail));
	n += sizeof(tail);
	seed(t, "hostile-files", prog, n);
	n = 0;
	prog[n++] = 2;
	/* raw: a LIST and a DELETE under a ROUTE header, a frame of an
	 * old version, a PUT with bytes overwritten, a PUT's raw text */
	static const uint8_t raw[] = {
		4, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0,
		4, 0, 10, 2, 0, 0, 2, 0, 0, 0, 0, 'r', '1',
		4, 1, 24, 0x53, 0x4c, 0, 0x0b, 0, 0, 0, 24, 0, 0, 0, 1,
		0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0,
		4, 2, 0, 0, 0, 0, 1, 0, 10, 0, 0, 2, 16, 2, 19, 0, 0,
	};
	memcpy(prog + n, raw, sizeof(raw));
	n += sizeof(raw);
	static const char put[] = "from=a.b.c to=orders.eu\theader:x";
	route_bytes(prog, &n, (const uint8_t[]){ 2, 1 }, 2, put,
		    sizeof(put) - 1);
	prog[n++] = 3;
	seed(t, "raw", prog, n);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR (tests/fuzz/corpus)\n",
			argv[0]);
		return 2;
	}
	out_root = argv[1];
	if (mkdir(out_root, 0755) < 0 && errno != EEXIST) {
		perror(out_root);
		return 1;
	}
	const char *tmp = fz_tmpdir();
	seeds_netstack();
	seeds_config();
	seeds_topics_meta(tmp);
	seeds_cluster_image();
	seeds_offsets_log(tmp);
	seeds_groups();
	seeds_recovery(tmp);
	seeds_ipc();
	seeds_proto();
	seeds_frontend();
	seeds_quorum_envelope();
	seeds_replica_wire();
	seeds_gtopic();
	seeds_ttopic();
	seeds_route();
	printf("%u seeds written under %s\n", written, out_root);
	return 0;
}
