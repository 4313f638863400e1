#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A stand-in for quectel-fotad that only exercises the harness (test_harness.py):
same command line, owns org.quectel.Fota1 on the session bus, StartFile reports the
size of the fd it got, StartUrl refuses a quote, every job succeeds at once."""

import os
import sys
import uuid

from gi.repository import Gio, GLib

XML = open(os.path.join(os.environ['FOTA_SRCDIR'], 'dbus', 'org.quectel.Fota1.xml')).read()
IFACE = 'org.quectel.Fota1'
state = {'State': 'idle', 'JobId': '', 'job': {}}


def finish(conn, job):
    for st, pc in (('preparing', 0), ('downloading', 50), ('downloading', 100),
                   ('updating', 100), ('rebooting', 0), ('verifying', 0), ('succeeded', 100)):
        conn.emit_signal(None, '/org/quectel/Fota1', IFACE, 'Progress',
                         GLib.Variant('(ssu)', (job, st, pc)))
    state['State'] = 'succeeded'
    conn.emit_signal(None, '/org/quectel/Fota1', IFACE, 'Finished',
                     GLib.Variant('(ssss)', (job, 'succeeded', '', '')))
    return False


def on_call(conn, sender, path, iface, method, params, inv):
    if method == 'StartUrl':
        url, _ = params.unpack()
        if '"' in url:
            inv.return_dbus_error('org.quectel.Fota1.Error.InvalidArgument', 'quote in URL')
            return
        source = url
    elif method == 'StartFile':
        fds = inv.get_message().get_unix_fd_list()
        fd = fds.get(params.unpack()[0])
        source = f'file:{os.fstat(fd).st_size}'
        os.close(fd)
    elif method == 'GetJob':
        inv.return_value(GLib.Variant('(a{sv})', (state['job'],)))
        return
    else:
        inv.return_dbus_error('org.quectel.Fota1.Error.NotSupported', method)
        return
    job = uuid.uuid4().hex
    state.update(State='preparing', JobId=job,
                 job={'id': GLib.Variant('s', job), 'source': GLib.Variant('s', source)})
    inv.return_value(GLib.Variant('(s)', (job,)))
    GLib.timeout_add(100, finish, conn, job)


def get_prop(conn, sender, path, iface, name):
    return GLib.Variant('s', state.get(name, '')) if name != 'Percent' else GLib.Variant('u', 0)


def on_bus(conn, name):
    info = Gio.DBusNodeInfo.new_for_xml(XML).interfaces[0]
    conn.register_object('/org/quectel/Fota1', info, on_call, get_prop, None)


if '--session' not in sys.argv:
    sys.exit(2)
Gio.bus_own_name(Gio.BusType.SESSION, IFACE, Gio.BusNameOwnerFlags.NONE, on_bus, None,
                 lambda *a: sys.exit(1))
GLib.MainLoop().run()
