/*
 * telemetry: a server for DPDK's telemetry protocol (v2), so that DPDK's own
 * client (dpdk-telemetry.py), `sluice status` and anything that speaks the
 * protocol can query sluiced whether or not DPDK runs.
 *
 * The wire protocol (AF_UNIX, SOCK_SEQPACKET, one JSON text per packet; the
 * same as DPDK 22.11's lib/telemetry; docs/telemetry.md says it for client
 * authors):
 *
 *   on accept, server -> client:
 *       {"version":"<version string>","pid":<pid>,"max_output_len":16384}
 *   then, for every packet the client sends, exactly one reply packet:
 *       request  "<command>[,<params>]"     e.g. "/sluice/partition,orders-0"
 *                (at most TEL_MAX_REQUEST_LEN bytes; the command is the text
 *                before the first ',', the params everything after it, or
 *                none when nothing follows the comma)
 *       reply    {"<command>":<data>}        at most TEL_MAX_OUTPUT_LEN bytes
 *       where <data> is null when the command is unknown, does not start
 *       with '/', or its callback returned < 0; otherwise a JSON object,
 *       array or string built by the callback with the tel_data_* builders.
 *   A request longer than TEL_MAX_REQUEST_LEN, or an empty one, closes the
 *   connection.  At most TEL_MAX_CLIENTS connections are served; further
 *   ones are accepted and closed at once.
 *
 * Built-in commands (as in DPDK):
 *   "/"              {"/":["/","/help","/info",...]}  every command, sorted
 *   "/info"          {"/info":{"version":"..","pid":N,"max_output_len":16384}}
 *   "/help,<cmd>"    {"/help":{"<cmd>":"<help text>"}}; null for an unknown
 *                    <cmd> or without params
 *
 * Threads.  tel_register_cmd*() may be called from any thread, before or
 * after tel_server_start().  Callbacks run on the telemetry thread, one at a
 * time, never concurrently with each other.  A callback runs concurrently
 * with the dataplane, so it must only read state that is safe to read
 * without a lock: single-writer counters (plain loads of naturally aligned
 * uint64_t, which do not tear on the 64-bit targets sluice supports) and
 * configuration that does not change after start-up.  It must not take a
 * lock that a dataplane thread holds, must not block and must not sleep: it
 * delays every other telemetry client.  It must not call tel_server_stop().
 *
 * Compatibility with DPDK.  The builders mirror rte_tel_data_* (22.11), with
 * the same limits, the same name rules (dict keys: [A-Za-z0-9_/] only) and
 * one level of nesting (a container may not hold containers), so that a
 * callback written against this header can be served by DPDK's telemetry
 * library when the DPDK driver runs: a bridge registers one trampoline per
 * command (tel_for_each_cmd) with rte_telemetry_register_cmd, runs the
 * callback into a struct tel_data (tel_run_cb) and copies it into the
 * rte_tel_data by walking the fields below.  Differences: int values are
 * int64_t here (int in 22.11), strings are escaped and made valid UTF-8 here.
 */
#ifndef SLUICE_DATAPLANE_TELEMETRY_H
#define SLUICE_DATAPLANE_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

/* Limits; those named like DPDK's have DPDK 22.11's values. */
#define TEL_MAX_STRING_LEN 128          /* dict key or value, array string, incl. NUL */
#define TEL_MAX_SINGLE_STRING_LEN 8192  /* tel_data_string(), incl. NUL */
#define TEL_MAX_DICT_ENTRIES 256
#define TEL_MAX_ARRAY_ENTRIES 512
#define TEL_MAX_CMD_LEN 56              /* registered command path, incl. NUL */
#define TEL_MAX_HELP_LEN 128            /* help text, incl. NUL */
#define TEL_MAX_OUTPUT_LEN 16384        /* reply packet, bytes (max_output_len) */
#define TEL_MAX_REQUEST_LEN 1023        /* request packet, bytes */
#define TEL_MAX_CMDS 128                /* registered commands, built-ins included */
#define TEL_MAX_CLIENTS 16              /* connections served at once */

/* What a struct tel_data holds (mirrors DPDK's tel_container_types). */
enum tel_data_type {
	TEL_NULL = 0,        /* "null": nothing was started */
	TEL_STRING,          /* one string */
	TEL_DICT,            /* name -> value */
	TEL_ARRAY_STRING,
	TEL_ARRAY_INT,
	TEL_ARRAY_U64,
	TEL_ARRAY_CONTAINER, /* array of dicts/arrays */
};

