/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sim-package.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct _SimPackageParser {
	GChecksum *stream_sum;  /* everything received, for the "file" log event */
	GChecksum *payload_sum; /* the bytes after the header */
	guint64 received;
	guint64 payload_received;
	char header[SIM_PACKAGE_MAX_HEADER];
	gsize header_len;
	gboolean header_done;
	gboolean header_overflow;
};

SimPackageParser *
sim_package_parser_new(void)
{
	SimPackageParser *parser = g_new0(SimPackageParser, 1);

	parser->stream_sum = g_checksum_new(G_CHECKSUM_SHA256);
	parser->payload_sum = g_checksum_new(G_CHECKSUM_SHA256);
	return parser;
}

void
sim_package_parser_free(SimPackageParser *parser)
{
	if (parser == NULL)
		return;
	g_checksum_free(parser->stream_sum);
	g_checksum_free(parser->payload_sum);
	g_free(parser);
}

/* Feeds header bytes until the blank line that ends the header; returns how many bytes of
 * `data` belonged to the header, the rest is payload. */
static gsize
feed_header(SimPackageParser *parser, const guint8 *data, gsize len)
{
	for (gsize i = 0; i < len; i++) {
		if (parser->header_len == sizeof(parser->header)) {
			/* Never terminated within the bound: everything else counts as payload, the
			 * verdict will be 506 anyway. */
			parser->header_overflow = TRUE;
			parser->header_done = TRUE;
			return i;
		}
		parser->header[parser->header_len++] = (char)data[i];
		if (parser->header_len >= 2 && parser->header[parser->header_len - 1] == '\n' &&
		    parser->header[parser->header_len - 2] == '\n') {
			parser->header_done = TRUE;
			return i + 1;
		}
	}
	return len;
}

void
sim_package_parser_feed(SimPackageParser *parser, const guint8 *data, gsize len)
{
	gsize used = 0;

	g_checksum_update(parser->stream_sum, data, (gssize)len);
	parser->received += len;
	if (!parser->header_done)
		used = feed_header(parser, data, len);
	if (used < len) {
		g_checksum_update(parser->payload_sum, data + used, (gssize)(len - used));
		parser->payload_received += len - used;
	}
}

guint64
sim_package_parser_received(const SimPackageParser *parser)
{
	return parser->received;
}

char *
sim_package_parser_stream_sha256(SimPackageParser *parser)
{
	/* g_checksum_get_string() closes the checksum, so read a copy. */
	g_autoptr(GChecksum) copy = g_checksum_copy(parser->stream_sum);

	return g_strdup(g_checksum_get_string(copy));
}

typedef struct {
	char *model;
	char *from;
	char *to;
	guint64 payload_size;
	gboolean have_size;
	char *payload_sha256;
} Header;

static void
header_clear(Header *header)
{
	g_free(header->model);
	g_free(header->from);
	g_free(header->to);
	g_free(header->payload_sha256);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Header, header_clear)

static gboolean
parse_header(const SimPackageParser *parser, Header *out, char **reason)
{
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;

	if (!parser->header_done || parser->header_overflow) {
		*reason = g_strdup("package header missing or over 4 KiB");
		return FALSE;
	}
	text = g_strndup(parser->header, parser->header_len - 2);
	lines = g_strsplit(text, "\n", -1);
	if (g_strcmp0(lines[0], SIM_PACKAGE_MAGIC) != 0) {
		*reason = g_strdup("package magic missing");
		return FALSE;
	}
	for (guint i = 1; lines[i] != NULL; i++) {
		const char *colon = strchr(lines[i], ':');
		g_autofree char *key = NULL;
		const char *value;

		if (colon == NULL) {
			*reason =
			        g_strdup_printf("package header line without colon: %s", lines[i]);
			return FALSE;
		}
		key = g_strndup(lines[i], (gsize)(colon - lines[i]));
		value = colon + 1;
		while (*value == ' ')
			value++;
		if (g_str_equal(key, "model")) {
			g_free(out->model);
			out->model = g_strdup(value);
		} else if (g_str_equal(key, "from")) {
			g_free(out->from);
			out->from = g_strdup(value);
		} else if (g_str_equal(key, "to")) {
			g_free(out->to);
			out->to = g_strdup(value);
		} else if (g_str_equal(key, "payload-size")) {
			if (!g_ascii_string_to_unsigned(value, 10, 0, G_MAXUINT64,
			                                &out->payload_size, NULL)) {
				*reason = g_strdup_printf("bad payload-size %s", value);
				return FALSE;
			}
			out->have_size = TRUE;
		} else if (g_str_equal(key, "payload-sha256")) {
			g_free(out->payload_sha256);
			out->payload_sha256 = g_ascii_strdown(value, -1);
		}
		/* Unknown keys are ignored so the format can grow. */
	}
	if (out->model == NULL || out->from == NULL || out->to == NULL || !out->have_size ||
	    out->payload_sha256 == NULL || *out->to == '\0') {
		*reason = g_strdup("package header lacks model, from, to, payload-size or "
		                   "payload-sha256");
		return FALSE;
	}
	return TRUE;
}

