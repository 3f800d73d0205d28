#!/usr/bin/env python3
"""Real programs on a real mount, as users run them: backup tools (cp -a,
rsync -a, tar, grep -r) over finished, running and failed tasks; a ctl
command through a Samba share of the mount; Emacs and vim saving prompts
into new/; inotifywait watching new/; and the refusals a shell hides.

A program that is not installed skips its test with a message (CI installs
them all: contrib/install-deps.sh)."""

import errno
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import read_text, wait_until, write_file


def need(*programs):
    """Skip the test unless every program is installed."""
    missing = [p for p in programs if not shutil.which(p)]
    if missing:
        raise unittest.SkipTest("%s not installed (contrib/install-deps.sh installs it)"
                                % ", ".join(missing))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ProgramsCase(harness.VeofsTestCase):
    sim_duration = 2

    def tool(self, argv, timeout=120, cwd=None, input=None):
        """Run argv; (returncode, stdout + stderr as text)."""
        r = subprocess.run(argv, input=input, capture_output=True, cwd=cwd,
                           stdin=None if input is not None else subprocess.DEVNULL,
                           timeout=harness.bound(timeout), env=self.env)
        return r.returncode, (r.stdout + r.stderr).decode(errors="replace")

    def assertTool(self, argv, **kw):
        rc, out = self.tool(argv, **kw)
        self.assertEqual(rc, 0, "%s exited %d:\n%s" % (" ".join(argv), rc, out))
        return out


class BackupToolsTest(ProgramsCase):
    """Every file of a mount is readable, so a backup of it succeeds."""

    def three_tasks(self):
        sim, m = self.sim_and_mount()
        self.submit(m, "done", "a finished piano")
        self.wait_video(m, "done")
        wait_until(lambda: "video.mp4 saved" in read_text(m.path("done", "events")), 60,
                   "the video of done to be saved")
        sim.add_fault("create=never-finishx1")
        self.submit(m, "running", "a running piano")
        self.wait_state(m, "running", "in_progress")
        sim.add_fault("create=fail-error-objectx1")
        self.submit(m, "broken", "a broken piano")
        self.wait_state(m, "broken", "failed")
        return sim, m

    def test_ctl_says_what_the_task_can_do_now(self):
        sim, m = self.three_tasks()
        for name in ("done", "running", "broken"):
            st = os.stat(m.path(name, "ctl"))
            text = read_text(m.path(name, "ctl"))
            self.assertEqual(st.st_size, len(text.encode()), "%s/ctl: stat size and text differ"
                             % name)
            self.assertTrue(st.st_mode & 0o444, "%s/ctl is not readable" % name)
            lines = {line.split()[0]: line for line in text.splitlines()}
            self.assertEqual(set(lines), {"refresh", "retry", "cancel"}, text)
            self.assertNotIn("not now", lines["refresh"])
        ctl = lambda name: {line.split()[0]: line
                            for line in read_text(m.path(name, "ctl")).splitlines()}
        self.assertIn("not now: the task is in_progress", ctl("running")["retry"])
        self.assertNotIn("not now", ctl("running")["cancel"])
        self.assertNotIn("not now", ctl("broken")["retry"])
        self.assertIn("not now: the task is already failed", ctl("broken")["cancel"])
        self.assertIn("not now: the task is already completed", ctl("done")["cancel"])
        # What it says is what it does; a read-write open takes commands.
        with open(m.path("running", "ctl"), "r+") as f:
            f.write("cancel\n")
        self.wait_state(m, "running", "failed")
        wait_until(lambda: "not now: the task is already failed"
                   in read_text(m.path("running", "ctl")), 10,
                   "ctl to follow the state")

    def test_cp_rsync_tar_and_grep_read_the_whole_mount(self):
        sim, m = self.three_tasks()
        out = os.path.join(self.tmp, "out")
        os.makedirs(out)
        self.assertTool(["cp", "-a", m.mnt, os.path.join(out, "cp")])
        self.assertEqual(read_text(os.path.join(out, "cp", "done", "ctl")),
                         read_text(m.path("done", "ctl")))
        self.assertEqual(read_text(os.path.join(out, "cp", "broken", "status")).strip(),
                         self.status(m, "broken"))
        self.assertTool(["tar", "-cf", os.path.join(out, "mount.tar"), "-C", m.mnt, "."])
        listing = self.assertTool(["tar", "-tf", os.path.join(out, "mount.tar")])
        self.assertIn("./running/ctl", listing.splitlines())
        rc, found = self.tool(["grep", "-r", "piano", m.mnt])
        self.assertEqual(rc, 0, "grep -r exited %d:\n%s" % (rc, found))
        self.assertIn("a broken piano", found)
        need("rsync")
        self.assertTool(["rsync", "-a", m.mnt + "/", os.path.join(out, "rsync") + "/"])
        self.assertEqual(read_text(os.path.join(out, "rsync", "running", "ctl")),
                         read_text(m.path("running", "ctl")))
        # Reading ctl is not a refusal: nothing about it in the log.
        self.assertNotIn("ctl: reading refused", m.log_text())


