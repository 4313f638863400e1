/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The (D)FOTA engine behind AT+QFOTADL: FILE reception, network download pacing, package
 * check, update progress, the reboots around them, the --hangup-at/--silent faults, the field
 * behaviours (README.md) and the replay of a --trace in place of all that. */
#pragma once

#include "sim-modem.h"
#include "sim-syntax.h"

SimFota *sim_fota_new(SimModem *modem);
void sim_fota_free(SimFota *fota);

/* A download or update is under way (a second AT+QFOTADL= gets ERROR). */
gboolean sim_fota_busy(const SimFota *fota);
/* Between START and END: the flash is being written. */
gboolean sim_fota_updating(const SimFota *fota);
/* Called once the OK to AT+QFOTADL= is queued. Takes the request. */
void sim_fota_start(SimFota *fota, SimFotadlRequest *request);
/* FILE mode: the port carries package bytes, not AT commands. */
gboolean sim_fota_wants_raw(const SimFota *fota);
/* Consumes at most the bytes still expected; returns how many it took. */
gsize sim_fota_feed_raw(SimFota *fota, const guint8 *data, gsize len);
/* --file-hold: FILE bytes wait in the kernel (the host blocks) until release_hold(). */
gboolean sim_fota_holding(const SimFota *fota);
void sim_fota_release_hold(SimFota *fota);
/* An outside reboot (AT+CFUN=1,1): whatever was going on is lost. */
void sim_fota_abort(SimFota *fota);
/* The modem speaks again after a reboot (boot URCs sent) or a vanish: a mode-0 update, an
 * update interrupted by its reboot or a trace continues here. */
void sim_fota_booted(SimFota *fota);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SimFota, sim_fota_free)
