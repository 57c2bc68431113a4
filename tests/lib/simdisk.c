/*
 * The simulated disk (simdisk.h has the model it implements).
 *
 * Files keep two byte arrays, the current one and the synced one, and a
 * bitmap of the 4 KiB blocks written (or cut) since the last sync.  Bytes
 * past a file's size are always zero in both arrays, so growing a file
 * reads zeros and a block taken "old" past the synced size is zeros.
 *
 * Directories keep their current entries, their synced entries, and the
 * changes since the last directory sync in order; the current entries are
 * the synced ones with every change applied, and a power cut keeps a
 * random prefix of the changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simdisk.h"

#define SIM_BLOCK 4096u
#define SIM_PATH_MAX 4096
#define SIM_DIRECT_ALIGN 512u

enum { N_FREE = 0, N_FILE = 1, N_DIR = 2 };
enum { C_ADD = 1, C_DEL = 2, C_RENAME = 3 };

struct sim_ent {
	char *name;
	uint32_t node;
};

struct sim_ents {
	struct sim_ent *v;
	uint32_t n, cap;
};

struct sim_change {
	uint8_t kind;
	char *name;  /* ADD, DEL: the name; RENAME: from */
	char *name2; /* RENAME: to */
	uint32_t node;
};

struct sim_node {
	uint8_t kind;
	/* file */
	uint8_t *cur, *dur;
	uint64_t cur_size, dur_size, cap; /* cap: bytes of both arrays */
	uint8_t *dirty;                    /* one bit per block of cap */
	/* directory */
	struct sim_ents cur_e, dur_e;
	struct sim_change *ch;
	uint32_t nch, chcap;
};

struct sim_handle {
	uint32_t node;
	bool used, direct, rd, wr;
};

struct simdisk {
	struct sdisk disk;
	struct sim_node *nodes;
	uint32_t nnodes, ncap;
	struct sim_handle *h;
	uint32_t nh, hcap;
	uint64_t rng;
	bool dead;
	bool cut;        /* dead by a power cut: a new boot at power on */
	uint64_t boot;
	uint64_t cut_countdown; /* 0: off; else cut when it reaches 1 */
	uint64_t fail_countdown;
	int fail_err;
	int fail_repeat;
	struct simdisk_stats st;
};

static const struct sdisk_ops sim_ops;

/* ---- random (splitmix64: small, seeded, replayable) ---- */

static uint64_t rnd(struct simdisk *s)
{
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ---- nodes ---- */

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (!q) {
		fprintf(stderr, "simdisk: out of memory\n");
		abort();
	}
	return q;
}

static char *xstrdup(const char *p)
{
	char *q = strdup(p);
	if (!q)
		abort();
	return q;
}

static uint32_t node_new(struct simdisk *s, uint8_t kind)
{
	if (s->nnodes == s->ncap) {
		s->ncap = s->ncap ? s->ncap * 2 : 64;
		s->nodes = xrealloc(s->nodes, s->ncap * sizeof(*s->nodes));
	}
	struct sim_node *n = &s->nodes[s->nnodes];
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	return s->nnodes++;
}

static void ents_free(struct sim_ents *e)
{
	for (uint32_t i = 0; i < e->n; i++)
		free(e->v[i].name);
	free(e->v);
	memset(e, 0, sizeof(*e));
}

static long ents_find(const struct sim_ents *e, const char *name)
{
	for (uint32_t i = 0; i < e->n; i++)
		if (!strcmp(e->v[i].name, name))
			return i;
	return -1;
}

static void ents_set(struct sim_ents *e, const char *name, uint32_t node)
{
	long i = ents_find(e, name);
	if (i >= 0) {
		e->v[i].node = node;
		return;
	}
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 8;
		e->v = xrealloc(e->v, e->cap * sizeof(*e->v));
	}
	e->v[e->n].name = xstrdup(name);
	e->v[e->n++].node = node;
}

static void ents_del(struct sim_ents *e, const char *name)
{
	long i = ents_find(e, name);
	if (i < 0)
		return;
	free(e->v[i].name);
	e->v[i] = e->v[--e->n];
}

static void ents_copy(struct sim_ents *dst, const struct sim_ents *src)
{
	ents_free(dst);
	for (uint32_t i = 0; i < src->n; i++)
		ents_set(dst, src->v[i].name, src->v[i].node);
}

