/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sim-net.h"

#include <curl/curl.h>
#include <gio/gio.h>

/* The guide's codes this module produces (see README.md for the table). */
enum {
	FTP_UNKNOWN = 601,
	FTP_DNS = 604,
	FTP_NETWORK = 605,
	FTP_CONTROL_CLOSED = 606,
	FTP_PEER_CLOSED = 608,
	FTP_TIMEOUT = 609,
	FTP_OPEN_FILE = 611,
	FTP_DATA_CONNECTION = 615,
	FTP_TRANSFER_ABORTED = 616,
	FTP_FILE_ACTION = 617,
	FTP_LOGIN = 625,
	FTP_ACTION_NOT_TAKEN = 627,
	HTTP_UNKNOWN = 701,
	HTTP_TIMEOUT = 702,
	HTTP_URL = 711,
	HTTP_DNS = 714,
	HTTP_CONNECT = 716,
	HTTP_READ = 717,
	HTTP_WRITE = 718,
	HTTP_RESPONSE = 723,
	HTTP_MEMORY = 729,
};

struct _SimNetDownload {
	char *url;
	SimUrlKind kind;
	guint timeout_ms;
	gboolean insecure;
	SimNetDoneFunc done;
	gpointer user_data;
	GCancellable *cancellable;

	/* Written by the worker, read by the main thread's pacing timer. */
	GMutex lock;
	guint64 received;
	gint64 total;

	/* Touched by the worker only until the task completes. */
	SimPackageParser *parser;
	int code;
	char *detail;
};

SimNetDownload *
sim_net_download_ref(SimNetDownload *download)
{
	return g_atomic_rc_box_acquire(download);
}

static void
download_clear(gpointer data)
{
	SimNetDownload *download = data;

	g_free(download->url);
	g_clear_object(&download->cancellable);
	g_mutex_clear(&download->lock);
	sim_package_parser_free(download->parser);
	g_free(download->detail);
}

void
sim_net_download_unref(SimNetDownload *download)
{
	g_atomic_rc_box_release_full(download, download_clear);
}

int
sim_net_map_result(SimUrlKind kind, int curl_code, long http_status)
{
	gboolean ftp = kind == SIM_URL_FTP;

	switch ((CURLcode)curl_code) {
	case CURLE_OK:
		return 0;
	case CURLE_HTTP_RETURNED_ERROR:
		/* Any HTTP status >= 400: the server says the URL names nothing it serves. */
		return HTTP_URL;
	case CURLE_COULDNT_RESOLVE_HOST:
		return ftp ? FTP_DNS : HTTP_DNS;
	case CURLE_COULDNT_CONNECT:
		return ftp ? FTP_NETWORK : HTTP_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return ftp ? FTP_TIMEOUT : HTTP_TIMEOUT;
	case CURLE_LOGIN_DENIED:
		return ftp ? FTP_LOGIN : HTTP_UNKNOWN;
	case CURLE_REMOTE_FILE_NOT_FOUND:
		return ftp ? FTP_OPEN_FILE : HTTP_URL;
	case CURLE_FTP_COULDNT_RETR_FILE:
		return FTP_FILE_ACTION;
	case CURLE_REMOTE_ACCESS_DENIED:
		return ftp ? FTP_ACTION_NOT_TAKEN : HTTP_URL;
	case CURLE_FTP_WEIRD_PASV_REPLY:
	case CURLE_FTP_WEIRD_227_FORMAT:
	case CURLE_FTP_CANT_GET_HOST:
	case CURLE_FTP_PORT_FAILED:
	case CURLE_FTP_ACCEPT_FAILED:
	case CURLE_FTP_ACCEPT_TIMEOUT:
		return FTP_DATA_CONNECTION;
	case CURLE_GOT_NOTHING:
		return ftp ? FTP_CONTROL_CLOSED : HTTP_RESPONSE;
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
		return ftp ? FTP_TRANSFER_ABORTED : HTTP_READ;
	case CURLE_SEND_ERROR:
		return ftp ? FTP_PEER_CLOSED : HTTP_WRITE;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		return HTTP_CONNECT;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return ftp ? FTP_UNKNOWN : HTTP_URL;
	case CURLE_OUT_OF_MEMORY:
		return ftp ? FTP_UNKNOWN : HTTP_MEMORY;
	default:
		(void)http_status;
		return ftp ? FTP_UNKNOWN : HTTP_UNKNOWN;
	}
}

