/* The bridge to DPDK's telemetry (rte_bridge.h) in a build without DPDK:
 * there is no DPDK telemetry socket to answer on. */
#include <errno.h>

#include "dataplane/telemetry/rte_bridge.h"

int tel_rte_bridge_register(void)
{
	return -ENOTSUP;
}
