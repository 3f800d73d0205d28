#!/usr/bin/env python3
"""Security: the API key stays secret, files holding it are checked, the
state dir is private, TLS is always verified, other users stay out, and
nothing the API answers can name a path or forge a status line (contract
sections 2, 3 and 5). One test per point."""

import errno
import http.server
import json
import os
import re
import shutil
import socketserver
import ssl
import subprocess
import threading
import time
import unittest
import urllib.parse

import harness
from harness import bound, read_bytes, read_text, wait_until, write_file

KEY = "sk-veofs-SECRET-7f3a9c2e41d8b6054e1f"


def tree_files(root):
    for dirpath, _, filenames in os.walk(root):
        for n in filenames:
            yield os.path.join(dirpath, n)


class FakeApi:
    """A hostile provider: a tiny HTTP server on 127.0.0.1 whose answers the
    test chooses. create_answers are used in turn; poll answers come from
    poll_answer(id)."""

    def __init__(self, create_answers, poll_answer):
        self.create_answers = list(create_answers)
        self.poll_answer = poll_answer
        self.requests = []
        self.lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def read_body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    while True:
                        size = int(self.rfile.readline().strip() or b"0", 16)
                        self.rfile.read(size + 2)
                        if size == 0:
                            return
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)

            def answer(self, code, obj):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                self.read_body()
                with fake.lock:
                    fake.requests.append(("POST", self.path))
                    obj = fake.create_answers.pop(0) if fake.create_answers else None
                if obj is None:
                    self.answer(500, {"error": {"message": "no more creates"}})
                elif isinstance(obj, tuple):
                    self.answer(*obj)
                else:
                    self.answer(200, obj)

            def do_GET(self):
                with fake.lock:
                    fake.requests.append(("GET", self.path))
                vid = self.path.rsplit("/", 1)[-1]
                self.answer(*fake.poll_answer(vid, self.path))

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def api(self):
        return "http://127.0.0.1:%d/v1" % self.port

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def video_object(vid, status="queued", **extra):
    o = {"id": vid, "object": "video", "model": "veo-3.1", "status": status,
         "progress": 0, "created_at": int(time.time()), "seconds": "8", "size": "16x9"}
    o.update(extra)
    return o


