/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "url-check.h"

#include <string.h>

/* The modem parses the URL itself, with a parser nobody can read, and a URL
 * it misreads fails minutes later with a bare 6xx/7xx code. So the daemon
 * accepts only the shapes the guide documents and says precisely what is
 * wrong with anything else. Nothing is percent-decoded: the guide does not
 * say the modem decodes, so every field is checked as written. */

/* G_DEFINE_QUARK stringifies its first argument: keep it unformatted. */
/* clang-format off */
G_DEFINE_QUARK(fota-url-error-quark, fota_url_error)
/* clang-format on */

typedef struct {
	const char *name;  /* as compared, case-insensitively */
	const char *label; /* in messages */
	FotaSourceKind kind;
} Scheme;

static const Scheme schemes[] = {
        {"ftp", "FTP", FOTA_SOURCE_FTP},
        {"http", "HTTP", FOTA_SOURCE_HTTP},
        {"https", "HTTPS", FOTA_SOURCE_HTTPS},
};

/* A piece of the URL; not NUL-terminated. */
typedef struct {
	const char *p;
	gsize len;
} Span;

static Span
span(const char *start, const char *end)
{
	return (Span){start, end - start};
}

static gboolean
span_has(Span s, char c)
{
	return memchr(s.p, c, s.len) != NULL;
}

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
		else if (c < 0x20 || c == 0x7f)
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

/* "<scheme>://": the scheme token per RFC 3986 is [A-Za-z][A-Za-z0-9+.-]*. */
static const Scheme *
check_scheme(const char *url, const char **rest, GError **error)
{
	const char *p = url;

	if (g_ascii_isalpha(*p)) {
		while (g_ascii_isalnum(*p) || *p == '+' || *p == '.' || *p == '-')
			p++;
	}
	if (p == url || *p != ':') {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SCHEME,
		            "URL '%s' has no scheme, expected ftp://, http:// or https://", url);
		return NULL;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(schemes); i++) {
		const Scheme *s = &schemes[i];

		if (strlen(s->name) != (gsize)(p - url) ||
		    g_ascii_strncasecmp(url, s->name, p - url) != 0)
			continue;
		if (strncmp(p, "://", 3) != 0) {
			g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX,
			            "URL must start with '%s://', got '%s'", s->name, url);
			return NULL;
		}
		*rest = p + 3;
		return s;
	}
	g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SCHEME,
	            "URL scheme '%.*s' is not supported, expected ftp, http or https",
	            (int)(p - url), url);
	return NULL;
}

static gboolean
check_length(const char *label, const char *field, Span s, gsize max, GError **error)
{
	if (s.len == 0) {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX, "%s %s is empty", label,
		            field);
		return FALSE;
	}
	if (s.len > max) {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_TOO_LONG,
		            "%s %s is %" G_GSIZE_FORMAT " bytes, at most %" G_GSIZE_FORMAT
		            " allowed",
		            label, field, s.len, max);
		return FALSE;
	}
	return TRUE;
}

/* The port as written, decimal only: no sign, no hex, no empty port. */
static gboolean
check_port(Span s, GError **error)
{
	guint port = 0;
	gsize i;

	for (i = 0; i < s.len && g_ascii_isdigit(s.p[i]) && port <= 65535; i++)
		port = port * 10 + (s.p[i] - '0');
	if (s.len > 0 && i == s.len && port >= 1 && port <= 65535)
		return TRUE;
	g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_PORT, "port must be 1..65535, got %s%.*s",
	            s.len == 0 ? "nothing" : "", (int)s.len, s.p);
	return FALSE;
}

/* host[:port]. The modem's URL syntax has no brackets, so an IPv6 literal
 * would be cut at its first ':' and taken for a port: refuse it. Host names
 * and IPv4 addresses need only letters, digits, '.', '-' and '_'. */
