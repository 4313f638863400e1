/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sim-syntax.h"

#include <string.h>

static void
arg_clear(gpointer data)
{
	g_free(((SimArg *)data)->text);
}

void
sim_args_free(GArray *args)
{
	if (args != NULL)
		g_array_unref(args);
}

gboolean
sim_args_split(const char *text, GArray **args_out)
{
	g_autoptr(GArray) args = g_array_new(FALSE, TRUE, sizeof(SimArg));
	const char *p = text;

	g_array_set_clear_func(args, arg_clear);
	*args_out = NULL;
	for (;;) {
		SimArg arg = {0};

		while (*p == ' ')
			p++;
		if (*p == '"') {
			const char *end = strchr(p + 1, '"');
			if (end == NULL)
				return FALSE;
			arg.text = g_strndup(p + 1, (gsize)(end - p - 1));
			arg.quoted = TRUE;
			p = end + 1;
			while (*p == ' ')
				p++;
			if (*p != ',' && *p != '\0') {
				g_free(arg.text);
				return FALSE;
			}
		} else {
			const char *end = p + strcspn(p, ",");
			if (memchr(p, '"', (gsize)(end - p)) != NULL)
				return FALSE;
			arg.text = g_strstrip(g_strndup(p, (gsize)(end - p)));
			p = end;
		}
		g_array_append_val(args, arg);
		if (*p == '\0')
			break;
		p++; /* the comma */
	}
	*args_out = g_steal_pointer(&args);
	return TRUE;
}

const SimArg *
sim_arg(const GArray *args, guint index)
{
	if (args == NULL || index >= args->len)
		return NULL;
	return &g_array_index(args, SimArg, index);
}

gboolean
sim_arg_int(const GArray *args, guint index, gint64 min, gint64 max, gint64 *out)
{
	const SimArg *arg = sim_arg(args, index);

	if (arg == NULL || arg->quoted || *arg->text == '\0' || !g_ascii_isdigit(*arg->text))
		return FALSE;
	return g_ascii_string_to_signed(arg->text, 10, min, max, out, NULL);
}

static gboolean
parse_port(const char *text, gsize len, char **why)
{
	g_autofree char *copy = g_strndup(text, len);
	gint64 port;

	if (len == 0 || !g_ascii_isdigit(*copy) ||
	    !g_ascii_string_to_signed(copy, 10, 1, 65535, &port, NULL)) {
		*why = g_strdup_printf("port must be 1..65535, got '%s'", copy);
		return FALSE;
	}
	return TRUE;
}

/* host[:port], host ≤ max_host bytes (0: unbounded), IPv6 in brackets allowed. */
static gboolean
check_host_port(const char *text, gsize len, gsize max_host, char **why)
{
	const char *colon;
	gsize host_len;

	if (len > 0 && text[0] == '[') {
		const char *close = memchr(text, ']', len);
		if (close == NULL) {
			*why = g_strdup("unterminated [ in host");
			return FALSE;
		}
		colon = close + 1 < text + len ? close + 1 : NULL;
		if (colon != NULL && *colon != ':') {
			*why = g_strdup("garbage after ] in host");
			return FALSE;
		}
	} else {
		colon = memchr(text, ':', len);
	}
	host_len = colon != NULL ? (gsize)(colon - text) : len;
	if (host_len == 0) {
		*why = g_strdup("empty host");
		return FALSE;
	}
	if (max_host > 0 && host_len > max_host) {
		*why = g_strdup_printf("host longer than %" G_GSIZE_FORMAT " bytes", max_host);
		return FALSE;
	}
	if (colon != NULL && !parse_port(colon + 1, len - host_len - 1, why))
		return FALSE;
	return TRUE;
}

#define FTP_FIELD_MAX 50

static gboolean
check_ftp(const char *rest, char **why)
{
	/* user:password@host[:port]/file; the '@' closest to the host ends the credentials. */
	const char *slash;
	const char *at;
	const char *colon;
	const char *file;

	at = strchr(rest, '@');
	if (at == NULL) {
		*why = g_strdup("FTP URL lacks user:password@");
		return FALSE;
	}
	slash = strchr(at, '/');
	colon = memchr(rest, ':', (gsize)(at - rest));
	if (colon == NULL || colon == rest) {
		*why = g_strdup("FTP URL lacks user:password");
		return FALSE;
	}
	if ((gsize)(colon - rest) > FTP_FIELD_MAX || (gsize)(at - colon - 1) > FTP_FIELD_MAX) {
		*why = g_strdup("FTP user or password longer than 50 bytes");
		return FALSE;
	}
	if (slash == NULL) {
		*why = g_strdup("FTP URL lacks /file");
		return FALSE;
	}
	if (!check_host_port(at + 1, (gsize)(slash - at - 1), FTP_FIELD_MAX, why))
		return FALSE;
	file = slash + 1;
	if (*file == '\0' || strlen(file) > FTP_FIELD_MAX) {
		*why = g_strdup("FTP file name empty or longer than 50 bytes");
		return FALSE;
	}
	if (strchr(file, '/') != NULL) {
		*why = g_strdup("FTP file must be in the server's root directory");
		return FALSE;
	}
	return TRUE;
}

