/*
 * tel_data: a telemetry reply under construction, and its JSON text.
 *
 * Building copies values into fixed arrays (no allocation except for
 * containers, which the caller allocates).  Writing JSON is bounded by the
 * caller's buffer: a writer keeps room for the closing brackets of every
 * container it has opened ("reserve"), and a dict or array entry that does
 * not fit is rolled back whole, so the text is valid JSON at any size.
 *
 * Strings are escaped for JSON (quote, backslash, control characters) and
 * made valid UTF-8 (a byte that does not start a valid sequence becomes
 * U+FFFD), because clients (Python's json, dpdk-telemetry.py) reject
 * anything else and strings may come from the network (topic names,
 * client ids, garbage commands).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/telemetry/telemetry.h"
#include "dataplane/telemetry/telemetry_pvt.h"

/* ---- building ---- */

bool tel_valid_name(const char *name)
{
	if (name == NULL || name[0] == '\0')
		return false;
	for (const char *p = name; *p != '\0'; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '/';
		if (!ok)
			return false;
	}
	return true;
}

/* Copies src into dst (cap bytes), cutting at a UTF-8 character boundary
 * if it must.  Returns 0, or -E2BIG when it cut. */
static int copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n < cap) {
		memcpy(dst, src, n + 1);
		return 0;
	}
	n = cap - 1;
	/* Do not leave a partial multi-byte sequence at the end. */
	while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
		n--;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return -E2BIG;
}

int tel_data_start_dict(struct tel_data *d)
{
	if (d == NULL)
		return -EINVAL;
	d->type = TEL_DICT;
	d->data_len = 0;
	return 0;
}

int tel_data_start_array(struct tel_data *d, enum tel_value_type type)
{
	static const enum tel_data_type array_of[] = {
		[TEL_STRING_VAL] = TEL_ARRAY_STRING,
		[TEL_INT_VAL] = TEL_ARRAY_INT,
		[TEL_U64_VAL] = TEL_ARRAY_U64,
		[TEL_CONTAINER] = TEL_ARRAY_CONTAINER,
	};

	if (d == NULL || (unsigned)type > TEL_CONTAINER)
		return -EINVAL;
	d->type = array_of[type];
	d->data_len = 0;
	return 0;
}

int tel_data_string(struct tel_data *d, const char *str)
{
	if (d == NULL || str == NULL)
		return -EINVAL;
	d->type = TEL_STRING;
	d->data_len = 0;
	return copy_str(d->data.str, sizeof(d->data.str), str);
}

/* The next free dict entry with its name set, or NULL and *rc set. */
static struct tel_dict_entry *dict_next(struct tel_data *d, const char *name,
					int *rc)
{
	struct tel_dict_entry *e;

	if (d == NULL || d->type != TEL_DICT || !tel_valid_name(name)) {
		*rc = -EINVAL;
		return NULL;
	}
	if (d->data_len >= TEL_MAX_DICT_ENTRIES) {
		*rc = -ENOSPC;
		return NULL;
	}
	e = &d->data.dict[d->data_len];
	*rc = copy_str(e->name, sizeof(e->name), name);
	return e;
}

int tel_data_add_dict_u64(struct tel_data *d, const char *name, uint64_t val)
{
	int rc;
	struct tel_dict_entry *e = dict_next(d, name, &rc);

	if (e == NULL)
		return rc;
	e->type = TEL_U64_VAL;
	e->value.u64val = val;
	d->data_len++;
	return rc;
}

int tel_data_add_dict_int(struct tel_data *d, const char *name, int64_t val)
{
	int rc;
	struct tel_dict_entry *e = dict_next(d, name, &rc);

	if (e == NULL)
		return rc;
	e->type = TEL_INT_VAL;
	e->value.ival = val;
	d->data_len++;
	return rc;
}

int tel_data_add_dict_string(struct tel_data *d, const char *name,
			     const char *val)
{
	int rc, rc_val;
	struct tel_dict_entry *e;

	if (val == NULL)
		return -EINVAL;
	e = dict_next(d, name, &rc);
	if (e == NULL)
		return rc;
	e->type = TEL_STRING_VAL;
	rc_val = copy_str(e->value.sval, sizeof(e->value.sval), val);
	d->data_len++;
	return rc < 0 ? rc : rc_val;
}

/* 0 if val may be nested in another container, else -EINVAL/-ENOTSUP. */
static int check_container(const struct tel_data *d, const struct tel_data *val)
{
	if (val == NULL || val == d)
		return -EINVAL;
	switch (val->type) {
	case TEL_ARRAY_STRING:
	case TEL_ARRAY_INT:
	case TEL_ARRAY_U64:
		return 0;
	case TEL_ARRAY_CONTAINER:
		return -ENOTSUP;
	case TEL_DICT:
		for (unsigned int i = 0; i < val->data_len; i++)
			if (val->data.dict[i].type == TEL_CONTAINER)
				return -ENOTSUP;
		return 0;
	default:
		return -EINVAL;
	}
}

