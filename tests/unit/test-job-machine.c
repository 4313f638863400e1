/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* job-machine.c checked exhaustively against a model of what the modem does.
 *
 * The model modem (Modem) follows the modem's contract (the AT+QFOTADL guide
 * and what real modems were seen to do): it downloads (FTP/HTTP/HTTPS URCs,
 * or FILE data mode counting the bytes the test streams), upgrades in mode 0
 * or 1, reboots, and answers the machine's actions as a modem would (a
 * reset abandons a download and is refused while writing flash, the
 * revision read is the true one, nothing answers while the port is away).
 * Each scenario is one true behaviour (a success, a refusal, an *END or END
 * error, a crash, a reboot in the middle of the update, ...).
 *
 * A small shell (Run) stands where fota-job.c stands: it performs the
 * machine's actions in virtual time (commands, the lease, the stream,
 * timers, saves) and feeds back the events. Faults are then interleaved
 * with each scenario's true sequence: a daemon restart at every point (from
 * the last saved record, or the one before it; also across a host reboot,
 * with or without the modem losing power), the tty lost at every point, a
 * modem crash at every point, wall-clock steps of +-2 h, a cancel at every
 * point, any subset of up to 3 URCs lost, a URC duplicated or delivered
 * after the next one, and pairs of these.
 *
 * Every run must end with a verdict within a ceiling summed from the
 * bounds, with no wait left unbounded (nothing pending, no timer, not final
 * is a hang), and the verdict must be true: succeeded / UPGRADED only when
 * the modem runs the new firmware, UNCHANGED only when it does not and
 * cannot still get there, "safe to start again" only with UNCHANGED,
 * nothing sent while the modem counts package bytes, nothing after FINISH.
 *
 * Knobs for finding out why: JOB_MACHINE_TRACE="<scenario>;<fault>@<point>;
 * lost=<urc>,..." prints one run step by step (each failure class names its
 * own); JOB_MACHINE_SKIP="cancel,restart-behind" leaves faults out;
 * JOB_MACHINE_SHOW_UNKNOWN=1 lists where verdicts ended "unknown". */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <glib.h>
#include <string.h>

#include "job-machine.h"

#define MS  ((gint64)1000)
#define SEC ((gint64)G_USEC_PER_SEC)

#define OLD_REV      "EC200TCNDAR02A01M16"
#define NEW_REV      "EC200TCNDAR02A02M16"
#define PORT_ID      "usb:2c7c:6026:1-1.2"
#define PACKAGE_SIZE ((guint64)5000000)
#define PACKAGE_SHA  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
/* The USB device's power/control before the job's first start, and the
 * value a resumed job finds there (the daemon forced it on). */
#define POWER_BEFORE "auto"
#define POWER_FORCED "on"

/* The model's own timings: the field reports' orders of magnitude, shrunk
 * where the length does not matter, always within the configured bounds
 * below (a modem slower than the bounds may rightly end in "unknown"). */
#define T_REPLY           (100 * MS) /* a command's answer */
#define T_IDENTIFY        (400 * MS) /* ATE0, ATI, AT+CGSN, AT+QFOTADL=? */
#define T_URC_FIRST       (50 * MS)  /* a first URC that overtakes the OK */
#define T_FILESTART       (150 * MS)
#define T_FIRST_URC       (2 * SEC) /* OK -> *START */
#define T_DL_STEP         (10 * SEC)
#define T_DL_LAST         (5 * SEC)
#define T_SILENT_DL       (110 * SEC) /* BC660K: silence after HTTPSTART */
#define T_CHECK_STEP      (1 * SEC)   /* FILE: the modem checks what it got */
#define T_START           (3 * SEC)
#define T_UPD_STEP        (60 * SEC)
#define T_END             (10 * SEC)
#define T_POST            (2 * SEC) /* END -> the reboot */
#define T_REBOOT          (30 * SEC)
#define T_AFTER_BOOT      (5 * SEC)   /* back -> the next URC */
#define T_SILENT_UPD      (180 * SEC) /* mode 0, port away while flashing */
#define T_BOUNCE          (5 * SEC)   /* a tty re-enumeration */
#define T_MODEM_FILE_IDLE (20 * SEC)  /* the modem gives up a FILE package (< file-idle) */
#define T_CHUNK           (2 * SEC)
#define N_CHUNKS          5
#define T_RESET_GOES      (300 * MS) /* AT+CFUN=1,1 OK -> the port goes */
#define T_GRANT           (50 * MS)
#define T_RESTART         (3 * SEC)
#define T_HOST_REBOOT     (60 * SEC)
#define T_BOOT_AT_RESUME  (5 * SEC) /* CLOCK_BOOTTIME when the daemon runs again */
#define CLOCK_STEP        (2 * 3600 * SEC)

static const JobMachineConfig config = {
        .bounds =
                {
                        .command = 10000,
                        .first_urc = 120000,
                        .urc_gap = 600000,
                        .download = 3600000,
                        .update = 1800000,
                        .reboot = 300000,
                        .file_idle = 60000,
                        .port = 300000 + 30000 + 3 * 60000,
                },
        .hardware_flow = TRUE,
        .uart = FALSE,
};

/* ---- the scenarios: what the modem truly does ---- */

typedef enum {
	V_OK,
	V_REFUSE,             /* ERROR to AT+QFOTADL */
	V_DL_FAIL,            /* *END,<code>: no upgrade */
	V_DL_FAIL_AT_ONCE,    /* EC200U: HTTPSTART, then at once HTTPEND,608 */
	V_NET_CUT_END,        /* a network cut reported as END,701, no *END */
	V_CRASH_IN_DL,        /* the modem reboots mid-download, idle afterwards */
	V_UPD_FAIL,           /* END,<code>, a reboot, the old revision */
	V_NO_START,           /* UPDATING without START */
	V_UPD_REBOOT,         /* EC800K: UPDATING 7..47, a reboot, 60..96, END,0 */
	V_BOUNCE_AFTER_DL,    /* the tty goes and comes back right after *END,0 */
	V_URC_FIRST,          /* the first URC overtakes the OK */
	V_SILENT_DL,          /* download-urc-max 0: two minutes of silence */
	V_FILE_ERROR,         /* FILE: every byte, then FILEEND,500 */
	V_SILENT_UPDATE,      /* mode 0: the port stays away while flashing, no URCs */
	V_FILE_LATE_PROGRESS, /* FILE: DOWNLOADING only after the last byte, not as they come */
	V_NO_OK,              /* takes AT+QFOTADL, but its OK never comes (a timeout) */
	V_PREPARE_ERROR,      /* refuses the last prepare command (QIACT, usbifc) */
} Variant;

typedef struct {
	const char *name;
	FotaSourceKind source;
	guint mode;
	Variant variant;
	gint code;         /* the failing code of V_DL_FAIL and V_UPD_FAIL */
	gboolean expected; /* the job names the target revision */
	/* FotaJobManager accepted the job before the modem was identified (daemon
	 * start, data mode, a reboot): the record has no from-revision yet */
	gboolean unidentified;
} Scenario;

static const Scenario scenarios[] = {
        {"ftp mode 1", FOTA_SOURCE_FTP, 1, V_OK, 0, FALSE, FALSE},
        {"ftp mode 0", FOTA_SOURCE_FTP, 0, V_OK, 0, TRUE, FALSE},
        {"http mode 1", FOTA_SOURCE_HTTP, 1, V_OK, 0, FALSE, FALSE},
        {"http mode 0", FOTA_SOURCE_HTTP, 0, V_OK, 0, FALSE, FALSE},
        {"https mode 1", FOTA_SOURCE_HTTPS, 1, V_OK, 0, TRUE, FALSE},
        {"https mode 0", FOTA_SOURCE_HTTPS, 0, V_OK, 0, FALSE, FALSE},
        {"file mode 1", FOTA_SOURCE_FILE, 1, V_OK, 0, FALSE, FALSE},
        {"file mode 0", FOTA_SOURCE_FILE, 0, V_OK, 0, TRUE, FALSE},
        {"http refused", FOTA_SOURCE_HTTP, 1, V_REFUSE, 0, FALSE, FALSE},
        {"file refused", FOTA_SOURCE_FILE, 1, V_REFUSE, 0, FALSE, FALSE},
        {"ftp FTPEND,609", FOTA_SOURCE_FTP, 1, V_DL_FAIL, 609, FALSE, FALSE},
        {"http HTTPEND,702", FOTA_SOURCE_HTTP, 1, V_DL_FAIL, 702, FALSE, FALSE},
        {"http mode 0 HTTPEND,714", FOTA_SOURCE_HTTP, 0, V_DL_FAIL, 714, FALSE, FALSE},
        {"https HTTPSEND,728", FOTA_SOURCE_HTTPS, 1, V_DL_FAIL, 728, TRUE, FALSE},
        {"http HTTPEND,608 at once", FOTA_SOURCE_HTTP, 1, V_DL_FAIL_AT_ONCE, 608, FALSE, FALSE},
        {"file FILEEND,500", FOTA_SOURCE_FILE, 1, V_FILE_ERROR, 500, FALSE, FALSE},
        {"http END,701 without HTTPEND", FOTA_SOURCE_HTTP, 1, V_NET_CUT_END, 701, FALSE, FALSE},
        {"https mode 0 END,702 without HTTPSEND", FOTA_SOURCE_HTTPS, 0, V_NET_CUT_END, 702, FALSE,
         FALSE},
        {"http crash mid-download", FOTA_SOURCE_HTTP, 1, V_CRASH_IN_DL, 0, FALSE, FALSE},
        {"ftp mode 0 crash mid-download", FOTA_SOURCE_FTP, 0, V_CRASH_IN_DL, 0, TRUE, FALSE},
        {"http END,504", FOTA_SOURCE_HTTP, 1, V_UPD_FAIL, 504, FALSE, FALSE},
        {"http mode 0 END,504", FOTA_SOURCE_HTTP, 0, V_UPD_FAIL, 504, TRUE, FALSE},
        {"file END,506", FOTA_SOURCE_FILE, 1, V_UPD_FAIL, 506, FALSE, FALSE},
        {"http UPDATING without START", FOTA_SOURCE_HTTP, 1, V_NO_START, 0, FALSE, FALSE},
        {"http reboot mid-update", FOTA_SOURCE_HTTP, 1, V_UPD_REBOOT, 0, FALSE, FALSE},
        {"file reboot mid-update", FOTA_SOURCE_FILE, 1, V_UPD_REBOOT, 0, TRUE, FALSE},
        {"https tty bounce after HTTPSEND,0", FOTA_SOURCE_HTTPS, 1, V_BOUNCE_AFTER_DL, 0, FALSE,
         FALSE},
        {"https mode 0 tty bounce after HTTPSEND,0", FOTA_SOURCE_HTTPS, 0, V_BOUNCE_AFTER_DL, 0,
         FALSE, FALSE},
        {"http HTTPSTART before OK", FOTA_SOURCE_HTTP, 1, V_URC_FIRST, 0, FALSE, FALSE},
        {"file FILESTART before OK", FOTA_SOURCE_FILE, 1, V_URC_FIRST, 0, FALSE, FALSE},
        {"http silent download", FOTA_SOURCE_HTTP, 1, V_SILENT_DL, 0, FALSE, FALSE},
        {"http mode 0 silent update", FOTA_SOURCE_HTTP, 0, V_SILENT_UPDATE, 0, FALSE, FALSE},
        {"file mode 0 silent update", FOTA_SOURCE_FILE, 0, V_SILENT_UPDATE, 0, TRUE, FALSE},
        {"file progress after the last byte", FOTA_SOURCE_FILE, 1, V_FILE_LATE_PROGRESS, 0, FALSE,
         FALSE},
        {"http OK to AT+QFOTADL lost", FOTA_SOURCE_HTTP, 1, V_NO_OK, 0, FALSE, FALSE},
        {"file OK to AT+QFOTADL lost", FOTA_SOURCE_FILE, 1, V_NO_OK, 0, FALSE, FALSE},
        {"http AT+QIACT refused", FOTA_SOURCE_HTTP, 1, V_PREPARE_ERROR, 0, FALSE, FALSE},
        {"file AT+QCFG=\"usbifc\" refused", FOTA_SOURCE_FILE, 0, V_PREPARE_ERROR, 0, FALSE, FALSE},
        {"http mode 1, not identified at Start", FOTA_SOURCE_HTTP, 1, V_OK, 0, FALSE, TRUE},
        {"file mode 1, not identified at Start", FOTA_SOURCE_FILE, 1, V_OK, 0, FALSE, TRUE},
        {"https mode 0, not identified at Start", FOTA_SOURCE_HTTPS, 0, V_OK, 0, TRUE, TRUE},
        {"http END,504, not identified at Start", FOTA_SOURCE_HTTP, 1, V_UPD_FAIL, 504, FALSE,
         TRUE},
};

