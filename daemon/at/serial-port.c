/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "serial-port.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/* G_DEFINE_QUARK stringifies its first argument: keep it unformatted. */
/* clang-format off */
G_DEFINE_QUARK(quectel-fotad-serial-port-error-quark, serial_port_error)
/* clang-format on */

static const struct {
	guint baud;
	speed_t speed;
} baud_table[] = {
        {9600, B9600},       {19200, B19200},     {38400, B38400},     {57600, B57600},
        {115200, B115200},   {230400, B230400},   {460800, B460800},   {500000, B500000},
        {576000, B576000},   {921600, B921600},   {1000000, B1000000}, {1152000, B1152000},
        {1500000, B1500000}, {2000000, B2000000}, {2500000, B2500000}, {3000000, B3000000},
        {3500000, B3500000}, {4000000, B4000000},
};

static gboolean
baud_to_speed(guint baud, speed_t *speed)
{
	for (guint i = 0; i < G_N_ELEMENTS(baud_table); i++) {
		if (baud_table[i].baud == baud) {
			*speed = baud_table[i].speed;
			return TRUE;
		}
	}
	return FALSE;
}

const char *
serial_flow_to_string(SerialFlow flow)
{
	return flow == SERIAL_FLOW_HARDWARE ? "hardware" : "none";
}

static gboolean
configure(int fd, const char *path, speed_t speed, SerialFlow flow, GError **error)
{
	struct termios tio;

	if (tcgetattr(fd, &tio) < 0) {
		g_set_error(error, SERIAL_PORT_ERROR, SERIAL_PORT_ERROR_CONFIG,
		            "cannot read the termios of %s: %s", path, g_strerror(errno));
		return FALSE;
	}
	cfmakeraw(&tio);
	/* cfmakeraw() leaves software flow control on input as it was: the
	 * kernel would then send XON/XOFF bytes into a FILE package */
	tio.c_iflag &= ~(IXOFF | IXANY);
	tio.c_cflag &= ~(CSTOPB | PARENB | CRTSCTS);
	tio.c_cflag |= CS8 | CLOCAL | CREAD;
	if (flow == SERIAL_FLOW_HARDWARE)
		tio.c_cflag |= CRTSCTS;
	/* Non-blocking reads: the main loop polls, VMIN/VTIME do not matter
	 * beyond not making a read wait. */
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	cfsetispeed(&tio, speed);
	cfsetospeed(&tio, speed);
	/* A pty accepts but ignores speed and flow bits, so the result is not
	 * read back and compared: only a refusal is an error. */
	if (tcsetattr(fd, TCSANOW, &tio) < 0) {
		g_set_error(error, SERIAL_PORT_ERROR, SERIAL_PORT_ERROR_CONFIG,
		            "cannot set raw 8N1 with %s flow control on %s: %s",
		            serial_flow_to_string(flow), path, g_strerror(errno));
		return FALSE;
	}
	/* Whatever the modem said before we listened belongs to nobody. */
	tcflush(fd, TCIOFLUSH);
	return TRUE;
}

static int
open_error(const char *path, int err, GError **error)
{
	/* EBUSY is what open() reports when another process holds TIOCEXCL. */
	g_set_error(error, SERIAL_PORT_ERROR,
	            err == EBUSY ? SERIAL_PORT_ERROR_BUSY : SERIAL_PORT_ERROR_OPEN,
	            "cannot open %s: %s", path, g_strerror(err));
	return -1;
}

int
serial_port_open(const char *path, guint baud, SerialFlow flow, GError **error)
{
	speed_t speed;
	int fd;

	if (!baud_to_speed(baud, &speed)) {
		g_set_error(error, SERIAL_PORT_ERROR, SERIAL_PORT_ERROR_BAUD,
		            "unsupported baud rate %u for %s (9600..4000000, standard rates only)",
		            baud, path);
		return -1;
	}
	fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return open_error(path, errno, error);
	/* TIOCEXCL does not stop a process with CAP_SYS_ADMIN (a second daemon
	 * run as root): the advisory lock does, for every cooperating user. */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		g_set_error(error, SERIAL_PORT_ERROR, SERIAL_PORT_ERROR_BUSY,
		            "%s is locked by another program (flock: %s)", path, g_strerror(err));
		close(fd);
		return -1;
	}
	if (ioctl(fd, TIOCEXCL) < 0) {
		int err = errno;
		g_set_error(error, SERIAL_PORT_ERROR, SERIAL_PORT_ERROR_CONFIG,
		            "cannot take exclusive access (TIOCEXCL) of %s: %s", path,
		            g_strerror(err));
		close(fd);
		return -1;
	}
	if (!configure(fd, path, speed, flow, error)) {
		close(fd);
		return -1;
	}
	return fd;
}
