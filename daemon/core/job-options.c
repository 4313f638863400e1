/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "job-options.h"

#include <stddef.h>
#include <string.h>

/* Every option is one row of a table: its D-Bus type, where it applies,
 * its limits and where it lands in JobOptions. Everything the modem or the
 * daemon will rely on is checked here, before a job exists. */

/* G_DEFINE_QUARK stringifies its first argument: keep it unformatted. */
/* clang-format off */
G_DEFINE_QUARK(quectel-fotad-job-options-error-quark, job_options_error)
/* clang-format on */

typedef enum {
	APPLIES_ALWAYS,
	APPLIES_NETWORK, /* ftp/http/https: the modem opens a PDP context */
	APPLIES_FILE,    /* the daemon reads the package itself */
	APPLIES_FOTA,    /* EC200T (full image) modems only */
} Applies;

typedef enum {
	FIELD_GUINT,
	FIELD_GINT,
	FIELD_STRING,
} FieldKind;

typedef struct {
	const char *key;
	FieldKind field;
	gsize offset; /* of the field in JobOptions */
	Applies applies;
	/* integers: lo..hi, plus 0 when zero_ok (0 switches URCs off) */
	guint lo, hi;
	gboolean zero_ok;
	/* strings: length bounds, allowed bytes, how to describe them */
	gsize min_len, max_len;
	gboolean (*byte_ok)(char c);
	const char *allowed;
	gboolean lower_case; /* stored lower-case */
} OptionSpec;

static gboolean
is_hex_byte(char c)
{
	return g_ascii_isxdigit(c);
}

#define UINT_OPTION(k, f, kind, a, l, h, z)                                                        \
	{                                                                                          \
		.key = (k), .field = (kind), .offset = offsetof(JobOptions, f), .applies = (a),    \
		.lo = (l), .hi = (h), .zero_ok = (z)                                               \
	}
#define STRING_OPTION(k, f, a, mn, mx, ok, desc, lc)                                               \
	{                                                                                          \
		.key = (k), .field = FIELD_STRING, .offset = offsetof(JobOptions, f),              \
		.applies = (a), .min_len = (mn), .max_len = (mx), .byte_ok = (ok),                 \
		.allowed = (desc), .lower_case = (lc)                                              \
	}

static const OptionSpec option_specs[] = {
        UINT_OPTION("upgrade-mode", upgrade_mode, FIELD_GUINT, APPLIES_ALWAYS, 1, 1, TRUE),
        UINT_OPTION("download-urc-max", download_urc_max, FIELD_GUINT, APPLIES_ALWAYS, FOTA_URC_MIN,
                    FOTA_URC_MAX, TRUE),
        UINT_OPTION("update-urc-max", update_urc_max, FIELD_GINT, APPLIES_FOTA, FOTA_URC_MIN,
                    FOTA_URC_MAX, TRUE),
        STRING_OPTION("expected-revision", expected_revision, APPLIES_ALWAYS, 1, FOTA_REVISION_MAX,
                      fota_revision_char_is_valid, "letters, digits, '_', '.' and '-'", FALSE),
        STRING_OPTION("sha256", sha256, APPLIES_FILE, 64, 64, is_hex_byte, "hex digits", TRUE),
        UINT_OPTION("cid", cid, FIELD_GINT, APPLIES_NETWORK, 1, FOTA_CID_MAX, FALSE),
        STRING_OPTION("apn", apn, APPLIES_NETWORK, 1, FOTA_APN_MAX, fota_apn_char_is_valid,
                      "printable ASCII except '\"'", FALSE),
};

static const OptionSpec *
find_spec(const char *key)
{
	for (gsize i = 0; i < G_N_ELEMENTS(option_specs); i++) {
		if (strcmp(option_specs[i].key, key) == 0)
			return &option_specs[i];
	}
	return NULL;
}

