/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sim-pty.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/* The host may stop reading; output beyond this is dropped rather than grown without bound. */
#define MAX_QUEUED (256 * 1024)
/* A reboot waits for the host to take the last output, but at most this long without progress
 * (a write to the master, or the start of the wait for the host to read it): --split-writes
 * paces a long backlog over seconds, a host that stops reading must not stall the reboot. */
#define DRAIN_DEADLINE_MS 1000
#define READ_POLL_MS      5
/* The kernel moves written bytes to the slave's queue from a work queue: an
 * empty queue right after a write may still have bytes on their way. Empty
 * this many polls in a row (200 ms) means read, and a modem takes this long
 * anyway. 50 ms was not enough on a loaded machine: END,504 was still on its
 * way 175 ms later, and the hang-up discarded it. */
#define READ_POLL_EMPTY 40

struct _SimPty {
	const SimConfig *cfg;
	SimLog *log;
	GRand *rand;
	SimPtyHandlers handlers;

	int master;
	int slave; /* held open so master reads never EIO when the host closes its end */
	char *pts_path;
	gboolean ready_written;

	GByteArray *out;
	guint in_source;
	guint out_source;   /* G_IO_OUT watch while the master is full */
	guint split_source; /* timer between --split-writes pieces */

	gboolean reboot_pending; /* waiting for the output to drain */
	guint gone_ms;           /* how long the tty stays away this time */
	guint empty_polls;       /* consecutive polls that found the slave's queue empty */
	guint reboot_source;     /* drain deadline, gone period or boot URC delay */
	guint read_poll_source;  /* waiting for the host to read the last output */
	guint64 dropped;
};

static void flush_out(SimPty *pty);
static void arm_drain_deadline(SimPty *pty);

static void
remove_source(guint *id)
{
	if (*id != 0) {
		g_source_remove(*id);
		*id = 0;
	}
}

/* Publishes the pty under the link path atomically: a reader never sees a missing or
 * half-made link while it is being re-pointed. */
static gboolean
publish_link(SimPty *pty, GError **error)
{
	g_autofree char *tmp = g_strdup_printf("%s.tmp-%d", pty->cfg->link, (int)getpid());

	(void)unlink(tmp);
	if (symlink(pty->pts_path, tmp) != 0 || rename(tmp, pty->cfg->link) != 0) {
		int saved = errno;
		(void)unlink(tmp);
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved),
		            "cannot link %s to %s: %s", pty->cfg->link, pty->pts_path,
		            g_strerror(saved));
		return FALSE;
	}
	return TRUE;
}

static int
open_master(char **pts_path, GError **error)
{
	int fd = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	const char *name;

	if (fd < 0 || grantpt(fd) != 0 || unlockpt(fd) != 0 || (name = ptsname(fd)) == NULL) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved),
		            "cannot create a pty: %s", g_strerror(saved));
		return -1;
	}
	*pts_path = g_strdup(name);
	return fd;
}

static gboolean
on_input(gint fd, GIOCondition condition, gpointer user_data)
{
	SimPty *pty = user_data;
	guint8 buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return G_SOURCE_CONTINUE;
	if (n <= 0) {
		/* Cannot happen while we hold the slave; stop watching rather than spin. */
		g_warning("pty read failed: %s", n < 0 ? g_strerror(errno) : "EOF");
		pty->in_source = 0;
		return G_SOURCE_REMOVE;
	}
	if (!pty->reboot_pending)
		pty->handlers.input(buf, (gsize)n, pty->handlers.user_data);
	return G_SOURCE_CONTINUE;
}

