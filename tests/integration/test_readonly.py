#!/usr/bin/env python3
"""Everything but new/ is read-only; rmdir and rm -r forget tasks
(contract section 3, "Removing")."""

import errno
import os

import harness
from harness import READ_ONLY_ERRNOS, read_bytes, read_text, write_file

TASK_FILES = ("prompt", "status", "progress", "id", "events", "task.json", "video.mp4")
# Always there besides those (ctl is write-only), or there when the
# provider serves one (the simulator does, just after the video).
CONTROL_FILES = {"ctl", "thumbnail.webp"}


def listed_files(path):
    return sorted(set(os.listdir(path)) - CONTROL_FILES)



class ReadOnlyTest(harness.VeofsTestCase):
    sim_duration = 2

    def test_task_dir_and_root_refuse_changes(self):
        sim, m = self.sim_and_mount()
        self.submit(m, "job", "a fox in the snow")
        self.wait_saved(m, "job")
        before = {f: read_bytes(m.path("job", f)) for f in TASK_FILES}
        job = m.path("job")

        for f in TASK_FILES:
            p = os.path.join(job, f)
            with self.subTest(op="open for writing", file=f):
                self.assertErrno(READ_ONLY_ERRNOS, os.open, p, os.O_WRONLY)
                self.assertErrno(READ_ONLY_ERRNOS, os.open, p, os.O_RDWR)
                self.assertErrno(READ_ONLY_ERRNOS, os.open, p, os.O_WRONLY | os.O_APPEND)
            with self.subTest(op="truncate", file=f):
                self.assertErrno(READ_ONLY_ERRNOS, os.truncate, p, 0)
            with self.subTest(op="chmod", file=f):
                self.assertErrno(READ_ONLY_ERRNOS, os.chmod, p, 0o666)
            with self.subTest(op="rename", file=f):
                self.assertErrno(READ_ONLY_ERRNOS, os.rename, p, p + ".2")
            with self.subTest(op="link", file=f):
                self.assertErrno(READ_ONLY_ERRNOS, os.link, p, os.path.join(job, "hard"))
        with self.subTest(op="shell append"):
            r = self.sh('echo more >> "%s"' % m.path("job", "status"), check=False)
            self.assertNotEqual(r.returncode, 0)

        for where in (job, m.mnt):
            with self.subTest(op="create", where=where):
                self.assertErrno(READ_ONLY_ERRNOS, os.open, os.path.join(where, "newfile"),
                                 os.O_CREAT | os.O_WRONLY, 0o644)
            with self.subTest(op="mkdir", where=where):
                self.assertErrno(READ_ONLY_ERRNOS, os.mkdir, os.path.join(where, "sub"))
            with self.subTest(op="symlink", where=where):
                self.assertErrno(READ_ONLY_ERRNOS, os.symlink, "status",
                                 os.path.join(where, "link"))
            with self.subTest(op="mknod", where=where):
                self.assertErrno(READ_ONLY_ERRNOS, os.mkfifo, os.path.join(where, "fifo"))
            with self.subTest(op="chmod dir", where=where):
                self.assertErrno(READ_ONLY_ERRNOS, os.chmod, where, 0o777)
        with self.subTest(op="link into root"):
            self.assertErrno(READ_ONLY_ERRNOS, os.link, m.path("job", "status"),
                             m.path("status"))
        with self.subTest(op="rmdir new"):
            self.assertErrno(READ_ONLY_ERRNOS + (errno.EBUSY,), os.rmdir, m.path("new"))
        with self.subTest(op="rename new"):
            self.assertErrno(READ_ONLY_ERRNOS + (errno.EBUSY,), os.rename, m.path("new"),
                             m.path("old"))
        with self.subTest(op="unlink at root"):
            self.assertErrno(READ_ONLY_ERRNOS + (errno.EISDIR,), os.unlink, m.path("new"))

        # Still answering, nothing changed.
        self.assertEqual(sorted(os.listdir(m.mnt)), ["job", "new"])
        self.assertEqual(listed_files(job), sorted(TASK_FILES))
        for f in TASK_FILES:
            self.assertEqual(read_bytes(m.path("job", f)), before[f], "%s changed" % f)
        self.run_tool(["ls", "-l", m.mnt, job])
        self.assertEqual(self.status(m, "job"), "completed")

    def test_unlinking_a_task_file_loses_nothing(self):
        """rm -r unlinks the files before it removes the folder and gives up
        on the folder when one unlink fails, so veofs may accept unlink
        inside a task folder. Either way nothing may be lost: the task stays,
        and the files are all there again after a remount."""
        sim, m = self.sim_and_mount()
        self.submit(m, "job", "a bee on a sunflower")
        self.wait_saved(m, "job")
        before = {f: read_bytes(m.path("job", f)) for f in TASK_FILES}
        for f in ("status", "video.mp4"):
            with self.subTest(file=f):
                try:
                    os.unlink(m.path("job", f))
                except OSError as e:
                    self.assertIn(e.errno, READ_ONLY_ERRNOS,
                                  "unlink gave %s" % errno.errorcode.get(e.errno))
        self.assertIn("job", os.listdir(m.mnt), "unlinking a file forgot the task")
        for f in set(TASK_FILES) - {"status", "video.mp4"}:
            self.assertEqual(read_bytes(m.path("job", f)), before[f], "%s changed" % f)
        m.remount()
        self.assertEqual(listed_files(m.path("job")), sorted(TASK_FILES))
        for f in TASK_FILES:
            self.assertTrue(read_bytes(m.path("job", f)) == before[f], "%s changed" % f)
        self.assertEqual(self.status(m, "job"), "completed")


