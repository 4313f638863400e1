# SPDX-License-Identifier: LGPL-2.1-or-later
"""One user of the port at a time (issue 7, items 5 and 6).

Inside the daemon: GetModemInfo (an identification: ATI, AT+CGSN,
AT+QFOTADL=?) racing StartFile without flow control must neither put a command
into the package stream nor fail the job, and a failed identification must not
make later Starts refused. Between processes: the daemon clears TIOCEXCL when it
closes the tty (a daemon without CAP_SYS_ADMIN can open it again), says why a tty
held exclusive by someone else cannot be opened, and a second daemon on the same
port (root passes TIOCEXCL) is kept off by the port lock.

One meson test per case: one-user-of-the-port-* (tests/integration/meson.build)."""

import fcntl
import os
import termios
import types

import faults
import fotatest
from faults import SLOW_STREAM, QUICK_SIZE

# Linux: <asm-generic/ioctls.h> TIOCGEXCL = _IOR('T', 0x40, int); termios lacks it.
TIOCGEXCL = 0x80045440


class InsideTheDaemonTest(fotatest.FotaTestCase):
    """GetModemInfo and a job: one after the other on the port, never interleaved."""
    modem_config = SLOW_STREAM
    # ATE0 answers late, so that the job's commands and GetModemInfo's identification
    # (ATE0, ATI, AT+CGSN, AT+QFOTADL=?) are queued at the same time and would alternate
    # on the port: the identification's AT+QFOTADL=? would follow the job's
    # AT+QFOTADL="FILE:..." into the stream.
    sim_flags = ('--reply-delay', 'ATE0=300')

    def test_modem_info_racing_start_file(self):
        pkg = self.package(size=QUICK_SIZE)
        fd = os.open(pkg.path, os.O_RDONLY)
        self.addCleanup(os.close, fd)
        self.daemon.get_modem_info()  # identified: a StartFile now starts at once
        info = faults.call_async(self.daemon, 'GetModemInfo', '(a{sv})')
        start = faults.start_file_async(self.daemon, fd)
        fotatest.wait_until(lambda: start.done and info.done, 30, 'both calls to return')
        self.assertIsNone(start.error, f'StartFile failed: {start.error_name()}: '
                          f'{start.error and start.error.message}')
        self.assertIsNone(info.error, f'GetModemInfo failed: {info.error_name()}: '
                          f'{info.error and info.error.message}')
        _, fin = self.daemon.wait_finished(start.value[0], 40)
        # Whatever happened, a later Start must be accepted once the modem is back in
        # command mode: check that too before judging the first job.
        fotatest.spin(2)
        nxt = self.package(frm=self.sim.revision(), size=QUICK_SIZE, name='next.bin')
        try:
            job2 = self.daemon.start_file(nxt.path)
            fin2 = self.daemon.wait_finished(job2, 40)[1]
        except fotatest.GLib.Error as e:
            fin2 = ('refused', fotatest.remote_error(e), e.message)
        self.assertEqual((fin[1], fin2[1]), ('succeeded', 'succeeded'),
                         f'first job: {fin}; the next one: {fin2}; the modem got '
                         f'{self.sim.commands()}')
        self.assertEqual(self.sim.revision(), nxt.to)
        faults.assert_nothing_absorbed(self)

    def test_modem_info_during_the_stream(self):
        """GetModemInfo calls while the package streams answer from what was last
        read (no command reaches the modem) and the job succeeds."""
        pkg = self.package(size=QUICK_SIZE * 4)
        job = self.daemon.start_file(pkg.path)
        self.daemon.wait_state(job, 'downloading', 15)
        while not self.daemon.finished(job) and \
                not any(st != 'downloading' for st, _ in self.daemon.progress(job)[2:]):
            call = faults.call_async(self.daemon, 'GetModemInfo', '(a{sv})')
            fotatest.wait_until(lambda: call.done, 30, 'GetModemInfo')
            self.assertIsNone(call.error, call.error and call.error.message)
            fotatest.spin(0.2)
        _, fin = self.daemon.wait_finished(job, 40)
        self.assertEqual(fin[1], 'succeeded', fin)
        faults.assert_nothing_absorbed(self)


class OtherProcessesTest(fotatest.FotaTestCase):
    """The tty and the port lock between processes."""
    start_http = True
    start_daemon = False

    def begin(self, *flags, program=None):
        self.start_sim(list(flags))
        self.restart_daemon(program=program)

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
        nocaps = faults.without_cap_sys_admin(self)
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
        nocaps = faults.without_cap_sys_admin(self)
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
