/*
 * What the fuzz targets share: a property check that names itself, a
 * reader that turns the fuzzer's bytes into choices (reading past the end
 * gives zeros, so every input is a whole program), a scratch directory per
 * process for the targets whose code under test reads files, and a filter
 * for the control plane's log lines.
 *
 * Scratch files live under $SLUICE_FUZZ_TMPDIR, else /dev/shm (tmpfs: the
 * loaders fsync on every run), else /tmp; the directory is removed when the
 * process exits normally.  A crashing run leaves it for inspection.
 */
#ifndef SLUICE_TESTS_FUZZ_UTIL_H
#define SLUICE_TESTS_FUZZ_UTIL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A broken property: say which and abort (libFuzzer keeps the input). */
#define FUZZ_CHECK(cond)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: property broken: %s\n",      \
				__FILE__, __LINE__, #cond);                  \
			abort();                                             \
		}                                                            \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

struct fz_reader {
	const uint8_t *p;
	size_t len, pos;
};

static inline void fz_init(struct fz_reader *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->pos = 0;
}

static inline size_t fz_left(const struct fz_reader *r)
{
	return r->len - r->pos;
}

static inline uint8_t fz_u8(struct fz_reader *r)
{
	return r->pos < r->len ? r->p[r->pos++] : 0;
}

static inline uint16_t fz_u16(struct fz_reader *r)
{
	uint16_t hi = fz_u8(r);
	return (uint16_t)(hi << 8 | fz_u8(r));
}

static inline uint32_t fz_u32(struct fz_reader *r)
{
	uint32_t hi = fz_u16(r);
	return hi << 16 | fz_u16(r);
}

static inline uint64_t fz_u64(struct fz_reader *r)
{
	uint64_t hi = fz_u32(r);
	return hi << 32 | fz_u32(r);
}

/* Up to n bytes in place (fewer at the end); their count in *got. */
static inline const uint8_t *fz_bytes(struct fz_reader *r, size_t n,
				      size_t *got)
{
	if (n > fz_left(r))
		n = fz_left(r);
	const uint8_t *p = r->p + r->pos;
	r->pos += n;
	*got = n;
	return p;
}

/* The process's scratch directory (created on first use; aborts if it
 * cannot be). */
const char *fz_tmpdir(void);

/* Remove everything inside dir (one level of subdirectories deep, which
 * is all the targets create), keeping dir.  Aborts on failure. */
void fz_clear_dir(const char *dir);

/* Write path with exactly len bytes of p (created or truncated). */
void fz_write_file(const char *path, const void *p, size_t len);

/* Print len bytes of p in hex and printable characters (debugging). */
void fz_hexdump(const char *what, const void *p, size_t len);

/* Drop the lines sluice-control's sl_log() writes to stderr (one per
 * message of a hostile peer would fill the log) and pass everything else,
 * assertion messages included, to the real stderr.  Set
 * SLUICE_FUZZ_VERBOSE=1 to keep them. */
void fz_quiet_control_log(void);

#endif
