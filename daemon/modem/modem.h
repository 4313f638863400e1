/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "at-channel.h"
#include "config.h"
#include "modem-info.h"

/* The modem, and the only way to its AT port. It follows the tty with
 * FotaModemFinder, opens it into a FotaAtChannel, lets the boot URCs settle and
 * identifies the modem after every (re)open.
 *
 * Port ownership: whoever sends commands or a package holds the port's
 * lease (modem_acquire()); one holder at a time, the others wait in order.
 * Whether anyone may use the port now is one state inside FotaModem (see
 * PortState in modem.c): the lease is granted only while the modem is known
 * to listen to AT commands, never while it may still count our bytes as a
 * FILE package (data mode, see modem_begin_data_mode()), while a reset is
 * due, nor while the modem's own boot probe runs; the holder's commands
 * wait for that probe too (a reboot under a job).
 *
 * Signals:
 *   "ready" ()                 identified after a (re)open; modem_get_info() is set
 *   "lost"  ()                 the port went away (or the modem rebooted under
 *                              an open UART: "RDY"); the info is kept, stale
 *   "urc"   (const char *line) every URC of the current channel
 */

#define FOTA_TYPE_MODEM (modem_get_type())
G_DECLARE_FINAL_TYPE(FotaModem, modem, FOTA, MODEM, GObject)

/* @config: (transfer none): must outlive the modem
 * Returns: (transfer full) */
FotaModem *modem_new(const FotadConfig *config);
/* Looks for the port now and follows it from then on. */
void modem_start(FotaModem *self);

/* Whether the daemon may keep the port open between jobs: the neighbours'
 * one call for it. FALSE closes it now (the lease must be free: no job
 * runs) and keeps it closed until TRUE opens it again, while the finder
 * still follows where the tty is: another program (ModemManager) uses the
 * modem meanwhile. A port reopened this way is probed at once, as at daemon
 * start. Wanted by default. */
void modem_set_port_wanted(FotaModem *self, gboolean wanted);
/* Where the tty is now, open or not (NULL before modem_start() or when
 * absent); @identity as modem_finder_lookup() gives it.
 * @identity: (out) (optional) (transfer full)
 * Returns: (transfer full) */
char *modem_locate_port(FotaModem *self, char **identity);

/* The last successful identification, or NULL when there was none yet.
 * Returns: (transfer none): replaced on the next successful one (a failed
 *   one keeps it) */
const ModemInfo *modem_get_info(FotaModem *self);
/* TRUE between "ready" and "lost". */
gboolean modem_is_ready(FotaModem *self);

/* What a Start may expect of the modem now. */
typedef enum {
	/* no port now, none open since the daemon started (a due reset or
	 * data mode counts as one), none left to another program */
	MODEM_OUTLOOK_NONE,
	/* the port is open and the modem answers, or will once its probe or
	 * reset is over, but who it is is not known yet: read it first
	 * (modem_query_info()) */
	MODEM_OUTLOOK_IDENTIFY,
	/* its identity is known, or cannot be read for a while (data mode,
	 * away rebooting, another program's port): the job checks it once it
	 * holds the port */
	MODEM_OUTLOOK_LATER,
} ModemOutlook;
ModemOutlook modem_outlook(FotaModem *self);

/* How long the port may rightly stay unusable to a holder: the modem
 * leaving FILE data mode (file-idle, waited again after each unanswered
 * "AT"), then a reboot (reboot) and its boot settle (boot-settle). A job
 * that waits longer for the port takes the modem for gone. Milliseconds. */
gint64 modem_port_wait_bound(FotaModem *self);

/* Why the port is not open, for messages: "no modem port found", or the
 * last open error ("cannot open /dev/ttyUSB2: Device or resource busy").
 * Returns: (transfer full) */
char *modem_describe_absence(FotaModem *self);

/* ---- the lease ---- */

/* Waits until @owner holds the port. With @fail_if_absent, fails with
 * MODEM_ERROR_ABSENT when there is no port (now, or lost while waiting; a
 * port closed in data mode or with a reset due is waited for); without it,
 * waits for the port to come back. */
void modem_acquire(FotaModem *self, gpointer owner, gboolean fail_if_absent,
                   GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
gboolean modem_acquire_finish(FotaModem *self, GAsyncResult *result, GError **error);
/* Gives the port back (no-op unless @owner holds it). */
void modem_release(FotaModem *self, gpointer owner);
gboolean modem_holds(FotaModem *self, gpointer owner);
/* Why a waiter waits, for its log line; NULL when the port is free.
 * Returns: (transfer none) */
const char *modem_busy_reason(FotaModem *self);

/* One command for the holder; while the modem's own boot probe runs (it
 * rebooted under the holder) it waits for the probe's end. */
void modem_command(FotaModem *self, gpointer owner, const char *command, GCancellable *cancellable,
                   GAsyncReadyCallback callback, gpointer user_data);
/* Returns: (transfer full): free with at_response_free() */
AtResponse *modem_command_finish(FotaModem *self, GAsyncResult *result, GError **error);

/* The modem counts what follows as package bytes from now on (the holder is
 * about to send AT+QFOTADL="FILE:..."). Until its FILEEND URC, or the port
 * has carried nothing of ours for file-idle-timeout, nothing else is sent:
 * after a release the next holder waits, then one "AT" must answer OK. A
 * reboot of the modem ends data mode too. Also called at start-up when the
 * job record says a package transfer was interrupted. */
void modem_begin_data_mode(FotaModem *self);

/* The modem was told to reset (AT+CFUN=1,1) and its port will go away:
 * nothing is sent to it until then, or until @left_ms have passed without
 * a reset (0 or less: no reset is due). Also called at start-up from a
 * cancelled job's record. */
void modem_expect_reset(FotaModem *self, gint64 left_ms);

/* The package for the holder (see at_channel_stream()); refused while the
 * modem's own boot probe runs: it rebooted since it announced CONNECT. */
void modem_stream(FotaModem *self, gpointer owner, const AtStreamSource *source,
                  AtStreamProgressFunc progress, gpointer progress_data, GCancellable *cancellable,
                  GAsyncReadyCallback callback, gpointer user_data);
/* As at_channel_stream_finish().
 * @sent_sha256: (out) (optional) (transfer full) */
gboolean modem_stream_finish(FotaModem *self, GAsyncResult *result, guint64 *sent,
                             char **sent_sha256, GError **error);

/* Reads the identity again for the holder (ATE0, ATI, [AT+QGMR], AT+CGSN,
 * AT+QFOTADL=?), after the modem's own probe as a command; a success also
 * replaces the cached info. */
void modem_identify(FotaModem *self, gpointer owner, GCancellable *cancellable,
                    GAsyncReadyCallback callback, gpointer user_data);
/* Returns: (transfer full) */
ModemInfo *modem_identify_finish(FotaModem *self, GAsyncResult *result, GError **error);

/* The identity for a caller outside any job (GetModemInfo): read now under
 * a lease of its own, or the cached one while a job holds the port or the
 * port is not wanted (MODEM_ERROR_ABSENT when there is none). */
void modem_query_info(FotaModem *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                      gpointer user_data);
/* Returns: (transfer full) */
ModemInfo *modem_query_info_finish(FotaModem *self, GAsyncResult *result, GError **error);
