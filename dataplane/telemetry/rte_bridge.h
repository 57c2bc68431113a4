/*
 * The bridge from sluice's telemetry commands to DPDK's telemetry library:
 * when the DPDK driver runs, EAL serves its own telemetry socket
 * (/var/run/dpdk/<file-prefix>/dpdk_telemetry.v2, with /ethdev/...), and
 * this makes that socket answer every /sluice/... command too.
 *
 * rte_bridge.c is built when libdpdk is found, rte_bridge_none.c (which
 * answers -ENOTSUP) otherwise, so that callers need no #ifdef.
 */
#ifndef SLUICE_DATAPLANE_TELEMETRY_RTE_BRIDGE_H
#define SLUICE_DATAPLANE_TELEMETRY_RTE_BRIDGE_H

/*
 * Registers every /sluice/... command registered so far (tel_register_cmd*)
 * with rte_telemetry_register_cmd; DPDK's own commands (/, /help, /info)
 * stay DPDK's.  Call once, after EAL was initialised (the DPDK driver's
 * create()) and after the commands were registered; commands registered
 * later are not bridged.  Start-up thread.  Returns the number of commands
 * bridged, or -ENOTSUP (built without DPDK, or EAL not initialised).
 */
int tel_rte_bridge_register(void);

#endif