static void change_apply(struct sim_ents *e, const struct sim_change *c)
{
	switch (c->kind) {
	case C_ADD:
		ents_set(e, c->name, c->node);
		break;
	case C_DEL:
		ents_del(e, c->name);
		break;
	case C_RENAME: {
		long i = ents_find(e, c->name);
		if (i < 0)
			break; /* the source never became durable */
		uint32_t node = e->v[i].node;
		ents_del(e, c->name);
		ents_set(e, c->name2, node);
		break;
	}
	}
}

/* Apply a change to the directory now and remember it until its sync. */
static void dir_change(struct simdisk *s, uint32_t dir, uint8_t kind,
		       const char *name, const char *name2, uint32_t node)
{
	struct sim_node *d = &s->nodes[dir];
	if (d->nch == d->chcap) {
		d->chcap = d->chcap ? d->chcap * 2 : 8;
		d->ch = xrealloc(d->ch, d->chcap * sizeof(*d->ch));
	}
	struct sim_change *c = &d->ch[d->nch++];
	c->kind = kind;
	c->name = xstrdup(name);
	c->name2 = name2 ? xstrdup(name2) : NULL;
	c->node = node;
	change_apply(&d->cur_e, c);
}

static void changes_clear(struct sim_node *d)
{
	for (uint32_t i = 0; i < d->nch; i++) {
		free(d->ch[i].name);
		free(d->ch[i].name2);
	}
	d->nch = 0;
}

/* ---- file bytes ---- */

static void file_reserve(struct sim_node *f, uint64_t size)
{
	if (size <= f->cap)
		return;
	uint64_t cap = f->cap ? f->cap : SIM_BLOCK;
	while (cap < size)
		cap *= 2;
	f->cur = xrealloc(f->cur, cap);
	f->dur = xrealloc(f->dur, cap);
	memset(f->cur + f->cap, 0, cap - f->cap);
	memset(f->dur + f->cap, 0, cap - f->cap);
	uint64_t old_bits = f->cap / SIM_BLOCK, bits = cap / SIM_BLOCK;
	f->dirty = xrealloc(f->dirty, (bits + 7) / 8);
	memset(f->dirty + (old_bits + 7) / 8, 0,
	       (bits + 7) / 8 - (old_bits + 7) / 8);
	f->cap = cap;
}

static void mark_dirty(struct sim_node *f, uint64_t from, uint64_t to)
{
	if (to <= from)
		return;
	for (uint64_t b = from / SIM_BLOCK; b <= (to - 1) / SIM_BLOCK; b++)
		f->dirty[b / 8] |= (uint8_t)(1u << (b % 8));
}

static bool is_dirty(const struct sim_node *f, uint64_t b)
{
	return f->dirty[b / 8] & (1u << (b % 8));
}

static void file_sync(struct sim_node *f)
{
	for (uint64_t b = 0; b < f->cap / SIM_BLOCK; b++) {
		if (!is_dirty(f, b))
			continue;
		memcpy(f->dur + b * SIM_BLOCK, f->cur + b * SIM_BLOCK,
		       SIM_BLOCK);
	}
	f->dur_size = f->cur_size;
	if (f->cap)
		memset(f->dirty, 0, (f->cap / SIM_BLOCK + 7) / 8);
}

static void file_cut(struct simdisk *s, struct sim_node *f)
{
	uint64_t size = f->dur_size;
	if (f->cur_size != f->dur_size && (rnd(s) & 1))
		size = f->cur_size;
	for (uint64_t b = 0; b < f->cap / SIM_BLOCK; b++) {
		if (!is_dirty(f, b) || b * SIM_BLOCK >= size)
			continue;
		if (rnd(s) & 1) {
			memcpy(f->dur + b * SIM_BLOCK, f->cur + b * SIM_BLOCK,
			       SIM_BLOCK);
			s->st.blocks_kept++;
		} else {
			s->st.blocks_torn++;
		}
	}
	f->dur_size = size;
	if (f->cap) {
		memset(f->dur + size, 0, f->cap - size);
		memcpy(f->cur, f->dur, f->cap);
		memset(f->dirty, 0, (f->cap / SIM_BLOCK + 7) / 8);
	}
	f->cur_size = size;
}

/* ---- paths ---- */

/* Resolve path: *dir gets the directory holding the last component and
 * leaf that component (in buf); for "/" *dir is the root and leaf "".
 * Returns 0 or -ENOENT/-ENOTDIR/-ENAMETOOLONG/-EINVAL. */
