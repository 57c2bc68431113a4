/*
 * The write buffer pool of one writer (one storage thread).
 *
 * A partition log needs a write buffer (buffer.c: the aligned ring its
 * appends are copied into, which is also its tail cache) only while it
 * has data on its way to the disk.  With thousands of partitions on a
 * core, most are idle most of the time, so the buffers live here, not in
 * the logs: a log takes one when it appends (slog_append -> spool_take)
 * and gives it back (slog_release_buffer -> spool_give) when
 *   - everything it appended is written and durable, no write or sync is
 *     in flight or owed (slog_can_release), and it has not appended for
 *     cfg.buffer_idle_ms; spool_release_idle, run by every duty cycle,
 *     looks at the logs that hold one; or
 *   - another log needs a buffer and the pool is spent: the least
 *     recently used log that can give one back does so at once.
 * When no log can, the append gets SL_EFULL (backpressure, counted in
 * st.empty and the log's pool_empty) and is retried later.
 *
 * A log that takes a buffer again reloads the partial last block of its
 * active segment from the file (log.c take_buffer); reads of what is not
 * in a buffer come from the file, as for any read behind the tail cache.
 *
 * Memory: buffers are created on first use, at most cfg.buffers of them
 * and cfg.buffer_pool_bytes in all, and kept until the writer is
 * destroyed; nothing is allocated per append.  A pool entry also holds the
 * I/O state of its owner (writes in flight, appends not yet written), so
 * an idle log is small.  The entry's index is its registered buffer and
 * registered file slot in the io_uring.
 *
 * Single thread: the writer's.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage/log_pvt.h"

static void register_buffer(struct swriter *w, unsigned i)
{
	if (!w->fixed_bufs)
		return;
	struct iovec iov = { .iov_base = w->pool[i].buf.mem,
			     .iov_len = w->pool[i].buf.size };
	__u64 tag = 0;
	if (io_uring_register_buffers_update_tag(&w->ring, i, &iov, &tag, 1) != 1)
		w->fixed_bufs = false; /* plain writes from now on */
}

static void unregister_buffer(struct swriter *w, unsigned i)
{
	if (!w->fixed_bufs)
		return;
	struct iovec iov = { 0 };
	__u64 tag = 0;
	io_uring_register_buffers_update_tag(&w->ring, i, &iov, &tag, 1);
}

/* Make entry i hold a buffer of size bytes.  0 or -errno. */
static int make_buffer(struct swriter *w, unsigned i, size_t size)
{
	struct swbuf *e = &w->pool[i];
	assert(!e->owner);
	if (e->buf.mem) {
		if (e->buf.size == size)
			return 0;
		/* another size (logs of one writer rarely differ): replace */
		unregister_buffer(w, i);
		w->pool_bytes -= e->buf.size;
		w->pool_created--;
		sbuf_destroy(&e->buf);
	}
	if (w->pool_bytes + size > w->cfg.buffer_pool_bytes)
		return SL_EFULL;
	int rc = sbuf_create(&e->buf, size, w->cfg.use_hugepages);
	if (rc < 0) {
		e->buf.mem = NULL;
		return rc;
	}
	w->pool_bytes += size;
	w->pool_created++;
	register_buffer(w, i);
	return 0;
}

static void give_to(struct swriter *w, unsigned i, struct slog *log)
{
	struct swbuf *e = &w->pool[i];
	e->owner = log;
	e->used_ns = log->clock->mono_ns(log->clock->ctx);
	log->pbi = (int)i;
	log->buf = &e->buf;
	log->ops = e->ops;
	log->wq = e->wq;
	w->st.takes++;
	w->st.in_use++;
}

int spool_take(struct swriter *w, struct slog *log)
{
	size_t size = log->cfg.buffer_bytes;
	int fit = -1, free_other = -1, blank = -1, victim = -1;
	assert(log->pbi < 0);
	/* bounded: cfg.buffers entries */
	for (unsigned i = 0; i < w->cfg.buffers; i++) {
		struct swbuf *e = &w->pool[i];
		if (e->owner) {
			if (slog_can_release(e->owner) &&
			    (victim < 0 || e->used_ns < w->pool[victim].used_ns))
				victim = (int)i;
			continue;
		}
		if (e->buf.mem && e->buf.size == size) {
			fit = (int)i;
			break;
		}
		if (!e->buf.mem && blank < 0)
			blank = (int)i;
		if (e->buf.mem && free_other < 0)
			free_other = (int)i;
	}
	int rc = SL_EFULL;
	if (fit >= 0) {
		give_to(w, (unsigned)fit, log);
		return fit;
	}
	if (blank >= 0 && (rc = make_buffer(w, (unsigned)blank, size)) == 0) {
		give_to(w, (unsigned)blank, log);
		return blank;
	}
	if (free_other >= 0 &&
	    (rc = make_buffer(w, (unsigned)free_other, size)) == 0) {
		give_to(w, (unsigned)free_other, log);
		return free_other;
	}
	if (victim >= 0) {
		unsigned v = (unsigned)victim;
		slog_release_buffer(w->pool[v].owner);
		w->st.steals++;
		if ((rc = make_buffer(w, v, size)) == 0) {
			give_to(w, v, log);
			return victim;
		}
	}
	if (rc == SL_EFULL || rc == -ENOMEM) {
		w->st.empty++;
		return SL_EFULL;
	}
	return rc;
}

void spool_give(struct swriter *w, struct slog *log)
{
	assert(log->pbi >= 0 && (unsigned)log->pbi < w->cfg.buffers);
	struct swbuf *e = &w->pool[log->pbi];
	assert(e->owner == log);
	assert(log->op_head == log->op_tail); /* nothing in flight */
	e->owner = NULL;
	log->pbi = -1;
	log->buf = NULL;
	log->ops = NULL;
	log->wq = NULL;
	w->st.in_use--;
}

int spool_release_idle(struct swriter *w, uint64_t now_ns)
{
	uint64_t idle_ns = (uint64_t)w->cfg.buffer_idle_ms * 1000000ull;
	int n = 0;
	for (unsigned i = 0; i < w->cfg.buffers; i++) {
		struct swbuf *e = &w->pool[i];
		if (!e->owner || now_ns - e->used_ns < idle_ns ||
		    now_ns < e->used_ns || !slog_can_release(e->owner))
			continue;
		slog_release_buffer(e->owner);
		w->st.idle_releases++;
		n++;
	}
	return n;
}

void spool_destroy(struct swriter *w)
{
	if (!w->pool)
		return;
	for (unsigned i = 0; i < w->cfg.buffers; i++) {
		if (w->pool[i].owner)
			abort(); /* contract: close every log first */
		sbuf_destroy(&w->pool[i].buf);
	}
	free(w->pool);
	w->pool = NULL;
}
