# SPDX-License-Identifier: LGPL-2.1-or-later
"""The daemon under its service manager: it speaks sd_notify (READY=1 once it
owns its name, STATUS= per job state, STOPPING=1 on SIGTERM; a datagram socket
stands in for systemd), and SIGHUP (a closed terminal) does not end it."""

import os
import signal
import socket
import time

import fotatest


class NotifyTest(fotatest.FotaTestCase):
    start_daemon = False
    start_http = True

    def setUp(self):
        super().setUp()
        path = os.path.join(self.tmpdir, 'notify')
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.addCleanup(self.sock.close)
        # The daemon inherits the test's environment.
        os.environ['NOTIFY_SOCKET'] = path
        self.addCleanup(os.environ.pop, 'NOTIFY_SOCKET', None)
        self.messages = []

    def wait_message(self, wanted, timeout=15):
        """Collects notifications until one has the line @wanted."""
        deadline = time.monotonic() + timeout
        while True:
            for msg in self.messages:
                if wanted in msg.split('\n'):
                    return
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail(f'no {wanted!r} from sd_notify; got {self.messages}')
            self.sock.settimeout(left)
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass

    def test_ready_status_and_stopping(self):
        self.start_sim()
        self.restart_daemon()
        self.wait_message('READY=1')

        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name))
        _, fin = self.daemon.wait_finished(job, 60)
        self.assertEqual(fin[1], 'succeeded', fin)
        self.wait_message(f'STATUS=Job {job}: downloading')
        self.wait_message(f'STATUS=Job {job}: succeeded: {fin[3]}')

        self.assertEqual(self.daemon.kill(signal.SIGTERM), 0)
        self.wait_message('STOPPING=1', timeout=5)

    def test_sighup_does_not_end_the_daemon(self):
        """SIGHUP mid-job: the daemon and the job go on (issue 7, item 6)."""
        self.start_sim(['--download-ms', '3000'])
        self.restart_daemon()
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name))
        self.daemon.wait_state(job, 'downloading', 15)
        self.daemon.proc.send_signal(signal.SIGHUP)
        fotatest.spin(1)  # a window: a daemon ended by the signal is gone by now
        self.assertIsNone(self.daemon.proc.poll(),
                          f'SIGHUP ended the daemon (status {self.daemon.proc.returncode})')
        _, fin = self.daemon.wait_finished(job, 40)
        self.assertEqual(fin[1], 'succeeded', fin)
        self.assertEqual(self.sim.revision(), pkg.to)


if __name__ == '__main__':
    fotatest.main()
