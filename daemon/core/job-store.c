/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "job-store.h"

#include "at-parse.h"
#include "fota-limits.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

/* G_DEFINE_QUARK stringifies its first argument: keep it unformatted. */
/* clang-format off */
G_DEFINE_QUARK(quectel-fotad-job-store-error-quark, job_store_error)
/* clang-format on */

#define JOB_FILE_NAME     "job"
#define TEMP_PREFIX       JOB_FILE_NAME ".tmp-"
#define CORRUPT_PREFIX    JOB_FILE_NAME ".corrupt-"
#define GROUP_JOB         "job"
#define GROUP_OPTIONS     "options"
#define KEY_VERSION       "version"
#define ERROR_NAME_PREFIX "org.quectel.Fota1.Error."

/* 2200-01-01 in µs: a later timestamp is a broken clock or a broken file,
 * not a job anyone started. */
#define MAX_TIME_US   G_GINT64_CONSTANT(7258118400000000)
#define MAX_FILE_SIZE FOTA_PACKAGE_MAX
#define MAX_MESSAGE   512
#define MAX_PORT      4096
/* A job file is under 2 KiB; anything this big is not ours, and the limit
 * keeps a runaway file from being read into memory. */
#define MAX_JOB_FILE (64 * 1024)
/* Same-second corrupt files get .1, .2, ...; past this something loops. */
#define MAX_CORRUPT_SUFFIX 1000

struct _JobStore {
	char *dir;
	char *path;
};

/* ---- field checks ------------------------------------------------------ */

/* Each returns NULL when the value is fine, else what it should have been. */
typedef const char *(*StringCheck)(const char *value);

static gboolean
is_hex(const char *value, gsize len, gboolean lower_only)
{
	if (strlen(value) != len)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		char c = value[i];
		if (!g_ascii_isxdigit(c) || (lower_only && g_ascii_isupper(c)))
			return FALSE;
	}
	return TRUE;
}

/* Control bytes in a one-line field are a hand edit or garbage; they would
 * also end up verbatim in D-Bus properties and logs. */
static gboolean
has_control_bytes(const char *value)
{
	for (const char *p = value; *p != '\0'; p++) {
		if (fota_byte_is_control((guchar)*p))
			return TRUE;
	}
	return FALSE;
}

static const char *
check_id(const char *value)
{
	return is_hex(value, 32, TRUE) ? NULL : "must be 32 lower-case hex digits";
}

static const char *
check_boot_id(const char *value)
{
	return is_hex(value, 32, FALSE) ? NULL : "must be 32 hex digits";
}

static const char *
check_sha256(const char *value)
{
	return is_hex(value, 64, TRUE) ? NULL : "must be 64 lower-case hex digits";
}

static const char *
check_revision(const char *value)
{
	return at_revision_is_valid(value)
	               ? NULL
	               : "must be 1.." G_STRINGIFY(
	                         FOTA_REVISION_MAX) " characters of [A-Za-z0-9_.-]";
}

static const char *
check_source(const char *value)
{
	/* The form must agree with source-kind; that is a cross-field check in
	 * check_consistency(). Here only what holds for any source. */
	if (*value == '\0' || strlen(value) > FOTA_URL_MAX || has_control_bytes(value))
		return "must be 1.." G_STRINGIFY(FOTA_URL_MAX) " bytes without control characters";
	return NULL;
}

static const char *
check_message(const char *value)
{
	if (strlen(value) > MAX_MESSAGE || has_control_bytes(value))
		return "must be at most " G_STRINGIFY(
		        MAX_MESSAGE) " bytes without control characters";
	return NULL;
}