class KeyTest(harness.VeofsTestCase):
    """The key in VEOFS_API_KEY, a loopback simulator that accepts any key."""
    sim_duration = 1

    def setUp(self):
        super().setUp()
        self.env["VEOFS_API_KEY"] = KEY

    def run_one_task(self, extra_args=(), options=None, fail=False):
        faults = ["create=fail-error-objectx1"] if fail else []
        sim = self.start_sim(faults=faults)
        m = self.new_mount(sim, extra_args=list(extra_args), options=options)
        m.start()
        self.submit(m, "job", "a secret garden")
        if fail:
            self.wait_state(m, "job", "failed")
        else:
            self.wait_video(m, "job")
        return sim, m

    def assertNoKey(self, data, where):
        if isinstance(data, str):
            data = data.encode()
        self.assertNotIn(KEY.encode(), data, "the API key shows in %s" % where)
        self.assertNotIn(KEY[3:].encode(), data, "part of the API key shows in %s" % where)

    def test_key_not_in_argv(self):
        """The key never appears in the daemon's command line."""
        sim, m = self.run_one_task()
        self.assertNoKey(read_bytes("/proc/%d/cmdline" % m.proc.pid), "/proc/PID/cmdline")

    def test_key_not_in_hook_environment(self):
        """A hooks.on_complete program gets VEOFS_TASK and friends, never
        the key (nor the variables that carry it)."""
        out = os.path.join(self.tmp, "hook-env")
        hook = os.path.join(self.tmp, "hook.sh")
        write_file(hook, '#!/bin/sh\nenv > "%s.tmp" && mv "%s.tmp" "%s"\n' % (out, out, out))
        os.chmod(hook, 0o755)
        self.env["OPENAI_API_KEY"] = KEY
        sim, m = self.run_one_task(options={"on_complete": hook})
        env = wait_until(lambda: os.path.exists(out) and read_text(out), 30,
                         "the hook to run")
        self.assertIn("VEOFS_TASK=job", env)
        self.assertNoKey(env, "the hook's environment")
        self.assertNotIn("VEOFS_API_KEY=", env)
        self.assertNotIn("OPENAI_API_KEY=", env)

    def test_hook_gets_only_the_standard_descriptors(self):
        """A hook inherits stdin, stdout and stderr and nothing else: not
        the connection to the API, not the FUSE device, not the lock."""
        out = os.path.join(self.tmp, "hook-fds")
        hook = os.path.join(self.tmp, "hook.py")
        write_file(hook, "#!/usr/bin/env python3\n"
                   "import os\n"
                   "fds = {}\n"
                   "for fd in os.listdir('/proc/self/fd'):\n"
                   "    try:\n"
                   "        fds[fd] = os.readlink('/proc/self/fd/' + fd)\n"
                   "    except OSError:\n"
                   "        pass\n"
                   "open(%r + '.tmp', 'w').write(repr(fds))\n"
                   "os.rename(%r + '.tmp', %r)\n" % (out, out, out))
        os.chmod(hook, 0o755)
        sim, m = self.run_one_task(options={"on_complete": hook})
        fds = eval(wait_until(lambda: os.path.exists(out) and read_text(out), 30,
                              "the hook to run"))
        extra = {fd: target for fd, target in fds.items()
                 if int(fd) > 2 and not target.startswith("/proc/")}
        self.assertEqual(extra, {}, "the hook inherited descriptors: %r" % fds)
        self.assertIn("0", fds)

    def test_key_not_in_debug_log(self):
        """Not even the debug log (-d) shows the key."""
        sim, m = self.run_one_task(extra_args=["-d"])
        self.run_tool(["cat", m.path("job", "status")])
        m.unmount()
        log = m.log_text()
        self.assertIn("debug", log.lower(), "no debug output with -d")
        self.assertNoKey(log, "the debug log")

    def test_key_not_in_mount_files(self):
        """Every file in the mount (task files, task.json, error, new/)."""
        sim, m = self.run_one_task(fail=True)
        self.assertEqual(harness.state_of(self.status(m, "job")), "failed")
        harness.write_file(m.path("new", "note.txt"), "scratch\n")
        try:
            write_file(m.path("new", "bad.prompt"), "---\ncolour: red\n---\nx\n")
        except OSError as e:
            self.assertEqual(e.errno, errno.EINVAL)
        seen = 0
        for path in tree_files(m.mnt):
            if path.endswith("video.mp4") or not os.stat(path).st_mode & 0o444:
                continue     # the video is ours to skip; ctl is write-only
            self.assertNoKey(read_bytes(path), path)
            seen += 1
        for f in ("task.json", "error", "status", "events"):
            self.assertNoKey(read_bytes(m.path("job", f)), f)
        self.assertNoKey(read_bytes(m.path("new", "bad.error")), "new/bad.error")
        for attr in os.listxattr(m.path("job")):
            self.assertNoKey(os.getxattr(m.path("job"), attr), "xattr " + attr)
        self.assertGreaterEqual(seen, 8)

    def test_key_not_in_state_dir(self):
        """No file veofs keeps in its state dir holds the key."""
        sim, m = self.run_one_task()
        m.unmount()
        files = list(tree_files(m.state_dir))
        self.assertTrue(files)
        for path in files:
            self.assertNoKey(read_bytes(path), path)


class NobodyMount(harness.Mount):
    """veofs run by user nobody (65534). It keeps the two capabilities that
    mounting needs where /dev/fuse is root's alone; neither changes how the
    kernel decides dumpability (real and effective ids stay equal)."""

    def argv(self):
        return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "--inh-caps=+sys_admin,+dac_override",
                "--ambient-caps=+sys_admin,+dac_override"] + super().argv()