static gboolean
scenario_upgrades(const Scenario *sc)
{
	switch (sc->variant) {
	case V_REFUSE:
	case V_PREPARE_ERROR:
	case V_DL_FAIL:
	case V_DL_FAIL_AT_ONCE:
	case V_NET_CUT_END:
	case V_CRASH_IN_DL:
	case V_UPD_FAIL:
	case V_FILE_ERROR:
		return FALSE;
	default:
		return TRUE;
	}
}

static guint
dl_urcs(const Scenario *sc)
{
	return sc->variant == V_SILENT_DL ? 0 : 5;
}

static const char *
source_url(const Scenario *sc)
{
	switch (sc->source) {
	case FOTA_SOURCE_FTP:
		return "ftp://fota:secret@192.0.2.1:21/delta.bin";
	case FOTA_SOURCE_HTTP:
		return "http://192.0.2.1:8080/delta.bin";
	case FOTA_SOURCE_HTTPS:
		return "https://updates.example.com/delta.bin";
	case FOTA_SOURCE_FILE:
		break;
	}
	return "FILE:5000000";
}

/* ---- the faults interleaved with a scenario ---- */

typedef enum {
	F_NONE,
	F_RESTART,        /* the daemon restarts from its last saved record */
	F_RESTART_BEHIND, /* ... from the record before (the last save failed) */
	F_HOST,           /* the host reboots; the modem keeps its power */
	F_HOST_BEHIND,    /* ... and the record is one save behind */
	F_HOST_POWER,     /* the host reboots and the modem loses power */
	F_BOUNCE,         /* the tty goes away and comes back; the modem goes on */
	F_CRASH,          /* the modem reboots by itself */
	F_CLOCK_FWD,      /* the wall clock jumps 2 h ahead */
	F_CLOCK_BACK,     /* ... 2 h back */
	F_CANCEL,         /* the user cancels (when the machine takes it) */
	N_FAULT_KINDS,
} FaultKind;

static const char *const fault_names[] = {
        "none",
        "restart",
        "restart (one save behind)",
        "host reboot",
        "host reboot (one save behind)",
        "host reboot (modem power lost)",
        "tty bounce",
        "modem crash",
        "clock +2 h",
        "clock -2 h",
        "cancel",
};

/* The same, as JOB_MACHINE_TRACE spells them (see test_trace()). */
static const char *const fault_keys[] = {
        "none",   "restart", "restart-behind", "host",     "host-behind", "host-power",
        "bounce", "crash",   "clock+2h",       "clock-2h", "cancel",
};

#define MAX_INJECT 2
#define MAX_LOST   3

/* Points count the events delivered to the machines of one run, from 1;
 * URCs count the modem's URCs, from 1, whether delivered or not. */
typedef struct {
	guint16 at[MAX_INJECT];
	guint8 what[MAX_INJECT];
	guint16 lost[MAX_LOST];
	guint16 dup;  /* delivered twice */
	guint16 late; /* delivered after the next URC */
} Faults;

static char *
faults_describe(const Faults *f)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < MAX_INJECT; i++)
		if (f->what[i] != F_NONE)
			g_string_append_printf(s, "%s%s at point %u", s->len ? ", " : "",
			                       fault_names[f->what[i]], f->at[i]);
	for (guint i = 0; i < MAX_LOST; i++)
		if (f->lost[i] != 0)
			g_string_append_printf(s, "%sURC #%u lost", s->len ? ", " : "", f->lost[i]);
	if (f->dup)
		g_string_append_printf(s, "%sURC #%u twice", s->len ? ", " : "", f->dup);
	if (f->late)
		g_string_append_printf(s, "%sURC #%u late", s->len ? ", " : "", f->late);
	if (s->len == 0)
		g_string_append(s, "no fault");
	return g_string_free(s, FALSE);
}

/* "<scenario>;<fault>@<point>;lost=<urc>,<urc>;dup=<urc>;late=<urc>" */
static char *
faults_spec(const char *scenario, const Faults *f)
{
	GString *s = g_string_new(scenario);

	for (guint i = 0; i < MAX_INJECT; i++)
		if (f->what[i] != F_NONE)
			g_string_append_printf(s, ";%s@%u", fault_keys[f->what[i]], f->at[i]);
	for (guint i = 0; i < MAX_LOST; i++)
		if (f->lost[i] != 0)
			g_string_append_printf(s, "%s%u", i == 0 ? ";lost=" : ",", f->lost[i]);
	if (f->dup)
		g_string_append_printf(s, ";dup=%u", f->dup);
	if (f->late)
		g_string_append_printf(s, ";late=%u", f->late);
	return g_string_free(s, FALSE);
}

static gboolean
faults_parse(const char *spec, guint *scenario, Faults *f)
{
	const guint n_scenarios = G_N_ELEMENTS(scenarios);
	g_auto(GStrv) parts = g_strsplit(spec, ";", -1);
	guint n_inject = 0;

	*f = (Faults){0};
	for (*scenario = 0; *scenario < n_scenarios; (*scenario)++)
		if (g_strcmp0(scenarios[*scenario].name, parts[0]) == 0)
			break;
	if (*scenario == n_scenarios)
		return FALSE;
	for (guint i = 1; parts[i] != NULL; i++) {
		const char *p = parts[i];
		const char *at = strchr(p, '@');

		if (g_str_has_prefix(p, "lost=")) {
			g_auto(GStrv) urcs = g_strsplit(p + 5, ",", MAX_LOST);

			for (guint k = 0; urcs[k] != NULL; k++)
				f->lost[k] = (guint16)g_ascii_strtoull(urcs[k], NULL, 10);
		} else if (g_str_has_prefix(p, "dup=")) {
			f->dup = (guint16)g_ascii_strtoull(p + 4, NULL, 10);
		} else if (g_str_has_prefix(p, "late=")) {
			f->late = (guint16)g_ascii_strtoull(p + 5, NULL, 10);
		} else if (at != NULL && n_inject < MAX_INJECT) {
			guint k;

			for (k = 1; k < N_FAULT_KINDS; k++)
				if (strlen(fault_keys[k]) == (gsize)(at - p) &&
				    strncmp(fault_keys[k], p, at - p) == 0)
					break;
			if (k == N_FAULT_KINDS)
				return FALSE;
			f->what[n_inject] = (guint8)k;
			f->at[n_inject++] = (guint16)g_ascii_strtoull(at + 1, NULL, 10);
		} else {
			return FALSE;
		}
	}
	return TRUE;
}

/* Deliberate mistakes in the shell's reading of the machine, to show that
 * the checks catch a machine that makes them. */
typedef enum {
	MUT_NONE,
	MUT_CLAIM_UNCHANGED, /* every verdict claims "unchanged" */
	MUT_SAFE_MESSAGE,    /* every verdict says "safe to start again" */
	MUT_DROP_ARM,        /* no deadline is ever armed */
} Mutation;

static const char *const mutation_names[] = {
        "none",
        "every verdict claims unchanged",
        "every verdict says safe to start again",
        "no deadline armed",
};

/* ---- the modem ---- */

typedef enum {
	MP_IDLE,    /* listening; nothing of the job left to do */
	MP_DL,      /* network download */
	MP_DATA,    /* FILE data mode: counting the bytes the host sends */
	MP_CHECK,   /* FILE: every byte in, checking (still data mode until FILEEND) */
	MP_PKG,     /* the whole package: mode 1 starts, mode 0 reboots */
	MP_UPD,     /* writing flash: START .. END; refuses a reset */
	MP_POST,    /* END said; the reboot is next */
	MP_BOOTING, /* rebooting: the port is away */
} ModemPhase;

static const char *const phase_names[] = {
        "idle",
        "downloading",
        "in FILE data mode",
        "checking the FILE package",
        "holding the whole package",
        "writing flash",
        "about to reboot after END",
        "rebooting",
};

typedef struct {
	ModemPhase phase;
	guint step; /* within the phase */
	ModemPhase after_boot;
	guint after_step;
	gboolean flash_new;   /* the next boot runs the new firmware */
	gboolean running_new; /* ATI says the new revision */
	gboolean port_up;
	gboolean booted_while_down; /* the port's return follows a reboot (RDY) */
	gboolean reset_pending;     /* took AT+CFUN=1,1, resets at once */
	gint64 bounce_until;
	guint64 bytes;
	guint reported; /* FILE: the last DOWNLOADING said */
	gint64 last_byte_at;
	guint mgen;  /* its own pending steps */
	guint boots; /* a pending reset belongs to one boot */
	guint accepted;
	gboolean crashed, rebooted_mid, bounced; /* the scenario's own event happened */
	guint urcs;
} Modem;

/* ---- the run: the shell around the machine, in virtual time ---- */

typedef enum {
	Q_MODEM,       /* the modem's next step (gen: mgen) */
	Q_PORT_BACK,   /* a reboot ends (gen: mgen) */
	Q_BOUNCE_BACK, /* a tty bounce ends */
	Q_DATA_IDLE,   /* the modem's own FILE timeout (gen: mgen) */
	Q_MODEM_RESET, /* the modem acts on AT+CFUN=1,1 (gen: boots) */
	Q_REPLY,       /* (gen: daemon, epoch: port epoch) */
	Q_IDENTIFIED,  /* (gen: daemon, epoch: port epoch) */
	Q_GRANT,
	Q_CHUNK,       /* the stream's next write (epoch: stream generation) */
	Q_STREAM_DONE, /* a stopped or failed stream */
	Q_DM_CHECK,    /* the shell's "AT" after file-idle (epoch: check generation) */
	Q_TIMER,       /* (epoch: timer generation) */
	Q_RESUME,      /* the daemon runs again */
} QKind;

typedef struct {
	gint64 at;
	guint seq;
	guint8 kind;
	guint8 failure;
	guint8 timer;
	guint gen;
	guint epoch;
} QItem;

#define QMAX 96

typedef struct {
	QindStage kind;
	const char *stage;
	gint64 value; /* < 0: none */
} Urc;

