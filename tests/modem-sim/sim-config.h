/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The simulator's command line, parsed once in sim-main.c and read-only afterwards. */
#pragma once

#include <glib.h>

typedef enum {
	SIM_HANGUP_NONE = 0,
	SIM_HANGUP_ACCEPTED,
	SIM_HANGUP_DOWNLOADING,
	SIM_HANGUP_UPDATING,
} SimHangupPhase;

typedef enum {
	SIM_PORT_USB = 0,
	SIM_PORT_UART,
} SimPortKind;

typedef struct _SimTrace SimTrace;

/* A rule for commands starting with a prefix (case-insensitive): --reply-delay, --cme-error. */
typedef struct {
	char *prefix;
	guint value;
} SimPrefixRule;

typedef struct {
	char *link;
	char *model;
	char *revision;
	char *imei;
	char *log_path;
	char *ready_file;
	guint reboot_ms;
	guint boot_urc_delay_ms;
	guint download_ms;
	guint update_ms;
	gboolean no_echo;
	gboolean fail_qfotadl;
	int download_error; /* -1: none */
	int update_error;   /* -1: none */
	gboolean silent;
	SimHangupPhase hangup_at;
	gboolean garbage;
	gboolean split_writes;
	gboolean interleave_urcs;
	gboolean quiet_update;
	gboolean urc_before_ok; /* the first FOTA URC overtakes the OK of AT+QFOTADL */
	GArray *reply_delays;   /* of SimPrefixRule: value = ms */
	GArray *cme_errors;     /* of SimPrefixRule: value = +CME ERROR code */
	gboolean require_pdp;
	SimPortKind port_kind;
	guint file_timeout_ms;
	guint file_end_delay_ms; /* between the last FILE byte and FILEEND */
	guint check_ms;          /* package check between the download's end and START */
	guint64 file_early_end;  /* FILEEND,<code> after this many FILE bytes; 0: off */
	guint64 file_hold;       /* stop reading after this many FILE bytes until SIGUSR1; 0: off */
	int file_early_end_code;
	guint net_timeout_ms;
	gboolean https_insecure;
	guint32 seed;

	/* What real modems were seen to do beyond the vendor guide (README.md, "Field
	 * behaviours"). Codes are -1 when off. */
	gboolean https_stages;          /* HTTPSSTART/HTTPSEND for https URLs */
	guint vanish_after_download_ms; /* mode 1: the tty is gone this long after *END,0 */
	gboolean no_update_start;       /* UPDATING with no START before it */
	gboolean reboot_mid_update;     /* a reboot halfway through the UPDATING URCs */
	int download_cut;               /* END,<code> halfway through a network download */
	int refuse_download;            /* <X>END,<code> right after <X>START */
	int restore;                    /* RESTORE n% stages, then END,<code> */
	guint download_silence_ms;      /* no DOWNLOADING; a network download lasts this long */
	gboolean no_download_urcs;      /* network modes: no <X>START/DOWNLOADING/<X>END */
	gboolean boot_shuffle;          /* boot URCs (with +CFUN: 1) in a seeded shuffled order */
	SimTrace *trace;                /* --trace: played for the first accepted AT+QFOTADL= */
} SimConfig;

const char *sim_hangup_phase_name(SimHangupPhase phase);
/* The first rule whose prefix starts @command, or NULL. */
const SimPrefixRule *sim_prefix_rule_find(const GArray *rules, const char *command);
