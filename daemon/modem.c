/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "quectel-fotad"
#include "modem.h"

#include <unistd.h>

#include "modem-finder.h"
#include "serial-port.h"

G_DEFINE_QUARK(modem - error - quark, modem_error)

/* How often and how long a freshly appeared tty is retried when it cannot
 * be opened yet (udev may still be applying permissions). */
#define OPEN_RETRY_MS 500
/* A probe "AT" is short: the modem either answers at once or is still booting. */
#define PROBE_TIMEOUT_MS 1000
/* After a reboot: this much silence means the boot URCs are over. */
#define QUIET_GAP_MS 2000
/* When the tty node vanishes, the channel usually still has the modem's
 * last lines (FILEEND, END) to read before its hang-up; give it this long
 * before dropping it regardless. */
#define VANISH_GRACE_MS 500

enum { SIGNAL_READY, SIGNAL_LOST, SIGNAL_URC, N_SIGNALS };
static guint signals[N_SIGNALS];

struct _Modem {
	GObject parent;
	const FotadConfig *config;
	ModemFinder *finder;

	AtChannel *channel;
	GCancellable *cancellable; /* cancelled when the channel is dropped */
	char *path;                /* of the open channel */
	char *identity;
	gboolean opened_before; /* the first open at daemon start skips the settle wait */
	gboolean ready;
	ModemInfo *info;

	guint open_attempts;
	guint open_retry_id;
	guint vanish_id;
	guint quiet_id;       /* settle: the quiet-gap timer */
	gboolean settling;    /* waiting for PB DONE or quiet */
	gint64 settle_end_us; /* monotonic: boot-settle bound for settle and probes */
};

G_DEFINE_TYPE(Modem, modem, G_TYPE_OBJECT)

static void modem_probe(Modem *self);

void
modem_info_free(ModemInfo *info)
{
	if (info == NULL)
		return;
	g_free(info->manufacturer);
	g_free(info->model);
	g_free(info->revision);
	g_free(info->imei);
	g_free(info->port);
	g_free(info->port_identity);
	g_free(info->qfotadl_ranges);
	g_free(info);
}

ModemInfo *
modem_info_copy(const ModemInfo *info)
{
	ModemInfo *copy = g_memdup2(info, sizeof(*info));

	copy->manufacturer = g_strdup(info->manufacturer);
	copy->model = g_strdup(info->model);
	copy->revision = g_strdup(info->revision);
	copy->imei = g_strdup(info->imei);
	copy->port = g_strdup(info->port);
	copy->port_identity = g_strdup(info->port_identity);
	copy->qfotadl_ranges = g_strdup(info->qfotadl_ranges);
	return copy;
}

/* ---- identification: ATE0, ATI, [AT+QGMR], AT+CGSN, AT+QFOTADL=? ---- */

typedef enum {
	STEP_ECHO_OFF,
	STEP_ATI,
	STEP_QGMR, /* only when ATI had no revision line */
	STEP_CGSN,
	STEP_RANGES,
	STEP_DONE,
} IdentifyStep;

static const char *const step_commands[] = {
        [STEP_ECHO_OFF] = "ATE0",       [STEP_ATI] = "ATI",
        [STEP_QGMR] = "AT+QGMR",        [STEP_CGSN] = "AT+CGSN",
        [STEP_RANGES] = "AT+QFOTADL=?",
};

typedef struct {
	ModemInfo *info;
	IdentifyStep step;
	AtChannel *channel;
} IdentifyData;

static void
identify_data_free(IdentifyData *data)
{
	modem_info_free(data->info);
	g_clear_object(&data->channel);
	g_free(data);
}

static const char *
first_line(const AtResponse *response)
{
	return response->lines != NULL && response->lines[0] != NULL ? response->lines[0] : NULL;
}

static char *
strip_prefix(const char *line, const char *prefix)
{
	g_autofree char *copy = NULL;

	if (line == NULL)
		return g_strdup("");
	if (g_str_has_prefix(line, prefix))
		line += strlen(prefix);
	copy = g_strdup(line);
	g_strstrip(copy);
	/* some firmwares quote the IMEI */
	if (copy[0] == '"' && strlen(copy) >= 2 && copy[strlen(copy) - 1] == '"') {
		copy[strlen(copy) - 1] = '\0';
		return g_strdup(copy + 1);
	}
	return g_steal_pointer(&copy);
}