typedef struct {
	const Scenario *sc;
	const Faults *f;
	Mutation mut;
	GString *trace;
	char qfotadl[160]; /* the command the job must send */

	gint64 t;           /* virtual time since the run began */
	gint64 boot_origin; /* t when this host boot began */
	gint64 wall_off;    /* wall clock = t + wall_off */
	guint boot_no;

	QItem q[QMAX];
	guint nq, seq;

	Modem m;

	/* the daemon */
	JobMachine *jm;
	gboolean alive, finished, failed;
	guint dgen;
	guint epoch;        /* commands in flight die with the port */
	guint cmds, idents; /* in flight */
	gboolean lease_wanted, lease_held;
	gboolean told_up;       /* the machine was told the port is there */
	gboolean ready_pending; /* the port came back while data mode held the probe */
	gboolean dm;            /* the shell's FILE data mode: no probe, no lease */
	gint64 dm_since, last_byte_at, port_up_at;
	guint dmgen;
	gboolean streaming;
	guint sgen, chunks;
	gboolean resetting; /* AT+CFUN=1,1 answered, the port about to go */
	gboolean armed[JOB_N_TIMERS];
	guint tgen[JOB_N_TIMERS];
	JobRecord *saved, *saved_prev;
	const char *power_kept; /* the usb-power-previous every save must keep */
	guint restarts, points, feeds;
	gboolean injected[MAX_INJECT];
	gboolean resume_behind, resume_host;
	gboolean has_held;
	Urc held;

	/* the outcome */
	JobClaim claim;
	FotaState state;
	char why[320];
	char message[320]; /* the verdict's, numbers and revisions blanked */
} Run;

static void run_fail(Run *r, const char *format, ...) G_GNUC_PRINTF(2, 3);
static void feed(Run *r, JobEvent *e);
static void port_went_down(Run *r);
static void port_came_up(Run *r, gboolean booted);

static void G_GNUC_PRINTF(2, 3) tr(Run *r, const char *format, ...)
{
	va_list args;

	if (r->trace == NULL)
		return;
	g_string_append_printf(r->trace, "  %9.2f s  ", (double)r->t / SEC);
	va_start(args, format);
	g_string_append_vprintf(r->trace, format, args);
	va_end(args);
	g_string_append_c(r->trace, '\n');
}

static void
run_fail(Run *r, const char *format, ...)
{
	va_list args;

	if (r->failed)
		return;
	r->failed = TRUE;
	va_start(args, format);
	g_vsnprintf(r->why, sizeof(r->why), format, args);
	va_end(args);
	tr(r, "FAILED: %s", r->why);
}

static QItem *
push(Run *r, QKind kind, gint64 at, guint gen, guint epoch)
{
	QItem *it;

	if (r->nq == QMAX) {
		run_fail(r, "test: event queue full");
		return &r->q[0];
	}
	it = &r->q[r->nq++];
	*it = (QItem){
	        .at = MAX(at, r->t), .seq = r->seq++, .kind = kind, .gen = gen, .epoch = epoch};
	return it;
}

static gboolean
pop(Run *r, QItem *out)
{
	guint best = 0;

	if (r->nq == 0)
		return FALSE;
	for (guint i = 1; i < r->nq; i++)
		if (r->q[i].at < r->q[best].at ||
		    (r->q[i].at == r->q[best].at && r->q[i].seq < r->q[best].seq))
			best = i;
	*out = r->q[best];
	r->q[best] = r->q[--r->nq];
	return TRUE;
}

static gboolean
modem_data_mode(const Modem *m)
{
	return m->phase == MP_DATA || m->phase == MP_CHECK;
}

static const char *
modem_revision(const Modem *m)
{
	return m->running_new ? NEW_REV : OLD_REV;
}

/* Where a reboot (a crash, a power loss, AT+CFUN=1,1) leaves the modem: a
 * download is abandoned; an update goes on after the boot ("continue
 * upgrade"), also one whose whole package was waiting. */
static ModemPhase
phase_after_crash(ModemPhase phase)
{
	switch (phase) {
	case MP_PKG:
	case MP_UPD:
		return MP_UPD;
	default:
		return MP_IDLE;
	}
}

/* Whether the modem runs, or can still come to run, the new firmware with
 * no more help from the host (a stream stops at the verdict). */
static gboolean
modem_will_upgrade(const Run *r)
{
	const Modem *m = &r->m;
	ModemPhase phase = m->phase == MP_BOOTING ? m->after_boot : m->phase;

	if (m->running_new || m->flash_new)
		return TRUE;
	if (m->reset_pending && m->phase != MP_BOOTING)
		phase = phase_after_crash(phase);
	switch (phase) {
	case MP_IDLE:
	case MP_DATA:
	case MP_POST:
		return FALSE;
	case MP_DL:
		return scenario_upgrades(r->sc);
	case MP_CHECK:
	case MP_PKG:
	case MP_UPD:
		return r->sc->variant != V_FILE_ERROR && r->sc->variant != V_UPD_FAIL;
	case MP_BOOTING:
		break;
	}
	return FALSE;
}

static void
modem_at(Run *r, gint64 delay)
{
	push(r, Q_MODEM, r->t + delay, r->m.mgen, 0);
}

static void
deliver_ready(Run *r)
{
	JobEvent e = {.kind = JOB_EVENT_PORT_READY};

	r->told_up = TRUE;
	r->ready_pending = FALSE;
	e.revision = modem_revision(&r->m);
	e.port = PORT_ID;
	feed(r, &e);
}

static gboolean
usable(const Run *r)
{
	return r->m.port_up && r->told_up && !r->dm && !r->resetting;
}

static void
try_grant(Run *r)
{
	if (r->alive && r->lease_wanted && usable(r))
		push(r, Q_GRANT, r->t + T_GRANT, r->dgen, 0);
}

static void
schedule_dm_check(Run *r)
{
	gint64 base;

	if (!r->alive || !r->dm || r->streaming)
		return;
	base = MAX(MAX(r->dm_since, r->last_byte_at), r->port_up_at);
	push(r, Q_DM_CHECK, base + config.bounds.file_idle * MS, r->dgen, ++r->dmgen);
}

static void
deliver_urc(Run *r, const Urc *u)
{
	QindFota q = {.kind = u->kind};
	JobEvent e = {.kind = JOB_EVENT_URC, .qind = &q};

	g_strlcpy(q.stage, u->stage, sizeof(q.stage));
	if (u->value >= 0) {
		q.value_kind = QIND_VALUE_INT;
		q.value = u->value;
	}
	feed(r, &e);
	if (u->kind == QIND_STAGE_FILEEND && r->alive && r->dm) {
		/* FotaModem sees FILEEND too: the modem listens again */
		r->dm = FALSE;
		if (r->ready_pending)
			deliver_ready(r);
		try_grant(r);
	}
}

static void
modem_urc(Run *r, QindStage kind, const char *stage, gint64 value)
{
	const Faults *f = r->f;
	Urc u = {kind, stage, value};
	guint index = ++r->m.urcs;

	if (!r->m.port_up || !r->alive) {
		tr(r, "modem: URC #%u %s,%" G_GINT64_FORMAT " unseen (%s)", index, stage, value,
		   r->alive ? "port away" : "daemon down");
		return;
	}
	for (guint i = 0; i < MAX_LOST; i++)
		if (f->lost[i] == index) {
			tr(r, "modem: URC #%u %s,%" G_GINT64_FORMAT " LOST", index, stage, value);
			return;
		}
	if (f->late == index) {
		tr(r, "modem: URC #%u %s,%" G_GINT64_FORMAT " held back", index, stage, value);
		r->held = u;
		r->has_held = TRUE;
		return;
	}
	tr(r, "modem: URC #%u %s,%" G_GINT64_FORMAT, index, stage, value);
	deliver_urc(r, &u);
	if (f->dup == index) {
		tr(r, "modem: URC #%u again", index);
		deliver_urc(r, &u);
	}
	if (r->has_held) {
		r->has_held = FALSE;
		tr(r, "modem: held-back URC %s now", r->held.stage);
		deliver_urc(r, &r->held);
	}
}

static void
modem_reboot(Run *r, gint64 duration, ModemPhase after, guint after_step)
{
	Modem *m = &r->m;
	gboolean was_up = m->port_up;

	tr(r, "modem: reboots (%s -> %s), back in %g s", phase_names[m->phase], phase_names[after],
	   (double)duration / SEC);
	m->mgen++;
	m->boots++;
	m->reset_pending = FALSE;
	m->phase = MP_BOOTING;
	m->after_boot = after;
	m->after_step = after_step;
	m->port_up = FALSE;
	m->booted_while_down = TRUE;
	push(r, Q_PORT_BACK, r->t + duration, m->mgen, 0);
	if (was_up)
		port_went_down(r);
}

static void
modem_crash(Run *r)
{
	Modem *m = &r->m;
	gboolean booting = m->phase == MP_BOOTING;
	ModemPhase phase = booting ? m->after_boot : m->phase;
	guint step = booting ? m->after_step : m->step;
	ModemPhase after = booting ? phase : phase_after_crash(phase);

	modem_reboot(r, T_REBOOT, after, after == MP_UPD ? step : 0);
}

static void
modem_bounce(Run *r, gint64 duration)
{
	Modem *m = &r->m;

	tr(r, "modem: tty away for %g s", (double)duration / SEC);
	m->bounce_until = MAX(m->bounce_until, r->t + duration);
	push(r, Q_BOUNCE_BACK, m->bounce_until, 0, 0);
	if (m->port_up) {
		m->port_up = FALSE;
		port_went_down(r);
	}
}

static void
modem_port_back(Run *r)
{
	Modem *m = &r->m;
	gboolean booted = m->booted_while_down;

	m->port_up = TRUE;
	m->booted_while_down = FALSE;
	tr(r, "modem: port back, revision %s", modem_revision(m));
	port_came_up(r, booted);
}

static void
modem_accept(Run *r)
{
	Modem *m = &r->m;
	gboolean first = r->sc->variant == V_URC_FIRST;

	m->accepted++;
	m->mgen++;
	m->step = 0;
	if (r->sc->source == FOTA_SOURCE_FILE) {
		m->phase = MP_DATA;
		m->bytes = 0;
		m->reported = 0;
		modem_at(r, first ? T_URC_FIRST : T_FILESTART);
	} else {
		m->phase = MP_DL;
		modem_at(r, first ? T_URC_FIRST : T_FIRST_URC);
	}
}

#define T_PROGRESS (200 * MS) /* bytes in -> their DOWNLOADING */

/* The guide's FILE example: the host sends the bytes, DOWNLOADING 1..N,
 * FILEEND; read here as progress while the bytes come in (and, in
 * V_FILE_LATE_PROGRESS, as a check after the last one). */
static void
modem_receive(Run *r, guint64 bytes)
{
	Modem *m = &r->m;

	if (m->phase != MP_DATA || !m->port_up)
		return;
	m->bytes += bytes;
	m->last_byte_at = r->t;
	push(r, Q_DATA_IDLE, r->t + T_MODEM_FILE_IDLE, m->mgen, 0);
	if (m->bytes >= PACKAGE_SIZE) {
		m->phase = MP_CHECK;
		m->mgen++;
	}
	modem_at(r, T_PROGRESS);
}

static void
modem_file_progress(Run *r)
{
	Modem *m = &r->m;
	guint n = dl_urcs(r->sc);
	guint k = (guint)(m->bytes * n / PACKAGE_SIZE);

	if (r->sc->variant == V_FILE_LATE_PROGRESS || k <= m->reported)
		return;
	m->reported = k;
	modem_urc(r, QIND_STAGE_DOWNLOADING, "DOWNLOADING", k);
}

/* Each source's download stages, indexed by FotaSourceKind. */
static const struct {
	QindStage start_kind, end_kind;
	const char *start, *end;
} download_stages[] = {
        [FOTA_SOURCE_FTP] = {QIND_STAGE_FTPSTART, QIND_STAGE_FTPEND, "FTPSTART", "FTPEND"},
        [FOTA_SOURCE_HTTP] = {QIND_STAGE_HTTPSTART, QIND_STAGE_HTTPEND, "HTTPSTART", "HTTPEND"},
        [FOTA_SOURCE_HTTPS] = {QIND_STAGE_HTTPSSTART, QIND_STAGE_HTTPSEND, "HTTPSSTART",
                               "HTTPSEND"},
        [FOTA_SOURCE_FILE] = {QIND_STAGE_FILESTART, QIND_STAGE_FILEEND, "FILESTART", "FILEEND"},
};

