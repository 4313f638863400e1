/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fotactl: the command-line client of quectel-fotad (org.quectel.Fota1). */
#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <glib-unix.h>

#include "fota-dbus-error.h"
#include "fota-generated.h"
#include "fotactl-interrupt.h"
#include "fota-limits.h"
#include "fotactl-output.h"

#define FOTA_BUS_NAME    "org.quectel.Fota1"
#define FOTA_OBJECT_PATH "/org/quectel/Fota1"

/* Errors fotactl finds itself, named like the daemon's so that JSON
 * consumers see one kind of "error" value. */
#define CLIENT_ERROR_USAGE       "org.quectel.fotactl.Error.Usage"
#define CLIENT_ERROR_FILE        "org.quectel.fotactl.Error.File"
#define CLIENT_ERROR_UNREACHABLE "org.quectel.fotactl.Error.Unreachable"
#define CLIENT_ERROR_VANISHED    "org.quectel.fotactl.Error.Vanished"
#define CLIENT_ERROR_NO_JOB      "org.quectel.fotactl.Error.NoJob"
#define CLIENT_ERROR_INTERRUPTED "org.quectel.fotactl.Error.Interrupted"

/* Method call timeouts. GetModemInfo talks to the modem (several AT
 * commands, each bounded by the daemon's command timeout); the Start calls
 * may hash a large package before they answer, so they wait as long as the
 * daemon needs: it bounds its own work. */
#define CALL_TIMEOUT_MS  30000
#define MODEM_TIMEOUT_MS 120000
#define START_TIMEOUT_MS G_MAXINT

#define DEFAULT_VANISH_TIMEOUT_S 60

typedef enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,
	EXIT_CANCELLED = 4,
	EXIT_INTERRUPTED = 130, /* as a shell reports a command ended by SIGINT */
} FotactlExit;

/* The command line. Numbers are taken as strings so that a bad value gets
 * a message naming the option and its range instead of GOption's generic
 * one. */
typedef struct {
	gboolean session;
	gboolean json;
	gboolean no_wait;
	gboolean skip_if_current;
	gboolean version;
	char *mode;
	char *expect_revision;
	char *sha256;
	char *cid;
	char *apn;
	char *download_urc_max;
	char *update_urc_max;
	char *timeout;
	char **args; /* the verb and its arguments */
} FotactlOptions;

typedef struct {
	FotactlOptions opts;
	guint vanish_timeout_s;
	FotactlOutput *output;
	GDBusConnection *bus;
	FotaFota1 *proxy;
	GCancellable *cancellable; /* cancelled by Ctrl-C */

	gboolean monitor; /* print every event, never finish on our own */
	gboolean interrupted;
	gboolean done;
	int exit_code;

	/* Following a job (wait, install). */
	char *job_id;       /* the job followed; NULL until known */
	gboolean following; /* GetJob answered: signals count from now on */
	gboolean finishing; /* Finished seen, fetching the revisions */
	char *fin_result;
	char *fin_error;
	char *fin_message;
	guint vanish_source;
	guint tick_source;
	guint sigint_source;
} Fotactl;

static void
fotactl_options_clear(FotactlOptions *opts)
{
	g_free(opts->mode);
	g_free(opts->expect_revision);
	g_free(opts->sha256);
	g_free(opts->cid);
	g_free(opts->apn);
	g_free(opts->download_urc_max);
	g_free(opts->update_urc_max);
	g_free(opts->timeout);
	g_strfreev(opts->args);
}

static void
fotactl_clear(Fotactl *app)
{
	g_clear_handle_id(&app->vanish_source, g_source_remove);
	g_clear_handle_id(&app->tick_source, g_source_remove);
	g_clear_handle_id(&app->sigint_source, g_source_remove);
	if (app->cancellable != NULL)
		g_cancellable_cancel(app->cancellable);
	if (app->proxy != NULL)
		g_signal_handlers_disconnect_by_data(app->proxy, app);
	if (app->bus != NULL)
		g_signal_handlers_disconnect_by_data(app->bus, app);
	g_clear_object(&app->proxy);
	g_clear_object(&app->bus);
	g_clear_object(&app->cancellable);
	g_clear_pointer(&app->output, fotactl_output_free);
	g_free(app->job_id);
	g_free(app->fin_result);
	g_free(app->fin_error);
	g_free(app->fin_message);
	fotactl_options_clear(&app->opts);
}

/* ---- errors and exit codes ---- */

static int fail(Fotactl *app, int code, const char *name, const char *format, ...)
        G_GNUC_PRINTF(4, 5);

static int
fail(Fotactl *app, int code, const char *name, const char *format, ...)
{
	g_autofree char *message = NULL;
	va_list args;

	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	fotactl_output_error(app->output, name, message);
	return code;
}