static size_t
on_data(char *data, size_t size, size_t nmemb, void *user_data)
{
	SimNetDownload *download = user_data;
	gsize len = size * nmemb;

	if (g_cancellable_is_cancelled(download->cancellable))
		return 0; /* CURLE_WRITE_ERROR: stop at once */
	sim_package_parser_feed(download->parser, (const guint8 *)data, len);
	g_mutex_lock(&download->lock);
	download->received += len;
	g_mutex_unlock(&download->lock);
	return len;
}

static int
on_progress(void *user_data, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
            curl_off_t ulnow)
{
	SimNetDownload *download = user_data;

	if (dltotal > 0) {
		g_mutex_lock(&download->lock);
		download->total = dltotal;
		g_mutex_unlock(&download->lock);
	}
	return g_cancellable_is_cancelled(download->cancellable) ? 1 : 0;
}

static void
run_download(GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
	SimNetDownload *download = task_data;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *curl = curl_easy_init();
	CURLcode res;
	long status = 0;

	if (curl == NULL) {
		download->code = sim_net_map_result(download->kind, CURLE_OUT_OF_MEMORY, 0);
		download->detail = g_strdup("curl_easy_init failed");
		g_task_return_boolean(task, TRUE);
		return;
	}
	curl_easy_setopt(curl, CURLOPT_URL, download->url);
	/* Only ever fetch what the URL names: no redirects, no proxy from the environment, no
	 * scheme curl might otherwise accept. */
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https,ftp");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_PROXY, "");
	curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)download->timeout_ms);
	/* A stalled transfer (less than 1 byte/s for the timeout) is a timeout, not a hang. */
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, (long)MAX(1u, download->timeout_ms / 1000));
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, download);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, download);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	if (download->insecure) {
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	res = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);

	download->code = sim_net_map_result(download->kind, res, status);
	if (res == CURLE_OK)
		download->detail = g_strdup("ok");
	else
		download->detail = g_strdup_printf("%s (curl %d%s%s)", curl_easy_strerror(res),
		                                   (int)res, *errbuf != '\0' ? ": " : "", errbuf);
	g_task_return_boolean(task, TRUE);
}

static void
on_task_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SimNetDownload *download = user_data;

	if (!g_cancellable_is_cancelled(download->cancellable))
		download->done(download, download->user_data);
	sim_net_download_unref(download);
}

SimNetDownload *
sim_net_download_start(const char *url, SimUrlKind kind, const SimConfig *cfg, SimNetDoneFunc done,
                       gpointer user_data)
{
	SimNetDownload *download = g_atomic_rc_box_new0(SimNetDownload);
	g_autoptr(GTask) task = NULL;

	download->url = g_strdup(url);
	download->kind = kind;
	download->timeout_ms = cfg->net_timeout_ms;
	download->insecure = cfg->https_insecure;
	download->done = done;
	download->user_data = user_data;
	download->cancellable = g_cancellable_new();
	download->total = -1;
	download->parser = sim_package_parser_new();
	g_mutex_init(&download->lock);

	/* The task's callback owns one reference, the caller the other. */
	task = g_task_new(NULL, NULL, on_task_done, sim_net_download_ref(download));
	g_task_set_task_data(task, sim_net_download_ref(download),
	                     (GDestroyNotify)sim_net_download_unref);
	g_task_run_in_thread(task, run_download);
	return download;
}

void
sim_net_download_cancel(SimNetDownload *download)
{
	g_cancellable_cancel(download->cancellable);
}

void
sim_net_download_progress(SimNetDownload *download, guint64 *received, gint64 *total)
{
	g_mutex_lock(&download->lock);
	*received = download->received;
	*total = download->total;
	g_mutex_unlock(&download->lock);
}

int
sim_net_download_code(SimNetDownload *download)
{
	return download->code;
}

const char *
sim_net_download_detail(SimNetDownload *download)
{
	return download->detail;
}

SimPackageParser *
sim_net_download_steal_parser(SimNetDownload *download)
{
	return g_steal_pointer(&download->parser);
}
