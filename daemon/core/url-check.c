/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "url-check.h"

#include <string.h>

#include "fota-limits.h"

/* The modem parses the URL itself, with a parser nobody can read, and a URL
 * it misreads fails minutes later with a bare 6xx/7xx code. So the daemon
 * accepts only the shapes the guide documents and says precisely what is
 * wrong with anything else. GUri splits the URL; the rules here are the
 * modem's, stricter than RFC 3986. Nothing is percent-decoded: the guide
 * does not say the modem decodes, so every field is checked as written. */

/* G_DEFINE_QUARK stringifies its first argument: keep it unformatted. */
/* clang-format off */
G_DEFINE_QUARK(quectel-fotad-url-check-error-quark, fota_url_error)
/* clang-format on */

typedef struct {
	const char *name;  /* compared case-insensitively */
	const char *label; /* in messages */
	FotaSourceKind kind;
} Scheme;

static const Scheme schemes[] = {
        {"ftp", "FTP", FOTA_SOURCE_FTP},
        {"http", "HTTP", FOTA_SOURCE_HTTP},
        {"https", "HTTPS", FOTA_SOURCE_HTTPS},
};

/* A piece of the URL as written; not NUL-terminated. */
typedef struct {
	const char *p;
	int len;
} Span;

/* The URL as GUri splits it, every field as written. */
typedef struct {
	const Scheme *scheme;
	char *user, *password, *host, *path;
	int port;       /* -1: none, or empty */
	Span authority; /* as written, for messages */
	Span hostport;
	Span port_text; /* GUri gives the port as a number only; p NULL: no ':' */
} Parts;

static void
parts_clear(Parts *parts)
{
	g_free(parts->user);
	g_free(parts->password);
	g_free(parts->host);
	g_free(parts->path);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Parts, parts_clear)

static gboolean
check_bytes(const char *url, gsize len, GError **error)
{
	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar)url[i];
		const char *what;

		if (c == '"')
			what = "a double quote"; /* would end the AT string */
		else if (c == ' ')
			what = "a space";
		else if (fota_byte_is_control(c))
			what = "a control byte"; /* CR/LF would end the command */
		else if (c >= 0x80)
			what = "a non-ASCII byte";
		else
			continue;
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_CHARACTER,
		            "URL contains %s \\x%02x at offset %" G_GSIZE_FORMAT, what, c, i);
		return FALSE;
	}
	return TRUE;
}

static const Scheme *
check_scheme(const char *url, GError **error)
{
	/* Not g_uri_peek_scheme(): it interns every scheme it sees, so
	 * callers could grow the daemon's memory without bound. */
	g_autofree char *name = g_uri_parse_scheme(url);

	if (name == NULL) {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SCHEME,
		            "URL '%s' has no scheme, expected ftp://, http:// or https://", url);
		return NULL;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(schemes); i++) {
		if (g_ascii_strcasecmp(name, schemes[i].name) == 0)
			return &schemes[i];
	}
	g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SCHEME,
	            "URL scheme '%s' is not supported, expected ftp, http or https", name);
	return NULL;
}

/* GUri would read '%' as an escape, and in an FTP URL '?' and '#' as the
 * start of a query or fragment, which the guide's FTP syntax does not have
 * (there they are part of a name). It is given them %-encoded, which it
 * keeps as they are (G_URI_FLAGS_ENCODED), and its fields are decoded back:
 * each field exactly as written. */
static char *
escape_for_guri(const char *url, gboolean ftp)
{
	GString *out = g_string_new(NULL);

	for (const char *p = url; *p != '\0'; p++) {
		if (*p == '%' || (ftp && (*p == '?' || *p == '#')))
			g_string_append_printf(out, "%%%02X", (guint)*p);
		else
			g_string_append_c(out, *p);
	}
	return g_string_free(out, FALSE);
}

/* GUri decodes one thing itself, an IPv6 literal's zone: should decoding
 * that again give a NUL, the host is left as is (and refused anyway). */
static void
unescape_field(char **field)
{
	char *written = *field != NULL ? g_uri_unescape_string(*field, NULL) : NULL;

	if (written != NULL) {
		g_free(*field);
		*field = written;
	}
}

