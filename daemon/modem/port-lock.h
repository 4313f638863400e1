/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* One daemon per modem. An advisory lock (flock) on a file named after the
 * port's identity (the configured path, or usb:<vid>:<pid>:<devpath>),
 * taken before the tty is opened and held while the daemon follows that
 * modem: across its reboots, when the tty comes back under another name,
 * and against root, which TIOCEXCL does not stop. */

#define PORT_LOCK_ERROR (port_lock_error_quark())
GQuark port_lock_error_quark(void);
typedef enum {
	PORT_LOCK_ERROR_BUSY, /* another process holds it */
	PORT_LOCK_ERROR_FILE, /* the lock file cannot be created */
} PortLockError;

typedef struct _PortLock PortLock;

/* @dir must exist. The file is <dir>/quectel-fotad.<sha256 of identity>.lock
 * and holds the identity and our pid, for people.
 * Returns: (transfer full): free with port_lock_release() */
PortLock *port_lock_take(const char *dir, const char *identity, GError **error);
void port_lock_release(PortLock *lock);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PortLock, port_lock_release)

/* Returns: (transfer none) */
const char *port_lock_get_identity(const PortLock *lock);