static gboolean
open_pty(SimPty *pty, GError **error)
{
	g_autofree char *first_path = NULL;
	int first = open_master(&first_path, error);
	struct termios tio;

	if (first < 0)
		return FALSE;
	/* Linux hands out the lowest free pts number, often the one just closed; a real modem
	 * re-enumerating usually comes back under another name, so insist on a new one. */
	if (pty->pts_path != NULL && g_str_equal(first_path, pty->pts_path)) {
		g_autofree char *second_path = NULL;
		int second = open_master(&second_path, error);
		close(first);
		if (second < 0)
			return FALSE;
		first = second;
		g_free(first_path);
		first_path = g_steal_pointer(&second_path);
	}
	pty->master = first;
	g_free(pty->pts_path);
	pty->pts_path = g_steal_pointer(&first_path);

	pty->slave = open(pty->pts_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (pty->slave < 0 || tcgetattr(pty->slave, &tio) != 0) {
		int saved = errno;
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved),
		            "cannot open %s: %s", pty->pts_path, g_strerror(saved));
		return FALSE;
	}
	/* Raw: no echo, no CR/LF translation by the line discipline; the modem echoes itself. */
	cfmakeraw(&tio);
	if (tcsetattr(pty->slave, TCSANOW, &tio) != 0) {
		int saved = errno;
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved),
		            "cannot set %s raw: %s", pty->pts_path, g_strerror(saved));
		return FALSE;
	}
	if (!publish_link(pty, error))
		return FALSE;
	pty->in_source = g_unix_fd_add(pty->master, G_IO_IN, on_input, pty);

	SimLogEntry *entry = sim_log_begin(pty->log, "link");
	sim_log_str(entry, "path", pty->pts_path);
	sim_log_end(entry);

	if (!pty->ready_written && pty->cfg->ready_file != NULL) {
		if (!g_file_set_contents(pty->cfg->ready_file, pty->pts_path, -1, error))
			return FALSE;
		pty->ready_written = TRUE;
	}
	return TRUE;
}

static void
close_pty(SimPty *pty)
{
	remove_source(&pty->in_source);
	remove_source(&pty->out_source);
	remove_source(&pty->split_source);
	if (pty->master >= 0)
		close(pty->master);
	if (pty->slave >= 0)
		close(pty->slave);
	pty->master = -1;
	pty->slave = -1;
	g_byte_array_set_size(pty->out, 0);
}

SimPty *
sim_pty_new(const SimConfig *cfg, SimLog *log, GRand *rand, const SimPtyHandlers *handlers,
            GError **error)
{
	g_autoptr(SimPty) pty = g_new0(SimPty, 1);

	pty->cfg = cfg;
	pty->log = log;
	pty->rand = rand;
	pty->handlers = *handlers;
	pty->master = -1;
	pty->slave = -1;
	pty->out = g_byte_array_new();
	if (!open_pty(pty, error))
		return NULL;
	return g_steal_pointer(&pty);
}

void
sim_pty_free(SimPty *pty)
{
	if (pty == NULL)
		return;
	remove_source(&pty->reboot_source);
	remove_source(&pty->read_poll_source);
	/* Remove the link only if it is ours (a half-made pty may not have created it). */
	if (pty->master >= 0)
		(void)unlink(pty->cfg->link);
	close_pty(pty);
	g_byte_array_unref(pty->out);
	g_free(pty->pts_path);
	g_free(pty);
}

gboolean
sim_pty_is_up(const SimPty *pty)
{
	return pty->master >= 0;
}

void
sim_pty_pause_input(SimPty *pty, gboolean paused)
{
	if (paused)
		remove_source(&pty->in_source);
	else if (pty->master >= 0 && pty->in_source == 0)
		pty->in_source = g_unix_fd_add(pty->master, G_IO_IN, on_input, pty);
}

static gboolean
on_writable(gint fd, GIOCondition condition, gpointer user_data)
{
	SimPty *pty = user_data;

	pty->out_source = 0;
	flush_out(pty);
	return G_SOURCE_REMOVE;
}

static gboolean
on_split_timer(gpointer user_data)
{
	SimPty *pty = user_data;

	pty->split_source = 0;
	flush_out(pty);
	return G_SOURCE_REMOVE;
}

static void teardown_when_read(SimPty *pty);

/* Writes what the master takes. With --split-writes one small piece per 1..3 ms, so the host
 * sees lines arrive in fragments. */
