/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fota-errors.h"

/* Every documented code with its name, checked against the guide's
 * chapter 4 (tables 2 to 5). */
static const FotaErrorInfo expected[] = {
        {500, "FILE_DOWNLOAD", "File download error"},
        {504, "UPGRADE_FAILED", "(D)FOTA upgrade failed"},
        {506, "FIRMWARE_MD5", "(D)FOTA firmware MD5 check error"},
        {601, "FTP_UNKNOWN", "FTP unknown error"},
        {602, "FTP_SERVICE_BLOCKED", "FTP service blocked"},
        {603, "FTP_SERVICE_BUSY", "FTP service busy"},
        {604, "FTP_DNS", "DNS parse failed"},
        {605, "FTP_NETWORK", "Network error"},
        {606, "FTP_CONTROL_CLOSED", "Control connection closed"},
        {607, "FTP_DATA_CLOSED", "Data connection closed"},
        {608, "FTP_PEER_CLOSED", "Socket closed by peer"},
        {609, "FTP_TIMEOUT", "Timeout error"},
        {610, "FTP_INVALID_PARAMETER", "Invalid parameter"},
        {611, "FTP_FILE_OPEN", "Failed to open file"},
        {612, "FTP_FILE_POSITION", "File position invalid"},
        {613, "FTP_FILE", "File error"},
        {614, "FTP_SERVICE_NOT_AVAILABLE", "Service not available, closing control connection"},
        {615, "FTP_DATA_OPEN", "Failed to open data connection"},
        {616, "FTP_TRANSFER_ABORTED", "Connection closed, transfer aborted"},
        {617, "FTP_FILE_ACTION_NOT_TAKEN", "Requested file action not taken"},
        {618, "FTP_LOCAL_ERROR", "Requested action aborted: local error in processing"},
        {619, "FTP_INSUFFICIENT_STORAGE",
         "Requested action not taken: insufficient system storage"},
        {620, "FTP_COMMAND_UNRECOGNIZED", "Syntax error, command unrecognized"},
        {621, "FTP_PARAMETER_SYNTAX", "Syntax error in parameters or arguments"},
        {622, "FTP_COMMAND_NOT_IMPLEMENTED", "Command not implemented"},
        {623, "FTP_BAD_SEQUENCE", "Bad sequence of commands"},
        {624, "FTP_PARAMETER_NOT_IMPLEMENTED", "Command parameter not implemented"},
        {625, "FTP_LOGIN", "Failed to login FTP"},
        {626, "FTP_NEED_ACCOUNT", "Need account for storing files"},
        {627, "FTP_ACTION_NOT_TAKEN", "Requested action not taken"},
        {628, "FTP_PAGE_TYPE_UNKNOWN", "Requested action aborted: page type unknown"},
        {629, "FTP_FILE_ACTION_ABORTED", "Requested file action aborted"},
        {630, "FTP_FILE_NAME_INVALID", "Requested file name invalid"},
        {701, "HTTP_UNKNOWN", "HTTP(S) unknown error"},
        {702, "HTTP_TIMEOUT", "HTTP(S) timeout"},
        {703, "HTTP_BUSY", "HTTP(S) busy"},
        {704, "HTTP_UART_BUSY", "HTTP(S) UART busy"},
        {705, "HTTP_NO_REQUEST", "HTTP(S) does not get/post request"},
        {706, "HTTP_NETWORK_BUSY", "HTTP(S) network busy"},
        {707, "HTTP_NETWORK_OPEN", "HTTP(S) network open failed"},
        {708, "HTTP_NETWORK_NOT_CONFIGURED", "HTTP(S) network not configured"},
        {709, "HTTP_NETWORK_DEACTIVATED", "HTTP(S) network deactivated"},
        {710, "HTTP_NETWORK", "HTTP(S) network error"},
        {711, "HTTP_URL", "HTTP(S) URL error"},
        {712, "HTTP_URL_EMPTY", "HTTP(S) URL empty"},
        {713, "HTTP_IP_ADDRESS", "HTTP(S) IP address error"},
        {714, "HTTP_DNS", "HTTP(S) DNS error"},
        {715, "HTTP_SOCKET_CREATE", "HTTP(S) socket creation error"},
        {716, "HTTP_SOCKET_CONNECT", "HTTP(S) socket connection error"},
        {717, "HTTP_SOCKET_READ", "HTTP(S) socket read error"},
        {718, "HTTP_SOCKET_WRITE", "HTTP(S) socket write error"},
        {719, "HTTP_SOCKET_CLOSED", "HTTP(S) socket closed"},
        {720, "HTTP_DATA_ENCODE", "HTTP(S) data encode error"},
        {721, "HTTP_DATA_DECODE", "HTTP(S) data decode error"},
        {722, "HTTP_READ_TIMEOUT", "HTTP(S) read timeout"},
        {723, "HTTP_RESPONSE_FAILED", "HTTP(S) response failed"},
        {724, "HTTP_INCOMING_CALL_BUSY", "Incoming call busy"},
        {725, "HTTP_VOICE_CALL_BUSY", "Voice call busy"},
        {726, "HTTP_INPUT_TIMEOUT", "Input timeout"},
        {727, "HTTP_WAIT_DATA_TIMEOUT", "Wait data timeout"},
        {728, "HTTP_WAIT_RESPONSE_TIMEOUT", "Wait HTTP(S) response timeout"},
        {729, "HTTP_OUT_OF_MEMORY", "Allocate memory failed"},
        {730, "HTTP_INVALID_PARAMETER", "Invalid parameter"},
};

