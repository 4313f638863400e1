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
#include "test-finder.h"
#include "test-util.h"

/* Every wait is bounded; events normally arrive within milliseconds. */
#define EVENT_TIMEOUT_S 5

typedef struct {
	char *dir;
	char *link;
	char *a, *b;
	FotaModemFinder *finder;
	GPtrArray *events; /* "appeared:<path>" / "vanished" */
} Fixture;

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

static int
setup(void **state)
{
	Fixture *f = g_new0(Fixture, 1);

	f->dir = test_make_tmp_dir("test-modem-finder-XXXXXX");
	f->link = g_build_filename(f->dir, "modem-at", NULL);
	f->a = g_build_filename(f->dir, "ttyA", NULL);
	f->b = g_build_filename(f->dir, "ttyB", NULL);
	f->events = g_ptr_array_new_with_free_func(g_free);
	write_file(f->a);
	write_file(f->b);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	Fixture *f = *state;

	g_clear_object(&f->finder);
	test_remove_tree(f->dir);
	g_free(f->dir);
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
	test_assert_event(f->events, index, expected, EVENT_TIMEOUT_S);
}

/* Lets stray events in (there must be none), for a bounded short while. */
static void
settle(void)
{
	test_run_for(200);
}

static void
test_symlink_lifecycle(void **state)
{
	Fixture *f = *state;
	g_autofree char *path = NULL;
	g_autofree char *appeared_a = NULL;
	g_autofree char *appeared_b = NULL;

	assert_int_equal(symlink(f->a, f->link), 0);
	f->finder = test_new_finder(f->link, f->events);

	test_assert_lookup(f->finder, f->a, f->link);

	appeared_a = g_strconcat("appeared:", f->a, NULL);
	appeared_b = g_strconcat("appeared:", f->b, NULL);

	/* re-pointed with rename(): one event, the new target */
	repoint(f, f->b);
	assert_event(f, 0, appeared_b);
	settle();
	assert_int_equal(f->events->len, 1);
	path = modem_finder_lookup(f->finder, NULL);
	assert_string_equal(path, f->b);

	/* deleted */
	assert_int_equal(g_unlink(f->link), 0);
	assert_event(f, 1, "vanished");
	g_clear_pointer(&path, g_free);
	test_assert_lookup(f->finder, NULL, NULL);

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

	f->finder = test_new_finder(link, f->events);
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

	f->finder = test_new_finder(f->a, f->events);
	assert_null(modem_finder_lookup(f->finder, NULL));
	g_clear_object(&f->finder);

	f->finder = test_new_finder("/dev/null", f->events);
	test_assert_lookup(f->finder, "/dev/null", "/dev/null");
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
