/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

/* What the neighbour clients make of a failed D-Bus call. */

/* TRUE when the peer is not on the bus (ServiceUnknown, NameHasNoOwner). */
gboolean bus_error_is_absent(const GError *error);

/* "<message> (<remote error name>)", or just the message for local errors.
 * Returns: (transfer full) */
char *bus_error_describe(const GError *error);