/* Bus-level failures: the daemon is not there or does not answer. */
static gboolean
is_unreachable_name(const char *name)
{
	static const char *const names[] = {
	        "org.freedesktop.DBus.Error.ServiceUnknown",
	        "org.freedesktop.DBus.Error.NameHasNoOwner",
	        "org.freedesktop.DBus.Error.NoReply",
	        "org.freedesktop.DBus.Error.Timeout",
	        "org.freedesktop.DBus.Error.TimedOut",
	        "org.freedesktop.DBus.Error.Disconnected",
	        "org.freedesktop.DBus.Error.NoServer",
	        "org.freedesktop.DBus.Error.NoNetwork",
	};

	if (g_str_has_prefix(name, "org.freedesktop.DBus.Error.Spawn."))
		return TRUE;
	return g_strv_contains(names, name);
}

/* The request itself was wrong: nothing a retry fixes. */
static gboolean
is_usage_name(const char *name)
{
	static const char *const names[] = {
	        "org.quectel.Fota1.Error.InvalidArgument",
	        "org.quectel.Fota1.Error.NotSupported",
	        "org.freedesktop.DBus.Error.InvalidArgs",
	        NULL,
	};

	return g_strv_contains(names, name);
}

/* Reports @error and returns the exit code it means (see fotactl(1)):
 * 2 for a refused request, 3 when the daemon or the bus cannot be reached,
 * 130 after Ctrl-C, 1 for everything else the daemon refused (Busy,
 * NoModem, ModemError, NotCancellable, AccessDenied, ...). */
static int
fail_gerror(Fotactl *app, const GError *error)
{
	g_autofree char *remote = g_dbus_error_get_remote_error(error);
	g_autoptr(GError) copy = g_error_copy(error);

	if (g_cancellable_is_cancelled(app->cancellable))
		return fail(app, EXIT_INTERRUPTED, CLIENT_ERROR_INTERRUPTED,
		            "interrupted; a request already sent may still take effect "
		            "(see fotactl status)");

	g_dbus_error_strip_remote_error(copy);
	if (remote == NULL)
		/* No name from the other side: the bus connection itself failed
		 * or the call timed out locally. */
		return fail(app, EXIT_UNREACHABLE, CLIENT_ERROR_UNREACHABLE, "%s", copy->message);
	if (is_unreachable_name(remote))
		return fail(app, EXIT_UNREACHABLE, remote, "quectel-fotad is not reachable: %s",
		            copy->message);
	return fail(app, is_usage_name(remote) ? EXIT_USAGE : EXIT_FAILED, remote, "%s",
	            copy->message);
}

static int
exit_code_for_result(const char *result)
{
	if (g_strcmp0(result, "succeeded") == 0)
		return EXIT_OK;
	if (g_strcmp0(result, "cancelled") == 0)
		return EXIT_CANCELLED;
	return EXIT_FAILED;
}

static void
finish(Fotactl *app, int exit_code)
{
	app->exit_code = exit_code;
	app->done = TRUE;
}

static void
run_until_done(Fotactl *app)
{
	while (!app->done)
		g_main_context_iteration(NULL, TRUE);
}

/* ---- talking to the daemon ---- */

static void
on_bus_closed(GDBusConnection *bus, gboolean remote_peer_vanished, GError *error, gpointer data)
{
	Fotactl *app = data;

	fotactl_output_flush_line(app->output);
	finish(app, fail(app, EXIT_UNREACHABLE, CLIENT_ERROR_UNREACHABLE,
	                 "lost the connection to the bus%s%s", error != NULL ? ": " : "",
	                 error != NULL ? error->message : ""));
}

static void
on_async_done(GObject *source, GAsyncResult *res, gpointer data)
{
	GAsyncResult **result = data;

	*result = g_object_ref(res);
}

/* Runs the main context until an operation started with on_async_done
 * and @result ends: Ctrl-C cancels app->cancellable, which ends it. */
static void
wait_async(GAsyncResult **result)
{
	while (*result == NULL)
		g_main_context_iteration(NULL, TRUE);
}

/* Connecting may wait for the bus to start the daemon: asynchronous, so
 * that Ctrl-C is heard meanwhile. */
