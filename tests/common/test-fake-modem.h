/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A scripted modem on the master side of a real pty, for the tests of the
 * daemon's modem and job layers: answers identification commands like an
 * EC200T, "OK" to anything else, and records every line it receives.
 * Include after <cmocka.h>. */
#pragma once

#include <glib.h>

typedef struct {
	int master;
	char *link;          /* a symlink to the pty's slave: the "port" */
	GPtrArray *received; /* the lines the modem got */
	GString *pending;
	char *stale; /* written ahead of the next answer */
	guint watch;
} TestFakeModem;

/* The link is made in @dir. */
TestFakeModem *test_fake_modem_new(const char *dir);
void test_fake_modem_free(TestFakeModem *modem);

/* Sends @line as an unsolicited result code. */
void test_fake_modem_urc(TestFakeModem *modem, const char *line);

/* The next command's answer comes after @text, as from a modem that still
 * owed @text to a command somebody else sent before. */
void test_fake_modem_owe(TestFakeModem *modem, const char *text);
