/*
 * The driver registry: the drivers this build holds, by the name the config
 * key `driver` gives (contract in driver.h).  The socket driver is always
 * built; the DPDK driver when libdpdk was found (SLUICE_HAVE_DPDK).  A new
 * backend is a sibling file of socket.c and one line in drivers[] below.
 */
#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "drivers/driver.h"

static const struct drv_ops *const drivers[] = {
	&drv_socket_ops,
#ifdef SLUICE_HAVE_DPDK
	&drv_dpdk_ops,
#endif
};
#define NDRIVERS (sizeof(drivers) / sizeof(drivers[0]))

/* The names of drivers[], in order (a literal, so any thread may read it;
 * tests/drivers checks that it lists every entry). */
#ifdef SLUICE_HAVE_DPDK
#define NAMES "socket, dpdk"
#else
#define NAMES "socket"
#endif

const struct drv_ops *drv_find(const char *name)
{
	assert(name);
	if (!name[0])
		return drivers[0]; /* the default: socket */
	for (size_t i = 0; i < NDRIVERS; i++)
		if (!strcmp(drivers[i]->name, name))
			return drivers[i];
	return NULL;
}

const char *drv_names(void)
{
	return NAMES;
}