class ProcessGuardTest(harness.VeofsTestCase):
    """The key lives in the daemon's memory and nowhere a process of the
    same user can read it: not /proc/PID/environ, not a core dump, not
    ptrace. A debugging run (-d) keeps the usual rules."""
    sim_duration = 1

    def start_as_nobody(self, extra_args=()):
        if os.getuid() != 0 or not shutil.which("setpriv"):
            self.skipTest("needs root and setpriv to run veofs as another user")
        os.chmod(self.tmp, 0o755)
        home = os.path.join(self.tmp, "nobody-home")
        os.makedirs(home)
        env = harness.clean_env(home)
        env["VEOFS_API_KEY"] = KEY
        for root, dirs, _ in os.walk(home):
            for d in [root] + [os.path.join(root, x) for x in dirs]:
                os.chown(d, 65534, 65534)
        sim = self.start_sim()
        m = NobodyMount(self._logdir, os.path.join(self.tmp, "mnt"),
                        state_dir=os.path.join(home, "state"), base_url=sim.api,
                        options=dict(self.mount_options), env=env, name="nobody",
                        extra_args=["-o", "allow_other"] + list(extra_args))
        self.addCleanup(m.teardown)
        os.makedirs(m.mnt)
        os.chown(m.mnt, 65534, 65534)
        m.start()
        self.submit(m, "job", "a guarded key")
        self.wait_video(m, "job")
        return m

    def test_key_not_in_process_environment(self):
        """Once read, the key's variable is scrubbed from the block that
        /proc/PID/environ shows, and the daemon is not dumpable, which the
        kernel shows by giving its /proc/PID files to root: its own user
        cannot read its environ, memory or maps, nor get a core dump."""
        m = self.start_as_nobody()
        environ = read_bytes("/proc/%d/environ" % m.proc.pid)
        self.assertIn(b"HOME=", environ, "the daemon's environ was not read")
        self.assertNotIn(KEY.encode(), environ, "the key shows in /proc/PID/environ")
        self.assertNotIn(b"VEOFS_API_KEY=" + KEY[:6].encode(), environ)
        self.assertEqual(os.stat("/proc/%d/environ" % m.proc.pid).st_uid, 0,
                         "the daemon is dumpable: its /proc/PID is its user's")

    def test_debug_run_stays_dumpable(self):
        """-d is for debugging: the daemon can be inspected (but the key is
        still scrubbed from its environment)."""
        m = self.start_as_nobody(extra_args=["-d"])
        self.assertEqual(os.stat("/proc/%d/environ" % m.proc.pid).st_uid, 65534)
        self.assertNotIn(KEY.encode(), read_bytes("/proc/%d/environ" % m.proc.pid))


class KeyEchoTest(harness.VeofsTestCase):
    """A provider that echoes the key it was sent in its error messages,
    as OpenAI's own "Incorrect API key provided" does: the key must not
    reach any file, attribute or record, only [redacted]."""
    mount_options = {"interval": "1", "max_interval": "1", "timeout": "5"}

    def setUp(self):
        super().setUp()
        self.env["VEOFS_API_KEY"] = KEY

    def assertNoKey(self, data, where):
        if isinstance(data, str):
            data = data.encode()
        self.assertNotIn(KEY.encode(), data, "the API key shows in %s" % where)
        self.assertNotIn(KEY[3:].encode(), data, "part of the API key shows in %s" % where)

    def test_echoed_key_is_redacted_everywhere(self):
        echo = "Incorrect API key provided: Bearer %s. You can find your key online." % KEY
        fake = FakeApi(
            [video_object("video_echo1"),
             (401, {"error": {"message": echo, "type": "invalid_request_error"}})],
            lambda vid, path: (200, video_object(
                vid, "failed", error={"code": "invalid_api_key", "message": echo},
                echo={"authorization": "Bearer " + KEY})))
        fake.start()
        self.addCleanup(fake.stop)
        m = self.new_mount(None, options={"base_url": fake.api})
        m.start()
        write_file(m.path("new", "polled.prompt"), "a failure that echoes the key\n")
        self.wait_state(m, "polled", "failed", timeout=30)
        write_file(m.path("new", "refused.prompt"), "a refusal that echoes the key\n")
        self.wait_state(m, "refused", "failed", timeout=30)
        for name in ("polled", "refused"):
            with self.subTest(task=name):
                error = read_text(m.path(name, "error"))
                self.assertIn("[redacted]", error)
                self.assertIn("Incorrect API key provided", error)
                for f in ("status", "error", "events", "task.json"):
                    if os.path.exists(m.path(name, f)):
                        self.assertNoKey(read_bytes(m.path(name, f)), f)
                for attr in os.listxattr(m.path(name)):
                    self.assertNoKey(os.getxattr(m.path(name), attr), "xattr " + attr)
        self.assertIn("[redacted]", read_text(m.path("polled", "task.json")))
        m.unmount()
        for path in tree_files(m.state_dir):
            self.assertNoKey(read_bytes(path), path)
        self.assertNoKey(m.log_text(), "the log")