static int walk(struct simdisk *s, const char *path, char *buf,
		uint32_t *dir, const char **leaf)
{
	if (path[0] != '/')
		return -EINVAL;
	if (strlen(path) >= SIM_PATH_MAX)
		return -ENAMETOOLONG;
	strcpy(buf, path);
	uint32_t cur = 0;
	char *save = NULL, *tok = strtok_r(buf, "/", &save);
	*leaf = "";
	while (tok) {
		char *next = strtok_r(NULL, "/", &save);
		if (!strcmp(tok, ".") || !strcmp(tok, ".."))
			return -EINVAL;
		if (strlen(tok) > 255)
			return -ENAMETOOLONG;
		if (!next) {
			*leaf = tok;
			break;
		}
		long i = ents_find(&s->nodes[cur].cur_e, tok);
		if (i < 0)
			return -ENOENT;
		cur = s->nodes[cur].cur_e.v[i].node;
		if (s->nodes[cur].kind != N_DIR)
			return -ENOTDIR;
		tok = next;
	}
	*dir = cur;
	return 0;
}

/* The node at path, or -errno. */
static long lookup(struct simdisk *s, const char *path)
{
	char buf[SIM_PATH_MAX];
	uint32_t dir;
	const char *leaf;
	int rc = walk(s, path, buf, &dir, &leaf);
	if (rc < 0)
		return rc;
	if (!*leaf)
		return dir;
	long i = ents_find(&s->nodes[dir].cur_e, leaf);
	return i < 0 ? -ENOENT : (long)s->nodes[dir].cur_e.v[i].node;
}

/* ---- faults ---- */

static int fault(struct simdisk *s)
{
	if (s->cut_countdown && --s->cut_countdown == 0) {
		simdisk_power_cut(s);
		return -EIO;
	}
	if (!s->fail_err)
		return 0;
	if (s->fail_countdown) {
		s->fail_countdown--;
		return 0;
	}
	int err = s->fail_err;
	if (!s->fail_repeat)
		s->fail_err = 0;
	s->st.faults++;
	return -err;
}

static struct sim_handle *handle(struct simdisk *s, int fd)
{
	if (fd < 0 || (uint32_t)fd >= s->nh || !s->h[fd].used)
		return NULL;
	return &s->h[fd];
}

/* ---- the operations ---- */

static int sim_open(void *ctx, const char *path, int flags, mode_t mode)
{
	struct simdisk *s = ctx;
	char buf[SIM_PATH_MAX];
	uint32_t dir;
	const char *leaf;
	(void)mode;
	if (s->dead)
		return -EIO;
	int rc = walk(s, path, buf, &dir, &leaf);
	if (rc < 0)
		return rc;
	if (!*leaf)
		return -EISDIR;
	int acc = flags & O_ACCMODE;
	long i = ents_find(&s->nodes[dir].cur_e, leaf);
	uint32_t node;
	if (i < 0) {
		if (!(flags & O_CREAT))
			return -ENOENT;
		rc = fault(s);
		if (rc < 0)
			return rc;
		node = node_new(s, N_FILE);
		dir_change(s, dir, C_ADD, leaf, NULL, node);
	} else {
		if ((flags & O_CREAT) && (flags & O_EXCL))
			return -EEXIST;
		node = s->nodes[dir].cur_e.v[i].node;
		if (s->nodes[node].kind == N_DIR)
			return -EISDIR;
		if ((flags & O_TRUNC) && acc != O_RDONLY) {
			struct sim_node *f = &s->nodes[node];
			mark_dirty(f, 0, f->cur_size);
			if (f->cap)
				memset(f->cur, 0, f->cap);
			f->cur_size = 0;
		}
	}
	uint32_t fd = 0;
	while (fd < s->nh && s->h[fd].used)
		fd++;
	if (fd == s->nh) {
		if (s->nh == s->hcap) {
			s->hcap = s->hcap ? s->hcap * 2 : 16;
			s->h = xrealloc(s->h, s->hcap * sizeof(*s->h));
		}
		s->nh++;
	}
	s->h[fd] = (struct sim_handle){
		.node = node, .used = true, .direct = flags & O_DIRECT,
		.rd = acc != O_WRONLY, .wr = acc != O_RDONLY,
	};
	return (int)fd;
}

static int sim_close(void *ctx, int fd)
{
	struct simdisk *s = ctx;
	struct sim_handle *h = handle(s, fd);
	if (!h)
		return -EBADF;
	h->used = false;
	return 0;
}

