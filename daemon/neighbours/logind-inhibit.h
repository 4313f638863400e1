/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

/* A logind inhibitor lock (org.freedesktop.login1.Manager.Inhibit): held
 * while its file descriptor is open. */

#define LOGIND_INHIBIT_CALL_TIMEOUT_MS 10000

#define LOGIND_INHIBIT_ERROR (logind_inhibit_error_quark())
GQuark logind_inhibit_error_quark(void);

typedef enum {
	LOGIND_INHIBIT_ERROR_UNAVAILABLE, /* no logind on the bus: log it once */
	LOGIND_INHIBIT_ERROR_CALL,        /* logind refused; the message says why */
	LOGIND_INHIBIT_ERROR_BAD_REPLY,   /* no file descriptor in the reply */
} LogindInhibitError;

typedef struct _LogindInhibitor LogindInhibitor;

/* Inhibit(@what, @who, @why, @mode) on @bus. @what: "shutdown:sleep", ...;
 * @mode: "block" or "delay". */
void logind_inhibit(GDBusConnection *bus, const char *what, const char *who, const char *why,
                    const char *mode, GCancellable *cancellable, GAsyncReadyCallback callback,
                    gpointer user_data);
/* Returns: (transfer full): free with logind_inhibitor_free() */
LogindInhibitor *logind_inhibit_finish(GAsyncResult *result, GError **error);

/* Returns: (transfer none) */
const char *logind_inhibitor_get_what(const LogindInhibitor *inhibitor);
/* Returns: (transfer none) */
const char *logind_inhibitor_get_mode(const LogindInhibitor *inhibitor);

/* Closes the descriptor: logind drops the lock. */
void logind_inhibitor_free(LogindInhibitor *inhibitor);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(LogindInhibitor, logind_inhibitor_free)
