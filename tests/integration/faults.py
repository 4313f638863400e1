# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers of the fault tests (test_data_mode, test_package_integrity,
test_storage_faults, test_one_user_of_the_port, and a few in test_control,
test_validation, test_failures): what the simulator's log proves about FILE
transfers (commands absorbed into a package), asynchronous StartFile and
GetModemInfo calls, a small tmpfs made read-only or full, and a daemon without
CAP_SYS_ADMIN. Every wait is bounded; every mount is undone by a cleanup."""

import os
import shutil
import subprocess
import unittest

import fotatest
from fotatest import Gio, GLib

# FILE mode without flow control: paced writes make a stream slow enough to catch
# (16 KiB/s: a 96 KiB package streams for about 6 s).
SLOW_STREAM = {'flow-control': 'none', 'paced-rate': 16384}
SLOW_SIZE = 96 * 1024
QUICK_SIZE = 16 * 1024


def absorbed_commands(sim):
    """(first command, how many) of every FILE transfer that took AT command lines as
    package bytes: the modem was fed commands while it was in data mode."""
    return [(e.get('first_command'), e['commands']) for e in sim.file_events()
            if e.get('commands')]


def assert_nothing_absorbed(tc):
    files = tc.sim.file_events()
    tc.assertTrue(all('commands' in e for e in files),
                  f'the simulator does not count absorbed commands: {files}')
    tc.assertEqual(absorbed_commands(tc.sim), [],
                   f'AT commands went into a FILE package: {files}')


class AsyncCall:
    """A D-Bus call whose reply is collected by the main loop (wait with fotatest.wait_until)."""

    def __init__(self):
        self.done = False
        self.value = None
        self.error = None

    def _finish(self, conn, res, with_fds):
        try:
            if with_fds:
                self.value = conn.call_with_unix_fd_list_finish(res)[0].unpack()
            else:
                self.value = conn.call_finish(res).unpack()
        except GLib.Error as e:
            self.error = e
        self.done = True

    def error_name(self):
        return fotatest.remote_error(self.error) if self.error else None


def start_file_async(daemon, fd, options=None, timeout_ms=120000):
    call = AsyncCall()
    fdlist = Gio.UnixFDList.new()
    idx = fdlist.append(fd)
    daemon.bus.conn.call_with_unix_fd_list(
        fotatest.BUS_NAME, fotatest.OBJ_PATH, fotatest.IFACE, 'StartFile',
        GLib.Variant.new_tuple(GLib.Variant('h', idx), options or fotatest.opts()),
        GLib.VariantType('(s)'), Gio.DBusCallFlags.NO_AUTO_START, timeout_ms, fdlist, None,
        lambda conn, res: call._finish(conn, res, True))
    return call


def call_async(daemon, method, reply='()', timeout_ms=120000):
    call = AsyncCall()
    daemon.bus.conn.call(fotatest.BUS_NAME, fotatest.OBJ_PATH, fotatest.IFACE, method, None,
                         GLib.VariantType(reply), Gio.DBusCallFlags.NO_AUTO_START, timeout_ms,
                         None, lambda conn, res: call._finish(conn, res, False))
    return call


def start_file_or_fail(tc, path, options=None):
    """StartFile that must be accepted: a refusal fails the test with its error name."""
    try:
        return tc.daemon.start_file(path, options)
    except GLib.Error as e:
        tc.fail(f'StartFile was refused: {fotatest.remote_error(e)}: {e.message}')


def new_commands(sim, before):
    """Commands the modem received after the first @before ones."""
    return sim.commands()[before:]


# ---------------------------------------------------------------- mounts

def _run(argv):
    return subprocess.run(argv, capture_output=True, timeout=20)


def mount_tmpfs(tc, path, size='1m'):
    """A tmpfs on @path (tests run as root); skips the test, saying why, when mounting
    is impossible here. Unmounted by a cleanup."""
    if os.geteuid() != 0:
        raise unittest.SkipTest('mounting a tmpfs needs root; the test runs as uid '
                                f'{os.geteuid()}')
    res = _run(['mount', '-t', 'tmpfs', '-o', f'size={size},mode=0755', 'tmpfs', path])
    if res.returncode != 0:
        raise unittest.SkipTest(f'cannot mount a tmpfs on {path} here: '
                                f'{res.stderr.decode(errors="replace").strip()}')
    tc.addCleanup(lambda: _run(['umount', '-l', path]))


def remount(tc, path, mode):
    """mode 'ro' or 'rw' for a tmpfs mounted by mount_tmpfs."""
    res = _run(['mount', '-o', f'remount,{mode}', path])
    tc.assertEqual(res.returncode, 0, f'remount,{mode} {path}: {res.stderr!r}')


def fill(path):
    """Fills the file system holding @path until writes fail with ENOSPC."""
    def write_until_full(name, block):
        try:
            with open(os.path.join(path, name), 'wb', buffering=0) as f:
                while True:
                    f.write(block)
        except OSError:
            return False
    write_until_full('fill', b'\0' * 4096)
    for i in range(64):  # the last bytes, and inodes
        if write_until_full(f'fill.{i}', b'x') is False and \
                not os.path.exists(os.path.join(path, f'fill.{i}')):
            break


# ---------------------------------------------------------------- capabilities

def without_cap_sys_admin(tc):
    """A wrapper program running quectel-fotad as root but with no capabilities at all
    (as under its unit): TIOCEXCL then applies to it. Skips when setpriv is missing."""
    setpriv = shutil.which('setpriv')
    if setpriv is None:
        raise unittest.SkipTest('setpriv (util-linux) is not installed')
    wrapper = os.path.join(tc.tmpdir, 'fotad-nocaps')
    with open(wrapper, 'w') as f:
        f.write('#!/bin/sh\n# SPDX-License-Identifier: LGPL-2.1-or-later\n'
                f'exec {setpriv} --inh-caps=-all --ambient-caps=-all --bounding-set=-all '
                f'{fotatest.tool("FOTAD")} "$@"\n')
    os.chmod(wrapper, 0o755)
    return wrapper