static void
flush_out(SimPty *pty)
{
	while (pty->out->len > 0 && pty->master >= 0) {
		gsize chunk = pty->out->len;
		ssize_t n;

		if (pty->out_source != 0 || pty->split_source != 0)
			return;
		if (pty->cfg->split_writes) {
			/* Not inside MIN(): it would draw twice. */
			gsize piece = (gsize)g_rand_int_range(pty->rand, 1, 9);
			chunk = MIN(chunk, piece);
		}
		n = write(pty->master, pty->out->data, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			pty->out_source = g_unix_fd_add(pty->master, G_IO_OUT, on_writable, pty);
			return;
		}
		if (n < 0) {
			g_warning("pty write failed: %s", g_strerror(errno));
			g_byte_array_set_size(pty->out, 0);
			break;
		}
		g_byte_array_remove_range(pty->out, 0, (guint)n);
		if (pty->reboot_pending)
			arm_drain_deadline(pty);
		if (pty->cfg->split_writes && pty->out->len > 0) {
			pty->split_source = g_timeout_add((guint)g_rand_int_range(pty->rand, 1, 4),
			                                  on_split_timer, pty);
			return;
		}
	}
	if (pty->out->len == 0 && pty->reboot_pending)
		teardown_when_read(pty);
}

void
sim_pty_queue(SimPty *pty, const void *data, gsize len)
{
	if (pty->master < 0 || pty->reboot_pending)
		return;
	if (pty->out->len + len > MAX_QUEUED) {
		pty->dropped += len;
		return;
	}
	g_byte_array_append(pty->out, data, (guint)len);
	flush_out(pty);
}

static gboolean
on_boot_delay_done(gpointer user_data)
{
	SimPty *pty = user_data;

	pty->reboot_source = 0;
	pty->handlers.booted(pty->handlers.user_data);
	return G_SOURCE_REMOVE;
}

static gboolean
on_gone_done(gpointer user_data)
{
	SimPty *pty = user_data;
	g_autoptr(GError) error = NULL;

	pty->reboot_source = 0;
	if (!open_pty(pty, &error)) {
		/* Nothing sensible is left to simulate without a tty. */
		g_printerr("fota-modem-sim: %s\n", error->message);
		exit(1);
	}
	pty->reboot_source = g_timeout_add(pty->cfg->boot_urc_delay_ms, on_boot_delay_done, pty);
	return G_SOURCE_REMOVE;
}

static void
finish_teardown(SimPty *pty)
{
	pty->reboot_pending = FALSE;
	remove_source(&pty->reboot_source);
	remove_source(&pty->read_poll_source);
	(void)unlink(pty->cfg->link);
	close_pty(pty);
	pty->reboot_source = g_timeout_add(pty->gone_ms, on_gone_done, pty);
}

/* Bytes the host has not read yet sit in the slave's input queue, and closing the master
 * hangs the slave up, which discards them. A modem's last words before a reboot (END,0, the
 * OK to AT+CFUN=1,1) are worth waiting for, within the drain deadline. */
static gboolean
on_read_poll(gpointer user_data)
{
	SimPty *pty = user_data;
	int pending = 0;

	if (ioctl(pty->slave, FIONREAD, &pending) == 0 && pending > 0)
		pty->empty_polls = 0;
	else
		pty->empty_polls++;
	if (pty->empty_polls < READ_POLL_EMPTY)
		return G_SOURCE_CONTINUE;
	pty->read_poll_source = 0;
	finish_teardown(pty);
	return G_SOURCE_REMOVE;
}

static void
teardown_when_read(SimPty *pty)
{
	arm_drain_deadline(pty);
	pty->empty_polls = 0;
	if (pty->read_poll_source == 0)
		pty->read_poll_source = g_timeout_add(READ_POLL_MS, on_read_poll, pty);
}

static gboolean
on_drain_deadline(gpointer user_data)
{
	SimPty *pty = user_data;

	pty->reboot_source = 0;
	finish_teardown(pty);
	return G_SOURCE_REMOVE;
}

static void
arm_drain_deadline(SimPty *pty)
{
	remove_source(&pty->reboot_source);
	pty->reboot_source = g_timeout_add(DRAIN_DEADLINE_MS, on_drain_deadline, pty);
}

void
sim_pty_reboot(SimPty *pty, gboolean drain, guint gone_ms)
{
	if (pty->master < 0 || pty->reboot_pending)
		return;
	pty->gone_ms = gone_ms;
	if (drain) {
		pty->reboot_pending = TRUE;
		arm_drain_deadline(pty);
		if (pty->out->len == 0)
			teardown_when_read(pty);
		return;
	}
	/* A pending boot URC delay belongs to the previous boot. */
	remove_source(&pty->reboot_source);
	finish_teardown(pty);
}