static int
connect_daemon(Fotactl *app)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GAsyncResult) bus_result = NULL;
	g_autoptr(GAsyncResult) proxy_result = NULL;

	/* Registers the org.quectel.Fota1.Error.* names before any reply. */
	(void)fota_dbus_error_quark();

	g_bus_get(app->opts.session ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM, app->cancellable,
	          on_async_done, &bus_result);
	wait_async(&bus_result);
	app->bus = g_bus_get_finish(bus_result, &error);
	if (app->bus == NULL && !g_cancellable_is_cancelled(app->cancellable))
		return fail(app, EXIT_UNREACHABLE, CLIENT_ERROR_UNREACHABLE,
		            "cannot connect to the %s bus: %s",
		            app->opts.session ? "session" : "system", error->message);
	if (app->bus == NULL)
		return fail_gerror(app, error);
	/* The default would kill us with SIGTERM when the bus goes away; we
	 * want to say why and exit with our own code. */
	g_dbus_connection_set_exit_on_close(app->bus, FALSE);
	g_signal_connect(app->bus, "closed", G_CALLBACK(on_bus_closed), app);

	/* Without DO_NOT_AUTO_START the bus activates the daemon if needed. */
	fota_fota1_proxy_new(app->bus, G_DBUS_PROXY_FLAGS_NONE, FOTA_BUS_NAME, FOTA_OBJECT_PATH,
	                     app->cancellable, on_async_done, &proxy_result);
	wait_async(&proxy_result);
	app->proxy = fota_fota1_proxy_new_finish(proxy_result, &error);
	if (app->proxy == NULL)
		return fail_gerror(app, error);
	return EXIT_OK;
}

/* A method call that Ctrl-C can interrupt: the main context keeps running,
 * so the SIGINT source fires even while StartFile hashes a large package. */
static GVariant *
call_method(Fotactl *app, const char *method, GVariant *params, GUnixFDList *fds, int timeout_ms,
            GError **error)
{
	g_autoptr(GAsyncResult) result = NULL;

	g_dbus_proxy_call_with_unix_fd_list(G_DBUS_PROXY(app->proxy), method, params,
	                                    G_DBUS_CALL_FLAGS_NONE, timeout_ms, fds,
	                                    app->cancellable, on_async_done, &result);
	wait_async(&result);
	return g_dbus_proxy_call_with_unix_fd_list_finish(G_DBUS_PROXY(app->proxy), NULL, result,
	                                                  error);
}

/* ---- following a job (wait, install) ---- */

static void request_job(Fotactl *app);

static void
on_progress(FotaFota1 *proxy, const char *job_id, const char *state, guint percent, gpointer data)
{
	Fotactl *app = data;

	if (app->monitor) {
		fotactl_output_progress(app->output, job_id, state, percent);
		return;
	}
	/* Before GetJob answers, its reply covers what these signals say. */
	if (!app->following || app->finishing || g_strcmp0(job_id, app->job_id) != 0)
		return;
	fotactl_output_progress(app->output, job_id, state, percent);
}

static void
on_finished(FotaFota1 *proxy, const char *job_id, const char *result, const char *error,
            const char *message, gpointer data)
{
	Fotactl *app = data;

	if (app->monitor) {
		fotactl_output_finished(app->output, job_id, result, error, message, NULL);
		return;
	}
	if (!app->following || app->finishing || g_strcmp0(job_id, app->job_id) != 0)
		return;
	/* The signal has no revisions or times; GetJob has, so one more
	 * call before the result line. */
	app->finishing = TRUE;
	app->fin_result = g_strdup(result);
	app->fin_error = g_strdup(error);
	app->fin_message = g_strdup(message);
	request_job(app);
}

static void
on_properties_changed(GDBusProxy *proxy, GVariant *changed, const char *const *invalidated,
                      gpointer data)
{
	Fotactl *app = data;

	if (app->monitor)
		fotactl_output_properties_changed(app->output, changed, invalidated);
}

static gboolean
on_vanish_timeout(gpointer data)
{
	Fotactl *app = data;

	app->vanish_source = 0;
	finish(app, fail(app, EXIT_UNREACHABLE, CLIENT_ERROR_VANISHED,
	                 "quectel-fotad left the bus and did not come back within %u s; the "
	                 "modem may still be upgrading: run 'fotactl wait' again",
	                 app->vanish_timeout_s));
	return G_SOURCE_REMOVE;
}

static void
on_name_owner(GObject *object, GParamSpec *pspec, gpointer data)
{
	Fotactl *app = data;
	g_autofree char *owner = g_dbus_proxy_get_name_owner(G_DBUS_PROXY(app->proxy));
	gboolean running = owner != NULL;

	fotactl_output_daemon(app->output, running);
	if (app->monitor)
		return;
	if (!running) {
		/* systemd may restart the daemon mid-job (it resumes the
		 * persisted job), so a vanished daemon is not the end yet. */
		if (app->vanish_source == 0)
			app->vanish_source = g_timeout_add_seconds(app->vanish_timeout_s,
			                                           on_vanish_timeout, app);
		return;
	}
	g_clear_handle_id(&app->vanish_source, g_source_remove);
	/* What happened while it was away is only in its job record now. */
	request_job(app);
}

static void
report_final_from_job(Fotactl *app, GVariant *job)
{
	const char *state = NULL;
	const char *error = "";
	const char *message = "";

	g_variant_lookup(job, "state", "&s", &state);
	g_variant_lookup(job, "error", "&s", &error);
	g_variant_lookup(job, "message", "&s", &message);
	fotactl_output_finished(app->output, app->job_id, state, error, message, job);
	finish(app, exit_code_for_result(state));
}

