/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sim-fota.h"

#include "sim-cmdscan.h"
#include "sim-net.h"
#include "sim-package.h"

#include <string.h>

/* Guide codes the engine itself produces. */
#define FILE_ERR_DOWNLOAD 500 /* FILEEND: file download error (stall) */
#define HTTP_ERR_NO_NET   708 /* HTTPEND: network not configured */
#define FTP_ERR_NETWORK   605 /* FTPEND: network error */
/* How long a failing package check takes between START and END. */
#define CHECK_FAIL_MS 50

typedef enum {
	ST_IDLE,
	ST_SILENT,     /* --silent: accepted, then nothing until a reboot */
	ST_FILE,       /* receiving FILE bytes */
	ST_FILE_CHECK, /* --file-end-delay-ms: all bytes in, FILEEND not yet sent */
	ST_NET,        /* network download running */
	ST_AWAIT_BOOT, /* upgrade_mode 0: update after the reboot */
	ST_CHECK,      /* --check-ms: checking the package before START */
	ST_UPDATE,     /* between START and END */
} State;

struct _SimFota {
	SimModem *modem;
	State state;
	SimFotadlRequest *request;
	SimPackageParser *parser;
	SimCmdScan scan; /* AT command lines among the FILE bytes */
	guint timer;
	gint64 phase_start_us;
	guint downloading_sent;
	gboolean hangup_fired; /* --hangup-at fires once per simulator run */

	SimNetDownload *net;
	gboolean net_done;
	int net_code;

	int update_code;
	char *to_revision;
	GArray *steps; /* UPDATING values still to send, of int */
	guint step_index;
	gboolean quiet;
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
	fota->state = ST_IDLE;
}

static void
urc(SimFota *fota, const char *stage, int value)
{
	if (value < 0)
		sim_out_printf(fota->modem->out, "+QIND: \"FOTA\",\"%s\"", stage);
	else
		sim_out_printf(fota->modem->out, "+QIND: \"FOTA\",\"%s\",%d", stage, value);
}

/* FTP / HTTP (https too, as in the guide) / FILE, for <X>START and <X>END. */
static const char *
stage_prefix(const SimFotadlRequest *request)
{
	switch (request->kind) {
	case SIM_URL_FTP:
		return "FTP";
	case SIM_URL_FILE:
		return "FILE";
	default:
		return "HTTP";
	}
}

static void
stage_urc(SimFota *fota, const char *suffix, int value)
{
	g_autofree char *stage = g_strconcat(stage_prefix(fota->request), suffix, NULL);

	urc(fota, stage, value);
}

static gboolean
hangup_due(SimFota *fota, SimHangupPhase phase)
{
	return fota->modem->cfg->hangup_at == phase && !fota->hangup_fired;
}

/* The modem crashes: the tty vanishes, FOTA state is lost, the revision stays. */
static void
crash(SimFota *fota, SimHangupPhase phase)
{
	SimLogEntry *entry = sim_log_begin(fota->modem->log, "hangup");

	sim_log_str(entry, "phase", sim_hangup_phase_name(phase));
	sim_log_end(entry);
	fota->hangup_fired = TRUE;
	reset(fota);
	sim_modem_reboot(fota->modem, "crash", TRUE);
}

/* DOWNLOADING k for every k/N reached by done/total (N = download_URC_max). */
static void
send_downloading(SimFota *fota, guint64 done, guint64 total)
{
	guint64 n = (guint64)fota->request->download_urc_max;

	while (total > 0 && fota->downloading_sent < n &&
	       (fota->downloading_sent + 1) * total <= done * n) {
		fota->downloading_sent++;
		urc(fota, "DOWNLOADING", (int)fota->downloading_sent);
	}
}

/* --- update ---------------------------------------------------------------------------- */

/* EC200T counts 1..update_URC_max; DFOTA firmware reports uneven percentages that need not
 * end at 100. A failing run stops halfway. */
