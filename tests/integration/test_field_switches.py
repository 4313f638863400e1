# SPDX-License-Identifier: LGPL-2.1-or-later
"""The simulator's field switches (tests/modem-sim/README.md, "Field behaviours") with its own
logic rather than a trace: a real transfer, the real package check deciding the revision,
failure codes, seeded variations, mode 0 and FILE mode, and the switches combined with each
other and with a noisy line. Each test checks the true verdict, then the user's next step (an
ordinary job on the same simulator). One meson test each: field-switch-<name>.
"""

import fotatest
from fotatest import ERR, opts, u
from test_field_traces import DEFAULT_REVISIONS, FIELD_TIMEOUTS, FieldCase


class FieldSwitchTest(FieldCase):

    def begin(self, flags, model='EC200T', timeouts=None, modem=None):
        self.model, self.revision = model, DEFAULT_REVISIONS[model]
        self.start_sim(flags)
        self.restart_daemon(timeouts=dict(FIELD_TIMEOUTS, **(timeouts or {})), modem=modem)

    def verdict(self, job, pkg, state='succeeded', error='', code=None, bound=90):
        """The job's verdict must be the modem's truth; returns the Progress states."""
        progress, fin = self.daemon.wait_finished(job, bound)
        info = self.daemon.get_job()
        got = f'Finished {fin[1:]}, GetJob {info}'
        self.assertEqual(fin[1:3], (state, ERR + error if error else ''), got)
        if code is not None:
            self.assertEqual(info.get('error-code'), code, got)
            self.assertIn(str(code), fin[3], got)
        truth = pkg.to if state == 'succeeded' else pkg.frm
        self.assertEqual(self.sim.revision(), truth)
        if state == 'succeeded':
            self.assertEqual(info.get('to-revision'), truth, got)
        return [st for st, _ in progress]

    def upgrade_url(self, flags, mode=1, model='EC200T', url=None, **verdict):
        self.begin(flags, model)
        pkg = self.package()
        job = self.daemon.start_url(url(pkg) if url else self.http.url(pkg.name),
                                    opts(upgrade_mode=u(mode)))
        states = self.verdict(job, pkg, **verdict)
        self.next_job()
        return states

    def test_https_stages_failure(self):
        """HTTPSSTART then HTTPSEND with a failure code (the traces have HTTPSEND,0 only): the
        modem's own transfer to an https URL nobody listens on ends HTTPSEND,716."""
        states = self.upgrade_url(['--https-stages'], state='failed', error='DownloadFailed',
                                  code=716, url=lambda pkg: f'https://127.0.0.1:1/{pkg.name}')
        self.assertNotIn('updating', states)
        self.assertEqual(self.sim.events('download')[0]['code'], 716)

    def test_vanish_after_download_on_a_noisy_line(self):
        """Mode 1: the tty re-enumerates between HTTPEND,0 and START, on a line with garbage,
        split writes and unrelated URCs."""
        states = self.upgrade_url(['--vanish-after-download', '1500', '--garbage',
                                   '--split-writes', '--interleave-urcs', '--seed', '4'])
        self.assertIn('updating', states)
        reasons = [e['reason'] for e in self.sim.events('reboot')]
        self.assertEqual(reasons[:2], ['vanish-after-download', 'fota-update-done'])

    def test_reboot_mid_update_dfota_mode0(self):
        """Mode 0 with a reboot in the middle of the update: three reboots in one job."""
        self.upgrade_url(['--reboot-mid-update'], mode=0, model='EC200S')
        reasons = [e['reason'] for e in self.sim.events('reboot')]
        self.assertEqual(reasons[:3],
                         ['fota-download-done', 'fota-update-midway', 'fota-update-done'])

    def test_no_update_start_dfota_mode0(self):
        """After the mode-0 reboot the first FOTA URC is UPDATING (no START)."""
        states = self.upgrade_url(['--no-update-start'], mode=0, model='EC200S')
        self.assertIn('updating', states)

    def test_download_cut_702(self):
        """A real transfer cut halfway with END,702 (no HTTPEND); the retry succeeds."""
        self.upgrade_url(['--download-cut', '702', '--download-ms', '2000'], state='failed',
                         error='DownloadFailed', code=702)

    def test_refuse_file_608(self):
        """FILE mode: FILESTART then at once FILEEND,608; the package bytes already sent are AT
        input for the modem, which must still take the next job."""
        self.begin(['--refuse-download', '608'])
        pkg = self.package()
        job = self.daemon.start_file(pkg.path)
        self.verdict(job, pkg, state='failed', error='DownloadFailed', code=608)
        self.next_job()

    def test_restore_after_a_reboot_mode0(self):
        """Mode 0: the update reboots halfway, comes back, restores (RESTORE n%) and ends
        END,504; the revision stays; the retry (the fault fires once) succeeds."""
        states = self.upgrade_url(['--restore', '504', '--reboot-mid-update'], mode=0,
                                  state='failed', error='UpgradeFailed', code=504)
        self.assertIn('updating', states)

    def test_no_download_urcs_mode0(self):
        """Mode 0 with a silent download: the first thing the host sees after OK is the tty
        going away; URCs begin again at START (the local-package field log)."""
        states = self.upgrade_url(['--no-download-urcs', '--download-ms', '1500'], mode=0)
        self.assertIn('updating', states)

    def test_download_silence_file(self):
        """FILE mode without DOWNLOADING (8 MB flash variants) and a modem that checks the
        package for 3 s before FILEEND."""
        self.begin(['--download-silence', '1', '--file-end-delay-ms', '3000'])
        pkg = self.package(size=256 * 1024)
        job = self.daemon.start_file(pkg.path)
        self.verdict(job, pkg)
        self.next_job()

    def test_boot_shuffle_seeds(self):
        """Mode 0 (two reboots per job) with the boot URCs in another order, three seeds."""
        for seed in ('1', '2', '3'):
            with self.subTest(seed=seed):
                self.upgrade_url(['--boot-shuffle', '--seed', seed], mode=0)


if __name__ == '__main__':
    fotatest.main()