static void
on_job_reply(GObject *source, GAsyncResult *res, gpointer data)
{
	Fotactl *app = data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = g_dbus_proxy_call_finish(G_DBUS_PROXY(source), res, &error);
	g_autoptr(GVariant) job = NULL;
	const char *id = NULL;
	const char *state = NULL;

	if (app->done)
		return;
	if (reply == NULL) {
		if (app->finishing) {
			/* The result is known; only the details are missing. */
			fotactl_output_finished(app->output, app->job_id, app->fin_result,
			                        app->fin_error, app->fin_message, NULL);
			finish(app, exit_code_for_result(app->fin_result));
			return;
		}
		/* Gone again between coming back and answering: the owner
		 * watch decides. */
		if (app->vanish_source != 0)
			return;
		finish(app, fail_gerror(app, error));
		return;
	}

	job = g_variant_get_child_value(reply, 0);
	if (app->finishing) {
		fotactl_output_finished(app->output, app->job_id, app->fin_result, app->fin_error,
		                        app->fin_message, job);
		finish(app, exit_code_for_result(app->fin_result));
		return;
	}
	if (!g_variant_lookup(job, "id", "&s", &id) ||
	    !g_variant_lookup(job, "state", "&s", &state)) {
		finish(app, fail(app, EXIT_USAGE, CLIENT_ERROR_NO_JOB,
		                 "there is no upgrade job to wait for"));
		return;
	}
	if (app->job_id != NULL && !g_str_equal(app->job_id, id)) {
		finish(app, fail(app, EXIT_FAILED, CLIENT_ERROR_NO_JOB,
		                 "job %s is no longer the daemon's job (now %s); see "
		                 "'fotactl status'",
		                 app->job_id, id));
		return;
	}
	if (app->job_id == NULL)
		app->job_id = g_strdup(id);
	app->following = TRUE;
	fotactl_output_job(app->output, job);
	if (g_str_equal(state, "succeeded") || g_str_equal(state, "failed") ||
	    g_str_equal(state, "cancelled"))
		report_final_from_job(app, job);
}

static void
request_job(Fotactl *app)
{
	g_dbus_proxy_call(G_DBUS_PROXY(app->proxy), "GetJob", NULL, G_DBUS_CALL_FLAGS_NONE,
	                  CALL_TIMEOUT_MS, app->cancellable, on_job_reply, app);
}

static gboolean
on_tick(gpointer data)
{
	Fotactl *app = data;

	fotactl_output_tick(app->output);
	return G_SOURCE_CONTINUE;
}

static gboolean
on_sigint(gpointer data)
{
	Fotactl *app = data;

	app->sigint_source = 0;
	app->interrupted = TRUE;
	/* Ends a pending call too; fail_gerror() then says what that means. */
	g_cancellable_cancel(app->cancellable);
	finish(app, app->monitor ? EXIT_OK : EXIT_INTERRUPTED);
	return G_SOURCE_REMOVE;
}

/* Listens before anything is read, so that no change is lost between
 * reading the state and hearing about the next one. */
static void
subscribe(Fotactl *app)
{
	g_signal_connect(app->proxy, "progress", G_CALLBACK(on_progress), app);
	g_signal_connect(app->proxy, "finished", G_CALLBACK(on_finished), app);
	g_signal_connect(app->proxy, "g-properties-changed", G_CALLBACK(on_properties_changed),
	                 app);
	g_signal_connect(app->proxy, "notify::g-name-owner", G_CALLBACK(on_name_owner), app);
}

static int
follow_job(Fotactl *app)
{
	if (fotactl_output_get_format(app->output) == FOTACTL_FORMAT_TERMINAL)
		app->tick_source = g_timeout_add_seconds(1, on_tick, app);
	request_job(app);
	run_until_done(app);
	if (app->interrupted)
		return fail(app, EXIT_INTERRUPTED, CLIENT_ERROR_INTERRUPTED,
		            "stopped waiting; the upgrade goes on in quectel-fotad ('fotactl wait' "
		            "follows it again, 'fotactl cancel' stops it)");
	return app->exit_code;
}

/* ---- verbs ---- */

static int
verb_info(Fotactl *app)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) info = NULL;
	int rc = connect_daemon(app);

	if (rc != EXIT_OK)
		return rc;
	reply = call_method(app, "GetModemInfo", NULL, NULL, MODEM_TIMEOUT_MS, &error);
	if (reply == NULL)
		return fail_gerror(app, error);
	info = g_variant_get_child_value(reply, 0);
	fotactl_output_info(app->output, info);
	return EXIT_OK;
}