SMB_CONF = """[global]
  netbios name = VEOFSTEST
  workgroup = WORKGROUP
  server role = standalone server
  smb ports = {port}
  interfaces = 127.0.0.1
  bind interfaces only = yes
  disable netbios = yes
  lock directory = {d}/lock
  state directory = {d}/state
  cache directory = {d}/cache
  private dir = {d}/private
  pid directory = {d}/pid
  ncalrpc dir = {d}/ncalrpc
  log file = {d}/log.%m
  map to guest = Bad User
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
[share]
  path = {mnt}
  guest ok = yes
  read only = no
  force user = {user}
"""


class SambaTest(ProgramsCase):
    """A share of the mount: Windows and macOS clients open ctl read-write."""

    def start_smbd(self, mnt):
        need("smbd", "smbclient")
        d = tempfile.mkdtemp(prefix="veofs-smb-", dir=self.tmp)
        for sub in ("lock", "state", "cache", "private", "pid", "ncalrpc"):
            os.makedirs(os.path.join(d, sub))
        port = free_port()
        conf = os.path.join(d, "smb.conf")
        user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        with open(conf, "w") as f:
            f.write(SMB_CONF.format(port=port, d=d, mnt=mnt, user=user))
        logf = open(os.path.join(self._logdir, "smbd.log"), "ab")
        try:
            proc = subprocess.Popen(["smbd", "--foreground", "--no-process-group",
                                     "--debug-stdout", "-s", conf],
                                    stdin=subprocess.DEVNULL, stdout=logf,
                                    stderr=subprocess.STDOUT,
                                    # It signals its whole process group
                                    # when it stops: a group of its own.
                                    start_new_session=True)
        except OSError as e:
            raise unittest.SkipTest("smbd cannot start: %s" % e)
        finally:
            logf.close()

        def stop():
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=harness.bound(20))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.addCleanup(stop)

        def listening():
            if proc.poll() is not None:
                return "exited"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return "up"
            except OSError:
                return None
        try:
            state = wait_until(listening, 20, "smbd to listen")
        except AssertionError:
            state = "silent"
        if state != "up":
            raise unittest.SkipTest("smbd did not start (%s); see smbd.log" % state)
        return port, conf

    def smbclient(self, port, conf, command):
        return self.tool(["smbclient", "//127.0.0.1/share", "-p", str(port), "-N",
                          "-s", conf, "-c", command], timeout=60)

    def test_a_command_sent_through_a_share_works(self):
        sim, m = self.sim_and_mount()
        sim.add_fault("create=never-finishx1")
        self.submit(m, "piano", "a piano over the network")
        self.wait_state(m, "piano", "in_progress")
        port, conf = self.start_smbd(m.mnt)
        cmd = os.path.join(self.tmp, "cmdfile")
        with open(cmd, "w") as f:
            f.write("cancel\n")
        rc, out = self.smbclient(port, conf, "put %s piano/ctl" % cmd)
        self.assertEqual(rc, 0, "smbclient put exited %d:\n%s" % (rc, out))
        self.assertNotIn("NT_STATUS", out)
        self.wait_state(m, "piano", "failed")
        self.assertEqual(self.status(m, "piano"), "failed: cancelled")
        # And the share reads ctl back, like any file.
        got = os.path.join(self.tmp, "ctl-copy")
        rc, out = self.smbclient(port, conf, "get piano/ctl %s" % got)
        self.assertEqual(rc, 0, "smbclient get exited %d:\n%s" % (rc, out))
        self.assertIn("not now: the task is already failed", read_text(got))


