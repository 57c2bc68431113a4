/* The group coordinator driver of the fuzz targets (groups_probe.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groups_probe.h"
#include "storage/log.h"
#include "fuzz_util.h"

#define REQS_MAX 8192        /* requests per run */
#define ARENA_BYTES (4u << 20)
#define REQ_BYTES (1u << 18)

struct pending {
	int16_t key, version;
	uint32_t conn;
	bool used, answered;
};

static struct pending reqs[REQS_MAX];
static uint32_t nreqs;
static bool dropped[GP_CONNS];
static struct sl_groups *G;
static int64_t mono_ms, wall_ms;
static gp_hook_fn hook;
static _Alignas(8) uint8_t arena_mem[ARENA_BYTES];
static uint8_t req_buf[REQ_BYTES];

static int64_t fake_wall_ms(void *ctx)
{
	(void)ctx;
	return wall_ms;
}

static uint64_t fake_mono_ns(void *ctx)
{
	(void)ctx;
	return (uint64_t)mono_ms * 1000000u;
}

static const struct sl_clock fake_clock = { fake_mono_ns, fake_wall_ms, NULL };

/* ---- snapshot capture ---- */

struct entry {
	uint8_t *p;
	size_t len;
};
#define ENTRIES_MAX 70000
static struct entry entries[ENTRIES_MAX];
static size_t nentries;
static uint8_t *ent_mem;
static size_t ent_used, ent_cap;
static int capture_mode; /* 0 none, 1 list, 2 fetch */
static char cap_groups[SL_GROUPS_MAX][SL_GROUPS_NAME_MAX + 1];
static int32_t cap_ngroups;
static int16_t cap_error;
static const char *cap_group;

static void ent_add(const void *a, size_t alen, const void *b, size_t blen)
{
	FUZZ_CHECK(nentries < ENTRIES_MAX);
	if (ent_used + alen + blen > ent_cap) {
		ent_cap = (ent_used + alen + blen) * 2 + 65536;
		uint8_t *n = realloc(ent_mem, ent_cap);
		FUZZ_CHECK(n != NULL);
		/* rebase the entries */
		for (size_t i = 0; i < nentries; i++)
			entries[i].p = n + (entries[i].p - ent_mem);
		ent_mem = n;
	}
	uint8_t *p = ent_mem + ent_used;
	memcpy(p, a, alen);
	if (blen)
		memcpy(p + alen, b, blen);
	entries[nentries++] = (struct entry){ p, alen + blen };
	ent_used += alen + blen;
}

static void capture(int16_t key, const void *resp)
{
	if (capture_mode == 1 && key == KC_API_LIST_GROUPS) {
		const struct kc_list_groups_resp *r = resp;
		cap_error = r->error_code;
		cap_ngroups = 0;
		const struct kc_listed_group *g = r->groups.items;
		for (int32_t i = 0; i < r->groups.count; i++) {
			FUZZ_CHECK(cap_ngroups < SL_GROUPS_MAX);
			FUZZ_CHECK(g[i].group_id.len >= 0 &&
				   g[i].group_id.len <= SL_GROUPS_NAME_MAX);
			memcpy(cap_groups[cap_ngroups], g[i].group_id.ptr,
			       (size_t)g[i].group_id.len);
			cap_groups[cap_ngroups][g[i].group_id.len] = 0;
			cap_ngroups++;
		}
	} else if (capture_mode == 2 && key == KC_API_OFFSET_FETCH) {
		const struct kc_offset_fetch_resp *r = resp;
		uint8_t head[SL_GROUPS_NAME_MAX + 16];
		size_t gl = strlen(cap_group);
		memcpy(head, cap_group, gl);
		head[gl] = 0;
		head[gl + 1] = 'E';
		head[gl + 2] = (uint8_t)(r->error_code >> 8);
		head[gl + 3] = (uint8_t)r->error_code;
		/* a group without offsets is no durable state (membership
		 * is in memory only): only its offsets and errors count */
		if (r->error_code)
			ent_add(head, gl + 4, NULL, 0);
		const struct kc_offset_fetch_resp_topic *t = r->topics.items;
		for (int32_t i = 0; i < r->topics.count; i++) {
			const struct kc_offset_fetch_resp_partition *p =
				t[i].partitions.items;
			for (int32_t j = 0; j < t[i].partitions.count; j++) {
				uint8_t e[SL_GROUPS_NAME_MAX + 300];
				size_t n = 0;
				memcpy(e, cap_group, gl);
				n = gl;
				e[n++] = 0;
				e[n++] = 'O';
				memcpy(e + n, t[i].name.ptr,
				       (size_t)t[i].name.len);
				n += (size_t)t[i].name.len;
				e[n++] = 0;
				uint8_t num[26];
				uint32_t pi = (uint32_t)p[j].partition_index;
				uint64_t off = (uint64_t)p[j].committed_offset;
				uint32_t ep = (uint32_t)p[j].committed_leader_epoch;
				uint32_t ml = (uint32_t)p[j].metadata.len;
				for (int k = 0; k < 4; k++)
					num[k] = (uint8_t)(pi >> (24 - 8 * k));
				for (int k = 0; k < 8; k++)
					num[4 + k] = (uint8_t)(off >> (56 - 8 * k));
				for (int k = 0; k < 4; k++)
					num[12 + k] = (uint8_t)(ep >> (24 - 8 * k));
				for (int k = 0; k < 4; k++)
					num[16 + k] = (uint8_t)(ml >> (24 - 8 * k));
				num[20] = (uint8_t)(p[j].error_code >> 8);
				num[21] = (uint8_t)p[j].error_code;
				memcpy(e + n, num, 22);
				n += 22;
				ent_add(e, n, p[j].metadata.ptr,
					p[j].metadata.len > 0 ?
						(size_t)p[j].metadata.len : 0);
			}
		}
	}
}

