# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue 7, item 5: one user of the port at a time.

GetModemInfo (an identification: ATI, AT+CGSN, AT+QFOTADL=?) racing StartFile
without flow control must neither put a command into the package stream nor
fail the job, and a failed identification must not make later Starts refused."""

import os

import fotatest
import i7common
from i7common import SLOW_STREAM, QUICK_SIZE


class SerializeTest(fotatest.FotaTestCase):
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
        info = i7common.call_async(self.daemon, 'GetModemInfo', '(a{sv})')
        start = i7common.start_file_async(self.daemon, fd)
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
        i7common.assert_nothing_absorbed(self)

    def test_modem_info_during_the_stream(self):
        """GetModemInfo calls while the package streams answer from what was last
        read (no command reaches the modem) and the job succeeds."""
        pkg = self.package(size=QUICK_SIZE * 4)
        job = self.daemon.start_file(pkg.path)
        self.daemon.wait_state(job, 'downloading', 15)
        while not self.daemon.finished(job) and \
                not any(st != 'downloading' for st, _ in self.daemon.progress(job)[2:]):
            call = i7common.call_async(self.daemon, 'GetModemInfo', '(a{sv})')
            fotatest.wait_until(lambda: call.done, 30, 'GetModemInfo')
            self.assertIsNone(call.error, call.error and call.error.message)
            fotatest.spin(0.2)
        _, fin = self.daemon.wait_finished(job, 40)
        self.assertEqual(fin[1], 'succeeded', fin)
        i7common.assert_nothing_absorbed(self)


if __name__ == '__main__':
    fotatest.main()
