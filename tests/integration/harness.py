"""Shared helpers for the veofs integration tests.

Every test drives real programs: a veofs-sim server on a free loopback port
and a veofs daemon mounted on a temporary directory, and then looks at the
mount with ordinary tools. Teardown always unmounts, stops the programs and
removes the temporary files, even when a test fails or is interrupted.

Binaries come from VEOFS_BIN and VEOFS_SIM_BIN (meson sets both). Bounds on
waits exist only so that a broken daemon cannot hang the suite; they are
generous and can be stretched with VEOFS_TEST_TIME_SCALE (e.g. 3 under
AddressSanitizer or valgrind). No test asserts on speed.
"""

import datetime
import errno
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
import zlib

SKIP_EXIT_CODE = 77
TIME_SCALE = float(os.environ.get("VEOFS_TEST_TIME_SCALE", "1") or "1")
# A whole test method may not run longer than this; past it the watchdog
# kills our daemons so that a hung FUSE call returns and teardown can run.
TEST_DEADLINE = 280

STATES = ("pending", "queued", "in_progress", "completed", "failed")
READ_ONLY_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)
# The status of a task that may or may not have reached the API (a reason
# in parentheses may follow).
OUTCOME_UNKNOWN = "failed: submission outcome unknown"

_live_lock = threading.Lock()
_live_mounts = set()      # Mount objects not yet torn down
_live_procs = set()       # Popen objects not yet reaped


def bound(seconds):
    """A liveness bound, stretched for slow (sanitised) builds."""
    return seconds * TIME_SCALE


def log(msg):
    sys.stderr.write("[harness] %s\n" % msg)
    sys.stderr.flush()


# ---------------------------------------------------------------- waiting

def wait_until(predicate, timeout, what, interval=0.05):
    """Poll predicate until it returns something true; return that value.

    OSError and ValueError from the predicate count as "not yet" (a file may
    be between states), but the last one is reported on timeout."""
    deadline = time.monotonic() + bound(timeout)
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except (OSError, ValueError) as e:
            last_error = e
        if time.monotonic() >= deadline:
            msg = "timed out after %.0fs waiting for %s" % (bound(timeout), what)
            if last_error is not None:
                msg += " (last error: %r)" % (last_error,)
            raise AssertionError(msg)
        time.sleep(interval)


# ---------------------------------------------------------------- mounts

def _unescape_mountinfo(field):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mount_points():
    points = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4:
                points.add(_unescape_mountinfo(fields[4]))
    return points


def is_mounted(path):
    """True while anything (even a dead FUSE connection) is mounted there.
    os.path.ismount() says False for a stale FUSE mount, so ask the kernel."""
    return os.path.realpath(path) in mount_points()


def mounts_under(path):
    root = os.path.realpath(path).rstrip("/") + "/"
    return [p for p in mount_points() if p.startswith(root)]


def force_unmount(path):
    """Best effort, never blocks for long: lazy unmounts of a (stale) mount."""
    for cmd in (["fusermount3", "-uz", path], ["umount", "-l", path]):
        if not is_mounted(path):
            return True
        try:
            subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            pass
    return not is_mounted(path)


def clean_unmount(path, attempts=20):
    """fusermount3 -u, retried while busy; falls back to lazy unmounts."""
    for _ in range(attempts):
        if not is_mounted(path):
            return True
        try:
            r = subprocess.run(["fusermount3", "-u", path], stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=15)
            if r.returncode == 0 and not is_mounted(path):
                return True
        except (OSError, subprocess.TimeoutExpired):
            pass
        time.sleep(0.25)
    log("clean unmount of %s failed, unmounting lazily" % path)
    force_unmount(path)
    return False


def stop_process(proc, timeout=20):
    """Wait for proc to end on its own, then SIGTERM, then SIGKILL. Returns
    None when it ended by itself, else the signal the harness had to send."""
    if proc is None:
        return None
    forced = None
    try:
        proc.wait(timeout=bound(timeout))
    except subprocess.TimeoutExpired:
        forced = signal.SIGTERM
        proc.terminate()
        try:
            proc.wait(timeout=bound(10))
        except subprocess.TimeoutExpired:
            forced = signal.SIGKILL
            proc.kill()
            proc.wait()
    with _live_lock:
        _live_procs.discard(proc)
    return forced


