/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sim-fota.h"

#include "sim-cmdscan.h"
#include "sim-net.h"
#include "sim-package.h"
#include "sim-trace.h"

#include <string.h>

/* Guide codes the engine itself produces. */
#define FILE_ERR_DOWNLOAD 500 /* FILEEND: file download error (stall) */
#define HTTP_ERR_NO_NET   708 /* HTTPEND: network not configured */
#define FTP_ERR_NETWORK   605 /* FTPEND: network error */
/* How long a failing package check takes between START and END. */
#define CHECK_FAIL_MS 50
/* What a modem prints when it comes back in the middle of an update (EC800K, BG96 logs). */
#define CONTINUE_UPGRADE "+QIND: \"FOTA\",\"Last upgrade was not finished,continue upgrade\""

/* RESTORE percentages after a failed update (--restore), as "n%". */
static const int restore_percents[] = {1, 25, 50, 75, 100};

/* Faults that fire once per simulator run, so that a retry can succeed. */
typedef enum {
	FAULT_HANGUP = 1 << 0,
	FAULT_CUT = 1 << 1,
	FAULT_REFUSE = 1 << 2,
	FAULT_RESTORE = 1 << 3,
	FAULT_HOLD = 1 << 4,
} Fault;

typedef enum {
	ST_IDLE,
	ST_SILENT,      /* --silent: accepted, then nothing until a reboot */
	ST_FILE,        /* receiving FILE bytes */
	ST_FILE_CHECK,  /* --file-end-delay-ms: all bytes in, FILEEND not yet sent */
	ST_NET,         /* network download running */
	ST_AWAIT_BOOT,  /* upgrade_mode 0: update after the reboot */
	ST_CHECK,       /* --check-ms: checking the package before START */
	ST_UPDATE,      /* between START and END */
	ST_UPDATE_BOOT, /* --reboot-mid-update: the update goes on after this boot */
	ST_TRACE,       /* --trace: the field trace says what the modem prints */
} State;

/* What the update does after START, one step per tick. */
typedef struct {
	const char *stage; /* "UPDATING", "RESTORE"; NULL: the reboot in the middle */
	int value;
	gboolean percent; /* printed as "n%" */
} UpdateStep;

typedef enum {
	TRACE_WAIT_DELAY, /* a step's delay runs (or nothing to wait for) */
	TRACE_WAIT_BOOT,  /* @reboot / @vanish: until the modem speaks again */
	TRACE_WAIT_FILE,  /* @file: until the package bytes came */
} TraceWait;

struct _SimFota {
	SimModem *modem;
	State state;
	SimFotadlRequest *request;
	SimPackageParser *parser;
	SimCmdScan scan; /* AT command lines among the FILE bytes */
	guint timer;
	gint64 phase_start_us;
	guint downloading_sent;
	Fault fired;      /* the once-per-run faults that have happened */
	gboolean holding; /* --file-hold: not reading until sim_fota_release_hold() */

	SimNetDownload *net;
	gboolean net_done;
	int net_code;

	int update_code;
	char *to_revision;
	GArray *steps; /* of UpdateStep */
	guint step_index;
	guint step_interval_ms;
	gboolean quiet;

	gboolean trace_played; /* --trace is played for the first accepted AT+QFOTADL= only */
	guint trace_index;     /* the next step */
	guint trace_timer;
	TraceWait trace_wait;
	gboolean trace_tail; /* past the trace's last reboot: playing while the engine is idle */
};

static void
remove_timer(SimFota *fota)
{
	if (fota->timer != 0)
		g_source_remove(fota->timer);
	fota->timer = 0;
}