static gboolean
apply_ati(ModemInfo *info, const AtResponse *response, GError **error)
{
	const char *const *lines = (const char *const *)response->lines;
	g_autoptr(GError) local = NULL;

	g_free(info->manufacturer);
	info->manufacturer = g_strdup(first_line(response) ? first_line(response) : "");
	g_free(info->model);
	info->model = at_parse_model(lines, &local);
	if (info->model == NULL) {
		g_set_error(error, MODEM_ERROR, MODEM_ERROR_IDENTIFY,
		            "cannot read the model from ATI: %s", local->message);
		return FALSE;
	}
	info->kind = at_parse_upgrade_kind(info->model);
	g_free(info->revision);
	info->revision = at_parse_revision(lines, NULL); /* NULL: AT+QGMR is asked next */
	return TRUE;
}

static gboolean
apply_qgmr(ModemInfo *info, const AtResponse *response, GError **error)
{
	g_autoptr(GError) local = NULL;

	info->revision = at_parse_revision((const char *const *)response->lines, &local);
	if (info->revision == NULL) {
		g_set_error(error, MODEM_ERROR, MODEM_ERROR_IDENTIFY,
		            "cannot read the revision from ATI or AT+QGMR: %s", local->message);
		return FALSE;
	}
	return TRUE;
}

static void
apply_ranges(ModemInfo *info, const AtResponse *response)
{
	g_autoptr(GError) local = NULL;
	const char *line = first_line(response);

	g_clear_pointer(&info->qfotadl_ranges, g_free);
	info->ranges_valid = FALSE;
	if (line == NULL)
		return;
	info->qfotadl_ranges = strip_prefix(line, "+QFOTADL:");
	info->ranges_valid = at_parse_qfotadl_ranges(line, &info->ranges, &local);
	if (!info->ranges_valid)
		g_warning("Modem: cannot parse the AT+QFOTADL=? answer '%s': %s", line,
		          local->message);
}

/* Applies one step's answer; FALSE ends the identification with @error.
 * Steps that only add detail (echo, IMEI, ranges) never fail it. */
static gboolean
apply_step(IdentifyData *data, const AtResponse *response, const GError *cmd_error, GError **error)
{
	switch (data->step) {
	case STEP_ECHO_OFF:
		return TRUE;
	case STEP_ATI:
	case STEP_QGMR:
		if (cmd_error != NULL) {
			g_set_error(error, MODEM_ERROR, MODEM_ERROR_IDENTIFY, "%s failed: %s",
			            step_commands[data->step], cmd_error->message);
			return FALSE;
		}
		if (data->step == STEP_ATI)
			return apply_ati(data->info, response, error);
		return apply_qgmr(data->info, response, error);
	case STEP_CGSN:
		g_free(data->info->imei);
		data->info->imei =
		        cmd_error ? g_strdup("") : strip_prefix(first_line(response), "+CGSN:");
		return TRUE;
	case STEP_RANGES:
		if (cmd_error == NULL)
			apply_ranges(data->info, response);
		else
			g_warning("Modem: AT+QFOTADL=? failed: %s", cmd_error->message);
		return TRUE;
	case STEP_DONE:
		break;
	}
	return TRUE;
}

static void identify_next(GTask *task);

static void
identify_reply(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	IdentifyData *data = g_task_get_task_data(task);
	g_autoptr(AtResponse) response = NULL;
	g_autoptr(GError) cmd_error = NULL;
	GError *error = NULL;

	response = at_channel_command_finish(AT_CHANNEL(source), result, &cmd_error);
	if (cmd_error != NULL && (g_error_matches(cmd_error, AT_ERROR, AT_ERROR_PORT_LOST) ||
	                          g_error_matches(cmd_error, AT_ERROR, AT_ERROR_CLOSED))) {
		g_task_return_new_error(task, MODEM_ERROR, MODEM_ERROR_ABSENT,
		                        "the modem port went away during %s",
		                        step_commands[data->step]);
		return;
	}
	if (!apply_step(data, response, cmd_error, &error)) {
		g_task_return_error(task, error);
		return;
	}
	data->step++;
	if (data->step == STEP_QGMR && data->info->revision != NULL)
		data->step++;
	identify_next(g_steal_pointer(&task));
}