static bool direct_ok(const struct sim_handle *h, size_t len, uint64_t off)
{
	return !h->direct ||
	       (len % SIM_DIRECT_ALIGN == 0 && off % SIM_DIRECT_ALIGN == 0);
}

static ssize_t sim_pread(void *ctx, int fd, void *buf, size_t len,
			 uint64_t off)
{
	struct simdisk *s = ctx;
	struct sim_handle *h = handle(s, fd);
	if (s->dead)
		return -EIO;
	if (!h || !h->rd)
		return -EBADF;
	if (!direct_ok(h, len, off))
		return -EINVAL;
	struct sim_node *f = &s->nodes[h->node];
	if (off >= f->cur_size)
		return 0;
	size_t n = f->cur_size - off < len ? (size_t)(f->cur_size - off) : len;
	memcpy(buf, f->cur + off, n);
	return (ssize_t)n;
}

static ssize_t sim_pwrite(void *ctx, int fd, const void *buf, size_t len,
			  uint64_t off)
{
	struct simdisk *s = ctx;
	struct sim_handle *h = handle(s, fd);
	if (s->dead)
		return -EIO;
	if (!h || !h->wr)
		return -EBADF;
	if (!direct_ok(h, len, off))
		return -EINVAL;
	int rc = fault(s);
	if (rc < 0)
		return rc;
	if (len == 0)
		return 0;
	struct sim_node *f = &s->nodes[h->node];
	file_reserve(f, off + len);
	uint64_t from = off < f->cur_size ? off : f->cur_size;
	memcpy(f->cur + off, buf, len);
	if (off + len > f->cur_size)
		f->cur_size = off + len;
	mark_dirty(f, from, off + len);
	s->st.writes++;
	return (ssize_t)len;
}

static int sim_sync(struct simdisk *s, int fd)
{
	struct sim_handle *h = handle(s, fd);
	if (s->dead)
		return -EIO;
	if (!h)
		return -EBADF;
	int rc = fault(s);
	if (rc < 0)
		return rc;
	file_sync(&s->nodes[h->node]);
	s->st.syncs++;
	return 0;
}

static int sim_fsync(void *ctx, int fd)
{
	return sim_sync(ctx, fd);
}

static int sim_fdatasync(void *ctx, int fd)
{
	return sim_sync(ctx, fd);
}

static int sim_ftruncate(void *ctx, int fd, uint64_t len)
{
	struct simdisk *s = ctx;
	struct sim_handle *h = handle(s, fd);
	if (s->dead)
		return -EIO;
	if (!h || !h->wr)
		return -EBADF;
	int rc = fault(s);
	if (rc < 0)
		return rc;
	struct sim_node *f = &s->nodes[h->node];
	file_reserve(f, len);
	if (len < f->cur_size) {
		memset(f->cur + len, 0, f->cur_size - len);
		mark_dirty(f, len, f->cur_size);
	} else {
		mark_dirty(f, f->cur_size, len);
	}
	f->cur_size = len;
	return 0;
}

static int sim_fallocate(void *ctx, int fd, uint64_t len)
{
	struct simdisk *s = ctx;
	(void)len;
	if (s->dead)
		return -EIO;
	return handle(s, fd) ? 0 : -EBADF;
}

static int sim_fsize(void *ctx, int fd, uint64_t *size)
{
	struct simdisk *s = ctx;
	struct sim_handle *h = handle(s, fd);
	if (s->dead)
		return -EIO;
	if (!h)
		return -EBADF;
	*size = s->nodes[h->node].cur_size;
	return 0;
}