static int
verb_status(Fotactl *app)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) job_reply = NULL;
	g_autoptr(GVariant) props_reply = NULL;
	g_autoptr(GVariant) job = NULL;
	g_autoptr(GVariant) props = NULL;
	int rc = connect_daemon(app);

	if (rc != EXIT_OK)
		return rc;
	job_reply = call_method(app, "GetJob", NULL, NULL, CALL_TIMEOUT_MS, &error);
	if (job_reply == NULL)
		return fail_gerror(app, error);
	/* Asked afresh rather than from the proxy's cache, which is empty
	 * when the daemon was not running as the proxy was made. */
	props_reply =
	        call_method(app, "org.freedesktop.DBus.Properties.GetAll",
	                    g_variant_new("(s)", FOTA_BUS_NAME), NULL, CALL_TIMEOUT_MS, &error);
	if (props_reply == NULL)
		return fail_gerror(app, error);
	job = g_variant_get_child_value(job_reply, 0);
	props = g_variant_get_child_value(props_reply, 0);
	fotactl_output_status(app->output, props, job);
	return EXIT_OK;
}

static int
verb_cancel(Fotactl *app)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	int rc = connect_daemon(app);

	if (rc != EXIT_OK)
		return rc;
	reply = call_method(app, "Cancel", NULL, NULL, CALL_TIMEOUT_MS, &error);
	if (reply == NULL)
		return fail_gerror(app, error);
	fotactl_output_event(app->output, "cancel-requested", NULL, NULL,
	                     "Cancel requested; 'fotactl wait' shows when the job has ended.");
	return EXIT_OK;
}

static int
verb_wait(Fotactl *app)
{
	int rc = connect_daemon(app);

	if (rc != EXIT_OK)
		return rc;
	subscribe(app);
	return follow_job(app);
}

static int
verb_monitor(Fotactl *app)
{
	int rc = connect_daemon(app);

	if (rc != EXIT_OK)
		return rc;
	app->monitor = TRUE;
	fotactl_output_set_monitor(app->output, TRUE);
	subscribe(app);
	fotactl_output_note(app->output, "Monitoring %s; Ctrl-C ends.", FOTA_BUS_NAME);
	run_until_done(app);
	return app->exit_code;
}

/* Parses an unsigned option value. @allow_zero_or_5_100 is the URC-count
 * rule of AT+QFOTADL: 0 or 5..100. */
static gboolean
parse_uint_option(const char *option, const char *text, guint min, guint max,
                  gboolean allow_zero_or_5_100, guint *out, GError **error)
{
	guint64 value;

	if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT32, &value, NULL) ||
	    (allow_zero_or_5_100 ? !fota_urc_count_is_valid(value)
	                         : (value < min || value > max))) {
		if (allow_zero_or_5_100)
			g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			            "%s must be 0 or %d..%d, got '%s'", option, FOTA_URC_MIN,
			            FOTA_URC_MAX, text);
		else
			g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			            "%s must be %u%s%u, got '%s'", option, min,
			            max == min + 1 ? " or " : "..", max, text);
		return FALSE;
	}
	*out = (guint)value;
	return TRUE;
}

static gboolean
is_url(const char *source)
{
	static const char *const schemes[] = {"ftp://", "http://", "https://"};

	/* The vendor guide itself writes FTP:// in capitals. */
	for (guint i = 0; i < G_N_ELEMENTS(schemes); i++) {
		if (g_ascii_strncasecmp(source, schemes[i], strlen(schemes[i])) == 0)
			return TRUE;
	}
	return FALSE;
}

/* The StartUrl/StartFile options from the command line, validated as far
 * as the client can (the daemon checks everything again). */
