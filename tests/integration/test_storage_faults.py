# SPDX-License-Identifier: LGPL-2.1-or-later
"""Storage faults never become lies (issue 7, item 4).

The state dir is a small tmpfs that the test turns read-only (remount,ro) or
fills (ENOSPC). A job whose record cannot be saved mid-job goes on at the modem
and succeeds; its message says that its record was not saved, and after a
restart (storage repaired) the same job's verdict is the modem's: succeeded. A job whose
record cannot be written at the start is refused by the Start call with
StorageError, and the modem hears nothing of it. The tests run as root; they
skip, saying why, when a tmpfs cannot be mounted here.

One meson test per case: storage-faults-* (tests/integration/meson.build)."""

import os
import signal

import faults
import fotatest

# What the state dir's file system answers, as g_strerror() words it.
REASON = {'read-only': 'Read-only file system', 'full': 'No space left on device'}


class StorageFaultTest(fotatest.FotaTestCase):
    start_http = True
    start_daemon = False

    def begin(self, *flags):
        faults.mount_tmpfs(self, self.state_dir, '256k')
        self.start_sim(list(flags))
        self.restart_daemon()

    def break_storage(self, how):
        if how == 'read-only':
            faults.remount(self, self.state_dir, 'ro')
        else:
            faults.fill(self.state_dir)

    def repair_storage(self, how):
        if how == 'read-only':
            faults.remount(self, self.state_dir, 'rw')
        else:
            for name in os.listdir(self.state_dir):
                if name.startswith('fill'):
                    os.unlink(os.path.join(self.state_dir, name))

    def verdict_after_fault(self, how):
        """The state dir breaks while the job prepares; the job goes on at the modem
        (failed saves are retried, they do not stop it) and the modem upgrades. The
        job's own Finished says so and that its record was not saved; after a restart
        (storage repaired) the daemon reports that same job as the modem shows it."""
        self.begin('--reply-delay', 'ATI=1500')
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name))
        self.daemon.wait_state(job, 'preparing', 15)
        self.break_storage(how)
        fin = fotatest.wait_until(lambda: self.daemon.finished(job), 60, 'the job to end')
        self.assertEqual(self.sim.revision(), pkg.to, f'the job stopped at the modem: {fin}')
        self.assertEqual(fin[1:3], ('succeeded', ''), fin)
        # The failed saves were visible in the job's own message, not only the journal.
        self.assertRegex(fin[3].lower(), r'sav|record|stor',
                         f'the job ended {fin} without saying that its record was not saved')
        self.daemon.kill(signal.SIGKILL)
        self.repair_storage(how)
        self.restart_daemon()
        info = self.daemon.wait_final(60)
        # That job (not a forgotten or an unreadable one), as the modem shows it: its
        # record fell behind (it says preparing), the revision decides.
        self.assertEqual((info.get('id'), info['state'], info['error']),
                         (job, 'succeeded', ''), info)
        self.assertEqual(info['to-revision'], pkg.to, info)
        self.assertEqual(self.daemon.prop('ModemRevision'), pkg.to)
        # The modem was asked once: the restart never downloaded again.
        self.assertEqual(len(self.sim.qfotadl_commands()), 1, self.sim.qfotadl_commands())

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
            self.assertEqual(fotatest.remote_error(e), fotatest.ERR + 'StorageError', e.message)
            self.assertIn('job record', e.message)
            self.assertIn('not started', e.message)
            self.assertIn(REASON[how], e.message)
        else:
            fotatest.spin(2)  # what the accepted job sends, for the failure's message
            self.fail(f'StartUrl was accepted (job {job}) on a {how} state dir; the modem got '
                      f'{faults.new_commands(self.sim, before)}')
        # Nothing reaches the modem afterwards either: a window, there is no event to wait for.
        fotatest.spin(1)
        self.assertEqual(faults.new_commands(self.sim, before), [])
        self.assertEqual(self.sim.revision(), pkg.frm)
        self.assertEqual(self.daemon.prop('State'), 'idle')

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
