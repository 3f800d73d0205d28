#!/usr/bin/env python3
"""The state dir on a file system that refuses rename flags (contract
section 2, storage.state_dir; section 3, "Accepted locally means durable").

NFS, CIFS and FUSE file systems built on libfuse's high-level API answer
EINVAL to renameat2(RENAME_NOREPLACE). These tests put the state dir on
libfuse's own example passthrough.c (a high-level file system that does
exactly that), built here from the copy libfuse3-dev ships, and run the
lifecycle, a restart and a kill -9 torture on it. A state dir that cannot
keep tasks at all is refused when mounting, saying why."""

import glob
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import time

import harness
from harness import bound, read_bytes, wait_until, write_file
from test_torture import PromptWriter, prompt_text, settled, sha256_file

EXAMPLES = "/usr/share/doc/libfuse3-dev/examples"
ROUNDS = int(os.environ.get("VEOFS_FOREIGN_TORTURE_ROUNDS", "12") or "12")


def passthrough_source():
    """Where libfuse3-dev put passthrough.c (dpkg -L, else the usual path)."""
    try:
        r = subprocess.run(["dpkg", "-L", "libfuse3-dev"], capture_output=True,
                           text=True, timeout=30)
        for line in r.stdout.splitlines():
            if line.endswith("/examples/passthrough.c"):
                return line
    except (OSError, subprocess.TimeoutExpired):
        pass
    found = glob.glob(os.path.join(EXAMPLES, "passthrough.c*"))
    return found[0] if found else None


