/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* quectel-fotad: wiring. Options and config, logging, the bus name, the
 * modem, the job store, the D-Bus object, sd_notify and signals. */
#define G_LOG_DOMAIN "quectel-fotad"
#include <glib-unix.h>
#include <gio/gio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-id128.h>

#include "config.h"
#include "dbus-service.h"
#include "job-manager.h"
#include "job-neighbours.h"
#include "job-store.h"
#include "modem.h"

#define EXIT_USAGE 2

typedef struct {
	gboolean session;
	gboolean verbose;
	char *port;
	char *state_dir;
	char *config_file;
} Options;

typedef struct {
	GMainLoop *loop;
	FotadConfig *config;
	GBusType bus_type;
	FotaModem *modem;
	FotaJobNeighbours *neighbours;
	JobStore *store;
	FotaJobManager *manager;
	FotaService *service;
	FotaState announced_state;
	gboolean name_owned;
	int exit_code;
} Daemon;

static gboolean
parse_options(int *argc, char ***argv, Options *opts, GError **error)
{
	const GOptionEntry entries[] = {
	        {"session", 0, 0, G_OPTION_ARG_NONE, &opts->session,
	         "Use the session bus (tests, demos)", NULL},
	        {"port", 0, 0, G_OPTION_ARG_FILENAME, &opts->port,
	         "The modem's AT tty (default: from the config, else udev discovery)", "PATH"},
	        {"state-dir", 0, 0, G_OPTION_ARG_FILENAME, &opts->state_dir,
	         "Where the job record lives (default " FOTAD_DEFAULT_STATE_DIR ")", "DIR"},
	        {"config", 0, 0, G_OPTION_ARG_FILENAME, &opts->config_file,
	         "Config file (default " FOTAD_DEFAULT_CONFIG_FILE ")", "FILE"},
	        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &opts->verbose, "Log debug messages", NULL},
	        {NULL},
	};
	g_autoptr(GOptionContext) context = g_option_context_new(NULL);

	g_option_context_set_summary(context,
	                             "Upgrades the firmware of Quectel LTE modems (AT+QFOTADL).");
	g_option_context_add_main_entries(context, entries, NULL);
	return g_option_context_parse(context, argc, argv, error);
}

/* Defaults, then the config file, then the command line. */
static FotadConfig *
load_config(const Options *opts, GError **error)
{
	g_autoptr(FotadConfig) config = fotad_config_new();
	const char *file = opts->config_file ? opts->config_file : FOTAD_DEFAULT_CONFIG_FILE;

	if (!fotad_config_load_file(config, file, opts->config_file != NULL, error))
		return NULL;
	if (opts->port != NULL) {
		g_free(config->port);
		config->port = g_strdup(opts->port);
	}
	if (opts->state_dir != NULL) {
		g_free(config->state_dir);
		config->state_dir = g_strdup(opts->state_dir);
	}
	return g_steal_pointer(&config);
}

/* 32 hex digits; the file may hold the kernel's dashed form. */
static char *
read_boot_id(const FotadConfig *config, GError **error)
{
	g_autofree char *text = NULL;
	char buf[SD_ID128_STRING_MAX];
	sd_id128_t id;
	int r;

	if (config->boot_id_file == NULL) {
		r = sd_id128_get_boot(&id);
		if (r < 0) {
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-r),
			            "cannot read the boot id: %s", g_strerror(-r));
			return NULL;
		}
		return g_strdup(sd_id128_to_string(id, buf));
	}
	if (!g_file_get_contents(config->boot_id_file, &text, NULL, error)) {
		g_prefix_error(error, "boot-id-file: ");
		return NULL;
	}
	r = sd_id128_from_string(g_strstrip(text), &id);
	if (r < 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
		            "boot-id-file %s does not hold a boot id: '%s'", config->boot_id_file,
		            text);
		return NULL;
	}
	return g_strdup(sd_id128_to_string(id, buf));
}

static void
on_bus_acquired(GDBusConnection *connection, const char *name, gpointer user_data)
{
	Daemon *d = user_data;
	g_autoptr(GError) error = NULL;

	if (!fota_service_export(d->service, connection, &error)) {
		g_printerr("quectel-fotad: cannot export %s: %s\n", FOTA_SERVICE_PATH,
		           error->message);
		d->exit_code = EXIT_FAILURE;
		g_main_loop_quit(d->loop);
		return;
	}
}

static void
on_name_acquired(GDBusConnection *connection, const char *name, gpointer user_data)
{
	Daemon *d = user_data;

	d->name_owned = TRUE;
	/* Only the name's owner may touch the modem or the job record: a
	 * second instance must not disturb a running upgrade. The neighbours
	 * first (the port stays closed until ModemManager is asked), then the
	 * stored job, so that a resumed job is re-inhibited before its first
	 * byte and sees the modem's first "ready". */
	job_neighbours_connect(d->neighbours, connection);
	job_manager_load(d->manager);
	modem_start(d->modem);
	job_neighbours_settle(d->neighbours);
	g_message("Owning %s on the %s bus", name,
	          d->bus_type == G_BUS_TYPE_SESSION ? "session" : "system");
	sd_notify(0, "READY=1\nSTATUS=Ready");
}

