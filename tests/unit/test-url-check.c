/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "url-check.h"

#define F50 "ffffffffffffffffffffffffffffffffffffffffffffffffff"

typedef struct {
	const char *url;
	gboolean ok;
	FotaSourceKind kind; /* when ok */
	FotaUrlError code;   /* when not ok */
	const char *message; /* when not ok; NULL: not checked */
} UrlCase;

#define GOOD(u, k)                                                                                 \
	{                                                                                          \
		u, TRUE, k, 0, NULL                                                                \
	}
#define BAD(u, c, m)                                                                               \
	{                                                                                          \
		u, FALSE, 0, c, m                                                                  \
	}

static const UrlCase cases[] = {
        /* The guide's own examples. */
        GOOD("ftp://test:test@124.74.41.170:21/EC200TCNTCNMAR02A02M16.bin", FOTA_SOURCE_FTP),
        GOOD("FTP://test:test@124.74.41.170:21/EC200TCNTCNMAR02A02M16.bin", FOTA_SOURCE_FTP),
        GOOD("http://www.quectel.com:100/EC200TCNTCNMAR02A02M16.bin", FOTA_SOURCE_HTTP),
        /* More good ones. */
        GOOD("ftp://user:pass@ftp.example.com/pkg.bin", FOTA_SOURCE_FTP),
        GOOD("ftp://anonymous:guest@host/a", FOTA_SOURCE_FTP),
        GOOD("ftp://u:p@h:021/f", FOTA_SOURCE_FTP),
        GOOD("ftp://" F50 ":" F50 "@" F50 ":65535/" F50, FOTA_SOURCE_FTP),
        GOOD("Ftp://u:p@h/pkg.bin?x", FOTA_SOURCE_FTP),
        GOOD("https://example.com/fw/EC200T/pkg.bin?token=abc&x=1", FOTA_SOURCE_HTTPS),
        GOOD("HTTP://example.com/pkg.bin", FOTA_SOURCE_HTTP),
        GOOD("hTTpS://example.com/pkg.bin", FOTA_SOURCE_HTTPS),
        GOOD("http://10.0.0.1:65535/a", FOTA_SOURCE_HTTP),
        GOOD("http://h:1/a", FOTA_SOURCE_HTTP),
        GOOD("https://my_host-1.example.com/a%20b", FOTA_SOURCE_HTTPS),
        GOOD("http://h/a,b;c=d", FOTA_SOURCE_HTTP),
        /* Length, bytes. */
        BAD("", FOTA_URL_ERROR_SYNTAX, "URL is empty"),
        BAD("http://www.quectel.com:100/EC20\r00.bin", FOTA_URL_ERROR_CHARACTER,
            "URL contains a control byte \\x0d at offset 31"),
        BAD("http://h/a\nAT+CFUN=0", FOTA_URL_ERROR_CHARACTER,
            "URL contains a control byte \\x0a at offset 10"),
        BAD("http://h/a\tb", FOTA_URL_ERROR_CHARACTER,
            "URL contains a control byte \\x09 at offset 10"),
        BAD("http://h/a\x7f", FOTA_URL_ERROR_CHARACTER,
            "URL contains a control byte \\x7f at offset 10"),
        BAD("http://h/a\",1,50", FOTA_URL_ERROR_CHARACTER,
            "URL contains a double quote \\x22 at offset 10"),
        BAD("http://h/a b", FOTA_URL_ERROR_CHARACTER, "URL contains a space \\x20 at offset 10"),
        BAD("http://h/caf\xc3\xa9", FOTA_URL_ERROR_CHARACTER,
            "URL contains a non-ASCII byte \\xc3 at offset 12"),
        /* Schemes. */
        BAD("gopher://h/a", FOTA_URL_ERROR_SCHEME,
            "URL scheme 'gopher' is not supported, expected ftp, http or https"),
        BAD("file:///tmp/pkg.bin", FOTA_URL_ERROR_SCHEME,
            "URL scheme 'file' is not supported, expected ftp, http or https"),
        BAD("FILE:4884688", FOTA_URL_ERROR_SCHEME,
            "URL scheme 'FILE' is not supported, expected ftp, http or https"),
        BAD("www.quectel.com/a.bin", FOTA_URL_ERROR_SCHEME,
            "URL 'www.quectel.com/a.bin' has no scheme, expected ftp://, http:// or https://"),
        BAD("://h/a", FOTA_URL_ERROR_SCHEME, NULL),
        BAD("ftps://u:p@h/a", FOTA_URL_ERROR_SCHEME, NULL),
        BAD("http:/h/a", FOTA_URL_ERROR_SYNTAX, "URL must start with 'http://', got 'http:/h/a'"),
        /* FTP fields. */
        BAD("ftp://" F50 "u:p@h/f", FOTA_URL_ERROR_TOO_LONG,
            "FTP user is 51 bytes, at most 50 allowed"),
        BAD("ftp://u:" F50 "p@h/f", FOTA_URL_ERROR_TOO_LONG,
            "FTP password is 51 bytes, at most 50 allowed"),
        BAD("ftp://u:p@" F50 "h/f", FOTA_URL_ERROR_TOO_LONG,
            "FTP host is 51 bytes, at most 50 allowed"),
        BAD("ftp://u:p@h/" F50 "f", FOTA_URL_ERROR_TOO_LONG,
            "FTP file is 51 bytes, at most 50 allowed"),
        BAD("ftp://:p@h/f", FOTA_URL_ERROR_SYNTAX, "FTP user is empty"),
        BAD("ftp://u:@h/f", FOTA_URL_ERROR_SYNTAX, "FTP password is empty"),
        BAD("ftp://u:p@/f", FOTA_URL_ERROR_SYNTAX, "FTP host is empty"),
        BAD("ftp://u:p@:21/f", FOTA_URL_ERROR_SYNTAX, "FTP host is empty"),
        BAD("ftp://host/file", FOTA_URL_ERROR_SYNTAX,
            "FTP URL needs 'user:password@' before the host, got 'host'"),
        BAD("ftp://user@host/file", FOTA_URL_ERROR_SYNTAX,
            "FTP URL needs a password: expected 'user:password@'"),
        BAD("ftp://u:p@ss@h/f", FOTA_URL_ERROR_SYNTAX, "FTP user and password may not contain '@'"),
        BAD("ftp://u:p:x@h/f", FOTA_URL_ERROR_SYNTAX, "FTP password may not contain ':'"),
        BAD("ftp://u:p@h:21/dir/pkg.bin", FOTA_URL_ERROR_PATH,
            "FTP file must be in the server's root directory, got 'dir/pkg.bin'"),
        BAD("ftp://u:p@h/..", FOTA_URL_ERROR_PATH,
            "FTP file must be in the server's root directory, got '..'"),
        BAD("ftp://u:p@h//f", FOTA_URL_ERROR_PATH, NULL),
        BAD("ftp://u:p@h/", FOTA_URL_ERROR_SYNTAX, "FTP file is empty"),
        BAD("ftp://u:p@h", FOTA_URL_ERROR_SYNTAX,
            "FTP URL has no file, expected ftp://user:password@host[:port]/file"),
        BAD("ftp://u:p@[::1]:21/f", FOTA_URL_ERROR_SYNTAX, NULL),
        /* Ports. */
        BAD("ftp://u:p@h:0/f", FOTA_URL_ERROR_PORT, "port must be 1..65535, got 0"),
        BAD("ftp://u:p@h:65536/f", FOTA_URL_ERROR_PORT, "port must be 1..65535, got 65536"),
        BAD("http://h:/a", FOTA_URL_ERROR_PORT, "port must be 1..65535, got nothing"),
        BAD("http://h:-1/a", FOTA_URL_ERROR_PORT, "port must be 1..65535, got -1"),
        BAD("http://h:+80/a", FOTA_URL_ERROR_PORT, "port must be 1..65535, got +80"),
        BAD("http://h:0x50/a", FOTA_URL_ERROR_PORT, "port must be 1..65535, got 0x50"),
        BAD("http://h:99999999999999999999/a", FOTA_URL_ERROR_PORT,
            "port must be 1..65535, got 99999999999999999999"),
        BAD("http://h:80:81/a", FOTA_URL_ERROR_PORT, "port must be 1..65535, got 80:81"),
        /* HTTP(S) shapes. */
        BAD("http://[::1]:8080/a", FOTA_URL_ERROR_SYNTAX,
            "HTTP host '[::1]:8080' is an IPv6 literal, which the modem does not support"),
        BAD("http://user:pw@h/a", FOTA_URL_ERROR_SYNTAX,
            "HTTP URL may not carry credentials ('user@host'), got 'user:pw@h'"),
        BAD("http://h", FOTA_URL_ERROR_SYNTAX,
            "HTTP URL has no file path, expected http://host[:port]/path"),
        BAD("https://h/", FOTA_URL_ERROR_SYNTAX,
            "HTTPS URL has no file path, expected https://host[:port]/path"),
        BAD("https://h?x=1", FOTA_URL_ERROR_SYNTAX, NULL),
        BAD("https://h/?x=1", FOTA_URL_ERROR_SYNTAX, NULL),
        BAD("http:///a", FOTA_URL_ERROR_SYNTAX, "HTTP host is empty"),
        BAD("http://ho!st/a", FOTA_URL_ERROR_SYNTAX,
            "HTTP host 'ho!st' contains '!'; only letters, digits, '.', '-' and '_' are allowed"),
        /* Fields as written, where RFC 3986 (GUri) alone reads them
         * otherwise: no %-decoding, and FTP has no query or fragment. */
        GOOD("http://h/100%", FOTA_SOURCE_HTTP),
        GOOD("ftp://u:pa#ss@h/f", FOTA_SOURCE_FTP),
        GOOD("ftp://u?:p@h/pkg?.bin#1", FOTA_SOURCE_FTP),
        GOOD("ftp://u:p@h/%2E%2E", FOTA_SOURCE_FTP),
        BAD("ftp://u:p@h/f?a/b", FOTA_URL_ERROR_PATH,
            "FTP file must be in the server's root directory, got 'f?a/b'"),
        BAD("ftp://%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41:p@h/f",
            FOTA_URL_ERROR_TOO_LONG, "FTP user is 51 bytes, at most 50 allowed"),
        BAD("http://h%41/a", FOTA_URL_ERROR_SYNTAX,
            "HTTP host 'h%41' contains '%'; only letters, digits, '.', '-' and '_' are allowed"),
        BAD("http://[zz]/a", FOTA_URL_ERROR_SYNTAX,
            "HTTP host '[zz]' is an IPv6 literal, which the modem does not support"),
        BAD("http://[::1]:x/a", FOTA_URL_ERROR_SYNTAX,
            "HTTP host '[::1]:x' is an IPv6 literal, which the modem does not support"),
        /* Several faults: a port that is no number is named first. */
        BAD("ftp://" F50 "u:p@h:x/f", FOTA_URL_ERROR_PORT, "port must be 1..65535, got x"),
};

