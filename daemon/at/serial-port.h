/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

typedef enum {
	SERIAL_FLOW_NONE,
	SERIAL_FLOW_HARDWARE, /* RTS/CTS */
} SerialFlow;

#define SERIAL_PORT_ERROR (serial_port_error_quark())
GQuark serial_port_error_quark(void);
typedef enum {
	SERIAL_PORT_ERROR_OPEN,
	SERIAL_PORT_ERROR_BUSY, /* TIOCEXCL held by someone else */
	SERIAL_PORT_ERROR_CONFIG,
	SERIAL_PORT_ERROR_BAUD,
} SerialPortError;

/* Opens a tty O_RDWR|O_NOCTTY|O_NONBLOCK|O_CLOEXEC, takes TIOCEXCL and sets
 * raw 8N1 at @baud with or without RTS/CTS. Works on ttyUSB/ttyACM/ttyS and
 * ptys. Returns the fd, or -1 with @error set. */
int serial_port_open(const char *path, guint baud, SerialFlow flow, GError **error);

/* Returns: (transfer none): "hardware", "none" */
const char *serial_flow_to_string(SerialFlow flow);