static GArray *
make_steps(SimFota *fota, gboolean failing)
{
	GArray *steps = g_array_new(FALSE, FALSE, sizeof(int));
	GRand *rand = fota->modem->rand;

	if (fota->modem->fota_kind) {
		for (int k = 1; k <= fota->request->update_urc_max; k++)
			g_array_append_val(steps, k);
	} else {
		for (int p = g_rand_int_range(rand, 3, 12); p < 100;
		     p += g_rand_int_range(rand, 6, 27))
			g_array_append_val(steps, p);
		if (g_rand_boolean(rand)) {
			int full = 100;
			g_array_append_val(steps, full);
		}
	}
	if (failing)
		g_array_set_size(steps, steps->len / 2);
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

	if (hangup_due(fota, SIM_HANGUP_UPDATING) && fota->step_index >= fota->steps->len / 2) {
		fota->timer = 0;
		crash(fota, SIM_HANGUP_UPDATING);
		return G_SOURCE_REMOVE;
	}
	if (fota->step_index < fota->steps->len) {
		int value = g_array_index(fota->steps, int, fota->step_index++);
		if (!fota->quiet)
			urc(fota, "UPDATING", value);
		return G_SOURCE_CONTINUE;
	}
	fota->timer = 0;
	finish_update(fota);
	return G_SOURCE_REMOVE;
}

static void
start_update(SimFota *fota)
{
	const SimConfig *cfg = fota->modem->cfg;
	gboolean package_bad = fota->update_code != 0;
	guint interval;

	fota->state = ST_UPDATE;
	fota->quiet = fota->request->mode == 0 && cfg->quiet_update;
	if (!package_bad && cfg->update_error >= 0)
		fota->update_code = cfg->update_error;
	if (!fota->quiet)
		urc(fota, "START", -1);
	if (package_bad) {
		/* The check fails before any flash write: no UPDATING at all. */
		fota->steps = g_array_new(FALSE, FALSE, sizeof(int));
		fota->timer = g_timeout_add(CHECK_FAIL_MS, on_update_step, fota);
		return;
	}
	fota->steps = make_steps(fota, fota->update_code != 0);
	interval = cfg->update_ms / (fota->steps->len + 1);
	fota->timer = g_timeout_add(MAX(interval, 1u), on_update_step, fota);
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
	if (fota->request->mode == 1) {
		begin_update(fota);
		return;
	}
	fota->state = ST_AWAIT_BOOT;
	sim_modem_reboot(fota->modem, "fota-download-done", TRUE);
}

/* --- FILE mode ------------------------------------------------------------------------- */

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
	return fota->state == ST_FILE;
}

gsize
sim_fota_feed_raw(SimFota *fota, const guint8 *data, gsize len)
{
	guint64 length = fota->request->file_length;
	guint64 early = fota->modem->cfg->file_early_end;
	guint64 stop = early > 0 && early < length ? early : length;
	guint64 received = sim_package_parser_received(fota->parser);
	gsize take = (gsize)MIN((guint64)len, stop - received);

	sim_package_parser_feed(fota->parser, data, take);
	sim_cmdscan_feed(&fota->scan, data, take);
	received += take;
	send_downloading(fota, received, length);
	if (hangup_due(fota, SIM_HANGUP_DOWNLOADING) && received * 2 >= length) {
		crash(fota, SIM_HANGUP_DOWNLOADING);
		return take;
	}
	if (received == stop && stop < length) {
		/* --file-early-end: the modem ends early; the rest is AT input again. */
		file_finished(fota, fota->modem->cfg->file_early_end_code);
		return take;
	}
	if (received < length) {
		arm_file_timer(fota);
	} else if (fota->modem->cfg->file_end_delay_ms > 0) {
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

/* Paces DOWNLOADING over max(--download-ms, the real transfer): the reported fraction is the
 * smaller of the real one and the simulated one. */
static gboolean
on_net_tick(gpointer user_data)
{
	SimFota *fota = user_data;
	const guint64 scale = 1000000;
	guint64 duration_us = (guint64)fota->modem->cfg->download_ms * 1000;
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
	guint tick = CLAMP(modem->cfg->download_ms / (2 * n), 5u, 50u);

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
	if (modem->cfg->silent) {
		fota->state = ST_SILENT;
		return;
	}
	if (hangup_due(fota, SIM_HANGUP_ACCEPTED)) {
		crash(fota, SIM_HANGUP_ACCEPTED);
		return;
	}
	stage_urc(fota, "START", -1);
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
	return fota->state == ST_UPDATE;
}

void
sim_fota_abort(SimFota *fota)
{
	reset(fota);
}

void
sim_fota_booted(SimFota *fota)
{
	if (fota->state == ST_AWAIT_BOOT)
		begin_update(fota);
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
	reset(fota);
	g_free(fota);
}