static GVariant *
build_start_options(const FotactlOptions *opts, gboolean url, GError **error)
{
	g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
	guint value;

	if (opts->mode != NULL) {
		if (!parse_uint_option("--mode", opts->mode, 0, 1, FALSE, &value, error))
			return NULL;
		g_variant_builder_add(&builder, "{sv}", "upgrade-mode",
		                      g_variant_new_uint32(value));
	}
	if (opts->download_urc_max != NULL) {
		if (!parse_uint_option("--download-urc-max", opts->download_urc_max, 0, 0, TRUE,
		                       &value, error))
			return NULL;
		g_variant_builder_add(&builder, "{sv}", "download-urc-max",
		                      g_variant_new_uint32(value));
	}
	if (opts->update_urc_max != NULL) {
		if (!parse_uint_option("--update-urc-max", opts->update_urc_max, 0, 0, TRUE, &value,
		                       error))
			return NULL;
		g_variant_builder_add(&builder, "{sv}", "update-urc-max",
		                      g_variant_new_uint32(value));
	}
	if (opts->expect_revision != NULL) {
		if (opts->expect_revision[0] == '\0') {
			g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			            "--expect-revision must not be empty");
			return NULL;
		}
		g_variant_builder_add(&builder, "{sv}", "expected-revision",
		                      g_variant_new_string(opts->expect_revision));
	}
	if (opts->sha256 != NULL) {
		g_autofree char *lower = g_ascii_strdown(opts->sha256, -1);
		gboolean hex = strlen(lower) == 64; /* sha256 */

		for (const char *p = lower; hex && *p != '\0'; p++)
			hex = g_ascii_isxdigit(*p);
		if (!hex) {
			g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			            "--sha256 must be 64 hexadecimal digits, got '%s'",
			            opts->sha256);
			return NULL;
		}
		if (url) {
			g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			            "--sha256 is for package files; with a URL the modem fetches "
			            "the package and nobody else sees it");
			return NULL;
		}
		g_variant_builder_add(&builder, "{sv}", "sha256", g_variant_new_string(lower));
	}
	if ((opts->cid != NULL || opts->apn != NULL) && !url) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
		            "--cid and --apn are for URL downloads (the modem's data connection)");
		return NULL;
	}
	if (opts->cid != NULL) {
		if (!parse_uint_option("--cid", opts->cid, 1, FOTA_CID_MAX, FALSE, &value, error))
			return NULL;
		g_variant_builder_add(&builder, "{sv}", "cid", g_variant_new_uint32(value));
	}
	if (opts->apn != NULL)
		g_variant_builder_add(&builder, "{sv}", "apn", g_variant_new_string(opts->apn));
	return g_variant_builder_end(&builder);
}

static const char *
file_type_name(mode_t mode)
{
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "something else";
}

/* Opens the package for StartFile: the daemon never opens client paths, so
 * it can only read what the caller could. Non-blocking, so that a FIFO or
 * a device cannot hold fotactl in open(); only a regular file is a
 * package (its size is the length the modem is told). */
/* Sets @error from errno for @what ("open", ...) and closes @fd. */
static int
package_errno(GError **error, const char *what, const char *shown, int fd)
{
	int saved_errno = errno;

	g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved_errno), "cannot %s '%s': %s",
	            what, shown, g_strerror(saved_errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int
open_package_fd(const char *path, const char *shown, GError **error)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return package_errno(error, "open", shown, fd);
	if (fstat(fd, &st) < 0)
		return package_errno(error, "examine", shown, fd);
	if (!S_ISREG(st.st_mode)) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
		            "'%s' is %s, not a regular file: install FILE needs one", shown,
		            file_type_name(st.st_mode));
		close(fd);
		return -1;
	}
	/* The daemon reads from this file description: give it plain
	 * blocking reads. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		return package_errno(error, "use", shown, fd);
	return fd;
}

static GUnixFDList *
open_package(const char *path, GError **error)
{
	g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
	/* File names are bytes; messages are UTF-8 (U+FFFD for the rest). */
	g_autofree char *shown = g_filename_display_name(path);
	int fd = open_package_fd(path, shown, error);
	gboolean ok;

	if (fd < 0)
		return NULL;
	/* The list holds a duplicate; ours is closed either way. */
	ok = g_unix_fd_list_append(fds, fd, error) >= 0;
	close(fd);
	return ok ? g_steal_pointer(&fds) : NULL;
}

/* --skip-if-current: TRUE when the modem already runs the expected
 * revision, which makes a timer-driven install idempotent. */
static int
check_current_revision(Fotactl *app, gboolean *current)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply =
	        call_method(app, "GetModemInfo", NULL, NULL, MODEM_TIMEOUT_MS, &error);
	g_autoptr(GVariant) info = NULL;
	const char *revision = NULL;

	if (reply == NULL)
		return fail_gerror(app, error);
	info = g_variant_get_child_value(reply, 0);
	*current = g_variant_lookup(info, "revision", "&s", &revision) &&
	           g_strcmp0(revision, app->opts.expect_revision) == 0;
	if (*current) {
		g_autofree char *text =
		        g_strdup_printf("The modem already runs %s; nothing to do.", revision);

		fotactl_output_event(app->output, "skipped", "revision", revision, text);
	}
	return EXIT_OK;
}

