/*
 * The replies of a coordinator under test (kreplies.h).
 */
#include <stdlib.h>
#include <string.h>

#include "kreplies.h"
#include "tl.h"

struct kr_reply kr_cap[KR_MAX];
int kr_n;
static _Alignas(8) uint8_t pool_mem[8 << 20];
static struct kc_arena pool;

void kr_setup(void)
{
	kr_n = 0;
	pool = (struct kc_arena){ pool_mem, sizeof(pool_mem), 0 };
}

void kr_teardown(void)
{
	for (int i = 0; i < kr_n; i++)
		free(kr_cap[i].bytes);
	kr_n = 0;
}

void kr_add(uint64_t token, const uint8_t *resp, size_t len, size_t max_len)
{
	assert_true(len >= 4 && len <= max_len);
	if (kr_has(token))
		fail_msg("token %llx answered twice", (unsigned long long)token);
	assert_true(kr_n < KR_MAX);
	uint8_t *copy = malloc(len);
	assert_non_null(copy);
	memcpy(copy, resp, len);
	kr_cap[kr_n++] = (struct kr_reply){ token, copy, len, false };
}

bool kr_has(uint64_t token)
{
	for (int i = 0; i < kr_n; i++)
		if (kr_cap[i].token == token)
			return true;
	return false;
}

int kr_untaken(void)
{
	int n = 0;
	for (int i = 0; i < kr_n; i++)
		n += !kr_cap[i].taken;
	return n;
}

static void *decode(struct kr_reply *r, int16_t key, int16_t ver)
{
	pool.used = (pool.used + 7) & ~(size_t)7; /* the union's alignment */
	union kc_response *u = (void *)(pool.base + pool.used);
	pool.used += (sizeof(*u) + 7) & ~(size_t)7;
	assert_true(pool.used < pool.cap);
	struct kc_response_header h;
	long n = kc_decode_response(key, ver, r->bytes, r->len, &h, u, &pool);
	TL_EQ(n, (long)r->len);
	TL_EQ(h.correlation_id, (int32_t)(r->token & 0x7fffffff));
	return u->raw;
}

static struct kr_reply *find(uint64_t token)
{
	for (int i = 0; i < kr_n; i++)
		if (kr_cap[i].token == token)
			return &kr_cap[i];
	fail_msg("no reply to request %llx", (unsigned long long)token);
	return NULL;
}

void *kr_take(uint64_t token, int16_t key, int16_t ver)
{
	struct kr_reply *r = find(token);
	assert_false(r->taken);
	r->taken = true;
	return decode(r, key, ver);
}

void *kr_decode(uint64_t token, int16_t key, int16_t ver)
{
	return decode(find(token), key, ver);
}

const uint8_t *kr_request(uint64_t token, int16_t key, int16_t ver,
			  const void *body, const char *client, size_t *len)
{
	static uint8_t buf[1 << 18];
	struct kc_request_header h = { key, ver, (int32_t)(token & 0x7fffffff),
				       S(client) };
	long n = kc_encode_request(&h, body, buf, sizeof(buf));
	assert_true(n > 0);
	*len = (size_t)n;
	return buf;
}

struct kc_str S(const char *s)
{
	return (struct kc_str){ s, s ? (int32_t)strlen(s) : -1 };
}

bool streq(struct kc_str s, const char *want)
{
	return s.len == (int32_t)strlen(want) &&
	       !memcmp(s.ptr, want, strlen(want));
}
