#!/usr/bin/env python3
"""Real programs on a real mount, as users run them: backup tools (cp -a,
rsync -a, tar, grep -r) over finished, running and failed tasks; a ctl
command through a Samba share of the mount; Emacs and vim saving prompts
into new/; inotifywait watching new/; and the refusals a shell hides.

A program that is not installed skips its test with a message (CI installs
them all: contrib/install-deps.sh)."""

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


if __name__ == "__main__":
    harness.main()