static void
on_name_lost(GDBusConnection *connection, const char *name, gpointer user_data)
{
	Daemon *d = user_data;
	const char *bus = d->bus_type == G_BUS_TYPE_SESSION ? "session" : "system";

	if (connection == NULL)
		g_printerr("quectel-fotad: cannot connect to the %s bus\n", bus);
	else if (!d->name_owned)
		g_printerr("quectel-fotad: cannot own %s on the %s bus (taken, or not allowed "
		           "by the bus policy)\n",
		           name, bus);
	else
		g_printerr("quectel-fotad: lost %s on the %s bus\n", name, bus);
	d->exit_code = EXIT_FAILURE;
	g_main_loop_quit(d->loop);
}

/* systemctl status shows the job's state. */
static void
notify_status(FotaJobManager *manager, gpointer user_data)
{
	Daemon *d = user_data;
	const JobRecord *r = job_manager_get_record(manager);
	gboolean final = fota_state_is_final(r->state);

	if (r->state == d->announced_state)
		return;
	d->announced_state = r->state;
	sd_notifyf(0, "STATUS=Job %s: %s%s%s", r->id, fota_state_to_string(r->state),
	           final && r->message ? ": " : "", final && r->message ? r->message : "");
}

/* Configuration is read once at start; a reload would have to re-open the
 * modem under a running job. Say so rather than die (SIGHUP's default). */
static gboolean
on_hangup(gpointer user_data)
{
	g_message("SIGHUP ignored: the configuration is read at start; restart the daemon to "
	          "apply changes (a running job is resumed)");
	return G_SOURCE_CONTINUE;
}

static gboolean
on_terminate(gpointer user_data)
{
	Daemon *d = user_data;

	g_message("Stopping; a running job is saved and resumed at the next start");
	sd_notify(0, "STOPPING=1");
	g_main_loop_quit(d->loop);
	return G_SOURCE_CONTINUE;
}

static int
run(Daemon *d, const char *boot_id)
{
	guint owner;
	guint sigterm, sigint, sighup;

	if (g_mkdir_with_parents(d->config->state_dir, 0700) < 0) {
		g_printerr("quectel-fotad: cannot create state directory %s: %s\n",
		           d->config->state_dir, g_strerror(errno));
		return EXIT_FAILURE;
	}
	d->loop = g_main_loop_new(NULL, FALSE);
	d->store = job_store_new(d->config->state_dir);
	d->modem = modem_new(d->config);
	d->neighbours = job_neighbours_new(d->config, d->modem);
	d->manager = job_manager_new(d->config, d->modem, d->store, d->neighbours, boot_id);
	d->service = fota_service_new(d->manager, d->modem, d->neighbours);
	g_signal_connect(d->manager, "progress", G_CALLBACK(notify_status), d);
	g_signal_connect(d->manager, "finished", G_CALLBACK(notify_status), d);
	/* The process's signals: these three are the main loop's. One more is
	 * taken, by at-stream.c on the first FILE stream: AT_STREAM_STOP_SIGNAL
	 * (SIGRTMIN+2, see at-stream.h) interrupts the stream worker's blocked
	 * write. No other code in this process may send, ignore or handle it. */
	sigterm = g_unix_signal_add(SIGTERM, on_terminate, d);
	sigint = g_unix_signal_add(SIGINT, on_terminate, d);
	sighup = g_unix_signal_add(SIGHUP, on_hangup, d);
	owner = g_bus_own_name(d->bus_type, FOTA_SERVICE_NAME, G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
	                       on_bus_acquired, on_name_acquired, on_name_lost, d, NULL);
	g_main_loop_run(d->loop);

	if (!job_manager_persist(d->manager))
		g_warning("Stopping with the job record not saved: %s",
		          job_manager_get_storage_error(d->manager));
	g_bus_unown_name(owner);
	g_source_remove(sigterm);
	g_source_remove(sigint);
	g_source_remove(sighup);
	g_clear_pointer(&d->service, fota_service_free);
	g_clear_object(&d->manager);
	g_clear_object(&d->neighbours);
	g_clear_object(&d->modem);
	g_clear_pointer(&d->store, job_store_free);
	g_clear_pointer(&d->loop, g_main_loop_unref);
	return d->exit_code;
}

int
main(int argc, char **argv)
{
	Options opts = {0};
	Daemon d = {.exit_code = EXIT_SUCCESS};
	g_autoptr(GError) error = NULL;
	g_autofree char *boot_id = NULL;
	int status;

	if (!parse_options(&argc, &argv, &opts, &error)) {
		g_printerr("quectel-fotad: %s\n", error->message);
		return EXIT_USAGE;
	}
	if (opts.verbose)
		g_log_set_debug_enabled(TRUE);
	d.config = load_config(&opts, &error);
	if (d.config == NULL) {
		g_printerr("quectel-fotad: %s\n", error->message);
		return EXIT_USAGE;
	}
	boot_id = read_boot_id(d.config, &error);
	if (boot_id == NULL) {
		g_printerr("quectel-fotad: %s\n", error->message);
		fotad_config_free(d.config);
		return EXIT_FAILURE;
	}
	d.bus_type = opts.session ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM;
	status = run(&d, boot_id);
	fotad_config_free(d.config);
	g_free(opts.port);
	g_free(opts.state_dir);
	g_free(opts.config_file);
	return status;
}
