/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fota-errors.h"

/* Chapter 4 of the guide, in code order. The messages are the guide's own
 * English words so that a log line can be found in the guide; the names are
 * ours and never change (scripts match on them). */
static const FotaErrorInfo fota_errors[] = {
        /* <file_err> */
        {500, "FILE_DOWNLOAD", "File download error"},
        /* <err>, the upgrade itself */
        {504, "UPGRADE_FAILED", "(D)FOTA upgrade failed"},
        {506, "FIRMWARE_MD5", "(D)FOTA firmware MD5 check error"},
        /* <FTP_err> */
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
        /* <HTTP_err> */
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

const FotaErrorInfo *
fota_error_lookup(int code)
{
	/* 63 entries, looked up once per failed job: a linear scan is plenty. */
	for (gsize i = 0; i < G_N_ELEMENTS(fota_errors); i++) {
		if (fota_errors[i].code == code)
			return &fota_errors[i];
	}
	return NULL;
}

char *
fota_error_describe(int code)
{
	const FotaErrorInfo *info = fota_error_lookup(code);

	/* 0 is every table's "success"; callers describing a finished step
	 * should not see it called undocumented. */
	if (code == 0)
		return g_strdup("0 (success)");
	return g_strdup_printf("%d (%s)", code, info ? info->message : "undocumented error code");
}
