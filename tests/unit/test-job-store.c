/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <string.h>

#include "job-store.h"
#include "test-util.h"

#define FULL_ID    "0123456789abcdef0123456789abcdef"
#define FULL_SHA   "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define FULL_PORT  "usb:2c7c:6026:/devices/pci0000:00/0000:00:14.0/usb1/1-4"
#define FULL_URL   "http://example.com:8080/EC200TCNDAR02A03M16.bin"
#define FULL_ERROR "org.quectel.Fota1.Error.DownloadFailed"

/* Every field set, in a state where every field may be set. */
static JobRecord *
full_record(void)
{
	JobRecord *r = job_record_new();

	r->id = g_strdup(FULL_ID);
	r->source_kind = FOTA_SOURCE_HTTP;
	r->source = g_strdup(FULL_URL);
	r->state = FOTA_STATE_FAILED;
	r->percent = 42;
	r->accepted = TRUE;
	r->download_done = FALSE;
	r->end_code = 504;
	r->error = g_strdup(FULL_ERROR);
	r->error_code = 714;
	r->message = g_strdup("714 (HTTP(S) DNS error) \"quoted\" \\ back");
	r->from_revision = g_strdup("EC200TCNDAR02A02M16");
	r->to_revision = g_strdup("EC200TCNDAR02A03M16");
	r->started_us = 1700000000000001;
	r->finished_us = 1700000600000002;
	r->state_since_us = 1700000500000003;
	r->boot_id = g_strdup("fedcba9876543210fedcba9876543210");
	r->port = g_strdup(FULL_PORT);
	r->usb_power_previous = g_strdup("auto");
	r->options.upgrade_mode = 0;
	r->options.download_urc_max = 50;
	r->options.update_urc_max = 100;
	r->options.expected_revision = g_strdup("EC200TCNDAR02A03M16");
	r->options.sha256 = g_strdup(FULL_SHA);
	r->options.cid = 2;
	r->options.apn = g_strdup("cmnet");
	return r;
}

/* Only what every job has. */
static JobRecord *
minimal_record(void)
{
	JobRecord *r = job_record_new();

	r->id = g_strdup("ffffffffffffffffffffffffffffffff");
	r->source_kind = FOTA_SOURCE_FILE;
	r->source = g_strdup("file:4884688");
	r->file_size = 4884688;
	r->state = FOTA_STATE_PREPARING;
	r->started_us = 1;
	r->state_since_us = 1;
	return r;
}

static void
assert_records_equal(const JobRecord *a, const JobRecord *b)
{
	assert_string_equal(a->id, b->id);
	assert_int_equal(a->source_kind, b->source_kind);
	assert_string_equal(a->source, b->source);
	assert_int_equal(a->file_size, b->file_size);
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->percent, b->percent);
	assert_int_equal(a->accepted, b->accepted);
	assert_int_equal(a->download_done, b->download_done);
	assert_int_equal(a->end_code, b->end_code);
	assert_true(g_strcmp0(a->error, b->error) == 0);
	assert_int_equal(a->error_code, b->error_code);
	assert_true(g_strcmp0(a->message, b->message) == 0);
	assert_true(g_strcmp0(a->from_revision, b->from_revision) == 0);
	assert_true(g_strcmp0(a->to_revision, b->to_revision) == 0);
	assert_int_equal(a->started_us, b->started_us);
	assert_int_equal(a->finished_us, b->finished_us);
	assert_int_equal(a->state_since_us, b->state_since_us);
	assert_true(g_strcmp0(a->boot_id, b->boot_id) == 0);
	assert_true(g_strcmp0(a->port, b->port) == 0);
	assert_true(g_strcmp0(a->usb_power_previous, b->usb_power_previous) == 0);
	assert_int_equal(a->options.upgrade_mode, b->options.upgrade_mode);
	assert_int_equal(a->options.download_urc_max, b->options.download_urc_max);
	assert_int_equal(a->options.update_urc_max, b->options.update_urc_max);
	assert_true(g_strcmp0(a->options.expected_revision, b->options.expected_revision) == 0);
	assert_true(g_strcmp0(a->options.sha256, b->options.sha256) == 0);
	assert_int_equal(a->options.cid, b->options.cid);
	assert_true(g_strcmp0(a->options.apn, b->options.apn) == 0);
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted names in @dir, joined with spaces: easy to assert on. */
static char *
list_dir(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const char *name;

	assert_non_null(d);
	while ((name = g_dir_read_name(d)) != NULL)
		g_ptr_array_add(names, g_strdup(name));
	g_ptr_array_sort(names, compare_names);
	g_ptr_array_add(names, NULL);
	return g_strjoinv(" ", (char **)names->pdata);
}