BROKEN = "---\nflavour: mint\n---\na piano\n"


class EditorTest(ProgramsCase):
    """Editors' own saves into new/ finish without an error and make the
    task once: Emacs (backup by rename, write, chmod by path, a lock
    symlink) and vim."""

    def emacs(self, path, text):
        need("emacs")
        # Emacs makes no backups under temporary-file-directory (/tmp), where
        # the test mounts: make them as in a home directory, so the save is
        # the default one (backup by rename, write, chmod by path).
        lisp = ('(progn (setq backup-enable-predicate (lambda (_name) t))'
                ' (find-file "%s") (erase-buffer) (insert "%s") (save-buffer)'
                ' (kill-buffer))' % (path, text.replace("\\", "\\\\").replace('"', '\\"')))
        return self.tool(["emacs", "--batch", "-Q", "--eval", lisp], timeout=120)

    def check_saved(self, m, sim, name, text, rc, out, creates):
        self.assertEqual(rc, 0, "the save failed (%d):\n%s" % (rc, out))
        self.assertNotIn("file-missing", out)
        self.assertNotIn("rror", out)
        self.wait_submitted(m, name)
        self.assertEqual(read_text(m.path(name, "prompt")).strip(), text)
        self.assertEqual(sim.stats()["creates"], creates, "the task was not made once")
        self.assertNotIn(name + ".prompt", os.listdir(m.path("new")))
        self.assertNotIn(name + ".error", os.listdir(m.path("new")))

    def test_emacs_saves_a_fixed_prompt_and_a_new_one(self):
        sim, m = self.sim_and_mount()
        self.assertErrno(errno.EINVAL, write_file, m.path("new", "piano.prompt"),
                         BROKEN)
        rc, out = self.emacs(m.path("new", "piano.prompt"), "a piano, fixed\n")
        self.check_saved(m, sim, "piano", "a piano, fixed", rc, out, 1)
        self.assertFalse([n for n in os.listdir(m.path("new")) if n.startswith(".#")],
                         "Emacs left its lock behind")
        rc, out = self.emacs(m.path("new", "fresh.prompt"), "a fresh piano\n")
        self.check_saved(m, sim, "fresh", "a fresh piano", rc, out, 2)
        # The name that became a task stays out of listings; writing it
        # again is refused as for any existing task.
        self.assertErrno(errno.EEXIST, write_file, m.path("new", "fresh.prompt"),
                         "again\n")

    def test_vim_saves_a_fixed_prompt_and_a_new_one(self):
        need("vim")
        sim, m = self.sim_and_mount()
        self.assertErrno(errno.EINVAL, write_file, m.path("new", "organ.prompt"),
                         BROKEN)
        for name, text, creates in (("organ", "an organ, fixed", 1),
                                    ("harp", "a new harp", 2)):
            rc, out = self.tool(["vim", "-u", "NONE", "-N", "-es", "-c", "%d",
                                 "-c", "call setline(1, '%s')" % text, "-c", "wq",
                                 m.path("new", name + ".prompt")], timeout=120)
            self.check_saved(m, sim, name, text, rc, out, creates)


