# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue 7, item 6 (daemon side): SIGHUP, a 4 GiB package, +CME ERROR messages,
an early FILEEND, Cancel while StartFile hashes, TIOCEXCL left on the tty, and a
second daemon on the same port."""

import fcntl
import os
import signal
import termios
import time
import types

import fotatest
import i7common
from fotatest import opts, s
from i7common import SLOW_STREAM, SLOW_SIZE

# Linux: <asm-generic/ioctls.h> TIOCGEXCL = _IOR('T', 0x40, int); termios lacks it.
TIOCGEXCL = 0x80045440


class SmallerTest(fotatest.FotaTestCase):
    start_http = True
    start_daemon = False

    def begin(self, *flags, modem=None, program=None):
        self.start_sim(list(flags))
        self.restart_daemon(modem=modem, program=program)

    def test_sighup_does_not_end_the_daemon(self):
        self.begin('--download-ms', '3000')
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name))
        self.daemon.wait_state(job, 'downloading', 15)
        self.daemon.proc.send_signal(signal.SIGHUP)
        fotatest.spin(1)
        self.assertIsNone(self.daemon.proc.poll(),
                          f'SIGHUP ended the daemon (status {self.daemon.proc.returncode})')
        _, fin = self.daemon.wait_finished(job, 40)
        self.assertEqual(fin[1], 'succeeded', fin)
        self.assertEqual(self.sim.revision(), pkg.to)

    def test_package_of_4_gib_is_refused(self):
        """The length field holds at most 2^32-1: refused before the modem hears of it."""
        self.begin()
        big = os.path.join(self.tmpdir, 'big.bin')
        with open(big, 'wb') as f:
            f.truncate(1 << 32)  # sparse
        # the daemon's own identification at start is not the job's
        fotatest.wait_until(lambda: self.daemon.prop('ModemRevision'), 15,
                            'the daemon to identify the modem')
        before = len(self.sim.commands())
        try:
            msg = self.assertDBusError('InvalidArgument', self.daemon.start_file, big)
        finally:
            fotatest.spin(0.5)
            self.assertEqual(i7common.new_commands(self.sim, before), [])
        self.assertIn('4294967296', msg)

    def test_cme_error_message_names_the_command_once(self):
        self.begin('--cme-error', 'AT+QCFG="usbifc"=3')
        pkg = self.package()
        job = self.daemon.start_file(pkg.path)
        _, fin = self.daemon.wait_finished(job, 30)
        self.assertEqual(fin[1], 'failed', fin)
        self.assertIn('+CME ERROR: 3', fin[3])
        self.assertEqual(fin[3].count('AT+QCFG'), 1, fin[3])

    def early_fileend(self, code):
        """The modem ends the transfer (FILEEND,<code>) after 8 KiB of a 96 KiB package
        sent without flow control, and checks the package for 1.5 s (--check-ms):
        the daemon stops sending at once."""
        self.begin('--file-early-end', f'8192,{code}', '--check-ms', '1500',
                   modem=SLOW_STREAM)
        pkg = self.package(size=SLOW_SIZE)
        job = self.daemon.start_file(pkg.path)
        after = fotatest.wait_until(lambda: self.sim.events('after-file'), 20,
                                    'the simulator to count the bytes after FILEEND')
        # 1 s at the paced rate is 16 KiB; what was in flight is a few writes of 32 bytes.
        self.assertLess(after[0]['bytes'], 1024,
                        f'the daemon went on streaming after FILEEND,{code}: {after[0]}')
        _, fin = self.daemon.wait_finished(job, 20)
        self.assertEqual(fin[1], 'failed', fin)
        small = self.package(size=2048, name='small.bin')  # ends before 8 KiB
        job2 = i7common.start_file_or_fail(self, small.path)
        _, fin2 = self.daemon.wait_finished(job2, 30)
        self.assertEqual(fin2[1], 'succeeded', fin2)

    def test_early_fileend_500_stops_the_stream(self):
        self.early_fileend(500)

    def test_early_fileend_0_stops_the_stream(self):
        """FILEEND,0 although bytes are missing: the modem checks (and fails) the partial
        package; the rest of the package must not follow as AT input meanwhile."""
        self.early_fileend(0)

    def test_cancel_while_start_file_hashes(self):
        """Cancel while StartFile hashes a 4 GiB - 1 sparse package: the job never
        reaches the modem."""
        self.begin()
        big = os.path.join(self.tmpdir, 'big.bin')
        with open(big, 'wb') as f:
            f.truncate((1 << 32) - 1)
        before = len(self.sim.commands())
        fd = os.open(big, os.O_RDONLY)
        self.addCleanup(os.close, fd)
        hashed_at = time.monotonic()
        start = i7common.start_file_async(self.daemon, fd, opts(sha256=s('0' * 64)))
        fotatest.spin(0.3)
        self.assertFalse(start.done, 'StartFile returned before the Cancel: '
                         f'{start.value or start.error_name()} (hashing was too quick)')
        try:
            self.daemon.cancel()
        except fotatest.GLib.Error as e:
            self.fail(f'Cancel while hashing: {fotatest.remote_error(e)}: {e.message}')
        fotatest.wait_until(lambda: start.done, 120, 'StartFile to return')
        if start.error is None:
            job = start.value[0]
            _, fin = self.daemon.wait_finished(job, 30)
            self.assertEqual(fin[1], 'cancelled', fin)
        self.assertLess(time.monotonic() - hashed_at, 30, 'the hashing went on')
        fotatest.spin(0.5)
        job_commands = [c for c in i7common.new_commands(self.sim, before)
                        if c.startswith(('AT+QFOTADL="', 'AT+QCFG'))]
        self.assertEqual(job_commands, [])

    # -- the tty

    def tiocexcl_of(self, fd):
        buf = fcntl.ioctl(fd, TIOCGEXCL, b'\0\0\0\0')
        return int.from_bytes(buf, 'little')

    def hold_the_tty(self):
        fd = os.open(self.port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self.addCleanup(os.close, fd)
        return fd

    def test_tiocexcl_is_cleared_on_close(self):
        """Another process keeps the tty open across a restart of a daemon without
        CAP_SYS_ADMIN (as under its unit): the restarted daemon opens it again."""
        nocaps = i7common.without_cap_sys_admin(self)
        self.begin(program=nocaps)
        self.assertEqual(self.daemon.get_modem_info()['model'], 'EC200T')
        holder = self.hold_the_tty()
        self.daemon.stop()
        self.assertEqual(self.tiocexcl_of(holder), 0, 'TIOCEXCL left on the tty')
        self.restart_daemon(program=nocaps)
        try:
            info = self.daemon.get_modem_info()
        except fotatest.GLib.Error as e:
            self.fail(f'the restarted daemon cannot use the port: {e.message}')
        self.assertEqual(info['model'], 'EC200T')

    def test_open_error_is_named(self):
        """A tty left exclusive by someone else: the error says why it cannot be opened."""
        nocaps = i7common.without_cap_sys_admin(self)
        self.start_sim([])
        holder = self.hold_the_tty()
        fcntl.ioctl(holder, termios.TIOCEXCL)
        self.addCleanup(fcntl.ioctl, holder, termios.TIOCNXCL)
        self.restart_daemon(program=nocaps)
        fotatest.spin(1)
        with self.assertRaises(fotatest.GLib.Error) as cm:
            self.daemon.get_modem_info()
        msg = cm.exception.message
        self.assertIn('busy', msg.lower(), msg)

    def test_second_daemon_on_the_same_port_is_refused(self):
        """Root passes TIOCEXCL: an advisory lock must keep a second daemon (another
        bus, another state dir) off the port."""
        self.begin()
        other = os.path.join(self.tmpdir, 'second')
        os.makedirs(os.path.join(other, 'state'))
        bus = fotatest.PrivateBus(other)
        self.addCleanup(bus.stop)
        shim = types.SimpleNamespace(bus=bus, tmpdir=other, daemon_logs=self.daemon_logs,
                                     port=self.port, state_dir=os.path.join(other, 'state'),
                                     config_path=os.path.join(other, 'fotad.conf'))
        fotatest.write_config(shim.config_path, self.port, shim.state_dir, self.boot_id_file,
                              self.timeouts, lock_dir=self.tmpdir)  # the same machine
        try:
            second = fotatest.Daemon(shim)
        except AssertionError as e:  # it exited: it must say why
            self.assertRegex(str(e).lower(), r'lock|in use|busy', str(e))
        else:
            self.addCleanup(second.stop)
            fotatest.spin(1)
            try:
                info = second.get_modem_info()
            except fotatest.GLib.Error as e:
                self.assertRegex(e.message.lower(), r'lock|in use|busy', e.message)
                self.assertIn(self.port, e.message)
            else:
                self.fail(f'a second daemon opened {self.port} and identified {info}')
        # The first one is unaffected.
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name))
        _, fin = self.daemon.wait_finished(job, 40)
        self.assertEqual(fin[1], 'succeeded', fin)


if __name__ == '__main__':
    fotatest.main()
