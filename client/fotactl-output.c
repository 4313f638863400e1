/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <string.h>

#include "fotactl-json.h"
#include "fotactl-output.h"

#define BAR_WIDTH 24

struct _FotactlOutput {
	FotactlFormat format;
	FILE *out;
	FILE *err;
	gboolean monitor;
	gboolean arrow_utf8; /* the locale can show "→" */

	/* The job being followed. */
	char *job_id;
	guint64 file_size;  /* FILE mode: the package length, else 0 */
	gint64 started_us;  /* real time the job started, 0 when unknown */
	gint64 fallback_us; /* when we started to follow, if started_us is 0 */
	char *state;        /* last state drawn, NULL before the first */
	guint percent;
	gboolean line_open; /* a \r-redrawn line is on the terminal */
};

FotactlOutput *
fotactl_output_new(FotactlFormat format, FILE *out, FILE *err)
{
	FotactlOutput *output = g_new0(FotactlOutput, 1);
	const char *charset;

	output->format = format;
	output->out = out;
	output->err = err;
	output->arrow_utf8 = g_get_charset(&charset);
	output->fallback_us = g_get_real_time();
	return output;
}

void
fotactl_output_free(FotactlOutput *output)
{
	if (output == NULL)
		return;
	fotactl_output_flush_line(output);
	g_free(output->job_id);
	g_free(output->state);
	g_free(output);
}

FotactlFormat
fotactl_output_get_format(FotactlOutput *output)
{
	return output->format;
}

void
fotactl_output_set_monitor(FotactlOutput *output, gboolean monitor)
{
	output->monitor = monitor;
}

/* ---- pure helpers ---- */

char *
fotactl_format_duration(gint64 seconds)
{
	if (seconds < 0)
		seconds = 0;
	if (seconds < 60)
		return g_strdup_printf("%" G_GINT64_FORMAT "s", seconds);
	if (seconds < 3600)
		return g_strdup_printf("%" G_GINT64_FORMAT "m%02" G_GINT64_FORMAT "s", seconds / 60,
		                       seconds % 60);
	return g_strdup_printf("%" G_GINT64_FORMAT "h%02" G_GINT64_FORMAT "m%02" G_GINT64_FORMAT
	                       "s",
	                       seconds / 3600, (seconds / 60) % 60, seconds % 60);
}

char *
fotactl_sanitize(const char *str)
{
	g_autofree char *valid = g_utf8_make_valid(str != NULL ? str : "", -1);
	GString *out = g_string_sized_new(strlen(valid));

	for (const char *p = valid; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);

		if (c < 0x20 || (c >= 0x7f && c < 0xa0))
			g_string_append_c(out, '?');
		else
			g_string_append_unichar(out, c);
	}
	return g_string_free(out, FALSE);
}

guint64
fotactl_source_file_size(const char *source)
{
	guint64 size;

	if (source == NULL || !g_str_has_prefix(source, "file:"))
		return 0;
	if (!g_ascii_string_to_unsigned(source + strlen("file:"), 10, 0, G_MAXUINT64, &size, NULL))
		return 0;
	return size;
}

/* ---- small rendering helpers ---- */

static void
emit_json(FotactlOutput *output, FotactlJsonObject *obj)
{
	g_autofree char *line = fotactl_json_object_end(obj);

	fprintf(output->out, "%s\n", line);
	/* Consumers read events as they come, often through a pipe. */
	fflush(output->out);
}

static const char *
lookup_string(GVariant *dict, const char *key)
{
	const char *value = NULL;

	if (dict == NULL || !g_variant_lookup(dict, key, "&s", &value))
		return NULL;
	return value;
}

static gint64
lookup_int64(GVariant *dict, const char *key)
{
	gint64 value = 0;

	if (dict == NULL || !g_variant_lookup(dict, key, "x", &value))
		return 0;
	return value;
}

static gboolean
is_progress_state(const char *state)
{
	return g_strcmp0(state, "downloading") == 0 || g_strcmp0(state, "updating") == 0;
}

static gboolean
is_final_state(const char *state)
{
	return g_strcmp0(state, "succeeded") == 0 || g_strcmp0(state, "failed") == 0 ||
	       g_strcmp0(state, "cancelled") == 0;
}