static int sim_rename(void *ctx, const char *from, const char *to)
{
	struct simdisk *s = ctx;
	char b1[SIM_PATH_MAX], b2[SIM_PATH_MAX];
	uint32_t d1, d2;
	const char *l1, *l2;
	if (s->dead)
		return -EIO;
	int rc = walk(s, from, b1, &d1, &l1);
	if (rc == 0)
		rc = walk(s, to, b2, &d2, &l2);
	if (rc < 0)
		return rc;
	if (!*l1 || !*l2)
		return -EBUSY;
	long i = ents_find(&s->nodes[d1].cur_e, l1);
	if (i < 0)
		return -ENOENT;
	uint32_t node = s->nodes[d1].cur_e.v[i].node;
	long j = ents_find(&s->nodes[d2].cur_e, l2);
	if (j >= 0) {
		uint32_t old = s->nodes[d2].cur_e.v[j].node;
		if (old == node)
			return 0;
		if (s->nodes[old].kind == N_DIR &&
		    (s->nodes[node].kind != N_DIR || s->nodes[old].cur_e.n))
			return s->nodes[node].kind != N_DIR ? -EISDIR
							    : -ENOTEMPTY;
		if (s->nodes[old].kind != N_DIR &&
		    s->nodes[node].kind == N_DIR)
			return -ENOTDIR;
	}
	rc = fault(s);
	if (rc < 0)
		return rc;
	if (d1 == d2) {
		dir_change(s, d1, C_RENAME, l1, l2, node);
	} else {
		dir_change(s, d2, C_ADD, l2, NULL, node);
		dir_change(s, d1, C_DEL, l1, NULL, node);
	}
	return 0;
}

/* The entry path names, for a removal: its directory, leaf (in buf) and
 * node; root_err when path is "/".  0 or -errno. */
static int entry_of(struct simdisk *s, const char *path, char *buf,
		    uint32_t *dir, const char **leaf, uint32_t *node,
		    int root_err)
{
	if (s->dead)
		return -EIO;
	int rc = walk(s, path, buf, dir, leaf);
	if (rc < 0)
		return rc;
	if (!**leaf)
		return root_err;
	long i = ents_find(&s->nodes[*dir].cur_e, *leaf);
	if (i < 0)
		return -ENOENT;
	*node = s->nodes[*dir].cur_e.v[i].node;
	return 0;
}

static int sim_unlink(void *ctx, const char *path)
{
	struct simdisk *s = ctx;
	char buf[SIM_PATH_MAX];
	uint32_t dir, node;
	const char *leaf;
	int rc = entry_of(s, path, buf, &dir, &leaf, &node, -EISDIR);
	if (rc < 0)
		return rc;
	if (s->nodes[node].kind == N_DIR)
		return -EISDIR;
	rc = fault(s);
	if (rc < 0)
		return rc;
	dir_change(s, dir, C_DEL, leaf, NULL, node);
	return 0;
}

static int sim_mkdir(void *ctx, const char *path, mode_t mode)
{
	struct simdisk *s = ctx;
	char buf[SIM_PATH_MAX];
	uint32_t dir;
	const char *leaf;
	(void)mode;
	if (s->dead)
		return -EIO;
	int rc = walk(s, path, buf, &dir, &leaf);
	if (rc < 0)
		return rc;
	if (!*leaf || ents_find(&s->nodes[dir].cur_e, leaf) >= 0)
		return -EEXIST;
	rc = fault(s);
	if (rc < 0)
		return rc;
	uint32_t node = node_new(s, N_DIR);
	dir_change(s, dir, C_ADD, leaf, NULL, node);
	return 0;
}

static int sim_rmdir(void *ctx, const char *path)
{
	struct simdisk *s = ctx;
	char buf[SIM_PATH_MAX];
	uint32_t dir, node;
	const char *leaf;
	int rc = entry_of(s, path, buf, &dir, &leaf, &node, -EBUSY);
	if (rc < 0)
		return rc;
	if (s->nodes[node].kind != N_DIR)
		return -ENOTDIR;
	if (s->nodes[node].cur_e.n)
		return -ENOTEMPTY;
	rc = fault(s);
	if (rc < 0)
		return rc;
	dir_change(s, dir, C_DEL, leaf, NULL, node);
	return 0;
}

static int sim_list(void *ctx, const char *dir,
		    int (*fn)(void *arg, const char *name), void *arg)
{
	struct simdisk *s = ctx;
	if (s->dead)
		return -EIO;
	long node = lookup(s, dir);
	if (node < 0)
		return (int)node;
	if (s->nodes[node].kind != N_DIR)
		return -ENOTDIR;
	/* a copy: fn may change the directory */
	struct sim_ents copy = { 0 };
	ents_copy(&copy, &s->nodes[node].cur_e);
	int rc = 0;
	for (uint32_t i = 0; i < copy.n && rc == 0; i++)
		rc = fn(arg, copy.v[i].name);
	ents_free(&copy);
	return rc;
}

static int sim_is_dir(void *ctx, const char *path)
{
	struct simdisk *s = ctx;
	if (s->dead)
		return -EIO;
	long node = lookup(s, path);
	if (node < 0)
		return (int)node;
	return s->nodes[node].kind == N_DIR ? 0 : -ENOTDIR;
}

