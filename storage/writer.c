/*
 * The writer: one io_uring per storage thread, shared by the logs that
 * thread owns.  It prepares writes and fdatasyncs for the logs
 * (slog_submit), submits them in one io_uring_submit per duty cycle, reaps
 * completions in batches and hands each to its log (slog_complete), then
 * lets each log advance and deliver durability callbacks (slog_process).
 *
 * Only the logs that hold a write buffer from the pool (pool.c) have I/O
 * to submit or complete, so the duty cycle visits the pool's entries, not
 * every attached log: its cost does not grow with idle partitions.
 *
 * Where the kernel allows it, each pool buffer is a registered buffer and
 * the active segment of the log holding it a registered file (slot = the
 * pool index), which saves a file lookup and a page pinning per write;
 * otherwise plain writes are used.  Nothing here blocks except
 * swriter_wait().
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/log_pvt.h"

#define REAP_BURST 64

void swriter_config_defaults(struct swriter_config *cfg)
{
	cfg->queue_depth = 256;
	cfg->max_logs = 64;
	cfg->use_hugepages = 1;
	cfg->register_buffers = 1;
	cfg->buffers = 64;
	cfg->buffer_pool_bytes = 512ull << 20;
	cfg->buffer_idle_ms = 1000;
	cfg->disk = NULL;
}

int swriter_create(const struct swriter_config *cfg, struct swriter **out)
{
	struct swriter_config def;
	int rc;
	if (!cfg) {
		swriter_config_defaults(&def);
		cfg = &def;
	}
	if (cfg->queue_depth < 8 || cfg->max_logs == 0 || cfg->buffers == 0 ||
	    cfg->buffers > 65536 || cfg->buffer_pool_bytes < SL_BLOCK)
		return SL_ECONFIG;
	struct swriter *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cfg = *cfg;
	w->disk = cfg->disk ? cfg->disk : &sdisk_posix;
	w->uring = w->disk->kernel_fds;
	w->pool = calloc(cfg->buffers, sizeof(*w->pool));
	if (!w->pool) {
		rc = -ENOMEM;
		goto fail_w;
	}
	if (!w->uring) {
		w->done = calloc(cfg->queue_depth, sizeof(*w->done));
		w->done_res = calloc(cfg->queue_depth, sizeof(*w->done_res));
		if (!w->done || !w->done_res) {
			rc = -ENOMEM;
			goto fail_done;
		}
		*out = w;
		return 0;
	}
	rc = io_uring_queue_init(cfg->queue_depth, &w->ring, 0);
	if (rc < 0)
		goto fail_pool;
	if (cfg->register_buffers) {
		/* one slot per pool entry, not per log */
		w->fixed_files =
			io_uring_register_files_sparse(&w->ring, cfg->buffers) == 0;
		w->fixed_bufs =
			io_uring_register_buffers_sparse(&w->ring, cfg->buffers) == 0;
	}
	*out = w;
	return 0;
fail_done:
	free(w->done);
	free(w->done_res);
fail_pool:
	free(w->pool);
fail_w:
	free(w);
	return rc;
}

void swriter_destroy(struct swriter *w)
{
	if (!w)
		return;
	if (w->nlogs)
		abort(); /* contract: close every log first */
	spool_destroy(w);
	if (w->uring)
		io_uring_queue_exit(&w->ring);
	free(w->done);
	free(w->done_res);
	free(w->scratch);
	free(w);
}

void swriter_get_stats(const struct swriter *w, struct swriter_stats *out)
{
	*out = w->st;
	out->buffers = w->pool_created;
	out->buffer_bytes = w->pool_bytes;
	out->logs = w->nlogs;
}

int swriter_attach(struct swriter *w, struct slog *log)
{
	if (w->nlogs >= w->cfg.max_logs)
		return -EMFILE;
	if (log->cfg.batch_max_bytes > w->scratch_bytes) {
		/* one scratch batch per writer, as large as the largest
		 * batch of its logs */
		uint8_t *p = realloc(w->scratch, log->cfg.batch_max_bytes);
		if (!p)
			return -ENOMEM;
		w->scratch = p;
		w->scratch_bytes = log->cfg.batch_max_bytes;
	}
	w->nlogs++;
	log->attached = true;
	return 0;
}