/* A value of an a{sv} as people read it: strings sanitised, times as local
 * dates, other values in GVariant's text form. */
static char *
human_value(const char *key, GVariant *value)
{
	if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING)) {
		const char *str = g_variant_get_string(value, NULL);

		return str[0] == '\0' ? g_strdup("-") : fotactl_sanitize(str);
	}
	if (g_variant_is_of_type(value, G_VARIANT_TYPE_INT64) &&
	    (g_str_equal(key, "started") || g_str_equal(key, "finished"))) {
		g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(
		        g_variant_get_int64(value) / G_USEC_PER_SEC);

		if (dt != NULL)
			return g_date_time_format(dt, "%Y-%m-%d %H:%M:%S");
	}
	{
		g_autofree char *text = g_variant_print(value, FALSE);

		return fotactl_sanitize(text);
	}
}

typedef struct {
	const char *key;
	const char *label;
} Label;

/* Prints the members of @dict, the labelled ones first and in the given
 * order, then any others under their key (a newer daemon may add keys). */
static void
print_dict(FotactlOutput *output, GVariant *dict, const Label *labels, const char *indent)
{
	g_autoptr(GHashTable) shown = g_hash_table_new(g_str_hash, g_str_equal);
	GVariantIter iter;
	const char *key;
	GVariant *value;

	for (const Label *l = labels; l->key != NULL; l++) {
		g_autoptr(GVariant) v = g_variant_lookup_value(dict, l->key, NULL);
		g_autofree char *text = NULL;

		g_hash_table_add(shown, (gpointer)l->key);
		if (v == NULL)
			continue;
		text = human_value(l->key, v);
		fprintf(output->out, "%s%-16s %s\n", indent, l->label, text);
	}
	g_variant_iter_init(&iter, dict);
	while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
		g_autofree char *label = NULL;
		g_autofree char *text = NULL;

		if (g_hash_table_contains(shown, key))
			continue;
		label = g_strdup_printf("%s:", key);
		text = human_value(key, value);
		fprintf(output->out, "%s%-16s %s\n", indent, label, text);
	}
}

/* ---- one-shot verbs ---- */

void
fotactl_output_error(FotactlOutput *output, const char *name, const char *message)
{
	if (output->format == FOTACTL_FORMAT_JSON) {
		FotactlJsonObject obj;

		fotactl_json_object_init(&obj, "error");
		fotactl_json_object_add_string(&obj, "error", name);
		fotactl_json_object_add_string(&obj, "message", message);
		emit_json(output, &obj);
		return;
	}
	fotactl_output_flush_line(output);
	{
		g_autofree char *clean = fotactl_sanitize(message);

		fprintf(output->err, "fotactl: %s\n", clean);
	}
}

void
fotactl_output_note(FotactlOutput *output, const char *format, ...)
{
	g_autofree char *text = NULL;
	va_list args;

	if (output->format == FOTACTL_FORMAT_JSON)
		return;
	va_start(args, format);
	text = g_strdup_vprintf(format, args);
	va_end(args);
	fotactl_output_flush_line(output);
	fprintf(output->err, "%s\n", text);
}

void
fotactl_output_info(FotactlOutput *output, GVariant *info)
{
	static const Label labels[] = {
	        {"manufacturer", "Manufacturer:"},
	        {"model", "Model:"},
	        {"revision", "Revision:"},
	        {"imei", "IMEI:"},
	        {"port", "Port:"},
	        {"flow-control", "Flow control:"},
	        {"upgrade-kind", "Upgrade kind:"},
	        {"qfotadl-ranges", "QFOTADL ranges:"},
	        {NULL, NULL},
	};

	if (output->format == FOTACTL_FORMAT_JSON) {
		FotactlJsonObject obj;

		fotactl_json_object_init(&obj, "info");
		fotactl_json_object_add_members(&obj, info);
		emit_json(output, &obj);
		return;
	}
	print_dict(output, info, labels, "");
}

