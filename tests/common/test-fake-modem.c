/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test-fake-modem.h"

#include <fcntl.h>
#include <glib-unix.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *
answer(const char *line)
{
	if (g_str_equal(line, "ATI"))
		return "Quectel\r\nEC200T\r\nRevision: EC200TCNDAR02A01M16\r\n\r\nOK\r\n";
	if (g_str_equal(line, "AT+CGSN"))
		return "867123456789012\r\n\r\nOK\r\n";
	if (g_str_equal(line, "AT+QFOTADL=?"))
		return "+QFOTADL: <url>,(0,1),(0,5-100),(0,5-100)\r\n\r\nOK\r\n";
	return "OK\r\n";
}

static gboolean
on_master(int fd, GIOCondition condition, gpointer user_data)
{
	TestFakeModem *m = user_data;
	char buf[256];
	gssize n = read(fd, buf, sizeof(buf));

	for (gssize i = 0; i < n; i++) {
		const char *reply;

		if (buf[i] != '\r') {
			g_string_append_c(m->pending, buf[i]);
			continue;
		}
		g_ptr_array_add(m->received, g_strdup(m->pending->str));
		if (m->stale != NULL)
			assert_true(write(fd, m->stale, strlen(m->stale)) > 0);
		g_clear_pointer(&m->stale, g_free);
		reply = answer(m->pending->str);
		assert_true(write(fd, reply, strlen(reply)) > 0);
		g_string_truncate(m->pending, 0);
	}
	if (n > 0)
		return G_SOURCE_CONTINUE;
	m->watch = 0;
	return G_SOURCE_REMOVE;
}

TestFakeModem *
test_fake_modem_new(const char *dir)
{
	TestFakeModem *m = g_new0(TestFakeModem, 1);

	m->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(m->master >= 0);
	assert_int_equal(grantpt(m->master), 0);
	assert_int_equal(unlockpt(m->master), 0);
	assert_true(g_unix_set_fd_nonblocking(m->master, TRUE, NULL));
	m->link = g_build_filename(dir, "ttyUSB1", NULL);
	assert_int_equal(symlink(ptsname(m->master), m->link), 0);
	m->pending = g_string_new(NULL);
	m->received = g_ptr_array_new_with_free_func(g_free);
	m->watch = g_unix_fd_add(m->master, G_IO_IN, on_master, m);
	return m;
}

void
test_fake_modem_free(TestFakeModem *m)
{
	g_clear_handle_id(&m->watch, g_source_remove);
	close(m->master);
	g_free(m->link);
	g_free(m->stale);
	g_string_free(m->pending, TRUE);
	g_ptr_array_unref(m->received);
	g_free(m);
}

void
test_fake_modem_urc(TestFakeModem *m, const char *line)
{
	g_autofree char *text = g_strdup_printf("\r\n%s\r\n", line);

	assert_true(write(m->master, text, strlen(text)) > 0);
}

void
test_fake_modem_owe(TestFakeModem *m, const char *text)
{
	g_free(m->stale);
	m->stale = g_strdup(text);
}