static void
check_case(gsize i, const UrlCase *c)
{
	g_autoptr(GError) error = NULL;
	FotaSourceKind kind = (FotaSourceKind)-1;
	gboolean ok = fota_url_check(c->url, &kind, &error);

	if (ok != c->ok)
		fail_msg("case %" G_GSIZE_FORMAT " '%s': expected %s, got %s", i, c->url,
		         c->ok ? "success" : "failure", error ? error->message : "success");
	if (ok) {
		assert_null(error);
		assert_int_equal(kind, c->kind);
		return;
	}
	assert_int_equal(kind, (FotaSourceKind)-1);
	if (!g_error_matches(error, FOTA_URL_ERROR, c->code))
		fail_msg("case %" G_GSIZE_FORMAT " '%s': expected code %d, got %d: %s", i, c->url,
		         c->code, error->code, error->message);
	if (c->message != NULL && strcmp(error->message, c->message) != 0)
		fail_msg("case %" G_GSIZE_FORMAT " '%s':\n  expected '%s'\n  got      '%s'", i,
		         c->url, c->message, error->message);
	/* Messages go to D-Bus: they must be valid UTF-8 whatever the URL. */
	assert_true(g_utf8_validate(error->message, -1, NULL));
}

static void
test_matrix(void **state)
{
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++)
		check_case(i, &cases[i]);
}