class RemoveTest(harness.VeofsTestCase):
    sim_duration = 2

    def _local_copies(self, state_dir, video):
        """Files in the state dir holding the video's bytes."""
        found = []
        for root, _, files in os.walk(state_dir):
            for f in files:
                p = os.path.join(root, f)
                try:
                    if os.path.getsize(p) == len(video) and read_bytes(p) == video:
                        found.append(p)
                except OSError:
                    pass
        return found

    def test_rmdir_and_rm_r_forget_tasks(self):
        sim, m = self.sim_and_mount()
        self.submit(m, "job", "a train crossing a bridge")
        self.submit(m, "job2", "a hot air balloon at dawn")
        self.submit(m, "keep", "a snail racing a leaf")
        videos = {}
        for name in ("job", "job2", "keep"):
            videos[name] = read_bytes(self.wait_video(m, name))
        # The download is local before we remove anything.
        copies = {}
        for name in ("job", "job2"):
            copies[name] = harness.wait_until(
                lambda n=name: self._local_copies(m.state_dir, videos[n]), 30,
                "a local copy of %s's video in the state dir" % name)

        self.run_tool(["rmdir", m.path("job")])
        r = self.run_tool(["rm", "-r", m.path("job2")], check=False)
        self.assertEqual(r.returncode, 0, "rm -r failed: %s" % r.stderr.decode(errors="replace"))
        self.assertEqual(sorted(os.listdir(m.mnt)), ["keep", "new"])
        self.assertFalse(os.path.exists(m.path("job")))
        self.assertFalse(os.path.exists(m.path("job2", "status")))
        for name in ("job", "job2"):
            for p in copies[name]:
                self.assertFalse(os.path.exists(p), "local video %s was not deleted" % p)

        # A forgotten name can be used again.
        self.submit(m, "job", "a second train")

        m.remount()
        self.assertEqual(sorted(os.listdir(m.mnt)), ["job", "keep", "new"])
        self.assertEqual(read_text(m.path("job", "prompt")).rstrip("\n"), "a second train")
        self.assertFalse(os.path.exists(m.path("job2")))
        self.assertTrue(read_bytes(m.path("keep", "video.mp4")) == videos["keep"])


if __name__ == "__main__":
    harness.main()
