/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "modem-identify.h"

#include <string.h>

#include "at-parse.h"

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
	FotaAtChannel *channel;
	guint command_ms;
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
			/* the channel's message names the command */
			g_set_error_literal(error, MODEM_ERROR, MODEM_ERROR_IDENTIFY,
			                    cmd_error->message);
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

	response = at_channel_command_finish(FOTA_AT_CHANNEL(source), result, &cmd_error);
	if (at_error_is_port_gone(cmd_error)) {
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
	IdentifyData *data = g_task_get_task_data(task);

	if (data->step == STEP_DONE) {
		g_task_return_pointer(task, modem_info_copy(data->info),
		                      (GDestroyNotify)modem_info_free);
		g_object_unref(task);
		return;
	}
	at_channel_command(data->channel, step_commands[data->step], data->command_ms,
	                   g_task_get_cancellable(task), identify_reply, task);
}

void
modem_identify_run(FotaAtChannel *channel, const ModemInfo *seed, guint command_ms,
                   GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
	GTask *task = g_task_new(channel, cancellable, callback, user_data);
	IdentifyData *data = g_new0(IdentifyData, 1);

	data->info = g_new0(ModemInfo, 1);
	data->info->port = g_strdup(seed->port);
	data->info->port_identity = g_strdup(seed->port_identity);
	data->info->flow = seed->flow;
	data->channel = g_object_ref(channel);
	data->command_ms = command_ms;
	g_task_set_task_data(task, data, (GDestroyNotify)identify_data_free);
	identify_next(task);
}

ModemInfo *
modem_identify_run_finish(GAsyncResult *result, GError **error)
{
	return g_task_propagate_pointer(G_TASK(result), error);
}