static void
test_every_code(void **state)
{
	for (gsize i = 0; i < G_N_ELEMENTS(expected); i++) {
		const FotaErrorInfo *info = fota_error_lookup(expected[i].code);
		g_autofree char *described = NULL;
		g_autofree char *want = NULL;

		if (info == NULL)
			fail_msg("code %d not found", expected[i].code);
		assert_int_equal(info->code, expected[i].code);
		assert_string_equal(info->name, expected[i].name);
		assert_string_equal(info->message, expected[i].message);
		described = fota_error_describe(expected[i].code);
		want = g_strdup_printf("%d (%s)", expected[i].code, expected[i].message);
		assert_string_equal(described, want);
	}
}

/* Whole ranges: 601-630 and 701-730 have no holes, nothing else between
 * 400 and 1000 is documented but 500, 504 and 506. */
static void
test_ranges(void **state)
{
	guint found = 0;

	for (int code = 400; code < 1000; code++) {
		gboolean documented = (code >= 601 && code <= 630) ||
		                      (code >= 701 && code <= 730) || code == 500 || code == 504 ||
		                      code == 506;

		if ((fota_error_lookup(code) != NULL) != documented)
			fail_msg("code %d: lookup disagrees with the guide", code);
		found += documented;
	}
	assert_int_equal(found, G_N_ELEMENTS(expected));
}

/* Names are stable symbols, unique, upper-case, one prefix per table. */
static void
test_names(void **state)
{
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

	for (gsize i = 0; i < G_N_ELEMENTS(expected); i++) {
		const FotaErrorInfo *info = fota_error_lookup(expected[i].code);
		const char *prefix = info->code >= 700 ? "HTTP_" : info->code >= 600 ? "FTP_" : "";

		assert_true(g_str_has_prefix(info->name, prefix));
		for (const char *p = info->name; *p; p++)
			assert_true(g_ascii_isupper(*p) || g_ascii_isdigit(*p) || *p == '_');
		assert_true(g_hash_table_add(seen, (gpointer)info->name));
	}
}

static void
test_undocumented(void **state)
{
	static const int codes[] = {999, 1,   -1,  600, 631,      700,
	                            731, 501, 505, 507, G_MININT, G_MAXINT};

	for (gsize i = 0; i < G_N_ELEMENTS(codes); i++) {
		g_autofree char *described = fota_error_describe(codes[i]);
		g_autofree char *want = g_strdup_printf("%d (undocumented error code)", codes[i]);

		assert_null(fota_error_lookup(codes[i]));
		assert_string_equal(described, want);
	}
}

static void
test_describe(void **state)
{
	g_autofree char *dns = fota_error_describe(714);
	g_autofree char *unknown = fota_error_describe(999);
	g_autofree char *success = fota_error_describe(0);

	assert_string_equal(dns, "714 (HTTP(S) DNS error)");
	assert_string_equal(unknown, "999 (undocumented error code)");
	assert_string_equal(success, "0 (success)");
	assert_null(fota_error_lookup(0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_code), cmocka_unit_test(test_ranges),
	        cmocka_unit_test(test_names),      cmocka_unit_test(test_undocumented),
	        cmocka_unit_test(test_describe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