def _register_proc(proc):
    with _live_lock:
        _live_procs.add(proc)


def emergency_cleanup():
    """Kill every daemon and simulator we started and lazily unmount every
    mount we made. Used by the watchdog, on SIGTERM and at exit."""
    with _live_lock:
        mounts = list(_live_mounts)
        procs = list(_live_procs)
    for m in mounts:
        if m.proc is not None and m.proc.poll() is None:
            try:
                m.proc.kill()
            except OSError:
                pass
    for m in mounts:
        force_unmount(m.mnt)
    for p in procs:
        if p.poll() is None:
            try:
                p.kill()
                p.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass


# ---------------------------------------------------------------- programs

# Signals whose disposition a child must not inherit from whatever started
# the tests: nohup ignores SIGHUP, a shell's background job ignores SIGINT
# and SIGQUIT, Python ignores SIGPIPE, a CI runner may ignore SIGTERM.
CHILD_DEFAULT_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM,
                         signal.SIGPIPE)


def child_signal_defaults():
    """preexec_fn for every program under test: the default disposition for
    the signals above and no blocked signals, as a login shell or a service
    manager would start it, so that the signal tests test veofs and not the
    environment the suite was started in. Only signal calls here: it runs
    between fork and exec."""
    for sig in CHILD_DEFAULT_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


# A report by AddressSanitizer, LeakSanitizer, ThreadSanitizer or UBSan in a
# program's output. Such a program may still exit 0 (a UBSan report without
# halt_on_error, a race before a SIGKILL), so output is checked as well as
# exit statuses.
SANITIZER_REPORT = re.compile(
    r"^(?:==\d+==\s*ERROR: \w*Sanitizer"
    r"|WARNING: ThreadSanitizer"
    r"|SUMMARY: \w*Sanitizer"
    r"|\S+:\d+:\d+: runtime error: )", re.M)


def sanitizer_report(text):
    """The first sanitizer report in text (about 60 lines of it), or None."""
    m = SANITIZER_REPORT.search(text)
    if not m:
        return None
    start = text.rfind("\n", 0, max(0, m.start() - 1))
    lines = text[start + 1:].splitlines()
    return "\n".join(lines[:60])


# Exit statuses that name their cause (sanitizers' defaults).
_EXIT_MEANINGS = {1: "an error, or an AddressSanitizer/UBSan report",
                  23: "LeakSanitizer's exit status", 66: "ThreadSanitizer's exit status"}


def describe_exit(rc):
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            return "killed by %s" % signal.Signals(-rc).name
        except ValueError:
            return "killed by signal %d" % -rc
    if rc in _EXIT_MEANINGS:
        return "exit status %d (%s)" % (rc, _EXIT_MEANINGS[rc])
    return "exit status %d" % rc


def _binary(var):
    path = os.environ.get(var)
    if not path:
        raise RuntimeError("%s is not set: run the tests through meson test, or set "
                           "%s to the built program" % (var, var))
    if not os.access(path, os.X_OK):
        raise RuntimeError("%s=%s is not an executable" % (var, path))
    return path


def veofs_bin():
    return _binary("VEOFS_BIN")


def veofs_sim_bin():
    return _binary("VEOFS_SIM_BIN")