/* ---- replies ---- */

static void on_reply(void *ctx, uint64_t token, const uint8_t *resp,
		     size_t len)
{
	static struct kc_arena arena = { arena_mem, sizeof(arena_mem), 0 };
	static union kc_response body;
	FUZZ_CHECK(ctx == &G);
	uint32_t conn = (uint32_t)(token >> 32), seq = (uint32_t)token;
	FUZZ_CHECK(seq >= 1 && seq <= nreqs);
	struct pending *r = &reqs[seq - 1];
	FUZZ_CHECK(r->used && r->conn == conn);
	FUZZ_CHECK(!r->answered);     /* once per request */
	FUZZ_CHECK(!dropped[conn]);   /* never to a dropped requester */
	r->answered = true;
	FUZZ_CHECK(len >= 4 && len <= SL_GROUPS_MAX_RESPONSE);
	struct kc_response_header h;
	arena.used = 0;
	long n = kc_decode_response(r->key, r->version, resp, len, &h, &body,
				    &arena);
	if (n != (long)len)
		fprintf(stderr, "reply to api %d v%d does not decode: %ld of "
			"%zu bytes\n", r->key, r->version, n, len);
	FUZZ_CHECK(n == (long)len);
	FUZZ_CHECK(h.correlation_id == (int32_t)(seq & 0x7fffffff));
	if (capture_mode)
		capture(r->key, &body);
	else if (hook)
		hook(token, r->key, r->version, &body);
}

/* ---- the coordinator ---- */

/* The topics consumer groups see: t0 (id 1, 3 partitions) and t1 (id 2,
 * gp_set_partitions' count, 2 at first). */
static int32_t t1_partitions = 2;

void gp_reset(int64_t wall)
{
	memset(reqs, 0, sizeof(reqs[0]) * nreqs);
	nreqs = 0;
	memset(dropped, 0, sizeof(dropped));
	mono_ms = GP_MONO_START_MS;
	wall_ms = wall;
	hook = NULL;
	capture_mode = 0;
	t1_partitions = 2;
}

void gp_set_partitions(int32_t n)
{
	t1_partitions = n;
}

static bool fake_topic(void *ctx, const char *name, size_t len, uint32_t *id,
		       int32_t *partitions)
{
	(void)ctx;
	if (len == 2 && !memcmp(name, "t0", 2)) {
		*id = 1;
		*partitions = 3;
		return true;
	}
	if (len == 2 && !memcmp(name, "t1", 2)) {
		*id = 2;
		*partitions = t1_partitions;
		return true;
	}
	return false;
}

int gp_open(const char *dir, int64_t retention_ms, struct sl_groups **out)
{
	struct sl_groups_config cfg = {
		.retention_ms = retention_ms, .clock = &fake_clock,
		.disk = NULL, .topic = fake_topic };
	char err[512];
	int rc = sl_groups_open(dir, &cfg, on_reply, &G, mono_ms, &G, err,
				sizeof(err));
	if (rc < 0)
		G = NULL;
	memset(dropped, 0, sizeof(dropped)); /* a new coordinator */
	if (out)
		*out = G;
	return rc;
}

void gp_close(void)
{
	/* pending requests are dropped without reply */
	for (uint32_t i = 0; i < nreqs; i++)
		reqs[i].answered = true;
	sl_groups_close(G);
	G = NULL;
}

struct sl_groups *gp_groups(void)
{
	return G;
}

void gp_set_hook(gp_hook_fn fn)
{
	hook = fn;
}

static uint64_t new_token(uint32_t conn, int16_t key, int16_t version)
{
	FUZZ_CHECK(conn < GP_CONNS);
	if (nreqs == REQS_MAX)
		return 0;
	reqs[nreqs] = (struct pending){ key, version, conn, true, false };
	nreqs++;
	return (uint64_t)conn << 32 | nreqs;
}