static int
verb_install(Fotactl *app)
{
	const char *source = app->opts.args[1];
	gboolean url = is_url(source);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) options = NULL;
	g_autoptr(GUnixFDList) fds = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autofree char *job_id = NULL;
	int rc;

	/* A D-Bus string: a URL must be UTF-8 (the daemon wants ASCII). */
	if (url && !g_utf8_validate(source, -1, NULL))
		return fail(app, EXIT_USAGE, CLIENT_ERROR_USAGE, "the URL is not valid UTF-8");
	options = build_start_options(&app->opts, url, &error);
	if (options == NULL)
		return fail(app, EXIT_USAGE, CLIENT_ERROR_USAGE, "%s", error->message);
	g_variant_ref_sink(options);
	if (app->opts.skip_if_current && app->opts.expect_revision == NULL)
		return fail(app, EXIT_USAGE, CLIENT_ERROR_USAGE,
		            "--skip-if-current needs --expect-revision");
	if (!url) {
		fds = open_package(source, &error);
		if (fds == NULL)
			return fail(app, EXIT_USAGE, CLIENT_ERROR_FILE, "%s", error->message);
	}

	rc = connect_daemon(app);
	if (rc != EXIT_OK)
		return rc;
	if (app->opts.skip_if_current) {
		gboolean current = FALSE;

		rc = check_current_revision(app, &current);
		if (rc != EXIT_OK || current)
			return rc;
	}
	if (!app->opts.no_wait)
		subscribe(app);

	if (url)
		reply = call_method(app, "StartUrl", g_variant_new("(s@a{sv})", source, options),
		                    NULL, START_TIMEOUT_MS, &error);
	else
		reply = call_method(app, "StartFile", g_variant_new("(h@a{sv})", 0, options), fds,
		                    START_TIMEOUT_MS, &error);
	if (reply == NULL)
		return fail_gerror(app, error);
	g_variant_get(reply, "(s)", &job_id);
	fotactl_output_started(app->output, job_id);
	if (app->opts.no_wait)
		return EXIT_OK;
	app->job_id = g_steal_pointer(&job_id);
	return follow_job(app);
}

typedef struct {
	const char *name;
	int (*func)(Fotactl *app);
	guint n_args; /* after the verb */
} Verb;

static const Verb verbs[] = {
        {"info", verb_info, 0}, {"install", verb_install, 1}, {"status", verb_status, 0},
        {"wait", verb_wait, 0}, {"cancel", verb_cancel, 0},   {"monitor", verb_monitor, 0},
};

#define SUMMARY                                                                                    \
	"Verbs:\n"                                                                                 \
	"  info                 show the modem (GetModemInfo)\n"                                   \
	"  install URL|FILE     start an upgrade from an ftp://, http:// or https:// URL, or\n"    \
	"                       from a package FILE fotactl opens and hands to the daemon;\n"      \
	"                       then follow it like 'wait' (unless --no-wait)\n"                   \
	"  status               show the daemon's state and the current or last job\n"             \
	"  wait                 follow the current job until it ends\n"                            \
	"  cancel               cancel the running job (only until the modem has the\n"            \
	"                       whole package)\n"                                                  \
	"  monitor              print every signal of the daemon until Ctrl-C"

#define DESCRIPTION                                                                                \
	"Exit status:\n"                                                                           \
	"  0    success (the upgrade succeeded, or the command did its job)\n"                     \
	"  1    the upgrade failed, or the daemon refused (Busy, NoModem, ModemError, ...)\n"      \
	"  2    invalid usage or input (also the daemon's InvalidArgument, NotSupported)\n"        \
	"  3    the bus or quectel-fotad cannot be reached, or it left and did not return\n"       \
	"  4    the upgrade was cancelled\n"                                                       \
	"  130  Ctrl-C: fotactl stopped waiting; the upgrade itself goes on\n"                     \
	"\n"                                                                                       \
	"See fotactl(1) for the JSON event format."