static const char *
check_error_name(const char *value)
{
	const char *name;

	if (!g_str_has_prefix(value, ERROR_NAME_PREFIX))
		return "must be a D-Bus error name " ERROR_NAME_PREFIX "<Name>";
	name = value + strlen(ERROR_NAME_PREFIX);
	if (*name == '\0' || strlen(value) > 255)
		return "must be a D-Bus error name " ERROR_NAME_PREFIX "<Name>";
	for (const char *p = name; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && *p != '_')
			return "must be a D-Bus error name " ERROR_NAME_PREFIX "<Name>";
	}
	return NULL;
}

static const char *
check_apn(const char *value)
{
	gsize len = strlen(value);

	if (len < 1 || len > FOTA_APN_MAX)
		return "must be 1.." G_STRINGIFY(
		        FOTA_APN_MAX) " bytes of printable ASCII except '\"'";
	for (gsize i = 0; i < len; i++) {
		if (!fota_apn_char_is_valid(value[i]))
			return "must be 1.." G_STRINGIFY(
			        FOTA_APN_MAX) " bytes of printable ASCII except '\"'";
	}
	return NULL;
}

static const char *
check_port(const char *value)
{
	if ((value[0] != '/' && !g_str_has_prefix(value, "usb:")) || strlen(value) > MAX_PORT ||
	    has_control_bytes(value))
		return "must be an absolute path or usb:<vid>:<pid>:<devpath>";
	return NULL;
}

static const char *
check_usb_power(const char *value)
{
	if (!g_str_equal(value, "auto") && !g_str_equal(value, "on"))
		return "must be \"auto\" or \"on\"";
	return NULL;
}

/* ---- the field table --------------------------------------------------- */

typedef enum {
	FIELD_STRING,      /* char * */
	FIELD_INT,         /* gint */
	FIELD_UINT,        /* guint */
	FIELD_UINT64,      /* guint64 */
	FIELD_TIME,        /* gint64, µs since the epoch */
	FIELD_BOOL,        /* gboolean */
	FIELD_STATE,       /* FotaState */
	FIELD_SOURCE_KIND, /* FotaSourceKind */
} FieldType;

typedef enum {
	FIELD_REQUIRED = 1 << 0,
	/* 0 or 5..100: the modem refuses 1..4 URCs */
	FIELD_URC_GAP = 1 << 1,
} FieldFlags;

typedef struct {
	const char *group;
	const char *key;
	FieldType type;
	FieldFlags flags;
	gsize offset;
	/* numbers: the range, and the value that means "not set" (not written) */
	gint64 min, max, unset;
	StringCheck check;
} Field;

#define REC(member) offsetof(JobRecord, member)
/* Table rows; designated initialisers leave the rest zero. */
#define STRING(g, k, fl, m, chk)                                                                   \
	{                                                                                          \
		.group = g, .key = k, .type = FIELD_STRING, .flags = fl, .offset = REC(m),         \
		.check = chk                                                                       \
	}
#define NUMBER(g, k, t, fl, m, lo, hi, un)                                                         \
	{                                                                                          \
		.group = g, .key = k, .type = t, .flags = fl, .offset = REC(m), .min = lo,         \
		.max = hi, .unset = un                                                             \
	}
#define OTHER(g, k, t, m)                                                                          \
	{                                                                                          \
		.group = g, .key = k, .type = t, .flags = FIELD_REQUIRED, .offset = REC(m)         \
	}
#define REQ FIELD_REQUIRED

/* Written in this order. The last key of the file is required, and the file
 * must end with a newline: a file cut short anywhere is then detected. */
