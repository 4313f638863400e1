/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

/* Where the modem's AT tty is, now and after it comes back. Either a
 * configured path (a plain tty or a /dev/serial/by-id symlink, watched with a
 * GFileMonitor on its directory) or automatic discovery with libudev (USB
 * vendor 2c7c, a known product, the AT interface number), followed with a
 * udev monitor. No polling. */

#define MODEM_TYPE_FINDER (modem_finder_get_type())
G_DECLARE_FINAL_TYPE(ModemFinder, modem_finder, MODEM, FINDER, GObject)

typedef struct {
	guint16 vendor;
	guint16 product;
} ModemUsbId;

typedef struct {
	const char *port;        /* configured path, or NULL for discovery */
	const ModemUsbId *ids;   /* discovery: known modems */
	guint n_ids;
	gint at_interface;       /* discovery: bInterfaceNumber of the AT port */
} ModemFinderConfig;

ModemFinder *modem_finder_new(const ModemFinderConfig *config);

/* The tty path now (resolved through a symlink), or NULL when absent.
 * @identity (optional) receives a stable name for the job record: the
 * configured path, or "usb:<vid>:<pid>:<devpath>". */
char *modem_finder_lookup(ModemFinder *self, char **identity);

/* Signals:
 *   "port-appeared" (const char *path)  the tty exists (again)
 *   "port-vanished" ()                  it went away
 */
