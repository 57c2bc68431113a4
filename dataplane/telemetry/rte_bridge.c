/*
 * The bridge from sluice's telemetry commands to DPDK's telemetry library
 * (contract in rte_bridge.h).
 *
 * DPDK's telemetry callback gets the command name, so one trampoline
 * (bridge_cb) serves every command: it runs sluice's callback into a
 * struct tel_data (tel_run_cb) and copies it field by field into the
 * rte_tel_data.  The builders of telemetry.h mirror rte_tel_data_*'s types,
 * limits and nesting (one level), so the copy loses nothing but the width
 * of ints (int64_t here, int in DPDK 22.11).  A copy that fails (no
 * memory for a container) leaves that entry out; a callback that fails
 * answers null, as DPDK does.
 *
 * Runs on DPDK's telemetry thread: the callbacks' rules (telemetry.h,
 * "Threads") hold there as on sluice's own server thread.
 */
#define ALLOW_EXPERIMENTAL_API 1
#include <errno.h>
#include <string.h>

#include <rte_lcore.h>
#include <rte_telemetry.h>

#include "dataplane/telemetry/rte_bridge.h"
#include "dataplane/telemetry/telemetry.h"

static void copy_value(struct rte_tel_data *out, const char *name,
		       const struct tel_dict_entry *e);

static int copy_data(struct rte_tel_data *out, const struct tel_data *in,
		     int depth)
{
	switch (in->type) {
	case TEL_NULL:
		return -1;
	case TEL_STRING:
		return rte_tel_data_string(out, in->data.str);
	case TEL_DICT:
		rte_tel_data_start_dict(out);
		for (unsigned i = 0; i < in->data_len; i++)
			copy_value(out, in->data.dict[i].name,
				   &in->data.dict[i]);
		return 0;
	case TEL_ARRAY_STRING:
		rte_tel_data_start_array(out, RTE_TEL_STRING_VAL);
		for (unsigned i = 0; i < in->data_len; i++)
			rte_tel_data_add_array_string(out, in->data.array[i].sval);
		return 0;
	case TEL_ARRAY_INT:
		rte_tel_data_start_array(out, RTE_TEL_INT_VAL);
		for (unsigned i = 0; i < in->data_len; i++)
			rte_tel_data_add_array_int(out,
						   (int)in->data.array[i].ival);
		return 0;
	case TEL_ARRAY_U64:
		rte_tel_data_start_array(out, RTE_TEL_U64_VAL);
		for (unsigned i = 0; i < in->data_len; i++)
			rte_tel_data_add_array_u64(out, in->data.array[i].u64val);
		return 0;
	case TEL_ARRAY_CONTAINER:
		if (depth > 0)
			return -1;
		rte_tel_data_start_array(out, RTE_TEL_CONTAINER);
		for (unsigned i = 0; i < in->data_len; i++) {
			struct rte_tel_data *c = rte_tel_data_alloc();
			if (!c)
				return -1;
			if (copy_data(c, in->data.array[i].container.data, 1) < 0 ||
			    rte_tel_data_add_array_container(out, c, 0) < 0)
				rte_tel_data_free(c);
		}
		return 0;
	}
	return -1;
}

static void copy_value(struct rte_tel_data *out, const char *name,
		       const struct tel_dict_entry *e)
{
	switch (e->type) {
	case TEL_STRING_VAL:
		rte_tel_data_add_dict_string(out, name, e->value.sval);
		break;
	case TEL_INT_VAL:
		rte_tel_data_add_dict_int(out, name, (int)e->value.ival);
		break;
	case TEL_U64_VAL:
		rte_tel_data_add_dict_u64(out, name, e->value.u64val);
		break;
	case TEL_CONTAINER: {
		struct rte_tel_data *c = rte_tel_data_alloc();
		if (!c)
			break;
		if (copy_data(c, e->value.container.data, 1) < 0 ||
		    rte_tel_data_add_dict_container(out, name, c, 0) < 0)
			rte_tel_data_free(c);
		break;
	}
	}
}

static int bridge_cb(const char *cmd, const char *params,
		     struct rte_tel_data *out)
{
	struct tel_data *t = tel_data_alloc();
	if (!t)
		return -1;
	int rc = tel_run_cb(cmd, params, t);
	if (rc >= 0)
		rc = copy_data(out, t, 0);
	tel_data_free(t);
	return rc < 0 ? -1 : 0;
}

static int bridge_one(const char *path, const char *help, void *arg)
{
	int *n = arg;
	/* DPDK's own commands (/, /help, /info) stay DPDK's */
	if (strncmp(path, "/sluice/", 8))
		return 0;
	if (rte_telemetry_register_cmd(path, bridge_cb, help ? help : "") == 0)
		(*n)++;
	return 0;
}

int tel_rte_bridge_register(void)
{
	/* EAL counts its lcores at rte_eal_init: none before it */
	if (rte_lcore_count() == 0)
		return -ENOTSUP;
	int n = 0;
	tel_for_each_cmd(bridge_one, &n);
	return n;
}