static gboolean
check_applies(const OptionSpec *spec, FotaSourceKind source, FotaUpgradeKind kind, GError **error)
{
	const char *why;

	switch (spec->applies) {
	case APPLIES_NETWORK:
		if (source != FOTA_SOURCE_FILE)
			return TRUE;
		why = "for network (ftp, http, https) sources";
		break;
	case APPLIES_FILE:
		/* The modem fetches URL packages itself: the daemon never sees
		 * the bytes it would have to hash. */
		if (source == FOTA_SOURCE_FILE)
			return TRUE;
		why = "for file sources";
		break;
	case APPLIES_FOTA:
		if (kind == FOTA_UPGRADE_KIND_FOTA)
			return TRUE;
		why = "on EC200T (FOTA) modems";
		break;
	case APPLIES_ALWAYS:
	default:
		return TRUE;
	}
	g_set_error(error, JOB_OPTIONS_ERROR, JOB_OPTIONS_ERROR_NOT_SUPPORTED,
	            "option '%s' is only supported %s", spec->key, why);
	return FALSE;
}

static gboolean
apply_uint(const OptionSpec *spec, guint value, JobOptions *out, GError **error)
{
	char *field = (char *)out + spec->offset;

	if (!((value == 0 && spec->zero_ok) || (value >= spec->lo && value <= spec->hi))) {
		g_autofree char *range = spec->lo == spec->hi
		                                 ? g_strdup_printf("%u", spec->lo)
		                                 : g_strdup_printf("%u..%u", spec->lo, spec->hi);

		g_set_error(error, JOB_OPTIONS_ERROR, JOB_OPTIONS_ERROR_RANGE,
		            "option '%s' must be %s%s, got %u", spec->key,
		            spec->zero_ok ? "0 or " : "", range, value);
		return FALSE;
	}
	/* Ranges stay far below G_MAXINT, so both field kinds hold the value. */
	if (spec->field == FIELD_GINT)
		*(gint *)field = (gint)value;
	else
		*(guint *)field = value;
	return TRUE;
}

static gboolean
apply_string(const OptionSpec *spec, const char *value, gsize len, JobOptions *out, GError **error)
{
	char **field = (char **)((char *)out + spec->offset);

	if (len < spec->min_len || len > spec->max_len) {
		g_autofree char *range =
		        spec->min_len == spec->max_len
		                ? g_strdup_printf("%" G_GSIZE_FORMAT, spec->min_len)
		                : g_strdup_printf("%" G_GSIZE_FORMAT "..%" G_GSIZE_FORMAT,
		                                  spec->min_len, spec->max_len);

		g_set_error(error, JOB_OPTIONS_ERROR, JOB_OPTIONS_ERROR_RANGE,
		            "option '%s' must be %s bytes, got %" G_GSIZE_FORMAT, spec->key, range,
		            len);
		return FALSE;
	}
	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar)value[i];

		if (spec->byte_ok(c))
			continue;
		g_set_error(error, JOB_OPTIONS_ERROR, JOB_OPTIONS_ERROR_RANGE,
		            "option '%s' contains byte \\x%02x at offset %" G_GSIZE_FORMAT
		            ", allowed are %s",
		            spec->key, c, i, spec->allowed);
		return FALSE;
	}
	g_free(*field);
	*field = spec->lower_case ? g_ascii_strdown(value, len) : g_strndup(value, len);
	return TRUE;
}

static gboolean
apply_option(const OptionSpec *spec, GVariant *value, FotaSourceKind source, FotaUpgradeKind kind,
             JobOptions *out, GError **error)
{
	const GVariantType *want =
	        spec->field == FIELD_STRING ? G_VARIANT_TYPE_STRING : G_VARIANT_TYPE_UINT32;

	if (!g_variant_is_of_type(value, want)) {
		g_set_error(error, JOB_OPTIONS_ERROR, JOB_OPTIONS_ERROR_TYPE,
		            "option '%s' must be of type '%s', got '%s'", spec->key,
		            g_variant_type_peek_string(want), g_variant_get_type_string(value));
		return FALSE;
	}
	if (!check_applies(spec, source, kind, error))
		return FALSE;
	if (spec->field == FIELD_STRING) {
		gsize len;
		const char *str = g_variant_get_string(value, &len);

		return apply_string(spec, str, len, out, error);
	}
	return apply_uint(spec, g_variant_get_uint32(value), out, error);
}