int gp_send(uint32_t conn, int16_t key, int16_t version, const void *body,
	    uint64_t *token)
{
	*token = 0;
	if (!G)
		return -ENOENT;
	uint64_t t = new_token(conn, key, version);
	if (!t)
		return -ENOSPC;
	dropped[conn] = false;
	struct kc_request_header h = { key, version,
				       (int32_t)(t & 0x7fffffff),
				       { "fuzz", 4 } };
	long n = kc_encode_request(&h, body, req_buf, sizeof(req_buf));
	FUZZ_CHECK(n > 0);
	*token = t;
	int rc = sl_groups_request(G, t, req_buf, (size_t)n, mono_ms);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -EMSGSIZE ||
		   rc == -ENOMEM);
	if (rc < 0)
		reqs[(uint32_t)t - 1].answered = true; /* no reply comes */
	return rc;
}

int gp_send_raw(uint32_t conn, const uint8_t *req, size_t len,
		uint64_t *token)
{
	*token = 0;
	if (!G || len < 8 || len > sizeof(req_buf))
		return -EINVAL;
	int16_t key = (int16_t)(req[0] << 8 | req[1]);
	int16_t version = (int16_t)(req[2] << 8 | req[3]);
	uint64_t t = new_token(conn, key, version);
	if (!t)
		return -ENOSPC;
	dropped[conn] = false;
	memcpy(req_buf, req, len);
	uint32_t corr = (uint32_t)t & 0x7fffffff;
	req_buf[4] = (uint8_t)(corr >> 24);
	req_buf[5] = (uint8_t)(corr >> 16);
	req_buf[6] = (uint8_t)(corr >> 8);
	req_buf[7] = (uint8_t)corr;
	*token = t;
	int rc = sl_groups_request(G, t, req_buf, len, mono_ms);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -EMSGSIZE ||
		   rc == -ENOMEM);
	if (rc < 0)
		reqs[(uint32_t)t - 1].answered = true;
	return rc;
}

void gp_advance(int64_t ms)
{
	mono_ms += ms;
	wall_ms += ms;
	if (G) {
		int next = sl_groups_tick(G, mono_ms);
		FUZZ_CHECK(next >= -1);
	}
}

int64_t gp_now_ms(void)
{
	return mono_ms;
}

void gp_drop_conn(uint32_t conn)
{
	FUZZ_CHECK(conn < GP_CONNS);
	if (!G)
		return;
	sl_groups_drop_conn(G, conn);
	dropped[conn] = true;
	for (uint32_t i = 0; i < nreqs; i++)
		if (reqs[i].conn == conn)
			reqs[i].answered = true; /* never answered now */
}

bool gp_answered(uint64_t token)
{
	uint32_t seq = (uint32_t)token;
	return seq >= 1 && seq <= nreqs && reqs[seq - 1].answered;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->p, y->p, n);
	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

size_t gp_snapshot(uint8_t *buf, size_t cap)
{
	/* the snapshot's requests must not be mixed with the target's: a
	 * connection of its own that is never dropped */
	const uint32_t conn = GP_CONNS - 1;
	uint64_t t;
	union kc_request none;
	memset(&none, 0, sizeof(none));
	nentries = 0;
	ent_used = 0;
	capture_mode = 1;
	cap_ngroups = -1;
	int rc = gp_send(conn, KC_API_LIST_GROUPS, 2, &none, &t);
	FUZZ_CHECK(rc == 0 && gp_answered(t) && cap_ngroups >= 0);
	capture_mode = 2;
	for (int32_t i = 0; i < cap_ngroups && cap_error == 0; i++) {
		cap_group = cap_groups[i];
		struct kc_offset_fetch_req q = {
			.group_id = { cap_group, (int32_t)strlen(cap_group) },
			.topics = { NULL, -1 } };
		rc = gp_send(conn, KC_API_OFFSET_FETCH, 5, &q, &t);
		FUZZ_CHECK(rc == 0 && gp_answered(t));
	}
	capture_mode = 0;
	qsort(entries, nentries, sizeof(entries[0]), cmp_entry);
	size_t n = 0;
	for (size_t i = 0; i < nentries; i++) {
		FUZZ_CHECK(n + entries[i].len + 4 <= cap);
		uint32_t l = (uint32_t)entries[i].len;
		buf[n++] = (uint8_t)(l >> 24);
		buf[n++] = (uint8_t)(l >> 16);
		buf[n++] = (uint8_t)(l >> 8);
		buf[n++] = (uint8_t)l;
		memcpy(buf + n, entries[i].p, entries[i].len);
		n += entries[i].len;
	}
	return n;
}
