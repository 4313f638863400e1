/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fota-modem-sim: a Quectel LTE modem on a pty, for testing quectel-fotad without hardware.
 * See README.md for the manual. */
#include "sim-at.h"
#include "sim-config.h"
#include "sim-fota.h"
#include "sim-log.h"
#include "sim-modem.h"
#include "sim-package.h"
#include "sim-trace.h"

#include <curl/curl.h>
#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <string.h>

typedef struct {
	const char *model; /* prefix */
	const char *revision;
} ModelInfo;

/* Plausible factory revisions; the simulator only needs them to be distinct per family. */
static const ModelInfo models[] = {
        {"EC200T", "EC200TCNDAR02A06M16"}, {"EC200S", "EC200SCNAAR03A07M08"},
        {"EC600S", "EC600SCNAAR01A05M08"}, {"EG912Y", "EG912YEUABR03A02M08"},
        {"EC200A", "EC200ACNDAR01A08M16"},
};

const char *
sim_hangup_phase_name(SimHangupPhase phase)
{
	switch (phase) {
	case SIM_HANGUP_ACCEPTED:
		return "accepted";
	case SIM_HANGUP_DOWNLOADING:
		return "downloading";
	case SIM_HANGUP_UPDATING:
		return "updating";
	default:
		return "none";
	}
}

const SimPrefixRule *
sim_prefix_rule_find(const GArray *rules, const char *command)
{
	for (guint i = 0; rules != NULL && i < rules->len; i++) {
		const SimPrefixRule *rule = &g_array_index(rules, SimPrefixRule, i);
		if (g_ascii_strncasecmp(command, rule->prefix, strlen(rule->prefix)) == 0)
			return rule;
	}
	return NULL;
}

static const ModelInfo *
find_model(const char *model)
{
	for (guint i = 0; i < G_N_ELEMENTS(models); i++)
		if (g_ascii_strncasecmp(model, models[i].model, strlen(models[i].model)) == 0)
			return &models[i];
	return NULL;
}

typedef struct {
	/* simulator */
	char *link, *model, *revision, *imei, *log, *ready_file;
	int reboot_ms, boot_urc_delay_ms, download_ms, update_ms, file_timeout_ms, net_timeout_ms;
	int file_end_delay_ms, check_ms;
	char *file_early_end;
	gint64 file_hold;
	gboolean no_echo, fail_qfotadl, silent, garbage, split_writes, interleave_urcs;
	gboolean quiet_update, require_pdp, https_insecure, urc_before_ok;
	int download_error, update_error;
	char *hangup_at, *port_kind, *seed;
	/* field behaviours */
	gboolean https_stages, no_update_start, reboot_mid_update, no_download_urcs, boot_shuffle;
	int vanish_after_download_ms, download_silence_ms;
	int download_cut, refuse_download, restore;
	char *trace;
	char **reply_delays, **cme_errors;
	/* --make-package */
	char *make_package, *from, *to;
	gint64 size;
	gboolean corrupt;
} Options;

static void
options_clear(Options *o)
{
	g_free(o->link);
	g_free(o->model);
	g_free(o->revision);
	g_free(o->imei);
	g_free(o->log);
	g_free(o->ready_file);
	g_free(o->hangup_at);
	g_free(o->port_kind);
	g_free(o->seed);
	g_free(o->file_early_end);
	g_free(o->trace);
	g_strfreev(o->reply_delays);
	g_strfreev(o->cme_errors);
	g_free(o->make_package);
	g_free(o->from);
	g_free(o->to);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Options, options_clear)

