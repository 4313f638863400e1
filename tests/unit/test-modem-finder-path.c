/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "modem-finder.h"

/* Every wait is bounded; events normally arrive within milliseconds. */
#define EVENT_TIMEOUT_S 5

typedef struct {
	char *dir;
	char *link;
	char *a, *b;
	ModemFinder *finder;
	GPtrArray *events; /* "appeared:<path>" / "vanished" */
} Fixture;

static void
on_appeared(ModemFinder *finder, const char *path, gpointer user_data)
{
	Fixture *f = user_data;
	g_ptr_array_add(f->events, g_strdup_printf("appeared:%s", path));
	g_debug("event: appeared %s", path);
}

static void
on_vanished(ModemFinder *finder, gpointer user_data)
{
	Fixture *f = user_data;
	g_ptr_array_add(f->events, g_strdup("vanished"));
}

static gboolean
on_timeout(gpointer user_data)
{
	gboolean *timed_out = user_data;
	*timed_out = TRUE;
	return G_SOURCE_REMOVE;
}

/* Runs the main loop until @n events arrived in total; FALSE on timeout. */
static gboolean
wait_events(Fixture *f, guint n)
{
	gboolean timed_out = FALSE;
	guint id = g_timeout_add_seconds(EVENT_TIMEOUT_S, on_timeout, &timed_out);

	while (f->events->len < n && !timed_out)
		g_main_context_iteration(NULL, TRUE);
	if (!timed_out)
		g_source_remove(id);
	return f->events->len >= n;
}

/* Lets stray events in (there must be none), for a bounded short while. */
static void
settle(void)
{
	gboolean timed_out = FALSE;

	g_timeout_add(200, on_timeout, &timed_out);
	while (!timed_out)
		g_main_context_iteration(NULL, TRUE);
}

static void
write_file(const char *path)
{
	assert_true(g_file_set_contents(path, "tty", -1, NULL));
}

/* What the simulator does: a temp link renamed over the old one. */
static void
repoint(Fixture *f, const char *target)
{
	g_autofree char *tmp = g_strconcat(f->link, ".tmp", NULL);

	assert_int_equal(symlink(target, tmp), 0);
	assert_int_equal(rename(tmp, f->link), 0);
}

static ModemFinder *
new_path_finder(Fixture *f, const char *port)
{
	ModemFinderConfig config = {.port = port, .at_interface = -1};
	ModemFinder *finder = modem_finder_new(&config);

	g_signal_connect(finder, "port-appeared", G_CALLBACK(on_appeared), f);
	g_signal_connect(finder, "port-vanished", G_CALLBACK(on_vanished), f);
	return finder;
}

static int
setup(void **state)
{
	Fixture *f = g_new0(Fixture, 1);
	char *dir = g_dir_make_tmp("test-modem-finder-XXXXXX", NULL);

	assert_non_null(dir);
	/* realpath() of the temp dir, so expectations compare equal */
	f->dir = realpath(dir, NULL);
	g_free(dir);
	f->link = g_build_filename(f->dir, "modem-at", NULL);
	f->a = g_build_filename(f->dir, "ttyA", NULL);
	f->b = g_build_filename(f->dir, "ttyB", NULL);
	f->events = g_ptr_array_new_with_free_func(g_free);
	write_file(f->a);
	write_file(f->b);
	*state = f;
	return 0;
}

static void
remove_tree(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;

	if (d == NULL)
		return;
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree char *path = g_build_filename(dir, name, NULL);
		if (g_file_test(path, G_FILE_TEST_IS_DIR) &&
		    !g_file_test(path, G_FILE_TEST_IS_SYMLINK))
			remove_tree(path);
		else
			g_unlink(path);
	}
	g_rmdir(dir);
}

static int
teardown(void **state)
{
	Fixture *f = *state;

	g_clear_object(&f->finder);
	remove_tree(f->dir);
	free(f->dir);
	g_free(f->link);
	g_free(f->a);
	g_free(f->b);
	g_ptr_array_unref(f->events);
	g_free(f);
	return 0;
}