int tel_data_add_dict_container(struct tel_data *d, const char *name,
				struct tel_data *val, int keep)
{
	int rc = check_container(d, val);
	struct tel_dict_entry *e;

	if (rc < 0)
		return rc;
	e = dict_next(d, name, &rc);
	if (e == NULL)
		return rc;
	e->type = TEL_CONTAINER;
	e->value.container.data = val;
	e->value.container.keep = keep != 0;
	d->data_len++;
	return rc;
}

/* The next free array slot of an array of type t, or NULL and *rc set. */
static union tel_value *array_next(struct tel_data *d, enum tel_data_type t,
				   int *rc)
{
	if (d == NULL || d->type != t) {
		*rc = -EINVAL;
		return NULL;
	}
	if (d->data_len >= TEL_MAX_ARRAY_ENTRIES) {
		*rc = -ENOSPC;
		return NULL;
	}
	*rc = 0;
	return &d->data.array[d->data_len];
}

int tel_data_add_array_u64(struct tel_data *d, uint64_t val)
{
	int rc;
	union tel_value *v = array_next(d, TEL_ARRAY_U64, &rc);

	if (v == NULL)
		return rc;
	v->u64val = val;
	d->data_len++;
	return 0;
}

int tel_data_add_array_int(struct tel_data *d, int64_t val)
{
	int rc;
	union tel_value *v = array_next(d, TEL_ARRAY_INT, &rc);

	if (v == NULL)
		return rc;
	v->ival = val;
	d->data_len++;
	return 0;
}

int tel_data_add_array_string(struct tel_data *d, const char *str)
{
	int rc;
	union tel_value *v;

	if (str == NULL)
		return -EINVAL;
	v = array_next(d, TEL_ARRAY_STRING, &rc);
	if (v == NULL)
		return rc;
	rc = copy_str(v->sval, sizeof(v->sval), str);
	d->data_len++;
	return rc;
}

int tel_data_add_array_container(struct tel_data *d, struct tel_data *val,
				 int keep)
{
	int rc = check_container(d, val);
	union tel_value *v;

	if (rc < 0)
		return rc;
	v = array_next(d, TEL_ARRAY_CONTAINER, &rc);
	if (v == NULL)
		return rc;
	v->container.data = val;
	v->container.keep = keep != 0;
	d->data_len++;
	return 0;
}

struct tel_data *tel_data_alloc(void)
{
	return calloc(1, sizeof(struct tel_data));
}

void tel_data_release(struct tel_data *d)
{
	if (d == NULL)
		return;
	if (d->type == TEL_DICT) {
		for (unsigned int i = 0; i < d->data_len; i++) {
			struct tel_dict_entry *e = &d->data.dict[i];
			if (e->type == TEL_CONTAINER && !e->value.container.keep)
				tel_data_free(e->value.container.data);
		}
	} else if (d->type == TEL_ARRAY_CONTAINER) {
		for (unsigned int i = 0; i < d->data_len; i++) {
			struct tel_container *c = &d->data.array[i].container;
			if (!c->keep)
				tel_data_free(c->data);
		}
	}
	d->type = TEL_NULL;
	d->data_len = 0;
}

void tel_data_free(struct tel_data *d)
{
	if (d == NULL)
		return;
	tel_data_release(d);
	free(d);
}

/* ---- JSON ---- */

struct jw {
	char *buf;
	size_t cap;
	size_t len;
	size_t reserve; /* bytes kept for closing what is open */
	bool err;       /* a put did not fit since the last rollback */
	bool truncated; /* some entry was left out */
};

/* Appends n bytes, keeping reserve bytes and the NUL free. */
static void jw_put(struct jw *w, const char *s, size_t n)
{
	if (w->err || w->len + n + w->reserve >= w->cap) {
		w->err = true;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void jw_puts(struct jw *w, const char *s)
{
	jw_put(w, s, strlen(s));
}

/* Length of the valid UTF-8 sequence starting at s (>= 0x80), or 0. */
static size_t utf8_seq_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;

	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80) /* also stops at the NUL */
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return 0;
	return n;
}

static void jw_str(struct jw *w, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	jw_put(w, "\"", 1);
	while (*s != '\0' && !w->err) {
		unsigned char c = *s;
		char esc[8];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			jw_put(w, esc, 2);
			s++;
		} else if (c < 0x20 || c == 0x7F) {
			const char *short_esc = c == '\n' ? "\\n" :
						c == '\t' ? "\\t" :
						c == '\r' ? "\\r" :
						c == '\b' ? "\\b" :
						c == '\f' ? "\\f" : NULL;
			if (short_esc != NULL) {
				jw_put(w, short_esc, 2);
			} else {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				jw_put(w, esc, 6);
			}
			s++;
		} else if (c < 0x80) {
			jw_put(w, (const char *)s, 1);
			s++;
		} else {
			size_t n = utf8_seq_len(s);
			if (n == 0) {
				jw_put(w, "\\ufffd", 6);
				s++;
			} else {
				jw_put(w, (const char *)s, n);
				s += n;
			}
		}
	}
	jw_put(w, "\"", 1);
}