static void
assert_dir_lists(const char *dir, const char *expected)
{
	g_autofree char *names = list_dir(dir);

	assert_string_equal(names, expected);
}

static void
round_trip(JobRecord *(*make)(void))
{
	g_autofree char *dir = test_make_tmp_dir("test-job-store-XXXXXX");
	g_autoptr(JobStore) store = job_store_new(dir);
	g_autoptr(JobRecord) record = make();
	g_autoptr(JobRecord) loaded = NULL;
	g_autoptr(GError) error = NULL;

	assert_true(job_store_save(store, record, &error));
	assert_null(error);
	assert_dir_lists(dir, "job"); /* no temp file left behind */

	assert_true(job_store_load(store, &loaded, &error));
	assert_null(error);
	assert_non_null(loaded);
	assert_records_equal(record, loaded);
	test_remove_tree(dir);
}

static void
test_round_trip_full(void **state)
{
	round_trip(full_record);
}

static void
test_round_trip_minimal(void **state)
{
	round_trip(minimal_record);
}

/* Unset values are absent keys, not "-1" or "". */
static void
test_minimal_has_no_unset_keys(void **state)
{
	g_autoptr(JobRecord) record = minimal_record();
	g_autofree char *data = job_record_to_keyfile_data(record, NULL);

	assert_null(strstr(data, "end-code"));
	assert_null(strstr(data, "error"));
	assert_null(strstr(data, "finished"));
	assert_null(strstr(data, "cid"));
	assert_null(strstr(data, "update-urc-max"));
	assert_non_null(strstr(data, "version=1\n"));
}

static void
test_missing_file(void **state)
{
	g_autofree char *dir = test_make_tmp_dir("test-job-store-XXXXXX");
	g_autoptr(JobStore) store = job_store_new(dir);
	g_autoptr(JobRecord) loaded = NULL;
	g_autoptr(GError) error = NULL;

	assert_true(job_store_load(store, &loaded, &error));
	assert_null(error);
	assert_null(loaded);
	test_remove_tree(dir);
}

