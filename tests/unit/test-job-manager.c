/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* FotaJobManager: what a Start call is told, and what the modem sees of it,
 * before and around a job: a record that cannot be written, a busy
 * manager, a Cancel during the sha256 check, packages refused at the door,
 * the largest package on every word size, an unreadable record. The modem
 * is a scripted pty modem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fota-dbus-error.h"
#include "fota-limits.h"
#include "job-manager.h"
#include "job-store.h"
#include "test-fake-modem.h"
#include "test-util.h"

#define WAIT_S 5

typedef struct {
	char *dir;
	char *state_dir;
	TestFakeModem *fake;
	FotadConfig *config;
	FotaModem *modem;
	JobStore *store;
	FotaJobManager *manager;
	gboolean replied;
	char *job_id;
	GError *error;
} Fixture;

static int
setup(void **state)
{
	Fixture *f = g_new0(Fixture, 1);

	f->dir = test_make_tmp_dir("test-job-manager-XXXXXX");
	f->state_dir = g_build_filename(f->dir, "state", NULL);
	assert_int_equal(g_mkdir(f->state_dir, 0700), 0);
	f->fake = test_fake_modem_new(f->dir);
	f->config = fotad_config_new();
	f->config->port = g_strdup(f->fake->link);
	g_free(f->config->lock_dir);
	f->config->lock_dir = g_strdup(f->dir);
	f->config->flow = SERIAL_FLOW_NONE;
	f->modem = modem_new(f->config);
	modem_start(f->modem);
	for (guint i = 0; i < WAIT_S * 100 && !modem_is_ready(f->modem); i++)
		test_run_for(10);
	assert_true(modem_is_ready(f->modem));
	g_ptr_array_set_size(f->fake->received, 0);
	*state = f;
	return 0;
}

static void
new_manager(Fixture *f, const char *state_dir)
{
	/* no bus: the neighbours only write the journal */
	g_autoptr(FotaJobNeighbours) neighbours = job_neighbours_new(f->config, f->modem);

	f->store = job_store_new(state_dir);
	f->manager = job_manager_new(f->config, f->modem, f->store, neighbours,
	                             "0123456789abcdef0123456789abcdef");
	job_manager_load(f->manager);
}

static int
teardown(void **state)
{
	Fixture *f = *state;

	g_clear_object(&f->manager);
	test_run_for(50); /* the job's cancelled waits end */
	g_clear_pointer(&f->store, job_store_free);
	g_clear_object(&f->modem);
	test_fake_modem_free(f->fake);
	fotad_config_free(f->config);
	g_clear_error(&f->error);
	g_free(f->job_id);
	test_remove_tree(f->dir);
	g_free(f->state_dir);
	g_free(f->dir);
	g_free(f);
	return 0;
}

static void
replied(const char *job_id, const GError *error, gpointer user_data)
{
	Fixture *f = user_data;

	f->replied = TRUE;
	f->job_id = g_strdup(job_id);
	f->error = error ? g_error_copy(error) : NULL;
}

static void
wait_reply(Fixture *f)
{
	for (guint i = 0; i < WAIT_S * 100 && !f->replied; i++)
		test_run_for(10);
	assert_true(f->replied);
}

static void
start_url(Fixture *f)
{
	f->replied = FALSE;
	g_clear_error(&f->error);
	job_manager_start_url(f->manager, "http://127.0.0.1:8080/p.bin", NULL, replied, f);
	wait_reply(f);
}

/* No record, no job: the modem hears nothing of it. */
static void
test_unwritable_record_refuses_the_start(void **state)
{
	Fixture *f = *state;
	g_autofree char *not_a_dir = g_build_filename(f->dir, "file", NULL);

	assert_true(g_file_set_contents(not_a_dir, "", 0, NULL));
	new_manager(f, not_a_dir);
	start_url(f);
	assert_true(g_error_matches(f->error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_STORAGE_ERROR));
	assert_non_null(strstr(f->error->message, "modem was not touched"));
	test_run_for(200);
	assert_int_equal(f->fake->received->len, 0);
	/* only the load's verdict on the unreadable place: no job */
	assert_string_equal(job_manager_get_record(f->manager)->id, "");
}

static void
test_second_start_is_busy(void **state)
{
	Fixture *f = *state;
	g_autofree char *first = NULL;

	new_manager(f, f->state_dir);
	start_url(f);
	assert_null(f->error);
	first = g_strdup(f->job_id);
	start_url(f);
	assert_true(g_error_matches(f->error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_BUSY));
	assert_non_null(strstr(f->error->message, first));
	assert_string_equal(job_manager_get_record(f->manager)->id, first);
}

/* A file of @size bytes that takes no room: the size is what is tested.
 * ftruncate() takes an off_t, 64 bits on a 32-bit build only with
 * _FILE_OFFSET_BITS=64, which such a build must have. */
static int
sparse_package(Fixture *f, goffset size)
{
	g_autofree char *path = g_build_filename(f->dir, "package.bin", NULL);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	struct stat st;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(st.st_size == size);
	return fd;
}