void swriter_detach(struct swriter *w, struct slog *log)
{
	if (!log->attached)
		return;
	if (!w->uring) {
		/* completions not yet reaped must not reach a freed log */
		unsigned k = 0;
		for (unsigned i = 0; i < w->ndone; i++) {
			if (w->done[i]->log == log)
				continue;
			w->done[k] = w->done[i];
			w->done_res[k++] = w->done_res[i];
		}
		w->ndone = k;
	}
	w->nlogs--;
	log->attached = false;
}

void swriter_set_file(struct swriter *w, struct slog *log)
{
	if (!w->fixed_files || log->pbi < 0)
		return;
	int fd = log->wfd;
	if (io_uring_register_files_update(&w->ring, (unsigned)log->pbi, &fd, 1) != 1)
		w->fixed_files = false; /* fall back to plain descriptors */
}

static struct io_uring_sqe *get_sqe(struct swriter *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
	if (!sqe) {
		/* SQ full: push what is prepared and try once more */
		int rc = io_uring_submit(&w->ring);
		if (rc > 0) {
			w->inflight += (unsigned)rc;
			w->pending_sqes -= (unsigned)rc;
		}
		sqe = io_uring_get_sqe(&w->ring);
	}
	return sqe;
}

/* A disk without kernel descriptors: do the operation now and queue its
 * completion for the next reap, as the ring would. */
static int sync_op(struct swriter *w, struct slog *log, struct sop *op)
{
	if (w->ndone >= w->cfg.queue_depth)
		return -EBUSY;
	int res;
	if (op->kind == SOP_SYNC) {
		res = sd_fdatasync(w->disk, log->wfd);
	} else {
		uint64_t at = op->pos + op->done_len;
		uint32_t len = op->len - op->done_len;
		const uint8_t *src = log->buf->mem + (at % log->buf->size);
		ssize_t n = sd_pwrite(w->disk, log->wfd, src, len, at);
		res = (int)n;
	}
	w->done[w->ndone] = op;
	w->done_res[w->ndone++] = res;
	return 0;
}

int swriter_prep_write(struct swriter *w, struct slog *log, struct sop *op)
{
	if (!w->uring)
		return sync_op(w, log, op);
	if (w->inflight + w->pending_sqes >= w->cfg.queue_depth)
		return -EBUSY; /* keep CQ overflow impossible */
	struct io_uring_sqe *sqe = get_sqe(w);
	if (!sqe)
		return -EBUSY;
	uint64_t at = op->pos + op->done_len;
	uint32_t len = op->len - op->done_len;
	assert(log->pbi >= 0 && log->wfd >= 0); /* writes need a buffer */
	uint8_t *src = log->buf->mem + (at % log->buf->size);
	int fd = w->fixed_files ? log->pbi : log->wfd;
	if (w->fixed_bufs)
		io_uring_prep_write_fixed(sqe, fd, src, len, at, log->pbi);
	else
		io_uring_prep_write(sqe, fd, src, len, at);
	if (w->fixed_files)
		sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, op);
	w->pending_sqes++;
	return 0;
}

int swriter_prep_sync(struct swriter *w, struct slog *log, struct sop *op)
{
	if (!w->uring)
		return sync_op(w, log, op);
	if (w->inflight + w->pending_sqes >= w->cfg.queue_depth)
		return -EBUSY;
	struct io_uring_sqe *sqe = get_sqe(w);
	if (!sqe)
		return -EBUSY;
	assert(log->pbi >= 0 && log->wfd >= 0);
	int fd = w->fixed_files ? log->pbi : log->wfd;
	io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
	if (w->fixed_files)
		sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, op);
	w->pending_sqes++;
	return 0;
}

/* The clock of the logs (they share one in practice); 0 when no log
 * holds a buffer, when there is nothing to time. */
static uint64_t now_ns(struct swriter *w)
{
	for (unsigned i = 0; i < w->cfg.buffers; i++) {
		struct slog *log = w->pool[i].owner;
		if (log)
			return log->clock->mono_ns(log->clock->ctx);
	}
	return 0;
}

