/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A stand-in for quectel-fotad on the session bus that plays a scripted
 * job, so that fotactl's following logic (races, vanishing daemon, exit
 * codes, rendering) is tested without a modem. The real daemon is tested
 * end to end by tests/integration. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <glib-unix.h>

#include "fota-dbus-error.h"
#include "fota-generated.h"

#define JOB_ID "0123456789abcdef0123456789abcdef"

typedef struct {
	const char *state;
	guint percent;
} Step;

/* The scenarios:
 * succeed  - a job runs to success;
 * fail     - the download fails with a message full of awkward bytes;
 * cancel   - the download stalls at 20% until Cancel;
 * vanish   - the daemon exits in the middle of the download;
 * resumed  - starts with that job already failed (the daemon came back);
 * done     - starts with a succeeded job;
 * busy     - StartUrl/StartFile fail with Busy;
 * chatty   - the download reports progress every millisecond, forever
 *            (fills a pipe that nobody reads). */
typedef struct {
	char *scenario;
	FotaFota1 *skeleton;
	GMainLoop *loop;
	const Step *steps;
	guint n_steps;
	guint next_step;
	guint64 file_size;
	gboolean running;
	gboolean play_pending; /* started: the steps play once the client follows */
	gboolean stall;
	char *source;
	char *state;
	guint percent;
	char *error;
	char *message;
	gint64 started;
	gint64 finished;
} Fake;

static const Step run_steps[] = {
        {"preparing", 0}, {"downloading", 0}, {"downloading", 40}, {"downloading", 100},
        {"rebooting", 0}, {"updating", 50},   {"updating", 100},   {"verifying", 0},
};

#define FAIL_MESSAGE                                                                               \
	"HTTP download failed: 714 (HTTP(S) DNS error) \"q\" \\ \x01\x1b[31m \xe2\x9c\x93"

static void
set_state(Fake *fake, const char *state, guint percent)
{
	g_free(fake->state);
	fake->state = g_strdup(state);
	fake->percent = percent;
	fota_fota1_set_state(fake->skeleton, state);
	fota_fota1_set_percent(fake->skeleton, percent);
	fota_fota1_emit_progress(fake->skeleton, JOB_ID, state, percent);
}

static void
end_job(Fake *fake, const char *result, const char *error, const char *message)
{
	fake->running = FALSE;
	fake->finished = g_get_real_time();
	g_free(fake->state);
	fake->state = g_strdup(result);
	fake->error = g_strdup(error);
	fake->message = g_strdup(message);
	fota_fota1_set_state(fake->skeleton, result);
	fota_fota1_set_last_error(fake->skeleton, error);
	fota_fota1_set_modem_revision(fake->skeleton, g_str_equal(result, "succeeded")
	                                                      ? "EC200TCNDAR02A07M16"
	                                                      : "EC200TCNDAR02A06M16");
	fota_fota1_emit_finished(fake->skeleton, JOB_ID, result, error, message);
}

static gboolean
on_step(gpointer data)
{
	Fake *fake = data;

	if (!fake->running)
		return G_SOURCE_REMOVE;
	if (fake->stall)
		return G_SOURCE_CONTINUE;
	if (g_str_equal(fake->scenario, "chatty") && fake->next_step == 3) {
		set_state(fake, "downloading", (fake->percent + 1) % 100);
		return G_SOURCE_CONTINUE;
	}
	if (g_str_equal(fake->scenario, "fail") && fake->next_step == 3) {
		end_job(fake, "failed", "org.quectel.Fota1.Error.DownloadFailed", FAIL_MESSAGE);
		return G_SOURCE_REMOVE;
	}
	if (g_str_equal(fake->scenario, "vanish") && fake->next_step == 3) {
		g_main_loop_quit(fake->loop);
		return G_SOURCE_REMOVE;
	}
	if (fake->next_step == fake->n_steps) {
		end_job(fake, "succeeded", "", "");
		return G_SOURCE_REMOVE;
	}
	set_state(fake, fake->steps[fake->next_step].state, fake->steps[fake->next_step].percent);
	fake->next_step++;
	if (g_str_equal(fake->scenario, "cancel") && fake->next_step == 3)
		fake->stall = TRUE;
	return G_SOURCE_CONTINUE;
}