static void
test_missing_dir_is_created(void **state)
{
	g_autofree char *dir = test_make_tmp_dir("test-job-store-XXXXXX");
	g_autofree char *sub = g_build_filename(dir, "a", "b", NULL);
	g_autoptr(JobStore) store = job_store_new(sub);
	g_autoptr(JobRecord) record = minimal_record();
	g_autoptr(GError) error = NULL;
	g_autofree char *job = g_build_filename(sub, "job", NULL);
	GStatBuf st;

	assert_true(job_store_save(store, record, &error));
	assert_int_equal(g_stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(g_stat(job, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	test_remove_tree(dir);
}

static void
test_save_over_existing(void **state)
{
	g_autofree char *dir = test_make_tmp_dir("test-job-store-XXXXXX");
	g_autoptr(JobStore) store = job_store_new(dir);
	g_autoptr(JobRecord) first = full_record();
	g_autoptr(JobRecord) second = minimal_record();
	g_autoptr(JobRecord) loaded = NULL;
	g_autoptr(GError) error = NULL;

	assert_true(job_store_save(store, first, &error));
	assert_true(job_store_save(store, second, &error));
	assert_dir_lists(dir, "job");
	assert_true(job_store_load(store, &loaded, &error));
	assert_records_equal(second, loaded);
	test_remove_tree(dir);
}

/* A crash between creating the temp file and the rename leaves it behind:
 * it must neither be loaded nor disturb the real job, and it is cleaned. */
static void
test_stale_temp_file(void **state)
{
	g_autofree char *dir = test_make_tmp_dir("test-job-store-XXXXXX");
	g_autoptr(JobStore) store = job_store_new(dir);
	g_autoptr(JobRecord) record = minimal_record();
	g_autoptr(JobRecord) loaded = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *stale = g_build_filename(dir, "job.tmp-Ab12Cd", NULL);

	assert_true(job_store_save(store, record, &error));
	assert_true(g_file_set_contents(stale, "[job]\nversion=1\nid=half", -1, NULL));

	assert_true(job_store_load(store, &loaded, &error));
	assert_null(error);
	assert_records_equal(record, loaded);
	assert_dir_lists(dir, "job");

	/* and a save next to a stale file still works */
	assert_true(g_file_set_contents(stale, "x", -1, NULL));
	assert_true(job_store_save(store, record, &error));
	test_remove_tree(dir);
}

static void
test_unwritable_dir(void **state)
{
	g_autofree char *dir = test_make_tmp_dir("test-job-store-XXXXXX");
	g_autofree char *file = g_build_filename(dir, "not-a-dir", NULL);
	g_autofree char *sub = g_build_filename(file, "state", NULL);
	g_autoptr(JobStore) store = job_store_new(sub);
	g_autoptr(JobRecord) record = minimal_record();
	g_autoptr(GError) error = NULL;

	/* A path under a regular file: ENOTDIR even for root, who ignores
	 * directory permissions. */
	assert_true(g_file_set_contents(file, "", 0, NULL));
	assert_false(job_store_save(store, record, &error));
	assert_true(g_error_matches(error, JOB_STORE_ERROR, JOB_STORE_ERROR_IO));
	assert_non_null(strstr(error->message, sub));
	assert_non_null(strstr(error->message, g_strerror(ENOTDIR)));
	test_remove_tree(dir);
}

static void
test_save_refuses_invalid(void **state)
{
	g_autofree char *dir = test_make_tmp_dir("test-job-store-XXXXXX");
	g_autoptr(JobStore) store = job_store_new(dir);
	g_autoptr(JobRecord) record = minimal_record();
	g_autoptr(GError) error = NULL;

	record->percent = 101;
	assert_false(job_store_save(store, record, &error));
	assert_true(g_error_matches(error, JOB_STORE_ERROR, JOB_STORE_ERROR_INVALID));
	assert_non_null(strstr(error->message, "percent"));
	assert_non_null(strstr(error->message, "101"));
	assert_dir_lists(dir, "");
	test_remove_tree(dir);
}

/* ---- corrupt files, table-driven ---------------------------------------- */

typedef struct {
	const char *name;
	/* The full record's file with @from replaced by @to (twice, for two
	 * edits); @from NULL: @to is the whole file. */
	const char *from, *to;
	const char *from2, *to2;
	const char *reason; /* must appear in the error message */
	gssize length;      /* of @to as the whole file; -1: strlen */
} CorruptCase;

#define REPLACE(n, f, t, why)                                                                      \
	{                                                                                          \
		.name = n, .from = f, .to = t, .reason = why, .length = -1                         \
	}

static const CorruptCase corrupt_cases[] = {
        {.name = "empty", .to = "", .reason = "empty", .length = 0},
        {.name = "garbage bytes",
         .to = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
         .reason = "not UTF-8",
         .length = 16},
        {.name = "not a key file", .to = "hello world\n", .reason = "not a key file", .length = -1},
        {.name = "invalid UTF-8", .from = "cmnet", .to = "cm\xffnet", .reason = "UTF-8"},
        REPLACE("no final newline", "download-urc-max=50\n", "download-urc-max=50", "truncated"),
        REPLACE("cut at a line", "download-urc-max=50\n", "", "download-urc-max is missing"),
        REPLACE("version 0", "version=1", "version=0", "version must be 1, got \"0\""),
        REPLACE("future version", "version=1", "version=2", "version 2 is newer"),
        REPLACE("version text", "version=1", "version=one", "got \"one\""),
        REPLACE("missing version", "version=1\n", "", "version is missing"),
        REPLACE("unknown key", "[options]\n", "[options]\ncolour=blue\n", "unknown key \"colour\""),
        REPLACE("unknown group", "[options]\n", "[extra]\nx=1\n[options]\n",
                "unknown group [extra]"),
        REPLACE("translated key", "[options]\n", "[options]\napn[de]=x\n", "apn[de]"),
        REPLACE("missing state", "state=failed\n", "", "state is missing"),
        REPLACE("missing id", "id=" FULL_ID "\n", "", "id is missing"),
        REPLACE("id upper case", "id=0123456789abcdef", "id=0123456789ABCDEF", "id must be 32"),
        REPLACE("id short", "id=0123456789abcdef0123456789abcdef", "id=0123", "got \"0123\""),
        REPLACE("unknown state", "state=failed", "state=sleeping", "got \"sleeping\""),
        REPLACE("unknown source-kind", "source-kind=http", "source-kind=gopher", "gopher"),
        REPLACE("percent 101", "percent=42", "percent=101", "percent must be 0..100, got \"101\""),
        REPLACE("percent negative", "percent=42", "percent=-1", "got \"-1\""),
        REPLACE("percent text", "percent=42", "percent=4x2", "must be a decimal integer"),
        REPLACE("percent hex", "percent=42", "percent=0x2a", "must be a decimal integer"),
        REPLACE("percent huge", "percent=42", "percent=99999999999999999999999", "decimal"),
        REPLACE("bool yes", "accepted=true", "accepted=yes", "accepted must be true or false"),
        REPLACE("upgrade-mode 2", "upgrade-mode=0", "upgrade-mode=2", "upgrade-mode must be 0..1"),
        REPLACE("download-urc-max 3", "download-urc-max=50", "download-urc-max=3", "0 or 5..100"),
        REPLACE("update-urc-max 101", "update-urc-max=100", "update-urc-max=101", "0 or 5..100"),
        REPLACE("cid 0", "cid=2", "cid=0", "cid must be 1..16"),
        REPLACE("cid 17", "cid=2", "cid=17", "got \"17\""),
        REPLACE("end-code big", "end-code=504", "end-code=100000", "end-code must be -1..99999"),
        REPLACE("error-code -2", "error-code=714", "error-code=-2", "error-code"),
        REPLACE("started negative", "started=1700000000000001", "started=-5", "started"),
        REPLACE("started absurd", "started=1700000000000001", "started=9999999999999999",
                "started must be"),
        REPLACE("missing started", "started=1700000000000001\n", "", "started is missing"),
        REPLACE("source too long", "source=" FULL_URL,
                "source=http://"
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                "x"
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                "x"
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                "x",
                "source must be 1..255"),
        REPLACE("source control byte", "source=http://", "source=http://\\t", "source must be"),
        REPLACE("source-kind mismatch", "source-kind=http", "source-kind=ftp",
                "must start with ftp://"),
        REPLACE("file source not file", "source-kind=http", "source-kind=file",
                "file-size is missing"),
        {.name = "file size mismatch",
         .from = "source-kind=http",
         .to = "source-kind=file",
         .from2 = "state=failed",
         .to2 = "file-size=10\nstate=failed",
         .reason = "source must be \"file:10\""},
        REPLACE("file-size on http", "state=failed", "file-size=10\nstate=failed",
                "file-size is set"),
        REPLACE("file-size too big", "state=failed", "file-size=4294967296\nstate=failed",
                "file-size must be 1..4294967295"),
        REPLACE("message control", "message=714", "message=7\\t14", "message must be"),
        REPLACE("message bad escape", "message=714", "message=\\q714", "not a valid string"),
        REPLACE("revision space", "from-revision=EC200T", "from-revision=EC 200T", "from-revision"),
        REPLACE("revision empty", "to-revision=EC200TCNDAR02A03M16",
                "to-revision=", "to-revision must be 1..64"),
        REPLACE("error not ours", "error=org.quectel.Fota1.Error.", "error=org.example.Error.",
                "error must be a D-Bus error name"),
        REPLACE("boot-id short", "boot-id=fedcba", "boot-id=xyz", "boot-id must be 32 hex"),
        REPLACE("sha256 upper", "sha256=00112233445566778899aabb",
                "sha256=00112233445566778899AABB", "sha256 must be 64"),
        REPLACE("apn quote", "apn=cmnet", "apn=cm\"net", "apn must be"),
        REPLACE("port relative", "port=usb:", "port=ttyUSB2 usb:", "port must be"),
        REPLACE("usb power unknown", "usb-power-previous=auto", "usb-power-previous=suspend",
                "usb-power-previous must be"),
        REPLACE("succeeded with error", "state=failed", "state=succeeded",
                "error must be set exactly when state is failed"),
        REPLACE("failed without error", "error=" FULL_ERROR "\n", "", "error must be set"),
        REPLACE("final without finished", "finished=1700000600000002\n", "",
                "finished is missing although state is failed"),
        {.name = "running with finished",
         .from = "state=failed",
         .to = "state=downloading",
         .from2 = "error=" FULL_ERROR "\n",
         .to2 = "",
         .reason = "finished is set although state is downloading"},
};

static GString *
corrupt_contents(const CorruptCase *c)
{
	g_autoptr(JobRecord) record = full_record();
	g_autofree char *data = NULL;
	GString *s;

	if (c->from == NULL)
		return g_string_new_len(c->to, c->length >= 0 ? c->length : (gssize)strlen(c->to));

	data = job_record_to_keyfile_data(record, NULL);
	s = g_string_new(data);
	assert_true(g_string_replace(s, c->from, c->to, 1) == 1);
	if (c->from2 != NULL)
		assert_true(g_string_replace(s, c->from2, c->to2, 1) == 1);
	return s;
}

static char *
find_corrupt_file(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;

	while ((name = g_dir_read_name(d)) != NULL) {
		if (g_str_has_prefix(name, "job.corrupt-"))
			return g_build_filename(dir, name, NULL);
	}
	return NULL;
}

static void
test_corrupt_case(void **state)
{
	const CorruptCase *c = *state;
	g_autofree char *dir = test_make_tmp_dir("test-job-store-XXXXXX");
	g_autofree char *job = g_build_filename(dir, "job", NULL);
	g_autoptr(JobStore) store = job_store_new(dir);
	g_autoptr(JobRecord) loaded = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) contents = corrupt_contents(c);
	g_autofree char *moved = NULL;
	g_autofree char *moved_contents = NULL;
	gsize moved_length;

	assert_true(g_file_set_contents(job, contents->str, contents->len, NULL));
	assert_false(job_store_load(store, &loaded, &error));
	assert_null(loaded);
	assert_true(g_error_matches(error, JOB_STORE_ERROR, JOB_STORE_ERROR_CORRUPT));
	if (strstr(error->message, c->reason) == NULL)
		fail_msg("case \"%s\": \"%s\" not in \"%s\"", c->name, c->reason, error->message);
	assert_true(g_utf8_validate(error->message, -1, NULL));

	/* moved aside, byte for byte, and the message says where */
	assert_false(g_file_test(job, G_FILE_TEST_EXISTS));
	moved = find_corrupt_file(dir);
	assert_non_null(moved);
	assert_non_null(strstr(error->message, moved));
	assert_true(g_file_get_contents(moved, &moved_contents, &moved_length, NULL));
	assert_int_equal(moved_length, contents->len);
	assert_memory_equal(moved_contents, contents->str, contents->len);

	/* and the store is usable again: no job now */
	g_clear_error(&error);
	assert_true(job_store_load(store, &loaded, &error));
	assert_null(loaded);
	test_remove_tree(dir);
}

/* The pure parser agrees with the store on every case. */
static void
test_corrupt_case_pure(void **state)
{
	const CorruptCase *c = *state;
	g_autoptr(GString) contents = corrupt_contents(c);
	g_autoptr(GError) error = NULL;
	g_autoptr(JobRecord) record =
	        job_record_from_keyfile_data(contents->str, contents->len, &error);

	assert_null(record);
	assert_true(g_error_matches(error, JOB_STORE_ERROR, JOB_STORE_ERROR_CORRUPT));
}

/* Loading the non-record at @job fails as corrupt, with @needle in the
 * message, and moves it aside. */
static void
assert_load_corrupt(JobStore *store, const char *job, const char *needle)
{
	g_autoptr(JobRecord) loaded = NULL;
	g_autoptr(GError) error = NULL;

	assert_false(job_store_load(store, &loaded, &error));
	assert_true(g_error_matches(error, JOB_STORE_ERROR, JOB_STORE_ERROR_CORRUPT));
	assert_non_null(strstr(error->message, needle));
	assert_false(g_file_test(job, G_FILE_TEST_EXISTS));
}

static void
test_too_big(void **state)
{
	g_autofree char *dir = test_make_tmp_dir("test-job-store-XXXXXX");
	g_autofree char *job = g_build_filename(dir, "job", NULL);
	g_autoptr(JobStore) store = job_store_new(dir);
	g_autofree char *big = g_strnfill(200 * 1024, 'x');

	assert_true(g_file_set_contents(job, big, -1, NULL));
	assert_load_corrupt(store, job, "more than 65536");
	test_remove_tree(dir);
}

static void
test_not_regular(void **state)
{
	g_autofree char *dir = test_make_tmp_dir("test-job-store-XXXXXX");
	g_autofree char *job = g_build_filename(dir, "job", NULL);
	g_autoptr(JobStore) store = job_store_new(dir);

	assert_int_equal(g_mkdir(job, 0700), 0);
	assert_load_corrupt(store, job, "not a regular file");
	test_remove_tree(dir);
}

/* Two corrupt files in the same second are both kept. */
static void
test_corrupt_name_collision(void **state)
{
	g_autofree char *dir = test_make_tmp_dir("test-job-store-XXXXXX");
	g_autofree char *job = g_build_filename(dir, "job", NULL);
	g_autoptr(JobStore) store = job_store_new(dir);
	g_autofree char *names = NULL;
	g_auto(GStrv) parts = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	/* Occupy this second's and the next second's plain names, so the
	 * suffix path runs whichever second the load falls in. */
	for (gint64 t = now; t <= now + 1; t++) {
		g_autofree char *name = g_strdup_printf("%s/job.corrupt-%" G_GINT64_FORMAT, dir, t);
		assert_true(g_file_set_contents(name, "older", -1, NULL));
	}
	for (int i = 0; i < 2; i++) {
		assert_true(g_file_set_contents(job, "junk", -1, NULL));
		assert_load_corrupt(store, job, ".corrupt-");
	}
	names = list_dir(dir);
	parts = g_strsplit(names, " ", -1);
	assert_int_equal(g_strv_length(parts), 4);
	assert_null(strstr(names, "job "));
	test_remove_tree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_round_trip_full),
	        cmocka_unit_test(test_round_trip_minimal),
	        cmocka_unit_test(test_minimal_has_no_unset_keys),
	        cmocka_unit_test(test_missing_file),
	        cmocka_unit_test(test_missing_dir_is_created),
	        cmocka_unit_test(test_save_over_existing),
	        cmocka_unit_test(test_stale_temp_file),
	        cmocka_unit_test(test_unwritable_dir),
	        cmocka_unit_test(test_save_refuses_invalid),
	        cmocka_unit_test(test_too_big),
	        cmocka_unit_test(test_not_regular),
	        cmocka_unit_test(test_corrupt_name_collision),
	};
	gsize n = G_N_ELEMENTS(corrupt_cases);
	g_autofree struct CMUnitTest *table = g_new0(struct CMUnitTest, 2 * n);
	int failed;

	for (gsize i = 0; i < n; i++) {
		table[2 * i] = (struct CMUnitTest){
		        .name = corrupt_cases[i].name,
		        .test_func = test_corrupt_case,
		        .initial_state = (void *)&corrupt_cases[i],
		};
		table[2 * i + 1] = (struct CMUnitTest){
		        .name = corrupt_cases[i].name,
		        .test_func = test_corrupt_case_pure,
		        .initial_state = (void *)&corrupt_cases[i],
		};
	}

	failed = cmocka_run_group_tests(tests, NULL, NULL);
	failed += _cmocka_run_group_tests("corrupt files", table, 2 * n, NULL, NULL);
	return failed;
}
