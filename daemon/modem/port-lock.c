/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "port-lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

/* G_DEFINE_QUARK stringifies its first argument: keep it unformatted. */
/* clang-format off */
G_DEFINE_QUARK(quectel-fotad-port-lock-error-quark, port_lock_error)
/* clang-format on */

struct _PortLock {
	int fd;
	char *identity;
};

static char *
lock_path(const char *dir, const char *identity)
{
	/* a hash: identities hold '/' and ':' and may be long */
	g_autofree char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, identity, -1);

	return g_strdup_printf("%s/quectel-fotad.%.16s.lock", dir, sum);
}

PortLock *
port_lock_take(const char *dir, const char *identity, GError **error)
{
	g_autofree char *path = lock_path(dir, identity);
	g_autofree char *text = NULL;
	PortLock *lock;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0) {
		g_set_error(error, PORT_LOCK_ERROR, PORT_LOCK_ERROR_FILE,
		            "cannot create the port lock %s: %s", path, g_strerror(errno));
		return NULL;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;

		close(fd);
		g_set_error(error, PORT_LOCK_ERROR,
		            err == EWOULDBLOCK ? PORT_LOCK_ERROR_BUSY : PORT_LOCK_ERROR_FILE,
		            "%s is in use by another quectel-fotad (lock %s: %s)", identity, path,
		            g_strerror(err));
		return NULL;
	}
	text = g_strdup_printf("%s %d\n", identity, (int)getpid());
	if (ftruncate(fd, 0) < 0 || write(fd, text, strlen(text)) < 0)
		g_debug("port lock %s: cannot note who holds it: %s", path, g_strerror(errno));
	lock = g_new0(PortLock, 1);
	lock->fd = fd;
	lock->identity = g_strdup(identity);
	return lock;
}

void
port_lock_release(PortLock *lock)
{
	if (lock == NULL)
		return;
	close(lock->fd); /* drops the flock */
	g_free(lock->identity);
	g_free(lock);
}

const char *
port_lock_get_identity(const PortLock *lock)
{
	return lock->identity;
}
