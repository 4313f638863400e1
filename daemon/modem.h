/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "at-channel.h"
#include "at-parse.h"
#include "config.h"

/* The modem: follows its tty with ModemFinder, opens it (baud and flow
 * control from the config) into an AtChannel, lets the boot URCs settle and
 * identifies the modem (ATE0, ATI, AT+CGSN, AT+QFOTADL=?) after every
 * (re)open. When the tty goes away the channel is dropped and the modem
 * waits for the finder's "port-appeared"; nothing polls.
 *
 * Signals:
 *   "ready" ()                 identified after a (re)open; modem_get_info() is set
 *   "lost"  ()                 the port went away (or the modem rebooted under
 *                              an open UART: "RDY"); the info is kept, stale
 *   "urc"   (const char *line) every URC of the current channel
 */

#define FOTA_TYPE_MODEM (modem_get_type())
G_DECLARE_FINAL_TYPE(Modem, modem, FOTA, MODEM, GObject)

#define MODEM_ERROR (modem_error_quark())
GQuark modem_error_quark(void);
typedef enum {
	MODEM_ERROR_ABSENT,   /* no port */
	MODEM_ERROR_IDENTIFY, /* the port is there but the modem does not answer sensibly */
} ModemError;

typedef struct {
	char *manufacturer;
	char *model;
	char *revision;
	char *imei;
	char *port;          /* the tty in use */
	char *port_identity; /* for the job record: path or usb:<vid>:<pid>:<devpath> */
	SerialFlow flow;
	FotaUpgradeKind kind;
	char *qfotadl_ranges; /* the answer to AT+QFOTADL=? after the colon; NULL if none */
	gboolean ranges_valid;
	AtQfotadlRanges ranges;
} ModemInfo;

void modem_info_free(ModemInfo *info);
ModemInfo *modem_info_copy(const ModemInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ModemInfo, modem_info_free)

/* @config must outlive the modem. */
Modem *modem_new(const FotadConfig *config);
/* Looks for the port now and follows it from then on. */
void modem_start(Modem *self);

/* The open channel, or NULL while the port is absent. Borrowed. */
AtChannel *modem_get_channel(Modem *self);
/* The last identification, or NULL when there was none yet. Borrowed:
 * replaced on the next identification. */
const ModemInfo *modem_get_info(Modem *self);
/* TRUE between "ready" and "lost". */
gboolean modem_is_ready(Modem *self);

/* Reads the identity again now (ATI, AT+CGSN, AT+QFOTADL=?), e.g. for
 * GetModemInfo; on success the cached info is replaced too. */
void modem_identify(Modem *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                    gpointer user_data);
ModemInfo *modem_identify_finish(Modem *self, GAsyncResult *result, GError **error);