/* Back to idle: every phase's resources go. */
static void
reset(SimFota *fota)
{
	remove_timer(fota);
	if (fota->trace_timer != 0 && !fota->trace_tail)
		g_source_remove(fota->trace_timer);
	if (!fota->trace_tail)
		fota->trace_timer = 0;
	if (fota->net != NULL) {
		sim_net_download_cancel(fota->net);
		g_clear_pointer(&fota->net, sim_net_download_unref);
	}
	g_clear_pointer(&fota->request, sim_fotadl_request_free);
	g_clear_pointer(&fota->parser, sim_package_parser_free);
	sim_cmdscan_clear(&fota->scan);
	g_clear_pointer(&fota->to_revision, g_free);
	g_clear_pointer(&fota->steps, g_array_unref);
	fota->net_done = FALSE;
	fota->downloading_sent = 0;
	fota->step_index = 0;
	fota->quiet = FALSE;
	fota->holding = FALSE;
	fota->trace_wait = TRACE_WAIT_DELAY;
	fota->state = ST_IDLE;
}

static gboolean
fault_due(SimFota *fota, Fault fault, gboolean configured)
{
	return configured && (fota->fired & fault) == 0;
}

static void
urc(SimFota *fota, const char *stage, int value)
{
	if (value < 0)
		sim_out_printf(fota->modem->out, "+QIND: \"FOTA\",\"%s\"", stage);
	else
		sim_out_printf(fota->modem->out, "+QIND: \"FOTA\",\"%s\",%d", stage, value);
}

/* FTP / HTTP (https too, as in the guide, unless --https-stages) / FILE, for <X>START and
 * <X>END. */
static const char *
stage_prefix(const SimFota *fota)
{
	switch (fota->request->kind) {
	case SIM_URL_FTP:
		return "FTP";
	case SIM_URL_FILE:
		return "FILE";
	case SIM_URL_HTTPS:
		return fota->modem->cfg->https_stages ? "HTTPS" : "HTTP";
	default:
		return "HTTP";
	}
}

/* --no-download-urcs: a network download says nothing at all. */
static gboolean
download_mute(const SimFota *fota)
{
	return fota->modem->cfg->no_download_urcs && fota->request->kind != SIM_URL_FILE;
}

static void
stage_urc(SimFota *fota, const char *suffix, int value)
{
	g_autofree char *stage = g_strconcat(stage_prefix(fota), suffix, NULL);

	if (!download_mute(fota))
		urc(fota, stage, value);
}

static gboolean
hangup_due(SimFota *fota, SimHangupPhase phase)
{
	return fault_due(fota, FAULT_HANGUP, fota->modem->cfg->hangup_at == phase);
}

/* The modem crashes: the tty vanishes, FOTA state is lost, the revision stays. */
static void
crash(SimFota *fota, SimHangupPhase phase)
{
	SimLogEntry *entry = sim_log_begin(fota->modem->log, "hangup");

	sim_log_str(entry, "phase", sim_hangup_phase_name(phase));
	sim_log_end(entry);
	fota->fired |= FAULT_HANGUP;
	reset(fota);
	sim_modem_reboot(fota->modem, "crash", TRUE);
}

/* DOWNLOADING k for every k/N reached by done/total (N = download_URC_max). */
static void
send_downloading(SimFota *fota, guint64 done, guint64 total)
{
	guint64 n = (guint64)fota->request->download_urc_max;

	/* --download-silence: nothing between <X>START and <X>END (BC660K, 8 MB flash FILE). */
	if (fota->modem->cfg->download_silence_ms > 0 || download_mute(fota))
		return;
	while (total > 0 && fota->downloading_sent < n &&
	       (fota->downloading_sent + 1) * total <= done * n) {
		fota->downloading_sent++;
		urc(fota, "DOWNLOADING", (int)fota->downloading_sent);
	}
}

/* --- update ---------------------------------------------------------------------------- */

/* EC200T counts 1..update_URC_max; DFOTA firmware reports uneven percentages that need not
 * end at 100. */
static GArray *
updating_values(SimFota *fota)
{
	GArray *values = g_array_new(FALSE, FALSE, sizeof(int));
	GRand *rand = fota->modem->rand;

	if (fota->modem->fota_kind) {
		for (int k = 1; k <= fota->request->update_urc_max; k++)
			g_array_append_val(values, k);
	} else {
		for (int p = g_rand_int_range(rand, 3, 12); p < 100;
		     p += g_rand_int_range(rand, 6, 27))
			g_array_append_val(values, p);
		if (g_rand_boolean(rand)) {
			int full = 100;
			g_array_append_val(values, full);
		}
	}
	return values;
}