static const Field fields[] = {
        STRING(GROUP_JOB, "id", REQ, id, check_id),
        OTHER(GROUP_JOB, "source-kind", FIELD_SOURCE_KIND, source_kind),
        STRING(GROUP_JOB, "source", REQ, source, check_source),
        NUMBER(GROUP_JOB, "file-size", FIELD_UINT64, 0, file_size, 1, MAX_FILE_SIZE, 0),
        OTHER(GROUP_JOB, "state", FIELD_STATE, state),
        NUMBER(GROUP_JOB, "percent", FIELD_UINT, REQ, percent, 0, 100, 0),
        OTHER(GROUP_JOB, "accepted", FIELD_BOOL, accepted),
        OTHER(GROUP_JOB, "download-done", FIELD_BOOL, download_done),
        NUMBER(GROUP_JOB, "end-code", FIELD_INT, 0, end_code, -1, 99999, JOB_UNSET),
        STRING(GROUP_JOB, "error", 0, error, check_error_name),
        NUMBER(GROUP_JOB, "error-code", FIELD_INT, 0, error_code, -1, 99999, JOB_UNSET),
        STRING(GROUP_JOB, "message", 0, message, check_message),
        STRING(GROUP_JOB, "from-revision", 0, from_revision, check_revision),
        STRING(GROUP_JOB, "to-revision", 0, to_revision, check_revision),
        NUMBER(GROUP_JOB, "started", FIELD_TIME, REQ, started_us, 1, MAX_TIME_US, 0),
        NUMBER(GROUP_JOB, "finished", FIELD_TIME, 0, finished_us, 1, MAX_TIME_US, 0),
        NUMBER(GROUP_JOB, "state-since", FIELD_TIME, REQ, state_since_us, 1, MAX_TIME_US, 0),
        NUMBER(GROUP_JOB, "state-since-boottime", FIELD_TIME, 0, state_since_boot_us, 1,
               MAX_TIME_US, 0),
        STRING(GROUP_JOB, "boot-id", 0, boot_id, check_boot_id),
        STRING(GROUP_JOB, "port", 0, port, check_port),
        STRING(GROUP_JOB, "sent-sha256", 0, sent_sha256, check_sha256),
        NUMBER(GROUP_JOB, "reset-sent", FIELD_TIME, 0, reset_us, 1, MAX_TIME_US, 0),
        NUMBER(GROUP_JOB, "reset-sent-boottime", FIELD_TIME, 0, reset_boot_us, 1, MAX_TIME_US, 0),
        STRING(GROUP_JOB, "usb-power-previous", 0, usb_power_previous, check_usb_power),
        STRING(GROUP_OPTIONS, "expected-revision", 0, options.expected_revision, check_revision),
        STRING(GROUP_OPTIONS, "sha256", 0, options.sha256, check_sha256),
        NUMBER(GROUP_OPTIONS, "cid", FIELD_INT, 0, options.cid, 1, FOTA_CID_MAX, JOB_UNSET),
        STRING(GROUP_OPTIONS, "apn", 0, options.apn, check_apn),
        NUMBER(GROUP_OPTIONS, "update-urc-max", FIELD_INT, FIELD_URC_GAP, options.update_urc_max, 0,
               FOTA_URC_MAX, JOB_UNSET),
        NUMBER(GROUP_OPTIONS, "upgrade-mode", FIELD_UINT, REQ, options.upgrade_mode, 0, 1, 0),
        NUMBER(GROUP_OPTIONS, "download-urc-max", FIELD_UINT, REQ | FIELD_URC_GAP,
               options.download_urc_max, 0, FOTA_URC_MAX, 0),
};

static gpointer
field_ptr(const Field *field, const JobRecord *record)
{
	return (guint8 *)record + field->offset;
}

/* Numeric fields as one gint64, so range checks and writing are shared. */
static gint64
field_get_number(const Field *field, const JobRecord *record)
{
	gpointer p = field_ptr(field, record);

	switch (field->type) {
	case FIELD_INT:
		return *(gint *)p;
	case FIELD_UINT:
		return *(guint *)p;
	case FIELD_UINT64:
		/* Clamp so that a huge value still fails the range check. */
		return MIN(*(guint64 *)p, (guint64)G_MAXINT64);
	case FIELD_TIME:
		return *(gint64 *)p;
	default:
		g_assert_not_reached();
	}
}

