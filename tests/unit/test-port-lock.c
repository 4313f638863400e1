/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* port-lock: one daemon per modem. The lock file's name comes from the
 * identity's sha256 (checked against values computed outside the code), a
 * second taker (this process or another) is refused BUSY with a message naming
 * the identity and the file, a dead holder frees it, and a lock file that is a
 * symlink or sits in a missing directory is a FILE error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "port-lock.h"
#include "test-util.h"

/* The first 16 hex digits of sha256(identity), from Python's hashlib. */
#define TTY_IDENTITY "/dev/ttyUSB2"
#define TTY_HASH     "3dfff9e6ee999025"
#define USB_IDENTITY "usb:2c7c:6026:/devices/pci0000:00/0000:00:14.0/usb1/1-1"
#define USB_HASH     "14c36852b85130fe"

typedef struct {
	char *dir;
} Fixture;

static int
setup(void **state)
{
	Fixture *f = g_new0(Fixture, 1);

	f->dir = test_make_tmp_dir("test-port-lock-XXXXXX");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	Fixture *f = *state;

	test_remove_tree(f->dir);
	g_free(f->dir);
	g_free(f);
	return 0;
}

static char *
lock_file(Fixture *f, const char *hash)
{
	return g_strdup_printf("%s/quectel-fotad.%s.lock", f->dir, hash);
}

static void
test_file_named_after_the_identity(void **state)
{
	Fixture *f = *state;
	g_autoptr(GError) error = NULL;
	g_autoptr(PortLock) tty = port_lock_take(f->dir, TTY_IDENTITY, &error);
	g_autoptr(PortLock) usb = NULL;
	g_autofree char *tty_path = lock_file(f, TTY_HASH);
	g_autofree char *usb_path = lock_file(f, USB_HASH);
	g_autofree char *text = NULL;
	g_autofree char *expected = g_strdup_printf("%s %d\n", TTY_IDENTITY, (int)getpid());

	assert_null(error);
	assert_non_null(tty);
	assert_string_equal(port_lock_get_identity(tty), TTY_IDENTITY);
	assert_true(g_file_get_contents(tty_path, &text, NULL, NULL));
	assert_string_equal(text, expected); /* who holds it, for people */

	/* another identity is another lock, held at the same time */
	usb = port_lock_take(f->dir, USB_IDENTITY, &error);
	assert_null(error);
	assert_non_null(usb);
	assert_true(g_file_test(usb_path, G_FILE_TEST_IS_REGULAR));
	assert_string_equal(port_lock_get_identity(usb), USB_IDENTITY);
}

static void
test_second_taker_is_refused(void **state)
{
	Fixture *f = *state;
	g_autoptr(GError) error = NULL;
	g_autoptr(PortLock) first = port_lock_take(f->dir, USB_IDENTITY, &error);
	g_autofree char *path = lock_file(f, USB_HASH);
	PortLock *second;

	assert_non_null(first);
	/* flock belongs to the open file: the same process is refused too */
	second = port_lock_take(f->dir, USB_IDENTITY, &error);
	assert_null(second);
	assert_true(g_error_matches(error, PORT_LOCK_ERROR, PORT_LOCK_ERROR_BUSY));
	assert_true(g_str_has_prefix(error->message,
	                             USB_IDENTITY " is in use by another quectel-fotad"));
	assert_non_null(strstr(error->message, path));
	g_clear_error(&error);

	/* released: the next taker gets it */
	g_clear_pointer(&first, port_lock_release);
	second = port_lock_take(f->dir, USB_IDENTITY, &error);
	assert_null(error);
	assert_non_null(second);
	port_lock_release(second);
}

