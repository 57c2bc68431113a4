/*
 * The write buffer of a log: size bytes (a multiple of 4 KiB, and of
 * 2 MiB when hugepages are used) mapped twice, back to back, so that a
 * batch that wraps around the end of the ring is still one contiguous
 * range of memory for memcpy and for readers of the tail cache.
 *
 * Backed by a memfd: MFD_HUGETLB when asked and available (fewer TLB
 * misses), ordinary shared memory otherwise.  Allocated once when the log
 * opens; nothing is allocated per batch.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "storage/log_pvt.h"

#define HUGE_2M (2u << 20)

static int map_twice(struct sbuf *b, int fd)
{
	uint8_t *base = mmap(NULL, 2 * b->size, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	for (int i = 0; i < 2; i++) {
		void *p = mmap(base + (size_t)i * b->size, b->size,
			       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			       fd, 0);
		if (p == MAP_FAILED) {
			int err = -errno;
			munmap(base, 2 * b->size);
			return err;
		}
	}
	b->mem = base;
	return 0;
}

static int try_create(struct sbuf *b, unsigned flags)
{
	int fd = memfd_create("sluice-wbuf", MFD_CLOEXEC | flags);
	if (fd < 0)
		return -errno;
	int rc = 0;
	if (ftruncate(fd, (off_t)b->size) < 0)
		rc = -errno;
	else
		rc = map_twice(b, fd);
	close(fd); /* the mappings keep the memory */
	if (rc == 0 && flags) {
		/* Hugetlb memory is only reserved at fault time: touch it
		 * now so a shortage shows here, not as SIGBUS later. */
		volatile uint8_t *m = b->mem;
		for (size_t i = 0; i < b->size; i += HUGE_2M)
			m[i] = 0;
	}
	return rc;
}

int sbuf_create(struct sbuf *b, size_t size, bool try_huge)
{
	if (size == 0 || size % SL_BLOCK)
		return -EINVAL;
	b->mem = NULL;
	b->huge = false;
	if (try_huge && size % HUGE_2M == 0) {
		b->size = size;
		/* Check the pool first: touching a page the pool cannot
		 * supply kills the process with SIGBUS. */
		long free_pages = 0;
		FILE *f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/"
				"free_hugepages", "r");
		if (f) {
			if (fscanf(f, "%ld", &free_pages) != 1)
				free_pages = 0;
			fclose(f);
		}
		if ((size_t)free_pages * HUGE_2M >= size &&
		    try_create(b, MFD_HUGETLB) == 0) {
			b->huge = true;
			return 0;
		}
	}
	b->size = size;
	return try_create(b, 0);
}

void sbuf_destroy(struct sbuf *b)
{
	if (b->mem)
		munmap(b->mem, 2 * b->size);
	b->mem = NULL;
}
