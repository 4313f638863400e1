/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "test-util.h"

char *
test_make_tmp_dir(const char *tmpl)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp(tmpl, &error);
	char *real;
	char *result;

	if (dir == NULL)
		fail_msg("g_dir_make_tmp(%s): %s", tmpl, error->message);
	real = realpath(dir, NULL);
	assert_non_null(real);
	result = g_strdup(real);
	free(real);
	return result;
}

void
test_remove_tree(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;

	if (d == NULL)
		return;
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree char *path = g_build_filename(dir, name, NULL);
		if (g_file_test(path, G_FILE_TEST_IS_DIR) &&
		    !g_file_test(path, G_FILE_TEST_IS_SYMLINK))
			test_remove_tree(path);
		else
			g_unlink(path);
	}
	g_rmdir(dir);
}

static gboolean
on_timeout(gpointer user_data)
{
	gboolean *timed_out = user_data;
	*timed_out = TRUE;
	return G_SOURCE_REMOVE;
}

void
test_run_for(guint ms)
{
	gboolean timed_out = FALSE;

	g_timeout_add(ms, on_timeout, &timed_out);
	while (!timed_out)
		g_main_context_iteration(NULL, TRUE);
}

gboolean
test_wait_events(GPtrArray *events, guint n, guint timeout_s)
{
	gboolean timed_out = FALSE;
	guint id = g_timeout_add_seconds(timeout_s, on_timeout, &timed_out);

	while (events->len < n && !timed_out)
		g_main_context_iteration(NULL, TRUE);
	if (!timed_out)
		g_source_remove(id);
	return events->len >= n;
}

void
test_assert_event(GPtrArray *events, guint index, const char *expected, guint timeout_s)
{
	if (!test_wait_events(events, index + 1, timeout_s))
		fail_msg("no event #%u (expected %s)", index, expected);
	assert_string_equal(g_ptr_array_index(events, index), expected);
}

int
test_tty_exclusive(int fd)
{
	int excl = 0;

	/* A kernel has TIOCGEXCL (Linux 3.8); qemu-user 7.2 does not emulate it. */
	if (ioctl(fd, TIOCGEXCL, &excl) != 0 && errno == ENOSYS) {
		close(fd);
		print_message("skipped: TIOCGEXCL is not emulated here (qemu-user), the exclusive "
		              "flag cannot be read\n");
		skip();
	}
	assert_int_equal(ioctl(fd, TIOCGEXCL, &excl), 0);
	return excl;
}