static void
assert_event(Fixture *f, guint index, const char *expected)
{
	if (!wait_events(f, index + 1))
		fail_msg("no event #%u (expected %s)", index, expected);
	assert_string_equal(g_ptr_array_index(f->events, index), expected);
}

static void
test_symlink_lifecycle(void **state)
{
	Fixture *f = *state;
	g_autofree char *identity = NULL;
	g_autofree char *path = NULL;
	g_autofree char *appeared_a = NULL;
	g_autofree char *appeared_b = NULL;

	assert_int_equal(symlink(f->a, f->link), 0);
	f->finder = new_path_finder(f, f->link);

	path = modem_finder_lookup(f->finder, &identity);
	assert_string_equal(path, f->a);
	assert_string_equal(identity, f->link);

	appeared_a = g_strconcat("appeared:", f->a, NULL);
	appeared_b = g_strconcat("appeared:", f->b, NULL);

	/* re-pointed with rename(): one event, the new target */
	repoint(f, f->b);
	assert_event(f, 0, appeared_b);
	settle();
	assert_int_equal(f->events->len, 1);
	g_clear_pointer(&path, g_free);
	path = modem_finder_lookup(f->finder, NULL);
	assert_string_equal(path, f->b);

	/* deleted */
	assert_int_equal(g_unlink(f->link), 0);
	assert_event(f, 1, "vanished");
	g_clear_pointer(&path, g_free);
	g_clear_pointer(&identity, g_free);
	assert_null(modem_finder_lookup(f->finder, &identity));
	assert_null(identity);

	/* re-created */
	assert_int_equal(symlink(f->a, f->link), 0);
	assert_event(f, 2, appeared_a);

	/* the target vanishes while the link stays */
	assert_int_equal(g_unlink(f->a), 0);
	assert_event(f, 3, "vanished");

	/* and comes back */
	write_file(f->a);
	assert_event(f, 4, appeared_a);

	/* other names in the directory do not matter */
	write_file(f->link);
	settle();
	g_unlink(f->link);
	assert_event(f, 5, "vanished");
	g_autofree char *other = g_build_filename(f->dir, "ttyC", NULL);
	write_file(other);
	settle();
	assert_int_equal(f->events->len, 6);
}

/* /dev/serial/by-id only exists while a USB serial device does. */
static void
test_missing_directory(void **state)
{
	Fixture *f = *state;
	g_autofree char *by_id = g_build_filename(f->dir, "serial", "by-id", NULL);
	g_autofree char *link = g_build_filename(by_id, "usb-Quectel-if03", NULL);
	g_autofree char *appeared_a = g_strconcat("appeared:", f->a, NULL);
	g_autofree char *serial = g_build_filename(f->dir, "serial", NULL);

	f->finder = new_path_finder(f, link);
	assert_null(modem_finder_lookup(f->finder, NULL));

	assert_int_equal(g_mkdir_with_parents(by_id, 0755), 0);
	assert_int_equal(symlink(f->a, link), 0);
	assert_event(f, 0, appeared_a);

	/* udev removes the link and the directories with the last device */
	g_unlink(link);
	g_rmdir(by_id);
	g_rmdir(serial);
	assert_event(f, 1, "vanished");
	settle();

	assert_int_equal(g_mkdir_with_parents(by_id, 0755), 0);
	assert_int_equal(symlink(f->a, link), 0);
	assert_event(f, 2, appeared_a);
}

/* A plain (non-symlink) configured path must be a character device. */
static void
test_plain_path(void **state)
{
	Fixture *f = *state;
	g_autofree char *identity = NULL;
	g_autofree char *path = NULL;

	f->finder = new_path_finder(f, f->a);
	assert_null(modem_finder_lookup(f->finder, NULL));
	g_clear_object(&f->finder);

	f->finder = new_path_finder(f, "/dev/null");
	path = modem_finder_lookup(f->finder, &identity);
	assert_string_equal(path, "/dev/null");
	assert_string_equal(identity, "/dev/null");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_symlink_lifecycle, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_plain_path, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
