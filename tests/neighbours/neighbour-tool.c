/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Drives libfota-neighbours from a test, one command per stdin line, on one
 * long-lived system bus connection (as the daemon will):
 *   find <device|-> <tty-kernel-name|->   -> "modem <path> <device> <manufacturer> <model>
 * <revision>" | "none" inhibit <uid> | uninhibit <uid>       -> "ok" logind <what> <mode> <why...>
 * -> "ok" (the inhibitor is held) unlogind                              -> "ok" (the last inhibitor
 * is closed) power-on <syspath>                    -> "previous <value>" power-restore <syspath>
 * <value>       -> "ok" tty-name <path>                       -> "name <name>" | "none" A failure
 * answers "error <domain> <code> <message>". ModemManager's name changes print "appeared" /
 * "vanished" as they come. EOF quits. */
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <stdio.h>

#include "logind-inhibit.h"
#include "mm-client.h"
#include "usb-power.h"

typedef struct {
	GMainLoop *loop;
	GDBusConnection *bus;
	FotaMmClient *mm;
	GDataInputStream *input;
	GPtrArray *inhibitors; /* LogindInhibitor, newest last */
} Tool;

static void read_next(Tool *tool);

static void say(const char *format, ...) G_GNUC_PRINTF(1, 2);

static void
say(const char *format, ...)
{
	va_list args;

	va_start(args, format);
	vprintf(format, args);
	va_end(args);
	putchar('\n');
	fflush(stdout);
}

static void
say_error(const GError *error)
{
	say("error %s %d %s", g_quark_to_string(error->domain), error->code, error->message);
}

static const char *
or_dash(const char *value)
{
	return value != NULL ? value : "-";
}

static const char *
dash_is_null(const char *value)
{
	return g_strcmp0(value, "-") == 0 ? NULL : value;
}

static void
on_found(GObject *source, GAsyncResult *result, gpointer user_data)
{
	Tool *tool = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(MmModem) modem =
	        mm_client_find_modem_finish(FOTA_MM_CLIENT(source), result, &error);

	if (error != NULL)
		say_error(error);
	else if (modem == NULL)
		say("none");
	else
		say("modem %s %s %s %s %s", modem->object_path, or_dash(modem->device),
		    or_dash(modem->manufacturer), or_dash(modem->model), or_dash(modem->revision));
	read_next(tool);
}

static void
on_inhibited(GObject *source, GAsyncResult *result, gpointer user_data)
{
	Tool *tool = user_data;
	g_autoptr(GError) error = NULL;

	if (mm_client_inhibit_finish(FOTA_MM_CLIENT(source), result, &error))
		say("ok");
	else
		say_error(error);
	read_next(tool);
}

static void
on_logind(GObject *source, GAsyncResult *result, gpointer user_data)
{
	Tool *tool = user_data;
	g_autoptr(GError) error = NULL;
	LogindInhibitor *inhibitor = logind_inhibit_finish(result, &error);

	if (inhibitor == NULL) {
		say_error(error);
	} else {
		g_ptr_array_add(tool->inhibitors, inhibitor);
		say("ok");
	}
	read_next(tool);
}

static void
run_power(Tool *tool, char **argv)
{
	g_autoptr(GError) error = NULL;

	if (g_strcmp0(argv[0], "power-on") == 0 && argv[1] != NULL) {
		g_autofree char *previous = usb_power_force_on(argv[1], &error);

		if (previous != NULL)
			say("previous %s", previous);
	} else if (argv[1] != NULL && argv[2] != NULL &&
	           usb_power_restore(argv[1], argv[2], &error)) {
		say("ok");
	}
	if (error != NULL)
		say_error(error);
}

/* TRUE when the command answers later, from a callback. */
static gboolean
run_command(Tool *tool, char **argv)
{
	const char *cmd = argv[0];
	guint argc = g_strv_length(argv);

	if (g_strcmp0(cmd, "find") == 0 && argc == 3) {
		mm_client_find_modem(tool->mm, dash_is_null(argv[1]), dash_is_null(argv[2]), NULL,
		                     on_found, tool);
		return TRUE;
	}
	if ((g_strcmp0(cmd, "inhibit") == 0 || g_strcmp0(cmd, "uninhibit") == 0) && argc == 2) {
		mm_client_inhibit(tool->mm, argv[1], cmd[0] == 'i', NULL, on_inhibited, tool);
		return TRUE;
	}
	if (g_strcmp0(cmd, "logind") == 0 && argc >= 4) {
		g_autofree char *why = g_strjoinv(" ", argv + 3);

		logind_inhibit(tool->bus, argv[1], "quectel-fotad", why, argv[2], NULL, on_logind,
		               tool);
		return TRUE;
	}
	if (g_strcmp0(cmd, "unlogind") == 0 && tool->inhibitors->len > 0) {
		g_ptr_array_remove_index(tool->inhibitors, tool->inhibitors->len - 1);
		say("ok");
	} else if (g_str_has_prefix(cmd, "power-") && argc >= 2) {
		run_power(tool, argv);
	} else if (g_strcmp0(cmd, "tty-name") == 0 && argc == 2) {
		g_autofree char *name = mm_tty_kernel_name(argv[1]);

		if (name != NULL)
			say("name %s", name);
		else
			say("none");
	} else {
		say("error usage 0 bad command: %s", cmd ? cmd : "(empty)");
	}
	return FALSE;
}

static void
on_line(GObject *source, GAsyncResult *result, gpointer user_data)
{
	Tool *tool = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree char *line = g_data_input_stream_read_line_finish(G_DATA_INPUT_STREAM(source),
	                                                             result, NULL, &error);
	g_auto(GStrv) argv = NULL;

	if (line == NULL) {
		g_main_loop_quit(tool->loop);
		return;
	}
	argv = g_strsplit_set(g_strstrip(line), " ", -1);
	if (!run_command(tool, argv))
		read_next(tool);
}

static void
read_next(Tool *tool)
{
	g_data_input_stream_read_line_async(tool->input, G_PRIORITY_DEFAULT, NULL, on_line, tool);
}

static void
on_appeared(FotaMmClient *mm, gpointer user_data)
{
	say("appeared");
}

static void
on_vanished(FotaMmClient *mm, gpointer user_data)
{
	say("vanished");
}

int
main(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GInputStream) in = g_unix_input_stream_new(0, FALSE);
	Tool tool = {0};

	tool.bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
	if (tool.bus == NULL) {
		g_printerr("no system bus: %s\n", error->message);
		return 1;
	}
	tool.loop = g_main_loop_new(NULL, FALSE);
	tool.mm = mm_client_new(tool.bus);
	g_signal_connect(tool.mm, "appeared", G_CALLBACK(on_appeared), NULL);
	g_signal_connect(tool.mm, "vanished", G_CALLBACK(on_vanished), NULL);
	tool.inhibitors = g_ptr_array_new_with_free_func((GDestroyNotify)logind_inhibitor_free);
	tool.input = g_data_input_stream_new(in);
	say("ready");
	read_next(&tool);
	g_main_loop_run(tool.loop);

	g_ptr_array_unref(tool.inhibitors);
	g_object_unref(tool.input);
	g_object_unref(tool.mm);
	g_object_unref(tool.bus);
	g_main_loop_unref(tool.loop);
	return 0;
}