static gboolean
check_host_port(const char *label, Span hostport, gsize host_max, GError **error)
{
	const char *colon = memchr(hostport.p, ':', hostport.len);
	Span host = colon ? span(hostport.p, colon) : hostport;

	if (hostport.len > 0 && hostport.p[0] == '[') {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX,
		            "%s host '%.*s' is an IPv6 literal, which the modem does not support",
		            label, (int)hostport.len, hostport.p);
		return FALSE;
	}
	if (!check_length(label, "host", host, host_max, error))
		return FALSE;
	for (gsize i = 0; i < host.len; i++) {
		char c = host.p[i];

		if (g_ascii_isalnum(c) || c == '.' || c == '-' || c == '_')
			continue;
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX,
		            "%s host '%.*s' contains '%c'; only letters, digits, '.', '-' and "
		            "'_' are allowed",
		            label, (int)host.len, host.p, c);
		return FALSE;
	}
	if (colon == NULL)
		return TRUE;
	return check_port(span(colon + 1, hostport.p + hostport.len), error);
}

/* ftp://user:password@host[:port]/file, all four fields 1..50 bytes. The
 * guide's syntax has no anonymous form, so credentials are required (an
 * anonymous server takes "anonymous:guest@"). '@' and ':' may appear only
 * as separators: how the modem would split "a:b:c@d" or "a@b@c" is unknown. */
static gboolean
check_ftp(const Scheme *scheme, const char *rest, GError **error)
{
	const char *slash = strchr(rest, '/');
	const char *at, *colon;
	Span authority, user, password, file;

	if (slash == NULL) {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX,
		            "FTP URL has no file, expected ftp://user:password@host[:port]/file");
		return FALSE;
	}
	authority = span(rest, slash);
	at = memchr(authority.p, '@', authority.len);
	if (at == NULL) {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX,
		            "FTP URL needs 'user:password@' before the host, got '%.*s'",
		            (int)authority.len, authority.p);
		return FALSE;
	}
	if (span_has(span(at + 1, slash), '@')) {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX,
		            "FTP user and password may not contain '@'");
		return FALSE;
	}
	colon = memchr(authority.p, ':', at - authority.p);
	if (colon == NULL) {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX,
		            "FTP URL needs a password: expected 'user:password@'");
		return FALSE;
	}
	user = span(authority.p, colon);
	password = span(colon + 1, at);
	if (span_has(password, ':')) {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX,
		            "FTP password may not contain ':'");
		return FALSE;
	}
	if (!check_length(scheme->label, "user", user, FOTA_FTP_FIELD_MAX, error) ||
	    !check_length(scheme->label, "password", password, FOTA_FTP_FIELD_MAX, error) ||
	    !check_host_port(scheme->label, span(at + 1, slash), FOTA_FTP_FIELD_MAX, error))
		return FALSE;

	file = span(slash + 1, slash + 1 + strlen(slash + 1));
	if (span_has(file, '/') || strcmp(file.p, ".") == 0 || strcmp(file.p, "..") == 0) {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_PATH,
		            "FTP file must be in the server's root directory, got '%s'", file.p);
		return FALSE;
	}
	return check_length(scheme->label, "file", file, FOTA_FTP_FIELD_MAX, error);
}

/* http(s)://host[:port]/path[?query]: the guide gives no field limits, only
 * the URL's 255 bytes. Credentials have no place in the modem's syntax. */
static gboolean
check_http(const Scheme *scheme, const char *rest, GError **error)
{
	gsize authority_len = strcspn(rest, "/?#");
	Span authority = {rest, authority_len};
	const char *path = rest + authority_len;

	if (span_has(authority, '@')) {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX,
		            "%s URL may not carry credentials ('user@host'), got '%.*s'",
		            scheme->label, (int)authority.len, authority.p);
		return FALSE;
	}
	if (!check_host_port(scheme->label, authority, FOTA_URL_MAX, error))
		return FALSE;
	if (path[0] != '/' || path[1] == '\0' || path[1] == '?' || path[1] == '#') {
		g_set_error(error, FOTA_URL_ERROR, FOTA_URL_ERROR_SYNTAX,
		            "%s URL has no file path, expected %s://host[:port]/path",
		            scheme->label, scheme->name);
		return FALSE;
	}
	return TRUE;
}

gboolean
fota_url_check(const char *url, FotaSourceKind *kind, GError **error)
{
	const Scheme *scheme;
	const char *rest = NULL;
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
	scheme = check_scheme(url, &rest, error);
	if (scheme == NULL)
		return FALSE;
	if (scheme->kind == FOTA_SOURCE_FTP)
		ok = check_ftp(scheme, rest, error);
	else
		ok = check_http(scheme, rest, error);
	if (ok && kind != NULL)
		*kind = scheme->kind;
	return ok;
}
