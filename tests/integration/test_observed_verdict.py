# SPDX-License-Identifier: LGPL-2.1-or-later
"""The verdict comes from what the modem showed, never from what the daemon
did not see: a daemon killed after the last byte, a clock step while it was
down. Each case ends in the modem's true outcome, and the next job works."""

import os
import re
import signal

import fotatest
from fotatest import opts, u

SLOW_STREAM = {'flow-control': 'none', 'paced-rate': 65536}


class ObservedVerdictTest(fotatest.FotaTestCase):
    start_http = True
    start_daemon = False

    def job_file(self):
        return os.path.join(self.state_dir, 'job')

    def read_record(self):
        with open(self.job_file(), encoding='utf-8') as f:
            return f.read()

    def rewrite_record(self, func):
        """The record as a daemon stopped one save earlier, or after a clock
        step, would have left it."""
        text = func(self.read_record())
        with open(self.job_file(), 'w', encoding='utf-8') as f:
            f.write(text)

    def next_job_works(self, pkg):
        """The user's next step: another upgrade, from the revision the modem
        really runs, succeeds at once."""
        nxt = self.package(frm=self.sim.revision(), to=fotatest.next_revision(pkg.to))
        job = self.daemon.start_url(self.http.url(nxt.name))
        _, fin = self.daemon.wait_finished(job, 60)
        self.assertEqual(fin[1], 'succeeded', fin)
        self.assertEqual(self.sim.revision(), nxt.to)

    def test_killed_after_the_last_byte(self):
        """Killed once the modem had every byte but (as the record is one save
        behind) before the record held sent-sha256: the modem upgrades, and the
        restarted daemon must say so, not 'interrupted before the last byte'."""
        self.start_sim(['--file-end-delay-ms', '1500', '--update-ms', '1500'])
        self.restart_daemon(modem=SLOW_STREAM)
        pkg = self.package(size=48 * 1024)
        job = self.daemon.start_file(pkg.path, opts(upgrade_mode=u(1)))
        fotatest.wait_until(lambda: 'sent-sha256=' in self.read_record(), 30,
                            'the whole package to be written')
        self.daemon.kill(signal.SIGKILL)
        self.rewrite_record(lambda t: re.sub(r'(?m)^sent-sha256=.*\n', '', t))
        self.restart_daemon(modem=SLOW_STREAM)
        info = self.daemon.wait_final(60)
        self.assertEqual((info['id'], info['state']), (job, 'succeeded'), info)
        self.assertEqual(info['to-revision'], pkg.to)
        self.assertEqual(self.sim.revision(), pkg.to)
        self.assertEqual(len(self.sim.complete_files()), 1)
        self.next_job_works(pkg)

    def test_clock_step_while_the_daemon_is_down(self):
        """The wall clock jumps 2 h forward while the daemon is down (NTP after
        a restart): the resumed update's deadline must not have passed."""
        self.start_sim(['--update-ms', '4000'])
        self.restart_daemon(timeouts={'update': 1800})
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name), opts(upgrade_mode=u(1)))
        self.daemon.wait_state(job, 'updating', 30)
        self.daemon.kill(signal.SIGKILL)
        two_hours_us = 2 * 3600 * 1000 * 1000

        def step(text):
            since = int(re.search(r'(?m)^state-since=(\d+)$', text).group(1))
            return re.sub(r'(?m)^state-since=\d+$', f'state-since={since - two_hours_us}', text)
        self.rewrite_record(step)
        self.restart_daemon(timeouts={'update': 1800})
        info = self.daemon.wait_final(60)
        self.assertEqual((info['id'], info['state']), (job, 'succeeded'), info)
        self.assertEqual(self.sim.revision(), pkg.to)
        self.next_job_works(pkg)


if __name__ == '__main__':
    fotatest.main()
