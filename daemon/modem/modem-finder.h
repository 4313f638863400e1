/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

/* Where the modem's AT tty is, now and after it comes back. Either a
 * configured path (a plain tty or a /dev/serial/by-id symlink, watched with a
 * GFileMonitor on its directory) or automatic discovery with libudev (USB
 * vendor 2c7c, a known product, the AT interface number), followed with a
 * udev monitor. No polling. */

#define FOTA_TYPE_MODEM_FINDER (modem_finder_get_type())
G_DECLARE_FINAL_TYPE(FotaModemFinder, modem_finder, FOTA, MODEM_FINDER, GObject)

typedef struct {
	guint16 vendor;
	guint16 product;
} ModemUsbId;

/* The AT port of the EC200T/EC200S/EG912Y/EC200A: USB interface 3. Their
 * composition is If#0-1 cdc_ether (ECM/RNDIS), If#2 DIAG, If#3 AT, If#4
 * modem/PPP (usb-devices listings in the Linux option driver's commits adding
 * 0x6002, 0x6001, 0x6005; the EC200S-CN author confirmed If#3/ttyUSB1 is the
 * AT port). modem-finder.c has the details. */
#define MODEM_FINDER_DEFAULT_AT_INTERFACE 3

typedef struct {
	const char *port;      /* configured path, or NULL (or "") for discovery */
	const ModemUsbId *ids; /* discovery: known modems; n_ids 0: the defaults */
	guint n_ids;
	gint at_interface; /* discovery: bInterfaceNumber of the AT port;
	                    * < 0: MODEM_FINDER_DEFAULT_AT_INTERFACE */
} ModemFinderConfig;

/* 2c7c:6026 EC200T, 2c7c:6002 EC200S, 2c7c:6001 EG912Y, 2c7c:6005 EC200A
 * Returns: (transfer none): a static array of *@n_ids */
const ModemUsbId *modem_finder_default_ids(guint *n_ids);

/* @config: (transfer none): copied
 * Returns: (transfer full) */
FotaModemFinder *modem_finder_new(const ModemFinderConfig *config);

/* The tty path now (resolved through a symlink), or NULL when absent.
 * @identity receives a stable name for the job record: the
 * configured path, or "usb:<vid>:<pid>:<devpath>" (vid/pid as 4 lower-case
 * hex digits, devpath of the USB device, e.g. /devices/.../usb1/1-4); NULL
 * when the port is absent. A configured path resolves when it is a character
 * device, or a symlink to any existing non-directory (tests, simulator).
 * With several matching modems the one with the lowest sysfs path wins.
 * @identity: (out) (optional) (transfer full)
 * Returns: (transfer full) */
char *modem_finder_lookup(FotaModemFinder *self, char **identity);

/* Signals (never for the state found at construction: call lookup first):
 *   "port-appeared" (const char *path)  the tty exists (again), or the
 *                                       configured link now points elsewhere
 *   "port-vanished" ()                  it went away (for a configured name
 *                                       deleted and re-created: vanished,
 *                                       then appeared)
 * Discovery sticks to the tty it reported until that one is removed; a
 * second matching modem is ignored meanwhile. Events are dispatched in the
 * thread-default main context of the caller of modem_finder_new(). */
