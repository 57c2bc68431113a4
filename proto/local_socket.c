/*
 * Owner-only local sockets: see local_socket.h for the rules.
 *
 * Happy path: lsock_prepare_dir creates <dir> 0700 (or narrows our own
 * <dir> to 0700), lsock_bind_listen binds, chmods 0600 and listens, and
 * every accepted connection passes lsock_peer_allowed before its first
 * byte is read.  Failure modes: a directory we do not own or that is
 * sticky is left as it is (the peer check is then the only guard besides
 * the socket's mode); bind() creates the file with the umask's mode until
 * chmod() runs, which the 0700 directory and the peer check cover.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/local_socket.h"

int lsock_prepare_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;
	if (strlen(path) >= sizeof(dir))
		return -ENAMETOOLONG;
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0; /* the working directory, or "/" */
	*slash = '\0';
	/* mkdir -p: parents 0755, the socket's own directory 0700; bounded
	 * by the path's length */
	for (char *p = dir + 1;; p++) {
		bool last = *p == '\0';
		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (mkdir(dir, last ? LSOCK_DIR_MODE : 0755) < 0 &&
		    errno != EEXIST)
			return -errno;
		if (last)
			break;
		*p = '/';
	}
	if (stat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_uid == geteuid() && !(st.st_mode & S_ISVTX) &&
	    (st.st_mode & 077) && chmod(dir, LSOCK_DIR_MODE) < 0)
		return -errno;
	return 0;
}

int lsock_bind_listen(int fd, const struct sockaddr_un *a, int backlog)
{
	int rc;
	if (bind(fd, (const struct sockaddr *)a, sizeof(*a)) < 0)
		return -errno;
	if (chmod(a->sun_path, LSOCK_FILE_MODE) < 0 ||
	    listen(fd, backlog) < 0) {
		rc = -errno;
		unlink(a->sun_path);
		return rc;
	}
	return 0;
}

int lsock_peer_allowed(int fd, uid_t *uid_out)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return -errno;
	if (len != sizeof(cr))
		return -EPROTO;
	if (uid_out)
		*uid_out = cr.uid;
	return cr.uid == geteuid() || cr.uid == 0;
}
