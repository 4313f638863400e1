/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the cmocka tests: temp directories, spinning the main
 * loop with a deadline, and waiting for recorded events. Include after
 * <cmocka.h>. */
#pragma once

#include <glib.h>

/* A new directory from g_dir_make_tmp(@tmpl), resolved with realpath() so
 * that paths built from it compare equal to what the code under test sees.
 * Fails the test when it cannot be made. Free with g_free(). */
char *test_make_tmp_dir(const char *tmpl);

/* Removes @dir and everything below it; symlinks are removed, not followed. */
void test_remove_tree(const char *dir);

/* The tty's exclusive flag (TIOCGEXCL). Where the ioctl is not there (qemu-user 7.2 answers
 * ENOSYS), closes @fd and skips the test: the flag cannot be seen. */
int test_tty_exclusive(int fd);

/* Iterates the default main context for @ms milliseconds. */
void test_run_for(guint ms);

/* Iterates the default main context until @events holds @n entries or
 * @timeout_s seconds passed; TRUE when the entries arrived. */
gboolean test_wait_events(GPtrArray *events, guint n, guint timeout_s);

/* Waits (up to @timeout_s) for entry @index of @events and asserts it is
 * @expected. */
void test_assert_event(GPtrArray *events, guint index, const char *expected, guint timeout_s);
