/*
 * telemetry: the command registry and the server of DPDK's telemetry
 * protocol v2 (telemetry.h has the wire format).
 *
 * Happy path: tel_server_start binds the socket and starts one thread; the
 * thread polls a wake-up eventfd, the listening socket and at most
 * TEL_MAX_CLIENTS connections; a new connection gets the hello; each
 * readable connection has one request read (non-blocking), answered by
 * running its command's callback into the thread's one struct tel_data and
 * sending the JSON, non-blocking.
 *
 * Failure modes, each answered without crashing and without blocking the
 * thread: a connection beyond TEL_MAX_CLIENTS is closed at once; an empty
 * or oversized request (SOCK_SEQPACKET keeps message boundaries, MSG_TRUNC
 * gives the real size) closes the connection; a request that names no
 * command, or a callback that fails, is answered {"<cmd>":null}; a client
 * that does not read its replies (send would block) is closed; a reply
 * larger than TEL_MAX_OUTPUT_LEN loses whole entries (data.c).
 *
 * Access (proto/local_socket.h): the socket is 0600 in a 0700 directory,
 * and a connection whose peer is neither our uid nor root is closed before
 * the hello, counted in peers_refused (tel_server_peers_refused).
 *
 * The registry is a sorted array under a mutex; callbacks run without the
 * mutex held (commands are never removed, so a looked-up entry stays valid).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <assert.h>

#include "dataplane/telemetry/telemetry.h"
#include "dataplane/telemetry/telemetry_pvt.h"
#include "proto/local_socket.h"

/* ---- the registry ---- */

