# SPDX-License-Identifier: LGPL-2.1-or-later
"""logind-inhibit (libfota-neighbours, through neighbour-tool) against
python3-dbusmock's logind template: the inhibitor is listed while its fd is
held and gone once it is freed (or its holder dies); no logind is an error
of its own code."""

import signal

import mmharness
import fotatest
from fotatest import wait_until


class LogindTest(mmharness.NeighboursTestCase):

    def held(self):
        return [(what, who, why, mode) for what, who, why, mode, _, _ in
                mmharness.list_inhibitors(self.bus)]

    def test_block_then_free(self):
        tool = self.start_tool()
        self.assertEqual(self.held(), [])
        tool.ok('logind shutdown:sleep block job 0123 on ttyUSB1')
        self.assertEqual(self.held(), [('shutdown:sleep', 'quectel-fotad',
                                        'job 0123 on ttyUSB1', 'block')])
        tool.ok('logind shutdown:sleep delay downloading')
        self.assertEqual(len(self.held()), 2)
        tool.ok('unlogind')  # the newest, the delay lock
        wait_until(lambda: len(self.held()) == 1, 5, 'the delay lock dropped')
        self.assertEqual(self.held()[0][3], 'block')
        tool.ok('unlogind')
        wait_until(lambda: self.held() == [], 5, 'no inhibitor left')

    def test_holder_dies(self):
        tool = self.start_tool()
        tool.ok('logind shutdown:sleep block job')
        tool.proc.send_signal(signal.SIGKILL)
        tool.proc.wait(5)
        wait_until(lambda: self.held() == [], 5, 'the inhibitor of a dead holder dropped')

    def test_no_logind(self):
        self.logind.stop()
        wait_until(lambda: not self.bus.name_has_owner(mmharness.LOGIND_NAME), 5,
                   'logind gone')
        tool = self.start_tool()
        answer = tool.cmd('logind shutdown:sleep block job')
        self.assertTrue(answer.startswith('error quectel-fotad-logind-inhibit-error-quark 0 '), answer)


if __name__ == '__main__':
    mmharness.skip_unless_ready()
    fotatest.main()