static gboolean
parse_all(GVariant *asv, FotaSourceKind source, FotaUpgradeKind kind, JobOptions *out,
          GError **error)
{
	gboolean seen[G_N_ELEMENTS(option_specs)] = {FALSE};
	const OptionSpec *cid = find_spec("cid");
	const OptionSpec *apn = find_spec("apn");
	GVariantIter iter;

	if (asv == NULL)
		return TRUE;
	g_variant_iter_init(&iter, asv);
	for (;;) {
		g_autoptr(GVariant) value = NULL;
		const OptionSpec *spec;
		const char *key;

		if (!g_variant_iter_next(&iter, "{&sv}", &key, &value))
			break;
		spec = find_spec(key);

		if (spec == NULL) {
			/* The key is the caller's: escaped and bounded it is safe in
			 * a log line and a D-Bus error (ASCII, hence valid UTF-8). */
			g_autofree char *shown = g_strescape(key, NULL);

			g_set_error(error, JOB_OPTIONS_ERROR, JOB_OPTIONS_ERROR_UNKNOWN_KEY,
			            "unknown option '%.64s%s'", shown,
			            strlen(shown) > 64 ? "..." : "");
			return FALSE;
		}
		/* An a{sv} may repeat a key; which one would win is a guess. */
		if (seen[spec - option_specs]) {
			g_set_error(error, JOB_OPTIONS_ERROR, JOB_OPTIONS_ERROR_CONFLICT,
			            "option '%s' is given twice", key);
			return FALSE;
		}
		seen[spec - option_specs] = TRUE;
		if (!apply_option(spec, value, source, kind, out, error))
			return FALSE;
	}
	if (seen[apn - option_specs] && !seen[cid - option_specs]) {
		g_set_error(error, JOB_OPTIONS_ERROR, JOB_OPTIONS_ERROR_CONFLICT,
		            "option 'apn' requires option 'cid' (the PDP context to configure)");
		return FALSE;
	}
	return TRUE;
}

gboolean
job_options_parse(GVariant *asv, FotaSourceKind source, FotaUpgradeKind kind, JobOptions *out,
                  GError **error)
{
	g_return_val_if_fail(asv == NULL || g_variant_is_of_type(asv, G_VARIANT_TYPE_VARDICT),
	                     FALSE);
	g_return_val_if_fail(out != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	job_options_init(out);
	if (parse_all(asv, source, kind, out, error))
		return TRUE;
	job_options_clear(out);
	job_options_init(out);
	return FALSE;
}

static gboolean
fits_range(const AtRangeList *list, const char *key, guint value, const char *ranges_text,
           GError **error)
{
	if (at_range_list_contains(list, value))
		return TRUE;
	g_set_error(error, JOB_OPTIONS_ERROR, JOB_OPTIONS_ERROR_NOT_SUPPORTED,
	            "option '%s' %u is not supported by this modem (AT+QFOTADL=?: %s)", key, value,
	            ranges_text ? ranges_text : "");
	return FALSE;
}

gboolean
job_options_fit_modem(const JobOptions *o, FotaUpgradeKind kind, const AtQfotadlRanges *ranges,
                      const char *ranges_text, GError **error)
{
	if (o->update_urc_max != JOB_UNSET && kind != FOTA_UPGRADE_KIND_FOTA) {
		g_set_error(error, JOB_OPTIONS_ERROR, JOB_OPTIONS_ERROR_NOT_SUPPORTED,
		            "option 'update-urc-max' is only supported on EC200T (FOTA) modems");
		return FALSE;
	}
	if (ranges == NULL) {
		g_set_error(
		        error, JOB_OPTIONS_ERROR, JOB_OPTIONS_ERROR_NOT_SUPPORTED,
		        "the modem did not answer AT+QFOTADL=? usably; it may not support FOTA");
		return FALSE;
	}
	if (!fits_range(&ranges->upgrade_mode, "upgrade-mode", o->upgrade_mode, ranges_text,
	                error) ||
	    !fits_range(&ranges->download_urc_max, "download-urc-max", o->download_urc_max,
	                ranges_text, error))
		return FALSE;
	return o->update_urc_max == JOB_UNSET ||
	       fits_range(&ranges->update_urc_max, "update-urc-max", (guint)o->update_urc_max,
	                  ranges_text, error);
}