/* For messages and the port's text, where GUri (strict) finds them in the
 * URL as written: the authority from "//" to the first '/', '?' or '#'
 * (FTP: '/', see escape_for_guri()), the host after its first '@', the port
 * after the host's first ':'. */
static void
find_written(const char *url, Parts *parts)
{
	const char *start = strstr(url, "://") + 3;
	const char *stops = parts->scheme->kind == FOTA_SOURCE_FTP ? "/" : "/?#";
	const char *at, *colon;

	parts->authority = (Span){start, (int)strcspn(start, stops)};
	at = memchr(start, '@', parts->authority.len);
	parts->hostport.p = at != NULL ? at + 1 : start;
	parts->hostport.len = parts->authority.len - (int)(parts->hostport.p - start);
	colon = memchr(parts->hostport.p, ':', parts->hostport.len);
	if (colon != NULL)
		parts->port_text = (Span){colon + 1, parts->hostport.len -
		                                             (int)(colon + 1 - parts->hostport.p)};
}

static gboolean
ipv6_error(const Parts *parts, GError **error)
{
	g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX,
	            "%s host '%.*s' is an IPv6 literal, which the modem does not support",
	            parts->scheme->label, parts->hostport.len, parts->hostport.p);
	return FALSE;
}

static gboolean
port_error(const Parts *parts, GError **error)
{
	g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_PORT, "port must be 1..65535, got %s%.*s",
	            parts->port_text.len == 0 ? "nothing" : "", parts->port_text.len,
	            parts->port_text.p);
	return FALSE;
}

static gboolean
split(const char *url, Parts *parts, GError **error)
{
	g_autofree char *escaped = escape_for_guri(url, parts->scheme->kind == FOTA_SOURCE_FTP);
	g_autoptr(GError) local = NULL;

	/* NON_DNS: the host as written too, neither decoded nor IDNA. */
	if (!g_uri_split_with_user(
	            escaped, G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED | G_URI_FLAGS_NON_DNS,
	            NULL, &parts->user, &parts->password, NULL, &parts->host, &parts->port,
	            &parts->path, NULL, NULL, &local)) {
		/* With nothing left to decode, GUri refuses only a bad IP
		 * literal and a port that is no number up to 65535. */
		if (!g_error_matches(local, G_URI_ERROR, G_URI_ERROR_BAD_HOST) &&
		    !g_error_matches(local, G_URI_ERROR, G_URI_ERROR_BAD_PORT)) {
			g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX,
			            "URL '%s' is not valid: %s", url, local->message);
			return FALSE;
		}
		find_written(url, parts);
		/* An IP literal is refused whatever its port. */
		if (local->code == G_URI_ERROR_BAD_HOST || parts->hostport.p[0] == '[')
			return ipv6_error(parts, error);
		return port_error(parts, error);
	}
	if (parts->host == NULL) {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX,
		            "URL must start with '%s://', got '%s'", parts->scheme->name, url);
		return FALSE;
	}
	find_written(url, parts);
	unescape_field(&parts->user);
	unescape_field(&parts->password);
	unescape_field(&parts->host);
	unescape_field(&parts->path);
	return TRUE;
}

static gboolean
check_length(const char *label, const char *field, const char *value, gsize max, GError **error)
{
	gsize len = strlen(value);

	if (len == 0) {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX, "%s %s is empty", label,
		            field);
		return FALSE;
	}
	if (len > max) {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_TOO_LONG,
		            "%s %s is %" G_GSIZE_FORMAT " bytes, at most %" G_GSIZE_FORMAT
		            " allowed",
		            label, field, len, max);
		return FALSE;
	}
	return TRUE;
}

/* The modem's URL syntax has no brackets, so an IPv6 literal would be cut
 * at its first ':' and taken for a port: refuse it (GUri gives a literal's
 * host without brackets, the only host with a ':'). Host names and IPv4
 * addresses need only letters, digits, '.', '-' and '_'. Ports: 1..65535,
 * decimal (GUri refuses the rest), not empty. */