static void
test_length(void **state)
{
	g_autoptr(GString) url = g_string_new("http://example.com/");
	g_autoptr(GError) error = NULL;
	FotaSourceKind kind;

	while (url->len < FOTA_URL_MAX)
		g_string_append_c(url, 'a');
	assert_true(fota_url_check(url->str, &kind, NULL));
	assert_int_equal(kind, FOTA_SOURCE_HTTP);

	g_string_append_c(url, 'a');
	assert_false(fota_url_check(url->str, &kind, &error));
	assert_true(g_error_matches(error, FOTA_URL_ERROR, FOTA_URL_ERROR_TOO_LONG));
	assert_string_equal(error->message, "URL is 256 bytes, at most 255 allowed");
}

/* Every byte outside printable ASCII, and the three printable ones that
 * would break the AT command, anywhere in the path. */
static void
test_every_byte(void **state)
{
	for (guint b = 1; b < 256; b++) {
		char url[] = "http://h/a?b";
		g_autoptr(GError) error = NULL;
		gboolean refused = b < 0x20 || b == ' ' || b == '"' || b >= 0x7f;

		url[10] = (char)b;
		if (fota_url_check(url, NULL, &error) == refused)
			fail_msg("byte \\x%02x: %s", b, refused ? "accepted" : error->message);
		if (refused)
			assert_true(
			        g_error_matches(error, FOTA_URL_ERROR, FOTA_URL_ERROR_CHARACTER));
	}
}

static void
test_quark(void **state)
{
	assert_string_equal(g_quark_to_string(FOTA_URL_ERROR),
	                    "quectel-fotad-url-check-error-quark");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_matrix),
	        cmocka_unit_test(test_length),
	        cmocka_unit_test(test_every_byte),
	        cmocka_unit_test(test_quark),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