/* The type of one value (mirrors enum rte_tel_value_type). */
enum tel_value_type {
	TEL_STRING_VAL = 0,
	TEL_INT_VAL,
	TEL_U64_VAL,
	TEL_CONTAINER,
};

struct tel_data;

struct tel_container {
	struct tel_data *data; /* a dict or a non-container array */
	int keep;              /* 0: freed with the parent by tel_data_release */
};

union tel_value {
	char sval[TEL_MAX_STRING_LEN];
	int64_t ival;
	uint64_t u64val;
	struct tel_container container;
};

struct tel_dict_entry {
	char name[TEL_MAX_STRING_LEN];
	enum tel_value_type type;
	union tel_value value;
};

/*
 * A reply under construction.  Fill it only with the builders; the fields
 * are public so that a bridge (DPDK) or a test can read them.  About 70 KiB:
 * the server owns the one it hands to callbacks; containers come from
 * tel_data_alloc().
 */
struct tel_data {
	enum tel_data_type type;
	unsigned int data_len; /* entries in dict[] or array[] */
	union {
		char str[TEL_MAX_SINGLE_STRING_LEN];
		struct tel_dict_entry dict[TEL_MAX_DICT_ENTRIES];
		union tel_value array[TEL_MAX_ARRAY_ENTRIES];
	} data;
};

/* ---- building a reply (any thread; the data is the caller's) ----
 *
 * Every builder returns 0, or:
 *   -EINVAL   d is NULL, the data was not started as the right type, a name
 *             has characters outside [A-Za-z0-9_/] or is empty, a string is
 *             NULL, or a container is not a dict/non-container array;
 *   -ENOSPC   the dict or array is full (TEL_MAX_*_ENTRIES): nothing added;
 *   -E2BIG    a string or name was longer than its limit: it was added,
 *             truncated (at a UTF-8 character boundary);
 *   -ENOTSUP  a container would hold a container.
 */

/* Sets d to an empty dict (discarding what it held; containers it owned
 * are not freed: call tel_data_release first if it held any). */
int tel_data_start_dict(struct tel_data *d);
/* Sets d to an empty array of values of one type. */
int tel_data_start_array(struct tel_data *d, enum tel_value_type type);
/* Sets d to one string (at most TEL_MAX_SINGLE_STRING_LEN - 1 bytes). */
int tel_data_string(struct tel_data *d, const char *str);

int tel_data_add_dict_u64(struct tel_data *d, const char *name, uint64_t val);
int tel_data_add_dict_int(struct tel_data *d, const char *name, int64_t val);
int tel_data_add_dict_string(struct tel_data *d, const char *name,
			     const char *val);
/* Adds val (a started dict or array without containers) under name.  With
 * keep == 0 d owns val from a successful return on: tel_data_release(d)
 * frees it, so it must come from tel_data_alloc().  On failure the caller
 * still owns val. */
int tel_data_add_dict_container(struct tel_data *d, const char *name,
				struct tel_data *val, int keep);

int tel_data_add_array_u64(struct tel_data *d, uint64_t val);
int tel_data_add_array_int(struct tel_data *d, int64_t val);
int tel_data_add_array_string(struct tel_data *d, const char *str);
/* As tel_data_add_dict_container, into an array of TEL_CONTAINER. */
int tel_data_add_array_container(struct tel_data *d, struct tel_data *val,
				 int keep);

/* A container for the above (calloc; type TEL_NULL), or NULL without
 * memory.  tel_data_free(NULL) is a no-op; it also releases what it owns. */
struct tel_data *tel_data_alloc(void);
void tel_data_free(struct tel_data *d);
/* Frees the containers d owns (keep == 0) and sets d to TEL_NULL. */
void tel_data_release(struct tel_data *d);

/*
 * Writes d as JSON into out (cap bytes, NUL-terminated): {"<cmd>":<data>},
 * or just <data> when cmd is NULL.  Whole entries that do not fit are left
 * out, so the text is always valid JSON; *truncated (if not NULL) says
 * whether any were.  Returns the length written (< cap), or -ENOSPC when
 * cap cannot hold even the empty reply ({"<cmd>":null} or {} / []), or
 * -EINVAL.  Does not modify or free d.
 */
int tel_data_to_json(const struct tel_data *d, const char *cmd, char *out,
		     size_t cap, int *truncated);

/* ---- commands ---- */

