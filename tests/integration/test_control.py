# SPDX-License-Identifier: LGPL-2.1-or-later
"""One job at a time, and Cancel before and after the point of no return
(also while StartFile still hashes the package)."""

import os
import time

import faults
import fotatest
from fotatest import opts, s, u

# FILE mode without flow control: paced writes make the stream slow enough to catch.
SLOW_STREAM = {'flow-control': 'none', 'paced-rate': 16384}


class ControlTest(fotatest.FotaTestCase):
    start_http = True
    start_daemon = False

    def begin(self, *flags, modem=None, timeouts=None):
        self.start_sim(list(flags))
        self.restart_daemon(modem=modem, timeouts=timeouts)

    def assertCancelled(self, job):
        progress, fin = self.daemon.wait_finished(job, 30)
        self.assertEqual(fin[:2], (job, 'cancelled'), fin)
        info = self.daemon.get_job()
        self.assertEqual(info['state'], 'cancelled')
        self.assertEqual(self.daemon.prop('State'), 'cancelled')
        self.assertNotIn('updating', [st for st, _ in progress])
        fotatest.spin(1.0)  # the modem must not go on to flash anything
        self.assertEqual(self.sim.revision(), self.revision)
        self.assertEqual(self.daemon.prop('ModemRevision'), self.revision)
        self.assertEqual(self.daemon.prop('State'), 'cancelled')

    def test_busy_while_a_job_runs(self):
        self.begin('--download-ms', '4000')
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name))
        self.daemon.wait_state(job, 'downloading', 15)
        self.assertDBusError('Busy', self.daemon.start_url, self.http.url(pkg.name))
        self.assertDBusError('Busy', self.daemon.start_file, pkg.path)
        self.assertEqual(self.daemon.prop('JobId'), job)
        self.daemon.cancel()
        self.assertCancelled(job)
        self.assertEqual(len(self.sim.qfotadl_commands()), 1)

    def test_cancel_during_a_slow_file_stream(self):
        self.begin(modem=SLOW_STREAM)
        pkg = self.package(size=160 * 1024)  # ~10 s at the paced rate
        job = self.daemon.start_file(pkg.path, opts(upgrade_mode=u(1)))
        self.daemon.wait_state(job, 'downloading', 15)
        fotatest.spin(0.5)
        self.daemon.cancel()
        self.assertCancelled(job)
        self.assertEqual(self.sim.complete_files(), [])  # the package never arrived whole

    def test_cancel_during_a_slow_network_download(self):
        """The modem is reset; a mode-0 modem that already had the whole package
        (its reports lost) would update after that reboot, so the verdict waits
        the update bound for a sign of it before saying 'cancelled'."""
        self.begin('--download-ms', '6000', timeouts={'update': 6})
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name), opts(upgrade_mode=u(0)))
        self.daemon.wait_state(job, 'downloading', 15)
        self.daemon.cancel()
        self.assertCancelled(job)

    def test_cancel_after_the_point_of_no_return(self):
        self.begin('--update-ms', '3000')
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name))
        self.daemon.wait_state(job, 'updating', 20)
        self.assertDBusError('NotCancellable', self.daemon.cancel)
        _, fin = self.daemon.wait_finished(job, 40)
        self.assertEqual(fin[1], 'succeeded', fin)
        self.assertEqual(self.daemon.prop('ModemRevision'), pkg.to)

    def test_cancel_once_the_whole_file_is_sent(self):
        """Every byte streamed, FILEEND not yet reported: the modem goes on to
        flash, so 'cancelled' would be a lie."""
        self.begin('--file-end-delay-ms', '2000')
        pkg = self.package()
        job = self.daemon.start_file(pkg.path, opts(upgrade_mode=u(1)))
        fotatest.wait_until(
            lambda: ('Progress', (job, 'downloading', 100)) in self.daemon.signals, 15,
            'the whole package to be sent')
        self.assertEqual(self.sim.file_events(), [])  # no FILEEND yet
        self.assertDBusError('NotCancellable', self.daemon.cancel)
        _, fin = self.daemon.wait_finished(job, 40)
        self.assertEqual(fin[1], 'succeeded', fin)
        self.assertEqual(self.sim.revision(), pkg.to)

    def test_cancel_while_start_file_hashes(self):
        """Cancel while StartFile hashes a 4 GiB - 1 sparse package: the job never
        reaches the modem (issue 7, item 6)."""
        self.begin()
        big = os.path.join(self.tmpdir, 'big.bin')
        with open(big, 'wb') as f:
            f.truncate((1 << 32) - 1)
        before = len(self.sim.commands())
        fd = os.open(big, os.O_RDONLY)
        self.addCleanup(os.close, fd)
        hashed_at = time.monotonic()
        start = faults.start_file_async(self.daemon, fd, opts(sha256=s('0' * 64)))
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
        fotatest.spin(0.5)  # a window: a job that survived the Cancel would send by now
        job_commands = [c for c in faults.new_commands(self.sim, before)
                        if c.startswith(('AT+QFOTADL="', 'AT+QCFG'))]
        self.assertEqual(job_commands, [])

    def test_cancel_without_a_job(self):
        self.begin()
        self.assertDBusError('InvalidArgument', self.daemon.cancel)
        self.assertEqual(self.daemon.prop('State'), 'idle')

    def test_cancel_after_the_job_finished(self):
        self.begin()
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name))
        _, fin = self.daemon.wait_finished(job, 40)
        self.assertEqual(fin[1], 'succeeded', fin)
        self.assertDBusError('InvalidArgument', self.daemon.cancel)
        self.assertEqual(self.daemon.prop('State'), 'succeeded')

    def test_modem_info(self):
        self.begin()
        info = self.daemon.get_modem_info()
        self.assertEqual(info['model'], 'EC200T')
        self.assertEqual(info['revision'], self.revision)
        self.assertEqual(info['upgrade-kind'], 'fota')
        self.assertEqual(self.daemon.prop('ModemModel'), 'EC200T')
        self.assertEqual(self.daemon.prop('ModemRevision'), self.revision)

    def test_a_second_job_after_one_finished(self):
        self.begin()
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name))
        _, fin = self.daemon.wait_finished(job, 40)
        self.assertEqual(fin[1], 'succeeded', fin)
        back = self.package(frm=pkg.to, to=pkg.frm)
        job2 = self.daemon.start_file(back.path)
        self.assertNotEqual(job2, job)
        _, fin = self.daemon.wait_finished(job2, 40)
        self.assertEqual(fin[1], 'succeeded', fin)
        self.assertEqual(self.daemon.prop('ModemRevision'), self.revision)


if __name__ == '__main__':
    fotatest.main()