def clean_env(home):
    """The environment a user with an empty home and no API key has."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VEOFS_", "OPENAI_", "XDG_"))}
    env["HOME"] = home
    env["XDG_CONFIG_HOME"] = os.path.join(home, ".config")
    env["XDG_STATE_HOME"] = os.path.join(home, ".local", "state")
    env["XDG_CACHE_HOME"] = os.path.join(home, ".cache")
    env["LC_ALL"] = "C.UTF-8"
    for d in (env["XDG_CONFIG_HOME"], env["XDG_STATE_HOME"], env["XDG_CACHE_HOME"]):
        os.makedirs(d, exist_ok=True)
    return env


def http(method, url, body=None, timeout=30):
    """(status, headers, bytes) of one HTTP exchange; HTTP errors are answers."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "text/plain")
    try:
        with urllib.request.urlopen(req, timeout=bound(timeout)) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class Sim:
    """A veofs-sim process on a free loopback port."""

    LINE = re.compile(r"listening on (http://127\.0\.0\.1:(\d+))")

    def __init__(self, logdir, duration=3, latency=None, video_bytes=None,
                 no_range=False, faults=(), dialect=None, progress=None,
                 jitter=None, url_field=None):
        self.args = ["--listen", "127.0.0.1:0", "--duration", str(duration)]
        if dialect is not None:
            self.args += ["--dialect", dialect]
        if progress is not None:
            self.args += ["--progress", progress]
        if jitter is not None:
            self.args += ["--jitter", str(jitter)]
        if url_field is not None:
            self.args += ["--url-field", url_field]
        if latency is not None:
            self.args += ["--latency", str(latency)]
        if video_bytes is not None:
            self.args += ["--video-bytes", str(video_bytes)]
        if no_range:
            self.args.append("--no-range")
        for f in faults:
            self.args += ["--fault", f]
        self.logpath = os.path.join(logdir, "veofs-sim.log")
        self.proc = None
        self.root = None

    def start(self):
        logf = open(self.logpath, "ab")
        try:
            self.proc = subprocess.Popen([veofs_sim_bin()] + self.args,
                                         stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT,
                                         preexec_fn=child_signal_defaults)
        finally:
            logf.close()
        _register_proc(self.proc)

        def announced():
            if self.proc.poll() is not None:
                raise AssertionError("veofs-sim exited with %d before listening:\n%s"
                                     % (self.proc.returncode, self.log_text()))
            m = self.LINE.search(self.log_text())
            return m
        m = wait_until(announced, 20, "veofs-sim to print its address")
        self.root = m.group(1)
        self.port = int(m.group(2))
        return self

    @property
    def api(self):
        return self.root + "/v1"

    def log_text(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stats(self):
        status, _, body = http("GET", self.root + "/_sim/stats")
        if status != 200:
            raise AssertionError("GET /_sim/stats answered %d: %r" % (status, body[:200]))
        return json.loads(body)

    def job(self, video_id):
        status, _, body = http("GET", self.root + "/_sim/jobs/" + video_id)
        if status != 200:
            raise AssertionError("GET /_sim/jobs/%s answered %d: %r"
                                 % (video_id, status, body[:200]))
        return json.loads(body)

    def content(self, video_id):
        """The reference bytes, straight from the simulator."""
        status, headers, body = http("GET", "%s/videos/%s/content" % (self.api, video_id),
                                     timeout=120)
        if status != 200:
            raise AssertionError("GET content of %s answered %d" % (video_id, status))
        return body

    def add_fault(self, spec):
        status, _, body = http("POST", self.root + "/_sim/faults", spec)
        if status // 100 != 2:
            raise AssertionError("POST /_sim/faults %r answered %d: %r" % (spec, status, body))

    def clear_faults(self):
        status, _, body = http("DELETE", self.root + "/_sim/faults")
        if status // 100 != 2:
            raise AssertionError("DELETE /_sim/faults answered %d: %r" % (status, body))

    def stop(self):
        """SIGTERM; the simulator must exit 0 without a sanitizer report."""
        if self.proc is None:
            return
        died_before = self.proc.poll() is not None
        if not died_before:
            self.proc.terminate()
        forced = stop_process(self.proc, timeout=10)
        problems = []
        if died_before:
            problems.append("veofs-sim ended before the test stopped it: %s"
                            % describe_exit(self.proc.returncode))
        elif forced is not None:
            problems.append("veofs-sim did not exit within %.0fs of SIGTERM"
                            % bound(10))
        elif self.proc.returncode != 0:
            problems.append("veofs-sim: %s after SIGTERM"
                            % describe_exit(self.proc.returncode))
        report = sanitizer_report(self.log_text())
        if report:
            problems.append("veofs-sim's output has a sanitizer report:\n" + report)
        if problems:
            raise AssertionError("\n".join(problems))


class _Run:
    """One start of a daemon, and what its end may look like."""

    def __init__(self, proc, number):
        self.proc = proc
        self.number = number
        self.killed = False       # the test sent SIGKILL: a crash it asked for
        self.refusal = False      # the test expects veofs to refuse to start
        self.forced = None        # the signal the harness needed to stop it

    def problem(self):
        """Why this run's end is wrong, or None. An ordinary end (unmount,
        SIGTERM, SIGINT, SIGHUP) is exit status 0, so LeakSanitizer's
        report at exit fails the test that caused it."""
        rc = self.proc.returncode
        if self.killed and rc in (-signal.SIGKILL, 0):
            return None
        if self.refusal:
            if rc is not None and rc > 0:
                return None
            return "start %d: refused to start with %s" % (self.number, describe_exit(rc))
        if self.forced is not None:
            return ("start %d: did not exit within its bound after the mount went away; "
                    "the harness sent %s and it ended with %s"
                    % (self.number, signal.Signals(self.forced).name, describe_exit(rc)))
        if rc != 0:
            return "start %d: %s" % (self.number, describe_exit(rc))
        return None


class Mount:
    """A veofs daemon in the foreground, mounted on mnt.

    Every start is remembered; teardown checks how each one ended (see
    _Run.problem) and that the log holds no sanitizer report."""

    def __init__(self, logdir, mnt, state_dir=None, base_url=None, options=None,
                 extra_args=(), env=None, simulate=False, name="veofs"):
        self.logdir = logdir
        self.mnt = mnt
        self.state_dir = state_dir
        self.base_url = base_url
        self.options = dict(options or {})
        self.extra_args = list(extra_args)
        self.env = env
        self.simulate = simulate
        self.name = name
        self.proc = None
        self.starts = 0
        self.runs = []
        self.logpath = os.path.join(logdir, "%s.log" % name)

    def argv(self):
        opts = {}
        if self.base_url:
            opts["base_url"] = self.base_url
        if self.state_dir:
            opts["state_dir"] = self.state_dir
        opts.update(self.options)
        argv = [veofs_bin(), "-f"]
        if self.simulate:
            argv.append("--simulate")
        argv += self.extra_args
        if opts:
            argv += ["-o", ",".join("%s=%s" % kv for kv in opts.items())]
        argv.append(self.mnt)
        return argv

    def start(self, wait=True):
        os.makedirs(self.mnt, exist_ok=True)
        self.starts += 1
        logf = open(self.logpath, "ab")
        try:
            logf.write(("==== start %d: %s\n" % (self.starts, " ".join(self.argv()))).encode())
            logf.flush()
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=subprocess.STDOUT,
                                         env=self.env, preexec_fn=child_signal_defaults)
        finally:
            logf.close()
        self.runs.append(_Run(self.proc, self.starts))
        _register_proc(self.proc)
        with _live_lock:
            _live_mounts.add(self)
        if wait:
            self.wait_mounted()
        return self

    def wait_mounted(self):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("veofs exited with %d before mounting:\n%s"
                                     % (self.proc.returncode, self.log_text()))
            return (is_mounted(self.mnt) and os.path.ismount(self.mnt)
                    and os.path.isdir(os.path.join(self.mnt, "new")))
        wait_until(ready, 20, "veofs to mount %s" % self.mnt)

    def log_text(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def unmount(self):
        """A clean unmount, as a user would do it; the daemon must then exit
        (with status 0, checked at teardown)."""
        clean_unmount(self.mnt)
        self.runs[-1].forced = stop_process(self.proc, timeout=30)
        rc = self.proc.returncode if self.proc else None
        with _live_lock:
            _live_mounts.discard(self)
        return rc

    def send_signal(self, sig):
        """Send sig to the running daemon. SIGKILL is a crash the test asks
        for; after any other signal the daemon must exit 0 (or keep running)."""
        if sig == signal.SIGKILL:
            self.runs[-1].killed = True
        self.proc.send_signal(sig)

    def expect_refusal(self):
        """This start is meant to fail: it must exit with a status (not die
        of a signal), and its output is still checked for sanitizer reports."""
        self.runs[-1].refusal = True

    def kill9(self):
        """Crash the daemon and clear the stale mount it leaves behind."""
        self.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=bound(20))
        with _live_lock:
            _live_procs.discard(self.proc)
        force_unmount(self.mnt)
        if is_mounted(self.mnt):
            raise AssertionError("stale mount %s could not be removed" % self.mnt)

    def restart_after_crash(self):
        self.kill9()
        return self.start()

    def remount(self):
        self.unmount()
        return self.start()

    def teardown(self):
        """Unmount and stop the daemon, then fail the test if any start of
        it ended wrongly or reported a sanitizer finding."""
        if self.proc is None:
            return
        run = self.runs[-1]
        if is_mounted(self.mnt):
            if self.proc.poll() is None:
                if not clean_unmount(self.mnt):
                    log("%s: busy at teardown, unmounted lazily" % self.mnt)
            else:
                force_unmount(self.mnt)
        elif self.proc.poll() is None and not run.killed:
            # Running without a mount: it has not mounted yet, or it lost
            # its mount (a lazy unmount elsewhere). A clean stop is SIGTERM.
            self.proc.terminate()
        forced = stop_process(self.proc, timeout=20)
        if run.forced is None:
            run.forced = forced
        with _live_lock:
            _live_mounts.discard(self)
        self.check_exits()

    def check_exits(self):
        problems = [p for p in (r.problem() for r in self.runs) if p]
        report = sanitizer_report(self.log_text())
        if report:
            problems.append("sanitizer report in %s.log:\n%s" % (self.name, report))
        if problems:
            raise AssertionError("%s (%s): %s" % (self.name, self.mnt, "\n".join(problems)))