static void
field_set_number(const Field *field, JobRecord *record, gint64 value)
{
	gpointer p = field_ptr(field, record);

	switch (field->type) {
	case FIELD_INT:
		*(gint *)p = (gint)value;
		break;
	case FIELD_UINT:
		*(guint *)p = (guint)value;
		break;
	case FIELD_UINT64:
		*(guint64 *)p = (guint64)value;
		break;
	case FIELD_TIME:
		*(gint64 *)p = value;
		break;
	default:
		g_assert_not_reached();
	}
}

static gboolean
field_is_number(const Field *field)
{
	return field->type == FIELD_INT || field->type == FIELD_UINT ||
	       field->type == FIELD_UINT64 || field->type == FIELD_TIME;
}

/* ---- serialising ------------------------------------------------------- */

char *
job_record_to_keyfile_data(const JobRecord *record, gsize *length)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();

	g_key_file_set_integer(kf, GROUP_JOB, KEY_VERSION, JOB_STORE_VERSION);
	for (gsize i = 0; i < G_N_ELEMENTS(fields); i++) {
		const Field *f = &fields[i];
		gpointer p = field_ptr(f, record);

		switch (f->type) {
		case FIELD_STRING:
			if (*(char **)p != NULL)
				g_key_file_set_string(kf, f->group, f->key, *(char **)p);
			break;
		case FIELD_BOOL:
			g_key_file_set_boolean(kf, f->group, f->key, *(gboolean *)p);
			break;
		case FIELD_STATE:
			g_key_file_set_string(kf, f->group, f->key,
			                      fota_state_to_string(*(FotaState *)p));
			break;
		case FIELD_SOURCE_KIND:
			g_key_file_set_string(kf, f->group, f->key,
			                      fota_source_kind_to_string(*(FotaSourceKind *)p));
			break;
		default: {
			gint64 v = field_get_number(f, record);
			if ((f->flags & FIELD_REQUIRED) || v != f->unset)
				g_key_file_set_int64(kf, f->group, f->key, v);
			break;
		}
		}
	}
	return g_key_file_to_data(kf, length, NULL);
}

/* ---- parsing ----------------------------------------------------------- */

/* Values from the file go into messages: escaped (ASCII only) and cut short,
 * whatever bytes the file held. */
static char *
printable(const char *value)
{
	g_autofree char *escaped = g_strescape(value, NULL);

	if (strlen(escaped) > 64)
		return g_strdup_printf("%.64s...", escaped);
	return g_steal_pointer(&escaped);
}

static gboolean
bad_value(GError **error, const Field *field, const char *value, const char *why)
{
	g_autofree char *shown = printable(value);

	g_set_error(error, JOB_STORE_ERROR, JOB_STORE_ERROR_CORRUPT, "[%s] %s %s, got \"%s\"",
	            field->group, field->key, why, shown);
	return FALSE;
}

static gboolean
parse_number(const Field *field, const char *raw, JobRecord *record, GError **error)
{
	gint64 v;
	g_autofree char *why = NULL;

	if (!g_ascii_string_to_signed(raw, 10, G_MININT64, G_MAXINT64, &v, NULL))
		return bad_value(error, field, raw, "must be a decimal integer");

	if (field->flags & FIELD_URC_GAP)
		why = g_strdup(
		        "must be 0 or " G_STRINGIFY(FOTA_URC_MIN) ".." G_STRINGIFY(FOTA_URC_MAX));
	else
		why = g_strdup_printf("must be %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT, field->min,
		                      field->max);
	if (v < field->min || v > field->max ||
	    ((field->flags & FIELD_URC_GAP) && !fota_urc_count_is_valid(v)))
		return bad_value(error, field, raw, why);

	field_set_number(field, record, v);
	return TRUE;
}