static gboolean
check_http(const char *rest, char **why)
{
	const char *slash = strchr(rest, '/');

	if (slash == NULL || slash[1] == '\0') {
		*why = g_strdup("HTTP URL lacks /path");
		return FALSE;
	}
	return check_host_port(rest, (gsize)(slash - rest), 0, why);
}

gboolean
sim_url_check(const char *url, SimUrlKind *kind, guint64 *file_length, char **why)
{
	*file_length = 0;
	if (*url == '\0' || strlen(url) > SIM_URL_MAX) {
		*why = g_strdup_printf("url must be 1..%d bytes", SIM_URL_MAX);
		return FALSE;
	}
	for (const char *p = url; *p != '\0'; p++) {
		if ((guchar)*p <= ' ' || (guchar)*p >= 0x7f) {
			*why = g_strdup("url contains a space or control character");
			return FALSE;
		}
	}
	if (g_ascii_strncasecmp(url, "ftp://", 6) == 0) {
		*kind = SIM_URL_FTP;
		return check_ftp(url + 6, why);
	}
	if (g_ascii_strncasecmp(url, "http://", 7) == 0) {
		*kind = SIM_URL_HTTP;
		return check_http(url + 7, why);
	}
	if (g_ascii_strncasecmp(url, "https://", 8) == 0) {
		*kind = SIM_URL_HTTPS;
		return check_http(url + 8, why);
	}
	if (g_ascii_strncasecmp(url, "FILE:", 5) == 0) {
		*kind = SIM_URL_FILE;
		if (!g_ascii_isdigit(url[5]) ||
		    !g_ascii_string_to_unsigned(url + 5, 10, 1, G_MAXUINT32, file_length, NULL)) {
			*why = g_strdup_printf("FILE length must be a positive decimal, got '%s'",
			                       url + 5);
			return FALSE;
		}
		return TRUE;
	}
	*why = g_strdup("url scheme must be ftp://, http://, https:// or FILE:");
	return FALSE;
}

void
sim_fotadl_request_free(SimFotadlRequest *request)
{
	if (request == NULL)
		return;
	g_free(request->url);
	g_free(request);
}

/* 0 (no URCs) or 5..100, the guide's range for both URC maxima. */
static gboolean
urc_max(const GArray *args, guint index, int *out)
{
	gint64 value;

	if (!sim_arg_int(args, index, 0, 100, &value) || (value > 0 && value < 5))
		return FALSE;
	*out = (int)value;
	return TRUE;
}

SimFotadlRequest *
sim_fotadl_parse(const char *args_text, gboolean fota_model, char **why)
{
	g_autoptr(SimFotadlRequest) request = g_new0(SimFotadlRequest, 1);
	GArray *args = NULL;
	const SimArg *url;
	gint64 mode = 1;
	gboolean ok = FALSE;

	*why = NULL;
	request->mode = 1;
	request->download_urc_max = 100;
	request->update_urc_max = 100;
	if (!sim_args_split(args_text, &args)) {
		*why = g_strdup("malformed arguments (quote inside the url?)");
		return NULL;
	}
	url = sim_arg(args, 0);
	if (args->len > 4 || url == NULL || !url->quoted) {
		*why = g_strdup("need a quoted url and at most 3 more parameters");
		goto out;
	}
	if (!sim_url_check(url->text, &request->kind, &request->file_length, why))
		goto out;
	request->url = g_strdup(url->text);
	if (args->len > 1 && !sim_arg_int(args, 1, 0, 2, &mode)) {
		*why = g_strdup("upgrade_mode must be 0 or 1");
		goto out;
	}
	request->mode = (int)mode;
	if (mode == 2) {
		/* Protocol download mode: FILE only, EC200T only, nothing else after it. */
		if (request->kind != SIM_URL_FILE || !fota_model || args->len != 2) {
			*why = g_strdup("upgrade mode 2 is AT+QFOTADL=\"FILE:<len>\",2 on EC200T");
			goto out;
		}
		ok = TRUE;
		goto out;
	}
	if (args->len > 2 && !urc_max(args, 2, &request->download_urc_max)) {
		*why = g_strdup_printf("download_URC_max must be 0 or 5..100, got '%s'",
		                       sim_arg(args, 2)->text);
		goto out;
	}
	if (args->len > 3) {
		if (!fota_model) {
			*why = g_strdup("update_URC_max exists on EC200T only");
			goto out;
		}
		if (!urc_max(args, 3, &request->update_urc_max)) {
			*why = g_strdup_printf("update_URC_max must be 0 or 5..100, got '%s'",
			                       sim_arg(args, 3)->text);
			goto out;
		}
		request->update_urc_max_given = TRUE;
	}
	ok = TRUE;
out:
	sim_args_free(args);
	return ok ? g_steal_pointer(&request) : NULL;
}