static const Label job_labels[] = {
        {"id", "Job:"},
        {"source", "Source:"},
        {"upgrade-mode", "Upgrade mode:"},
        {"state", "State:"},
        {"percent", "Percent:"},
        {"from-revision", "From revision:"},
        {"to-revision", "To revision:"},
        {"started", "Started:"},
        {"finished", "Finished:"},
        {"error", "Error:"},
        {"error-code", "Modem code:"},
        {"message", "Message:"},
        {NULL, NULL},
};

void
fotactl_output_status(FotactlOutput *output, GVariant *properties, GVariant *job)
{
	static const Label property_labels[] = {
	        {"State", "State:"},
	        {"Percent", "Percent:"},
	        {"JobId", "Job:"},
	        {"ModemModel", "Modem model:"},
	        {"ModemRevision", "Modem revision:"},
	        {"LastError", "Last error:"},
	        {NULL, NULL},
	};

	if (output->format == FOTACTL_FORMAT_JSON) {
		FotactlJsonObject obj;

		fotactl_json_object_init(&obj, "status");
		fotactl_json_object_add_variant(&obj, "properties", properties);
		fotactl_json_object_add_variant(&obj, "job", job);
		emit_json(output, &obj);
		return;
	}
	fprintf(output->out, "Daemon\n");
	print_dict(output, properties, property_labels, "  ");
	if (g_variant_n_children(job) == 0) {
		fprintf(output->out, "No upgrade job yet.\n");
		return;
	}
	fprintf(output->out, "Last job\n");
	print_dict(output, job, job_labels, "  ");
}

void
fotactl_output_event(FotactlOutput *output, const char *event, const char *key, const char *value,
                     const char *text)
{
	if (output->format == FOTACTL_FORMAT_JSON) {
		FotactlJsonObject obj;

		fotactl_json_object_init(&obj, event);
		if (key != NULL)
			fotactl_json_object_add_string(&obj, key, value);
		emit_json(output, &obj);
		return;
	}
	{
		g_autofree char *clean = fotactl_sanitize(text);

		fotactl_output_flush_line(output);
		fprintf(output->out, "%s\n", clean);
		fflush(output->out);
	}
}

void
fotactl_output_started(FotactlOutput *output, const char *job_id)
{
	g_autofree char *text = g_strdup_printf("Started job %s", job_id);

	fotactl_output_event(output, "started", "job", job_id, text);
}

/* ---- following a job ---- */

void
fotactl_output_flush_line(FotactlOutput *output)
{
	if (!output->line_open)
		return;
	fputc('\n', output->out);
	fflush(output->out);
	output->line_open = FALSE;
}

static gint64
elapsed_seconds(FotactlOutput *output)
{
	gint64 since = output->started_us != 0 ? output->started_us : output->fallback_us;

	return (g_get_real_time() - since) / G_USEC_PER_SEC;
}

static void
draw_terminal_line(FotactlOutput *output)
{
	g_autofree char *elapsed = fotactl_format_duration(elapsed_seconds(output));
	g_autoptr(GString) line = g_string_new("\r");

	if (is_progress_state(output->state)) {
		guint filled = output->percent * BAR_WIDTH / 100;

		g_string_append_printf(line, "%-12s [",
		                       g_str_equal(output->state, "downloading") ? "Downloading"
		                                                                 : "Updating");
		for (guint i = 0; i < BAR_WIDTH; i++)
			g_string_append_c(line, i < filled ? '#' : '-');
		g_string_append_printf(line, "] %3u%%", output->percent);
		/* The daemon reports percent only; for FILE mode the package
		 * size turns it into bytes, which is what people watch. */
		if (g_str_equal(output->state, "downloading") && output->file_size > 0) {
			g_autofree char *sent = g_format_size_full(
			        output->file_size * output->percent / 100, G_FORMAT_SIZE_IEC_UNITS);
			g_autofree char *total =
			        g_format_size_full(output->file_size, G_FORMAT_SIZE_IEC_UNITS);

			g_string_append_printf(line, "  %s of %s", sent, total);
		}
	} else if (g_strcmp0(output->state, "preparing") == 0) {
		g_string_append(line, "Preparing the modem...");
	} else if (g_strcmp0(output->state, "rebooting") == 0) {
		g_string_append(line, "Waiting for the modem to reboot...");
	} else if (g_strcmp0(output->state, "verifying") == 0) {
		g_string_append(line, "Verifying the new firmware...");
	} else {
		g_autofree char *clean = fotactl_sanitize(output->state);

		g_string_append(line, clean);
	}
	g_string_append_printf(line, "  %s", elapsed);
	/* Erase what a longer previous drawing left on the line. */
	g_string_append(line, "\033[K");
	fputs(line->str, output->out);
	fflush(output->out);
	output->line_open = TRUE;
}