/* A holder that dies (a SIGKILLed daemon) leaves the file but not the lock. */
static void
test_a_dead_holder_frees_it(void **state)
{
	Fixture *f = *state;
	g_autoptr(GError) busy = NULL;
	g_autoptr(GError) error = NULL;
	int ready[2];
	char byte = 0;
	int status;
	pid_t child;
	PortLock *lock;

	assert_int_equal(pipe(ready), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		PortLock *held = port_lock_take(f->dir, TTY_IDENTITY, NULL);

		alarm(30); /* never outlives a failed test */
		if (write(ready[1], held != NULL ? "y" : "n", 1) != 1)
			_exit(2);
		pause(); /* until killed */
		_exit(0);
	}
	close(ready[1]);
	/* the child holds it now */
	if (read(ready[0], &byte, 1) == 1 && byte == 'y') {
		lock = port_lock_take(f->dir, TTY_IDENTITY, &busy);
		if (lock != NULL)
			port_lock_release(lock);
	}
	close(ready[0]);
	assert_int_equal(kill(child, SIGKILL), 0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(byte, 'y');
	assert_true(g_error_matches(busy, PORT_LOCK_ERROR, PORT_LOCK_ERROR_BUSY));

	lock = port_lock_take(f->dir, TTY_IDENTITY, &error);
	assert_null(error);
	assert_non_null(lock);
	port_lock_release(lock);
}

/* The file a dead holder left, with whatever it said, is taken over and
 * rewritten. */
static void
test_a_stale_file_is_taken_over(void **state)
{
	Fixture *f = *state;
	g_autoptr(GError) error = NULL;
	g_autofree char *path = lock_file(f, TTY_HASH);
	g_autofree char *text = NULL;
	g_autofree char *expected = g_strdup_printf("%s %d\n", TTY_IDENTITY, (int)getpid());
	g_autoptr(PortLock) lock = NULL;

	assert_true(g_file_set_contents(path, "a much longer line from a daemon long gone 99999\n",
	                                -1, NULL));
	lock = port_lock_take(f->dir, TTY_IDENTITY, &error);
	assert_null(error);
	assert_non_null(lock);
	assert_true(g_file_get_contents(path, &text, NULL, NULL));
	assert_string_equal(text, expected);
}

static void
test_missing_directory(void **state)
{
	Fixture *f = *state;
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = g_build_filename(f->dir, "absent", NULL);
	g_autofree char *path = g_strdup_printf("%s/quectel-fotad.%s.lock", dir, TTY_HASH);
	g_autofree char *expected =
	        g_strdup_printf("cannot create the port lock %s: %s", path, g_strerror(ENOENT));

	assert_null(port_lock_take(dir, TTY_IDENTITY, &error));
	assert_true(g_error_matches(error, PORT_LOCK_ERROR, PORT_LOCK_ERROR_FILE));
	assert_string_equal(error->message, expected);
}

/* A symlink planted where the lock file goes (a shared /run/lock) is not
 * followed: no file is created or truncated through it. */
static void
test_symlink_is_not_followed(void **state)
{
	Fixture *f = *state;
	g_autoptr(GError) error = NULL;
	g_autofree char *path = lock_file(f, TTY_HASH);
	g_autofree char *victim = g_build_filename(f->dir, "victim", NULL);
	g_autofree char *text = NULL;

	assert_true(g_file_set_contents(victim, "precious\n", -1, NULL));
	assert_int_equal(symlink(victim, path), 0);
	assert_null(port_lock_take(f->dir, TTY_IDENTITY, &error));
	assert_true(g_error_matches(error, PORT_LOCK_ERROR, PORT_LOCK_ERROR_FILE));
	assert_non_null(strstr(error->message, path));
	assert_true(g_file_get_contents(victim, &text, NULL, NULL));
	assert_string_equal(text, "precious\n");
}

static void
test_release_null(void **state)
{
	(void)state;
	port_lock_release(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_file_named_after_the_identity, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_second_taker_is_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_a_dead_holder_frees_it, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_a_stale_file_is_taken_over, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_symlink_is_not_followed, setup, teardown),
	        cmocka_unit_test(test_release_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
