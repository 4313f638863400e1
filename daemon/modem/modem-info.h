/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "at-parse.h"
#include "serial-port.h"

/* Who the modem is, as its identification read it, and the error domain of
 * the modem layer: shared by FotaModem (modem.c) and the identification
 * sequence it runs (modem-identify.c), so that neither needs the other. */

#define MODEM_ERROR (modem_error_quark())
GQuark modem_error_quark(void);
typedef enum {
	MODEM_ERROR_ABSENT,     /* no port */
	MODEM_ERROR_IDENTIFY,   /* the port is there but the modem does not answer sensibly */
	MODEM_ERROR_NOT_HOLDER, /* a command from someone not holding the lease */
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
/* Returns: (transfer full) */
ModemInfo *modem_info_copy(const ModemInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ModemInfo, modem_info_free)
