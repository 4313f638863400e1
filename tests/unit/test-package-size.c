/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The package size at the modem's bound, 2^32-1 bytes (FILE:<length> is a
 * 32-bit count, see fota-limits.h), on every word size: armhf's 32-bit
 * long and size_t must neither truncate nor refuse it. StartFile takes a
 * sparse package of exactly 4294967295 bytes and the modem is asked for
 * AT+QFOTADL="FILE:4294967295" (nothing is streamed: the scripted modem
 * never says FILESTART); one byte more is refused with its size named;
 * the job record keeps the size through its file. */
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

#define WAIT_S 10

typedef struct {
	char *dir;
	char *state_dir;
	TestFakeModem *fake;
	FotadConfig *config;
	FotaModem *modem;
	JobStore *store;
	FotaJobManager *manager;
	gboolean replied;
	GError *error;
} Fixture;

static int
setup(void **state)
{
	Fixture *f = g_new0(Fixture, 1);
	g_autoptr(FotaJobNeighbours) neighbours = NULL;

	f->dir = test_make_tmp_dir("test-package-size-XXXXXX");
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
	/* no bus: the neighbours only write the journal */
	neighbours = job_neighbours_new(f->config, f->modem);
	f->store = job_store_new(f->state_dir);
	f->manager = job_manager_new(f->config, f->modem, f->store, neighbours,
	                             "0123456789abcdef0123456789abcdef");
	job_manager_load(f->manager);
	*state = f;
	return 0;
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
	test_remove_tree(f->dir);
	g_free(f->state_dir);
	g_free(f->dir);
	g_free(f);
	return 0;
}

static void
replied(G_GNUC_UNUSED const char *job_id, const GError *error, gpointer user_data)
{
	Fixture *f = user_data;

	f->replied = TRUE;
	f->error = error ? g_error_copy(error) : NULL;
}

/* A file of @size bytes that takes no room: the size is what is tested. */
static int
sparse_package(Fixture *f, guint64 size)
{
	g_autofree char *path = g_build_filename(f->dir, "package.bin", NULL);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	struct stat st;

	assert_true(fd >= 0);
	/* ftruncate() takes an off_t: 64 bits here only with
	 * _FILE_OFFSET_BITS=64, which a 32-bit build must have */
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true((guint64)st.st_size == size);
	return fd;
}

static void
start_file(Fixture *f, guint64 size)
{
	f->replied = FALSE;
	g_clear_error(&f->error);
	job_manager_start_file(f->manager, sparse_package(f, size), NULL, replied, f);
	for (guint i = 0; i < WAIT_S * 100 && !f->replied; i++)
		test_run_for(10);
	assert_true(f->replied);
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
	start_file(f, FOTA_PACKAGE_MAX);
	assert_null(f->error);
	record = job_manager_get_record(f->manager);
	assert_non_null(record);
	assert_true(record->file_size == FOTA_PACKAGE_MAX);
	assert_string_equal(record->source, "file:4294967295");
	for (guint i = 0; i < WAIT_S * 100 && (qfotadl = received_qfotadl(f)) == NULL; i++)
		test_run_for(10);
	assert_non_null(qfotadl);
	print_message("the modem got: %s\n", qfotadl);
	assert_true(g_str_has_prefix(qfotadl, "AT+QFOTADL=\"FILE:4294967295\","));

	/* what a restarted daemon would read back */
	store = job_store_new(f->state_dir);
	assert_true(job_store_load(store, &saved, &error));
	assert_null(error);
	assert_non_null(saved);
	assert_true(saved->file_size == FOTA_PACKAGE_MAX);
}

static void
test_one_byte_more_is_refused(void **state)
{
	Fixture *f = *state;

	start_file(f, FOTA_PACKAGE_MAX + 1);
	assert_true(g_error_matches(f->error, FOTA_DBUS_ERROR, FOTA_DBUS_ERROR_INVALID_ARGUMENT));
	/* the size as it is, not wrapped to 0 by a 32-bit type */
	assert_non_null(strstr(f->error->message, "got 4294967296"));
	assert_null(job_manager_get_record(f->manager));
	assert_int_equal(f->fake->received->len, 0);
}

/* The record's file: a size past the bound is a broken file, not a job. */
static void
test_record_file_holds_the_bound(G_GNUC_UNUSED void **state)
{
	g_autoptr(JobRecord) record = job_record_new();
	g_autoptr(JobRecord) back = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *data = NULL;
	g_autofree char *edited = NULL;
	gsize length = 0;
	char *at;

	record->id = g_strdup("0123456789abcdef0123456789abcdef");
	record->source_kind = FOTA_SOURCE_FILE;
	record->source = g_strdup("file:4294967295");
	record->file_size = FOTA_PACKAGE_MAX;
	record->started_us = record->state_since_us = g_get_real_time();
	data = job_record_to_keyfile_data(record, &length);
	assert_non_null(strstr(data, "file-size=4294967295\n"));
	back = job_record_from_keyfile_data(data, length, &error);
	if (error != NULL)
		print_message("%s\n", error->message);
	assert_null(error);
	assert_non_null(back);
	assert_true(back->file_size == FOTA_PACKAGE_MAX);

	edited = g_strdup(data);
	at = strstr(edited, "file-size=4294967295\n");
	memcpy(at, "file-size=4294967296\n", strlen("file-size=4294967296\n"));
	g_clear_pointer(&back, job_record_free);
	back = job_record_from_keyfile_data(edited, strlen(edited), &error);
	assert_null(back);
	assert_non_null(error);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_largest_package_reaches_the_modem, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_one_byte_more_is_refused, setup, teardown),
	        cmocka_unit_test(test_record_file_holds_the_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