static void
config_clear(SimConfig *cfg)
{
	g_free(cfg->link);
	g_free(cfg->model);
	g_free(cfg->revision);
	g_free(cfg->imei);
	g_free(cfg->log_path);
	g_free(cfg->ready_file);
	if (cfg->reply_delays != NULL)
		g_array_unref(cfg->reply_delays);
	if (cfg->cme_errors != NULL)
		g_array_unref(cfg->cme_errors);
	sim_trace_free(cfg->trace);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(SimConfig, config_clear)

static void
prefix_rule_clear(gpointer data)
{
	g_free(((SimPrefixRule *)data)->prefix);
}

static gboolean fail(GError **error, const char *format, ...) G_GNUC_PRINTF(2, 3);

static gboolean
fail(GError **error, const char *format, ...)
{
	g_autofree char *message = NULL;
	va_list args;

	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, message);
	return FALSE;
}

static gboolean
non_negative(const char *name, int value, guint *out, GError **error)
{
	if (value < 0)
		return fail(error, "--%s must be >= 0, got %d", name, value);
	*out = (guint)value;
	return TRUE;
}

/* A code the modem prints in a URC (--download-cut, --refuse-download, --restore): -1 is off. */
static gboolean
urc_code(const char *name, int value, int *out, GError **error)
{
	if (value != -1 && (value < 0 || value > 999))
		return fail(error, "--%s must be 0..999, got %d", name, value);
	*out = value;
	return TRUE;
}

/* --file-early-end N[,CODE] */
static gboolean
parse_early_end(const char *spec, SimConfig *cfg, GError **error)
{
	g_auto(GStrv) parts = NULL;
	guint64 n, code = 500;

	cfg->file_early_end_code = 500;
	if (spec == NULL)
		return TRUE;
	parts = g_strsplit(spec, ",", 2);
	if (!g_ascii_string_to_unsigned(parts[0], 10, 0, G_MAXUINT32, &n, NULL) ||
	    (parts[1] != NULL && !g_ascii_string_to_unsigned(parts[1], 10, 0, 999, &code, NULL)))
		return fail(error, "--file-early-end must be N[,CODE], got %s", spec);
	cfg->file_early_end = n;
	cfg->file_early_end_code = (int)code;
	return TRUE;
}

/* PREFIX=VALUE options; the last '=' separates them (prefixes may hold '='). */
static gboolean
parse_prefix_rules(char **specs, const char *name, const char *what, guint64 min, guint64 max,
                   GArray **out, GError **error)
{
	*out = g_array_new(FALSE, TRUE, sizeof(SimPrefixRule));
	g_array_set_clear_func(*out, prefix_rule_clear);
	for (guint i = 0; specs != NULL && specs[i] != NULL; i++) {
		const char *eq = strrchr(specs[i], '=');
		guint64 value;
		SimPrefixRule rule;

		if (eq == NULL || eq == specs[i] ||
		    !g_ascii_string_to_unsigned(eq + 1, 10, min, max, &value, NULL))
			return fail(error, "--%s must be PREFIX=%s, got %s", name, what, specs[i]);
		rule.prefix = g_strndup(specs[i], (gsize)(eq - specs[i]));
		rule.value = (guint)value;
		g_array_append_val(*out, rule);
	}
	return TRUE;
}

