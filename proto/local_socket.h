/*
 * Local (Unix domain) sockets of sluice: the control socket (sluiced
 * serves it, sluice-control connects) and the telemetry socket.  They
 * carry administration (topic create/delete, counters), so only the
 * broker's own user and root may use them:
 *
 *   - the socket file is mode 0600, in a directory of mode 0700 (the
 *     kernel checks both on connect());
 *   - each side checks the other's credentials (SO_PEERCRED) and refuses
 *     a peer whose uid is neither the process's effective uid nor 0, which
 *     also covers the moment between bind() and chmod().
 *
 * The functions are thread-safe (no shared state) and block only on the
 * file system.
 */
#ifndef SLUICE_PROTO_LOCAL_SOCKET_H
#define SLUICE_PROTO_LOCAL_SOCKET_H

#include <sys/types.h>
#include <sys/un.h>

#define LSOCK_FILE_MODE 0600
#define LSOCK_DIR_MODE 0700

/*
 * Make the directory part of path ready to hold a socket: missing
 * directories are created (0755 for the parents, LSOCK_DIR_MODE for the
 * last one); an existing last directory owned by the effective uid that
 * grants group or others any access is narrowed to LSOCK_DIR_MODE, unless
 * it is sticky (a shared directory such as /tmp: left as it is; the
 * socket's own mode and the peer check still hold).  A path without a
 * directory part (relative to the working directory) is left as it is.
 * Returns 0, -ENAMETOOLONG, or -errno of mkdir / stat / chmod.
 */
int lsock_prepare_dir(const char *path);

/*
 * bind() fd to a, chmod the socket file to LSOCK_FILE_MODE, listen().
 * On error nothing is left at a->sun_path that this call created.
 * Returns 0 or -errno.
 */
int lsock_bind_listen(int fd, const struct sockaddr_un *a, int backlog);

/*
 * May the peer of the connected socket fd use it?  1 when its uid is the
 * process's effective uid or 0 (root), 0 when not, -errno when the
 * credentials cannot be read.  *uid_out (may be NULL) gets the peer's uid.
 */
int lsock_peer_allowed(int fd, uid_t *uid_out);

#endif
