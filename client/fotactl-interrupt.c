/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fotactl-interrupt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <glib-unix.h>

/* A signal handler reaches nothing but static storage: the write end of
 * the pipe that wakes the main context, and how many SIGINTs came. */
static int wake_fd = -1;
static volatile sig_atomic_t n_sigint;

static void
on_sigint(int signo)
{
	int saved_errno = errno;

	if (n_sigint++ > 0) {
		/* Blocked while this handler runs: delivered, with its default
		 * action, as soon as it returns. */
		signal(SIGINT, SIG_DFL);
		raise(SIGINT);
	} else if (write(wake_fd, "", 1) < 0) {
		/* Nothing to do: the pipe is non-blocking and one byte is
		 * enough. */
	}
	errno = saved_errno;
}

typedef struct {
	GSourceFunc func;
	gpointer data;
	int read_fd;
} Interrupt;

static gboolean
on_wake(int fd, GIOCondition condition, gpointer user_data)
{
	Interrupt *interrupt = user_data;

	interrupt->func(interrupt->data);
	return G_SOURCE_REMOVE;
}

static void
interrupt_free(gpointer data)
{
	Interrupt *interrupt = data;

	close(interrupt->read_fd);
	g_free(interrupt);
}

guint
fotactl_interrupt_install(GSourceFunc func, gpointer data)
{
	struct sigaction action = {.sa_handler = on_sigint, .sa_flags = SA_RESTART};
	Interrupt *interrupt = g_new0(Interrupt, 1);
	int fds[2];

	g_return_val_if_fail(wake_fd < 0, 0);
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		g_error("fotactl: cannot make a pipe: %s", g_strerror(errno));
	interrupt->func = func;
	interrupt->data = data;
	interrupt->read_fd = fds[0];
	wake_fd = fds[1];
	sigemptyset(&action.sa_mask);
	sigaction(SIGINT, &action, NULL);
	return g_unix_fd_add_full(G_PRIORITY_HIGH, fds[0], G_IO_IN, on_wake, interrupt,
	                          interrupt_free);
}