static gboolean
parse_field(GKeyFile *kf, const Field *field, JobRecord *record, GError **error)
{
	g_autofree char *raw = g_key_file_get_value(kf, field->group, field->key, NULL);
	gpointer p = field_ptr(field, record);

	if (raw == NULL) {
		if (field->flags & FIELD_REQUIRED) {
			g_set_error(error, JOB_STORE_ERROR, JOB_STORE_ERROR_CORRUPT,
			            "[%s] %s is missing", field->group, field->key);
			return FALSE;
		}
		return TRUE; /* job_record_new() already holds the "unset" value */
	}

	if (field_is_number(field))
		return parse_number(field, raw, record, error);

	if (field->type == FIELD_BOOL) {
		if (g_strcmp0(raw, "true") != 0 && g_strcmp0(raw, "false") != 0)
			return bad_value(error, field, raw, "must be true or false");
		*(gboolean *)p = g_strcmp0(raw, "true") == 0;
		return TRUE;
	}

	/* Strings: unescape the way GKeyFile wrote them. On a bad escape
	 * GKeyFile sets the error but may still return a value. */
	g_autoptr(GError) local = NULL;
	g_autofree char *value = g_key_file_get_string(kf, field->group, field->key, &local);
	if (value == NULL || local != NULL)
		return bad_value(error, field, raw, "is not a valid string");

	switch (field->type) {
	case FIELD_STATE:
		if (!fota_state_from_string(value, (FotaState *)p))
			return bad_value(error, field, value, "is not a known state");
		return TRUE;
	case FIELD_SOURCE_KIND:
		if (!fota_source_kind_from_string(value, (FotaSourceKind *)p))
			return bad_value(error, field, value, "must be ftp, http, https or file");
		return TRUE;
	case FIELD_STRING: {
		const char *why = field->check(value);
		if (why != NULL)
			return bad_value(error, field, value, why);
		*(char **)p = g_steal_pointer(&value);
		return TRUE;
	}
	default:
		g_assert_not_reached();
	}
}

static gboolean corrupt(GError **error, const char *format, ...) G_GNUC_PRINTF(2, 3);

static gboolean
corrupt(GError **error, const char *format, ...)
{
	g_autofree char *message = NULL;
	va_list args;

	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	g_set_error_literal(error, JOB_STORE_ERROR, JOB_STORE_ERROR_CORRUPT, message);
	return FALSE;
}

static const Field *
find_field(const char *group, const char *key)
{
	for (gsize i = 0; i < G_N_ELEMENTS(fields); i++) {
		if (g_str_equal(fields[i].group, group) && g_str_equal(fields[i].key, key))
			return &fields[i];
	}
	return NULL;
}

static gboolean
check_version(GKeyFile *kf, GError **error)
{
	g_autofree char *raw = g_key_file_get_value(kf, GROUP_JOB, KEY_VERSION, NULL);
	gint64 version;

	if (raw == NULL)
		return corrupt(error, "[job] version is missing");
	if (!g_ascii_string_to_signed(raw, 10, 1, G_MAXINT64, &version, NULL)) {
		g_autofree char *shown = printable(raw);
		return corrupt(error, "[job] version must be %d, got \"%s\"", JOB_STORE_VERSION,
		               shown);
	}
	/* A newer daemon's file is not guessed at: its fields may mean more
	 * than this daemon knows. */
	if (version > JOB_STORE_VERSION)
		return corrupt(error,
		               "[job] version %" G_GINT64_FORMAT
		               " is newer than this daemon understands (%d)",
		               version, JOB_STORE_VERSION);
	return TRUE;
}