static void
json_progress(FotactlOutput *output, const char *job_id, const char *state, guint percent)
{
	FotactlJsonObject obj;

	fotactl_json_object_init(&obj, "progress");
	fotactl_json_object_add_string(&obj, "job", job_id);
	fotactl_json_object_add_string(&obj, "state", state);
	fotactl_json_object_add_int(&obj, "percent", percent);
	emit_json(output, &obj);
}

static void
monitor_line(FotactlOutput *output, const char *event, const char *details)
{
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	g_autofree char *stamp = g_date_time_format(now, "%H:%M:%S");
	g_autofree char *clean = fotactl_sanitize(details);

	fprintf(output->out, "%s %s %s\n", stamp, event, clean);
	fflush(output->out);
}

void
fotactl_output_job(FotactlOutput *output, GVariant *job)
{
	const char *state = lookup_string(job, "state");
	guint32 percent = 0;

	g_free(output->job_id);
	output->job_id = g_strdup(lookup_string(job, "id"));
	output->file_size = fotactl_source_file_size(lookup_string(job, "source"));
	output->started_us = lookup_int64(job, "started");
	g_variant_lookup(job, "percent", "u", &percent);

	if (output->format == FOTACTL_FORMAT_JSON) {
		FotactlJsonObject obj;

		fotactl_json_object_init(&obj, "job");
		fotactl_json_object_add_members(&obj, job);
		emit_json(output, &obj);
		return;
	}
	/* A final job is reported by fotactl_output_finished() alone. */
	if (state != NULL && !is_final_state(state))
		fotactl_output_progress(output, output->job_id, state, percent);
}

void
fotactl_output_progress(FotactlOutput *output, const char *job_id, const char *state, guint percent)
{
	gboolean changed_state = g_strcmp0(state, output->state) != 0;

	if (output->format == FOTACTL_FORMAT_JSON) {
		json_progress(output, job_id, state, percent);
		return;
	}
	if (output->monitor) {
		g_autofree char *details =
		        g_strdup_printf("job=%s state=%s percent=%u", job_id, state, percent);

		monitor_line(output, "progress", details);
		return;
	}
	if (!is_progress_state(state))
		percent = 0;
	if (!changed_state && percent == output->percent)
		return;

	g_free(output->state);
	output->state = g_strdup(state);
	output->percent = percent;

	if (output->format == FOTACTL_FORMAT_PLAIN) {
		g_autofree char *clean = fotactl_sanitize(state);

		if (is_progress_state(state))
			fprintf(output->out, "%s %u%%\n", clean, percent);
		else
			fprintf(output->out, "%s\n", clean);
		fflush(output->out);
		return;
	}
	/* Each phase keeps its own line: the finished download bar stays
	 * visible above the update bar. */
	if (changed_state)
		fotactl_output_flush_line(output);
	draw_terminal_line(output);
}

void
fotactl_output_tick(FotactlOutput *output)
{
	if (output->format == FOTACTL_FORMAT_TERMINAL && !output->monitor && output->line_open)
		draw_terminal_line(output);
}