static gboolean
start_job(Fake *fake, GDBusMethodInvocation *invocation, const char *source)
{
	if (g_str_equal(fake->scenario, "busy") || fake->running) {
		g_dbus_method_invocation_return_error(invocation, FOTA_DBUS_ERROR,
		                                      FOTA_DBUS_ERROR_BUSY,
		                                      "a job is already running");
		return FALSE;
	}
	fake->running = TRUE;
	fake->source = g_strdup(source);
	fake->started = g_get_real_time();
	fake->steps = run_steps;
	fake->n_steps = G_N_ELEMENTS(run_steps);
	fota_fota1_set_job_id(fake->skeleton, JOB_ID);
	/* Like the daemon: the job exists before the call returns. */
	set_state(fake, "preparing", 0);
	fake->play_pending = TRUE;
	return TRUE;
}

static gboolean
on_start_url(FotaFota1 *skeleton, GDBusMethodInvocation *invocation, const char *url,
             GVariant *options, gpointer data)
{
	Fake *fake = data;
	g_autoptr(GVariant) sha256 = g_variant_lookup_value(options, "sha256", NULL);

	if (sha256 != NULL) {
		g_dbus_method_invocation_return_error(invocation, FOTA_DBUS_ERROR,
		                                      FOTA_DBUS_ERROR_INVALID_ARGUMENT,
		                                      "option 'sha256' is for StartFile only");
		return TRUE;
	}
	if (start_job(fake, invocation, url))
		fota_fota1_complete_start_url(skeleton, invocation, JOB_ID);
	return TRUE;
}

static gboolean
on_start_file(FotaFota1 *skeleton, GDBusMethodInvocation *invocation, GVariant *handle,
              GVariant *options, gpointer data)
{
	Fake *fake = data;
	GDBusMessage *message = g_dbus_method_invocation_get_message(invocation);
	GUnixFDList *fds = g_dbus_message_get_unix_fd_list(message);
	g_autoptr(GError) error = NULL;
	g_autofree char *source = NULL;
	struct stat st;
	int fd;

	if (fds == NULL ||
	    (fd = g_unix_fd_list_get(fds, g_variant_get_handle(handle), &error)) < 0) {
		g_dbus_method_invocation_return_error(invocation, FOTA_DBUS_ERROR,
		                                      FOTA_DBUS_ERROR_INVALID_ARGUMENT,
		                                      "no file descriptor");
		return TRUE;
	}
	fstat(fd, &st);
	close(fd);
	source = g_strdup_printf("file:%" G_GUINT64_FORMAT, (guint64)st.st_size);
	if (start_job(fake, invocation, source))
		fota_fota1_complete_start_file(skeleton, invocation, JOB_ID);
	return TRUE;
}

static gboolean
on_cancel(FotaFota1 *skeleton, GDBusMethodInvocation *invocation, gpointer data)
{
	Fake *fake = data;

	if (!fake->running) {
		g_dbus_method_invocation_return_error(invocation, FOTA_DBUS_ERROR,
		                                      FOTA_DBUS_ERROR_INVALID_ARGUMENT,
		                                      "no job is running");
		return TRUE;
	}
	fota_fota1_complete_cancel(skeleton, invocation);
	end_job(fake, "cancelled", "", "cancelled by request");
	return TRUE;
}

static gboolean
on_get_job(FotaFota1 *skeleton, GDBusMethodInvocation *invocation, gpointer data)
{
	Fake *fake = data;
	g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);

	if (fake->state != NULL) {
		g_variant_builder_add(&b, "{sv}", "id", g_variant_new_string(JOB_ID));
		g_variant_builder_add(&b, "{sv}", "source", g_variant_new_string(fake->source));
		g_variant_builder_add(&b, "{sv}", "upgrade-mode", g_variant_new_uint32(1));
		g_variant_builder_add(&b, "{sv}", "state", g_variant_new_string(fake->state));
		g_variant_builder_add(&b, "{sv}", "percent", g_variant_new_uint32(fake->percent));
		g_variant_builder_add(&b, "{sv}", "error",
		                      g_variant_new_string(fake->error ? fake->error : ""));
		g_variant_builder_add(&b, "{sv}", "message",
		                      g_variant_new_string(fake->message ? fake->message : ""));
		g_variant_builder_add(&b, "{sv}", "from-revision",
		                      g_variant_new_string("EC200TCNDAR02A06M16"));
		if (g_str_equal(fake->state, "succeeded"))
			g_variant_builder_add(&b, "{sv}", "to-revision",
			                      g_variant_new_string("EC200TCNDAR02A07M16"));
		g_variant_builder_add(&b, "{sv}", "started", g_variant_new_int64(fake->started));
		if (fake->finished != 0)
			g_variant_builder_add(&b, "{sv}", "finished",
			                      g_variant_new_int64(fake->finished));
	}
	fota_fota1_complete_get_job(skeleton, invocation, g_variant_builder_end(&b));
	/* fotactl follows a job from its GetJob on: steps played before it (a
	 * slow client under ASan) would reach it folded into that reply, and
	 * the output the tests check would depend on who was faster. */
	if (fake->play_pending) {
		fake->play_pending = FALSE;
		g_timeout_add(g_str_equal(fake->scenario, "chatty") ? 1 : 30, on_step, fake);
	}
	return TRUE;
}