static void
start_stage(const Scenario *sc, QindStage *kind, const char **stage)
{
	*kind = download_stages[sc->source].start_kind;
	*stage = download_stages[sc->source].start;
}

static void
end_stage(const Scenario *sc, QindStage *kind, const char **stage)
{
	*kind = download_stages[sc->source].end_kind;
	*stage = download_stages[sc->source].end;
}

/* The modem's state changes before its URC goes out: the machine's answer
 * to the URC meets the modem as it now is. */
static void
modem_download_step(Run *r)
{
	Modem *m = &r->m;
	const Scenario *sc = r->sc;
	guint n = dl_urcs(sc);
	QindStage kind;
	const char *stage;
	gint code = 0;

	if (m->step == 0) {
		m->step = 1;
		if (sc->variant == V_DL_FAIL_AT_ONCE) {
			m->step = n + 1;
			modem_at(r, 1 * SEC);
		} else {
			modem_at(r, n > 0 ? T_DL_STEP : T_SILENT_DL);
		}
		start_stage(sc, &kind, &stage);
		modem_urc(r, kind, stage, -1);
		return;
	}
	if (m->step <= n) {
		guint k = m->step;

		if (k == 3 && sc->variant == V_CRASH_IN_DL && !m->crashed) {
			m->crashed = TRUE;
			modem_crash(r);
			return;
		}
		if (k == 3 && sc->variant == V_NET_CUT_END) {
			m->phase = MP_IDLE;
			modem_urc(r, QIND_STAGE_END, "END", sc->code);
			return;
		}
		m->step++;
		modem_at(r, m->step <= n ? T_DL_STEP : T_DL_LAST);
		modem_urc(r, QIND_STAGE_DOWNLOADING, "DOWNLOADING", k);
		return;
	}
	if (sc->variant == V_DL_FAIL || sc->variant == V_DL_FAIL_AT_ONCE)
		code = sc->code;
	if (code != 0) {
		m->phase = MP_IDLE;
	} else {
		m->phase = MP_PKG;
		m->step = 0;
		modem_at(r, sc->variant == V_BOUNCE_AFTER_DL ? T_BOUNCE + T_START : T_START);
	}
	end_stage(sc, &kind, &stage);
	modem_urc(r, kind, stage, code);
	if (code == 0 && sc->variant == V_BOUNCE_AFTER_DL && !m->bounced && m->phase == MP_PKG) {
		m->bounced = TRUE;
		modem_bounce(r, T_BOUNCE);
	}
}

static void
modem_check_step(Run *r)
{
	Modem *m = &r->m;
	guint n = dl_urcs(r->sc);
	gint code = r->sc->variant == V_FILE_ERROR ? 500 : 0;

	if (m->reported < n) {
		guint k = r->sc->variant == V_FILE_LATE_PROGRESS ? m->reported + 1 : n;

		m->reported = k;
		modem_at(r, T_CHECK_STEP);
		modem_urc(r, QIND_STAGE_DOWNLOADING, "DOWNLOADING", k);
		return;
	}
	if (code != 0) {
		m->phase = MP_IDLE;
	} else {
		m->phase = MP_PKG;
		m->step = 0;
		modem_at(r, T_START);
	}
	modem_urc(r, QIND_STAGE_FILEEND, "FILEEND", code);
}

static const gint64 upd_values[] = {20, 40, 60, 80, 100};
/* EC800K: a reboot between 47 and 60 */
static const gint64 upd_values_reboot[] = {7, 27, 47, 60, 78, 96};

static void
modem_update_step(Run *r)
{
	Modem *m = &r->m;
	const Scenario *sc = r->sc;
	gboolean mid = sc->variant == V_UPD_REBOOT;
	const gint64 *values = mid ? upd_values_reboot : upd_values;
	guint n = mid ? G_N_ELEMENTS(upd_values_reboot) : G_N_ELEMENTS(upd_values);
	gint code = sc->variant == V_UPD_FAIL ? sc->code : 0;

	if (m->step == 0) {
		m->step = 1;
		if (sc->variant != V_NO_START) {
			modem_at(r, T_UPD_STEP);
			modem_urc(r, QIND_STAGE_START, "START", -1);
			return;
		}
	}
	if (m->step <= n) {
		guint k = m->step;

		if (mid && k == 4 && !m->rebooted_mid) {
			m->rebooted_mid = TRUE;
			modem_reboot(r, T_REBOOT, MP_UPD, k);
			return;
		}
		m->step++;
		modem_at(r, m->step <= n ? T_UPD_STEP : T_END);
		modem_urc(r, QIND_STAGE_UPDATING, "UPDATING", values[k - 1]);
		return;
	}
	if (code == 0)
		m->flash_new = TRUE;
	m->phase = MP_POST;
	modem_at(r, T_POST);
	modem_urc(r, QIND_STAGE_END, "END", code);
}

static void
modem_step(Run *r)
{
	Modem *m = &r->m;

	switch (m->phase) {
	case MP_DL:
		modem_download_step(r);
		return;
	case MP_DATA:
		if (m->step == 0) {
			m->step = 1;
			m->last_byte_at = r->t;
			push(r, Q_DATA_IDLE, r->t + T_MODEM_FILE_IDLE, m->mgen, 0);
			modem_urc(r, QIND_STAGE_FILESTART, "FILESTART", -1);
			return;
		}
		modem_file_progress(r);
		return;
	case MP_CHECK:
		modem_check_step(r);
		return;
	case MP_PKG:
		if (r->sc->mode == 1) {
			m->phase = MP_UPD;
			m->step = 0;
			modem_update_step(r);
		} else if (r->sc->variant == V_SILENT_UPDATE) {
			m->flash_new = TRUE;
			modem_reboot(r, T_REBOOT + T_SILENT_UPD, MP_IDLE, 0);
		} else {
			modem_reboot(r, T_REBOOT, MP_UPD, 0);
		}
		return;
	case MP_UPD:
		modem_update_step(r);
		return;
	case MP_POST:
		modem_reboot(r, T_REBOOT, MP_IDLE, 0);
		return;
	case MP_IDLE:
	case MP_BOOTING:
		return;
	}
}

/* ---- the shell: the port as FotaModem shows it ---- */

static void
port_went_down(Run *r)
{
	JobEvent e = {.kind = JOB_EVENT_PORT_LOST};

	r->has_held = FALSE; /* a held-back URC dies with the tty */
	r->resetting = FALSE;
	if (!r->alive)
		return;
	r->epoch++;
	for (guint i = 0; i < r->cmds; i++)
		push(r, Q_REPLY, r->t, r->dgen, r->epoch)->failure = JOB_FAILURE_PORT_GONE;
	for (guint i = 0; i < r->idents; i++)
		push(r, Q_IDENTIFIED, r->t, r->dgen, r->epoch)->failure = JOB_FAILURE_PORT_GONE;
	if (r->streaming) {
		r->streaming = FALSE;
		r->sgen++;
		push(r, Q_STREAM_DONE, r->t, r->dgen, 0)->failure = JOB_FAILURE_PORT_GONE;
	}
	if (r->told_up) {
		r->told_up = FALSE;
		feed(r, &e);
	}
}

static void
port_came_up(Run *r, gboolean booted)
{
	r->port_up_at = r->t;
	if (!r->alive)
		return;
	if (booted)
		r->dm = FALSE; /* a reboot ends data mode; FotaModem sees RDY */
	if (r->dm) {
		/* FotaModem probes only once the modem can have stopped counting */
		r->ready_pending = TRUE;
		schedule_dm_check(r);
		return;
	}
	deliver_ready(r);
	try_grant(r);
}

/* ---- performing the machine's actions ---- */

static void
reply(Run *r, gint64 delay, JobFailure failure)
{
	push(r, Q_REPLY, r->t + delay, r->dgen, r->epoch)->failure = failure;
}

static gboolean
may_talk(Run *r, const char *what)
{
	if (!r->lease_held) {
		run_fail(r, "%s without holding the port's lease", what);
		return FALSE;
	}
	if (modem_data_mode(&r->m)) {
		run_fail(r,
		         "%s while the modem is in FILE data mode (it counts it as package "
		         "bytes)",
		         what);
		return FALSE;
	}
	return TRUE;
}

static void
do_reset(Run *r)
{
	Modem *m = &r->m;

	if (!may_talk(r, "RESET"))
		return;
	r->cmds++;
	if (!m->port_up) {
		reply(r, 0, JOB_FAILURE_PORT_GONE);
	} else if (m->phase == MP_UPD) {
		tr(r, "modem: refuses AT+CFUN=1,1 while writing flash");
		reply(r, T_REPLY, JOB_FAILURE_REFUSED);
	} else {
		m->reset_pending = TRUE;
		r->resetting = TRUE;
		reply(r, T_REPLY, JOB_FAILURE_NONE);
		push(r, Q_MODEM_RESET, r->t + T_RESET_GOES, m->boots, 0);
	}
}

static void
do_send(Run *r, const char *command)
{
	Modem *m = &r->m;

	if (command == NULL) {
		run_fail(r, "SEND without a command");
		return;
	}
	if (!may_talk(r, "SEND"))
		return;
	r->cmds++;
	if (!m->port_up) {
		reply(r, 0, JOB_FAILURE_PORT_GONE);
		return;
	}
	if (strcmp(command, "AT+CFUN=1,1") == 0) {
		r->cmds--;
		do_reset(r);
		return;
	}
	if (g_str_has_prefix(command, "AT+QFOTADL=")) {
		if (!g_str_has_prefix(command, r->qfotadl)) {
			run_fail(r, "a wrong AT+QFOTADL (expected %s...)", r->qfotadl);
			return;
		}
		if (m->accepted > 0) {
			run_fail(r, "AT+QFOTADL sent again after the modem took one");
			return;
		}
		if (r->sc->variant == V_REFUSE || m->phase != MP_IDLE) {
			reply(r, T_REPLY, JOB_FAILURE_REFUSED);
			return;
		}
		modem_accept(r);
		if (r->sc->variant == V_NO_OK) {
			reply(r, config.bounds.command * MS, JOB_FAILURE_TIMEOUT);
			return;
		}
	}
	if (r->sc->variant == V_PREPARE_ERROR &&
	    (g_str_has_prefix(command, "AT+QIACT=") ||
	     g_str_has_prefix(command, "AT+QCFG=\"usbifc\""))) {
		reply(r, T_REPLY, JOB_FAILURE_REFUSED);
		return;
	}
	reply(r, T_REPLY, JOB_FAILURE_NONE);
}

static void
do_stream(Run *r)
{
	Modem *m = &r->m;

	if (r->streaming) {
		run_fail(r, "STREAM while a stream runs");
		return;
	}
	if (!m->port_up) {
		push(r, Q_STREAM_DONE, r->t, r->dgen, 0)->failure = JOB_FAILURE_PORT_GONE;
		return;
	}
	if (m->phase != MP_DATA || m->bytes > 0) {
		run_fail(r, "STREAM while the modem does not wait for a package (%s)",
		         phase_names[m->phase]);
		return;
	}
	r->streaming = TRUE;
	r->chunks = 0;
	push(r, Q_CHUNK, r->t + T_CHUNK, r->dgen, ++r->sgen);
}

static void
stop_stream(Run *r, JobFailure failure)
{
	if (!r->streaming)
		return;
	r->streaming = FALSE;
	r->sgen++;
	push(r, Q_STREAM_DONE, r->t, r->dgen, 0)->failure = failure;
	schedule_dm_check(r);
}