/* The update after START: UPDATING values (a failing run stops halfway), the reboot in the
 * middle (--reboot-mid-update), then RESTORE stages for a failure that restores. */
static GArray *
make_steps(SimFota *fota, gboolean failing, gboolean restore)
{
	g_autoptr(GArray) values = updating_values(fota);
	GArray *steps = g_array_new(FALSE, FALSE, sizeof(UpdateStep));
	guint half = values->len / 2;
	guint count = failing ? half : values->len;
	UpdateStep reboot = {NULL, 0, FALSE};

	for (guint i = 0; i < count; i++) {
		UpdateStep step = {"UPDATING", g_array_index(values, int, i), FALSE};
		if (i == half && fota->modem->cfg->reboot_mid_update)
			g_array_append_val(steps, reboot);
		g_array_append_val(steps, step);
	}
	if (count == half && fota->modem->cfg->reboot_mid_update)
		g_array_append_val(steps, reboot);
	for (guint i = 0; restore && i < G_N_ELEMENTS(restore_percents); i++) {
		UpdateStep step = {"RESTORE", restore_percents[i], TRUE};
		g_array_append_val(steps, step);
	}
	return steps;
}

static void
finish_update(SimFota *fota)
{
	SimModem *modem = fota->modem;
	int code = fota->update_code;
	g_autofree char *to = g_steal_pointer(&fota->to_revision);
	SimLogEntry *entry;

	if (!fota->quiet)
		urc(fota, "END", code);
	entry = sim_log_begin(modem->log, "end");
	sim_log_int(entry, "code", code);
	sim_log_bool(entry, "quiet", fota->quiet);
	sim_log_end(entry);
	reset(fota);
	/* The new firmware is what boots next. */
	if (code == 0 && to != NULL)
		sim_modem_set_revision(modem, to);
	sim_modem_reboot(modem, "fota-update-done", TRUE);
}

static gboolean
on_update_step(gpointer user_data)
{
	SimFota *fota = user_data;
	const UpdateStep *step;

	if (hangup_due(fota, SIM_HANGUP_UPDATING) && fota->step_index >= fota->steps->len / 2) {
		fota->timer = 0;
		crash(fota, SIM_HANGUP_UPDATING);
		return G_SOURCE_REMOVE;
	}
	if (fota->step_index >= fota->steps->len) {
		fota->timer = 0;
		finish_update(fota);
		return G_SOURCE_REMOVE;
	}
	step = &g_array_index(fota->steps, UpdateStep, fota->step_index++);
	if (step->stage == NULL) {
		/* The flash write survives the reboot: sim_fota_booted() goes on. */
		fota->timer = 0;
		fota->state = ST_UPDATE_BOOT;
		sim_modem_reboot(fota->modem, "fota-update-midway", TRUE);
		return G_SOURCE_REMOVE;
	}
	if (fota->quiet)
		return G_SOURCE_CONTINUE;
	if (step->percent)
		sim_out_printf(fota->modem->out, "+QIND: \"FOTA\",\"%s\",%d%%", step->stage,
		               step->value);
	else
		urc(fota, step->stage, step->value);
	return G_SOURCE_CONTINUE;
}