static void
identify_next(GTask *task)
{
	Modem *self = g_task_get_source_object(task);
	IdentifyData *data = g_task_get_task_data(task);

	if (data->step == STEP_DONE) {
		g_task_return_pointer(task, modem_info_copy(data->info),
		                      (GDestroyNotify)modem_info_free);
		g_object_unref(task);
		return;
	}
	at_channel_command(data->channel, step_commands[data->step],
	                   self->config->timeouts.command_ms, g_task_get_cancellable(task),
	                   identify_reply, task);
}

void
modem_identify(Modem *self, GCancellable *cancellable, GAsyncReadyCallback callback,
               gpointer user_data)
{
	GTask *task = g_task_new(self, cancellable, callback, user_data);
	IdentifyData *data;

	g_task_set_source_tag(task, modem_identify);
	if (self->channel == NULL) {
		g_task_return_new_error(task, MODEM_ERROR, MODEM_ERROR_ABSENT,
		                        "no modem port found%s%s", self->config->port ? ": " : "",
		                        self->config->port ? self->config->port : "");
		g_object_unref(task);
		return;
	}
	data = g_new0(IdentifyData, 1);
	data->info = g_new0(ModemInfo, 1);
	data->info->port = g_strdup(self->path);
	data->info->port_identity = g_strdup(self->identity);
	data->info->flow = self->config->flow;
	data->channel = g_object_ref(self->channel);
	g_task_set_task_data(task, data, (GDestroyNotify)identify_data_free);
	identify_next(task);
}

static void
modem_set_info(Modem *self, const ModemInfo *info)
{
	modem_info_free(self->info);
	self->info = modem_info_copy(info);
}

ModemInfo *
modem_identify_finish(Modem *self, GAsyncResult *result, GError **error)
{
	IdentifyData *data = g_task_get_task_data(G_TASK(result));
	ModemInfo *info = g_task_propagate_pointer(G_TASK(result), error);

	if (info == NULL)
		return NULL;
	modem_set_info(self, info);
	/* Any identification of the current channel makes the modem ready,
	 * also one asked for by GetModemInfo after the boot probe gave up. */
	if (!self->ready && data != NULL && data->channel == self->channel) {
		g_message("Modem: %s %s revision %s IMEI %s on %s", info->manufacturer, info->model,
		          info->revision, info->imei, info->port);
		self->ready = TRUE;
		g_signal_emit(self, signals[SIGNAL_READY], 0);
	}
	return info;
}

/* ---- channel lifecycle ---- */

static void
clear_timers(Modem *self)
{
	g_clear_handle_id(&self->quiet_id, g_source_remove);
	g_clear_handle_id(&self->open_retry_id, g_source_remove);
	g_clear_handle_id(&self->vanish_id, g_source_remove);
	self->settling = FALSE;
}

static void
modem_drop_channel(Modem *self, const char *why)
{
	if (self->channel == NULL)
		return;
	g_message("Modem: port %s lost: %s", self->path, why);
	clear_timers(self);
	g_cancellable_cancel(self->cancellable);
	g_clear_object(&self->cancellable);
	g_signal_handlers_disconnect_by_data(self->channel, self);
	at_channel_close(self->channel);
	g_clear_object(&self->channel);
	g_clear_pointer(&self->path, g_free);
	g_clear_pointer(&self->identity, g_free);
	self->ready = FALSE;
	g_signal_emit(self, signals[SIGNAL_LOST], 0);
}

static void
identified(GObject *source, GAsyncResult *result, gpointer user_data)
{
	Modem *self = FOTA_MODEM(source);
	g_autoptr(ModemInfo) info = NULL;
	g_autoptr(GError) error = NULL;

	info = modem_identify_finish(self, result, &error);
	if (info != NULL || g_cancellable_is_cancelled(g_task_get_cancellable(G_TASK(result))))
		return; /* ready, or the port went away meanwhile and "lost" was emitted */
	g_warning("Modem: identification failed: %s", error->message);
}

static gboolean
probe_again(gpointer user_data)
{
	modem_probe(user_data);
	return G_SOURCE_REMOVE;
}

