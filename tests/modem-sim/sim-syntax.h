/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pure parsing of AT command arguments and of AT+QFOTADL= parameters as the guide defines
 * them. No I/O, no state: the interpreter decides what to answer. */
#pragma once

#include <glib.h>

typedef struct {
	char *text;
	gboolean quoted;
} SimArg;

/* Splits `a,"b",c` into args. FALSE (malformed) on an unterminated quote, a quote inside an
 * unquoted arg or text after a closing quote. Spaces around args are ignored. */
gboolean sim_args_split(const char *text, GArray **args_out);
void sim_args_free(GArray *args);
/* A decimal unquoted arg within [min, max]. */
gboolean sim_arg_int(const GArray *args, guint index, gint64 min, gint64 max, gint64 *out);
const SimArg *sim_arg(const GArray *args, guint index);

typedef enum {
	SIM_URL_FTP,
	SIM_URL_HTTP,
	SIM_URL_HTTPS,
	SIM_URL_FILE,
} SimUrlKind;

typedef struct {
	char *url;
	SimUrlKind kind;
	guint64 file_length; /* SIM_URL_FILE */
	int mode;            /* 0, 1, or 2 (FILE protocol mode, EC200T) */
	int download_urc_max;
	int update_urc_max;
	gboolean update_urc_max_given;
} SimFotadlRequest;

#define SIM_URL_MAX 255

/* Validates the argument text of AT+QFOTADL=<args>. fota_model: EC200T (FOTA) takes
 * update_URC_max and mode 2; DFOTA models refuse them. On failure *why says what is wrong. */
SimFotadlRequest *sim_fotadl_parse(const char *args_text, gboolean fota_model, char **why);
void sim_fotadl_request_free(SimFotadlRequest *request);
/* Just the URL rules (scheme, lengths, ports, FTP root dir). */
gboolean sim_url_check(const char *url, SimUrlKind *kind, guint64 *file_length, char **why);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SimFotadlRequest, sim_fotadl_request_free)
