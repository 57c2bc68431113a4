/* telemetry internals shared between data.c and telemetry.c. */
#ifndef SLUICE_DATAPLANE_TELEMETRY_PVT_H
#define SLUICE_DATAPLANE_TELEMETRY_PVT_H

#include <stdbool.h>

/* A dict key DPDK accepts: non-empty, [A-Za-z0-9_/] only. */
bool tel_valid_name(const char *name);

#endif
