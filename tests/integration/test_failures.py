# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every error family ends the job `failed` with the right error name, code and message."""

import fotatest
from fotatest import opts, u

# How the simulator maps real server failures to the guide's codes (tests/modem-sim/README.md).
# curl's answer decides: a 550 on RETR can come back as "file not found" or "couldn't retrieve".
SIM_FTP_LOGIN_FAILED = 625
SIM_FTP_NO_FILE = (611, 617)
SIM_HTTP_NOT_FOUND = 711


class FailureTest(fotatest.FotaTestCase):
    start_http = True
    start_ftp = True
    start_daemon = False  # each test picks the simulator's fault switches

    def begin(self, *flags, model=None, revision=None):
        # The modem checks the package 1.5 s, and updates 1.5 s, after its
        # reboot (a real one takes far longer): with the simulator's defaults a
        # daemon slowed by ASan opened the new port after the modem had said
        # END,506 and rebooted again, and could only judge by the revision.
        self.start_sim(['--check-ms', '1500', '--update-ms', '1500'] + list(flags),
                       model=model, revision=revision)
        self.restart_daemon()

    def expect_failure(self, job, error, code=None, message=None, timeout=45):
        """The job ends failed with @error (and @code); returns its message."""
        progress, fin = self.daemon.wait_finished(job, timeout)
        self.assertEqual(fin[1:3], ('failed', fotatest.ERR + error), fin)
        info = self.daemon.get_job()
        self.assertEqual(info['state'], 'failed')
        self.assertEqual(info['error'], fotatest.ERR + error)
        self.assertEqual(info['message'], fin[3])
        self.assertNotEqual(fin[3], '')
        self.assertNotIn('\n', fin[3])
        if code is None:
            self.assertNotIn('error-code', info)
        else:
            self.assertEqual(info['error-code'], code)
            self.assertIn(f'{code} (', fin[3])
        if message is not None:
            self.assertIn(message, fin[3])
        self.assertEqual(self.daemon.prop('State'), 'failed')
        self.assertEqual(self.daemon.prop('LastError'), fotatest.ERR + error)
        # Nothing was flashed.
        self.assertEqual(self.sim.revision(), self.revision)
        self.assertEqual(self.daemon.prop('ModemRevision'), self.revision)
        self.assertNotIn('succeeded', [st for st, _ in progress])
        return fin[3]

    # -- FTP
    def test_ftp_code_from_the_modem(self):
        self.begin('--download-error', '609')
        pkg = self.package()
        job = self.daemon.start_url(self.ftp.url(pkg.name))
        msg = self.expect_failure(job, 'DownloadFailed', 609)
        self.assertTrue(msg.startswith('FTP download failed: 609 ('), msg)

    def test_ftp_wrong_password(self):
        self.begin()
        pkg = self.package()
        job = self.daemon.start_url(self.ftp.url(pkg.name, password='wrong'))
        msg = self.expect_failure(job, 'DownloadFailed', SIM_FTP_LOGIN_FAILED)
        self.assertTrue(msg.startswith(f'FTP download failed: {SIM_FTP_LOGIN_FAILED} ('), msg)

    def test_ftp_file_not_found(self):
        self.begin()
        job = self.daemon.start_url(self.ftp.url('missing.bin'))
        self.daemon.wait_finished(job, 45)
        code = self.daemon.get_job().get('error-code')
        self.assertIn(code, SIM_FTP_NO_FILE)
        self.expect_failure(job, 'DownloadFailed', code, 'FTP download failed')

    # -- HTTP
    def test_http_code_from_the_modem(self):
        self.begin('--download-error', '714')
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name))
        msg = self.expect_failure(job, 'DownloadFailed', 714)
        self.assertEqual(msg, 'HTTP download failed: 714 (HTTP(S) DNS error); '
                         'the firmware is unchanged; safe to start again')

    def test_http_not_found(self):
        self.begin()
        job = self.daemon.start_url(self.http.url('missing.bin'))
        self.expect_failure(job, 'DownloadFailed', SIM_HTTP_NOT_FOUND, 'HTTP download failed')

    # -- FILE and the upgrade itself
    def test_file_download_error(self):
        self.begin('--download-error', '500')
        pkg = self.package()
        job = self.daemon.start_file(pkg.path)
        self.expect_failure(job, 'DownloadFailed', 500)

    def test_package_for_another_source_revision(self):
        self.begin()
        pkg = self.package(frm=fotatest.FOTA_REV2, to=fotatest.FOTA_REV2 + 'B')
        job = self.daemon.start_file(pkg.path)
        self.expect_failure(job, 'UpgradeFailed', 504)

    def test_corrupted_package(self):
        self.begin()
        pkg = self.package(corrupt=True)
        job = self.daemon.start_file(pkg.path, opts(upgrade_mode=u(0)))
        self.expect_failure(job, 'UpgradeFailed', 506)

    def test_corrupted_package_over_http(self):
        self.begin()
        pkg = self.package(corrupt=True)
        job = self.daemon.start_url(self.http.url(pkg.name))
        self.expect_failure(job, 'UpgradeFailed', 506)

    # -- the modem misbehaves
    def test_modem_refuses_qfotadl(self):
        self.begin('--fail-qfotadl')
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name))
        self.expect_failure(job, 'ModemError')
        self.assertEqual(len(self.sim.qfotadl_commands()), 1)

    def test_cme_error_message_names_the_command_once(self):
        """A prepare command refused with +CME ERROR: the message quotes the modem and
        names the command once (issue 7, item 6)."""
        self.begin('--cme-error', 'AT+QCFG="usbifc"=3')
        pkg = self.package()
        job = self.daemon.start_file(pkg.path)
        msg = self.expect_failure(job, 'ModemError', timeout=30)
        self.assertIn('+CME ERROR: 3', msg)
        self.assertEqual(msg.count('AT+QCFG'), 1, msg)

    def test_silent_modem_times_out(self):
        self.begin('--silent')
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name))
        self.expect_failure(job, 'Timeout', timeout=30)


if __name__ == '__main__':
    fotatest.main()
