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
	int file_early_end_code;
	guint net_timeout_ms;
	gboolean https_insecure;
	guint32 seed;
} SimConfig;

const char *sim_hangup_phase_name(SimHangupPhase phase);
/* The first rule whose prefix starts @command, or NULL. */
const SimPrefixRule *sim_prefix_rule_find(const GArray *rules, const char *command);