static GVariant *
sha256_option(void)
{
	GVariantDict dict;

	g_variant_dict_init(&dict, NULL);
	g_variant_dict_insert(&dict, "sha256", "s",
	                      "0000000000000000000000000000000000000000000000000000000000000000");
	return g_variant_ref_sink(g_variant_dict_end(&dict));
}

/* Cancel while StartFile hashes: the call ends Cancelled, no job starts. */
static void
test_cancel_while_hashing(void **state)
{
	Fixture *f = *state;
	g_autoptr(GVariant) options = sha256_option();
	g_autoptr(GError) error = NULL;

	new_manager(f, f->state_dir);
	job_manager_start_file(f->manager, sparse_package(f, G_GINT64_CONSTANT(4000000000)),
	                       options, replied, f);
	test_run_for(50);
	assert_false(f->replied);
	assert_true(job_manager_cancel(f->manager, &error));
	wait_reply(f);
	assert_true(g_error_matches(f->error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_CANCELLED));
	assert_null(job_manager_get_record(f->manager));
	assert_int_equal(f->fake->received->len, 0);
	/* and nothing is left to cancel */
	assert_false(job_manager_cancel(f->manager, &error));
}

static void
assert_file_refused(Fixture *f, int fd, const char *why)
{
	f->replied = FALSE;
	g_clear_error(&f->error);
	job_manager_start_file(f->manager, fd, NULL, replied, f);
	wait_reply(f);
	assert_true(g_error_matches(f->error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_INVALID_ARGUMENT));
	assert_non_null(strstr(f->error->message, why));
}

static void
test_packages_refused_at_the_door(void **state)
{
	Fixture *f = *state;
	g_autofree char *path = g_build_filename(f->dir, "package.bin", NULL);

	new_manager(f, f->state_dir);
	assert_file_refused(f, sparse_package(f, 0), "size must be 1..4294967295");
	/* the size as it is, not wrapped to 0 by a 32-bit type */
	assert_file_refused(f, sparse_package(f, G_GINT64_CONSTANT(4294967296)), "got 4294967296");
	assert_file_refused(f, open(path, O_PATH | O_CLOEXEC), "opened for reading");
	assert_file_refused(f, open(f->dir, O_RDONLY | O_CLOEXEC), "regular file");
	assert_int_equal(f->fake->received->len, 0);
}

static const char *
received_qfotadl(Fixture *f)
{
	for (guint i = 0; i < f->fake->received->len; i++) {
		const char *line = g_ptr_array_index(f->fake->received, i);

		if (g_str_has_prefix(line, "AT+QFOTADL=\""))
			return line;
	}
	return NULL;
}

/* The modem's bound, 2^32-1 bytes (FILE:<length> is a 32-bit count), on
 * every word size: armhf's 32-bit long and size_t must neither truncate
 * nor refuse it. Nothing is streamed: the scripted modem never says
 * FILESTART. One byte more is refused in test_packages_refused_at_the_door. */
static void
test_largest_package_reaches_the_modem(void **state)
{
	Fixture *f = *state;
	const JobRecord *record;
	const char *qfotadl = NULL;
	g_autoptr(JobStore) store = NULL;
	g_autoptr(JobRecord) saved = NULL;
	g_autoptr(GError) error = NULL;

	assert_true(FOTA_PACKAGE_MAX == G_GUINT64_CONSTANT(4294967295));
	new_manager(f, f->state_dir);
	job_manager_start_file(f->manager, sparse_package(f, FOTA_PACKAGE_MAX), NULL, replied, f);
	wait_reply(f);
	assert_null(f->error);
	record = job_manager_get_record(f->manager);
	assert_non_null(record);
	assert_true(record->file_size == FOTA_PACKAGE_MAX);
	assert_string_equal(record->source, "file:4294967295");
	for (guint i = 0; i < WAIT_S * 100 && (qfotadl = received_qfotadl(f)) == NULL; i++)
		test_run_for(10);
	assert_non_null(qfotadl);
	assert_true(g_str_has_prefix(qfotadl, "AT+QFOTADL=\"FILE:4294967295\","));
	/* what a restarted daemon reads back */
	store = job_store_new(f->state_dir);
	assert_true(job_store_load(store, &saved, &error));
	assert_non_null(saved);
	assert_true(saved->file_size == FOTA_PACKAGE_MAX);
}

/* A record nobody can read is a failure of unknown outcome, never "no job". */
static void
test_unreadable_record_is_a_failure(void **state)
{
	Fixture *f = *state;
	g_autofree char *job = g_build_filename(f->state_dir, "job", NULL);
	const JobRecord *r;

	assert_true(g_file_set_contents(job, "[job]\nversion=1\nstate=exploded\n", -1, NULL));
	new_manager(f, f->state_dir);
	r = job_manager_get_record(f->manager);
	assert_non_null(r);
	assert_int_equal(r->state, FOTA_STATE_FAILED);
	assert_string_equal(r->error, "org.quectel.Fota1.Error.UpgradeFailed");
	assert_non_null(strstr(r->message, "job record unreadable"));
	assert_string_equal(r->id, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_unwritable_record_refuses_the_start, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_second_start_is_busy, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cancel_while_hashing, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_packages_refused_at_the_door, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_largest_package_reaches_the_modem, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_unreadable_record_is_a_failure, setup,
	                                        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
