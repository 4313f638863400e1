/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "modem-finder.h"
#include "serial-port.h"

/* The daemon's settings: built-in defaults, then the config file (GKeyFile,
 * see HACKING.md and quectel-fotad.conf(5)), then the command line.
 *
 * Validation policy:
 *  - a value that does not parse or is out of range is an error naming the
 *    group, the key and the value ("[timeouts] urc-gap must be a number of
 *    seconds > 0, got 'soon'"); main.c exits with status 2;
 *  - unknown groups and keys only produce a warning, so that a config file
 *    written for a newer daemon still starts an older one;
 *  - an explicitly given config file must exist; the default one may be
 *    absent. */

#define FOTAD_CONFIG_ERROR (fotad_config_error_quark())
GQuark fotad_config_error_quark(void);
typedef enum {
	FOTAD_CONFIG_ERROR_READ,  /* the file cannot be read or is not a key file */
	FOTAD_CONFIG_ERROR_VALUE, /* a key has a bad value */
} FotadConfigError;

typedef enum {
	FOTAD_PORT_KIND_USB,  /* AT+QCFG="usbifc",2,2 turns on the modem's flow control */
	FOTAD_PORT_KIND_UART, /* AT+IFC=2,2 */
} FotadPortKind;

#define FOTAD_DEFAULT_CONFIG_FILE "/etc/quectel-fotad/quectel-fotad.conf"
#define FOTAD_DEFAULT_STATE_DIR   "/var/lib/quectel-fotad"
#define FOTAD_DEFAULT_LOCK_DIR    "/run/lock"
#define FOTAD_MAX_USB_IDS         16

/* All timeouts in milliseconds (the file has seconds with fractions). */
typedef struct {
	guint command_ms;
	guint first_urc_ms;
	guint urc_gap_ms;
	guint download_ms;
	guint update_ms;
	guint reboot_ms;
	guint boot_settle_ms;
	guint late_reply_grace_ms;
	guint file_idle_ms; /* how long the modem may still count bytes as a FILE package */
} FotadTimeouts;

typedef struct {
	char *port; /* NULL: discover with udev */
	guint baud;
	SerialFlow flow;
	FotadPortKind port_kind;
	guint paced_rate; /* bytes per second */
	ModemUsbId usb_ids[FOTAD_MAX_USB_IDS];
	guint n_usb_ids;
	gint at_interface; /* -1: modem-finder's default */

	FotadTimeouts timeouts;

	char *state_dir;
	char *boot_id_file; /* tests only; NULL: the kernel's boot id */
	char *lock_dir;     /* where the port's lock lives (one daemon per modem) */
} FotadConfig;

/* The defaults.
 * Returns: (transfer full): free with fotad_config_free() */
FotadConfig *fotad_config_new(void);
void fotad_config_free(FotadConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FotadConfig, fotad_config_free)

/* Applies the keys found in @data over the current values. */
gboolean fotad_config_load_data(FotadConfig *config, const char *data, gsize length,
                                GError **error);
/* @must_exist FALSE: a missing file is not an error (the default path). */
gboolean fotad_config_load_file(FotadConfig *config, const char *path, gboolean must_exist,
                                GError **error);

/* The FotaModemFinder view of the [modem] group.
 * @out: (out caller-allocates) (transfer none): points into @config, valid while
 *   it lives */
void fotad_config_get_finder_config(const FotadConfig *config, ModemFinderConfig *out);

/* Returns: (transfer none): "usb", "uart" */
const char *fotad_port_kind_to_string(FotadPortKind kind);
