# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real daemon finds the modem's tty with udev, and finds it again after
every reboot, under umockdev.

Runs under umockdev-wrapper (meson does): the preload library hands the test
and everything it starts the testbed's /sys, /dev and uevents. The testbed
holds an EC200T (2c7c:6026: If#0,1 network, If#2 DIAG, If#3 AT, If#4 modem)
and two decoys on interface 3 (an FTDI adapter 0403:6001 and a Quectel EC25
2c7c:0125, which is not in the default id list). The AT tty's node is a
symlink to the simulator's link, so opening it reaches the simulated modem;
every other tty's node is a pty of the test's own, which must never see a
byte. When the simulator reboots, its ttys are removed (uevents, leaves
first) and come back under other ttyUSB numbers, as a re-enumerating modem's
do; the daemon is started without a port, so only udev can lead it there.
"""

import ctypes
import errno
import fcntl
import os
import re
import socket
import struct
import sys

import fotatest
from fotatest import GLib, opts, u

try:
    import gi
    gi.require_version('UMockdev', '1.0')
    from gi.repository import UMockdev
except (ImportError, ValueError) as e:
    print(f'UMockdev introspection data is not installed ({e}): skipping', file=sys.stderr)
    sys.exit(77)

# umockdev_in_mock_environment() says FALSE even under the wrapper on
# umockdev 0.17: look at the preload itself. Outside it the daemon would
# watch the machine's real devices.
if 'umockdev-preload' not in os.environ.get('LD_PRELOAD', ''):
    print('not under umockdev-wrapper: skipping', file=sys.stderr)
    sys.exit(77)

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def has_net_admin():
    """Whether this process may bring up a loopback (a container may lack it)."""
    with open('/proc/self/status') as f:
        caps = next(l for l in f if l.startswith('CapEff:')).split()[1]
    return int(caps, 16) & (1 << 12) != 0  # CAP_NET_ADMIN


def deep_uevent_queue():
    """umockdev hands uevents over a unix datagram socket, whose queue holds
    net.unix.max_dgram_qlen datagrams (10 on Debian 12), where the kernel's
    netlink socket holds its receive buffer's worth (hundreds of uevents). A
    plug is 12 uevents in a row: when a daemon slowed by ASan on a loaded
    machine had not read them yet, umockdev's sender got EAGAIN and aborted
    the test. In a network namespace of its own (root only) the test gives
    the queue a netlink-like depth, and brings up its loopback for the HTTP
    server; elsewhere (not root, or no CAP_NET_ADMIN) the machine's setting
    stays."""
    qlen = '/proc/sys/net/unix/max_dgram_qlen'
    # /proc/sys is read-only in a container (systemd-nspawn): even in a
    # namespace of its own the queue keeps its depth there.
    if os.geteuid() != 0 or not has_net_admin() or not os.access(qlen, os.W_OK):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        print(f'unshare(CLONE_NEWNET): {os.strerror(ctypes.get_errno())}; '
              'the uevent queue keeps its depth', file=sys.stderr)
        return
    with open(qlen, 'w') as f:
        f.write('512')
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        ifreq = struct.pack('16sH14x', b'lo', 0)
        flags = struct.unpack('16sH14x', fcntl.ioctl(sock, SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack('16sH14x', b'lo', flags | IFF_UP))


MODEM_USB = '1-4'
IDENTITY = 'usb:2c7c:6026:/devices/' + MODEM_USB
FIRST_TTYS = 0   # DIAG ttyUSB0, AT ttyUSB1, modem ttyUSB2
OTHER_TTYS = 4   # DIAG ttyUSB4, AT ttyUSB5, modem ttyUSB6
POLL_MS = 20


def at_port(base):
    return f'/dev/ttyUSB{base + 1}'


class Testbed:
    """A umockdev testbed for this process and its children."""

    def __init__(self, sim_link):
        self.tb = UMockdev.Testbed.new()
        self.root = self.tb.get_root_dir()
        # The testbed set UMOCKDEV_DIR with setenv(); os.environ (which the
        # harness copies for the daemon) does not see that.
        os.environ['UMOCKDEV_DIR'] = self.root
        os.makedirs(os.path.join(self.root, 'dev'), exist_ok=True)
        self.sim_link = sim_link
        self.ptys = {}         # /dev name -> (master fd, slave fd, node name) of a decoy node
        self.modem_ttys = []   # the modem's tty syspaths, DIAG first
        self.modem_devs = []   # all of the modem's syspaths, parents first
        self.base = None       # the modem's first ttyUSB number while plugged
        # umockdev 0.17 sends every ioctl on a node of the testbed to the
        # testbed, whose default answer is ENOTTY (TIOCEXCL included): run
        # them on the real pty instead. Reads and writes stay native.
        self.passthrough = UMockdev.IoctlBase()
        self.passthrough.connect('handle-ioctl', self._run_ioctl)
        self.attached = set()
        self.decoy_ttys = []
        self.decoy_ttys.append(self._decoy('1-2', '0403', '6001', 9))   # FTDI
        self.decoy_ttys.append(self._decoy('1-3', '2c7c', '0125', 8))   # EC25

    def close(self):
        for master, slave, _ in self.ptys.values():
            os.close(master)
            os.close(slave)
        self.ptys.clear()
        os.environ.pop('UMOCKDEV_DIR', None)
        self.tb = None  # finalizing removes the root directory

    # -- device nodes
    @staticmethod
    def _run_ioctl(handler, client):
        # called in the testbed's ioctl thread
        result, err = client.execute()
        client.complete(result, err)
        return True

    def _node(self, number):
        return os.path.join(self.root, 'dev', f'ttyUSB{number}')

    def _link_node(self, number, target):
        node = self._node(number)
        if os.path.lexists(node):
            os.unlink(node)
        os.symlink(target, node)
        name = f'/dev/ttyUSB{number}'
        if name not in self.attached:
            assert self.tb.attach_ioctl(name, self.passthrough), f'attach_ioctl {name}'
            self.attached.add(name)

    def _pty_node(self, number):
        """A node nothing may open: a pty whose master the test reads."""
        name = f'/dev/ttyUSB{number}'
        if name not in self.ptys:
            master, slave = os.openpty()
            os.set_blocking(master, False)
            self.ptys[name] = (master, slave, os.ttyname(slave))
        self._link_node(number, self.ptys[name][2])

    def written_to_decoys(self):
        """{/dev name: bytes} of every decoy node something wrote to."""
        out = {}
        for name, (master, _, _) in self.ptys.items():
            try:
                data = os.read(master, 4096)
            except BlockingIOError:
                continue
            except OSError as e:
                if e.errno == errno.EIO:
                    continue
                raise
            if data:
                out[name] = data
        return out

    # -- sysfs
    def _usb(self, name, vid, pid):
        path = self.tb.add_device('usb', name, None, ['idVendor', vid, 'idProduct', pid],
                                  ['DEVTYPE', 'usb_device'])
        assert path, f'cannot add USB device {name}'
        return path

    def _interface(self, usb, number, tty, added, node_target=None):
        """Interface @number of @usb with ttyUSB@tty under it, as the option
        driver makes it (interface / usb-serial port / tty); the tty's syspath.
        The tty's node is made first, as devtmpfs does: adding the tty already
        sends its "add" uevent. It leads to @node_target, or to a decoy pty."""
        intf = self.tb.add_device('usb', f'{os.path.basename(usb)}:1.{number}', usb,
                                  ['bInterfaceNumber', f'{number:02x}'],
                                  ['DEVTYPE', 'usb_interface'])
        assert intf, f'cannot add interface {number} of {usb}'
        added.append(intf)
        if tty is None:
            return None
        name = f'ttyUSB{tty}'
        if node_target is not None:
            self._link_node(tty, node_target)
        else:
            self._pty_node(tty)
        port = self.tb.add_device('usb-serial', name, intf, [], [])
        assert port, f'cannot add usb-serial {name}'
        added.append(port)
        path = self.tb.add_device('tty', name, port, [], ['DEVNAME', '/dev/' + name])
        assert path, f'cannot add tty {name}'
        added.append(path)
        return path

    def _decoy(self, usb_name, vid, pid, tty):
        usb = self._usb(usb_name, vid, pid)
        return self._interface(usb, 3, tty, [])

    def plug(self, base, announce):
        """The modem with its ttys numbered from @base, DIAG first (umockdev
        sends each device's "add" uevent as it is added); @announce sends the
        ttys' "add" uevents once more, which must change nothing."""
        assert self.base is None
        usb = self._usb(MODEM_USB, '2c7c', '6026')
        self.modem_devs.append(usb)
        for number in range(5):
            tty = base + number - 2 if number >= 2 else None
            path = self._interface(usb, number, tty, self.modem_devs,
                                   self.sim_link if number == 3 else None)
            if path is not None:
                self.modem_ttys.append(path)
        self.base = base
        if announce:
            for path in self.modem_ttys:
                self.tb.uevent(path, 'add')

    def unplug(self):
        """What a rebooting modem looks like: every tty removed, then the device.
        Leaves first: umockdev's remove_device() of a parent leaves the
        children's /sys/bus links behind."""
        assert self.base is not None
        for path in self.modem_ttys:
            self.tb.uevent(path, 'remove')
        for path in reversed(self.modem_devs):
            self.tb.remove_device(path)
        for number in range(self.base, self.base + 3):
            if os.path.lexists(self._node(number)):
                os.unlink(self._node(number))
        self.modem_ttys.clear()
        self.modem_devs.clear()
        self.base = None

    def announce_decoys(self):
        """The decoys' ttys come and go; nothing may follow them."""
        for path in self.decoy_ttys:
            self.tb.uevent(path, 'add')
            self.tb.uevent(path, 'change')


class Reenumerator:
    """Plays the USB side of every simulator reboot, from the main loop: once
    the simulator's tty is gone the modem's ttys are removed; when it is back
    they come back under the other ttyUSB numbers."""

    def __init__(self, tc, testbed):
        self.tc = tc
        self.testbed = testbed
        self.links_seen = len(tc.sim.events('link'))
        self.reboots_seen = len(tc.sim.events('reboot'))
        self.plugged = []   # the AT port of every re-plug, in order
        self.next_base = None
        self.error = None
        self.source = GLib.timeout_add(POLL_MS, self._poll)

    def stop(self):
        if self.source:
            GLib.source_remove(self.source)
            self.source = 0

    def _poll(self):
        try:
            self._step()
        except Exception as e:  # noqa: BLE001 - reported by check()
            self.error = e
            self.source = 0
            return False
        return True

    def _step(self):
        sim = self.tc.sim
        reboots = len(sim.events('reboot'))
        links = len(sim.events('link'))
        if self.testbed.base is not None and reboots > self.reboots_seen and \
                (not os.path.lexists(sim.link) or links > self.links_seen):
            self.reboots_seen = reboots
            base = self.testbed.base
            self.testbed.unplug()
            self.testbed.announce_decoys()
            self.next_base = OTHER_TTYS if base == FIRST_TTYS else FIRST_TTYS
        if self.testbed.base is None and links > self.links_seen:
            self.links_seen = links
            self.testbed.plug(self.next_base, announce=True)
            self.plugged.append(at_port(self.next_base))

    def check(self):
        if self.error is not None:
            raise AssertionError(f're-enumerating the modem failed: {self.error!r}')


class DiscoveryTest(fotatest.FotaTestCase):
    start_http = True
    start_daemon = False
    # The reboot lasts long enough for the ttys' absence to be seen.
    sim_flags = ('--reboot-ms', '1000')

    def setUp(self):
        super().setUp()
        self.start_sim()
        self.port = None  # no --port, no [modem] port=: udev discovery
        self.testbed = Testbed(self.sim.link)
        self.addCleanup(self.testbed.close)  # after the daemon is stopped

    def start(self):
        self.restart_daemon()
        self.assertNotIn('--port', ' '.join(self.daemon.proc.args))

    def opened_ports(self):
        return re.findall(r'Modem: opened (\S+)', self.daemon.log_text())

    def tried_ports(self):
        """Every tty the daemon opened or tried to."""
        return set(self.opened_ports()) | \
            set(re.findall(r'cannot open (/dev/[^\s:]+)', self.daemon.log_text()))

    def wait_modem(self, port, timeout=10):
        """GetModemInfo once the daemon has @port open and identified."""
        def ready():
            try:
                info = self.daemon.get_modem_info()
            except GLib.Error:
                return None
            return info if info['port'] == port else None
        return fotatest.wait_until(lambda: self.daemon._check_alive() and ready(), timeout,
                                   f'the modem identified on {port}')

    def assertQuietDecoys(self):
        self.assertEqual(self.testbed.written_to_decoys(), {},
                         'the daemon wrote to a tty that is not the modem\'s AT port')
        self.assertLessEqual(self.tried_ports(), {at_port(FIRST_TTYS), at_port(OTHER_TTYS)},
                             'the daemon tried a tty that is not the AT port')

    def job_file_port(self):
        """The port identity in the saved job (GetJob does not show it)."""
        kf = GLib.KeyFile.new()
        try:
            kf.load_from_file(os.path.join(self.state_dir, 'job'), GLib.KeyFileFlags.NONE)
            return kf.get_string('job', 'port')
        except GLib.Error:
            return None

    def upgrade(self, mode):
        self.testbed.plug(FIRST_TTYS, announce=False)
        self.start()
        info = self.wait_modem(at_port(FIRST_TTYS))
        self.assertEqual((info['model'], info['revision']), (self.model, self.revision))
        self.assertEqual(self.opened_ports(), [at_port(FIRST_TTYS)])
        self.assertQuietDecoys()

        renum = Reenumerator(self, self.testbed)
        self.addCleanup(renum.stop)
        pkg = self.package()
        job = self.daemon.start_url(self.http.url(pkg.name), opts(upgrade_mode=u(mode)))
        fotatest.wait_until(self.job_file_port, 5, 'the job saved with its port')
        self.assertEqual(self.job_file_port(), IDENTITY)
        progress, fin = self.daemon.wait_finished(job, 60)
        renum.stop()
        renum.check()
        self.assertEqual(fin[1], 'succeeded', fin)
        self.assertStateOrder(progress, mode)

        reboots = 2 if mode == 0 else 1
        self.assertEqual(len(self.sim.events('reboot')), reboots)
        expected = [at_port(OTHER_TTYS), at_port(FIRST_TTYS)][:reboots]
        self.assertEqual(renum.plugged, expected)
        final_port = expected[-1]

        job_info = self.daemon.get_job()
        self.assertEqual(job_info['to-revision'], pkg.to)
        self.assertEqual(self.daemon.prop('ModemRevision'), pkg.to)
        self.assertEqual(self.sim.revision(), pkg.to)
        info = self.wait_modem(final_port)
        self.assertEqual(info['revision'], pkg.to)
        # the same physical USB port, whatever the ttyUSB number
        self.assertEqual(self.job_file_port(), IDENTITY)
        # each tty opened once, in the order they came
        self.assertEqual(self.opened_ports(), [at_port(FIRST_TTYS)] + expected)
        self.assertQuietDecoys()

    def test_reboot_renumbers_mode1(self):
        """One reboot: ttyUSB1 -> ttyUSB5."""
        self.upgrade(1)

    def test_reboot_renumbers_mode0(self):
        """Two reboots: ttyUSB1 -> ttyUSB5 -> ttyUSB1."""
        self.upgrade(0)

    def test_modem_plugged_after_start(self):
        """The daemon starts before the modem is there and finds it when it comes."""
        self.start()
        self.assertDBusError('NoModem', self.daemon.get_modem_info)
        self.testbed.announce_decoys()
        fotatest.spin(0.3)
        self.assertEqual(self.opened_ports(), [])
        self.testbed.plug(OTHER_TTYS, announce=True)
        info = self.wait_modem(at_port(OTHER_TTYS))
        self.assertEqual((info['model'], info['revision']), (self.model, self.revision))
        self.assertEqual(self.opened_ports(), [at_port(OTHER_TTYS)])
        self.assertQuietDecoys()


if __name__ == '__main__':
    deep_uevent_queue()
    fotatest.main()
