/*
 * tel_query: the smallest client of the telemetry protocol v2, for tests
 * and the CLI.  One connection per query: connect, read the hello, send
 * the request, read one reply.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "dataplane/telemetry/telemetry.h"

enum { QUERY_TIMEOUT_S = 5 };

static int recv_errno(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
}

int tel_query(const char *socket_path, const char *cmd, char *out, size_t cap)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = QUERY_TIMEOUT_S };
	char hello[1024];
	size_t cmd_len;
	ssize_t n;
	int fd, rc;

	if (socket_path == NULL || cmd == NULL || out == NULL || cap == 0)
		return -EINVAL;
	cmd_len = strlen(cmd);
	if (cmd_len == 0 || cmd_len > TEL_MAX_REQUEST_LEN)
		return -EINVAL;
	if (strlen(socket_path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, socket_path, strlen(socket_path) + 1);
	out[0] = '\0';

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		rc = -errno;
		goto close_fd;
	}

	n = recv(fd, hello, sizeof(hello) - 1, MSG_TRUNC);
	if (n < 0) {
		rc = recv_errno();
		goto close_fd;
	}
	if (n == 0) {
		rc = -EBUSY; /* closed without a hello: the server is full */
		goto close_fd;
	}
	if ((size_t)n >= sizeof(hello) ||
	    strncmp(hello, "{\"version\":", 11) != 0) {
		rc = -EPROTO;
		goto close_fd;
	}

	if (send(fd, cmd, cmd_len, MSG_NOSIGNAL) < 0) {
		rc = -errno;
		goto close_fd;
	}
	n = recv(fd, out, cap - 1, MSG_TRUNC);
	if (n < 0) {
		rc = recv_errno();
		out[0] = '\0';
		goto close_fd;
	}
	if (n == 0) {
		rc = -ECONNRESET; /* the server closed: request refused */
		goto close_fd;
	}
	if ((size_t)n > cap - 1) {
		out[cap - 1] = '\0';
		rc = -EMSGSIZE;
		goto close_fd;
	}
	out[n] = '\0';
	rc = (int)n;

close_fd:
	close(fd);
	return rc;
}
