/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The network download of the FTP/HTTP(S) modes: libcurl in a worker thread streaming into a
 * package parser (no whole-file buffer), results mapped to the guide's error codes. */
#pragma once

#include "sim-config.h"
#include "sim-package.h"
#include "sim-syntax.h"

typedef struct _SimNetDownload SimNetDownload;
typedef void (*SimNetDoneFunc)(SimNetDownload *download, gpointer user_data);

/* Starts downloading `url` exactly as given (no redirects, no proxy). `done` runs in the
 * main context when the transfer ends, unless sim_net_download_cancel() was called. */
SimNetDownload *sim_net_download_start(const char *url, SimUrlKind kind, const SimConfig *cfg,
                                       SimNetDoneFunc done, gpointer user_data);
void sim_net_download_cancel(SimNetDownload *download);
SimNetDownload *sim_net_download_ref(SimNetDownload *download);
void sim_net_download_unref(SimNetDownload *download);

/* Thread-safe while running. *total is -1 while the size is unknown. */
void sim_net_download_progress(SimNetDownload *download, guint64 *received, gint64 *total);
/* After `done`: the guide's FTP_err/HTTP_err (0 success) and curl's own words. */
int sim_net_download_code(SimNetDownload *download);
const char *sim_net_download_detail(SimNetDownload *download);
SimPackageParser *sim_net_download_steal_parser(SimNetDownload *download);

/* The mapping from a curl result (and HTTP status) to the guide's codes, exposed for tests. */
int sim_net_map_result(SimUrlKind kind, int curl_code, long http_status);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SimNetDownload, sim_net_download_unref)