int
sim_package_parser_verdict(SimPackageParser *parser, const char *model, const char *revision,
                           char **to_revision, char **reason)
{
	g_auto(Header) header = {0};
	g_autoptr(GChecksum) copy = NULL;

	*to_revision = NULL;
	*reason = NULL;
	/* Integrity first, like the modem's MD5 check before it looks at what the package is. */
	if (!parse_header(parser, &header, reason))
		return SIM_END_CHECK_ERROR;
	if (parser->payload_received != header.payload_size) {
		*reason = g_strdup_printf("payload is %" G_GUINT64_FORMAT
		                          " bytes, header says %" G_GUINT64_FORMAT,
		                          parser->payload_received, header.payload_size);
		return SIM_END_CHECK_ERROR;
	}
	copy = g_checksum_copy(parser->payload_sum);
	if (!g_str_equal(g_checksum_get_string(copy), header.payload_sha256)) {
		*reason = g_strdup("payload sha256 mismatch");
		return SIM_END_CHECK_ERROR;
	}
	if (g_ascii_strcasecmp(header.model, model) != 0) {
		*reason = g_strdup_printf("package is for model %s, modem is %s", header.model,
		                          model);
		return SIM_END_FAILED;
	}
	if (!g_str_equal(header.from, revision)) {
		*reason =
		        g_strdup_printf("package is from %s, modem runs %s", header.from, revision);
		return SIM_END_FAILED;
	}
	*to_revision = g_strdup(header.to);
	return SIM_END_OK;
}

/* The payload is deterministic pseudo-random data so a package can be written twice (hash
 * pass, write pass) without holding it in memory. */
static void
fill_payload(GRand *rand, guint8 *buf, gsize len)
{
	for (gsize i = 0; i < len; i++)
		buf[i] = (guint8)g_rand_int_range(rand, 0, 256);
}

#define PAYLOAD_SEED  0x5157u
#define PAYLOAD_CHUNK 65536

static gboolean
write_all(FILE *file, const void *data, gsize len, const char *path, GError **error)
{
	if (len > 0 && fwrite(data, 1, len, file) != len) {
		int saved = errno;
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved),
		            "cannot write %s: %s", path, g_strerror(saved));
		return FALSE;
	}
	return TRUE;
}

gboolean
sim_package_write(const char *path, const char *model, const char *from, const char *to,
                  guint64 payload_size, gboolean corrupt, GError **error)
{
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	g_autoptr(GRand) rand = g_rand_new_with_seed(PAYLOAD_SEED);
	g_autofree guint8 *buf = g_malloc(PAYLOAD_CHUNK);
	g_autofree char *header = NULL;
	g_autofree char *hex = NULL;
	FILE *file;
	gboolean ok;

	for (guint64 done = 0; done < payload_size;) {
		gsize n = (gsize)MIN((guint64)PAYLOAD_CHUNK, payload_size - done);
		fill_payload(rand, buf, n);
		g_checksum_update(sum, buf, (gssize)n);
		done += n;
	}
	hex = g_strdup(g_checksum_get_string(sum));
	if (corrupt && payload_size == 0)
		hex[0] = hex[0] == '0' ? '1' : '0'; /* nothing to flip: break the hash instead */

	header = g_strdup_printf(SIM_PACKAGE_MAGIC "\nmodel: %s\nfrom: %s\nto: %s\n"
	                                           "payload-size: %" G_GUINT64_FORMAT
	                                           "\npayload-sha256: %s\n\n",
	                         model, from, to, payload_size, hex);
	if (strlen(header) > SIM_PACKAGE_MAX_HEADER) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
		            "package header would exceed %d bytes", SIM_PACKAGE_MAX_HEADER);
		return FALSE;
	}
	file = fopen(path, "we");
	if (file == NULL) {
		int saved = errno;
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved),
		            "cannot create %s: %s", path, g_strerror(saved));
		return FALSE;
	}
	ok = write_all(file, header, strlen(header), path, error);
	g_rand_set_seed(rand, PAYLOAD_SEED);
	for (guint64 done = 0; ok && done < payload_size;) {
		gsize n = (gsize)MIN((guint64)PAYLOAD_CHUNK, payload_size - done);
		fill_payload(rand, buf, n);
		/* Corrupt: flip the first payload byte and the middle one. */
		if (corrupt && done == 0)
			buf[0] ^= 0xff;
		if (corrupt && done <= payload_size / 2 && payload_size / 2 < done + n &&
		    payload_size / 2 != 0)
			buf[payload_size / 2 - done] ^= 0x5a;
		ok = write_all(file, buf, n, path, error);
		done += n;
	}
	if (fclose(file) != 0 && ok) {
		int saved = errno;
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved),
		            "cannot write %s: %s", path, g_strerror(saved));
		ok = FALSE;
	}
	return ok;
}