/* Hand-edited files are refused, not half-understood. */
static gboolean
check_known_keys(GKeyFile *kf, GError **error)
{
	g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);

	for (gsize g = 0; groups[g] != NULL; g++) {
		g_auto(GStrv) keys = NULL;

		if (!g_str_equal(groups[g], GROUP_JOB) && !g_str_equal(groups[g], GROUP_OPTIONS)) {
			g_autofree char *shown = printable(groups[g]);
			return corrupt(error, "unknown group [%s]", shown);
		}
		keys = g_key_file_get_keys(kf, groups[g], NULL, NULL);
		for (gsize k = 0; keys != NULL && keys[k] != NULL; k++) {
			if (g_str_equal(groups[g], GROUP_JOB) && g_str_equal(keys[k], KEY_VERSION))
				continue;
			if (find_field(groups[g], keys[k]) == NULL) {
				g_autofree char *shown = printable(keys[k]);
				return corrupt(error, "unknown key \"%s\" in [%s]", shown,
				               groups[g]);
			}
		}
	}
	return TRUE;
}

static gboolean
check_consistency(const JobRecord *r, GError **error)
{
	gboolean final = fota_state_is_final(r->state);
	const char *kind = fota_source_kind_to_string(r->source_kind);

	if (final && r->finished_us == 0)
		return corrupt(error, "[job] finished is missing although state is %s",
		               fota_state_to_string(r->state));
	if (!final && r->finished_us != 0)
		return corrupt(error, "[job] finished is set although state is %s",
		               fota_state_to_string(r->state));
	if ((r->state == FOTA_STATE_FAILED) != (r->error != NULL))
		return corrupt(error,
		               "[job] error must be set exactly when state is failed (state %s)",
		               fota_state_to_string(r->state));

	if (r->source_kind == FOTA_SOURCE_FILE) {
		g_autofree char *expected =
		        g_strdup_printf("file:%" G_GUINT64_FORMAT, r->file_size);
		if (r->file_size == 0)
			return corrupt(error,
			               "[job] file-size is missing although source-kind is file");
		if (!g_str_equal(r->source, expected)) {
			g_autofree char *shown = printable(r->source);
			return corrupt(
			        error,
			        "[job] source must be \"%s\" for file-size %" G_GUINT64_FORMAT
			        ", got \"%s\"",
			        expected, r->file_size, shown);
		}
	} else {
		g_autofree char *scheme = g_strconcat(kind, "://", NULL);
		if (r->file_size != 0)
			return corrupt(error, "[job] file-size is set although source-kind is %s",
			               kind);
		if (g_ascii_strncasecmp(r->source, scheme, strlen(scheme)) != 0) {
			g_autofree char *shown = printable(r->source);
			return corrupt(
			        error,
			        "[job] source must start with %s for source-kind %s, got \"%s\"",
			        scheme, kind, shown);
		}
	}
	return TRUE;
}

JobRecord *
job_record_from_keyfile_data(const char *data, gsize length, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(JobRecord) record = NULL;
	g_autoptr(GError) local = NULL;

	if (length == 0) {
		corrupt(error, "the file is empty");
		return NULL;
	}
	if (length > MAX_JOB_FILE) {
		corrupt(error, "the file is %" G_GSIZE_FORMAT " bytes, more than %d", length,
		        MAX_JOB_FILE);
		return NULL;
	}
	if (memchr(data, '\0', length) != NULL || !g_utf8_validate(data, length, NULL)) {
		corrupt(error, "the file is not UTF-8 text");
		return NULL;
	}
	if (data[length - 1] != '\n') {
		corrupt(error, "the file does not end with a newline (truncated?)");
		return NULL;
	}
	/* KEEP_TRANSLATIONS: a "key[locale]" must show up as an unknown key
	 * instead of being dropped silently. */
	if (!g_key_file_load_from_data(kf, data, length, G_KEY_FILE_KEEP_TRANSLATIONS, &local)) {
		corrupt(error, "not a key file: %s", local->message);
		return NULL;
	}
	if (!check_version(kf, error) || !check_known_keys(kf, error))
		return NULL;

	record = job_record_new();
	for (gsize i = 0; i < G_N_ELEMENTS(fields); i++) {
		if (!parse_field(kf, &fields[i], record, error))
			return NULL;
	}
	if (!check_consistency(record, error))
		return NULL;
	return g_steal_pointer(&record);
}

