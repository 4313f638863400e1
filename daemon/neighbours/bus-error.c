/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-error.h"

gboolean
bus_error_is_absent(const GError *error)
{
	return g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
	       g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER);
}

char *
bus_error_describe(const GError *error)
{
	g_autoptr(GError) copy = g_error_copy(error);
	g_autofree char *remote = g_dbus_error_get_remote_error(copy);

	g_dbus_error_strip_remote_error(copy);
	if (remote == NULL)
		return g_strdup(copy->message);
	return g_strdup_printf("%s (%s)", copy->message, remote);
}
