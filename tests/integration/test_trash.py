#!/usr/bin/env python3
"""The freedesktop.org trash inside the mount (contract section 5,
"Trash"): gio trash moves a task into MOUNT/.Trash-UID/files with its
info/NAME.trashinfo; the task keeps its video and is never sent again;
restoring moves it back; emptying the trash forgets it and deletes its
local video; all of it survives a restart. Driven with gio itself; the
trash:// listing, restore and empty need gvfs (a session bus is started
for it), and are done with mv and rm -r where it is missing."""

import os
import shutil
import subprocess

import harness
from harness import read_bytes, read_text, wait_until


class TrashTest(harness.VeofsTestCase):
    sim_duration = 1

    def setUp(self):
        super().setUp()
        if not shutil.which("gio"):
            self.skipTest("gio is missing (package libglib2.0-bin)")
        self.gvfs = bool(shutil.which("dbus-run-session")) and \
            os.path.exists("/usr/libexec/gvfsd-trash")

    def gio(self, *args, check=True):
        argv = ["gio"] + list(args)
        if self.gvfs:
            argv = ["dbus-run-session", "--"] + argv
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=harness.bound(60), env=self.env)
        if check and r.returncode != 0:
            self.fail("%s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr))
        return r.stdout

    def listing(self, m):
        """{trash uri: original path} from gio trash --list."""
        out = {}
        for line in self.gio("trash", "--list").splitlines():
            uri, _, path = line.partition("\t")
            if path.startswith(m.mnt + "/"):
                out[uri] = path
        return out

    def test_trash_restore_empty_with_gio(self):
        sim, m = self.sim_and_mount()
        uid = os.getuid()
        self.submit(m, "cat", "a cat")
        video = read_bytes(self.wait_video(m, "cat"))
        self.submit(m, "dog", "a dog")
        self.wait_video(m, "dog")

        self.gio("trash", m.path("cat"))
        trash = m.path(".Trash-%d" % uid)
        self.assertNotIn("cat", os.listdir(m.mnt))
        self.assertEqual(os.listdir(os.path.join(trash, "files")), ["cat"])
        info = read_text(os.path.join(trash, "info", "cat.trashinfo"))
        self.assertIn("[Trash Info]", info)
        self.assertIn("Path=cat", info)
        st = os.stat(trash)
        self.assertEqual((st.st_uid, st.st_mode & 0o7777), (uid, 0o700))
        # The video stays; the name is free for a new task at once.
        self.assertEqual(read_bytes(os.path.join(trash, "files", "cat", "video.mp4")), video)
        self.submit(m, "cat", "another cat")
        self.wait_video(m, "cat")
        os.rename(m.path("cat"), m.path("cat2"))

        # A restart keeps the trash as it was.
        self.assertEqual(m.unmount(), 0)
        m.start()
        self.assertEqual(os.listdir(os.path.join(trash, "files")), ["cat"])
        self.assertTrue(os.path.exists(os.path.join(trash, "info", "cat.trashinfo")))
        self.assertNotIn("cat", os.listdir(m.mnt))

        # Restore.
        if self.gvfs:
            uris = self.listing(m)
            self.assertEqual(list(uris.values()), [m.path("cat")], uris)
            self.gio("trash", "--restore", list(uris)[0])
        else:
            os.rename(os.path.join(trash, "files", "cat"), m.path("cat"))
        self.assertEqual(read_bytes(m.path("cat", "video.mp4")), video)
        self.assertEqual(os.listdir(os.path.join(trash, "files")), [])
        self.assertEqual(os.listdir(os.path.join(trash, "info")), [])

        # Trash again (gio picks a free info name), then empty.
        self.gio("trash", m.path("cat"), m.path("dog"))
        self.assertEqual(sorted(os.listdir(os.path.join(trash, "files"))), ["cat", "dog"])
        if self.gvfs:
            self.assertEqual(len(self.listing(m)), 2)
            self.gio("trash", "--empty")
        else:
            shutil.rmtree(os.path.join(trash, "files", "cat"))
            shutil.rmtree(os.path.join(trash, "files", "dog"))
            for n in os.listdir(os.path.join(trash, "info")):
                os.unlink(os.path.join(trash, "info", n))
        wait_until(lambda: not os.listdir(os.path.join(trash, "files")), 10, "the trash to empty")
        tasks = sorted(os.listdir(os.path.join(m.state_dir, "tasks")))
        self.assertEqual(tasks, ["cat2"], "emptied tasks left files in the state dir")
        self.assertEqual(sorted(n for n in os.listdir(m.mnt) if n != "new"),
                         [".Trash-%d" % uid, "cat2"])
        # Nothing was sent twice.
        self.assertEqual(sim.stats()["creates"], 3)

    def test_trashed_task_goes_on_and_is_sent_once(self):
        """Trashed while the provider works on it: it finishes in the
        trash, is created once, and comes back whole after kill -9."""
        sim, m = self.sim_and_mount(duration=3)
        self.submit(m, "slow", "slow one")
        self.wait_submitted(m, "slow")
        self.gio("trash", m.path("slow"))
        trash = m.path(".Trash-%d" % os.getuid(), "files", "slow")
        wait_until(lambda: read_text(os.path.join(trash, "status")).strip() == "completed"
                   and os.path.exists(os.path.join(trash, "video.mp4")), 60,
                   "the trashed task to complete")
        m.kill9()
        m.start()
        self.assertEqual(read_text(os.path.join(trash, "status")).strip(), "completed")
        self.assertEqual(sim.stats()["creates"], 1)
        os.rename(trash, m.path("back"))
        self.assertEqual(read_bytes(m.path("back", "video.mp4")),
                         sim.content(self.task_id(m, "back")))

    def test_crash_leftovers(self):
        """An info file whose task never reached the trash (a crash before
        the rename) goes at start; a task found in the trash whose record
        does not say so is taken as trashed."""
        sim, m = self.sim_and_mount()
        self.submit(m, "a", "a")
        m.unmount()
        info = os.path.join(m.state_dir, "trash", str(os.getuid()), "info")
        os.makedirs(info)
        with open(os.path.join(info, "a.trashinfo"), "w") as f:
            f.write("[Trash Info]\nPath=a\nDeletionDate=2024-01-01T00:00:00\n")
        m.start()
        self.assertIn("a", os.listdir(m.mnt))
        self.assertEqual(os.listdir(info), [])


if __name__ == "__main__":
    harness.main()
