/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: what a D-Bus client passes to StartUrl/StartFile. The
 * input is the URL up to the first NUL, then the options a{sv} in GVariant
 * serialisation. Only what D-Bus could deliver is fed: GLib's normal form
 * of the untrusted bytes. */
#include <string.h>

#include "fuzz-common.h"
#include "job-options.h"
#include "url-check.h"

#define FUZZ_MAX_INPUT 8192

const char *const fuzz_expected_warnings[] = {NULL};

static void
check_url(const char *url)
{
	g_autoptr(GError) error = NULL;
	FotaSourceKind kind = FOTA_SOURCE_FILE;

	/* D-Bus only delivers valid UTF-8, but the check must not rely on
	 * that: any bytes go in. */
	if (fota_url_check(url, &kind, &error)) {
		FUZZ_ASSERT(error == NULL);
		FUZZ_ASSERT(strlen(url) <= FOTA_URL_MAX);
		FUZZ_ASSERT(kind == FOTA_SOURCE_FTP || kind == FOTA_SOURCE_HTTP ||
		            kind == FOTA_SOURCE_HTTPS);
		for (const char *p = url; *p; p++)
			FUZZ_ASSERT(*p > ' ' && *p < 0x7f && *p != '"');
	} else {
		fuzz_check_error(error, FOTA_URL_ERROR);
		FUZZ_ASSERT(kind == FOTA_SOURCE_FILE);
	}
}

static void
check_parsed(const JobOptions *out, FotaSourceKind source, FotaUpgradeKind kind)
{
	FUZZ_ASSERT(out->upgrade_mode <= 1);
	FUZZ_ASSERT(out->download_urc_max == 0 ||
	            (out->download_urc_max >= 5 && out->download_urc_max <= 100));
	FUZZ_ASSERT(out->update_urc_max == JOB_UNSET ||
	            (kind == FOTA_UPGRADE_KIND_FOTA &&
	             (out->update_urc_max == 0 ||
	              (out->update_urc_max >= 5 && out->update_urc_max <= 100))));
	FUZZ_ASSERT(out->cid == JOB_UNSET ||
	            (source != FOTA_SOURCE_FILE && out->cid >= 1 && out->cid <= 16));
	FUZZ_ASSERT(out->apn == NULL || out->cid != JOB_UNSET);
	FUZZ_ASSERT(out->sha256 == NULL ||
	            (source == FOTA_SOURCE_FILE && strlen(out->sha256) == 64));
}

static void
check_options(const uint8_t *data, size_t size)
{
	static const FotaSourceKind sources[] = {FOTA_SOURCE_FTP, FOTA_SOURCE_HTTP,
	                                         FOTA_SOURCE_HTTPS, FOTA_SOURCE_FILE};
	static const FotaUpgradeKind kinds[] = {FOTA_UPGRADE_KIND_UNKNOWN, FOTA_UPGRADE_KIND_FOTA,
	                                        FOTA_UPGRADE_KIND_DFOTA};
	/* A private, malloc-aligned copy: GVariant may keep pointing at it. */
	g_autoptr(GBytes) bytes = g_bytes_new(data, size);
	g_autoptr(GVariant) raw =
	        g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE_VARDICT, bytes, FALSE));
	g_autoptr(GVariant) asv = g_variant_get_normal_form(raw);

	FUZZ_ASSERT(g_variant_is_normal_form(asv));
	for (gsize s = 0; s < G_N_ELEMENTS(sources); s++) {
		for (gsize k = 0; k < G_N_ELEMENTS(kinds); k++) {
			g_autoptr(GError) error = NULL;
			JobOptions out = {0};

			if (!job_options_parse(asv, sources[s], kinds[k], &out, &error)) {
				fuzz_check_error(error, JOB_OPTIONS_ERROR);
				FUZZ_ASSERT(out.expected_revision == NULL && out.sha256 == NULL &&
				            out.apn == NULL && out.cid == JOB_UNSET);
				continue;
			}
			check_parsed(&out, sources[s], kinds[k]);
			job_options_clear(&out);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul;
	g_autofree char *url = NULL;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	nul = memchr(data, '\0', size);
	url = g_strndup((const char *)data, nul != NULL ? (gsize)(nul - data) : size);
	check_url(url);
	if (nul != NULL)
		check_options(nul + 1, size - (nul + 1 - data));
	return 0;
}