static int
parse_command_line(Fotactl *app, int argc, char **argv, const Verb **verb)
{
	FotactlOptions *o = &app->opts;
	const GOptionEntry entries[] = {
	        {"session", 0, 0, G_OPTION_ARG_NONE, &o->session,
	         "Use the session bus (tests, demos)", NULL},
	        {"json", 0, 0, G_OPTION_ARG_NONE, &o->json, "One JSON object per line", NULL},
	        {"timeout", 0, 0, G_OPTION_ARG_STRING, &o->timeout,
	         "wait/install: how long to wait for a vanished daemon to return (default 60)",
	         "SECONDS"},
	        {"mode", 0, 0, G_OPTION_ARG_STRING, &o->mode,
	         "install: 0 = reboot before updating, 1 = update at once (default)", "0|1"},
	        {"expect-revision", 0, 0, G_OPTION_ARG_STRING, &o->expect_revision,
	         "install: the revision the modem must run afterwards", "REV"},
	        {"skip-if-current", 0, 0, G_OPTION_ARG_NONE, &o->skip_if_current,
	         "install: do nothing when the modem already runs --expect-revision", NULL},
	        {"sha256", 0, 0, G_OPTION_ARG_STRING, &o->sha256,
	         "install FILE: the package's SHA-256, checked before a byte is sent", "HEX"},
	        {"cid", 0, 0, G_OPTION_ARG_STRING, &o->cid,
	         "install URL: PDP context 1.." G_STRINGIFY(FOTA_CID_MAX), "N"},
	        {"apn", 0, 0, G_OPTION_ARG_STRING, &o->apn, "install URL: APN of that context",
	         "APN"},
	        {"download-urc-max", 0, 0, G_OPTION_ARG_STRING, &o->download_urc_max,
	         "install: download progress reports, 0 or " G_STRINGIFY(
	                 FOTA_URC_MIN) ".." G_STRINGIFY(FOTA_URC_MAX),
	         "N"},
	        {"update-urc-max", 0, 0, G_OPTION_ARG_STRING, &o->update_urc_max,
	         "install: update progress reports, 0 or " G_STRINGIFY(
	                 FOTA_URC_MIN) ".." G_STRINGIFY(FOTA_URC_MAX) " (EC200T)",
	         "N"},
	        {"no-wait", 0, 0, G_OPTION_ARG_NONE, &o->no_wait,
	         "install: return once the job has started", NULL},
	        {"version", 0, 0, G_OPTION_ARG_NONE, &o->version, "Print the version", NULL},
	        /* File names are bytes, whatever the locale: never converted. */
	        {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->args, NULL, NULL},
	        G_OPTION_ENTRY_NULL,
	};
	g_autoptr(GOptionContext) context =
	        g_option_context_new("VERB [URL|FILE] - control quectel-fotad");
	g_autoptr(GError) error = NULL;
	guint n_args;

	g_option_context_add_main_entries(context, entries, NULL);
	g_option_context_set_summary(context, SUMMARY);
	g_option_context_set_description(context, DESCRIPTION);
	/* One pass over argv with every option: they may come before or after
	 * the verb. */
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		app->output = fotactl_output_new(
		        o->json ? FOTACTL_FORMAT_JSON : FOTACTL_FORMAT_PLAIN, stdout, stderr);
		return fail(app, EXIT_USAGE, CLIENT_ERROR_USAGE, "%s (see fotactl --help)",
		            error->message);
	}

	if (o->json)
		app->output = fotactl_output_new(FOTACTL_FORMAT_JSON, stdout, stderr);
	else if (isatty(STDOUT_FILENO) && g_strcmp0(g_getenv("TERM"), "dumb") != 0)
		app->output = fotactl_output_new(FOTACTL_FORMAT_TERMINAL, stdout, stderr);
	else
		app->output = fotactl_output_new(FOTACTL_FORMAT_PLAIN, stdout, stderr);

	if (o->version) {
		g_print("fotactl %s\n", FOTACTL_VERSION);
		*verb = NULL;
		return EXIT_OK;
	}
	if (o->args == NULL || o->args[0] == NULL)
		return fail(app, EXIT_USAGE, CLIENT_ERROR_USAGE,
		            "no verb given (see fotactl --help)");
	*verb = NULL;
	for (guint i = 0; i < G_N_ELEMENTS(verbs); i++) {
		if (g_str_equal(o->args[0], verbs[i].name))
			*verb = &verbs[i];
	}
	if (*verb == NULL)
		return fail(app, EXIT_USAGE, CLIENT_ERROR_USAGE,
		            "unknown verb '%s' (see fotactl --help)", o->args[0]);
	n_args = g_strv_length(o->args) - 1;
	if (n_args != (*verb)->n_args)
		return fail(app, EXIT_USAGE, CLIENT_ERROR_USAGE,
		            (*verb)->n_args == 0 ? "%s takes no argument"
		                                 : "%s needs one URL or FILE argument",
		            (*verb)->name);
	if ((*verb)->func != verb_install &&
	    (o->mode != NULL || o->expect_revision != NULL || o->sha256 != NULL || o->cid != NULL ||
	     o->apn != NULL || o->download_urc_max != NULL || o->update_urc_max != NULL ||
	     o->no_wait || o->skip_if_current))
		return fail(app, EXIT_USAGE, CLIENT_ERROR_USAGE,
		            "upgrade options only go with install");

	app->vanish_timeout_s = DEFAULT_VANISH_TIMEOUT_S;
	if (o->timeout != NULL && !parse_uint_option("--timeout", o->timeout, 1, 86400, FALSE,
	                                             &app->vanish_timeout_s, &error))
		return fail(app, EXIT_USAGE, CLIENT_ERROR_USAGE, "%s", error->message);
	return EXIT_OK;
}

int
main(int argc, char **argv)
{
	Fotactl app = {0};
	const Verb *verb = NULL;
	int rc;

	setlocale(LC_ALL, "");
	app.cancellable = g_cancellable_new();

	rc = parse_command_line(&app, argc, argv, &verb);
	if (rc == EXIT_OK && verb != NULL) {
		/* Ctrl-C ends the waiting, never the upgrade; a second one
		 * ends fotactl wherever it waits. */
		app.sigint_source = fotactl_interrupt_install(on_sigint, &app);
		rc = verb->func(&app);
	}
	fotactl_clear(&app);
	return rc;
}
