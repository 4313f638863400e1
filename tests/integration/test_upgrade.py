# SPDX-License-Identifier: LGPL-2.1-or-later
"""Successful upgrades: FILE, HTTP and FTP sources, upgrade modes 0 and 1, delta
(DFOTA) models, URCs before the OK, updates with and without URCs, and the tty
coming back under another pts after each reboot."""

import os

import fotatest
from fotatest import opts, u


class UpgradeTest(fotatest.FotaTestCase):
    start_http = True
    start_ftp = True

    def run_upgrade(self, source, mode):
        pkg = self.package()
        options = opts(upgrade_mode=u(mode))
        if source == 'file':
            job = self.daemon.start_file(pkg.path, options)
            where = f'file:{pkg.real_size}'
        else:
            where = (self.http if source == 'http' else self.ftp).url(pkg.name)
            job = self.daemon.start_url(where, options)
        self.assertRegex(job, r'^[0-9a-f]{32}$')
        progress, fin = self.daemon.wait_finished(job, 60)
        self.assertEqual(fin, (job, 'succeeded', '', fin[3]))
        self.assertStateOrder(progress, mode)
        downloading = [pc for st, pc in progress if st == 'downloading']
        self.assertEqual(max(downloading), 100, f'download never completed: {progress}')

        info = self.daemon.get_job()
        self.assertEqual(info['id'], job)
        self.assertEqual(info['state'], 'succeeded')
        self.assertEqual(info['source'], where)
        self.assertEqual(info['upgrade-mode'], mode)
        self.assertEqual(info['error'], '')
        self.assertEqual(info['from-revision'], pkg.frm)
        self.assertEqual(info['to-revision'], pkg.to)
        self.assertGreaterEqual(info['finished'], info['started'])
        self.assertNotIn('error-code', info)

        self.assertEqual(self.daemon.prop('State'), 'succeeded')
        self.assertEqual(self.daemon.prop('JobId'), job)
        self.assertEqual(self.daemon.prop('ModemRevision'), pkg.to)
        self.assertEqual(self.daemon.prop('LastError'), '')
        self.assertEqual(self.sim.revision(), pkg.to)

        qfotadl = self.sim.qfotadl_commands()
        self.assertEqual(len(qfotadl), 1, qfotadl)
        if source == 'file':
            self.assertTrue(qfotadl[0].startswith(f'AT+QFOTADL="FILE:{pkg.real_size}",{mode}'),
                            qfotadl)
            files = self.sim.file_events()
            self.assertEqual([f['sha256'] for f in files], [pkg.sha256])
            self.assertEqual((files[0]['length'], files[0]['received']),
                             (pkg.real_size, pkg.real_size))
        else:
            self.assertTrue(qfotadl[0].startswith(f'AT+QFOTADL="{where}",{mode}'), qfotadl)


def _add_cases():
    for source in ('file', 'http', 'ftp'):
        for mode in (0, 1):
            def test(self, source=source, mode=mode):
                self.run_upgrade(source, mode)
            test.__name__ = f'test_{source}_mode{mode}'
            setattr(UpgradeTest, test.__name__, test)


_add_cases()


class DfotaUpgradeTest(fotatest.FotaTestCase):
    """A delta (DFOTA) model, once per mode."""
    model = 'EC200S'
    revision = fotatest.DFOTA_REV
    start_http = True
    run_upgrade = UpgradeTest.run_upgrade

    def test_file_mode0(self):
        self.run_upgrade('file', 0)

    def test_http_mode1(self):
        self.run_upgrade('http', 1)


class UrcBeforeOkTest(fotatest.FotaTestCase):
    """The first +QIND overtakes the OK of AT+QFOTADL (one read, or a modem that
    sends it first): the job must still follow it, not wait for a FILESTART
    that already went by."""
    sim_flags = ('--urc-before-ok',)
    start_http = True
    run_upgrade = UpgradeTest.run_upgrade

    def test_file_mode1(self):
        self.run_upgrade('file', 1)

    def test_http_mode1(self):
        self.run_upgrade('http', 1)


class UpdateStylesTest(fotatest.FotaTestCase):
    """URCs during the update or a quiet update, both modes; the tty moves on reboot."""
    start_http = True
    start_daemon = False

    def upgrade(self, mode, *flags):
        self.start_sim(list(flags))
        self.restart_daemon()
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name), opts(upgrade_mode=u(mode)))
        progress, fin = self.daemon.wait_finished(job, 60)
        self.assertEqual(fin[1], 'succeeded', fin)
        self.assertStateOrder(progress, mode)
        self.assertEqual(self.daemon.get_job()['to-revision'], pkg.to)
        self.assertEqual(self.sim.revision(), pkg.to)
        return progress

    def test_update_urcs_mode0(self):
        progress = self.upgrade(0)
        self.assertIn('updating', [st for st, _ in progress])

    def test_update_urcs_mode1(self):
        progress = self.upgrade(1)
        self.assertIn('updating', [st for st, _ in progress])

    def test_quiet_update_mode0(self):
        self.upgrade(0, '--quiet-update')

    def test_quiet_update_mode1(self):
        self.upgrade(1, '--quiet-update')

    def test_tty_comes_back_under_another_pts(self):
        self.upgrade(0)
        paths = self.sim.link_paths()
        # first link, the mode-0 reboot, the final reboot: each time under another pts
        self.assertGreaterEqual(len(paths), 3, paths)
        self.assertTrue(all(p.startswith('/dev/pts/') for p in paths), paths)
        self.assertTrue(all(a != b for a, b in zip(paths, paths[1:])), paths)
        self.assertEqual(os.path.realpath(self.sim.link), paths[-1])


if __name__ == '__main__':
    fotatest.main()
