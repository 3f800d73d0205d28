#!/usr/bin/env python3
"""Shared mounts (contract section 5, "Shared mounts"): with allow_other,
new/ is writable by every user with sticky-bit rules, each task belongs to
the user who wrote its prompt (recorded durably), only that user or root
may ctl, rmdir or mv it, modes follow umask, and uid=, gid=, umask= work
as in sshfs. veofs runs as root (the fstab way); the second user is
nobody, acting through setpriv."""

import errno
import json
import os
import shutil
import subprocess

import harness
from harness import read_text

NOBODY = 65534


class SharedMountTest(harness.VeofsTestCase):
    sim_duration = 1

    def setUp(self):
        super().setUp()
        if os.getuid() != 0 or not shutil.which("setpriv"):
            self.skipTest("needs root and setpriv to act as a second user")
        os.chmod(self.tmp, 0o755)

    def as_nobody(self, script, check=True):
        r = subprocess.run(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                            "--clear-groups", "sh", "-c", script],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=harness.bound(60), cwd="/")
        if check and r.returncode != 0:
            self.fail("as nobody: %s failed (%d): %s" % (script, r.returncode, r.stderr))
        return r

    def shared(self, sim, **opts):
        m = self.new_mount(sim, extra_args=["-o", "allow_other"], options=opts)
        os.makedirs(m.mnt)
        os.chmod(m.mnt, 0o755)
        return m.start()

    def test_each_user_owns_their_tasks(self):
        sim = self.start_sim()
        m = self.shared(sim)
        for d in (m.mnt, m.path("new")):
            self.assertEqual(os.stat(d).st_mode & 0o7777, 0o1777, d)
        self.submit(m, "roots", "root's prompt")
        self.as_nobody('umask 077; echo "nobody\'s prompt" > %s' % m.path("new", "mine.prompt"))
        st = os.stat(m.path("mine"))
        self.assertEqual((st.st_uid, st.st_gid), (NOBODY, NOBODY))
        for f in ("prompt", "status", "ctl"):
            self.assertEqual(os.stat(m.path("mine", f)).st_uid, NOBODY, f)
        # ctl: written by its owner alone (whatever the tree lets others read).
        self.assertEqual(os.stat(m.path("mine", "ctl")).st_mode & 0o222, 0o200)
        self.assertEqual(os.stat(m.path("roots")).st_uid, 0)

        # A file in new/ is its creator's, and the sticky bit protects it.
        self.as_nobody("umask 077; echo draft > %s" % m.path("new", "draft.txt"))
        st = os.stat(m.path("new", "draft.txt"))
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (NOBODY, 0o600))
        with open(m.path("new", "root.txt"), "w") as f:
            f.write("x")
        r = self.as_nobody("rm -f %s" % m.path("new", "root.txt"), check=False)
        self.assertNotEqual(r.returncode, 0, "nobody removed root's file in new/")
        self.assertTrue(os.path.exists(m.path("new", "root.txt")))

        # Another user's task: no ctl, no rmdir, no mv.
        for script in ("echo refresh > %s" % m.path("roots", "ctl"),
                       "rmdir %s" % m.path("roots"),
                       "mv %s %s" % (m.path("roots"), m.path("stolen"))):
            r = self.as_nobody(script, check=False)
            self.assertNotEqual(r.returncode, 0, "nobody could: %s" % script)
        self.assertTrue(os.path.isdir(m.path("roots")))
        self.assertFalse(os.path.exists(m.path("stolen")))
        # Their own: all of it.
        self.as_nobody("echo refresh > %s" % m.path("mine", "ctl"))
        self.as_nobody("mv %s %s" % (m.path("mine"), m.path("moved")))
        self.wait_video(m, "moved")

        # Durable: the owner is in the record and survives a restart.
        with open(os.path.join(m.state_dir, "tasks", "moved", "record.json")) as f:
            rec = json.load(f)
        self.assertEqual((rec["owner_uid"], rec["owner_gid"]), (NOBODY, NOBODY))
        self.assertEqual(m.unmount(), 0)
        m.start()
        self.assertEqual(os.stat(m.path("moved")).st_uid, NOBODY)
        self.as_nobody("rmdir %s" % m.path("moved"))
        self.assertFalse(os.path.exists(m.path("moved")))
        # Root may remove anyone's.
        self.as_nobody('echo x > %s' % m.path("new", "again.prompt"))
        os.rmdir(m.path("again"))

    def test_uid_gid_umask_options(self):
        sim = self.start_sim()
        m = self.shared(sim)
        self.submit(m, "old", "from before owners")
        self.assertEqual(m.unmount(), 0)
        # A record from before owners were kept belongs to the mount's user.
        rec_path = os.path.join(m.state_dir, "tasks", "old", "record.json")
        with open(rec_path) as f:
            rec = json.load(f)
        rec.pop("owner_uid")
        rec.pop("owner_gid")
        with open(rec_path, "w") as f:
            json.dump(rec, f)
        m.extra_args = ["-o", "allow_other,uid=4242,gid=4343,umask=027"]
        m.start()
        st = os.stat(m.mnt)
        self.assertEqual((st.st_uid, st.st_gid), (4242, 4343))
        st = os.stat(m.path("old"))
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777), (4242, 4343, 0o750))
        self.assertEqual(os.stat(m.path("old", "prompt")).st_mode & 0o777, 0o440)
        self.assertEqual(os.stat(m.path("old", "ctl")).st_mode & 0o027, 0)
        # umask=027: others cannot read a task's files.
        r = self.as_nobody("cat %s" % m.path("old", "status"), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.as_nobody('echo mine > %s' % m.path("new", "n.prompt"))
        self.assertEqual(os.stat(m.path("n")).st_uid, NOBODY)
        self.assertEqual(read_text(m.path("n", "prompt")).strip(), "mine")

    def test_bad_options_refused(self):
        for opt in ("uid=abc", "umask=999", "gid=-1", "uid="):
            r = subprocess.run([harness.veofs_bin(), "--simulate", "-o", opt,
                                os.path.join(self.tmp, "nowhere")], capture_output=True,
                               text=True, env=self.env, timeout=30)
            self.assertEqual(r.returncode, 2, opt)
            self.assertIn(opt.split("=")[0], r.stderr)


if __name__ == "__main__":
    harness.main()