static gboolean
on_get_modem_info(FotaFota1 *skeleton, GDBusMethodInvocation *invocation, gpointer data)
{
	g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);

	g_variant_builder_add(&b, "{sv}", "manufacturer", g_variant_new_string("Quectel"));
	g_variant_builder_add(&b, "{sv}", "model", g_variant_new_string("EC200T"));
	g_variant_builder_add(&b, "{sv}", "revision",
	                      g_variant_new_string(fota_fota1_get_modem_revision(skeleton)));
	g_variant_builder_add(&b, "{sv}", "upgrade-kind", g_variant_new_string("fota"));
	fota_fota1_complete_get_modem_info(skeleton, invocation, g_variant_builder_end(&b));
	return TRUE;
}

static void
on_bus_acquired(GDBusConnection *bus, const char *name, gpointer data)
{
	Fake *fake = data;
	g_autoptr(GError) error = NULL;

	if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(fake->skeleton), bus,
	                                      "/org/quectel/Fota1", &error))
		g_error("export: %s", error->message);
}

static void
on_name_lost(GDBusConnection *bus, const char *name, gpointer data)
{
	/* A closed connection is the test tearing the bus down. */
	if (bus != NULL && !g_dbus_connection_is_closed(bus)) {
		g_printerr("fake-fotad: cannot own %s\n", name);
		exit(1);
	}
	exit(0);
}

static gboolean
on_term(gpointer data)
{
	g_main_loop_quit(((Fake *)data)->loop);
	return G_SOURCE_REMOVE;
}

int
main(int argc, char **argv)
{
	Fake fake = {0};

	if (argc != 2) {
		g_printerr("usage: fake-fotad SCENARIO\n");
		return 2;
	}
	(void)fota_dbus_error_quark();
	fake.scenario = argv[1];
	fake.skeleton = fota_fota1_skeleton_new();
	fake.loop = g_main_loop_new(NULL, FALSE);
	fota_fota1_set_state(fake.skeleton, "idle");
	fota_fota1_set_job_id(fake.skeleton, "");
	fota_fota1_set_modem_model(fake.skeleton, "EC200T");
	fota_fota1_set_modem_revision(fake.skeleton, "EC200TCNDAR02A06M16");
	fota_fota1_set_last_error(fake.skeleton, "");
	if (g_str_equal(fake.scenario, "resumed") || g_str_equal(fake.scenario, "done")) {
		gboolean ok = g_str_equal(fake.scenario, "done");

		fake.source = g_strdup("http://h/p.bin");
		fake.started = g_get_real_time() - 192 * G_USEC_PER_SEC;
		fota_fota1_set_job_id(fake.skeleton, JOB_ID);
		end_job(&fake, ok ? "succeeded" : "failed",
		        ok ? "" : "org.quectel.Fota1.Error.Timeout",
		        ok ? "" : "the modem did not come back after its reboot");
	}

	g_signal_connect(fake.skeleton, "handle-start-url", G_CALLBACK(on_start_url), &fake);
	g_signal_connect(fake.skeleton, "handle-start-file", G_CALLBACK(on_start_file), &fake);
	g_signal_connect(fake.skeleton, "handle-cancel", G_CALLBACK(on_cancel), &fake);
	g_signal_connect(fake.skeleton, "handle-get-job", G_CALLBACK(on_get_job), &fake);
	g_signal_connect(fake.skeleton, "handle-get-modem-info", G_CALLBACK(on_get_modem_info),
	                 &fake);
	g_bus_own_name(G_BUS_TYPE_SESSION, "org.quectel.Fota1", G_BUS_NAME_OWNER_FLAGS_NONE,
	               on_bus_acquired, NULL, on_name_lost, &fake, NULL);
	g_unix_signal_add(SIGTERM, on_term, &fake);
	g_main_loop_run(fake.loop);
	return 0;
}