void
fotactl_output_finished(FotactlOutput *output, const char *job_id, const char *result,
                        const char *error, const char *message, GVariant *job)
{
	const char *from = lookup_string(job, "from-revision");
	const char *to = lookup_string(job, "to-revision");
	gint64 started = lookup_int64(job, "started");
	gint64 finished = lookup_int64(job, "finished");
	g_autofree char *clean_message = fotactl_sanitize(message);
	g_autofree char *duration = NULL;
	g_autoptr(GString) line = g_string_new(NULL);

	if (output->format == FOTACTL_FORMAT_JSON) {
		FotactlJsonObject obj;

		fotactl_json_object_init(&obj, "finished");
		fotactl_json_object_add_string(&obj, "job", job_id);
		fotactl_json_object_add_string(&obj, "result", result);
		fotactl_json_object_add_string(&obj, "error", error);
		fotactl_json_object_add_string(&obj, "message", message);
		if (from != NULL && from[0] != '\0')
			fotactl_json_object_add_string(&obj, "from-revision", from);
		if (to != NULL && to[0] != '\0')
			fotactl_json_object_add_string(&obj, "to-revision", to);
		emit_json(output, &obj);
		return;
	}
	if (output->monitor) {
		g_autofree char *details =
		        g_strdup_printf("job=%s result=%s error=%s message=%s", job_id, result,
		                        error != NULL && error[0] != '\0' ? error : "-",
		                        message != NULL ? message : "");

		monitor_line(output, "finished", details);
		return;
	}

	fotactl_output_flush_line(output);
	if (started != 0 && finished >= started)
		duration = fotactl_format_duration((finished - started) / G_USEC_PER_SEC);

	if (g_strcmp0(result, "succeeded") == 0) {
		g_string_append(line, "Upgrade succeeded");
		if (from != NULL && from[0] != '\0' && to != NULL && to[0] != '\0') {
			g_autofree char *f = fotactl_sanitize(from);
			g_autofree char *t = fotactl_sanitize(to);

			g_string_append_printf(line, ": %s %s %s", f,
			                       output->arrow_utf8 ? "\xe2\x86\x92" : "->", t);
		}
		if (duration != NULL)
			g_string_append_printf(line, " in %s", duration);
	} else {
		const char *what = g_strcmp0(result, "cancelled") == 0 ? "cancelled" : "failed";

		g_string_append_printf(line, "Upgrade %s", what);
		if (clean_message[0] != '\0')
			g_string_append_printf(line, ": %s", clean_message);
		else if (error != NULL && error[0] != '\0')
			g_string_append_printf(line, ": %s", error);
	}
	fprintf(output->out, "%s\n", line->str);
	fflush(output->out);
}

void
fotactl_output_properties_changed(FotactlOutput *output, GVariant *changed,
                                  const char *const *invalidated)
{
	if (output->format == FOTACTL_FORMAT_JSON) {
		FotactlJsonObject obj;
		g_autoptr(GVariant) inv = g_variant_ref_sink(g_variant_new_strv(invalidated, -1));

		fotactl_json_object_init(&obj, "properties");
		fotactl_json_object_add_variant(&obj, "changed", changed);
		fotactl_json_object_add_variant(&obj, "invalidated", inv);
		emit_json(output, &obj);
		return;
	}
	{
		g_autoptr(GString) details = g_string_new(NULL);
		GVariantIter iter;
		const char *key;
		GVariant *value;

		g_variant_iter_init(&iter, changed);
		while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
			g_autofree char *text = g_variant_print(value, FALSE);

			g_string_append_printf(details, "%s%s=%s", details->len > 0 ? " " : "", key,
			                       text);
		}
		for (guint i = 0; invalidated != NULL && invalidated[i] != NULL; i++)
			g_string_append_printf(details, "%s%s=?", details->len > 0 ? " " : "",
			                       invalidated[i]);
		monitor_line(output, "properties", details->str);
	}
}

void
fotactl_output_daemon(FotactlOutput *output, gboolean running)
{
	if (output->format == FOTACTL_FORMAT_JSON) {
		FotactlJsonObject obj;

		fotactl_json_object_init(&obj, "daemon");
		fotactl_json_object_add_bool(&obj, "running", running);
		emit_json(output, &obj);
		return;
	}
	if (output->monitor) {
		monitor_line(output, "daemon", running ? "running" : "gone");
		return;
	}
	fotactl_output_note(output,
	                    running ? "quectel-fotad is back on the bus."
	                            : "quectel-fotad left the bus; waiting for it to come back "
	                              "(the modem keeps upgrading on its own).");
}