static void
start_update(SimFota *fota)
{
	const SimConfig *cfg = fota->modem->cfg;
	gboolean package_bad = fota->update_code != 0;
	gboolean restore = FALSE;
	guint urcs = 0;

	fota->state = ST_UPDATE;
	fota->quiet = fota->request->mode == 0 && cfg->quiet_update;
	if (!package_bad && fault_due(fota, FAULT_RESTORE, cfg->restore >= 0)) {
		fota->fired |= FAULT_RESTORE;
		fota->update_code = cfg->restore;
		restore = TRUE;
	} else if (!package_bad && cfg->update_error >= 0) {
		fota->update_code = cfg->update_error;
	}
	if (!fota->quiet && !cfg->no_update_start)
		urc(fota, "START", -1);
	if (package_bad) {
		/* The check fails before any flash write: no UPDATING at all. */
		fota->steps = g_array_new(FALSE, FALSE, sizeof(UpdateStep));
		fota->timer = g_timeout_add(CHECK_FAIL_MS, on_update_step, fota);
		return;
	}
	fota->steps = make_steps(fota, fota->update_code != 0, restore);
	for (guint i = 0; i < fota->steps->len; i++)
		urcs += g_array_index(fota->steps, UpdateStep, i).stage != NULL;
	fota->step_interval_ms = MAX(cfg->update_ms / (urcs + 1), 1u);
	fota->timer = g_timeout_add(fota->step_interval_ms, on_update_step, fota);
}

/* --reboot-mid-update: back from the reboot, the modem says so and goes on. */
static void
continue_update(SimFota *fota)
{
	fota->state = ST_UPDATE;
	if (!fota->quiet)
		sim_out_line(fota->modem->out, CONTINUE_UPGRADE);
	fota->timer = g_timeout_add(fota->step_interval_ms, on_update_step, fota);
}

static gboolean
on_check_done(gpointer user_data)
{
	SimFota *fota = user_data;

	fota->timer = 0;
	start_update(fota);
	return G_SOURCE_REMOVE;
}

/* A real modem checks the whole package before START; --check-ms says how long. */
static void
begin_update(SimFota *fota)
{
	guint check_ms = fota->modem->cfg->check_ms;

	if (check_ms == 0) {
		start_update(fota);
		return;
	}
	remove_timer(fota);
	fota->state = ST_CHECK;
	fota->timer = g_timeout_add(check_ms, on_check_done, fota);
}

/* --- download end ---------------------------------------------------------------------- */

static void
download_finished(SimFota *fota, int code)
{
	const SimConfig *cfg = fota->modem->cfg;
	g_autofree char *reason = NULL;

	remove_timer(fota);
	if (code == 0 && cfg->download_error >= 0)
		code = cfg->download_error;
	stage_urc(fota, "END", code);
	if (code != 0) {
		reset(fota);
		return;
	}
	fota->update_code = sim_package_parser_verdict(
	        fota->parser, cfg->model, fota->modem->revision, &fota->to_revision, &reason);
	if (reason != NULL) {
		SimLogEntry *entry = sim_log_begin(fota->modem->log, "package");
		sim_log_int(entry, "verdict", fota->update_code);
		sim_log_str(entry, "reason", reason);
		sim_log_end(entry);
	}
	g_clear_pointer(&fota->parser, sim_package_parser_free);
	fota->state = ST_AWAIT_BOOT;
	if (fota->request->mode == 0) {
		sim_modem_reboot(fota->modem, "fota-download-done", TRUE);
		return;
	}
	if (cfg->vanish_after_download_ms > 0) {
		/* The port re-enumerates before START; the update waits for it. */
		sim_modem_vanish(fota->modem, "vanish-after-download",
		                 cfg->vanish_after_download_ms, FALSE);
		return;
	}
	begin_update(fota);
}

/* --- FILE mode ------------------------------------------------------------------------- */

static void trace_file_done(SimFota *fota);

static void
file_finished(SimFota *fota, int code)
{
	g_autofree char *sha = sim_package_parser_stream_sha256(fota->parser);
	SimLogEntry *entry = sim_log_begin(fota->modem->log, "file");

	sim_log_int(entry, "length", (gint64)fota->request->file_length);
	sim_log_int(entry, "received", (gint64)sim_package_parser_received(fota->parser));
	sim_log_str(entry, "sha256", sha);
	sim_log_int(entry, "commands", (gint64)fota->scan.count);
	if (fota->scan.first != NULL)
		sim_log_str(entry, "first_command", fota->scan.first);
	sim_log_end(entry);
	sim_modem_watch_after_file(fota->modem);
	if (fota->state == ST_TRACE)
		trace_file_done(fota);
	else
		download_finished(fota, code);
}

