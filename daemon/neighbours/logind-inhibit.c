/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "logind-inhibit.h"

#include "bus-error.h"

#include <gio/gunixfdlist.h>
#include <unistd.h>

#define LOGIND_NAME  "org.freedesktop.login1"
#define LOGIND_PATH  "/org/freedesktop/login1"
#define LOGIND_IFACE "org.freedesktop.login1.Manager"

/* G_DEFINE_QUARK stringifies its first argument: keep it unformatted. */
/* clang-format off */
G_DEFINE_QUARK(quectel-fotad-logind-inhibit-error-quark, logind_inhibit_error)
/* clang-format on */

struct _LogindInhibitor {
	int fd;
	char *what;
	char *mode;
};

typedef struct {
	char *what;
	char *mode;
} InhibitRequest;

static void
inhibit_request_free(InhibitRequest *request)
{
	g_free(request->what);
	g_free(request->mode);
	g_free(request);
}

static GError *
call_error(const GError *error)
{
	g_autofree char *text = bus_error_describe(error);

	return g_error_new(LOGIND_INHIBIT_ERROR,
	                   bus_error_is_absent(error) ? LOGIND_INHIBIT_ERROR_UNAVAILABLE
	                                              : LOGIND_INHIBIT_ERROR_CALL,
	                   "logind Inhibit failed: %s", text);
}

/* The descriptor the reply's handle names, or -1. */
static int
steal_reply_fd(GVariant *reply, GUnixFDList *fds)
{
	gint32 handle;

	g_variant_get(reply, "(h)", &handle);
	if (fds == NULL || handle < 0 || handle >= g_unix_fd_list_get_length(fds))
		return -1;
	return g_unix_fd_list_get(fds, handle, NULL);
}

static void
on_inhibit_reply(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GUnixFDList) fds = NULL;
	g_autoptr(GVariant) reply = g_dbus_connection_call_with_unix_fd_list_finish(
	        G_DBUS_CONNECTION(source), &fds, result, &error);
	const InhibitRequest *request = g_task_get_task_data(task);
	LogindInhibitor *inhibitor;
	int fd;

	if (reply == NULL) {
		g_task_return_error(task, call_error(error));
		return;
	}
	fd = steal_reply_fd(reply, fds);
	if (fd < 0) {
		g_task_return_new_error(task, LOGIND_INHIBIT_ERROR, LOGIND_INHIBIT_ERROR_BAD_REPLY,
		                        "logind Inhibit(%s, %s) replied without a file descriptor",
		                        request->what, request->mode);
		return;
	}
	inhibitor = g_new0(LogindInhibitor, 1);
	inhibitor->fd = fd;
	inhibitor->what = g_strdup(request->what);
	inhibitor->mode = g_strdup(request->mode);
	g_task_return_pointer(task, inhibitor, (GDestroyNotify)logind_inhibitor_free);
}

void
logind_inhibit(GDBusConnection *bus, const char *what, const char *who, const char *why,
               const char *mode, GCancellable *cancellable, GAsyncReadyCallback callback,
               gpointer user_data)
{
	GTask *task;
	InhibitRequest *request;

	g_return_if_fail(G_IS_DBUS_CONNECTION(bus));
	g_return_if_fail(what != NULL && who != NULL && why != NULL && mode != NULL);
	task = g_task_new(NULL, cancellable, callback, user_data);
	g_task_set_source_tag(task, logind_inhibit);
	request = g_new0(InhibitRequest, 1);
	request->what = g_strdup(what);
	request->mode = g_strdup(mode);
	g_task_set_task_data(task, request, (GDestroyNotify)inhibit_request_free);
	g_dbus_connection_call_with_unix_fd_list(
	        bus, LOGIND_NAME, LOGIND_PATH, LOGIND_IFACE, "Inhibit",
	        g_variant_new("(ssss)", what, who, why, mode), G_VARIANT_TYPE("(h)"),
	        G_DBUS_CALL_FLAGS_NONE, LOGIND_INHIBIT_CALL_TIMEOUT_MS, NULL, cancellable,
	        on_inhibit_reply, task);
}

LogindInhibitor *
logind_inhibit_finish(GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

const char *
logind_inhibitor_get_what(const LogindInhibitor *inhibitor)
{
	return inhibitor->what;
}

const char *
logind_inhibitor_get_mode(const LogindInhibitor *inhibitor)
{
	return inhibitor->mode;
}

void
logind_inhibitor_free(LogindInhibitor *inhibitor)
{
	if (inhibitor == NULL)
		return;
	close(inhibitor->fd);
	g_free(inhibitor->what);
	g_free(inhibitor->mode);
	g_free(inhibitor);
}