class KeyFileTest(harness.VeofsTestCase):
    sim_duration = 1

    def test_readable_config_with_key_warns(self):
        """A configuration file holding api_key that group or others can
        read draws a warning naming the file, not the key."""
        sim = self.start_sim()
        conf = os.path.join(self.tmp, "veofs.conf")
        write_file(conf, "[api]\napi_key = %s\n" % KEY)
        os.chmod(conf, 0o644)
        m = self.new_mount(sim, options={"config": conf})
        m.start()
        self.submit(m, "job", "a config key")
        m.unmount()
        log = m.log_text()
        self.assertIn(conf, log, "no warning naming %s" % conf)
        line = [ln for ln in log.splitlines() if conf in ln and not ln.startswith("====")][0]
        self.assertRegex(line.lower(), r"warn|readable|permission|mode")
        self.assertNotIn(KEY, log)

    def test_readable_key_file_warns(self):
        """An api_key_file readable by others draws a warning naming the
        file, not the key."""
        sim = self.start_sim()
        keyfile = os.path.join(self.tmp, "key")
        write_file(keyfile, KEY + "\n")
        os.chmod(keyfile, 0o644)
        m = self.new_mount(sim, options={"api_key_file": keyfile})
        m.start()
        self.submit(m, "job", "a key file")
        m.unmount()
        log = m.log_text()
        self.assertIn(keyfile, log, "no warning naming %s" % keyfile)
        line = [ln for ln in log.splitlines() if keyfile in ln and not ln.startswith("====")][0]
        self.assertRegex(line.lower(), r"warn|readable|permission|mode")
        self.assertNotIn(KEY, log)

    def test_private_key_file_does_not_warn(self):
        """The same file with mode 0600 is quietly accepted."""
        sim = self.start_sim()
        keyfile = os.path.join(self.tmp, "key")
        write_file(keyfile, KEY + "\n")
        os.chmod(keyfile, 0o600)
        m = self.new_mount(sim, options={"api_key_file": keyfile})
        m.start()
        m.unmount()
        self.assertNotIn(keyfile, "\n".join(ln for ln in m.log_text().splitlines()
                                            if "warn" in ln.lower()))


class StateDirTest(harness.VeofsTestCase):
    sim_duration = 1

    def test_state_dir_created_0700(self):
        """A state dir veofs creates is private to its owner (0700)."""
        sim = self.start_sim()
        state = os.path.join(self.tmp, "deep", "er", "state")
        old = os.umask(0o022)
        try:
            m = self.new_mount(sim, state_dir=state)
            m.start()
        finally:
            os.umask(old)
        self.submit(m, "job", "a private state")
        self.assertEqual(os.stat(state).st_mode & 0o777, 0o700)
        for path in tree_files(state):
            self.assertEqual(os.stat(path).st_mode & 0o077, 0, "%s is readable by others"
                             % path)