/* ---- the store --------------------------------------------------------- */

JobStore *
job_store_new(const char *state_dir)
{
	JobStore *store = g_new0(JobStore, 1);

	store->dir = g_strdup(state_dir);
	store->path = g_build_filename(state_dir, JOB_FILE_NAME, NULL);
	return store;
}

void
job_store_free(JobStore *store)
{
	if (store == NULL)
		return;
	g_free(store->dir);
	g_free(store->path);
	g_free(store);
}

static gboolean
io_error(GError **error, const char *what, const char *path, int errsv)
{
	g_set_error(error, JOB_STORE_ERROR, JOB_STORE_ERROR_IO, "Could not %s %s: %s", what, path,
	            g_strerror(errsv));
	return FALSE;
}

static gboolean
write_all(int fd, const char *data, gsize length)
{
	while (length > 0) {
		ssize_t n = write(fd, data, length);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return FALSE;
		}
		data += n;
		length -= n;
	}
	return TRUE;
}

/* Without this the rename itself may not survive a power cut. */
static gboolean
fsync_dir(const char *dir, GError **error)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int errsv;

	if (fd < 0)
		return io_error(error, "open directory", dir, errno);
	if (fsync(fd) < 0) {
		errsv = errno;
		close(fd);
		return io_error(error, "sync directory", dir, errsv);
	}
	close(fd);
	return TRUE;
}

gboolean
job_store_save(JobStore *store, const JobRecord *record, GError **error)
{
	g_autofree char *data = NULL;
	g_autofree char *tmp = NULL;
	g_autoptr(JobRecord) check = NULL;
	g_autoptr(GError) local = NULL;
	gsize length;
	int fd, errsv;

	g_return_val_if_fail(store != NULL && record != NULL, FALSE);

	/* Never write what load would move aside: the job would be lost at the
	 * next start. Parsing our own output runs every field check. */
	data = job_record_to_keyfile_data(record, &length);
	check = job_record_from_keyfile_data(data, length, &local);
	if (check == NULL) {
		g_set_error(error, JOB_STORE_ERROR, JOB_STORE_ERROR_INVALID,
		            "Refusing to save an invalid job: %s", local->message);
		return FALSE;
	}

	if (g_mkdir_with_parents(store->dir, 0700) < 0)
		return io_error(error, "create", store->dir, errno);

	tmp = g_build_filename(store->dir, TEMP_PREFIX "XXXXXX", NULL);
	fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		return io_error(error, "create", tmp, errno);

	if (!write_all(fd, data, length) || fsync(fd) < 0) {
		errsv = errno;
		close(fd);
		unlink(tmp);
		return io_error(error, "write", tmp, errsv);
	}
	if (close(fd) < 0) {
		errsv = errno;
		unlink(tmp);
		return io_error(error, "write", tmp, errsv);
	}
	if (rename(tmp, store->path) < 0) {
		errsv = errno;
		unlink(tmp);
		return io_error(error, "replace", store->path, errsv);
	}
	return fsync_dir(store->dir, error);
}

/* A save interrupted by a crash leaves its temp file; it never replaced the
 * job, so it is garbage. Only one daemon owns the state directory. */
static void
remove_stale_temp_files(JobStore *store)
{
	g_autoptr(GDir) dir = g_dir_open(store->dir, 0, NULL);
	const char *name;

	if (dir == NULL)
		return;
	while ((name = g_dir_read_name(dir)) != NULL) {
		if (g_str_has_prefix(name, TEMP_PREFIX)) {
			g_autofree char *path = g_build_filename(store->dir, name, NULL);
			if (unlink(path) < 0)
				g_warning("Could not remove stale %s: %s", path, g_strerror(errno));
		}
	}
}

