# SPDX-License-Identifier: LGPL-2.1-or-later
"""The modem receives exactly the bytes that were checked (issue 7, item 2).

The client keeps the package it passed to StartFile and changes it during the
stream: rewrites bytes not yet sent, moves the shared file offset (the daemon
holds the same open file description), truncates or extends the file. With
"sha256" a change must fail the job DownloadFailed "package changed while it was
being sent" without the last byte ever reaching the modem; an offset moved by the
client must not matter at all; without "sha256" a size change fails the same way.
Afterwards the modem is usable at once. GetJob reports "sent-sha256".

One meson test per case: package-integrity-* (tests/integration/meson.build)."""

import os
import shutil
import time

import faults
import fotatest
from fotatest import opts, s
from faults import SLOW_STREAM, SLOW_SIZE, QUICK_SIZE

CHANGED = 'package changed while it was being sent'


class IntegrityTest(fotatest.FotaTestCase):
    modem_config = SLOW_STREAM

    def setUp(self):
        super().setUp()
        self.slow = self.package(size=SLOW_SIZE, name='slow.bin')
        self.quick = self.package(size=QUICK_SIZE, name='quick.bin')
        self.victim = os.path.join(self.tmpdir, 'victim.bin')
        shutil.copyfile(self.slow.path, self.victim)

    def wait_sending(self, job):
        self.daemon.wait_state(job, 'downloading', 15)
        fotatest.wait_until(lambda: any(st == 'downloading' and pc >= 2
                                        for st, pc in self.daemon.progress(job)),
                            15, 'some of the package to be sent')

    def assertChangedAndRecovered(self, job):
        """The job failed as changed, the modem never got the whole length, and a job
        started at once succeeds."""
        _, fin = self.daemon.wait_finished(job, 30)
        self.assertEqual(fin[1:3], ('failed', fotatest.ERR + 'DownloadFailed'), fin)
        self.assertIn(CHANGED, fin[3])
        job2 = self.daemon.start_file(self.quick.path)
        _, fin2 = self.daemon.wait_finished(job2, 40)
        self.assertEqual(fin2[1], 'succeeded', fin2)
        first = self.sim.file_events()[0]
        self.assertLess(first['received'], first['length'],
                        f'the modem received the whole changed package: {first}')
        self.assertEqual(self.sim.revision(), self.quick.to)
        faults.assert_nothing_absorbed(self)

    def test_rewritten_during_the_stream_with_sha256(self):
        job = self.daemon.start_file(self.victim, opts(sha256=s(self.slow.sha256)))
        self.wait_sending(job)
        with open(self.victim, 'r+b') as f:  # the tail, not sent yet
            f.seek(SLOW_SIZE - 4096)
            f.write(b'\x5a' * 4096)
        self.assertChangedAndRecovered(job)

    def test_offset_moved_by_the_client_with_sha256(self):
        """lseek on the caller's fd moves the daemon's offset too, unless the daemon
        reads at its own offset: the modem must get exactly the hashed bytes."""
        fd = os.open(self.slow.path, os.O_RDONLY)
        self.addCleanup(os.close, fd)
        job = self.daemon.start_fd(fd, opts(sha256=s(self.slow.sha256)))
        self.daemon.wait_state(job, 'downloading', 15)
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline and not self.daemon.finished(job):
            os.lseek(fd, 0, os.SEEK_SET)
            fotatest.spin(0.1)
        _, fin = self.daemon.wait_finished(job, 40)
        self.assertEqual(fin[1], 'succeeded', fin)
        self.assertEqual([e['sha256'] for e in self.sim.complete_files()], [self.slow.sha256])
        self.assertEqual(self.daemon.get_job().get('sent-sha256'), self.slow.sha256)

    def test_truncated_during_the_stream_without_sha256(self):
        job = self.daemon.start_file(self.victim)
        self.wait_sending(job)
        os.truncate(self.victim, SLOW_SIZE // 2)
        self.assertChangedAndRecovered(job)

    def test_extended_during_the_stream_without_sha256(self):
        job = self.daemon.start_file(self.victim)
        self.wait_sending(job)
        with open(self.victim, 'ab') as f:
            f.write(b'\x00' * 4096)
        self.assertChangedAndRecovered(job)

    def test_sent_sha256(self):
        """GetJob says what the modem was given, with and without "sha256"."""
        for with_sha256 in (False, True):
            if self.sim.revision() != self.quick.frm:
                self.quick = self.package(frm=self.sim.revision(), size=QUICK_SIZE,
                                          name='back.bin')
            options = opts(sha256=s(self.quick.sha256)) if with_sha256 else opts()
            job = self.daemon.start_file(self.quick.path, options)
            _, fin = self.daemon.wait_finished(job, 40)
            self.assertEqual(fin[1], 'succeeded', fin)
            self.assertEqual(self.daemon.get_job().get('sent-sha256'), self.quick.sha256,
                             self.daemon.get_job())


if __name__ == '__main__':
    fotatest.main()