class TlsTest(harness.VeofsTestCase):

    def test_self_signed_certificate_is_refused(self):
        """An https base_url with a self-signed certificate fails with a
        certificate reason; no option turns verification off."""
        if not shutil.which("openssl"):
            self.skipTest("openssl is not installed")
        cert = os.path.join(self.tmp, "cert.pem")
        key = os.path.join(self.tmp, "key.pem")
        self.run_tool(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                       "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                       "-addext", "subjectAltName=IP:127.0.0.1"])
        fake = FakeApi([video_object("video_tls")],
                       lambda vid, path: (200, video_object(vid, "completed", progress=100)))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        fake.server.socket = ctx.wrap_socket(fake.server.socket, server_side=True)
        fake.start()
        self.addCleanup(fake.stop)
        base = "https://127.0.0.1:%d/v1" % fake.port

        for opt in ("insecure=1", "tls_verify=false", "ssl_verify=0", "verify=false",
                    "api.insecure=true", "ssl_no_verify=1"):
            with self.subTest(option=opt):
                r = subprocess.run([harness.veofs_bin(), "-f", "-o",
                                    "base_url=%s,state_dir=%s,%s"
                                    % (base, os.path.join(self.tmp, "st-x"), opt),
                                    os.path.join(self.tmp, "never")],
                                   capture_output=True, env=self.env, timeout=bound(20))
                self.assertNotEqual(r.returncode, 0, "option %s was accepted" % opt)
                self.assertRefused(r.returncode, r.stdout + r.stderr, "option %s" % opt)
                harness.force_unmount(os.path.join(self.tmp, "never"))

        m = self.new_mount(None, options={"base_url": base})
        m.start()
        write_file(m.path("new", "job.prompt"), "a prompt over bad tls\n")

        def reason():
            text = self.status(m, "job")
            try:
                text += "\n" + read_text(m.path("job", "error"))
            except OSError:
                pass
            return text if re.search(r"certificat|ssl|tls", text, re.I) else None
        text = wait_until(reason, 60, "the task to name the certificate problem")
        self.assertRegex(text, re.compile(r"certificat", re.I))
        self.assertNotIn(harness.state_of(self.status(m, "job")),
                         ("queued", "in_progress", "completed"))
        self.assertEqual(fake.requests, [], "a request got through the bad certificate")


class OtherUserTest(harness.VeofsTestCase):
    sim_duration = 1

    def as_nobody(self, argv):
        if shutil.which("setpriv"):
            pre = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        elif shutil.which("runuser"):
            pre = ["runuser", "-u", "nobody", "--"]
        else:
            self.skipTest("neither setpriv nor runuser is installed")
        return subprocess.run(pre + argv, capture_output=True, timeout=bound(20),
                              env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})

    def test_other_user_cannot_enter(self):
        """Without allow_other, another user gets EACCES at the mount."""
        if os.getuid() != 0:
            self.skipTest("needs root to act as another user")
        sim = self.start_sim()
        os.chmod(self.tmp, 0o755)
        m = self.new_mount(sim)
        os.makedirs(m.mnt)
        os.chmod(m.mnt, 0o755)
        m.start()
        self.submit(m, "job", "a private mount")
        # The same place without a mount is open to them: any refusal below
        # is the mount's.
        plain = os.path.join(self.tmp, "plain")
        os.makedirs(plain)
        self.assertEqual(self.as_nobody(["ls", plain]).returncode, 0)
        for argv in (["ls", m.mnt], ["stat", m.mnt], ["cat", m.path("job", "status")],
                     ["sh", "-c", 'echo x > "%s"' % m.path("new", "x.prompt")]):
            with self.subTest(argv=argv[0]):
                r = self.as_nobody(argv)
                self.assertNotEqual(r.returncode, 0, "%s worked as nobody" % argv)
                self.assertIn(b"Permission denied", r.stderr)
        self.assertEqual(sorted(os.listdir(m.mnt)), ["job", "new"])


