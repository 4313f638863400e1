# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue 7, item 4: storage faults never become lies.

The state dir is a small tmpfs that the test turns read-only (remount,ro) or
fills (ENOSPC). A job whose record cannot be saved mid-job may end any way, but
its message says so, and after a restart its verdict must agree with the modem's
revision. A job whose
record cannot be written at the start is refused by the Start call with a clear
error, and the modem hears nothing of it. The tests run as root; they skip,
saying why, when a tmpfs cannot be mounted here."""

import os
import signal

import fotatest
import i7common


class StorageTest(fotatest.FotaTestCase):
    start_http = True
    start_daemon = False

    def begin(self, *flags):
        i7common.mount_tmpfs(self, self.state_dir, '256k')
        self.start_sim(list(flags))
        self.restart_daemon()

    def break_storage(self, how):
        if how == 'read-only':
            i7common.remount(self, self.state_dir, 'ro')
        else:
            i7common.fill(self.state_dir)

    def repair_storage(self, how):
        if how == 'read-only':
            i7common.remount(self, self.state_dir, 'rw')
        else:
            for name in os.listdir(self.state_dir):
                if name.startswith('fill'):
                    os.unlink(os.path.join(self.state_dir, name))

    def verdict_after_fault(self, how):
        """The state dir breaks while the job prepares; the job goes on at the modem.
        After a restart (storage repaired) the verdict must match the modem."""
        self.begin('--reply-delay', 'ATI=1500')
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name))
        self.daemon.wait_state(job, 'preparing', 15)
        self.break_storage(how)
        fotatest.wait_until(lambda: self.sim.revision() == pkg.to or self.daemon.finished(job),
                            60, 'the modem to upgrade or the job to end')
        fin = fotatest.wait_until(lambda: self.daemon.finished(job), 60, 'the job to end')
        self.daemon.kill(signal.SIGKILL)
        self.repair_storage(how)
        self.restart_daemon()
        info = self.daemon.wait_final(60)
        modem = self.sim.revision()
        changed = modem != pkg.frm
        if info['state'] == 'succeeded':
            self.assertTrue(changed, f'"succeeded" but the modem still runs {modem}: {info}')
        else:
            self.assertFalse(changed, f'"{info["state"]}" but the modem runs {modem}: {info}')
        self.assertIn(info['state'], fotatest.FINAL_STATES, info)
        # The failed saves were visible in the job's own message, not only the journal.
        self.assertRegex(fin[3].lower(), r'sav|record|stor',
                         f'the job ended {fin} without saying that its record was not saved')

    def start_on_broken_storage(self, how):
        self.begin()
        # The daemon's own identification of the modem at start is not the
        # job's: it must be over before the commands are counted.
        self.daemon.get_modem_info()
        pkg = self.package()
        self.break_storage(how)
        before = len(self.sim.commands())
        try:
            job = self.daemon.start_url(self.http.url(pkg.name))
        except fotatest.GLib.Error as e:
            self.assertTrue(e.message, 'an error without a message')
        else:
            fotatest.spin(2)
            self.fail(f'StartUrl was accepted (job {job}) on a {how} state dir; the modem got '
                      f'{i7common.new_commands(self.sim, before)}')
        fotatest.spin(1)
        self.assertEqual(i7common.new_commands(self.sim, before), [])
        self.assertEqual(self.sim.revision(), pkg.frm)

    def test_read_only_mid_job_verdict_matches_the_modem(self):
        self.verdict_after_fault('read-only')

    def test_full_mid_job_verdict_matches_the_modem(self):
        self.verdict_after_fault('full')

    def test_start_on_a_read_only_state_dir_is_refused(self):
        self.start_on_broken_storage('read-only')

    def test_start_on_a_full_state_dir_is_refused(self):
        self.start_on_broken_storage('full')


if __name__ == '__main__':
    fotatest.main()