struct tel_cmd {
	char path[TEL_MAX_CMD_LEN];
	char help[TEL_MAX_HELP_LEN];
	tel_cb cb;      /* one of cb, arg_cb */
	tel_arg_cb arg_cb;
	void *arg;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tel_cmd cmds[TEL_MAX_CMDS]; /* sorted by path; guarded */
static unsigned int n_cmds;               /* guarded by reg_lock */
static char version_str[TEL_MAX_STRING_LEN] = "sluice"; /* guarded */
static pthread_once_t builtins_once = PTHREAD_ONCE_INIT;

static int cmd_list(const char *cmd, const char *params, struct tel_data *d)
{
	int rc = tel_data_start_array(d, TEL_STRING_VAL);

	pthread_mutex_lock(&reg_lock);
	for (unsigned int i = 0; i < n_cmds && rc >= 0; i++)
		rc = tel_data_add_array_string(d, cmds[i].path);
	pthread_mutex_unlock(&reg_lock);
	return rc;
}

static int cmd_info(const char *cmd, const char *params, struct tel_data *d)
{
	char v[TEL_MAX_STRING_LEN];

	pthread_mutex_lock(&reg_lock);
	memcpy(v, version_str, sizeof(v));
	pthread_mutex_unlock(&reg_lock);
	tel_data_start_dict(d);
	tel_data_add_dict_string(d, "version", v);
	tel_data_add_dict_int(d, "pid", getpid());
	tel_data_add_dict_int(d, "max_output_len", TEL_MAX_OUTPUT_LEN);
	return 0;
}

/* Index of path in cmds, or -1.  Caller holds reg_lock. */
static int find_locked(const char *path)
{
	for (unsigned int i = 0; i < n_cmds; i++)
		if (strcmp(cmds[i].path, path) == 0)
			return (int)i;
	return -1;
}

static int cmd_help(const char *cmd, const char *params, struct tel_data *d)
{
	char help[TEL_MAX_HELP_LEN];
	int i;

	if (params == NULL || !tel_valid_name(params))
		return -1;
	pthread_mutex_lock(&reg_lock);
	i = find_locked(params);
	if (i >= 0)
		memcpy(help, cmds[i].help, sizeof(help));
	pthread_mutex_unlock(&reg_lock);
	if (i < 0)
		return -1;
	tel_data_start_dict(d);
	return tel_data_add_dict_string(d, params, help);
}

static int register_any(const char *path, tel_cb cb, tel_arg_cb arg_cb,
			void *arg, const char *help);

static void register_builtins(void)
{
	int rc = 0;

	rc |= register_any("/", cmd_list, NULL, NULL,
			   "Returns list of available commands, Takes no parameters");
	rc |= register_any("/info", cmd_info, NULL, NULL,
			   "Returns DPDK Telemetry information. Takes no parameters");
	rc |= register_any("/help", cmd_help, NULL, NULL,
			   "Returns help text for a command. Parameters: string command");
	assert(rc == 0);
	(void)rc;
}

static bool valid_path(const char *path)
{
	return path != NULL && path[0] == '/' &&
	       strlen(path) < TEL_MAX_CMD_LEN &&
	       (path[1] == '\0' || tel_valid_name(path));
}

static int register_any(const char *path, tel_cb cb, tel_arg_cb arg_cb,
			void *arg, const char *help)
{
	unsigned int i;
	int rc = 0;

	if (!valid_path(path) || (cb == NULL && arg_cb == NULL))
		return -EINVAL;
	if (help == NULL)
		help = "";
	if (strlen(help) >= TEL_MAX_HELP_LEN)
		return -EINVAL;

	pthread_mutex_lock(&reg_lock);
	if (find_locked(path) >= 0) {
		rc = -EEXIST;
		goto out;
	}
	if (n_cmds >= TEL_MAX_CMDS) {
		rc = -ENOSPC;
		goto out;
	}
	for (i = 0; i < n_cmds && strcmp(cmds[i].path, path) < 0; i++)
		;
	memmove(&cmds[i + 1], &cmds[i], (n_cmds - i) * sizeof(cmds[0]));
	memset(&cmds[i], 0, sizeof(cmds[i]));
	snprintf(cmds[i].path, sizeof(cmds[i].path), "%s", path);
	snprintf(cmds[i].help, sizeof(cmds[i].help), "%s", help);
	cmds[i].cb = cb;
	cmds[i].arg_cb = arg_cb;
	cmds[i].arg = arg;
	n_cmds++;
out:
	pthread_mutex_unlock(&reg_lock);
	return rc;
}

int tel_register_cmd(const char *path, tel_cb cb, const char *help)
{
	pthread_once(&builtins_once, register_builtins);
	if (cb == NULL)
		return -EINVAL;
	return register_any(path, cb, NULL, NULL, help);
}

int tel_register_cmd_arg(const char *path, tel_arg_cb cb, void *arg,
			 const char *help)
{
	pthread_once(&builtins_once, register_builtins);
	if (cb == NULL)
		return -EINVAL;
	return register_any(path, NULL, cb, arg, help);
}

int tel_run_cb(const char *cmd, const char *params, struct tel_data *d)
{
	struct tel_cmd c;
	int i;

	if (cmd == NULL || d == NULL)
		return -EINVAL;
	pthread_once(&builtins_once, register_builtins);
	d->type = TEL_NULL;
	d->data_len = 0;
	pthread_mutex_lock(&reg_lock);
	i = find_locked(cmd);
	if (i >= 0)
		c = cmds[i];
	pthread_mutex_unlock(&reg_lock);
	if (i < 0)
		return -ENOENT;
	return c.cb != NULL ? c.cb(cmd, params, d)
			    : c.arg_cb(cmd, params, c.arg, d);
}

int tel_for_each_cmd(int (*fn)(const char *path, const char *help, void *arg),
		     void *arg)
{
	struct tel_cmd c;
	int rc = 0;

	pthread_once(&builtins_once, register_builtins);
	/* Copy each entry out so that fn runs without the lock. */
	for (unsigned int i = 0; rc == 0; i++) {
		bool have;

		pthread_mutex_lock(&reg_lock);
		have = i < n_cmds;
		if (have)
			c = cmds[i];
		pthread_mutex_unlock(&reg_lock);
		if (!have)
			break;
		rc = fn(c.path, c.help, arg);
	}
	return rc;
}

/* Answers one request with scratch as the callback's data. */
static int handle_request(const char *request, char *out, size_t cap,
			  struct tel_data *scratch)
{
	char buf[TEL_MAX_REQUEST_LEN + 1];
	const char *params = NULL;
	size_t n;
	char *comma;
	int rc, len;