/*
 * A command's callback: cmd is the command ("/sluice/info"), params the
 * text after the first ',' of the request or NULL.  d arrives as TEL_NULL;
 * the callback starts and fills it.  Returns >= 0 on success, < 0 to reply
 * null.  Runs on the telemetry thread: see "Threads" above.
 */
typedef int (*tel_cb)(const char *cmd, const char *params, struct tel_data *d);
/* The same with the pointer given at registration. */
typedef int (*tel_arg_cb)(const char *cmd, const char *params, void *arg,
			  struct tel_data *d);

/*
 * Registers path ("/sluice/info": starts with '/', characters
 * [A-Za-z0-9_/] so that it is also a valid dict key for /help, shorter
 * than TEL_MAX_CMD_LEN) with its help text (NULL
 * for none; shorter than TEL_MAX_HELP_LEN).  Commands cannot be
 * unregistered.  Any thread.  Returns 0, -EINVAL (bad path, help or cb),
 * -EEXIST (path already registered), -ENOSPC (TEL_MAX_CMDS reached).
 */
int tel_register_cmd(const char *path, tel_cb cb, const char *help);
int tel_register_cmd_arg(const char *path, tel_arg_cb cb, void *arg,
			 const char *help);

/* Runs the command named in request ("<cmd>[,<params>]", NUL-terminated) as
 * the server does and writes the reply into out (see tel_data_to_json).
 * Calls the callback on the calling thread.  Returns the reply's length or
 * -ENOSPC / -EINVAL. */
int tel_handle_request(const char *request, char *out, size_t cap);

/* Runs the callback of a registered command into d (which this sets to
 * TEL_NULL first).  Returns the callback's return value, or -ENOENT for
 * an unknown cmd.  For bridges: the DPDK trampoline. */
int tel_run_cb(const char *cmd, const char *params, struct tel_data *d);

/* Calls fn for every registered command, sorted by path, built-ins
 * included; stops at and returns the first non-zero return of fn; else 0.
 * fn must not register commands. */
int tel_for_each_cmd(int (*fn)(const char *path, const char *help,
			       void *arg),
		     void *arg);

/* ---- the server (one per process) ---- */

/*
 * Starts serving socket_path (mode 0600, in a directory made or narrowed to
 * 0700 and missing parents created 0755: proto/local_socket.h; a stale
 * socket file, one nobody listens on, is replaced) from one background
 * thread.  Connections from a uid other than ours or root are closed
 * unanswered and counted (tel_server_peers_refused).  version is the "version" string of the hello and of
 * /info (copied; e.g. "sluice 0.1.0").  Call from the thread that will call
 * tel_server_stop.  Returns 0, or:
 *   -EALREADY      a server already runs in this process;
 *   -EADDRINUSE    another process serves socket_path;
 *   -EEXIST        socket_path exists and is not a socket (left alone);
 *   -ENAMETOOLONG  socket_path does not fit a sockaddr_un;
 *   -EINVAL        NULL arguments;
 *   other -errno   from mkdir, socket, bind, listen, pthread_create.
 */
int tel_server_start(const char *socket_path, const char *version);

/* Stops the thread, closes every connection and removes the socket file
 * (not the directories).  No-op when no server runs. */
void tel_server_stop(void);

/* Connections refused by the peer check since the process started; any
 * thread. */
uint64_t tel_server_peers_refused(void);

/* ---- the client ---- */

/*
 * Connects to socket_path, reads the hello, sends cmd (a request as above,
 * at most TEL_MAX_REQUEST_LEN bytes), and writes the reply, NUL-terminated,
 * into out (cap bytes; TEL_MAX_OUTPUT_LEN + 1 always suffices).  Waits at
 * most 5 s for each packet.  Blocking: never call it on the dataplane.
 * Returns the reply's length, or:
 *   -EINVAL     NULL arguments, empty or too long cmd, cap == 0;
 *   -EMSGSIZE   the reply did not fit in out (out holds its start);
 *   -EBUSY      the server closed the connection before its hello: it
 *               serves TEL_MAX_CLIENTS already (retry later);
 *   -EPROTO     no valid hello (not a telemetry v2 socket);
 *   -ETIMEDOUT  no answer in time;
 *   -ENOENT, -ECONNREFUSED, other -errno from socket/connect/send/recv.
 */
int tel_query(const char *socket_path, const char *cmd, char *out, size_t cap);

#endif /* SLUICE_DATAPLANE_TELEMETRY_H */
