/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The modem as a whole: identity, the settings AT commands change, and the wiring between
 * the tty, the AT interpreter and the FOTA engine (input routing, reboots, boot URCs). */
#pragma once

#include "sim-config.h"
#include "sim-log.h"
#include "sim-out.h"
#include "sim-pty.h"

typedef struct _SimAt SimAt;
typedef struct _SimFota SimFota;

#define SIM_MAX_CID 16
/* RDY, +CPIN: READY, +QUSIM: 1, +QIND: SMS DONE, +QIND: PB DONE and, shuffled, +CFUN: 1. */
#define SIM_BOOT_URCS_MAX 6

typedef struct {
	gboolean defined; /* AT+QICSGP done */
	gboolean active;  /* AT+QIACT done since the last boot */
	int type;
	char *apn;
	char *user;
	char *password;
	int auth;
} SimPdp;

typedef struct {
	const SimConfig *cfg;
	SimLog *log;
	GRand *rand;
	SimPty *pty;
	SimOut *out;
	SimAt *at;
	SimFota *fota;

	gboolean fota_kind; /* EC200T: full-image FOTA; others: DFOTA */
	char *revision;

	SimPdp pdp[SIM_MAX_CID + 1]; /* index = cid */
	int fota_cid;                /* AT+QCFG="fota/cid" */
	gboolean usbifc;             /* AT+QCFG="usbifc",2,2 (kept across reboots, like NV) */
	gboolean ifc;                /* AT+IFC=2,2 (lost on reboot) */

	GByteArray *backlog; /* input read but not yet consumed (interpreter busy) */
	gboolean boot_urcs;  /* whether the tty's return after this reboot brings boot URCs */
	const char *boot_order[SIM_BOOT_URCS_MAX];
	guint boot_count;
	guint boot_source;
	guint boot_step;
	guint after_file_source;  /* the window after a FILE transfer ended */
	guint64 after_file_bytes; /* AT-mode input within that window */
} SimModem;

/* How long after a FILE transfer ends the AT-mode input is counted (the "after-file" log). */
#define SIM_AFTER_FILE_WINDOW_MS 1000

SimModem *sim_modem_new(const SimConfig *cfg, SimLog *log, GError **error);
void sim_modem_free(SimModem *modem);

/* The tty vanishes for --reboot-ms (reason goes to the log), then boot URCs. Volatile state is
 * lost; the caller decides what the FOTA engine keeps. drain: let queued output reach the host
 * first. */
void sim_modem_reboot(SimModem *modem, const char *reason, gboolean drain);
/* Like a reboot, but the tty is gone gone_ms and the boot URCs only come with boot_urcs (a USB
 * re-enumeration prints nothing). Queued output is drained first. Either way sim_fota_booted()
 * follows once the modem speaks again. */
void sim_modem_vanish(SimModem *modem, const char *reason, guint gone_ms, gboolean boot_urcs);
void sim_modem_set_revision(SimModem *modem, const char *revision);
/* Whether FILE mode runs with hardware flow control, given --port-kind. */
gboolean sim_modem_flow_control_on(const SimModem *modem);
/* A FILE transfer ended: log the AT-mode bytes of the next SIM_AFTER_FILE_WINDOW_MS, which
 * shows whether the host stopped streaming when the modem did. */
void sim_modem_watch_after_file(SimModem *modem);
/* The interpreter finished a command: consume input that waited for it. */
void sim_modem_resume_input(SimModem *modem);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SimModem, sim_modem_free)
