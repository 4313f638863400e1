# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared harness of the integration tests.

Every test gets its own temporary directory, private dbus-daemon, modem
simulator, HTTP/FTP servers (on 127.0.0.1, port 0) and quectel-fotad.
Everything a test starts is stopped by its cleanups, even on failure, and
every wait has a deadline.

Build paths come from the environment (set by tests/integration/meson.build):
FOTAD, FOTACTL, FOTA_SIM, FOTA_SRCDIR.
"""

import functools
import hashlib
import http.server
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

import warnings

try:
    import gi
except ImportError:  # python3-gi is an optional tool: skip, do not fail
    print('python3-gi is not installed: skipping', file=sys.stderr)
    sys.exit(77)

gi.require_version('Gio', '2.0')
gi.require_version('GLib', '2.0')
from gi.repository import Gio, GLib  # noqa: E402

BUS_NAME = 'org.quectel.Fota1'
OBJ_PATH = '/org/quectel/Fota1'
IFACE = 'org.quectel.Fota1'
ERR = 'org.quectel.Fota1.Error.'

FINAL_STATES = ('succeeded', 'failed', 'cancelled')

# Tiny daemon timeouts (seconds) so failures show up quickly.
DEFAULT_TIMEOUTS = {
    'command': 2, 'first-urc': 3, 'urc-gap': 3, 'download': 30, 'update': 30,
    'reboot': 10, 'boot-settle': 2, 'late-reply-grace': 0.3,
}
# Tiny simulator timings.
DEFAULT_SIM_FLAGS = ['--reboot-ms', '300', '--update-ms', '300', '--download-ms', '300',
                     '--file-timeout-ms', '1500', '--net-timeout-ms', '10000']

FOTA_REV = 'EC200TCNDAR02A01M16'      # an EC200T (full-image FOTA) revision
FOTA_REV2 = 'EC200TCNDAR02A02M16'
DFOTA_REV = 'EC200SCNAAR03A01M08'     # an EC200S (delta) revision
DFOTA_REV2 = 'EC200SCNAAR03A02M08'

FTP_USER = 'fota'
FTP_PASSWORD = 'secret'


def tool(envvar):
    """A build product named by the environment; missing is a failure."""
    path = os.environ.get(envvar)
    if not path:
        raise AssertionError(f'{envvar} is not set (run through meson test)')
    if not os.access(path, os.X_OK):
        raise AssertionError(f'{envvar}={path} is not an executable (not built yet?)')
    return path


def have_program(name):
    return shutil.which(name) is not None


def u(value):
    return GLib.Variant('u', value)


def s(value):
    return GLib.Variant('s', value)


def opts(**kw):
    """a{sv} options; keyword names use '_' for '-'; values must be Variants."""
    return GLib.Variant('a{sv}', {k.replace('_', '-'): v for k, v in kw.items()})


def asv(options):
    """a{sv} from a dict of name -> Variant (names as on the bus)."""
    return GLib.Variant('a{sv}', options)


def wait_until(predicate, timeout, what):
    """Iterate the default GLib main context until predicate() is true."""
    deadline = time.monotonic() + timeout
    ctx = GLib.MainContext.default()
    while True:
        while ctx.pending():
            ctx.iteration(False)
        value = predicate()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f'timed out after {timeout:.1f}s waiting for {what}')
        GLib.timeout_add(int(min(remaining, 0.05) * 1000) + 1, lambda: False)
        ctx.iteration(True)


def spin(seconds):
    """Run the main loop for a while (collecting signals)."""
    end = time.monotonic() + seconds
    wait_until(lambda: time.monotonic() >= end, seconds + 1, 'spin')


def stop_process(proc, timeout=5):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(65536), b''):
            h.update(block)
    return h.hexdigest()


def remote_error(exc):
    return Gio.DBusError.get_remote_error(exc) if Gio.DBusError.is_remote_error(exc) else None


# ---------------------------------------------------------------- private bus

class PrivateBus:
    """A session-like dbus-daemon in @tmpdir, or one with its own @config_file."""

    def __init__(self, tmpdir, config_file=None):
        where = ['--config-file=' + config_file] if config_file else \
            ['--session', '--address=unix:dir=' + tmpdir]
        self.proc = subprocess.Popen(
            ['dbus-daemon', '--nofork', '--nopidfile', '--print-address=1'] + where,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode().strip() if ready else ''
        if not line:
            stop_process(self.proc)
            raise AssertionError('dbus-daemon did not print its address within 10s')
        self.address = line
        self.conn = self.connect()

    def connect(self):
        """A new connection of this process to the bus."""
        return Gio.DBusConnection.new_for_address_sync(
            self.address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

    def name_has_owner(self, name):
        res = self.conn.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                                  'org.freedesktop.DBus', 'NameHasOwner',
                                  GLib.Variant('(s)', (name,)), GLib.VariantType('(b)'),
                                  Gio.DBusCallFlags.NONE, 2000, None)
        return res.unpack()[0]

    def stop(self):
        try:
            self.conn.close_sync(None)
        except GLib.Error:
            pass
        stop_process(self.proc)
        self.proc.stdout.close()


# ------------------------------------------------------------------ servers

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass


class HttpServer:
    """Serves a directory on 127.0.0.1:<port picked by the OS>."""

    def __init__(self, root):
        self.root = root
        handler = functools.partial(_QuietHandler, directory=root)
        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={'poll_interval': 0.05}, daemon=True)
        self.thread.start()

    def url(self, name):
        return f'http://127.0.0.1:{self.port}/{name}'

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class FtpServer:
    """pyftpdlib on 127.0.0.1:<port picked by the OS>, one user over a directory."""

    def __init__(self, root):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')  # asyncore/asynchat deprecation
                from pyftpdlib.authorizers import DummyAuthorizer
                from pyftpdlib.handlers import FTPHandler
                from pyftpdlib.servers import FTPServer
        except ImportError:
            raise unittest.SkipTest('python3-pyftpdlib is not installed')
        ftplog = logging.getLogger('pyftpdlib')
        if not ftplog.handlers:
            ftplog.addHandler(logging.NullHandler())  # also keeps pyftpdlib from configuring
        ftplog.setLevel(logging.WARNING)
        self.root = root
        auth = DummyAuthorizer()
        auth.add_user(FTP_USER, FTP_PASSWORD, root, perm='elr')
        handler = type('Handler', (FTPHandler,), {'authorizer': auth,
                                                  'auth_failed_timeout': 0.1})
        self.server = FTPServer(('127.0.0.1', 0), handler)
        self.port = self.server.socket.getsockname()[1]
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop.is_set():
            self.server.ioloop.loop(timeout=0.05, blocking=False)
        self.server.close_all()

    def url(self, name, user=FTP_USER, password=FTP_PASSWORD):
        return f'ftp://{user}:{password}@127.0.0.1:{self.port}/{name}'

    def stop(self):
        self._stop.set()
        self.thread.join(5)


# ---------------------------------------------------------------- simulator

class Package:
    def __init__(self, path, frm, to, size):
        self.path, self.frm, self.to, self.size = path, frm, to, size
        self.name = os.path.basename(path)
        self.sha256 = sha256_file(path)
        self.real_size = os.path.getsize(path)


class Simulator:
    """fota-modem-sim on a pty behind <tmp>/ttyUSB1; reads its JSON-lines log."""

    def __init__(self, tmpdir, model='EC200T', revision=FOTA_REV, flags=()):
        self.sim = tool('FOTA_SIM')
        self.initial_revision = revision
        self.link = os.path.join(tmpdir, 'ttyUSB1')
        self.log = os.path.join(tmpdir, 'sim.log')
        self.ready = os.path.join(tmpdir, 'sim.ready')
        self.stderr_path = os.path.join(tmpdir, 'sim.stderr')
        # a simulator started before in this directory left its ready file:
        # it must not stand for this one's link
        if os.path.exists(self.ready):
            os.unlink(self.ready)
        argv = [self.sim, '--link', self.link, '--log', self.log, '--ready-file', self.ready,
                '--model', model, '--revision', revision] + DEFAULT_SIM_FLAGS + list(flags)
        with open(self.stderr_path, 'wb') as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.ready):
            if self.proc.poll() is not None:
                raise AssertionError(f'simulator exited with {self.proc.returncode}: '
                                     + self.stderr_text())
            if time.monotonic() > deadline:
                raise AssertionError('simulator not ready within 10s')
            time.sleep(0.02)

    def stderr_text(self):
        try:
            with open(self.stderr_path, errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def events(self, kind=None):
        """All log records (dicts), or only those with "event" == kind."""
        out = []
        try:
            with open(self.log, errors='replace') as f:
                for line in f:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue  # a line being written right now
                    if kind is None or rec.get('event') == kind:
                        out.append(rec)
        except FileNotFoundError:
            pass
        return out

    def commands(self):
        """The AT commands the modem received, in order."""
        return [e.get('command', e.get('line', '')) for e in self.events('command')]

    def qfotadl_commands(self):
        return [c for c in self.commands() if c.upper().startswith('AT+QFOTADL=')
                and not c.upper().startswith('AT+QFOTADL=?')]

    def file_events(self):
        """FILE transfers as they ended: "length", "received", "sha256" of what came."""
        return self.events('file')

    def complete_files(self):
        return [e for e in self.file_events() if e.get('received') == e.get('length')]

    def link_paths(self):
        """Every pts the link pointed to, in order."""
        return [e.get('path') for e in self.events('link')]

    def revision(self):
        """The revision the simulated modem runs now (the last revision event)."""
        revs = self.events('revision')
        return revs[-1].get('revision') if revs else self.initial_revision

    def stop(self):
        stop_process(self.proc)


def make_package(tmpdir, frm, to, size=65536, corrupt=False, model=None, name=None):
    """A package made by fota-modem-sim --make-package."""
    name = name or f'{frm}-{to}{"-corrupt" if corrupt else ""}.bin'
    path = os.path.join(tmpdir, name)
    argv = [tool('FOTA_SIM'), '--make-package', path, '--from', frm, '--to', to,
            '--size', str(size)]
    if model:
        argv += ['--model', model]
    if corrupt:
        argv.append('--corrupt')
    res = subprocess.run(argv, capture_output=True, timeout=30)
    if res.returncode != 0:
        raise AssertionError(f'--make-package failed ({res.returncode}): {res.stderr!r}')
    return Package(path, frm, to, size)


# ------------------------------------------------------------------- daemon

def write_config(path, port, state_dir, boot_id_file, timeouts=None, modem=None, lock_dir=None):
    t = dict(DEFAULT_TIMEOUTS)
    t.update(timeouts or {})
    m = {'port': port, 'flow-control': 'hardware'}
    m.update(modem or {})
    m = {k: v for k, v in m.items() if v is not None}  # port None: udev discovery
    with open(path, 'w') as f:
        f.write('[modem]\n')
        f.writelines(f'{k}={v}\n' for k, v in m.items())
        f.write('\n[timeouts]\n')
        f.writelines(f'{k}={v}\n' for k, v in t.items())
        f.write(f'\n[daemon]\nstate-dir={state_dir}\nboot-id-file={boot_id_file}\n')
        # the port lock of this test's daemons only: other test runs on the
        # machine follow the same (simulated) USB identity
        if lock_dir is not None:
            f.write(f'lock-dir={lock_dir}\n')


class Daemon:
    """quectel-fotad --session on the private bus; records every signal."""

    def __init__(self, tc, verbose=True, extra_args=(), program=None):
        self.tc = tc
        self.bus = tc.bus
        self.log_path = os.path.join(tc.tmpdir, f'fotad.{len(tc.daemon_logs)}.log')
        tc.daemon_logs.append(self.log_path)
        argv = [program or tool('FOTAD'), '--session', '--port', tc.port, '--state-dir', tc.state_dir,
                '--config', tc.config_path] + (['--verbose'] if verbose else []) + list(extra_args)
        if tc.port is None:  # no port at all: the daemon discovers the modem with udev
            del argv[2:4]
        # keeps the sanitizer pass's gc-friendly
        g_debug = ','.join(filter(None, [os.environ.get('G_DEBUG'), 'fatal-criticals']))
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.bus.address, G_DEBUG=g_debug)
        env.pop('DBUS_SYSTEM_BUS_ADDRESS', None)
        env.update(getattr(tc, 'daemon_env', {}))  # e.g. a system-like bus for the neighbours
        self.signals = []   # (name, tuple) in arrival order
        self._sub = self.bus.conn.signal_subscribe(
            None, IFACE, None, OBJ_PATH, None, Gio.DBusSignalFlags.NONE,
            self._on_signal)
        with open(self.log_path, 'wb') as log:
            self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        wait_until(lambda: self.proc.poll() is not None or self.bus.name_has_owner(BUS_NAME),
                   15, f'{BUS_NAME} on the bus')
        if self.proc.poll() is not None:
            raise AssertionError(f'quectel-fotad exited with {self.proc.returncode} '
                                 f'before owning {BUS_NAME}:\n{self.log_text()}')

    @property
    def pid(self):
        return self.proc.pid

    def _on_signal(self, conn, sender, path, iface, name, params):
        self.signals.append((name, params.unpack()))

    def log_text(self):
        with open(self.log_path, errors='replace') as f:
            return f.read()

    # -- calls
    def call(self, method, args=None, timeout_ms=10000, reply='()'):
        res = self.bus.conn.call_sync(BUS_NAME, OBJ_PATH, IFACE, method, args,
                                      GLib.VariantType(reply), Gio.DBusCallFlags.NO_AUTO_START,
                                      timeout_ms, None)
        return res.unpack()

    def prop(self, name):
        res = self.bus.conn.call_sync(BUS_NAME, OBJ_PATH, 'org.freedesktop.DBus.Properties',
                                      'Get', GLib.Variant('(ss)', (IFACE, name)),
                                      GLib.VariantType('(v)'), Gio.DBusCallFlags.NO_AUTO_START,
                                      5000, None)
        return res.unpack()[0]

    def start_fd(self, fd, options=None):
        fdlist = Gio.UnixFDList.new()
        idx = fdlist.append(fd)
        res, _ = self.bus.conn.call_with_unix_fd_list_sync(
            BUS_NAME, OBJ_PATH, IFACE, 'StartFile',
            GLib.Variant.new_tuple(GLib.Variant('h', idx), options or opts()), GLib.VariantType('(s)'),
            Gio.DBusCallFlags.NO_AUTO_START, 10000, fdlist, None)
        return res.unpack()[0]

    def start_file(self, path, options=None):
        fd = os.open(path, os.O_RDONLY)
        try:
            return self.start_fd(fd, options)
        finally:
            os.close(fd)

    def start_url(self, url, options=None):
        return self.call('StartUrl', GLib.Variant.new_tuple(s(url), options or opts()),
                         reply='(s)')[0]

    def cancel(self):
        return self.call('Cancel')

    def get_job(self):
        return self.call('GetJob', reply='(a{sv})')[0]

    def get_modem_info(self):
        return self.call('GetModemInfo', reply='(a{sv})')[0]

    # -- signals
    def progress(self, job_id):
        return [(st, pc) for name, (jid, st, pc) in
                ((n, a) for n, a in self.signals if n == 'Progress') if jid == job_id]

    def finished(self, job_id):
        for name, args in self.signals:
            if name == 'Finished' and args[0] == job_id:
                return args
        return None

    def wait_state(self, job_id, state, timeout=30):
        """Until a Progress signal with this state arrived for the job."""
        return wait_until(lambda: self._check_alive() and state in
                          [st for st, _ in self.progress(job_id)],
                          timeout, f'job {job_id} to reach {state}')

    def wait_finished(self, job_id, timeout=60):
        """(progress list, (job_id, result, error, message)) once Finished arrived."""
        fin = wait_until(lambda: self._check_alive() and self.finished(job_id),
                         timeout, f'Finished of job {job_id}')
        return self.progress(job_id), fin

    def wait_final(self, timeout=60):
        """GetJob once the State property is final (works across restarts)."""
        wait_until(lambda: self._check_alive() and self.prop('State') in FINAL_STATES,
                   timeout, 'a final job state')
        return self.get_job()

    def _check_alive(self):
        if self.proc.poll() is not None:
            raise AssertionError(f'quectel-fotad died with {self.proc.returncode}')
        return True

    # -- stopping
    def kill(self, sig=signal.SIGKILL, timeout=10):
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f'quectel-fotad did not exit within {timeout}s of {sig!r}')

    def stop(self):
        try:
            self.bus.conn.signal_unsubscribe(self._sub)
        except Exception:
            pass
        stop_process(self.proc)


# ---------------------------------------------------------------- test case

class FotaTestCase(unittest.TestCase):
    """Base class: a temp dir, a private bus and helpers to start the rest."""

    model = 'EC200T'
    revision = FOTA_REV
    sim_flags = ()
    timeouts = None
    modem_config = None
    start_http = False
    start_ftp = False
    start_daemon = True

    def run(self, result=None):
        # The temp dir outlives the cleanups so that the logs can be shown on failure.
        self.tmpdir = tempfile.mkdtemp(prefix='fotatest-')
        self.daemon_logs = []
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        try:
            return super().run(result)
        finally:
            if len(result.failures) + len(result.errors) > before:
                self._dump_logs()
            if os.environ.get('FOTATEST_KEEP'):
                sys.stderr.write(f'kept {self.tmpdir}\n')
            else:
                shutil.rmtree(self.tmpdir, ignore_errors=True)

    def _dump_logs(self):
        names = self.daemon_logs + getattr(self, 'extra_logs', []) + \
            [os.path.join(self.tmpdir, n) for n in ('sim.stderr', 'sim.log', 'fotactl.log')]
        for path in names:
            if os.path.exists(path):
                with open(path, errors='replace') as f:
                    text = f.read()
                if len(text) > 20000:
                    text = '...\n' + text[-20000:]
                sys.stderr.write(f'\n----- {self.id()}: {os.path.basename(path)} -----\n{text}')
        sys.stderr.write(f'\n----- end of logs of {self.id()} -----\n')

    def setUp(self):
        self.state_dir = os.path.join(self.tmpdir, 'state')
        os.makedirs(self.state_dir)
        self.www = os.path.join(self.tmpdir, 'www')
        os.makedirs(self.www)
        self.boot_id_file = os.path.join(self.tmpdir, 'boot_id')
        self.set_boot_id()
        self.config_path = os.path.join(self.tmpdir, 'fotad.conf')
        self.bus = self.make_bus()
        self.addCleanup(self.bus.stop)
        self.sim = None
        self.daemon = None
        self.http = self.ftp = None
        if self.start_http:
            self.http = HttpServer(self.www)
            self.addCleanup(self.http.stop)
        if self.start_ftp:
            self.ftp = FtpServer(self.www)
            self.addCleanup(self.ftp.stop)
        if self.start_daemon:
            self.start_sim()
            self.restart_daemon()

    def make_bus(self):
        """The private bus of the test (a subclass may bring another kind)."""
        return PrivateBus(self.tmpdir)

    def set_boot_id(self, boot_id=None):
        with open(self.boot_id_file, 'w') as f:
            f.write((boot_id or uuid.uuid4().hex) + '\n')

    def start_sim(self, flags=None, model=None, revision=None):
        if self.sim:
            self.sim.stop()
        self.sim = Simulator(self.tmpdir, model or self.model, revision or self.revision,
                             self.sim_flags if flags is None else flags)
        self.addCleanup(self.sim.stop)
        self.port = self.sim.link
        return self.sim

    def restart_daemon(self, timeouts=None, modem=None, verbose=True, program=None):
        """(Re)start quectel-fotad with the same state dir (stopping a running one)."""
        if self.daemon:
            self.daemon.stop()
        write_config(self.config_path, self.port, self.state_dir, self.boot_id_file,
                     timeouts if timeouts is not None else self.timeouts,
                     modem if modem is not None else self.modem_config, lock_dir=self.tmpdir)
        self.daemon = Daemon(self, verbose=verbose, program=program)
        self.addCleanup(self.daemon.stop)
        return self.daemon

    # -- packages
    def package(self, frm=None, to=None, size=65536, corrupt=False, name=None):
        """A package for the simulated modem, stored in the web/FTP root."""
        frm = frm or self.revision
        to = to or next_revision(frm)
        return make_package(self.www, frm, to, size, corrupt=corrupt, model=self.model,
                            name=name)

    # -- assertions
    def assertDBusError(self, name, func, *args, **kw):
        """func(*args) must fail with the remote D-Bus error @name; returns the message."""
        with self.assertRaises(GLib.Error) as cm:
            func(*args, **kw)
        got = remote_error(cm.exception)
        self.assertEqual(got, name if '.' in name else ERR + name, cm.exception.message)
        return cm.exception.message

    def assertStateOrder(self, progress, mode):
        """Progress states follow the job's order and percent never drops within a state.
        A quiet update may show no 'updating'; the final state may or may not be signalled."""
        states = [st for st, _ in progress]
        got = [st for i, st in enumerate(states) if i == 0 or states[i - 1] != st]
        if got and got[-1] in FINAL_STATES:
            got.pop()
        expected = ['preparing', 'downloading'] + (['rebooting'] if mode == 0 else []) + \
            ['updating', 'rebooting', 'verifying']
        if 'updating' not in got:
            expected.remove('updating')
            if mode == 0:  # the two reboots may merge into one state without URCs between
                got = [st for i, st in enumerate(got) if i == 0 or got[i - 1] != st]
                expected = [st for i, st in enumerate(expected)
                            if i == 0 or expected[i - 1] != st]
        self.assertEqual(got, expected, f'states: {states}')
        last = {}
        for st, pc in progress:
            self.assertLessEqual(pc, 100)
            if st in ('downloading', 'updating'):
                self.assertGreaterEqual(pc, last.get(st, 0), f'{st} percent dropped: {progress}')
                last[st] = pc
        return got


def next_revision(rev):
    """A different revision of the same family: bump the A0x digit."""
    for known, other in ((FOTA_REV, FOTA_REV2), (FOTA_REV2, FOTA_REV),
                         (DFOTA_REV, DFOTA_REV2), (DFOTA_REV2, DFOTA_REV)):
        if rev == known:
            return other
    return rev + 'X'


def run_fotactl(tc, *args, timeout=60, bus_address=None):
    """fotactl --session ARGS against the test's bus; (returncode, stdout, stderr)."""
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=bus_address or tc.bus.address)
    res = subprocess.run([tool('FOTACTL'), '--session'] + list(args), env=env,
                         capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    with open(os.path.join(tc.tmpdir, 'fotactl.log'), 'a') as f:
        f.write(f'$ fotactl --session {" ".join(args)}\n-> {res.returncode}\n'
                f'{res.stdout.decode(errors="replace")}{res.stderr.decode(errors="replace")}\n')
    return res.returncode, res.stdout.decode(errors='replace'), res.stderr.decode(errors='replace')


def main():
    """unittest.main, but exit 77 (meson's skip) when every test was skipped."""
    if not have_program('dbus-daemon'):
        print('dbus-daemon not installed: skipping', file=sys.stderr)
        sys.exit(77)
    prog = unittest.main(exit=False, verbosity=2)
    res = prog.result
    if not res.wasSuccessful():
        sys.exit(1)
    if res.testsRun and len(res.skipped) == res.testsRun:
        sys.exit(77)
    sys.exit(0)