	if (request == NULL || out == NULL || cap == 0)
		return -EINVAL;
	n = strlen(request);
	if (n > TEL_MAX_REQUEST_LEN)
		return -EINVAL;
	memcpy(buf, request, n + 1);
	/* A line typed into socat or nc: the newline is not the command's. */
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	comma = strchr(buf, ',');
	if (comma != NULL) {
		*comma = '\0';
		if (comma[1] != '\0')
			params = comma + 1;
	}

	rc = buf[0] == '/' ? tel_run_cb(buf, params, scratch) : -ENOENT;
	if (rc == -ENOENT) /* unknown: DPDK's reply is null data */
		rc = 0;
	if (rc < 0)
		tel_data_release(scratch); /* null */
	len = tel_data_to_json(scratch, buf, out, cap, NULL);
	tel_data_release(scratch);
	return len;
}

int tel_handle_request(const char *request, char *out, size_t cap)
{
	struct tel_data *scratch = tel_data_alloc();
	int rc;

	if (scratch == NULL)
		return -ENOMEM;
	rc = handle_request(request, out, cap, scratch);
	tel_data_free(scratch);
	return rc;
}

/* ---- the server ---- */

static struct {
	bool running;
	pthread_t thread;
	int listen_fd;
	int wake_fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev; /* of the socket file we bound: stop removes only it */
	ino_t ino;
	char hello[TEL_MAX_STRING_LEN + 96];
	size_t hello_len;
	int clients[TEL_MAX_CLIENTS]; /* -1: free */
	struct tel_data scratch;      /* the telemetry thread's reply */
	char request[TEL_MAX_REQUEST_LEN + 1];
	char reply[TEL_MAX_OUTPUT_LEN];
} srv = { .listen_fd = -1, .wake_fd = -1 };

/* connections refused by the peer check: written by the telemetry thread,
 * read by any (relaxed: a counter) */
static _Atomic uint64_t peers_refused;

uint64_t tel_server_peers_refused(void)
{
	return atomic_load_explicit(&peers_refused, memory_order_relaxed);
}

static void client_close(int slot)
{
	close(srv.clients[slot]);
	srv.clients[slot] = -1;
}

static void accept_clients(void)
{
	/* Bounded: a listen backlog's worth per round. */
	for (int round = 0; round < 2 * TEL_MAX_CLIENTS; round++) {
		int fd = accept4(srv.listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		int slot = -1;

		if (fd < 0)
			return; /* EAGAIN, or a client that went away */
		if (lsock_peer_allowed(fd, NULL) != 1) {
			atomic_fetch_add_explicit(&peers_refused, 1,
						  memory_order_relaxed);
			close(fd);
			continue;
		}
		for (int i = 0; i < TEL_MAX_CLIENTS; i++)
			if (srv.clients[i] < 0) {
				slot = i;
				break;
			}
		if (slot < 0 || send(fd, srv.hello, srv.hello_len,
				     MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			close(fd);
			continue;
		}
		srv.clients[slot] = fd;
	}
}

static void serve_client(int slot)
{
	int fd = srv.clients[slot];
	ssize_t n = recv(fd, srv.request, TEL_MAX_REQUEST_LEN,
			 MSG_DONTWAIT | MSG_TRUNC);
	int len;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || n > TEL_MAX_REQUEST_LEN) {
		/* gone, an empty packet (indistinguishable), or oversized */
		client_close(slot);
		return;
	}
	srv.request[n] = '\0';
	len = handle_request(srv.request, srv.reply, sizeof(srv.reply),
			     &srv.scratch);
	/* a reply that could not be built closes the connection: the
	 * request came from a client, so no assertion here */
	if (len <= 0 || (size_t)len >= sizeof(srv.reply) ||
	    send(fd, srv.reply, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		client_close(slot);
}

static void *server_main(void *unused)
{
	struct pollfd pfd[2 + TEL_MAX_CLIENTS];
	int slot_of[2 + TEL_MAX_CLIENTS];

	for (;;) {
		nfds_t n = 0;

		pfd[n++] = (struct pollfd){ .fd = srv.wake_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = srv.listen_fd, .events = POLLIN };
		for (int i = 0; i < TEL_MAX_CLIENTS; i++) {
			if (srv.clients[i] < 0)
				continue;
			slot_of[n] = i;
			pfd[n++] = (struct pollfd){ .fd = srv.clients[i],
						    .events = POLLIN };
		}
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break; /* cannot happen with valid fds */
		}
		if (pfd[0].revents != 0)
			break;
		for (nfds_t i = 2; i < n; i++)
			if (pfd[i].revents != 0)
				serve_client(slot_of[i]);
		if (pfd[1].revents != 0)
			accept_clients();
	}
	return NULL;
}

/* 0 if path is free (absent, or a socket nobody listens on, now removed),
 * else -EADDRINUSE, -EEXIST or -errno. */
static int clear_stale(const struct sockaddr_un *addr)
{
	struct stat st;
	int fd, rc;

	if (lstat(addr->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	close(fd);
	if (rc == 0)
		return -EADDRINUSE;
	if (unlink(addr->sun_path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int tel_server_start(const char *socket_path, const char *version)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int rc;

	if (socket_path == NULL || version == NULL)
		return -EINVAL;
	if (srv.running)
		return -EALREADY;
	if (strlen(socket_path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	pthread_once(&builtins_once, register_builtins);
	memcpy(addr.sun_path, socket_path, strlen(socket_path) + 1);

	pthread_mutex_lock(&reg_lock);
	snprintf(version_str, sizeof(version_str), "%s", version);
	pthread_mutex_unlock(&reg_lock);
	{
		/* The hello: the version string escaped as JSON. */
		struct tel_data *v = tel_data_alloc();
		char vjson[TEL_MAX_STRING_LEN * 6 + 3];
		int vlen;

		if (v == NULL)
			return -ENOMEM;
		tel_data_string(v, version_str);
		vlen = tel_data_to_json(v, NULL, vjson, sizeof(vjson), NULL);
		tel_data_free(v);
		assert(vlen > 0);
		srv.hello_len = (size_t)snprintf(srv.hello, sizeof(srv.hello),
			"{\"version\":%s,\"pid\":%d,\"max_output_len\":%d}",
			vjson, (int)getpid(), TEL_MAX_OUTPUT_LEN);
		if (srv.hello_len >= sizeof(srv.hello))
			return -ENAMETOOLONG; /* version with many escapes */
	}

	rc = lsock_prepare_dir(socket_path);
	if (rc < 0)
		return rc;
	rc = clear_stale(&addr);
	if (rc < 0)
		return rc;

	srv.listen_fd = socket(AF_UNIX,
			       SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv.listen_fd < 0)
		return -errno;
	rc = lsock_bind_listen(srv.listen_fd, &addr, TEL_MAX_CLIENTS);
	if (rc < 0)
		goto close_listen;
	if (stat(socket_path, &st) < 0) {
		rc = -errno;
		goto unlink_socket;
	}
	srv.dev = st.st_dev;
	srv.ino = st.st_ino;
	srv.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (srv.wake_fd < 0) {
		rc = -errno;
		goto unlink_socket;
	}
	for (int i = 0; i < TEL_MAX_CLIENTS; i++)
		srv.clients[i] = -1;
	snprintf(srv.path, sizeof(srv.path), "%s", socket_path);
	rc = -pthread_create(&srv.thread, NULL, server_main, NULL);
	if (rc < 0)
		goto close_wake;
	srv.running = true;
	return 0;

close_wake:
	close(srv.wake_fd);
	srv.wake_fd = -1;
unlink_socket:
	unlink(socket_path);
close_listen:
	close(srv.listen_fd);
	srv.listen_fd = -1;
	return rc;
}

void tel_server_stop(void)
{
	uint64_t one = 1;
	struct stat st;

	if (!srv.running)
		return;
	if (write(srv.wake_fd, &one, sizeof(one)) != sizeof(one))
		assert(!"eventfd write cannot fail below its maximum");
	pthread_join(srv.thread, NULL);
	for (int i = 0; i < TEL_MAX_CLIENTS; i++)
		if (srv.clients[i] >= 0)
			client_close(i);
	/* Only our socket: another server may have replaced the file. */
	if (stat(srv.path, &st) == 0 && st.st_dev == srv.dev &&
	    st.st_ino == srv.ino)
		unlink(srv.path);
	close(srv.listen_fd);
	close(srv.wake_fd);
	srv.listen_fd = -1;
	srv.wake_fd = -1;
	srv.running = false;
}