class WatcherTest(ProgramsCase):
    """What inotify watchers see of veofs's own changes. FUSE lets a server
    delete a name the kernel holds (fuse_lowlevel_notify_delete): a watch
    on that file gets IN_DELETE_SELF. It cannot make IN_CREATE, IN_MODIFY
    or, on current kernels, IN_DELETE for a watch on the directory; scripts
    poll (the README shows how)."""

    def watch(self, path):
        """inotifywait -m on path; returns the list its events go to."""
        need("inotifywait")
        lines = []
        proc = subprocess.Popen(["inotifywait", "-m", "--format", "%e %f", path],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env)

        def stop():
            proc.terminate()
            proc.wait(timeout=harness.bound(20))
        self.addCleanup(stop)
        ready = threading.Event()

        def read(stream, into):
            for line in stream:
                if "Watches established" in line:
                    ready.set()
                into.append(line.strip())
        threading.Thread(target=read, args=(proc.stdout, lines), daemon=True).start()
        threading.Thread(target=read, args=(proc.stderr, []), daemon=True).start()
        self.assertTrue(ready.wait(harness.bound(20)), "inotifywait did not start")
        return lines

    def test_a_watched_prompt_sees_itself_go_when_it_becomes_a_task(self):
        sim, m = self.sim_and_mount()
        path = m.path("new", "watched.prompt")
        self.assertErrno(errno.EINVAL, write_file, path, BROKEN)
        seen = self.watch(path)
        rc, out = self.tool(["sh", "-c", 'printf "a watched piano\\n" > "$1"', "sh", path])
        self.assertEqual(rc, 0, out)
        self.wait_submitted(m, "watched")
        wait_until(lambda: any(e.startswith("DELETE_SELF") for e in seen), 20,
                   "inotifywait to see new/watched.prompt go (saw %r)" % seen)

    def test_a_watched_error_file_sees_itself_go_on_retry(self):
        sim, m = self.sim_and_mount()
        sim.add_fault("create=fail-error-objectx1")
        self.submit(m, "broken", "a broken piano")
        self.wait_state(m, "broken", "failed")
        seen = self.watch(m.path("broken", "error"))
        write_file(m.path("broken", "ctl"), "retry\n")
        wait_until(lambda: any(e.startswith("DELETE_SELF") for e in seen), 20,
                   "inotifywait to see broken/error go (saw %r)" % seen)
        self.wait_completed(m, "broken")


class ShellRefusalTest(ProgramsCase):
    """bash ignores close() errors of a redirection: a refused prompt written
    with echo > exits 0. What a script can check instead, and the log."""

    def refusals(self, m, name):
        return [line for line in m.log_text().splitlines()
                if "new/%s.prompt refused" % name in line and "info" in line]

    def test_what_a_script_can_check(self):
        need("bash")
        sim, m = self.sim_and_mount()
        rc, out = self.tool(["bash", "-c", 'echo "" > "$1"', "bash",
                             m.path("new", "blank.prompt")])
        self.assertEqual(rc, 0, "bash now reports close() errors: update the docs")
        self.assertTrue(os.path.exists(m.path("new", "blank.error")))
        self.assertFalse(os.path.exists(m.path("blank")))
        # A writer that checks close says so.
        src = os.path.join(self.tmp, "broken.prompt")
        with open(src, "w") as f:
            f.write(BROKEN)
        rc, out = self.tool(["cp", src, m.path("new", "copied.prompt")])
        self.assertNotEqual(rc, 0, "cp of a refused prompt exited 0")
        self.assertIn("flavour", read_text(m.path("new", "copied.error")))
        rc, out = self.tool(["dd", "if=" + src, "of=" + m.path("new", "dd.prompt"),
                             "conv=fsync", "status=none"])
        self.assertNotEqual(rc, 0, "dd conv=fsync of a refused prompt exited 0")
        # Each refusal is in the log once, with its reason; also one whose
        # only close was the shell's own (": >").
        rc, out = self.tool(["bash", "-c", ': > "$1"', "bash", m.path("new", "empty.prompt")])
        self.assertEqual(rc, 0)
        self.assertTrue(os.path.exists(m.path("new", "empty.error")))
        for name in ("blank", "copied", "dd", "empty"):
            wait_until(lambda: self.refusals(m, name), 10, "the refusal of %s" % name)
            self.assertEqual(len(self.refusals(m, name)), 1,
                             "%s: %r" % (name, self.refusals(m, name)))
        self.assertIn("flavour", self.refusals(m, "copied")[0])
        self.assertIn("empty", self.refusals(m, "empty")[0])


if __name__ == "__main__":
    harness.main()
