# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reboots, quiet updates, a wandering tty, and the daemon dying at any moment."""

import glob
import os
import re
import signal

import fotatest
from fotatest import opts, u

SLOW_STREAM = {'flow-control': 'none', 'paced-rate': 16384}

# Per state: simulator flags that widen its window, the upgrade mode.
KILL_AT = {
    'preparing': (['--reply-delay', 'ATI=1200'], 0),
    'downloading': (['--download-ms', '3000'], 1),
    'rebooting': (['--reboot-ms', '2000'], 0),
    'updating': (['--update-ms', '3000'], 0),
    'verifying': (['--reply-delay', 'ATI=1200'], 1),
}


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


class KillTest(fotatest.FotaTestCase):
    """SIGKILL/SIGTERM of the daemon mid-job; the restarted daemon finishes it."""
    start_http = True
    start_daemon = False

    def begin(self, flags, modem=None):
        self.start_sim(flags)
        self.restart_daemon(modem=modem)

    def kill_at(self, state):
        flags, mode = KILL_AT[state]
        self.begin(flags)
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name), opts(upgrade_mode=u(mode)))
        self.daemon.wait_state(job, state, 30)
        self.daemon.kill(signal.SIGKILL)
        sent = len(self.sim.qfotadl_commands())
        self.restart_daemon()
        info = self.daemon.wait_final(60)
        self.assertEqual(info['id'], job)
        if state == 'preparing' and sent == 0:
            # The modem never heard of the job: either it is run again, or it fails
            # saying that it is safe to start again. Either way, consistently.
            if info['state'] == 'failed':
                self.assertEqual(self.sim.revision(), pkg.frm)
                self.assertIn('again', info['message'].lower())
                self.assertEqual(self.sim.qfotadl_commands(), [])
                return
        self.assertEqual(info['state'], 'succeeded', info)
        self.assertEqual(info['to-revision'], pkg.to)
        self.assertEqual(self.daemon.prop('ModemRevision'), pkg.to)
        self.assertEqual(self.sim.revision(), pkg.to)
        # The modem was asked once: resuming never downloads again.
        self.assertEqual(len(self.sim.qfotadl_commands()), 1)

    def test_sigkill_while_streaming_a_file(self):
        self.begin([], modem=SLOW_STREAM)
        pkg = self.package(size=160 * 1024)
        job = self.daemon.start_file(pkg.path)
        self.daemon.wait_state(job, 'downloading', 15)
        fotatest.spin(0.5)
        self.daemon.kill(signal.SIGKILL)
        self.restart_daemon(modem=SLOW_STREAM)
        info = self.daemon.wait_final(60)
        self.assertEqual((info['id'], info['state']), (job, 'failed'), info)
        msg = info['message'].lower()
        self.assertIn('interrupted', msg)
        self.assertIn('safe', msg)
        self.assertIn('again', msg)
        self.assertEqual(self.sim.revision(), pkg.frm)
        self.assertEqual(self.sim.complete_files(), [])
        self.assertNotEqual(self.daemon.prop('LastError'), '')

    def test_update_ends_while_the_daemon_is_down(self):
        """Mode 1: the modem finishes the update and reboots before the daemon is
        back; the restarted daemon must see the new revision, not time out."""
        self.begin(['--update-ms', '1500'])
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name), opts(upgrade_mode=u(1)))
        self.daemon.wait_state(job, 'updating', 30)
        self.daemon.kill(signal.SIGKILL)
        links = len(self.sim.link_paths())
        fotatest.wait_until(lambda: len(self.sim.link_paths()) > links, 30,
                            'the modem to reboot after its update')
        fotatest.spin(1)  # past its boot URCs: nothing tells the new daemon it rebooted
        self.assertEqual(self.sim.revision(), pkg.to)
        self.restart_daemon()
        info = self.daemon.wait_final(30)
        self.assertEqual((info['id'], info['state']), (job, 'succeeded'), info)
        self.assertEqual(info['to-revision'], pkg.to)

    def test_sigkill_between_qfotadl_and_its_ok(self):
        """The record says preparing, but the modem got AT+QFOTADL: the restarted
        daemon must follow the download it hears, not call it 'nothing changed'."""
        self.begin(['--reply-delay', 'AT+QFOTADL=1500'])
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name))
        fotatest.wait_until(lambda: self.sim.qfotadl_commands(), 15, 'AT+QFOTADL to be sent')
        self.assertEqual(self.daemon.get_job()['state'], 'preparing')
        self.daemon.kill(signal.SIGKILL)
        self.restart_daemon()
        info = self.daemon.wait_final(60)
        self.assertEqual((info['id'], info['state']), (job, 'succeeded'), info)
        self.assertEqual(self.sim.revision(), pkg.to)
        self.assertEqual(len(self.sim.qfotadl_commands()), 1)

    def test_sigterm_during_a_job_exits_0_and_resumes(self):
        self.begin(['--update-ms', '3000'])
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name))
        self.daemon.wait_state(job, 'updating', 30)
        self.assertEqual(self.daemon.kill(signal.SIGTERM), 0, 'exit status on SIGTERM')
        self.restart_daemon()
        info = self.daemon.wait_final(60)
        self.assertEqual((info['id'], info['state']), (job, 'succeeded'), info)
        self.assertEqual(info['to-revision'], pkg.to)

    def test_host_reboot_during_the_update(self):
        self.begin(['--update-ms', '3000'])
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name))
        self.daemon.wait_state(job, 'updating', 30)
        self.daemon.kill(signal.SIGKILL)
        self.set_boot_id()  # a new host boot; the modem kept power and finished
        self.restart_daemon()
        info = self.daemon.wait_final(60)
        self.assertEqual((info['id'], info['state']), (job, 'succeeded'), info)
        self.assertEqual(info['to-revision'], pkg.to)
        self.assertEqual(len(self.sim.qfotadl_commands()), 1)

    def test_host_reboot_during_a_file_stream(self):
        self.begin([], modem=SLOW_STREAM)
        pkg = self.package(size=160 * 1024)
        job = self.daemon.start_file(pkg.path)
        self.daemon.wait_state(job, 'downloading', 15)
        self.daemon.kill(signal.SIGKILL)
        self.set_boot_id()
        self.restart_daemon(modem=SLOW_STREAM)
        info = self.daemon.wait_final(60)
        self.assertEqual((info['id'], info['state']), (job, 'failed'), info)
        self.assertEqual(self.sim.revision(), pkg.frm)

    def test_result_survives_restarts(self):
        self.begin([])
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name))
        _, fin = self.daemon.wait_finished(job, 60)
        self.assertEqual(fin[1], 'succeeded', fin)
        before = self.daemon.get_job()
        for _ in range(2):
            self.restart_daemon()
        after = self.daemon.get_job()
        self.assertEqual(after, before)
        self.assertEqual(self.daemon.prop('State'), 'succeeded')
        self.assertEqual(self.daemon.prop('JobId'), job)
        self.assertEqual(len(self.sim.qfotadl_commands()), 1)