static gboolean
check_host_port(const Parts *parts, gsize host_max, GError **error)
{
	const char *label = parts->scheme->label;
	const char *host = parts->host;

	if (strchr(host, ':') != NULL)
		return ipv6_error(parts, error);
	if (!check_length(label, "host", host, host_max, error))
		return FALSE;
	for (const char *c = host; *c != '\0'; c++) {
		if (g_ascii_isalnum(*c) || *c == '.' || *c == '-' || *c == '_')
			continue;
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX,
		            "%s host '%s' contains '%c'; only letters, digits, '.', '-' and "
		            "'_' are allowed",
		            label, host, *c);
		return FALSE;
	}
	if (parts->port_text.p != NULL && parts->port < 1)
		return port_error(parts, error);
	return TRUE;
}

/* ftp://user:password@host[:port]/file, all four fields 1..50 bytes. The
 * guide's syntax has no anonymous form, so credentials are required (an
 * anonymous server takes "anonymous:guest@"). '@' and ':' may appear only
 * as separators: how the modem would split "a:b:c@d" or "a@b@c" is unknown. */
static gboolean
check_ftp(const Parts *parts, GError **error)
{
	const char *file;

	if (parts->path[0] == '\0') {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX,
		            "FTP URL has no file, expected ftp://user:password@host[:port]/file");
		return FALSE;
	}
	if (parts->user == NULL) {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX,
		            "FTP URL needs 'user:password@' before the host, got '%.*s'",
		            parts->authority.len, parts->authority.p);
		return FALSE;
	}
	/* GUri ends the user information at the first '@'. */
	if (strchr(parts->host, '@') != NULL) {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX,
		            "FTP user and password may not contain '@'");
		return FALSE;
	}
	if (parts->password == NULL) {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX,
		            "FTP URL needs a password: expected 'user:password@'");
		return FALSE;
	}
	if (strchr(parts->password, ':') != NULL) {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX,
		            "FTP password may not contain ':'");
		return FALSE;
	}
	if (!check_length("FTP", "user", parts->user, FOTA_FTP_FIELD_MAX, error) ||
	    !check_length("FTP", "password", parts->password, FOTA_FTP_FIELD_MAX, error) ||
	    !check_host_port(parts, FOTA_FTP_FIELD_MAX, error))
		return FALSE;

	file = parts->path + 1; /* after the '/' */
	if (strchr(file, '/') != NULL || g_str_equal(file, ".") || g_str_equal(file, "..")) {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_PATH,
		            "FTP file must be in the server's root directory, got '%s'", file);
		return FALSE;
	}
	return check_length("FTP", "file", file, FOTA_FTP_FIELD_MAX, error);
}

/* http(s)://host[:port]/path[?query]: the guide gives no field limits, only
 * the URL's 255 bytes. Credentials have no place in the modem's syntax. */
static gboolean
check_http(const Parts *parts, GError **error)
{
	if (parts->user != NULL) {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX,
		            "%s URL may not carry credentials ('user@host'), got '%.*s'",
		            parts->scheme->label, parts->authority.len, parts->authority.p);
		return FALSE;
	}
	if (!check_host_port(parts, FOTA_URL_MAX, error))
		return FALSE;
	if (parts->path[0] == '\0' || g_str_equal(parts->path, "/")) {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX,
		            "%s URL has no file path, expected %s://host[:port]/path",
		            parts->scheme->label, parts->scheme->name);
		return FALSE;
	}
	return TRUE;
}

gboolean
fota_url_check(const char *url, FotaSourceKind *kind, GError **error)
{
	g_auto(Parts) parts = {0};
	gsize len;
	gboolean ok;

	g_return_val_if_fail(url != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	len = strlen(url);
	if (len == 0) {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX, "URL is empty");
		return FALSE;
	}
	if (len > FOTA_URL_MAX) {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_TOO_LONG,
		            "URL is %" G_GSIZE_FORMAT " bytes, at most %d allowed", len,
		            FOTA_URL_MAX);
		return FALSE;
	}
	/* Bytes first: every later message quotes parts of the URL. */
	if (!check_bytes(url, len, error))
		return FALSE;
	parts.scheme = check_scheme(url, error);
	if (parts.scheme == NULL || !split(url, &parts, error))
		return FALSE;
	if (parts.scheme->kind == FOTA_SOURCE_FTP)
		ok = check_ftp(&parts, error);
	else
		ok = check_http(&parts, error);
	if (ok && kind != NULL)
		*kind = parts.scheme->kind;
	return ok;
}
