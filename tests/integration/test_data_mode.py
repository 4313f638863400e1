# SPDX-License-Identifier: LGPL-2.1-or-later
"""A modem left in FILE data mode is never fed commands (issue 7, item 1).

After a FILE transfer stops before <length> bytes (Cancel, a package the client
truncates while it is sent, the daemon killed and restarted), the modem takes
every byte as package data until its own idle timeout (--file-timeout-ms: 10, 15
and 30 s here). A job started at once must wait for that and succeed;
GetModemInfo must wait and answer; the simulator's log must show no command line
inside any package. And when the modem itself ends the transfer early
(FILEEND,500 or FILEEND,0 before <length> bytes), the daemon stops sending at
once: the rest of the package must not reach the modem as AT input.

One meson test per case: data-mode-* (tests/integration/meson.build)."""

import os
import shutil
import signal
import time

import faults
import fotatest
from faults import SLOW_STREAM, SLOW_SIZE, QUICK_SIZE

# The next Start comes this soon after the interruption.
PROMPT = 0.5


class DataModeTest(fotatest.FotaTestCase):
    start_daemon = False

    def begin(self, file_timeout_s):
        self.file_timeout_s = file_timeout_s
        self.start_sim(['--file-timeout-ms', str(file_timeout_s * 1000)])
        self.restart_daemon(modem=SLOW_STREAM)
        self.slow = self.package(size=SLOW_SIZE, name='slow.bin')
        self.quick = self.package(size=QUICK_SIZE, name='quick.bin')

    def stream_a_while(self, path):
        job = self.daemon.start_file(path)
        self.daemon.wait_state(job, 'downloading', 15)
        fotatest.wait_until(lambda: any(st == 'downloading' and pc >= 2
                                        for st, pc in self.daemon.progress(job)),
                            15, 'some of the package to be sent')
        return job

    def start_promptly(self, since):
        """StartFile of the quick package, PROMPT s at most after @since; it must succeed."""
        job = faults.start_file_or_fail(self, self.quick.path)
        self.assertLess(time.monotonic() - since, PROMPT + 0.5, 'the test was too slow')
        _, fin = self.daemon.wait_finished(job, self.file_timeout_s + 45)
        if fin[1] != 'succeeded':
            # The evidence: the modem logs the interrupted transfer at its timeout.
            fotatest.wait_until(lambda: self.sim.file_events(), self.file_timeout_s + 5,
                                'the modem to end the interrupted transfer')
            self.fail(f'the job started at once ended {fin}; commands the modem took as '
                      f'package bytes: {faults.absorbed_commands(self.sim)}')
        self.assertEqual(self.sim.revision(), self.quick.to)
        self.assertIn(self.quick.sha256, [e['sha256'] for e in self.sim.complete_files()])
        faults.assert_nothing_absorbed(self)

    # -- the three interruptions

    def after_cancel(self, file_timeout_s):
        self.begin(file_timeout_s)
        job = self.stream_a_while(self.slow.path)
        self.daemon.cancel()
        cancelled_at = time.monotonic()
        _, fin = self.daemon.wait_finished(job, 10)
        self.assertEqual(fin[1], 'cancelled', fin)
        self.start_promptly(cancelled_at)

    def after_truncation(self, file_timeout_s):
        """The client truncates its package while it is being sent."""
        self.begin(file_timeout_s)
        victim = os.path.join(self.tmpdir, 'shrinking.bin')
        shutil.copyfile(self.slow.path, victim)
        job = self.stream_a_while(victim)
        os.truncate(victim, SLOW_SIZE // 2)
        _, fin = self.daemon.wait_finished(job, 20)
        ended_at = time.monotonic()
        self.assertEqual(fin[1], 'failed', fin)
        self.start_promptly(ended_at)

    def after_restart(self, file_timeout_s):
        """The restarted daemon cannot know from its record whether the modem got
        the last byte: the resumed job waits for the modem's own word (FILEEND,500
        at its timeout) and only then says 'safe to start again'; a job started at
        once after that verdict succeeds."""
        self.begin(file_timeout_s)
        job = self.stream_a_while(self.slow.path)
        self.daemon.kill(signal.SIGKILL)
        self.restart_daemon(modem=SLOW_STREAM)
        info = self.daemon.wait_final(file_timeout_s + 15)
        ended_at = time.monotonic()
        self.assertEqual((info['id'], info['state']), (job, 'failed'), info)
        self.assertIn('FILEEND,500', info['message'])
        self.assertIn('safe to start again', info['message'])
        self.start_promptly(ended_at)

    def test_modem_info_waits_after_cancel(self):
        """GetModemInfo right after a Cancel mid-stream waits and answers."""
        self.begin(10)
        job = self.stream_a_while(self.slow.path)
        self.daemon.cancel()
        self.daemon.wait_finished(job, 10)
        started = time.monotonic()
        try:
            info = self.daemon.call('GetModemInfo', reply='(a{sv})',
                                    timeout_ms=(self.file_timeout_s + 30) * 1000)[0]
        except fotatest.GLib.Error as e:
            self.fail(f'GetModemInfo failed {time.monotonic() - started:.1f} s after the '
                      f'Cancel: {fotatest.remote_error(e)}: {e.message}')
        self.assertEqual((info['model'], info['revision']), ('EC200T', self.revision), info)
        fotatest.wait_until(lambda: self.sim.file_events(), self.file_timeout_s + 5,
                            'the modem to end the transfer')
        faults.assert_nothing_absorbed(self)

    # -- the modem ends the transfer itself

    def modem_ends_early(self, code):
        """The modem ends the transfer (FILEEND,<code>) after 8 KiB of a 96 KiB package
        sent without flow control, and checks the package for 1.5 s (--check-ms):
        the daemon stops sending at once."""
        self.start_sim(['--file-early-end', f'8192,{code}', '--check-ms', '1500'])
        self.restart_daemon(modem=SLOW_STREAM)
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
        job2 = faults.start_file_or_fail(self, small.path)
        _, fin2 = self.daemon.wait_finished(job2, 30)
        self.assertEqual(fin2[1], 'succeeded', fin2)

    def test_modem_ends_early_500(self):
        self.modem_ends_early(500)

    def test_modem_ends_early_0(self):
        """FILEEND,0 although bytes are missing: the modem checks (and fails) the partial
        package; the rest of the package must not follow as AT input meanwhile."""
        self.modem_ends_early(0)


def _add_cases():
    cases = {'cancel': (10, 15, 30), 'truncation': (10, 15), 'restart': (10, 15)}
    for kind, timeouts in cases.items():
        for t in timeouts:
            def test(self, kind=kind, t=t):
                getattr(self, f'after_{kind}')(t)
            test.__name__ = f'test_after_{kind}_{t}s'
            test.__doc__ = f'simulator FILE timeout {t} s: a job started at once after ' \
                           f'the {kind} succeeds'
            setattr(DataModeTest, test.__name__, test)


_add_cases()


if __name__ == '__main__':
    fotatest.main()