static int sim_fsync_dir(void *ctx, const char *dir)
{
	struct simdisk *s = ctx;
	if (s->dead)
		return -EIO;
	long node = lookup(s, dir);
	if (node < 0)
		return (int)node;
	struct sim_node *d = &s->nodes[node];
	if (d->kind != N_DIR)
		return -ENOTDIR;
	int rc = fault(s);
	if (rc < 0)
		return rc;
	ents_copy(&d->dur_e, &d->cur_e);
	changes_clear(d);
	s->st.dir_syncs++;
	return 0;
}

static int sim_boot_id(void *ctx, uint8_t id[16])
{
	struct simdisk *s = ctx;
	for (int i = 0; i < 8; i++)
		id[i] = (uint8_t)((s->boot + 1) >> (56 - 8 * i));
	memset(id + 8, 0x5a, 8);
	return 0;
}

static const struct sdisk_ops sim_ops = {
	.open = sim_open,
	.close = sim_close,
	.pread = sim_pread,
	.pwrite = sim_pwrite,
	.fsync = sim_fsync,
	.fdatasync = sim_fdatasync,
	.ftruncate = sim_ftruncate,
	.fallocate = sim_fallocate,
	.fsize = sim_fsize,
	.rename = sim_rename,
	.unlink = sim_unlink,
	.mkdir = sim_mkdir,
	.rmdir = sim_rmdir,
	.list = sim_list,
	.is_dir = sim_is_dir,
	.fsync_dir = sim_fsync_dir,
	.boot_id = sim_boot_id,
};

/* ---- the test's controls ---- */

struct simdisk *simdisk_create(uint64_t seed)
{
	struct simdisk *s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	s->rng = seed;
	s->disk.ops = &sim_ops;
	s->disk.ctx = s;
	s->disk.kernel_fds = false;
	node_new(s, N_DIR); /* "/" */
	return s;
}

void simdisk_destroy(struct simdisk *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->nnodes; i++) {
		struct sim_node *n = &s->nodes[i];
		free(n->cur);
		free(n->dur);
		free(n->dirty);
		ents_free(&n->cur_e);
		ents_free(&n->dur_e);
		changes_clear(n);
		free(n->ch);
	}
	free(s->nodes);
	free(s->h);
	free(s);
}

const struct sdisk *simdisk_disk(struct simdisk *s)
{
	return &s->disk;
}

void simdisk_power_cut(struct simdisk *s)
{
	for (uint32_t i = 0; i < s->nnodes; i++) {
		struct sim_node *n = &s->nodes[i];
		if (n->kind == N_FILE) {
			file_cut(s, n);
			continue;
		}
		uint32_t keep = n->nch ? (uint32_t)(rnd(s) % (n->nch + 1)) : 0;
		for (uint32_t k = 0; k < keep; k++)
			change_apply(&n->dur_e, &n->ch[k]);
		s->st.dir_changes_kept += keep;
		s->st.dir_changes_lost += n->nch - keep;
		changes_clear(n);
		ents_copy(&n->cur_e, &n->dur_e);
	}
	for (uint32_t i = 0; i < s->nh; i++)
		s->h[i].used = false;
	s->dead = true;
	s->cut = true;
	s->st.cuts++;
}

void simdisk_crash(struct simdisk *s)
{
	for (uint32_t i = 0; i < s->nh; i++)
		s->h[i].used = false;
	s->dead = true;
}

void simdisk_power_on(struct simdisk *s)
{
	s->dead = false;
	if (s->cut)
		s->boot++;
	s->cut = false;
}

void simdisk_cut_after(struct simdisk *s, uint64_t countdown)
{
	s->cut_countdown = countdown ? countdown + 1 : 0;
}

int simdisk_dead(const struct simdisk *s)
{
	return s->dead;
}

void simdisk_fail_after(struct simdisk *s, uint64_t countdown, int err,
			int repeat)
{
	s->fail_countdown = countdown;
	s->fail_err = err < 0 ? -err : err;
	s->fail_repeat = repeat;
}

void simdisk_get_stats(const struct simdisk *s, struct simdisk_stats *out)
{
	*out = s->st;
}

unsigned simdisk_open_handles(const struct simdisk *s)
{
	unsigned n = 0;
	for (uint32_t i = 0; i < s->nh; i++)
		n += s->h[i].used;
	return n;
}