static int reap(struct swriter *w)
{
	if (!w->uring) {
		/* Completions may queue more (a short write is resubmitted):
		 * take the batch present now, bounded by the queue depth. */
		unsigned n = w->ndone;
		struct sop *ops[REAP_BURST];
		int res[REAP_BURST];
		if (n > REAP_BURST)
			n = REAP_BURST;
		memcpy(ops, w->done, n * sizeof(*ops));
		memcpy(res, w->done_res, n * sizeof(*res));
		memmove(w->done, w->done + n, (w->ndone - n) * sizeof(*w->done));
		memmove(w->done_res, w->done_res + n,
			(w->ndone - n) * sizeof(*w->done_res));
		w->ndone -= n;
		for (unsigned i = 0; i < n; i++)
			slog_complete(ops[i]->log, ops[i], res[i]);
		return (int)n;
	}
	struct io_uring_cqe *cqes[REAP_BURST];
	unsigned n = io_uring_peek_batch_cqe(&w->ring, cqes, REAP_BURST);
	for (unsigned i = 0; i < n; i++) {
		struct sop *op = io_uring_cqe_get_data(cqes[i]);
		int res = cqes[i]->res;
		slog_complete(op->log, op, res);
	}
	if (n)
		io_uring_cq_advance(&w->ring, n);
	w->inflight -= n;
	return (int)n;
}

int swriter_do_work(struct swriter *w)
{
	int work = 0, rc;
	uint64_t t = now_ns(w); /* once per duty cycle */
	/* Bounded: a few rounds of submit / reap / process per cycle. */
	for (int round = 0; round < 4; round++) {
		int did = 0;
		for (unsigned i = 0; i < w->cfg.buffers; i++)
			if (w->pool[i].owner)
				did += slog_submit(w->pool[i].owner, t);
		if (w->uring && w->pending_sqes) {
			rc = io_uring_submit(&w->ring);
			if (rc < 0 && rc != -EAGAIN && rc != -EBUSY && rc != -EINTR)
				return rc;
			if (rc > 0) {
				w->inflight += (unsigned)rc;
				w->pending_sqes -= (unsigned)rc;
			}
		}
		did += reap(w);
		/* an owner's callback may append to another log, which
		 * may take a buffer: re-read the owner every time */
		for (unsigned i = 0; i < w->cfg.buffers; i++)
			if (w->pool[i].owner)
				did += slog_process(w->pool[i].owner);
		work += did;
		if (!did)
			break;
	}
	/* given back without counting as work: an idle core may sleep */
	if (t)
		spool_release_idle(w, t);
	return work;
}

/* Sleep until the earliest group commit is due, at most timeout_us. */
static void sleep_until_due(struct swriter *w, uint64_t timeout_us)
{
	uint64_t t = now_ns(w), due = UINT64_MAX;
	for (unsigned i = 0; i < w->cfg.buffers; i++) {
		if (!w->pool[i].owner)
			continue;
		uint64_t d = slog_deadline_ns(w->pool[i].owner, t);
		if (d < due)
			due = d;
	}
	if (due == UINT64_MAX || due == 0)
		return;
	if (timeout_us && due > timeout_us * 1000)
		due = timeout_us * 1000;
	struct timespec ts = { .tv_sec = (time_t)(due / 1000000000),
			       .tv_nsec = (long)(due % 1000000000) };
	nanosleep(&ts, NULL);
}

int swriter_wait(struct swriter *w, uint64_t timeout_us)
{
	int work = swriter_do_work(w);
	if (work != 0)
		return work;
	if (!w->uring)
		return 0; /* done at submission: nothing to wait for, and no
			     real time passes on a simulated disk's clock */
	if (w->inflight == 0) {
		sleep_until_due(w, timeout_us);
		return swriter_do_work(w);
	}
	struct io_uring_cqe *cqe;
	int rc;
	if (timeout_us) {
		struct __kernel_timespec ts = {
			.tv_sec = (long long)(timeout_us / 1000000),
			.tv_nsec = (long long)(timeout_us % 1000000) * 1000,
		};
		rc = io_uring_wait_cqe_timeout(&w->ring, &cqe, &ts);
	} else {
		rc = io_uring_wait_cqe(&w->ring, &cqe);
	}
	if (rc < 0 && rc != -ETIME && rc != -EINTR)
		return rc;
	return swriter_do_work(w);
}