static gboolean
on_file_stall(gpointer user_data)
{
	SimFota *fota = user_data;

	fota->timer = 0;
	file_finished(fota, FILE_ERR_DOWNLOAD);
	return G_SOURCE_REMOVE;
}

static void
arm_file_timer(SimFota *fota)
{
	remove_timer(fota);
	fota->timer = g_timeout_add(fota->modem->cfg->file_timeout_ms, on_file_stall, fota);
}

static gboolean
on_file_end_delay(gpointer user_data)
{
	SimFota *fota = user_data;

	fota->timer = 0;
	file_finished(fota, 0);
	return G_SOURCE_REMOVE;
}

gboolean
sim_fota_wants_raw(const SimFota *fota)
{
	/* A FILE trace takes the package bytes while the parser is there (until all came). */
	return fota->state == ST_FILE || (fota->state == ST_TRACE && fota->parser != NULL);
}

/* --file-hold: the hold point lies ahead in this transfer, and no hold happened yet. */
static gboolean
hold_due(SimFota *fota, guint64 received, guint64 stop)
{
	guint64 at = fota->modem->cfg->file_hold;

	return fault_due(fota, FAULT_HOLD, at > 0) && at > received && at < stop;
}

/* The modem stops reading: the host's writes block once the kernel's buffer is full. Its own
 * stall timer waits too, since the pause is the modem's. */
static void
begin_hold(SimFota *fota, guint64 received)
{
	SimLogEntry *entry = sim_log_begin(fota->modem->log, "file-hold");

	sim_log_int(entry, "received", (gint64)received);
	sim_log_end(entry);
	fota->fired |= FAULT_HOLD;
	fota->holding = TRUE;
	remove_timer(fota);
}

gboolean
sim_fota_holding(const SimFota *fota)
{
	return fota->holding;
}

void
sim_fota_release_hold(SimFota *fota)
{
	SimLogEntry *entry;

	if (!fota->holding)
		return;
	fota->holding = FALSE;
	entry = sim_log_begin(fota->modem->log, "file-release");
	sim_log_end(entry);
	if (fota->state == ST_FILE)
		arm_file_timer(fota);
	sim_modem_resume_input(fota->modem);
}

gsize
sim_fota_feed_raw(SimFota *fota, const guint8 *data, gsize len)
{
	/* A trace says itself what the modem prints: the bytes are only counted. */
	gboolean tracing = fota->state == ST_TRACE;
	guint64 length = fota->request->file_length;
	guint64 early = tracing ? 0 : fota->modem->cfg->file_early_end;
	guint64 stop = early > 0 && early < length ? early : length;
	guint64 received = sim_package_parser_received(fota->parser);
	/* --file-hold pauses the transfer before its stop. */
	guint64 until =
	        !tracing && hold_due(fota, received, stop) ? fota->modem->cfg->file_hold : stop;
	gsize take = (gsize)MIN((guint64)len, until - received);

	sim_package_parser_feed(fota->parser, data, take);
	sim_cmdscan_feed(&fota->scan, data, take);
	received += take;
	if (!tracing)
		send_downloading(fota, received, length);
	if (!tracing && hangup_due(fota, SIM_HANGUP_DOWNLOADING) && received * 2 >= length) {
		crash(fota, SIM_HANGUP_DOWNLOADING);
		return take;
	}
	if (received == until && until < stop) {
		begin_hold(fota, received);
		return take;
	}
	if (received == stop && stop < length) {
		/* --file-early-end: the modem ends early; the rest is AT input again. */
		file_finished(fota, fota->modem->cfg->file_early_end_code);
		return take;
	}
	if (received < length) {
		arm_file_timer(fota);
	} else if (!tracing && fota->modem->cfg->file_end_delay_ms > 0) {
		remove_timer(fota);
		fota->state = ST_FILE_CHECK;
		fota->timer =
		        g_timeout_add(fota->modem->cfg->file_end_delay_ms, on_file_end_delay, fota);
	} else {
		file_finished(fota, 0);
	}
	return take;
}

/* --- network modes --------------------------------------------------------------------- */