# ---------------------------------------------------------------- tree reading

def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8")


def write_file(path, data, fsync=False):
    """open/write/close with plain system calls so errors surface at the call
    that failed (close() is where a prompt is judged)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        if fsync:
            os.fsync(fd)
    except BaseException:
        try:
            os.close(fd)
        except OSError:
            pass
        raise
    os.close(fd)


def state_of(status_line):
    """'in_progress 42%' -> 'in_progress'; 'failed: x' -> 'failed'."""
    return re.split(r"[\s:]", status_line.strip(), maxsplit=1)[0]


# The status line's grammar (contract section 3, README "status"): STATE,
# then progress or reason; transient trouble or what veofs is doing right
# now follows in parentheses, e.g. "in_progress 100% (fetching the video)",
# "completed (video download: connection reset; retrying in 10s)".
STATUS_LINE = re.compile(r"^(?:pending(?:: .+)?"
                         r"|queued(?: \(.+\))?"
                         r"|in_progress (?:100|[1-9]?[0-9])%(?: \(.+\))?"
                         r"|in_progress \(running (?:\d+h)?(?:\d+m)?\d+[sm](?:; .+)?\)"
                         r"|completed(?: \(.+\))?"
                         r"|failed: .+)\Z")

EVENT_LINE = re.compile(
    r"^(?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)"
    r"[\s,]+(?P<state>pending|queued|in_progress|completed|failed):?"
    r"[\s,]+(?P<progress>\d{1,3})%?(?:\s.*)?$")


def parse_event(line):
    """(datetime, state, progress) of one events line, or raise ValueError."""
    m = EVENT_LINE.match(line)
    if not m:
        raise ValueError("events line not 'ISO-8601-time state progress': %r" % line)
    t = m.group("time").replace(",", ".")
    when = datetime.datetime.fromisoformat(t)
    return when, m.group("state"), int(m.group("progress"))


def ffprobe(path):
    return subprocess.run(["ffprobe", "-v", "error", "-show_format", path],
                          stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=bound(120))


def minimal_png():
    """A valid 1x1 RGBA PNG, built here so its checksums are right."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x80\x00\xff")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