/* Reads at most MAX_JOB_FILE + 1 bytes: enough to tell "too big". */
static gboolean
read_job_file(JobStore *store, char **data, gsize *length, gboolean *missing, GError **error)
{
	g_autofree char *buf = NULL;
	gsize total = 0;
	struct stat st;
	int fd, errsv;

	*missing = FALSE;
	/* O_NOFOLLOW: the daemon never writes a symlink here. */
	fd = open(store->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		errsv = errno;
		if (errsv == ENOENT) {
			*missing = TRUE;
			return TRUE;
		}
		if (errsv == ELOOP)
			return corrupt(error, "the file is a symbolic link");
		return io_error(error, "open", store->path, errsv);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return corrupt(error, "the file is not a regular file");
	}

	buf = g_malloc(MAX_JOB_FILE + 1);
	while (total < MAX_JOB_FILE + 1) {
		ssize_t n = read(fd, buf + total, MAX_JOB_FILE + 1 - total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			errsv = errno;
			close(fd);
			return io_error(error, "read", store->path, errsv);
		}
		if (n == 0)
			break;
		total += n;
	}
	close(fd);
	*data = g_steal_pointer(&buf);
	*length = total;
	return TRUE;
}

/* rename() that does not replace: two corrupt files in one second must both
 * be kept for whoever investigates. */
static gboolean
rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return TRUE;
	if (errno != EINVAL && errno != ENOSYS)
		return FALSE;
	/* File systems without RENAME_NOREPLACE: racy, but nobody else writes
	 * here. */
	if (g_file_test(to, G_FILE_TEST_EXISTS)) {
		errno = EEXIST;
		return FALSE;
	}
	return rename(from, to) == 0;
}

static char *
move_aside(JobStore *store, GError **error)
{
	g_autofree char *base = g_strdup_printf("%s/" CORRUPT_PREFIX "%" G_GINT64_FORMAT,
	                                        store->dir, g_get_real_time() / G_USEC_PER_SEC);

	for (guint n = 0; n <= MAX_CORRUPT_SUFFIX; n++) {
		g_autofree char *target =
		        n == 0 ? g_strdup(base) : g_strdup_printf("%s.%u", base, n);

		if (rename_noreplace(store->path, target))
			return g_steal_pointer(&target);
		if (errno != EEXIST) {
			io_error(error, "move aside", store->path, errno);
			return NULL;
		}
	}
	io_error(error, "move aside", store->path, EEXIST);
	return NULL;
}

gboolean
job_store_load(JobStore *store, JobRecord **record, GError **error)
{
	g_autofree char *data = NULL;
	g_autoptr(GError) why = NULL;
	g_autoptr(GError) move_error = NULL;
	g_autoptr(JobRecord) loaded = NULL;
	g_autofree char *moved = NULL;
	gboolean missing;
	gsize length = 0;

	g_return_val_if_fail(store != NULL && record != NULL, FALSE);
	*record = NULL;

	remove_stale_temp_files(store);

	if (!read_job_file(store, &data, &length, &missing, &why)) {
		if (g_error_matches(why, JOB_STORE_ERROR, JOB_STORE_ERROR_IO)) {
			g_propagate_error(error, g_steal_pointer(&why));
			return FALSE;
		}
	} else if (missing) {
		return TRUE;
	} else {
		loaded = job_record_from_keyfile_data(data, length, &why);
		if (loaded != NULL) {
			*record = g_steal_pointer(&loaded);
			return TRUE;
		}
	}

	moved = move_aside(store, &move_error);
	if (moved != NULL)
		g_set_error(error, JOB_STORE_ERROR, JOB_STORE_ERROR_CORRUPT,
		            "Job file %s is invalid: %s; moved to %s", store->path, why->message,
		            moved);
	else
		g_set_error(error, JOB_STORE_ERROR, JOB_STORE_ERROR_CORRUPT,
		            "Job file %s is invalid: %s; %s", store->path, why->message,
		            move_error->message);
	return FALSE;
}