class HostileApiTest(harness.VeofsTestCase):
    """A provider whose answers try to name paths or forge status lines."""
    mount_options = {"interval": "1", "max_interval": "1", "timeout": "5"}

    def snapshot(self):
        out = set()
        for dirpath, dirnames, filenames in os.walk(self.tmp):
            for n in dirnames + filenames:
                out.add(os.path.join(dirpath, n))
        return out

    def test_hostile_ids_are_kept_and_never_used_as_paths(self):
        """Ids that look like paths ("../../etc/evil", "..", "a/b",
        "/etc/evil2") are ids like any other: kept byte for byte,
        percent-encoded in every request and never used as a file name, so
        nothing is written outside STATE/tasks/NAME. An empty id or one with
        a newline cannot be used: the task is "submission outcome unknown"
        and nothing is polled by it."""
        kept_ids = ["../../etc/evil", "..", "a/b", "/etc/evil2"]
        bad_ids = ["video\nevil", ""]
        ids = kept_ids + bad_ids
        self.assertFalse(os.path.exists("/etc/evil"))
        fake = FakeApi([video_object(i) for i in ids],
                       lambda vid, path: (200, video_object(vid, "in_progress", progress=5)))
        fake.start()
        self.addCleanup(fake.stop)
        m = self.new_mount(None, options={"base_url": fake.api})
        m.start()
        before = self.snapshot()
        names = []
        for k, bad in enumerate(ids):
            name = "id%d" % k
            names.append(name)
            write_file(m.path("new", name + ".prompt"), "a hostile id %d\n" % k)
            wait_until(lambda: len([r for r in fake.requests if r[0] == "POST"]) > k, 30,
                       "the create of %s" % name)
        for name, vid in zip(names, ids):
            with self.subTest(id=vid):
                if vid in kept_ids:
                    self.wait_state(m, name, ("in_progress",), timeout=30)
                    self.assertEqual(read_text(m.path(name, "id")).rstrip("\n"), vid)
                else:
                    line = self.wait_state(m, name, ("failed",), timeout=30)
                    self.assertTrue(line.startswith(harness.OUTCOME_UNKNOWN), line)
                    self.assertEqual(read_text(m.path(name, "status")).count("\n"), 1)
        polled = {path for method, path in fake.requests if method == "GET"}
        for vid in kept_ids:
            quoted = urllib.parse.quote(vid, safe="")
            if quoted in (".", ".."):
                quoted = quoted.replace(".", "%2E")
            self.assertIn("/v1/videos/" + quoted, polled, "%r was not polled by its id" % vid)
        for path in polled:
            self.assertTrue(path.startswith("/v1/videos/"), path)
            self.assertNotIn("/../", path)
            self.assertNotIn("evil\n", path)
        state_tasks = os.path.join(m.state_dir, "tasks")
        allowed = tuple(os.path.join(state_tasks, n) for n in names)
        new_paths = sorted(p for p in self.snapshot() - before
                           if not p.startswith(allowed) and not p.startswith(m.mnt)
                           and not p.startswith(os.path.join(m.state_dir, "new")))
        self.assertEqual(new_paths, [], "files appeared outside STATE/tasks/NAME")
        for p in ("/etc/evil", "/etc/evil2", os.path.join(self.tmp, "etc")):
            self.assertFalse(os.path.exists(p), "%s was written" % p)
        self.assertEqual(sorted(os.listdir(state_tasks)), sorted(names))

    def test_error_text_cannot_forge_lines(self):
        """A failure message with newlines, carriage returns and "../"
        leaves status one line and events with only real lines."""
        evil = ("line one\ncompleted\n2030-01-01T00:00:00Z completed 100\r"
                "completed 100%\n../../etc/passwd\x1b[2J\ttail")
        ids = ["video_ok1", "video_ok2"]
        fake = FakeApi(
            [video_object(i) for i in ids],
            lambda vid, path: (200, video_object(
                vid, "failed", error={"code": "x\ny", "message": evil}
                if vid == "video_ok1" else evil)))
        fake.start()
        self.addCleanup(fake.stop)
        m = self.new_mount(None, options={"base_url": fake.api})
        m.start()
        for k in (1, 2):
            write_file(m.path("new", "job%d.prompt" % k), "hostile error text %d\n" % k)
            self.wait_state(m, "job%d" % k, "failed", timeout=30)
        for k in (1, 2):
            name = "job%d" % k
            with self.subTest(task=name):
                status = read_text(m.path(name, "status"))
                self.assertEqual(status.count("\n"), 1, "status %r is not one line" % status)
                self.assertTrue(status.endswith("\n"))
                self.assertNotIn("\r", status)
                self.assertNotIn("\x1b", status)
                self.assertTrue(status.startswith("failed"), status)
                events = read_text(m.path(name, "events")).splitlines()
                for line in events:
                    self.assertNotIn("\r", line)
                    harness.parse_event(line)
                states = [harness.parse_event(ln)[1] for ln in events]
                self.assertNotIn("completed", states, "a forged completed line in events")
                self.assertEqual(states[-1], "failed")
                self.assertFalse(os.path.exists(m.path(name, "video.mp4")))
                for attr in ("user.veofs.status",):
                    try:
                        v = os.getxattr(m.path(name), attr)
                    except OSError:
                        continue
                    self.assertNotIn(b"\n", v.rstrip(b"\n"))
        for p in tree_files(m.state_dir):
            self.assertFalse(p.endswith("passwd"))

    # Bug: the answer parser (src/remote/video_object.c, json_loads without
    # JSON_ALLOW_NUL) rejects valid JSON whose strings carry a \u0000
    # escape, so a job the provider reports failed with such a message is
    # polled forever as "bad answer from the provider" and never shows as
    # failed. It should accept the answer and drop or replace the NUL.
    def test_error_text_with_nul_still_fails(self):
        """A failure message carrying \\u0000 still ends the task as failed,
        with a one-line status."""
        fake = FakeApi([video_object("video_nul")],
                       lambda vid, path: (200, video_object(
                           vid, "failed", error={"code": "x", "message": "bad\0\nforged"})))
        fake.start()
        self.addCleanup(fake.stop)
        m = self.new_mount(None, options={"base_url": fake.api})
        m.start()
        write_file(m.path("new", "nul.prompt"), "a nul in the error\n")
        line = self.wait_state(m, "nul", "failed", timeout=10)
        self.assertEqual(read_text(m.path("nul", "status")).count("\n"), 1, line)


if __name__ == "__main__":
    harness.main()