static void
log_download(SimFota *fota, guint64 bytes, int code, const char *detail)
{
	SimLogEntry *entry = sim_log_begin(fota->modem->log, "download");

	sim_log_str(entry, "url", fota->request->url);
	sim_log_int(entry, "bytes", (gint64)bytes);
	sim_log_int(entry, "code", code);
	sim_log_str(entry, "detail", detail);
	sim_log_end(entry);
}

static void
on_net_done(SimNetDownload *net, gpointer user_data)
{
	SimFota *fota = user_data;
	guint64 bytes;
	gint64 total;

	fota->net_done = TRUE;
	fota->net_code = sim_net_download_code(net);
	fota->parser = sim_net_download_steal_parser(net);
	sim_net_download_progress(net, &bytes, &total);
	log_download(fota, bytes, fota->net_code, sim_net_download_detail(net));
}

/* --download-cut: the network goes in the middle of the download and the modem says so with
 * END,<code> (701/702 in Quectel test scripts), not with <X>END; then it is idle. */
static void
cut_download(SimFota *fota, guint64 received)
{
	int code = fota->modem->cfg->download_cut;

	fota->fired |= FAULT_CUT;
	log_download(fota, received, code, "network cut (--download-cut): END without <X>END");
	urc(fota, "END", code);
	reset(fota);
}

/* How long a network download lasts at least: --download-silence wins over --download-ms. */
static guint
download_duration_ms(const SimFota *fota)
{
	const SimConfig *cfg = fota->modem->cfg;

	return cfg->download_silence_ms > 0 ? cfg->download_silence_ms : cfg->download_ms;
}

/* Paces DOWNLOADING over max(the download duration, the real transfer): the reported fraction
 * is the smaller of the real one and the simulated one. */
