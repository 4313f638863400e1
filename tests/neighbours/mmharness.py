# SPDX-License-Identifier: LGPL-2.1-or-later
"""The daemon's neighbours for real: a private system-like bus, a polkit mock,
python3-dbusmock's logind, and the real ModemManager managing a umockdev
testbed of an EC200T (2c7c:6026) whose AT tty is the modem simulator.

Runs under umockdev-wrapper (meson does): the preload library gives this
process and everything it starts (ModemManager, quectel-fotad, test programs)
the testbed's /sys, /dev and uevents. The testbed's /dev/ttyUSB<n> is a
symlink to the simulator's link, so what ModemManager writes to it lands in
the simulator's log; umockdev's ioctl emulation is replaced by a handler that
runs every ioctl on the real pty (TIOCEXCL, termios).

Everything a test starts is stopped by its cleanups, every wait has a deadline
and every test has its own directory, bus socket and testbed.
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'integration'))

import fotatest  # noqa: E402
from fotatest import Gio, GLib, wait_until, stop_process  # noqa: E402

# Exits 77 without UMockdev's introspection data or outside umockdev-wrapper.
import test_discovery  # noqa: E402  (its Testbed's ioctl pass-through, its Reenumerator)
from test_discovery import UMockdev  # noqa: E402

MM_NAME = 'org.freedesktop.ModemManager1'
MM_PATH = '/org/freedesktop/ModemManager1'
MM_MODEM_IFACE = 'org.freedesktop.ModemManager1.Modem'
LOGIND_NAME = 'org.freedesktop.login1'
LOGIND_PATH = '/org/freedesktop/login1'
LOGIND_IFACE = 'org.freedesktop.login1.Manager'

USB_NAME = 'pci0000:00/0000:00:14.0/usb1/1-1'
USB_SYSPATH = '/sys/devices/' + USB_NAME
AT_INTERFACE = 3
FIRST_TTYS = 0   # the AT port is ttyUSB<base + 1>, as discovery's test numbers them
OTHER_TTYS = 4


def skip_unless_ready():
    """Exit 77 (meson's skip) when a part of the harness is missing."""
    missing = [p for p in ('dbus-daemon', 'ModemManager') if not fotatest.have_program(p)]
    if missing:
        print(f'not installed: {", ".join(missing)}: skipping', file=sys.stderr)
        sys.exit(77)
    try:
        import dbusmock  # noqa: F401  (only whether it is there)
    except ImportError:
        print('python3-dbusmock is not installed: skipping', file=sys.stderr)
        sys.exit(77)


# ---------------------------------------------------------- system-like bus

BUS_CONFIG = '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<!-- SPDX-License-Identifier: LGPL-2.1-or-later -->
<!-- The system bus's rules without its user, pidfile, syslog and service
     activation, on a socket of the test's own. -->
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <includedir>/usr/share/dbus-1/system.d</includedir>
  <policy user="root">
    <allow own="*"/>
    <allow send_type="method_call"/>
  </policy>
</busconfig>
'''


class SystemLikeBus(fotatest.PrivateBus):
    """A dbus-daemon with the system bus's rules on <tmpdir>/bus. Two buses on
    one socket path delete each other's socket on exit: one path per test."""

    def __init__(self, tmpdir):
        self.socket = os.path.join(tmpdir, 'bus')
        config = os.path.join(tmpdir, 'system-bus.conf')
        with open(config, 'w') as f:
            f.write(BUS_CONFIG.format(socket=self.socket))
        super().__init__(tmpdir, config_file=config)

    def env(self):
        """The environment of a peer: both bus addresses lead here."""
        return dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address,
                    DBUS_SESSION_BUS_ADDRESS=self.address)

    def call(self, name, path, iface, method, args=None, reply=None, timeout_ms=5000):
        res = self.conn.call_sync(name, path, iface, method, args,
                                  GLib.VariantType(reply) if reply else None,
                                  Gio.DBusCallFlags.NO_AUTO_START, timeout_ms, None)
        return res.unpack() if res is not None else None


class DBusMock:
    """python3 -m dbusmock --system --template NAME on the bus."""

    def __init__(self, bus, tmpdir, template, name):
        self.log_path = os.path.join(tmpdir, f'dbusmock-{template}.log')
        with open(self.log_path, 'wb') as log:
            self.proc = subprocess.Popen(
                [sys.executable, '-m', 'dbusmock', '--system', '--template', template],
                env=bus.env(), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        wait_until(lambda: self.proc.poll() is not None or bus.name_has_owner(name), 15,
                   f'{name} from dbusmock')
        if self.proc.poll() is not None:
            raise AssertionError(f'dbusmock {template} exited with {self.proc.returncode}')

    def stop(self):
        stop_process(self.proc)


def start_polkit(bus, tmpdir):
    """The polkit mock that authorizes everything (InhibitDevice is checked)."""
    mock = DBusMock(bus, tmpdir, 'polkitd', 'org.freedesktop.PolicyKit1')
    bus.call('org.freedesktop.PolicyKit1', '/org/freedesktop/PolicyKit1/Authority',
             'org.freedesktop.DBus.Mock', 'AllowUnknown', GLib.Variant('(b)', (True,)))
    return mock


def start_logind(bus, tmpdir):
    return DBusMock(bus, tmpdir, 'logind', LOGIND_NAME)


def list_inhibitors(bus):
    """[(what, who, why, mode, uid, pid)] from logind."""
    return bus.call(LOGIND_NAME, LOGIND_PATH, LOGIND_IFACE, 'ListInhibitors',
                    reply='(a(ssssuu))')[0]


# ------------------------------------------------------------------ testbed

class ModemTestbed:
    """The EC200T's USB device with its AT interface (driver option) and tty.
    The tty's node leads to the simulator's link. plug()/unplug() have the
    shape test_discovery.Reenumerator drives, so a simulator reboot can be
    played as a USB re-enumeration."""

    def __init__(self, sim_link, power_control='auto'):
        self.tb = UMockdev.Testbed.new()
        self.root = self.tb.get_root_dir()
        # The testbed set UMOCKDEV_DIR with setenv(); os.environ (which the
        # children's environments copy) does not see that.
        os.environ['UMOCKDEV_DIR'] = self.root
        os.makedirs(os.path.join(self.root, 'dev'), exist_ok=True)
        self.sim_link = sim_link
        self.power_control = power_control
        self.passthrough = UMockdev.IoctlBase()
        self.passthrough.connect('handle-ioctl', test_discovery.Testbed._run_ioctl)
        self.attached = set()
        self.devices = []    # parents first
        self.at_tty = None   # the tty's syspath while plugged
        self.base = None

    def close(self):
        os.environ.pop('UMOCKDEV_DIR', None)
        self.tb = None  # finalizing removes the root directory

    def _link_node(self, name):
        node = os.path.join(self.root, 'dev', name)
        if os.path.lexists(node):
            os.unlink(node)
        os.symlink(self.sim_link, node)
        if name not in self.attached:
            assert self.tb.attach_ioctl('/dev/' + name, self.passthrough), f'attach_ioctl {name}'
            self.attached.add(name)

    def _add(self, subsystem, name, parent, attrs, props):
        path = self.tb.add_device(subsystem, name, parent, attrs, props)
        assert path, f'cannot add {subsystem} device {name}'
        self.devices.append(path)
        return path

    def plug(self, base=FIRST_TTYS, announce=False):
        """The modem appears (umockdev sends each device's "add" uevent);
        @announce sends the tty's once more, as udev's coldplug would."""
        assert self.base is None
        usb = self._add('usb', USB_NAME, None,
                        ['idVendor', '2c7c', 'idProduct', '6026', 'manufacturer', 'Quectel',
                         'product', 'EC200T-CN', 'busnum', '1', 'devnum', '2',
                         'power/control', self.power_control],
                        ['DEVTYPE', 'usb_device', 'ID_VENDOR_ID', '2c7c',
                         'ID_MODEL_ID', '6026', 'PRODUCT', '2c7c/6026/318'])
        intf = self._add('usb', f'1-1:1.{AT_INTERFACE}', usb,
                         ['bInterfaceNumber', f'{AT_INTERFACE:02x}', 'bInterfaceClass', 'ff'],
                         ['DEVTYPE', 'usb_interface', 'DRIVER', 'option',
                          'INTERFACE', '255/0/0', 'PRODUCT', '2c7c/6026/318'])
        os.symlink(os.path.join(self.root, 'sys', 'bus', 'usb', 'drivers', 'option'),
                   os.path.join(self.root, intf.lstrip('/'), 'driver'))
        name = f'ttyUSB{base + 1}'
        self._link_node(name)
        port = self._add('usb-serial', name, intf, [], ['DRIVER', 'option1'])
        self.at_tty = self._add('tty', name, port, [],
                                ['DEVNAME', '/dev/' + name, 'ID_MM_CANDIDATE', '1',
                                 'ID_MM_PORT_TYPE_AT_PRIMARY', '1',
                                 'ID_VENDOR_ID', '2c7c', 'ID_MODEL_ID', '6026',
                                 'ID_USB_INTERFACE_NUM', f'{AT_INTERFACE:02d}',
                                 'ID_USB_DRIVER', 'option'])
        self.base = base
        if announce:
            self.tb.uevent(self.at_tty, 'add')

    def unplug(self):
        """What a rebooting modem looks like: the tty removed, then the device.
        Leaves first: remove_device() of a parent leaves the children's links."""
        assert self.base is not None
        self.tb.uevent(self.at_tty, 'remove')
        for path in reversed(self.devices):
            self.tb.remove_device(path)
        node = os.path.join(self.root, 'dev', f'ttyUSB{self.base + 1}')
        if os.path.lexists(node):
            os.unlink(node)
        self.devices.clear()
        self.at_tty = None
        self.base = None

    def announce_decoys(self):
        """There are none here (test_discovery.Reenumerator calls this)."""

    def _power_control_path(self):
        return os.path.join(self.root, 'sys', 'devices', USB_NAME, 'power', 'control')

    def power_control_now(self):
        with open(self._power_control_path()) as f:
            return f.read().strip()

    def set_power_control(self, value):
        """What an administrator's echo into power/control does."""
        with open(self._power_control_path(), 'w') as f:
            f.write(value)


# ------------------------------------------------------------ ModemManager

# umockdev (0.17) emulates each process's uevent netlink socket with a unix
# socket named <testbed>/event<fd number>: two processes whose sockets get the
# same number (ModemManager's and quectel-fotad's are both often 5 or 7) share
# one name, the later one wins and the other never hears of a re-enumeration.
# ModemManager starts with fds 3..29 taken, so its socket's number is its own.
FD_PAD = 'for fd in $(seq 3 29); do eval "exec $fd</dev/null"; done; '


class ModemManager:
    """The real ModemManager --debug under the testbed, on the bus."""

    def __init__(self, tc, index=0):
        self.bus = tc.bus
        self.log_path = os.path.join(tc.tmpdir, f'ModemManager.{index}.log')
        tc.extra_logs.append(self.log_path)
        with open(self.log_path, 'wb') as log:
            self.proc = subprocess.Popen(['bash', '-c', FD_PAD + 'exec ModemManager --debug'],
                                         env=self.bus.env(), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        wait_until(lambda: self.proc.poll() is not None or self.bus.name_has_owner(MM_NAME),
                   20, f'{MM_NAME} on the bus')
        if self.proc.poll() is not None:
            raise AssertionError(f'ModemManager exited with {self.proc.returncode}')

    def log_text(self):
        with open(self.log_path, errors='replace') as f:
            return f.read()

    def modems(self):
        """{object path: Modem properties} of the modems exported now."""
        objects = self.bus.call(MM_NAME, MM_PATH, 'org.freedesktop.DBus.ObjectManager',
                                'GetManagedObjects', reply='(a{oa{sa{sv}}})')[0]
        return {path: ifaces[MM_MODEM_IFACE] for path, ifaces in objects.items()
                if MM_MODEM_IFACE in ifaces}

    def wait_modem(self, timeout=60, not_path=None):
        """(path, properties) of the first modem exported (other than @not_path)."""
        def found():
            for path, props in self.modems().items():
                if path != not_path:
                    return path, props
            return None
        return wait_until(lambda: self._check_alive() and found(), timeout,
                          'ModemManager to export the modem')

    def wait_no_modem(self, timeout=10):
        wait_until(lambda: self._check_alive() and not self.modems(), timeout,
                   'the modem object to disappear')

    def inhibit(self, uid, inhibit, conn=None):
        (conn or self.bus.conn).call_sync(
            MM_NAME, MM_PATH, MM_NAME, 'InhibitDevice', GLib.Variant('(sb)', (uid, inhibit)),
            None, Gio.DBusCallFlags.NO_AUTO_START, 10000, None)

    def _check_alive(self):
        if self.proc.poll() is not None:
            raise AssertionError(f'ModemManager died with {self.proc.returncode}')
        return True

    def stop(self):
        stop_process(self.proc, timeout=10)


def _same_file(fd_path, target):
    """Whether /proc/<pid>/fd/<n> is @target (an os.stat_result). By device and
    inode: another devpts instance (a container's) has its own /dev/pts/N."""
    try:
        st = os.stat(fd_path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino, st.st_rdev) == (target.st_dev, target.st_ino, target.st_rdev)


def holds_tty(pid, target):
    """Whether process @pid has @target (an os.stat_result of the pty) open."""
    try:
        fds = os.listdir(f'/proc/{pid}/fd')
    except OSError:
        return False
    return any(_same_file(f'/proc/{pid}/fd/{fd}', target) for fd in fds)


def tty_stat(sim_link):
    try:
        return os.stat(sim_link)
    except OSError:
        return None


def tty_open_by_others(sim_link):
    """[(pid, comm)] of the processes other than the simulator with the pty
    behind @sim_link open."""
    target = tty_stat(sim_link)
    if target is None:
        return []
    holders = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{pid}/comm') as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm != 'fota-modem-sim' and holds_tty(pid, target):
            holders.append((int(pid), comm))
    return holders


# ------------------------------------------------------- watching the peers

class InhibitMonitor:
    """Every InhibitDevice call on the bus, with the time it passed the bus:
    a monitor connection (BecomeMonitor) whose filter runs in GDBus's worker
    thread, so the stamp does not wait for the test's main loop."""

    def __init__(self, bus):
        self.calls = []   # (monotonic time, sender, uid, inhibit)
        self.conn = bus.connect()
        self.conn.add_filter(self._filter)
        rule = f"type='method_call',interface='{MM_NAME}',member='InhibitDevice'"
        self.conn.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                            'org.freedesktop.DBus.Monitoring', 'BecomeMonitor',
                            GLib.Variant('(asu)', ([rule], 0)), None,
                            Gio.DBusCallFlags.NONE, 5000, None)

    def _filter(self, conn, message, incoming):
        # A monitor must never answer (the bus would drop it): the monitored
        # calls are consumed here; everything else (the BecomeMonitor reply)
        # goes on.
        if incoming and message.get_member() == 'InhibitDevice':
            uid, inhibit = message.get_body().unpack()
            self.calls.append((time.monotonic(), message.get_sender(), uid, inhibit))
            return None
        return message

    def times(self, inhibit):
        return [t for t, _, _, flag in self.calls if flag == inhibit]

    def stop(self):
        try:
            self.conn.close_sync(None)
        except GLib.Error:
            pass


class TtyWatch:
    """Samples, from the main loop every POLL_MS, who of ModemManager and the
    daemon holds the simulator's tty, and stamps the simulator's new command
    lines with the time they were first seen."""

    POLL_MS = 20

    def __init__(self, tc):
        self.tc = tc
        self.samples = []   # (time, ModemManager holds it, the daemon holds it)
        self.commands = []  # (time first seen, line)
        self.seen = len(tc.sim.commands())
        self.source = GLib.timeout_add(self.POLL_MS, self._poll)

    def _poll(self):
        now = time.monotonic()
        target = tty_stat(self.tc.sim.link)
        mm = self.tc.mm.proc.pid if self.tc.mm and self.tc.mm.proc.poll() is None else None
        daemon = self.tc.daemon.pid if self.tc.daemon and \
            self.tc.daemon.proc.poll() is None else None
        self.samples.append((now, bool(target and mm and holds_tty(mm, target)),
                             bool(target and daemon and holds_tty(daemon, target))))
        lines = self.tc.sim.commands()
        self.commands.extend((now, line) for line in lines[self.seen:])
        self.seen = len(lines)
        return True

    def first_held_by_daemon(self, after=0):
        return next((t for t, _, d in self.samples if d and t >= after), None)

    def mm_held_between(self, start, end):
        return [t for t, m, _ in self.samples if m and start <= t <= end]

    def both_held(self):
        return [t for t, m, d in self.samples if m and d]

    def commands_between(self, start, end):
        return [line for t, line in self.commands if start <= t <= end]

    def stop(self):
        if self.source:
            GLib.source_remove(self.source)
            self.source = 0


# ------------------------------------------------------------ neighbour-tool

class NeighbourTool:
    """neighbour-tool (libfota-neighbours) on the bus: one command, one answer.
    ModemManager's "appeared"/"vanished" lines are kept apart with their time."""

    EVENTS = ('appeared', 'vanished')

    def __init__(self, tc):
        import queue
        import threading
        self.answers = queue.Queue()
        self.events = []   # (monotonic time, "appeared" | "vanished")
        self.log_path = os.path.join(tc.tmpdir, 'neighbour-tool.log')
        self.proc = subprocess.Popen([fotatest.tool('NEIGHBOUR_TOOL')], env=tc.bus.env(),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=open(self.log_path, 'wb'))
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        self.expect('ready', 10)

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors='replace').strip()
            if line in self.EVENTS:
                self.events.append((time.monotonic(), line))
            else:
                self.answers.put(line)
        self.answers.put(None)

    def expect(self, what, timeout):
        import queue
        try:
            line = self.answers.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f'neighbour-tool: no answer within {timeout}s')
        if line is None:
            raise AssertionError(f'neighbour-tool exited with {self.proc.wait(5)}')
        if what is not None and line != what:
            raise AssertionError(f'neighbour-tool answered {line!r}, not {what!r}')
        return line

    def cmd(self, line, timeout=15):
        """The answer line to @line."""
        self.proc.stdin.write(line.encode() + b'\n')
        self.proc.stdin.flush()
        return self.expect(None, timeout)

    def ok(self, line, timeout=15):
        answer = self.cmd(line, timeout)
        if answer != 'ok':
            raise AssertionError(f'{line!r} -> {answer!r}')

    def find(self, device='-', tty='-'):
        """None, or (path, device, manufacturer, model, revision)."""
        answer = self.cmd(f'find {device} {tty}')
        if answer == 'none':
            return None
        if not answer.startswith('modem '):
            raise AssertionError(f'find -> {answer!r}')
        return tuple(answer.split(' ')[1:])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        stop_process(self.proc)
        self.proc.stdout.close()


# ---------------------------------------------------------------- test case

class NeighboursTestCase(fotatest.FotaTestCase):
    """A FotaTestCase on a system-like bus with polkit, logind and the testbed;
    ModemManager is started by start_mm()."""

    start_daemon = False
    with_logind = True
    power_control = 'auto'

    def make_bus(self):
        return SystemLikeBus(self.tmpdir)

    def setUp(self):
        self.extra_logs = []  # shown by fotatest on failure, like the daemon's
        self.mm = None
        super().setUp()
        # fotatest.Daemon runs quectel-fotad --session on self.bus; peers are
        # looked up on that bus, so both addresses lead to the system-like one.
        self.daemon_env = {'DBUS_SYSTEM_BUS_ADDRESS': self.bus.address}
        self.polkit = start_polkit(self.bus, self.tmpdir)
        self.addCleanup(self.polkit.stop)
        self.extra_logs.append(self.polkit.log_path)
        self.logind = None
        if self.with_logind:
            self.logind = start_logind(self.bus, self.tmpdir)
            self.addCleanup(self.logind.stop)
        self.start_sim()
        self.testbed = ModemTestbed(self.sim.link, self.power_control)
        self.addCleanup(self.testbed.close)  # after everything using it stopped

    def start_mm(self):
        self.mm = ModemManager(self, len([p for p in self.extra_logs if 'ModemManager' in p]))
        self.addCleanup(self.mm.stop)
        return self.mm

    def start_tool(self):
        tool = NeighbourTool(self)
        self.addCleanup(tool.stop)
        self.extra_logs.append(tool.log_path)
        return tool

    def wait_tty_free(self, timeout=10):
        try:
            return wait_until(lambda: not tty_open_by_others(self.sim.link), timeout,
                              'the tty closed by everyone but the simulator')
        except AssertionError as e:
            raise AssertionError(f'{e}; held by {tty_open_by_others(self.sim.link)}') from None