static void
probe_reply(GObject *source, GAsyncResult *result, gpointer user_data)
{
	Modem *self = user_data; /* alive: the cancellable dies with the channel or us */
	g_autoptr(AtResponse) response = NULL;
	g_autoptr(GError) error = NULL;

	response = at_channel_command_finish(AT_CHANNEL(source), result, &error);
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
	    g_error_matches(error, AT_ERROR, AT_ERROR_CLOSED) ||
	    g_error_matches(error, AT_ERROR, AT_ERROR_PORT_LOST))
		return;
	if (error == NULL) {
		modem_identify(self, self->cancellable, identified, NULL);
		return;
	}
	if (g_get_monotonic_time() < self->settle_end_us) {
		g_debug("Modem: no answer to AT yet (%s), retrying", error->message);
		/* a modem that answers ERROR at once must not be hammered */
		self->quiet_id = g_timeout_add(200, probe_again, self);
		return;
	}
	g_warning("Modem: %s does not answer AT within %.1f s: %s", self->path,
	          self->config->timeouts.boot_settle_ms / 1000.0, error->message);
}

static void
modem_probe(Modem *self)
{
	guint timeout = MIN(PROBE_TIMEOUT_MS, self->config->timeouts.command_ms);

	self->quiet_id = 0;
	self->settling = FALSE;
	at_channel_command(self->channel, "AT", timeout, self->cancellable, probe_reply, self);
}

static gboolean
settle_quiet(gpointer user_data)
{
	Modem *self = user_data;

	g_debug("Modem: boot URCs settled");
	modem_probe(self);
	return G_SOURCE_REMOVE;
}

/* Re-arms the quiet-gap timer, never beyond the boot-settle bound. */
static void
settle_arm(Modem *self)
{
	gint64 left_ms = (self->settle_end_us - g_get_monotonic_time()) / 1000;
	guint gap = MIN(QUIET_GAP_MS, self->config->timeouts.boot_settle_ms / 3 + 1);

	g_clear_handle_id(&self->quiet_id, g_source_remove);
	self->quiet_id = g_timeout_add(CLAMP(left_ms, 0, (gint64)gap), settle_quiet, self);
}

static void
modem_lost_under_us(Modem *self)
{
	/* A UART does not vanish when the modem reboots: "RDY" is the only sign. */
	g_message("Modem: rebooted (RDY) on %s", self->path);
	self->ready = FALSE;
	g_signal_emit(self, signals[SIGNAL_LOST], 0);
	self->settling = TRUE;
	self->settle_end_us = g_get_monotonic_time() + self->config->timeouts.boot_settle_ms * 1000;
	settle_arm(self);
}

static void
on_urc(AtChannel *channel, const char *line, gpointer user_data)
{
	Modem *self = user_data;

	g_debug("Modem: URC %s", line);
	if (self->settling) {
		if (strstr(line, "PB DONE") != NULL) {
			g_clear_handle_id(&self->quiet_id, g_source_remove);
			modem_probe(self);
		} else {
			settle_arm(self);
		}
	} else if (self->ready && g_str_equal(line, "RDY")) {
		modem_lost_under_us(self);
	}
	g_signal_emit(self, signals[SIGNAL_URC], 0, line);
}

static void
on_port_lost(AtChannel *channel, GError *error, gpointer user_data)
{
	modem_drop_channel(user_data, error ? error->message : "hang-up");
}

static gboolean modem_try_open(Modem *self);

static gboolean
open_retry(gpointer user_data)
{
	Modem *self = user_data;

	self->open_retry_id = 0;
	modem_try_open(self);
	return G_SOURCE_REMOVE;
}

static void
modem_attach(Modem *self, int fd, const char *path, const char *identity)
{
	AtChannelConfig cc = {.late_reply_grace_ms = self->config->timeouts.late_reply_grace_ms};

	self->channel = at_channel_new(fd, &cc);
	self->cancellable = g_cancellable_new();
	self->path = g_strdup(path);
	self->identity = g_strdup(identity ? identity : path);
	g_signal_connect(self->channel, "urc", G_CALLBACK(on_urc), self);
	g_signal_connect(self->channel, "port-lost", G_CALLBACK(on_port_lost), self);
	self->settle_end_us = g_get_monotonic_time() + self->config->timeouts.boot_settle_ms * 1000;
	g_message("Modem: opened %s (%s flow control)", path,
	          serial_flow_to_string(self->config->flow));
	if (!self->opened_before) {
		/* At daemon start the modem has usually been up for long. */
		self->opened_before = TRUE;
		modem_probe(self);
		return;
	}
	self->settling = TRUE;
	settle_arm(self);
}