static gboolean
build_config(const Options *o, SimConfig *cfg, GError **error)
{
	const ModelInfo *info = find_model(o->model);
	guint64 seed = 1;

	if (o->link == NULL)
		return fail(error, "--link PATH is required");
	if (info == NULL)
		return fail(error,
		            "--model must be EC200T, EC200S, EC600S, EG912Y or EC200A, got %s",
		            o->model);
	cfg->link = g_strdup(o->link);
	cfg->model = g_strdup(o->model);
	cfg->revision = g_strdup(o->revision != NULL ? o->revision : info->revision);
	cfg->imei = g_strdup(o->imei);
	cfg->log_path = g_strdup(o->log);
	cfg->ready_file = g_strdup(o->ready_file);
	if (!non_negative("reboot-ms", o->reboot_ms, &cfg->reboot_ms, error) ||
	    !non_negative("boot-urc-delay-ms", o->boot_urc_delay_ms, &cfg->boot_urc_delay_ms,
	                  error) ||
	    !non_negative("download-ms", o->download_ms, &cfg->download_ms, error) ||
	    !non_negative("update-ms", o->update_ms, &cfg->update_ms, error) ||
	    !non_negative("file-timeout-ms", o->file_timeout_ms, &cfg->file_timeout_ms, error) ||
	    !non_negative("file-end-delay-ms", o->file_end_delay_ms, &cfg->file_end_delay_ms,
	                  error) ||
	    !non_negative("check-ms", o->check_ms, &cfg->check_ms, error) ||
	    !non_negative("net-timeout-ms", o->net_timeout_ms, &cfg->net_timeout_ms, error) ||
	    !non_negative("vanish-after-download", o->vanish_after_download_ms,
	                  &cfg->vanish_after_download_ms, error) ||
	    !non_negative("download-silence", o->download_silence_ms, &cfg->download_silence_ms,
	                  error) ||
	    !urc_code("download-cut", o->download_cut, &cfg->download_cut, error) ||
	    !urc_code("refuse-download", o->refuse_download, &cfg->refuse_download, error) ||
	    !urc_code("restore", o->restore, &cfg->restore, error))
		return FALSE;
	if (!parse_early_end(o->file_early_end, cfg, error))
		return FALSE;
	if (o->file_hold < 0 || o->file_hold > G_MAXUINT32)
		return fail(error, "--file-hold must be 0..%u, got %" G_GINT64_FORMAT, G_MAXUINT32,
		            o->file_hold);
	cfg->file_hold = (guint64)o->file_hold;
	cfg->no_echo = o->no_echo;
	cfg->fail_qfotadl = o->fail_qfotadl;
	cfg->download_error = o->download_error;
	cfg->update_error = o->update_error;
	cfg->silent = o->silent;
	cfg->garbage = o->garbage;
	cfg->split_writes = o->split_writes;
	cfg->interleave_urcs = o->interleave_urcs;
	cfg->quiet_update = o->quiet_update;
	cfg->urc_before_ok = o->urc_before_ok;
	cfg->require_pdp = o->require_pdp;
	cfg->https_insecure = o->https_insecure;
	cfg->https_stages = o->https_stages;
	cfg->no_update_start = o->no_update_start;
	cfg->reboot_mid_update = o->reboot_mid_update;
	cfg->no_download_urcs = o->no_download_urcs;
	cfg->boot_shuffle = o->boot_shuffle;
	if (o->trace != NULL && (cfg->trace = sim_trace_load(o->trace, error)) == NULL)
		return FALSE;

	if (o->hangup_at == NULL)
		cfg->hangup_at = SIM_HANGUP_NONE;
	else if (g_str_equal(o->hangup_at, "accepted"))
		cfg->hangup_at = SIM_HANGUP_ACCEPTED;
	else if (g_str_equal(o->hangup_at, "downloading"))
		cfg->hangup_at = SIM_HANGUP_DOWNLOADING;
	else if (g_str_equal(o->hangup_at, "updating"))
		cfg->hangup_at = SIM_HANGUP_UPDATING;
	else
		return fail(error, "--hangup-at must be accepted, downloading or updating, got %s",
		            o->hangup_at);

	if (o->port_kind == NULL || g_str_equal(o->port_kind, "usb"))
		cfg->port_kind = SIM_PORT_USB;
	else if (g_str_equal(o->port_kind, "uart"))
		cfg->port_kind = SIM_PORT_UART;
	else
		return fail(error, "--port-kind must be usb or uart, got %s", o->port_kind);

	if (o->seed != NULL &&
	    !g_ascii_string_to_unsigned(o->seed, 10, 0, G_MAXUINT32, &seed, NULL))
		return fail(error, "--seed must be 0..%u, got %s", G_MAXUINT32, o->seed);
	cfg->seed = (guint32)seed;

	return parse_prefix_rules(o->reply_delays, "reply-delay", "MS", 1, G_MAXUINT32,
	                          &cfg->reply_delays, error) &&
	       parse_prefix_rules(o->cme_errors, "cme-error", "CODE", 0, 65535, &cfg->cme_errors,
	                          error);
}