static gboolean
on_net_tick(gpointer user_data)
{
	SimFota *fota = user_data;
	const guint64 scale = 1000000;
	guint64 duration_us = (guint64)download_duration_ms(fota) * 1000;
	guint64 elapsed_us = (guint64)(g_get_monotonic_time() - fota->phase_start_us);
	guint64 sim_frac = duration_us == 0 ? scale : MIN(scale, elapsed_us * scale / duration_us);
	guint64 real_frac = 0;
	guint64 received;
	gint64 total;

	if (fota->net_done && fota->net_code != 0) {
		fota->timer = 0;
		download_finished(fota, fota->net_code);
		return G_SOURCE_REMOVE;
	}
	sim_net_download_progress(fota->net, &received, &total);
	if (fota->net_done)
		real_frac = scale;
	else if (total > 0)
		real_frac = MIN(scale, received * scale / (guint64)total);
	send_downloading(fota, MIN(sim_frac, real_frac), scale);
	if (hangup_due(fota, SIM_HANGUP_DOWNLOADING) && MIN(sim_frac, real_frac) * 2 >= scale) {
		fota->timer = 0;
		crash(fota, SIM_HANGUP_DOWNLOADING);
		return G_SOURCE_REMOVE;
	}
	if (fota->net_done && sim_frac == scale) {
		fota->timer = 0;
		download_finished(fota, 0);
		return G_SOURCE_REMOVE;
	}
	if (fault_due(fota, FAULT_CUT, fota->modem->cfg->download_cut >= 0) &&
	    MIN(sim_frac, real_frac) * 2 >= scale) {
		fota->timer = 0;
		cut_download(fota, received);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

static gboolean
pdp_ready(const SimModem *modem)
{
	return modem->pdp[modem->fota_cid].active;
}

static void
start_net(SimFota *fota)
{
	SimModem *modem = fota->modem;
	guint n = (guint)MAX(fota->request->download_urc_max, 1);
	guint tick = CLAMP(download_duration_ms(fota) / (2 * n), 5u, 50u);

	if (modem->cfg->require_pdp && !pdp_ready(modem)) {
		int code = fota->request->kind == SIM_URL_FTP ? FTP_ERR_NETWORK : HTTP_ERR_NO_NET;
		log_download(fota, 0, code, "no active PDP context for fota/cid");
		download_finished(fota, code);
		return;
	}
	fota->state = ST_NET;
	fota->phase_start_us = g_get_monotonic_time();
	fota->net = sim_net_download_start(fota->request->url, fota->request->kind, modem->cfg,
	                                   on_net_done, fota);
	fota->timer = g_timeout_add(tick, on_net_tick, fota);
}

/* --- field traces ---------------------------------------------------------------------- */

static void
log_trace(SimFota *fota, const char *step, guint lineno)
{
	SimLogEntry *entry = sim_log_begin(fota->modem->log, "trace");

	sim_log_str(entry, "step", step);
	if (lineno > 0)
		sim_log_int(entry, "line", lineno);
	else
		sim_log_str(entry, "path", fota->modem->cfg->trace->path);
	sim_log_end(entry);
}

static gboolean on_trace_step(gpointer user_data);

/* The next step after its delay. Past the last reboot (or at the end) the FOTA engine is idle
 * and a later AT+QFOTADL= runs the simulator's own logic, while the rest of the trace (boot
 * noise) still plays. */
static void
trace_next(SimFota *fota)
{
	const SimTrace *trace = fota->modem->cfg->trace;

	fota->trace_wait = TRACE_WAIT_DELAY;
	if (fota->state == ST_TRACE && fota->trace_index >= trace->idle_from) {
		log_trace(fota, "idle", 0);
		/* Package bytes still on their way are AT input again, as after a FILEEND. */
		reset(fota);
		fota->trace_tail = TRUE;
	}
	if (fota->trace_index < trace->steps->len) {
		const SimTraceStep *step =
		        &g_array_index(trace->steps, SimTraceStep, fota->trace_index);
		fota->trace_timer = g_timeout_add(step->delay_ms, on_trace_step, fota);
		return;
	}
	log_trace(fota, "end", 0);
	fota->trace_tail = FALSE;
}

/* A reboot from outside (AT+CFUN=1,1) or the end of the simulator: the trace stops. */
static void
stop_trace(SimFota *fota)
{
	if (fota->state != ST_TRACE && !fota->trace_tail)
		return;
	log_trace(fota, "aborted", 0);
	fota->trace_tail = FALSE;
	if (fota->trace_timer != 0)
		g_source_remove(fota->trace_timer);
	fota->trace_timer = 0;
}

static const char *
trace_step_name(SimTraceKind kind)
{
	switch (kind) {
	case SIM_TRACE_LINE:
		return "line";
	case SIM_TRACE_REBOOT:
		return "reboot";
	case SIM_TRACE_VANISH:
		return "vanish";
	case SIM_TRACE_REVISION:
		return "revision";
	default:
		return "file";
	}
}

static gboolean
on_trace_step(gpointer user_data)
{
	SimFota *fota = user_data;
	SimModem *modem = fota->modem;
	const SimTraceStep *step =
	        &g_array_index(modem->cfg->trace->steps, SimTraceStep, fota->trace_index++);

	fota->trace_timer = 0;
	log_trace(fota, trace_step_name(step->kind), step->lineno);
	switch (step->kind) {
	case SIM_TRACE_LINE:
		sim_out_line(modem->out, step->text);
		break;
	case SIM_TRACE_REVISION:
		sim_modem_set_revision(modem, step->text);
		break;
	case SIM_TRACE_REBOOT:
	case SIM_TRACE_VANISH:
		/* sim_fota_booted() goes on once the modem speaks again. */
		fota->trace_wait = TRACE_WAIT_BOOT;
		sim_modem_vanish(modem, "trace", step->ms > 0 ? step->ms : modem->cfg->reboot_ms,
		                 step->kind == SIM_TRACE_REBOOT);
		return G_SOURCE_REMOVE;
	case SIM_TRACE_FILE:
		if (fota->parser != NULL) {
			fota->trace_wait = TRACE_WAIT_FILE;
			return G_SOURCE_REMOVE;
		}
		break;
	}
	trace_next(fota);
	return G_SOURCE_REMOVE;
}

/* The FILE package of a trace's job has come (or stalled for --file-timeout-ms). */
static void
trace_file_done(SimFota *fota)
{
	remove_timer(fota); /* the stall timer */
	g_clear_pointer(&fota->parser, sim_package_parser_free);
	sim_cmdscan_clear(&fota->scan);
	if (fota->trace_wait == TRACE_WAIT_FILE)
		trace_next(fota);
}

static void
trace_begin(SimFota *fota)
{
	fota->trace_played = TRUE;
	fota->state = ST_TRACE;
	fota->trace_index = 0;
	log_trace(fota, "begin", 0);
	if (fota->request->kind == SIM_URL_FILE) {
		/* The bytes come right after FILESTART, whenever the trace prints it. */
		fota->parser = sim_package_parser_new();
		arm_file_timer(fota);
	}
	trace_next(fota);
}

/* --- entry points ---------------------------------------------------------------------- */

void
sim_fota_start(SimFota *fota, SimFotadlRequest *request)
{
	SimModem *modem = fota->modem;
	SimLogEntry *entry = sim_log_begin(modem->log, "qfotadl");

	sim_log_str(entry, "url", request->url);
	sim_log_int(entry, "mode", request->mode);
	sim_log_int(entry, "download_urc_max", request->download_urc_max);
	if (modem->fota_kind)
		sim_log_int(entry, "update_urc_max", request->update_urc_max);
	sim_log_end(entry);

	reset(fota);
	fota->request = request;
	if (modem->cfg->trace != NULL && !fota->trace_played) {
		trace_begin(fota);
		return;
	}
	if (modem->cfg->silent) {
		fota->state = ST_SILENT;
		return;
	}
	if (hangup_due(fota, SIM_HANGUP_ACCEPTED)) {
		crash(fota, SIM_HANGUP_ACCEPTED);
		return;
	}
	stage_urc(fota, "START", -1);
	if (fault_due(fota, FAULT_REFUSE, modem->cfg->refuse_download >= 0)) {
		/* --refuse-download: the modem gives up before a byte (EC200U: HTTPEND,608). */
		fota->fired |= FAULT_REFUSE;
		log_download(fota, 0, modem->cfg->refuse_download,
		             "refused at once (--refuse-download)");
		stage_urc(fota, "END", modem->cfg->refuse_download);
		if (request->kind == SIM_URL_FILE)
			sim_modem_watch_after_file(modem); /* did the host stop sending? */
		reset(fota);
		return;
	}
	if (request->kind != SIM_URL_FILE) {
		start_net(fota);
		return;
	}
	if (!sim_modem_flow_control_on(modem)) {
		/* Real modems take the bytes anyway, only slowly; note it for the tests. */
		SimLogEntry *flow = sim_log_begin(modem->log, "flow");
		sim_log_bool(flow, "hardware", FALSE);
		sim_log_end(flow);
	}
	fota->state = ST_FILE;
	fota->parser = sim_package_parser_new();
	arm_file_timer(fota);
}

gboolean
sim_fota_busy(const SimFota *fota)
{
	return fota->state != ST_IDLE;
}

gboolean
sim_fota_updating(const SimFota *fota)
{
	return fota->state == ST_UPDATE || fota->state == ST_UPDATE_BOOT;
}

void
sim_fota_abort(SimFota *fota)
{
	stop_trace(fota);
	reset(fota);
}

void
sim_fota_booted(SimFota *fota)
{
	if (fota->state == ST_AWAIT_BOOT)
		begin_update(fota);
	else if (fota->state == ST_UPDATE_BOOT)
		continue_update(fota);
	else if (fota->state == ST_TRACE && fota->trace_wait == TRACE_WAIT_BOOT)
		trace_next(fota);
}

SimFota *
sim_fota_new(SimModem *modem)
{
	SimFota *fota = g_new0(SimFota, 1);

	fota->modem = modem;
	return fota;
}

void
sim_fota_free(SimFota *fota)
{
	if (fota == NULL)
		return;
	stop_trace(fota);
	reset(fota);
	g_free(fota);
}