static gboolean
modem_try_open(Modem *self)
{
	g_autofree char *identity = NULL;
	g_autofree char *path = modem_finder_lookup(self->finder, &identity);
	g_autoptr(GError) error = NULL;
	guint max_attempts = MAX(1, self->config->timeouts.boot_settle_ms / OPEN_RETRY_MS);
	int fd;

	if (self->channel != NULL || path == NULL)
		return FALSE;
	fd = serial_port_open(path, self->config->baud, self->config->flow, &error);
	if (fd < 0) {
		if (++self->open_attempts < max_attempts && self->open_retry_id == 0) {
			g_debug("Modem: cannot open %s yet: %s", path, error->message);
			self->open_retry_id = g_timeout_add(OPEN_RETRY_MS, open_retry, self);
		} else {
			g_warning("Modem: cannot open %s: %s", path, error->message);
		}
		return FALSE;
	}
	self->open_attempts = 0;
	modem_attach(self, fd, path, identity);
	return TRUE;
}

static void
on_port_appeared(ModemFinder *finder, const char *path, gpointer user_data)
{
	Modem *self = user_data;

	if (self->channel != NULL) {
		if (g_strcmp0(path, self->path) == 0 && self->vanish_id == 0)
			return; /* the port we have open */
		/* A new tty means the old one is gone, hang-up or not. */
		modem_drop_channel(self, "another port appeared");
	}
	self->open_attempts = 0;
	modem_try_open(self);
}

static gboolean
vanish_grace_over(gpointer user_data)
{
	Modem *self = user_data;

	self->vanish_id = 0;
	modem_drop_channel(self, "the tty vanished");
	return G_SOURCE_REMOVE;
}

static void
on_port_vanished(ModemFinder *finder, gpointer user_data)
{
	Modem *self = user_data;

	if (self->channel != NULL && self->vanish_id == 0)
		self->vanish_id = g_timeout_add(VANISH_GRACE_MS, vanish_grace_over, self);
}

void
modem_start(Modem *self)
{
	ModemFinderConfig fc;

	fotad_config_get_finder_config(self->config, &fc);
	self->finder = modem_finder_new(&fc);
	g_signal_connect(self->finder, "port-appeared", G_CALLBACK(on_port_appeared), self);
	g_signal_connect(self->finder, "port-vanished", G_CALLBACK(on_port_vanished), self);
	if (!modem_try_open(self) && self->open_retry_id == 0)
		g_message("Modem: no port yet%s%s; waiting for it",
		          self->config->port ? " at " : "",
		          self->config->port ? self->config->port : "");
}

AtChannel *
modem_get_channel(Modem *self)
{
	return self->channel;
}

const ModemInfo *
modem_get_info(Modem *self)
{
	return self->info;
}

gboolean
modem_is_ready(Modem *self)
{
	return self->ready;
}

Modem *
modem_new(const FotadConfig *config)
{
	Modem *self = g_object_new(FOTA_TYPE_MODEM, NULL);

	self->config = config;
	return self;
}

static void
modem_dispose(GObject *object)
{
	Modem *self = FOTA_MODEM(object);

	clear_timers(self);
	if (self->channel != NULL) {
		g_cancellable_cancel(self->cancellable);
		g_signal_handlers_disconnect_by_data(self->channel, self);
		at_channel_close(self->channel);
	}
	g_clear_object(&self->cancellable);
	g_clear_object(&self->channel);
	if (self->finder != NULL)
		g_signal_handlers_disconnect_by_data(self->finder, self);
	g_clear_object(&self->finder);
	G_OBJECT_CLASS(modem_parent_class)->dispose(object);
}

static void
modem_finalize(GObject *object)
{
	Modem *self = FOTA_MODEM(object);

	g_free(self->path);
	g_free(self->identity);
	modem_info_free(self->info);
	G_OBJECT_CLASS(modem_parent_class)->finalize(object);
}

static void
modem_class_init(ModemClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = modem_dispose;
	object_class->finalize = modem_finalize;
	signals[SIGNAL_READY] = g_signal_new("ready", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
	                                     0, NULL, NULL, NULL, G_TYPE_NONE, 0);
	signals[SIGNAL_LOST] = g_signal_new("lost", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
	                                    NULL, NULL, NULL, G_TYPE_NONE, 0);
	signals[SIGNAL_URC] = g_signal_new("urc", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
	                                   NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
modem_init(Modem *self)
{
}