def _add_kill_cases():
    for state in KILL_AT:
        def test(self, state=state):
            self.kill_at(state)
        test.__name__ = f'test_sigkill_while_{state}'
        setattr(KillTest, test.__name__, test)


_add_kill_cases()


class CorruptStateTest(fotatest.FotaTestCase):
    """A job record the daemon cannot read: kept aside, reported, not fatal."""
    start_http = True
    start_daemon = False

    def job_file(self):
        return os.path.join(self.state_dir, 'job')

    def valid_record(self):
        """A real record, from a job the modem refuses at once."""
        self.start_sim(['--fail-qfotadl'])
        self.restart_daemon()
        job = self.daemon.start_url(self.http.url('x.bin'))
        self.daemon.wait_finished(job, 30)
        self.daemon.stop()
        with open(self.job_file(), 'rb') as f:
            return f.read()

    def check_corrupt(self, mutate):
        data = mutate(self.valid_record())
        with open(self.job_file(), 'wb') as f:
            f.write(data)
        self.restart_daemon()
        self.assertEqual(self.daemon.prop('State'), 'failed')
        self.assertNotEqual(self.daemon.prop('LastError'), '')
        info = self.daemon.get_job()
        self.assertIn('unreadable', info.get('message', '').lower(), info)
        kept = glob.glob(os.path.join(self.state_dir, 'job.corrupt-*'))
        self.assertEqual(len(kept), 1, os.listdir(self.state_dir))
        with open(kept[0], 'rb') as f:
            self.assertEqual(f.read(), data)
        # The daemon still works: a new job can start (and is refused by this modem).
        job = self.daemon.start_url(self.http.url('x.bin'))
        _, fin = self.daemon.wait_finished(job, 30)
        self.assertEqual(fin[2], fotatest.ERR + 'ModemError')

    def test_truncated(self):
        self.check_corrupt(lambda d: d[:len(d) // 2])

    def test_garbage(self):
        self.check_corrupt(lambda d: b'\x00\xff[job\n\x01\x02garbage=\xfe\n' * 20)

    def replace_one(self, pattern, replacement):
        """A mutation: @pattern (a line start) occurs once and becomes @replacement."""
        def mutate(d):
            out, n = re.subn(rb'(?m)^' + pattern, replacement, d)
            self.assertEqual(n, 1, d)
            return out
        return mutate

    def test_wrong_version(self):
        self.check_corrupt(self.replace_one(rb'version=\d+', b'version=999'))

    def test_bad_field_types(self):
        self.check_corrupt(self.replace_one(rb'percent=\d+', b'percent=lots'))

    def test_bad_state_name(self):
        self.check_corrupt(self.replace_one(rb'state=\w+', b'state=exploded'))


if __name__ == '__main__':
    fotatest.main()