static void jw_u64(struct jw *w, uint64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRIu64, v);

	jw_put(w, num, (size_t)n);
}

static void jw_i64(struct jw *w, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRId64, v);

	jw_put(w, num, (size_t)n);
}

static void jw_data(struct jw *w, const struct tel_data *d, int depth);

/* Opens with open_c, reserving room for its closing byte; on failure
 * (w->err) nothing is reserved. */
static void jw_open(struct jw *w, char open_c)
{
	w->reserve++;
	jw_put(w, &open_c, 1);
	if (w->err)
		w->reserve--;
}

/* Closes: always fits, because jw_open reserved it. */
static void jw_close(struct jw *w, char close_c)
{
	w->reserve--;
	jw_put(w, &close_c, 1);
}

/* Ends an entry that began at mark: rolls it back if it did not fit.
 * Returns false when no further entry should be tried. */
static bool jw_entry_end(struct jw *w, size_t mark)
{
	if (!w->err)
		return true;
	w->len = mark;
	w->err = false;
	w->truncated = true;
	return false;
}

static void jw_container(struct jw *w, const struct tel_container *c, int depth)
{
	/* Builders forbid deeper nesting; a hand-made struct gets null. */
	if (c->data == NULL || depth >= 1)
		jw_puts(w, "null");
	else
		jw_data(w, c->data, depth + 1);
}

static void jw_data(struct jw *w, const struct tel_data *d, int depth)
{
	unsigned int i;

	switch (d->type) {
	case TEL_STRING:
		jw_str(w, d->data.str);
		return;
	case TEL_DICT:
		jw_open(w, '{');
		if (w->err)
			return;
		for (i = 0; i < d->data_len && i < TEL_MAX_DICT_ENTRIES; i++) {
			const struct tel_dict_entry *e = &d->data.dict[i];
			size_t mark = w->len;

			if (i > 0)
				jw_put(w, ",", 1);
			jw_str(w, e->name);
			jw_put(w, ":", 1);
			switch (e->type) {
			case TEL_STRING_VAL:
				jw_str(w, e->value.sval);
				break;
			case TEL_INT_VAL:
				jw_i64(w, e->value.ival);
				break;
			case TEL_U64_VAL:
				jw_u64(w, e->value.u64val);
				break;
			case TEL_CONTAINER:
				jw_container(w, &e->value.container, depth);
				break;
			default:
				jw_puts(w, "null");
				break;
			}
			if (!jw_entry_end(w, mark))
				break;
		}
		jw_close(w, '}');
		return;
	case TEL_ARRAY_STRING:
	case TEL_ARRAY_INT:
	case TEL_ARRAY_U64:
	case TEL_ARRAY_CONTAINER:
		jw_open(w, '[');
		if (w->err)
			return;
		for (i = 0; i < d->data_len && i < TEL_MAX_ARRAY_ENTRIES; i++) {
			const union tel_value *v = &d->data.array[i];
			size_t mark = w->len;

			if (i > 0)
				jw_put(w, ",", 1);
			if (d->type == TEL_ARRAY_STRING)
				jw_str(w, v->sval);
			else if (d->type == TEL_ARRAY_INT)
				jw_i64(w, v->ival);
			else if (d->type == TEL_ARRAY_U64)
				jw_u64(w, v->u64val);
			else
				jw_container(w, &v->container, depth);
			if (!jw_entry_end(w, mark))
				break;
		}
		jw_close(w, ']');
		return;
	case TEL_NULL:
	default:
		jw_puts(w, "null");
		return;
	}
}

int tel_data_to_json(const struct tel_data *d, const char *cmd, char *out,
		     size_t cap, int *truncated)
{
	struct jw w = { .buf = out, .cap = cap };
	size_t mark;

	if (d == NULL || out == NULL || cap == 0)
		return -EINVAL;
	if (cmd != NULL) {
		jw_open(&w, '{');
		if (w.err)
			goto no_space;
		jw_str(&w, cmd);
		jw_put(&w, ":", 1);
		if (w.err)
			goto no_space;
	}
	mark = w.len;
	jw_data(&w, d, 0);
	if (w.err) {
		/* Not even the empty container fits: say null. */
		w.len = mark;
		w.err = false;
		w.truncated = true;
		jw_puts(&w, "null");
		if (w.err)
			goto no_space;
	}
	if (cmd != NULL)
		jw_close(&w, '}');
	if (w.err)
		goto no_space;
	out[w.len] = '\0';
	if (truncated != NULL)
		*truncated = w.truncated;
	return (int)w.len;

no_space:
	out[0] = '\0';
	return -ENOSPC;
}