# ---------------------------------------------------------------- test case

class VeofsTestCase(unittest.TestCase):
    """Base class: a temporary directory per test, with helpers that start a
    simulator and a mount, all torn down in reverse order afterwards. The
    logs of every program are printed when the test fails."""

    sim_duration = 3
    mount_options = {"interval": "1", "max_interval": "2", "timeout": "10"}

    def run(self, result=None):
        if result is None:
            result = self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        self._logdir = tempfile.mkdtemp(prefix="veofs-it-logs-")
        watchdog = threading.Timer(bound(TEST_DEADLINE), self._watchdog_fired)
        watchdog.daemon = True
        watchdog.start()
        try:
            return super().run(result)
        finally:
            watchdog.cancel()
            if len(result.failures) + len(result.errors) > before:
                self._dump_logs()
            shutil.rmtree(self._logdir, ignore_errors=True)

    def _watchdog_fired(self):
        log("%s ran past %.0fs: killing its daemons" % (self.id(), bound(TEST_DEADLINE)))
        emergency_cleanup()

    def _dump_logs(self):
        for name in sorted(os.listdir(self._logdir)):
            path = os.path.join(self._logdir, name)
            try:
                with open(path, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            if len(text) > 60000:
                text = "[... %d bytes cut ...]\n" % (len(text) - 60000) + text[-60000:]
            sys.stderr.write("\n----- %s (%s) -----\n%s\n----- end of %s -----\n"
                             % (name, self.id(), text, name))
        sys.stderr.flush()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="veofs-it-")
        self.addCleanup(self._remove_tmp)
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home)
        self.env = clean_env(self.home)

    def _remove_tmp(self):
        leftovers = mounts_under(self.tmp)
        for p in leftovers:
            force_unmount(p)
        if mounts_under(self.tmp):
            log("not removing %s: still mounted at %s" % (self.tmp, mounts_under(self.tmp)))
            return
        shutil.rmtree(self.tmp, ignore_errors=True)

    # programs

    def start_sim(self, duration=None, **kw):
        sim = Sim(self._logdir, duration=self.sim_duration if duration is None else duration,
                  **kw)
        self.addCleanup(sim.stop)
        return sim.start()

    def new_mount(self, sim=None, name="veofs", mnt=None, state_dir=None, options=None,
                  **kw):
        """A Mount object (not started) with a fresh mount point and state dir."""
        opts = dict(self.mount_options)
        opts.update(options or {})
        m = Mount(self._logdir,
                  mnt or os.path.join(self.tmp, name + "-mnt"),
                  state_dir=state_dir or os.path.join(self.tmp, name + "-state"),
                  base_url=sim.api if sim is not None else None,
                  options=opts, env=kw.pop("env", self.env), name=name, **kw)
        self.addCleanup(m.teardown)
        return m

    def mount(self, sim=None, **kw):
        return self.new_mount(sim, **kw).start()

    def sim_and_mount(self, duration=None, sim_kw=None, **mount_kw):
        sim = self.start_sim(duration=duration, **(sim_kw or {}))
        return sim, self.mount(sim, **mount_kw)

    # commands

    def sh(self, script, timeout=60, check=True):
        r = subprocess.run(["sh", "-c", script], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=bound(timeout), env=self.env)
        if check and r.returncode != 0:
            self.fail("command failed (%d): %s\nstdout: %s\nstderr: %s"
                      % (r.returncode, script, r.stdout.decode(errors="replace"),
                         r.stderr.decode(errors="replace")))
        return r

    def run_tool(self, argv, timeout=60, check=True):
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=bound(timeout), env=self.env)
        if check and r.returncode != 0:
            self.fail("%s failed (%d): %s" % (" ".join(argv), r.returncode,
                                               r.stderr.decode(errors="replace")))
        return r

    # the tree

    def submit(self, m, name, text):
        """Start task NAME the way the contract's first example does."""
        path = m.path("new", name + ".prompt")
        r = subprocess.run(["sh", "-c", 'printf "%s\\n" "$1" > "$2"', "sh", text, path],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=bound(60), env=self.env)
        if r.returncode != 0:
            self.fail("writing %s failed: %s" % (path, r.stderr.decode(errors="replace")))
        self.assertTrue(os.path.isdir(m.path(name)), "task dir %s missing after close()" % name)

    def status(self, m, name):
        return read_text(m.path(name, "status")).strip()

    def state(self, m, name):
        return state_of(self.status(m, name))

    def task_id(self, m, name):
        return read_text(m.path(name, "id")).strip()

    def wait_state(self, m, name, states, timeout=60):
        if isinstance(states, str):
            states = (states,)

        def reached():
            line = self.status(m, name)
            return line if state_of(line) in states else None
        return wait_until(reached, timeout, "task %s to reach %s" % (name, "/".join(states)))

    def wait_completed(self, m, name, timeout=90):
        """Wait for completed; a failed task fails the test at once, with why."""
        def done():
            line = self.status(m, name)
            st = state_of(line)
            if st == "failed":
                err = ""
                try:
                    err = read_text(m.path(name, "error"))
                except OSError:
                    pass
                raise AssertionError("task %s failed: %r, error file: %r" % (name, line, err))
            return line if st == "completed" else None
        return wait_until(done, timeout, "task %s to complete" % name)

    def wait_video(self, m, name, timeout=90):
        """Wait until the whole video is saved: 'completed' shows as soon as
        video.mp4 can be read (its size known), and the download may still
        be filling it in; its last event line comes once it is whole."""
        self.wait_completed(m, name, timeout)
        wait_until(lambda: os.path.exists(m.path(name, "video.mp4")), 30,
                   "%s/video.mp4 to appear" % name)
        wait_until(lambda: re.search(r"video\.\w+ saved", read_text(m.path(name, "events"))),
                   timeout, "%s's whole video to be saved" % name)
        return m.path(name, "video.mp4")

    def wait_saved(self, m, name, timeout=90):
        """Wait until the whole video is in the state dir: the events line
        'completed 100 video.mp4 saved (N bytes)' (README) is the last change
        a finished task makes. video.mp4 shows as soon as the download
        starts, so a test that compares the task's files before and after
        something must wait for this first."""
        video = self.wait_video(m, name, timeout)
        wait_until(lambda: "video.mp4 saved" in read_text(m.path(name, "events")), timeout,
                   "%s/video.mp4 to be saved" % name)
        return video

    def wait_submitted(self, m, name, timeout=60):
        """Wait until the API accepted the task (its id is known)."""
        def known():
            if self.state(m, name) == "failed":
                raise AssertionError("task %s failed: %s" % (name, self.status(m, name)))
            return self.task_id(m, name)
        return wait_until(known, timeout, "task %s to get its id" % name)

    def assertRefused(self, returncode, output, what):
        """A program that was meant to refuse to run: it exited with a
        non-zero status of its own (not a signal: a crash is no refusal) and
        printed no sanitizer report on the way out."""
        if isinstance(output, bytes):
            output = output.decode("utf-8", "replace")
        self.assertGreater(returncode, 0, "%s: %s, expected a refusal:\n%s"
                           % (what, describe_exit(returncode), output))
        report = sanitizer_report(output)
        self.assertIsNone(report, "%s: sanitizer report while refusing:\n%s" % (what, report))

    def assertErrno(self, expected, func, *args, **kw):
        """func(*args) must raise OSError with an errno in expected."""
        if isinstance(expected, int):
            expected = (expected,)
        try:
            func(*args, **kw)
        except OSError as e:
            if e.errno not in expected:
                self.fail("%s%r raised %s (%s), expected %s"
                          % (getattr(func, "__name__", func), args,
                             errno.errorcode.get(e.errno, e.errno), e.strerror,
                             "/".join(errno.errorcode[x] for x in expected)))
            return e
        self.fail("%s%r succeeded, expected %s" % (
            getattr(func, "__name__", func), args,
            "/".join(errno.errorcode[x] for x in expected)))


# ---------------------------------------------------------------- entry point

def _on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def main():
    """Run the calling module's tests, as meson does: 77 means skipped."""
    missing = [what for what, ok in (("/dev/fuse", os.path.exists("/dev/fuse")),
                                     ("fusermount3", shutil.which("fusermount3")))
               if not ok]
    if missing:
        print("SKIP: %s not available, cannot mount FUSE filesystems"
              % " and ".join(missing))
        sys.exit(SKIP_EXIT_CODE)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        prog = unittest.main(module="__main__", exit=False, verbosity=2,
                             buffer=False)
        ok = prog.result.wasSuccessful()
    finally:
        emergency_cleanup()
    sys.exit(0 if ok else 1)