static gboolean
on_signal(gpointer user_data)
{
	g_main_loop_quit(user_data);
	return G_SOURCE_CONTINUE;
}

/* SIGUSR1 ends a --file-hold, or a held reply: the test decides when the
 * modem reads (and answers) again. */
static gboolean
on_release_hold(gpointer user_data)
{
	SimModem *modem = *(SimModem **)user_data;

	sim_fota_release_hold(modem->fota);
	sim_at_release_reply(modem->at);
	return G_SOURCE_CONTINUE;
}

/* SIGUSR2: the next command's final result is held until SIGUSR1, so a
 * test can leave an answer owed when it kills the host. */
static gboolean
on_hold_next_reply(gpointer user_data)
{
	sim_at_hold_next_reply((*(SimModem **)user_data)->at);
	return G_SOURCE_CONTINUE;
}

static int
make_package(const Options *o)
{
	g_autoptr(GError) error = NULL;
	const char *model = o->model;

	if (o->from == NULL || o->to == NULL || o->size < 0) {
		g_printerr("fota-modem-sim: --make-package needs --from, --to and --size >= 0\n");
		return 2;
	}
	if (!sim_package_write(o->make_package, model, o->from, o->to, (guint64)o->size, o->corrupt,
	                       &error)) {
		g_printerr("fota-modem-sim: %s\n", error->message);
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	g_auto(Options) o = {
	        .reboot_ms = 1000,
	        .boot_urc_delay_ms = 200,
	        .download_ms = 1000,
	        .update_ms = 1000,
	        .file_timeout_ms = 10000,
	        .net_timeout_ms = 30000,
	        .download_error = -1,
	        .update_error = -1,
	        .download_cut = -1,
	        .refuse_download = -1,
	        .restore = -1,
	        .size = 65536,
	};
	GOptionEntry entries[] = {
	        {"link", 0, 0, G_OPTION_ARG_FILENAME, &o.link, "Symlink to the modem's pty",
	         "PATH"},
	        {"model", 0, 0, G_OPTION_ARG_STRING, &o.model, "EC200T|EC200S|EC600S|EG912Y|EC200A",
	         "NAME"},
	        {"revision", 0, 0, G_OPTION_ARG_STRING, &o.revision, "Initial revision", "REV"},
	        {"imei", 0, 0, G_OPTION_ARG_STRING, &o.imei, "IMEI", "N"},
	        {"log", 0, 0, G_OPTION_ARG_FILENAME, &o.log, "JSON-lines event log", "FILE"},
	        {"ready-file", 0, 0, G_OPTION_ARG_FILENAME, &o.ready_file,
	         "Written with the pts path once the link exists", "FILE"},
	        {"reboot-ms", 0, 0, G_OPTION_ARG_INT, &o.reboot_ms, "How long a reboot lasts", "N"},
	        {"boot-urc-delay-ms", 0, 0, G_OPTION_ARG_INT, &o.boot_urc_delay_ms,
	         "Delay before the boot URCs", "N"},
	        {"download-ms", 0, 0, G_OPTION_ARG_INT, &o.download_ms,
	         "Simulated network download duration", "N"},
	        {"update-ms", 0, 0, G_OPTION_ARG_INT, &o.update_ms,
	         "Simulated flash write duration", "N"},
	        {"no-echo", 0, 0, G_OPTION_ARG_NONE, &o.no_echo, "Start with echo off", NULL},
	        {"fail-qfotadl", 0, 0, G_OPTION_ARG_NONE, &o.fail_qfotadl,
	         "Answer ERROR to every AT+QFOTADL=", NULL},
	        {"download-error", 0, 0, G_OPTION_ARG_INT, &o.download_error,
	         "End the download with this code", "N"},
	        {"update-error", 0, 0, G_OPTION_ARG_INT, &o.update_error,
	         "End the update with END,N", "N"},
	        {"silent", 0, 0, G_OPTION_ARG_NONE, &o.silent, "No FOTA URCs after OK", NULL},
	        {"hangup-at", 0, 0, G_OPTION_ARG_STRING, &o.hangup_at,
	         "Crash at accepted|downloading|updating", "PHASE"},
	        {"garbage", 0, 0, G_OPTION_ARG_NONE, &o.garbage, "Inject garbage bytes", NULL},
	        {"split-writes", 0, 0, G_OPTION_ARG_NONE, &o.split_writes,
	         "Write output in small delayed pieces", NULL},
	        {"interleave-urcs", 0, 0, G_OPTION_ARG_NONE, &o.interleave_urcs,
	         "Inject unrelated URCs", NULL},
	        {"quiet-update", 0, 0, G_OPTION_ARG_NONE, &o.quiet_update,
	         "Mode 0: no URCs while updating", NULL},
	        {"urc-before-ok", 0, 0, G_OPTION_ARG_NONE, &o.urc_before_ok,
	         "Send the first FOTA URC before the OK of AT+QFOTADL", NULL},
	        {"reply-delay", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.reply_delays,
	         "Delay the final result of commands starting with PFX", "PFX=MS"},
	        {"cme-error", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.cme_errors,
	         "Answer +CME ERROR: CODE to commands starting with PFX", "PFX=CODE"},
	        {"require-pdp", 0, 0, G_OPTION_ARG_NONE, &o.require_pdp,
	         "Network modes need AT+QIACT", NULL},
	        {"port-kind", 0, 0, G_OPTION_ARG_STRING, &o.port_kind,
	         "usb (AT+QCFG=\"usbifc\") or uart (AT+IFC)", "KIND"},
	        {"file-end-delay-ms", 0, 0, G_OPTION_ARG_INT, &o.file_end_delay_ms,
	         "FILE mode: wait this long after the last byte before FILEEND", "N"},
	        {"check-ms", 0, 0, G_OPTION_ARG_INT, &o.check_ms, "Package check before START",
	         "N"},
	        {"file-early-end", 0, 0, G_OPTION_ARG_STRING, &o.file_early_end,
	         "FILE mode: FILEEND,CODE (default 500) after N bytes (0: off)", "N[,CODE]"},
	        {"file-hold", 0, 0, G_OPTION_ARG_INT64, &o.file_hold,
	         "FILE mode: stop reading after N bytes until SIGUSR1 (once)", "N"},
	        {"file-timeout-ms", 0, 0, G_OPTION_ARG_INT, &o.file_timeout_ms,
	         "FILE mode stall timeout", "N"},
	        {"net-timeout-ms", 0, 0, G_OPTION_ARG_INT, &o.net_timeout_ms,
	         "Network connect/stall timeout", "N"},
	        {"https-insecure", 0, 0, G_OPTION_ARG_NONE, &o.https_insecure,
	         "Do not verify HTTPS certificates", NULL},
	        {"seed", 0, 0, G_OPTION_ARG_STRING, &o.seed, "Seed for the random faults", "N"},
	        {"https-stages", 0, 0, G_OPTION_ARG_NONE, &o.https_stages,
	         "HTTPSSTART/HTTPSEND for https URLs", NULL},
	        {"vanish-after-download", 0, 0, G_OPTION_ARG_INT, &o.vanish_after_download_ms,
	         "Mode 1: the tty is gone this long after *END,0, before START", "MS"},
	        {"no-update-start", 0, 0, G_OPTION_ARG_NONE, &o.no_update_start,
	         "UPDATING with no START before it", NULL},
	        {"reboot-mid-update", 0, 0, G_OPTION_ARG_NONE, &o.reboot_mid_update,
	         "Reboot halfway through the update, then go on", NULL},
	        {"download-cut", 0, 0, G_OPTION_ARG_INT, &o.download_cut,
	         "Network cut halfway through the download: END,CODE, no *END (once)", "CODE"},
	        {"refuse-download", 0, 0, G_OPTION_ARG_INT, &o.refuse_download,
	         "*END,CODE right after *START (once)", "CODE"},
	        {"restore", 0, 0, G_OPTION_ARG_INT, &o.restore,
	         "The update fails halfway and restores: RESTORE n%, END,CODE (once)", "CODE"},
	        {"download-silence", 0, 0, G_OPTION_ARG_INT, &o.download_silence_ms,
	         "No DOWNLOADING; a network download lasts at least MS", "MS"},
	        {"no-download-urcs", 0, 0, G_OPTION_ARG_NONE, &o.no_download_urcs,
	         "Network modes: no *START, DOWNLOADING or *END", NULL},
	        {"boot-shuffle", 0, 0, G_OPTION_ARG_NONE, &o.boot_shuffle,
	         "Boot URCs (with +CFUN: 1) in a seeded shuffled order", NULL},
	        {"trace", 0, 0, G_OPTION_ARG_FILENAME, &o.trace,
	         "Play this field trace for the first accepted AT+QFOTADL=", "FILE"},
	        {"make-package", 0, 0, G_OPTION_ARG_FILENAME, &o.make_package,
	         "Write a package and exit", "OUT"},
	        {"from", 0, 0, G_OPTION_ARG_STRING, &o.from, "Package source revision", "REV"},
	        {"to", 0, 0, G_OPTION_ARG_STRING, &o.to, "Package target revision", "REV"},
	        {"size", 0, 0, G_OPTION_ARG_INT64, &o.size, "Package payload bytes", "N"},
	        {"corrupt", 0, 0, G_OPTION_ARG_NONE, &o.corrupt, "Damage the package payload",
	         NULL},
	        G_OPTION_ENTRY_NULL,
	};
	g_autoptr(GOptionContext) context = g_option_context_new("- Quectel modem simulator");
	g_autoptr(GError) error = NULL;
	g_auto(SimConfig) cfg = {0};
	g_autoptr(SimLog) log = NULL;
	g_autoptr(SimModem) modem = NULL;
	g_autoptr(GMainLoop) loop = NULL;

	setlocale(LC_ALL, "");
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("fota-modem-sim: %s\n", error->message);
		return 2;
	}
	/* Defaults for strings are filled in afterwards: GOption would not free them. */
	if (o.model == NULL)
		o.model = g_strdup("EC200T");
	if (o.imei == NULL)
		o.imei = g_strdup("866000000000001");
	if (o.make_package != NULL)
		return make_package(&o);
	if (!build_config(&o, &cfg, &error)) {
		g_printerr("fota-modem-sim: %s\n", error->message);
		return 2;
	}

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	log = sim_log_open(cfg.log_path, &error);
	if (log == NULL) {
		g_printerr("fota-modem-sim: %s\n", error->message);
		return 1;
	}
	loop = g_main_loop_new(NULL, FALSE);
	/* Caught before the ready file (written by sim_modem_new()) tells a test
	 * that it may signal us; they run from the loop, once the modem exists. */
	g_unix_signal_add(SIGTERM, on_signal, loop);
	g_unix_signal_add(SIGINT, on_signal, loop);
	g_unix_signal_add(SIGUSR1, on_release_hold, &modem);
	g_unix_signal_add(SIGUSR2, on_hold_next_reply, &modem);
	modem = sim_modem_new(&cfg, log, &error);
	if (modem == NULL) {
		g_printerr("fota-modem-sim: %s\n", error->message);
		return 1;
	}
	g_main_loop_run(loop);
	/* Freeing the modem removes the link; a download thread may still be running, which
	 * is why curl_global_cleanup() is left to process exit. */
	return 0;
}