class ForeignStoreTest(harness.VeofsTestCase):
    sim_duration = 2

    def setUp(self):
        super().setUp()
        src = passthrough_source()
        cc = shutil.which("cc") or shutil.which("gcc")
        if not src or not cc or not shutil.which("pkg-config"):
            self.skipTest("libfuse's example passthrough.c or a C compiler is missing "
                          "(install libfuse3-dev and gcc)")
        build = os.path.join(self.tmp, "pt-build")
        os.makedirs(build)
        for f in glob.glob(os.path.join(os.path.dirname(src), "passthrough*")):
            if f.endswith(".gz"):
                with open(os.path.join(build, os.path.basename(f)[:-3]), "wb") as out:
                    out.write(subprocess.run(["gzip", "-dc", f], capture_output=True).stdout)
            else:
                shutil.copy(f, build)
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "fuse3"],
                               capture_output=True, text=True)
        exe = os.path.join(build, "passthrough")
        r = subprocess.run([cc, "-o", exe, os.path.join(build, "passthrough.c")]
                           + flags.stdout.split(), capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot build libfuse's passthrough.c: %s" % r.stderr[-500:])
        # passthrough.c shows the whole root under its mount point.
        self.pt_mnt = os.path.join(self.tmp, "pt-mnt")
        os.makedirs(self.pt_mnt)
        self.pt = subprocess.Popen([exe, "-f", self.pt_mnt], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self._stop_passthrough)
        wait_until(lambda: harness.is_mounted(self.pt_mnt), 20, "passthrough to mount")
        self.backing = os.path.join(self.tmp, "backing")
        os.makedirs(self.backing)
        self.state_dir = self.pt_mnt + os.path.realpath(self.backing) + "/state"

    def _stop_passthrough(self):
        harness.clean_unmount(self.pt_mnt)
        if self.pt.poll() is None:
            self.pt.terminate()
        try:
            self.pt.wait(timeout=bound(20))
        except subprocess.TimeoutExpired:
            self.pt.kill()
            self.pt.wait()

    def test_refuses_rename_flags(self):
        """The premise: this file system answers EINVAL to RENAME_NOREPLACE."""
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        a = os.path.join(self.pt_mnt + os.path.realpath(self.backing), "a")
        write_file(a, "x")
        rc = libc.renameat2(-100, a.encode(), -100, (a + "b").encode(), 1)
        self.assertEqual((rc, ctypes.get_errno()), (-1, 22))

    def test_lifecycle_rename_and_rmdir(self):
        sim = self.start_sim()
        m = self.mount(sim, state_dir=self.state_dir)
        self.submit(m, "job", "cat piano")
        video = self.wait_video(m, "job")
        self.assertEqual(read_bytes(video), sim.content(self.task_id(m, "job")))
        # mv onto a taken name is refused; onto a free one works.
        self.submit(m, "other", "dog")
        self.assertErrno((17, 39), os.rename, m.path("job"), m.path("other"))
        os.rename(m.path("job"), m.path("moved"))
        self.assertEqual(read_bytes(m.path("moved", "video.mp4")),
                         sim.content(self.task_id(m, "moved")))
        # A name already taken: EEXIST at close, the old task untouched.
        self.assertErrno(17, os.open, m.path("new", "other.prompt"),
                         os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644)
        # Staging folders rename without flags too.
        os.mkdir(m.path("new", "New Folder"))
        os.rename(m.path("new", "New Folder"), m.path("new", "cow"))
        os.rmdir(m.path("moved"))
        self.assertFalse(os.path.exists(m.path("moved")))
        self.assertEqual(sorted(os.listdir(os.path.join(self.state_dir, "tasks"))),
                         ["other"])
        self.assertEqual(sim.stats()["creates"], 2)

    def test_restart_keeps_every_task(self):
        sim = self.start_sim()
        m = self.mount(sim, state_dir=self.state_dir)
        for i in range(5):
            self.submit(m, "t%d" % i, "prompt %d" % i)
        self.wait_video(m, "t0")
        self.assertEqual(m.unmount(), 0)
        m.start()
        for i in range(5):
            self.wait_video(m, "t%d" % i)
        m.kill9()
        m.start()
        self.assertEqual(sorted(n for n in os.listdir(m.mnt) if n != "new"),
                         ["t%d" % i for i in range(5)])
        self.assertEqual(sim.stats()["creates"], 5)

    def test_interrupted_reservation_leaves_no_task(self):
        """A crash between the reservation (an empty folder of the task's
        name) and the rename leaves nothing that loads as a task, and the
        name stays free."""
        sim = self.start_sim()
        os.makedirs(os.path.join(self.state_dir, "tasks", "ghost"))
        m = self.mount(sim, state_dir=self.state_dir)
        self.assertNotIn("ghost", os.listdir(m.mnt))
        self.submit(m, "ghost", "a real one")
        self.wait_video(m, "ghost")

    def test_kill9_torture(self):
        seed = int(os.environ.get("VEOFS_TORTURE_SEED") or
                   random.SystemRandom().randrange(1 << 30))
        harness.log("foreign torture: %d rounds, seed %d" % (ROUNDS, seed))
        rng = random.Random(seed)
        sim = self.start_sim(duration=1, latency=50)
        m = self.mount(sim, state_dir=self.state_dir)
        closed_ok, attempted = set(), set()
        for rnd in range(ROUNDS):
            writer = PromptWriter(m.mnt, "r%02d" % rnd, rng, closed_ok, attempted)
            writer.start()
            time.sleep(rng.uniform(0.05, 1.0))
            m.send_signal(signal.SIGKILL)
            m.proc.wait(timeout=bound(20))
            writer.stop.set()
            writer.join(bound(30))
            self.assertFalse(writer.is_alive(), "a prompt writer hung after the kill")
            if not harness.force_unmount(m.mnt):
                self.fail("stale mount %s could not be removed" % m.mnt)
            m.start()

        def all_settled():
            names = [n for n in os.listdir(m.mnt) if n != "new"]
            return all(settled(m, n, self.status(m, n)) for n in names) and names
        wait_until(all_settled, 150, "every task to complete or fail", interval=0.5)
        names = sorted(n for n in os.listdir(m.mnt) if n != "new")
        self.assertEqual(sorted(closed_ok - set(names)), [],
                         "prompts whose close() succeeded but have no task")
        status, _, body = harness.http("GET", sim.api + "/videos")
        jobs = json.loads(body)["data"]
        prompts = [sim.job(j["id"])["prompt"] for j in jobs]
        self.assertEqual(len(prompts), len(set(prompts)), "a prompt was paid twice")
        for n in names:
            if self.status(m, n) == "completed":
                self.assertEqual(sha256_file(m.path(n, "video.mp4")),
                                 hashlib.sha256(sim.content(self.task_id(m, n))).hexdigest())
        self.assertEqual(m.unmount(), 0)
        m.start()
        self.assertEqual(m.unmount(), 0)
        tasks = os.path.join(self.state_dir, "tasks")
        for n in os.listdir(tasks):
            self.assertFalse(n.startswith("."), "leftover %s" % n)
            with open(os.path.join(tasks, n, "record.json")) as f:
                json.load(f)


class UnusableStoreTest(harness.VeofsTestCase):
    def test_read_only_state_dir_refused_at_mount(self):
        """A state dir that cannot take a task is refused when mounting,
        with the reason, not at the first prompt."""
        state = os.path.join(self.tmp, "ro-state")
        os.makedirs(os.path.join(state, "tasks"))
        os.makedirs(os.path.join(state, "new"))
        r = subprocess.run(["mount", "--bind", state, state], capture_output=True)
        if r.returncode != 0:
            self.skipTest("cannot bind-mount here: %s" % r.stderr.decode(errors="replace"))
        self.addCleanup(subprocess.run, ["umount", "-l", state], capture_output=True)
        r = subprocess.run(["mount", "-o", "remount,ro,bind", state], capture_output=True)
        if r.returncode != 0:
            self.skipTest("cannot make a read-only bind mount here")
        m = self.new_mount(None, state_dir=state, simulate=True)
        os.makedirs(m.mnt)
        r = subprocess.run(m.argv(), capture_output=True, text=True, timeout=bound(30),
                           env=self.env)
        self.assertNotEqual(r.returncode, 0, "mounted on a read-only state dir")
        self.assertFalse(harness.is_mounted(m.mnt))
        self.assertIn("cannot keep tasks", r.stderr)
        self.assertIn("Read-only file system", r.stderr)


if __name__ == "__main__":
    harness.main()