static void
save(Run *r)
{
	job_record_free(r->saved_prev);
	r->saved_prev = r->saved;
	r->saved = job_record_copy(job_machine_record(r->jm));
	if (g_strcmp0(r->saved->usb_power_previous, r->power_kept) != 0)
		run_fail(r, "a save keeps usb-power-previous %s, not %s",
		         r->saved->usb_power_previous ? r->saved->usb_power_previous : "(none)",
		         r->power_kept ? r->power_kept : "(none)");
}

/* A verdict's message with its revisions and numbers blanked: failures
 * are told apart by what the machine said. */
static void
blank(char *out, gsize size, const char *message)
{
	gsize o = 0;

	for (const char *p = message; *p != '\0' && o + 4 < size;) {
		if (g_str_has_prefix(p, OLD_REV) || g_str_has_prefix(p, NEW_REV)) {
			memcpy(out + o, "REV", 3);
			o += 3;
			p += strlen(OLD_REV);
		} else if (g_ascii_isdigit(*p)) {
			out[o++] = '#';
			while (g_ascii_isdigit(*p) || *p == '.')
				p++;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
}

/* The verdict against the truth. */
static void
verdict(Run *r)
{
	const JobRecord *rec = job_machine_record(r->jm);
	gboolean now_new = r->m.running_new;
	gboolean later_new = modem_will_upgrade(r);
	const char *message = rec->message ? rec->message : "";
	const char *phase = phase_names[r->m.phase];

	r->claim = job_machine_claim(r->jm);
	r->state = rec->state;
	blank(r->message, sizeof(r->message), message);
	if (r->mut == MUT_CLAIM_UNCHANGED)
		r->claim = JOB_CLAIM_UNCHANGED;
	if (r->mut == MUT_SAFE_MESSAGE)
		message = "safe to start again";
	tr(r, "verdict: %s, claim %d, modem %s (%s, %s): %s", fota_state_to_string(rec->state),
	   r->claim, modem_revision(&r->m), phase,
	   later_new ? "will run the new firmware" : "stays old", message);
	if (!fota_state_is_final(rec->state)) {
		run_fail(r, "FINISH with the record in a state that is not final");
		return;
	}
	if (rec->state == FOTA_STATE_SUCCEEDED && !now_new) {
		run_fail(r, "succeeded, but the modem runs its old firmware");
		return;
	}
	switch (r->claim) {
	case JOB_CLAIM_NONE:
		run_fail(r, "final with claim NONE");
		return;
	case JOB_CLAIM_UPGRADED:
		if (!now_new)
			run_fail(r, "claims UPGRADED, but the modem runs its old firmware");
		break;
	case JOB_CLAIM_UNCHANGED:
		if (now_new)
			run_fail(r, "claims UNCHANGED, but the modem runs the new firmware");
		else if (later_new)
			run_fail(r, "claims UNCHANGED while the modem can still upgrade (%s)",
			         phase);
		break;
	case JOB_CLAIM_CHANGED:
		run_fail(r, "claims CHANGED: the modem only ever runs the old or the new revision");
		break;
	case JOB_CLAIM_UNKNOWN:
		break;
	}
	if (r->failed)
		return;
	if (rec->state == FOTA_STATE_SUCCEEDED && r->claim != JOB_CLAIM_UPGRADED)
		run_fail(r, "succeeded without claiming UPGRADED");
	else if (strstr(message, "safe to start again") && r->claim != JOB_CLAIM_UNCHANGED)
		run_fail(r, "says \"safe to start again\" without claiming UNCHANGED");
	else if (r->mut == MUT_NONE && !fota_state_is_final(r->saved->state))
		run_fail(r, "FINISH before the final record was saved");
}

static void
do_finish(Run *r)
{
	r->finished = TRUE;
	verdict(r);
	/* FotaJob releases everything: the lease, the timers, the stream */
	r->lease_wanted = r->lease_held = FALSE;
	r->streaming = FALSE;
	r->sgen++;
	for (guint i = 0; i < JOB_N_TIMERS; i++) {
		r->armed[i] = FALSE;
		r->tgen[i]++;
	}
}

static const char *const action_names[] = {
        [JOB_ACTION_ACQUIRE] = "ACQUIRE",
        [JOB_ACTION_IDENTIFY] = "IDENTIFY",
        [JOB_ACTION_SEND] = "SEND",
        [JOB_ACTION_RESET] = "RESET",
        [JOB_ACTION_DATA_MODE] = "DATA_MODE",
        [JOB_ACTION_STREAM] = "STREAM",
        [JOB_ACTION_STOP_STREAM] = "STOP_STREAM",
        [JOB_ACTION_ARM] = "ARM",
        [JOB_ACTION_DISARM] = "DISARM",
        [JOB_ACTION_SAVE] = "SAVE",
        [JOB_ACTION_NOTIFY] = "NOTIFY",
        [JOB_ACTION_FINISH] = "FINISH",
};

static void
do_actions(Run *r)
{
	guint n = 0;
	const JobAction *a = job_machine_actions(r->jm, &n);

	for (guint i = 0; i < n && !r->failed; i++) {
		if (r->finished) {
			run_fail(r, "%s after FINISH", action_names[a[i].kind]);
			return;
		}
		if (r->trace && a[i].kind == JOB_ACTION_ARM)
			tr(r, "      -> ARM %s %g s",
			   a[i].timer == JOB_TIMER_WAIT ? "wait" : "phase", a[i].ms / 1000.0);
		else if (r->trace && a[i].kind == JOB_ACTION_DISARM)
			tr(r, "      -> DISARM %s",
			   a[i].timer == JOB_TIMER_WAIT ? "wait" : "phase");
		else if (r->trace && a[i].kind != JOB_ACTION_NOTIFY)
			tr(r, "      -> %s%s%s", action_names[a[i].kind], a[i].command ? " " : "",
			   a[i].command ? a[i].command : "");
		switch (a[i].kind) {
		case JOB_ACTION_ACQUIRE:
			r->lease_wanted = TRUE;
			try_grant(r);
			break;
		case JOB_ACTION_IDENTIFY:
			if (!may_talk(r, "IDENTIFY"))
				break;
			r->idents++;
			if (r->m.port_up)
				push(r, Q_IDENTIFIED, r->t + T_IDENTIFY, r->dgen, r->epoch);
			else
				push(r, Q_IDENTIFIED, r->t, r->dgen, r->epoch)->failure =
				        JOB_FAILURE_PORT_GONE;
			break;
		case JOB_ACTION_SEND:
			do_send(r, a[i].command);
			break;
		case JOB_ACTION_RESET:
			do_reset(r);
			break;
		case JOB_ACTION_DATA_MODE:
			r->dm = TRUE;
			r->dm_since = r->t;
			schedule_dm_check(r);
			break;
		case JOB_ACTION_STREAM:
			do_stream(r);
			break;
		case JOB_ACTION_STOP_STREAM:
			stop_stream(r, JOB_FAILURE_OTHER);
			break;
		case JOB_ACTION_ARM:
			if (a[i].timer >= JOB_N_TIMERS || a[i].ms < 0) {
				run_fail(r, "ARM of a bad timer or a negative time");
				break;
			}
			if (r->mut == MUT_DROP_ARM)
				break;
			r->armed[a[i].timer] = TRUE;
			push(r, Q_TIMER, r->t + a[i].ms * MS, r->dgen, ++r->tgen[a[i].timer])
			        ->timer = a[i].timer;
			break;
		case JOB_ACTION_DISARM:
			if (a[i].timer >= JOB_N_TIMERS) {
				run_fail(r, "DISARM of a bad timer");
				break;
			}
			r->armed[a[i].timer] = FALSE;
			r->tgen[a[i].timer]++;
			break;
		case JOB_ACTION_SAVE:
			save(r);
			break;
		case JOB_ACTION_NOTIFY:
			break;
		case JOB_ACTION_FINISH:
			do_finish(r);
			break;
		}
	}
	if (!r->failed && !r->finished && job_machine_is_final(r->jm))
		run_fail(r, "final without a FINISH action");
}

/* Events after FINISH change nothing and ask for nothing. */
static void
check_silence_after_finish(Run *r)
{
	QindFota q = {.kind = QIND_STAGE_END, .stage = "END", .value_kind = QIND_VALUE_INT};
	JobEvent events[] = {
	        {.kind = JOB_EVENT_URC, .qind = &q},
	        {.kind = JOB_EVENT_PORT_LOST},
	        {.kind = JOB_EVENT_PORT_READY, .revision = OLD_REV, .port = PORT_ID},
	        {.kind = JOB_EVENT_TIMER, .timer = JOB_TIMER_WAIT},
	        {.kind = JOB_EVENT_CANCEL},
	};

	for (guint i = 0; i < G_N_ELEMENTS(events) && !r->failed; i++) {
		guint n = 0;

		events[i].now_us = r->t + r->wall_off;
		events[i].boot_us = r->t - r->boot_origin;
		job_machine_feed(r->jm, &events[i]);
		job_machine_actions(r->jm, &n);
		if (n > 0)
			run_fail(r, "actions for an event after FINISH");
	}
}

static const char *const failure_names[] = {
        "ok", "timeout", "refused", "port gone", "changed", "other",
};

static void
trace_event(Run *r, const JobEvent *e)
{
	switch (e->kind) {
	case JOB_EVENT_START:
		tr(r, "START");
		break;
	case JOB_EVENT_RESUME:
		tr(r, "RESUME%s (record %s)%s%s",
		   g_strcmp0(job_machine_record(r->jm)->boot_id, e->boot_id) != 0
		           ? " after a host reboot"
		           : "",
		   fota_state_to_string(job_machine_record(r->jm)->state),
		   e->revision ? ", modem ready with " : "", e->revision ? e->revision : "");
		break;
	case JOB_EVENT_PORT_GRANTED:
		tr(r, "PORT_GRANTED");
		break;
	case JOB_EVENT_IDENTIFIED:
		tr(r, "IDENTIFIED %s", e->failure ? failure_names[e->failure] : e->revision);
		break;
	case JOB_EVENT_OPTIONS_UNFIT:
		tr(r, "OPTIONS_UNFIT");
		break;
	case JOB_EVENT_REPLY:
		tr(r, "REPLY %s", failure_names[e->failure]);
		break;
	case JOB_EVENT_URC:
		tr(r, "URC %s,%" G_GINT64_FORMAT, e->qind->stage,
		   e->qind->value_kind == QIND_VALUE_INT ? e->qind->value : -1);
		break;
	case JOB_EVENT_PORT_LOST:
		tr(r, "PORT_LOST");
		break;
	case JOB_EVENT_PORT_READY:
		tr(r, "PORT_READY %s", e->revision);
		break;
	case JOB_EVENT_STREAM_SENT:
		tr(r, "STREAM_SENT %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT, e->sent, e->total);
		break;
	case JOB_EVENT_STREAM_DONE:
		tr(r, "STREAM_DONE %s", failure_names[e->failure]);
		break;
	case JOB_EVENT_TIMER:
		tr(r, "TIMER %s", e->timer == JOB_TIMER_WAIT ? "wait" : "phase");
		break;
	case JOB_EVENT_CANCEL:
		tr(r, "CANCEL");
		break;
	case JOB_EVENT_USB_POWER:
		tr(r, "USB_POWER %s", e->text);
		break;
	}
}

static void
feed(Run *r, JobEvent *e)
{
	if (r->jm == NULL || !r->alive || r->finished || r->failed)
		return;
	e->now_us = r->t + r->wall_off;
	e->boot_us = r->t - r->boot_origin;
	if (r->trace)
		trace_event(r, e);
	job_machine_feed(r->jm, e);
	r->feeds++;
	do_actions(r);
	if (r->finished && !r->failed)
		check_silence_after_finish(r);
}

/* ---- restarts and the other faults ---- */

static void
daemon_stop(Run *r, FaultKind kind)
{
	gboolean host = kind == F_HOST || kind == F_HOST_BEHIND || kind == F_HOST_POWER;

	tr(r, "DAEMON STOPS (%s)", fault_names[kind]);
	g_clear_pointer(&r->jm, job_machine_free);
	r->alive = FALSE;
	r->dgen++;
	r->cmds = r->idents = 0;
	r->lease_wanted = r->lease_held = FALSE;
	r->told_up = r->ready_pending = FALSE;
	r->dm = FALSE;
	r->streaming = FALSE;
	r->sgen++;
	r->resetting = FALSE;
	r->has_held = FALSE;
	for (guint i = 0; i < JOB_N_TIMERS; i++) {
		r->armed[i] = FALSE;
		r->tgen[i]++;
	}
	r->resume_behind = kind == F_RESTART_BEHIND || kind == F_HOST_BEHIND;
	r->resume_host = host;
	if (kind == F_HOST_POWER)
		modem_crash(r);
	if (host)
		modem_bounce(r, T_HOST_REBOOT); /* the tty is gone while the host is */
	push(r, Q_RESUME, r->t + (host ? T_HOST_REBOOT : T_RESTART), r->dgen, 0);
}

/* The host boot's id, as a record keeps it. */
static char *
boot_id_of(guint boot_no)
{
	return g_strdup_printf("%032x", boot_no);
}

static void
daemon_resume(Run *r)
{
	JobRecord *rec;
	gboolean behind = r->resume_behind && r->saved_prev != NULL;
	g_autofree char *boot_id = NULL;
	JobEvent power = {.kind = JOB_EVENT_USB_POWER, .text = POWER_FORCED};
	JobEvent e = {.kind = JOB_EVENT_RESUME};
	gboolean up;

	if (r->resume_host) {
		r->boot_no++;
		r->boot_origin = r->t - T_BOOT_AT_RESUME;
	}
	rec = job_record_copy(behind ? r->saved_prev : r->saved);
	r->restarts++;
	r->alive = TRUE;
	r->jm = job_machine_new(rec, &config);
	if (fota_state_is_final(rec->state)) {
		/* FotaJobManager shows a finished record; it does not resume it */
		tr(r, "DAEMON RUNS: the record is final");
		r->finished = TRUE;
		verdict(r);
		return;
	}
	/* FotaJobManager's rule: a FILE transfer cut before its last byte may have
	 * left the modem counting bytes; nothing probes it until that is over */
	r->dm = rec->source_kind == FOTA_SOURCE_FILE && rec->sent_sha256 == NULL &&
	        (rec->state == FOTA_STATE_PREPARING || rec->state == FOTA_STATE_DOWNLOADING);
	r->dm_since = r->t;
	up = r->m.port_up && !r->dm;
	r->told_up = up;
	r->ready_pending = r->m.port_up && r->dm;
	tr(r, "DAEMON RUNS%s from the %s record", r->resume_host ? " after a host reboot" : "",
	   behind ? "older" : "last");
	/* FotaJob: the value the neighbours found goes in first, RESUME may
	 * end the job; a record that keeps a value (from before the first
	 * start, or from an earlier resume) keeps it */
	r->power_kept =
	        g_strcmp0(rec->usb_power_previous, POWER_BEFORE) == 0 ? POWER_BEFORE : POWER_FORCED;
	feed(r, &power);
	boot_id = boot_id_of(r->boot_no);
	e.boot_id = boot_id;
	if (up) {
		e.revision = modem_revision(&r->m);
		e.port = PORT_ID;
	}
	feed(r, &e);
	schedule_dm_check(r);
}

static void
inject(Run *r, FaultKind kind)
{
	JobEvent e = {.kind = JOB_EVENT_CANCEL};

	switch (kind) {
	case F_RESTART:
	case F_RESTART_BEHIND:
	case F_HOST:
	case F_HOST_BEHIND:
	case F_HOST_POWER:
		if (r->alive)
			daemon_stop(r, kind);
		return;
	case F_BOUNCE:
		modem_bounce(r, T_BOUNCE);
		return;
	case F_CRASH:
		tr(r, "modem: CRASH");
		modem_crash(r);
		return;
	case F_CLOCK_FWD:
	case F_CLOCK_BACK:
		tr(r, "wall clock steps %s 2 h", kind == F_CLOCK_FWD ? "ahead" : "back");
		r->wall_off += kind == F_CLOCK_FWD ? CLOCK_STEP : -CLOCK_STEP;
		return;
	case F_CANCEL:
		if (r->alive && job_machine_cannot_cancel(r->jm) == NULL)
			feed(r, &e);
		return;
	case F_NONE:
	case N_FAULT_KINDS:
		return;
	}
}

/* ---- the loop ---- */

static gboolean
item_live(const Run *r, const QItem *it)
{
	const Modem *m = &r->m;
	gboolean daemon = r->alive && it->gen == r->dgen;

	switch ((QKind)it->kind) {
	case Q_MODEM:
		return it->gen == m->mgen;
	case Q_PORT_BACK:
		return it->gen == m->mgen && m->phase == MP_BOOTING;
	case Q_BOUNCE_BACK:
		return !m->port_up && m->phase != MP_BOOTING && r->t >= m->bounce_until;
	case Q_DATA_IDLE:
		return it->gen == m->mgen && m->phase == MP_DATA && m->step == 1 &&
		       r->t - m->last_byte_at >= T_MODEM_FILE_IDLE;
	case Q_MODEM_RESET:
		return it->gen == m->boots && m->reset_pending;
	case Q_REPLY:
	case Q_IDENTIFIED:
		return daemon && it->epoch == r->epoch;
	case Q_GRANT:
		return daemon && r->lease_wanted && usable(r);
	case Q_CHUNK:
		return daemon && it->epoch == r->sgen && r->streaming;
	case Q_STREAM_DONE:
		return daemon;
	case Q_DM_CHECK:
		return daemon && it->epoch == r->dmgen && r->dm && !r->streaming && m->port_up;
	case Q_TIMER:
		return daemon && r->armed[it->timer] && it->epoch == r->tgen[it->timer];
	case Q_RESUME:
		return !r->alive && it->gen == r->dgen;
	}
	return FALSE;
}

static void
process(Run *r, const QItem *it)
{
	Modem *m = &r->m;
	JobEvent e = {0};

	switch ((QKind)it->kind) {
	case Q_MODEM:
		modem_step(r);
		return;
	case Q_PORT_BACK:
		m->phase = m->after_boot;
		m->step = m->after_step;
		m->running_new = m->flash_new;
		if (m->phase != MP_IDLE)
			modem_at(r, T_AFTER_BOOT);
		if (r->t >= m->bounce_until)
			modem_port_back(r);
		return;
	case Q_BOUNCE_BACK:
		modem_port_back(r);
		return;
	case Q_DATA_IDLE:
		tr(r, "modem: no byte for %g s, drops the package",
		   (double)T_MODEM_FILE_IDLE / SEC);
		m->phase = MP_IDLE;
		modem_urc(r, QIND_STAGE_FILEEND, "FILEEND", 500);
		return;
	case Q_MODEM_RESET:
		tr(r, "modem: resets (AT+CFUN=1,1)");
		modem_crash(r);
		return;
	case Q_REPLY:
		r->cmds--;
		e.kind = JOB_EVENT_REPLY;
		e.failure = it->failure;
		e.text = it->failure == JOB_FAILURE_REFUSED   ? "ERROR"
		         : it->failure == JOB_FAILURE_TIMEOUT ? "no answer"
		         : it->failure == JOB_FAILURE_NONE    ? NULL
		                                              : "the port went away";
		feed(r, &e);
		return;
	case Q_IDENTIFIED:
		r->idents--;
		e.kind = JOB_EVENT_IDENTIFIED;
		e.failure = it->failure;
		if (it->failure == JOB_FAILURE_NONE) {
			e.revision = modem_revision(m);
			e.port = PORT_ID;
		} else {
			e.text = "the port went away";
		}
		feed(r, &e);
		return;
	case Q_GRANT:
		r->lease_wanted = FALSE;
		r->lease_held = TRUE;
		e.kind = JOB_EVENT_PORT_GRANTED;
		feed(r, &e);
		return;
	case Q_CHUNK:
		r->chunks++;
		modem_receive(r, PACKAGE_SIZE / N_CHUNKS);
		r->last_byte_at = r->t;
		e.kind = JOB_EVENT_STREAM_SENT;
		e.sent = PACKAGE_SIZE * r->chunks / N_CHUNKS;
		e.total = PACKAGE_SIZE;
		feed(r, &e);
		if (!r->streaming || it->epoch != r->sgen || !r->alive || r->failed)
			return;
		if (r->chunks < N_CHUNKS) {
			push(r, Q_CHUNK, r->t + T_CHUNK, r->dgen, r->sgen);
			return;
		}
		r->streaming = FALSE;
		e = (JobEvent){.kind = JOB_EVENT_STREAM_DONE, .text = PACKAGE_SHA};
		feed(r, &e);
		schedule_dm_check(r);
		return;
	case Q_STREAM_DONE:
		e.kind = JOB_EVENT_STREAM_DONE;
		e.failure = it->failure;
		e.text = it->failure == JOB_FAILURE_PORT_GONE ? "the port went away" : "stopped";
		feed(r, &e);
		return;
	case Q_DM_CHECK:
		if (modem_data_mode(m)) {
			/* FotaModem's "AT" went into the package; it asks again */
			push(r, Q_DM_CHECK, r->t + config.bounds.file_idle * MS, r->dgen,
			     ++r->dmgen);
			return;
		}
		/* "AT" answered OK: FotaModem probes as after a boot and then
		 * grants the lease, which tells the machine data mode is over */
		tr(r, "shell: the modem left FILE data mode");
		r->dm = FALSE;
		if (r->ready_pending && m->port_up)
			deliver_ready(r);
		try_grant(r);
		return;
	case Q_TIMER:
		r->armed[it->timer] = FALSE;
		e.kind = JOB_EVENT_TIMER;
		e.timer = it->timer;
		feed(r, &e);
		return;
	case Q_RESUME:
		daemon_resume(r);
		return;
	}
}

/* Every bound once, twice over, per life of the daemon. */
static gint64
ceiling(const Run *r)
{
	const JobBounds *b = &config.bounds;
	gint64 sum = b->command + b->first_urc + b->urc_gap + b->download + b->update + b->reboot +
	             b->file_idle + b->port;

	return (1 + r->restarts) * 2 * sum * MS + r->restarts * T_HOST_REBOOT;
}

static JobRecord *
scenario_record(const Scenario *sc)
{
	JobRecord *rec = job_record_new();

	rec->id = g_strdup("0123456789abcdef0123456789abcdef");
	rec->source_kind = sc->source;
	if (sc->source == FOTA_SOURCE_FILE) {
		rec->source = g_strdup_printf("file:%" G_GUINT64_FORMAT, PACKAGE_SIZE);
		rec->file_size = PACKAGE_SIZE;
		rec->options.sha256 = g_strdup(PACKAGE_SHA);
	} else {
		rec->source = g_strdup(source_url(sc));
		rec->options.cid = 1;
		rec->options.apn = g_strdup("internet");
	}
	rec->options.upgrade_mode = sc->mode;
	rec->options.download_urc_max = dl_urcs(sc);
	if (sc->expected)
		rec->options.expected_revision = g_strdup(NEW_REV);
	if (!sc->unidentified) {
		rec->from_revision = g_strdup(OLD_REV);
		rec->port = g_strdup(PORT_ID);
	}
	rec->state = FOTA_STATE_PREPARING;
	rec->boot_id = boot_id_of(0);
	/* every other Start found the USB device's power/control and forced it
	 * on; the others found no USB device */
	if ((sc - scenarios) % 2 == 1)
		rec->usb_power_previous = g_strdup(POWER_BEFORE);
	return rec;
}

typedef struct {
	gboolean failed;
	char message[320];
	char why[660];
	JobClaim claim;
	FotaState state;
	guint points, urcs, restarts;
	gint64 virtual_us;
} Outcome;

static __thread sigjmp_buf *abort_jump;
static __thread char abort_message[200];
/* g_assertion_message() replaces a process-wide string (for core dumps)
 * between its g_printerr() and abort(): two runs aborting at once would
 * free it twice. Held from the one to the jump. */
static GMutex abort_lock;
static __thread gboolean abort_locked;

/* GLib says why it aborts with g_printerr() (and, for TAP, g_print()):
 * inside a run that is the machine's assertion, kept for the report. */
static void
on_printerr(const char *text)
{
	if (abort_jump == NULL) {
		fputs(text, stderr);
		return;
	}
	if (g_str_has_prefix(text, "**\n")) {
		text += 3;
		if (!abort_locked) {
			g_mutex_lock(&abort_lock);
			abort_locked = TRUE;
		}
	}
	g_strlcpy(abort_message, text, sizeof(abort_message));
	g_strchomp(abort_message);
}

static void
on_print(const char *text)
{
	if (abort_jump != NULL && g_str_has_prefix(text, "Bail out! "))
		return;
	fputs(text, stdout);
	fflush(stdout); /* as GLib's own: in order with cmocka's lines */
}

static void
on_abort(int sig)
{
	if (abort_jump != NULL)
		siglongjmp(*abort_jump, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
run_loop(Run *r)
{
	JobEvent start = {.kind = JOB_EVENT_START};
	guint iterations = 0;
	QItem it;

	feed(r, &start);
	while (!r->failed && !r->finished) {
		if (!pop(r, &it)) {
			run_fail(r,
			         "hang: nothing pending, no timer armed, the job not final "
			         "(step: %s)",
			         r->jm ? job_machine_step_name(r->jm) : "?");
			break;
		}
		r->t = MAX(r->t, it.at);
		if (r->t > ceiling(r)) {
			run_fail(r,
			         "not final within the ceiling summed from the bounds (step: %s)",
			         r->jm ? job_machine_step_name(r->jm) : "?");
			break;
		}
		if (!item_live(r, &it))
			continue;
		if (r->alive) {
			r->points++;
			for (guint i = 0; i < MAX_INJECT; i++)
				if (r->f->what[i] != F_NONE && r->f->at[i] == r->points &&
				    !r->injected[i]) {
					r->injected[i] = TRUE;
					inject(r, r->f->what[i]);
				}
			if (r->failed || r->finished || !item_live(r, &it))
				continue;
		}
		process(r, &it);
		if (++iterations > 20000)
			run_fail(r, "livelock: more than 20000 steps");
	}
}

static void
run_one(const Scenario *sc, const Faults *f, Mutation mut, GString *trace, Outcome *out)
{
	Run *r = g_new0(Run, 1);
	sigjmp_buf jump;
	JobRecord *rec;

	r->sc = sc;
	r->f = f;
	r->mut = mut;
	r->trace = trace;
	r->boot_origin = -600 * SEC;
	r->wall_off = G_GINT64_CONSTANT(1700000000) * SEC;
	r->m.port_up = TRUE;
	r->alive = TRUE;
	r->told_up = TRUE;
	g_snprintf(r->qfotadl, sizeof(r->qfotadl), "AT+QFOTADL=\"%s\",%u,%u", source_url(sc),
	           sc->mode, dl_urcs(sc));
	rec = scenario_record(sc);
	r->saved = job_record_copy(rec); /* FotaJobManager writes it before the job starts */
	r->power_kept = rec->usb_power_previous ? POWER_BEFORE : NULL;
	r->jm = job_machine_new(rec, &config);

	abort_jump = &jump;
	/* no signal mask saved: a syscall per run otherwise; SA_NODEFER and
	 * abort() leave SIGABRT unblocked after the jump */
	if (sigsetjmp(jump, 0) == 0) {
		run_loop(r);
	} else {
		/* the machine's own g_assert() fired: leak this run's memory */
		r->failed = TRUE;
		g_snprintf(r->why, sizeof(r->why), "the machine aborted: %s", abort_message);
		if (abort_locked) {
			abort_locked = FALSE;
			g_mutex_unlock(&abort_lock);
		}
		r->jm = NULL;
		tr(r, "ABORTED");
	}
	abort_jump = NULL;

	*out = (Outcome){.failed = r->failed,
	                 .claim = r->claim,
	                 .state = r->state,
	                 .points = r->points,
	                 .urcs = r->m.urcs,
	                 .restarts = r->restarts,
	                 .virtual_us = r->t};
	g_strlcpy(out->message, r->message, sizeof(out->message));
	if (r->message[0] != '\0')
		g_snprintf(out->why, sizeof(out->why), "%s\n    the machine said: %s", r->why,
		           r->message);
	else
		g_strlcpy(out->why, r->why, sizeof(out->why));
	job_machine_free(r->jm);
	job_record_free(r->saved);
	job_record_free(r->saved_prev);
	g_free(r);
}

/* ---- the enumeration ---- */

typedef struct {
	guint count;
	guint scenario;
	Faults faults;
} FailureClass;

typedef struct {
	guint runs;
	guint claims[JOB_CLAIM_UNKNOWN + 1];
	GHashTable *failures; /* why -> FailureClass */
	GHashTable *unknowns; /* the message of an "unknown" verdict -> FailureClass */
	guint skip;           /* 1 << FaultKind: left out (JOB_MACHINE_SKIP) */
	guint stride;         /* every stride-th interleaving of a part is run */
	guint seq;            /* interleavings met in the current part */
	Mutation mut;
} Tally;

static void
tally_init(Tally *t, Mutation mut)
{
	memset(t, 0, sizeof(*t));
	t->failures = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	t->unknowns = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	t->mut = mut;
	/* Under ASan+UBSan or an emulator (qemu-user: a cross build's tests,
	 * FOTA_TEST_EMULATOR) a run is 15 to 40 times slower: a fixed sample
	 * of each part (still over 10^5 runs) keeps those passes within
	 * bounds, the plain pass runs them all. */
	t->stride = g_getenv("FOTA_SANITIZED") != NULL || g_getenv("FOTA_TEST_EMULATOR") != NULL
	                    ? 16
	                    : 1;
}

static void
tally_clear(Tally *t)
{
	g_clear_pointer(&t->failures, g_hash_table_unref);
	g_clear_pointer(&t->unknowns, g_hash_table_unref);
}

static void
check(Tally *t, guint si, const Faults *f, Outcome *out)
{
	FailureClass *c;
	GHashTable *table;
	const char *key;

	for (guint i = 0; i < MAX_INJECT; i++)
		if (t->skip & (1u << f->what[i])) {
			*out = (Outcome){0};
			return;
		}
	if (t->seq++ % t->stride != si % t->stride) {
		*out = (Outcome){0};
		return;
	}
	run_one(&scenarios[si], f, t->mut, NULL, out);
	t->runs++;
	if (!out->failed)
		t->claims[out->claim]++;
	if (!out->failed && out->claim != JOB_CLAIM_UNKNOWN)
		return;
	table = out->failed ? t->failures : t->unknowns;
	key = out->failed ? out->why : out->message;
	c = g_hash_table_lookup(table, key);
	if (c == NULL) {
		c = g_new0(FailureClass, 1);
		c->scenario = si;
		c->faults = *f;
		g_hash_table_insert(table, g_strdup(key), c);
	}
	c->count++;
}

static const guint8 all_faults[] = {
        F_RESTART, F_RESTART_BEHIND, F_HOST,      F_HOST_BEHIND, F_HOST_POWER,
        F_BOUNCE,  F_CRASH,          F_CLOCK_FWD, F_CLOCK_BACK,  F_CANCEL,
};

/* One unit of work: part 0 of a scenario is its true run and the URC
 * faults alone; part p the faults whose first one falls on point p. */
#define PARTS_PER_SCENARIO 64

static void
enumerate_part(Tally *t, guint si, guint part)
{
	Faults f = {0};
	Outcome base, out;
	guint P, U, p = part;

	t->seq = 0;
	if (part == 0)
		check(t, si, &f, &base);
	else
		run_one(&scenarios[si], &f, MUT_NONE, NULL, &base);
	/* a faulted run can take more steps than the true one */
	P = MIN(base.points + 4, PARTS_PER_SCENARIO - 1);
	U = base.urcs + 1;
	if (part == 0) {
		/* any subset of up to three URCs lost */
		for (guint a = 1; a <= U; a++)
			for (guint b = a; b <= U; b++)
				for (guint c = b; c <= U; c++) {
					/* a == b == c: one URC; b == c: two */
					f = (Faults){.lost = {a, b == a ? 0 : b, c == b ? 0 : c}};
					check(t, si, &f, &out);
				}
		/* a URC twice, or after the next one */
		for (guint a = 1; a <= U; a++) {
			f = (Faults){.dup = a};
			check(t, si, &f, &out);
			f = (Faults){.late = a};
			check(t, si, &f, &out);
		}
		return;
	}
	if (p > P)
		return;
	/* one fault at point p, and every ordered pair of faults at p and
	 * any later point (the same point included: a crash and a restart at
	 * once) */
	for (guint a = 0; a < G_N_ELEMENTS(all_faults); a++) {
		f = (Faults){.at = {p}, .what = {all_faults[a]}};
		check(t, si, &f, &out);
		for (guint q = p; q <= P; q++)
			for (guint b = 0; b < G_N_ELEMENTS(all_faults); b++) {
				f = (Faults){.at = {p, q}, .what = {all_faults[a], all_faults[b]}};
				check(t, si, &f, &out);
			}
	}
	/* one or two URCs lost, one doubled or late, with a fault at p */
	for (guint k = 0; k < G_N_ELEMENTS(all_faults); k++) {
		for (guint a = 1; a <= U; a++) {
			for (guint b = a; b <= U; b++) {
				f = (Faults){.at = {p},
				             .what = {all_faults[k]},
				             .lost = {a, b == a ? 0 : b}};
				check(t, si, &f, &out);
			}
			f = (Faults){.at = {p}, .what = {all_faults[k]}, .dup = a};
			check(t, si, &f, &out);
			f = (Faults){.at = {p}, .what = {all_faults[k]}, .late = a};
			check(t, si, &f, &out);
		}
	}
}

typedef struct {
	Tally tally;
	gint *next;
} Worker;

static gpointer
worker_main(gpointer data)
{
	Worker *w = data;
	gint unit;

	while ((unit = g_atomic_int_add(w->next, 1)) <
	       (gint)(G_N_ELEMENTS(scenarios) * PARTS_PER_SCENARIO))
		enumerate_part(&w->tally, (guint)unit / PARTS_PER_SCENARIO,
		               (guint)unit % PARTS_PER_SCENARIO);
	return NULL;
}

static void
merge_table(GHashTable *into, GHashTable *from)
{
	GHashTableIter iter;
	gpointer key, value;

	g_hash_table_iter_init(&iter, from);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		FailureClass *c = g_hash_table_lookup(into, key);

		if (c == NULL) {
			g_hash_table_iter_steal(&iter);
			g_hash_table_insert(into, key, value);
		} else {
			c->count += ((FailureClass *)value)->count;
		}
	}
}

static void
merge(Tally *into, Tally *from)
{
	into->runs += from->runs;
	for (guint i = 0; i <= JOB_CLAIM_UNKNOWN; i++)
		into->claims[i] += from->claims[i];
	merge_table(into->failures, from->failures);
	merge_table(into->unknowns, from->unknowns);
}

/* JOB_MACHINE_SKIP="restart-behind,cancel" leaves those faults out, to
 * tell which faults a failure needs. */
static guint
skipped_faults(void)
{
	g_auto(GStrv) keys = g_strsplit(g_getenv("JOB_MACHINE_SKIP") ?: "", ",", -1);
	guint skip = 0;

	for (guint i = 0; keys[i] != NULL; i++)
		for (guint k = 1; k < N_FAULT_KINDS; k++)
			if (g_str_equal(keys[i], fault_keys[k]))
				skip |= 1u << k;
	return skip;
}

static void
enumerate_all(Tally *total, Mutation mut, guint n_threads)
{
	Worker workers[4];
	GThread *threads[4];
	gint next = 0;

	g_assert(n_threads <= G_N_ELEMENTS(workers));
	tally_init(total, mut);
	for (guint i = 0; i < n_threads; i++) {
		tally_init(&workers[i].tally, mut);
		workers[i].tally.skip = skipped_faults();
		workers[i].next = &next;
		threads[i] = g_thread_new("enumerate", worker_main, &workers[i]);
	}
	for (guint i = 0; i < n_threads; i++) {
		g_thread_join(threads[i]);
		merge(total, &workers[i].tally);
		tally_clear(&workers[i].tally);
	}
}

static gint
by_count(gconstpointer a, gconstpointer b, gpointer data)
{
	GHashTable *failures = data;
	const FailureClass *ca = g_hash_table_lookup(failures, a);
	const FailureClass *cb = g_hash_table_lookup(failures, b);

	return ca->count < cb->count ? 1 : ca->count > cb->count ? -1 : 0;
}

/* Each class once (failures, or "unknown" verdicts), with the trace of
 * the first run of the first @max_traces classes. */
static void
report_classes(Tally *t, GHashTable *table, const char *what, guint max_traces)
{
	g_autoptr(GList) keys =
	        g_list_sort_with_data(g_hash_table_get_keys(table), by_count, table);
	guint shown = 0;

	for (GList *l = keys; l != NULL; l = l->next) {
		const FailureClass *c = g_hash_table_lookup(table, l->data);
		g_autofree char *faults = faults_describe(&c->faults);
		g_autofree char *spec = faults_spec(scenarios[c->scenario].name, &c->faults);

		g_print("job-machine: %u run(s) %s: %s\n    e.g. scenario \"%s\", %s\n"
		        "    again: JOB_MACHINE_TRACE='%s' test-job-machine\n",
		        c->count, what, (const char *)l->data, scenarios[c->scenario].name, faults,
		        spec);
		if (shown++ < max_traces) {
			g_autoptr(GString) trace = g_string_new(NULL);
			Outcome out;

			run_one(&scenarios[c->scenario], &c->faults, t->mut, trace, &out);
			g_print("%s", trace->str);
		}
	}
}

static guint
thread_count(void)
{
	return CLAMP(g_get_num_processors(), 1, 2);
}

/* ---- the tests ---- */

static void
quiet_log(const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
}

static int
setup(void **state)
{
	struct sigaction sa = {.sa_handler = on_abort, .sa_flags = SA_NODEFER};

	/* the machine's g_message()s, a few per run, would drown the output */
	g_log_set_handler("quectel-fotad",
	                  G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG, quiet_log,
	                  NULL);
	/* the machine's g_assert() aborts one run, not the whole test */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGABRT, &sa, NULL);
	g_set_printerr_handler(on_printerr);
	g_set_print_handler(on_print);
	return 0;
}

static int
teardown(void **state)
{
	signal(SIGABRT, SIG_DFL);
	g_set_printerr_handler(NULL);
	g_set_print_handler(NULL);
	return 0;
}

/* Without faults every verdict is exact: the modem's truth, not "unknown". */
static void
test_true_sequences(void **state)
{
	Faults none = {0};
	gboolean bad = FALSE;

	for (guint i = 0; i < G_N_ELEMENTS(scenarios); i++) {
		const Scenario *sc = &scenarios[i];
		JobClaim want = scenario_upgrades(sc) ? JOB_CLAIM_UPGRADED : JOB_CLAIM_UNCHANGED;
		Outcome out;

		run_one(sc, &none, MUT_NONE, NULL, &out);
		if (!out.failed && out.claim == want &&
		    (out.state == FOTA_STATE_SUCCEEDED) == (want == JOB_CLAIM_UPGRADED))
			continue;
		bad = TRUE;
		g_print("job-machine: scenario \"%s\": %s (claim %d, state %s, want claim %d)\n",
		        sc->name, out.failed ? out.why : "wrong verdict", out.claim,
		        fota_state_to_string(out.state), want);
		{
			g_autoptr(GString) trace = g_string_new(NULL);

			run_one(sc, &none, MUT_NONE, trace, &out);
			g_print("%s", trace->str);
		}
	}
	assert_false(bad);
}

/* The checks themselves catch a machine that lies or never waits: the
 * shell misreads the machine on purpose, and runs must fail. */
static void
test_checker_catches_mistakes(void **state)
{
	static const Mutation mutations[] = {MUT_CLAIM_UNCHANGED, MUT_SAFE_MESSAGE, MUT_DROP_ARM};

	for (guint k = 0; k < G_N_ELEMENTS(mutations); k++) {
		Tally t;
		Faults f = {0};
		Outcome out;
		guint passed = 0;

		tally_init(&t, mutations[k]);
		for (guint i = 0; i < G_N_ELEMENTS(scenarios); i++) {
			check(&t, i, &f, &out);
			for (guint p = 1; p <= 30; p++) {
				f = (Faults){.at = {p}, .what = {F_RESTART_BEHIND}};
				check(&t, i, &f, &out);
				f = (Faults){.at = {p}, .what = {F_BOUNCE}};
				check(&t, i, &f, &out);
			}
			f = (Faults){0};
		}
		for (guint i = 0; i <= JOB_CLAIM_UNKNOWN; i++)
			passed += t.claims[i];
		g_print("job-machine: a shell that reads \"%s\": %u of %u runs caught\n",
		        mutation_names[mutations[k]], t.runs - passed, t.runs);
		assert_true(g_hash_table_size(t.failures) > 0);
		tally_clear(&t);
	}
}

static void
test_exhaustive(void **state)
{
	Tally t;
	gint64 begin = g_get_monotonic_time();
	guint n_failures = 0;
	GHashTableIter iter;
	gpointer value;

	enumerate_all(&t, MUT_NONE, thread_count());
	g_hash_table_iter_init(&iter, t.failures);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		n_failures += ((FailureClass *)value)->count;
	g_print("job-machine: %u interleavings checked\n", t.runs);
	g_print("job-machine: %u scenarios, %.1f s on %u thread(s); verdicts: %u upgraded, "
	        "%u unchanged, %u unknown; %u failed\n",
	        (guint)G_N_ELEMENTS(scenarios), (g_get_monotonic_time() - begin) / 1e6,
	        thread_count(), t.claims[JOB_CLAIM_UPGRADED], t.claims[JOB_CLAIM_UNCHANGED],
	        t.claims[JOB_CLAIM_UNKNOWN], n_failures);
	/* "unknown" is a true verdict; they are listed to show where the
	 * bounds ran out */
	if (g_getenv("JOB_MACHINE_SHOW_UNKNOWN") != NULL)
		report_classes(&t, t.unknowns, "unknown", 1);
	if (n_failures > 0)
		report_classes(&t, t.failures, "failed", 12);
	assert_true(t.runs >= 100000);
	assert_int_equal(n_failures, 0);
	tally_clear(&t);
}

/* Feeds @e at @boot_us; returns the record as the SAVE that followed wrote
 * it, NULL when none did. */
static JobRecord *
feed_and_save(JobMachine *jm, JobEvent e, gint64 boot_us)
{
	guint n = 0;
	const JobAction *a;

	e.now_us = G_GINT64_CONSTANT(1700000000) * SEC + boot_us;
	e.boot_us = boot_us;
	job_machine_feed(jm, &e);
	a = job_machine_actions(jm, &n);
	for (guint i = 0; i < n; i++)
		if (a[i].kind == JOB_ACTION_SAVE)
			return job_record_copy(job_machine_record(jm));
	return NULL;
}

/* The machine is the record's one writer: the USB device's power/control
 * value and the boot id reach the saved record through its events; the
 * value from before the first start is never replaced, a final job takes
 * none. */
static void
test_usb_power_and_boot_id_saved(void **state)
{
	g_autoptr(JobMachine) jm = job_machine_new(scenario_record(&scenarios[0]), &config);
	g_autoptr(JobMachine) done = NULL;
	g_autoptr(JobRecord) saved = NULL;
	g_autoptr(JobRecord) final = scenario_record(&scenarios[0]);
	g_autofree char *boot0 = boot_id_of(0);
	g_autofree char *boot1 = boot_id_of(1);
	const JobEvent power = {.kind = JOB_EVENT_USB_POWER, .text = POWER_BEFORE};
	const JobEvent forced = {.kind = JOB_EVENT_USB_POWER, .text = POWER_FORCED};

	assert_null(job_machine_record(jm)->usb_power_previous);
	saved = feed_and_save(jm, power, 10 * SEC);
	assert_non_null(saved);
	assert_string_equal(saved->usb_power_previous, POWER_BEFORE);
	g_clear_pointer(&saved, job_record_free);

	/* a resumed job finds its own "on": the value from before stays */
	assert_null(feed_and_save(jm, forced, 11 * SEC));
	assert_string_equal(job_machine_record(jm)->usb_power_previous, POWER_BEFORE);

	/* the host rebooted: the record keeps the new boot, its waits start
	 * afresh on the new boot's clock */
	assert_string_equal(job_machine_record(jm)->boot_id, boot0);
	saved = feed_and_save(jm, (JobEvent){.kind = JOB_EVENT_RESUME, .boot_id = boot1}, 12 * SEC);
	assert_non_null(saved);
	assert_string_equal(saved->boot_id, boot1);
	assert_int_equal(saved->state_since_boot_us, 12 * SEC);
	assert_string_equal(saved->usb_power_previous, POWER_BEFORE);

	/* a final job takes no event */
	final->state = FOTA_STATE_FAILED;
	done = job_machine_new(g_steal_pointer(&final), &config);
	assert_null(feed_and_save(done, power, 13 * SEC));
	assert_null(job_machine_record(done)->usb_power_previous);
}

/* JOB_MACHINE_TRACE="<scenario>;<fault>@<point>;lost=<urc>,..." prints
 * one run step by step (the report of a failure names it). */
static void
test_trace(void **state)
{
	const char *spec = g_getenv("JOB_MACHINE_TRACE");
	g_autoptr(GString) trace = g_string_new(NULL);
	guint si;
	Faults f;
	Outcome out;

	if (spec == NULL)
		skip();
	if (!faults_parse(spec, &si, &f))
		fail_msg("JOB_MACHINE_TRACE: cannot read '%s'", spec);
	run_one(&scenarios[si], &f, MUT_NONE, trace, &out);
	g_print("%s", trace->str);
	g_print("job-machine: %s\n", out.failed ? out.why : "verdict true");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_trace),
	        cmocka_unit_test(test_usb_power_and_boot_id_saved),
	        cmocka_unit_test(test_true_sequences),
	        cmocka_unit_test(test_checker_catches_mistakes),
	        cmocka_unit_test(test_exhaustive),
	};

	if (g_getenv("JOB_MACHINE_TRACE") != NULL)
		cmocka_set_test_filter("test_trace");
	return cmocka_run_group_tests(tests, setup, teardown);
}
