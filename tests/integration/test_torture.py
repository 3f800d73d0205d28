#!/usr/bin/env python3
"""Crash torture and the ways a mount ends (contract section 3, "Accepted
locally means durable"; section 5, "SIGTERM unmounts cleanly").

The torture loop kills veofs with SIGKILL at a random moment, round after
round, while prompts are being written, submitted (with the create stalled),
polled and downloaded, and remounts on the same state dir each time. At the
end every prompt whose close() succeeded must be a task, nothing may have
been paid twice, nothing may be stuck, every video must be byte-identical to
the API's and the state dir may hold no torn or leftover files.

VEOFS_TORTURE_ROUNDS sets the number of rounds (default 50); VEOFS_TORTURE_SEED
replays a run (the seed is printed)."""

import errno
import hashlib
import json
import os
import random
import signal
import subprocess
import threading
import time

import harness
from harness import bound, read_text, wait_until, write_file

ROUNDS = int(os.environ.get("VEOFS_TORTURE_ROUNDS", "50") or "50")
VIDEO_BYTES = 20000000
SPACE_WORDS = ("space", "ENOSPC")


def prompt_text(name):
    return "torture prompt %s" % name


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
    return h.hexdigest()


def settled(m, name, status):
    """Failed, or completed with the whole video saved (video.mp4.part is
    renamed to video.mp4 in the state dir once the download is whole)."""
    st = harness.state_of(status)
    return st == "failed" or (
        st == "completed" and "(" not in status and
        os.path.exists(os.path.join(m.state_dir, "tasks", name, "video.mp4")))


class PromptWriter(threading.Thread):
    """Writes NAME.prompt files into new/ with plain system calls until told
    to stop, and records which close() calls returned success."""

    def __init__(self, mnt, prefix, rng, closed_ok, attempted):
        super().__init__(daemon=True)
        self.mnt = mnt
        self.prefix = prefix
        self.pace = [rng.uniform(0.25, 0.8) for _ in range(64)]
        self.closed_ok = closed_ok
        self.attempted = attempted
        self.stop = threading.Event()

    def run(self):
        i = 0
        while not self.stop.is_set() and i < len(self.pace):
            name = "%s-%d" % (self.prefix, i)
            self.attempted.add(name)
            try:
                fd = os.open(os.path.join(self.mnt, "new", name + ".prompt"),
                             os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
            except OSError:
                self.stop.wait(0.05)
                i += 1
                continue
            try:
                os.write(fd, (prompt_text(name) + "\n").encode())
            except OSError:
                pass
            try:
                os.close(fd)
                self.closed_ok.add(name)
            except OSError:
                pass
            self.stop.wait(self.pace[i])
            i += 1


class TortureTest(harness.VeofsTestCase):
    sim_duration = 2

    def test_kill9_at_random_moments(self):
        """SIGKILL at a random moment in each of many rounds (writing,
        submitting with a stalled create, polling, downloading), then remount
        on the same state dir: no accepted prompt lost, none paid twice,
        none stuck, every video byte-identical, no torn files."""
        seed = int(os.environ.get("VEOFS_TORTURE_SEED") or random.SystemRandom().randrange(1 << 30))
        harness.log("torture: %d rounds, seed %d (VEOFS_TORTURE_SEED=%d replays)"
                    % (ROUNDS, seed, seed))
        rng = random.Random(seed)
        sim = self.start_sim(duration=2, video_bytes=VIDEO_BYTES, latency=100)
        m = self.new_mount(sim, options={"interval": "1", "max_interval": "1",
                                         "timeout": "20"})
        m.start()
        closed_ok, attempted = set(), set()
        kinds = {"write": 0, "stall": 0, "poll": 0, "download": 0}
        before_last_kill = set()
        started = time.monotonic()

        for rnd in range(ROUNDS):
            kind = rng.choice(("write", "stall", "poll", "download"))
            kinds[kind] += 1
            if kind == "stall":
                sim.add_fault("create=stall")
            writer = None
            if kind in ("write", "stall") or rng.random() < 0.5:
                writer = PromptWriter(m.mnt, "r%02d" % rnd, rng, closed_ok, attempted)
                writer.start()
            # Poll and download rounds wait for work in those phases first,
            # so the kill lands while it is happening.
            if kind in ("poll", "download"):
                self._wait_for_phase(m, kind, bound(2))
            time.sleep(rng.uniform(0.05, 1.2))
            m.send_signal(signal.SIGKILL)
            m.proc.wait(timeout=bound(20))
            if writer is not None:
                writer.stop.set()
                writer.join(bound(30))
                self.assertFalse(writer.is_alive(), "a prompt writer hung after the kill")
            before_last_kill |= attempted
            if not harness.force_unmount(m.mnt):
                self.fail("stale mount %s could not be removed" % m.mnt)
            if kind == "stall":
                sim.clear_faults()
            m.start()
            if rnd % 10 == 9:
                harness.log("torture: %d rounds in %.0fs, %d prompts accepted"
                            % (rnd + 1, time.monotonic() - started, len(closed_ok)))

        # Prompts written after the last kill must simply work.
        sim.clear_faults()
        finals = ["final-%d" % i for i in range(3)]
        for name in finals:
            write_file(m.path("new", name + ".prompt"), prompt_text(name) + "\n")
            closed_ok.add(name)

        # Everything settles, bounded.
        def all_settled():
            names = [n for n in os.listdir(m.mnt) if n != "new"]
            return all(settled(m, n, self.status(m, n)) for n in names) and names
        wait_until(all_settled, 150, "every task to complete or fail", interval=0.5)
        names = sorted(n for n in os.listdir(m.mnt) if n != "new")

        # 1. Nothing accepted is lost.
        lost = sorted(closed_ok - set(names))
        self.assertEqual(lost, [], "prompts whose close() succeeded but have no task")

        # 2. Nothing paid twice; the simulator's books agree with ours.
        stats = sim.stats()
        status, _, body = harness.http("GET", sim.api + "/videos")
        self.assertEqual(status, 200)
        jobs = json.loads(body)["data"]
        by_prompt = {}
        for j in jobs:
            prompt = sim.job(j["id"])["prompt"]
            by_prompt.setdefault(prompt, []).append(j["id"])
        twice = {p: ids for p, ids in by_prompt.items() if len(ids) > 1}
        self.assertEqual(twice, {}, "prompts created more than once at the API")
        self.assertEqual(stats["creates"], len(jobs))
        self.assertEqual(stats["creates"], len(by_prompt),
                         "creates at the API != distinct tasks that reached it")
        self.assertGreaterEqual(stats["create_requests"], stats["creates"])
        reached = {p[len("torture prompt "):] for p in by_prompt}
        self.assertEqual(sorted(reached - set(names)), [],
                         "the API created jobs for prompts that are not tasks")

        ids = {}
        outcome_unknown, other_failed, completed = [], [], []
        for n in names:
            line = self.status(m, n)
            vid = ""
            try:
                vid = self.task_id(m, n)
            except OSError:
                pass
            if vid:
                self.assertNotIn(vid, ids, "tasks %s and %s share id %s" % (ids.get(vid), n, vid))
                ids[vid] = n
                self.assertEqual(sim.job(vid)["prompt"], prompt_text(n),
                                 "task %s carries the id of another prompt" % n)
            if line == "completed":
                completed.append((n, vid))
            elif line.startswith(harness.OUTCOME_UNKNOWN):
                outcome_unknown.append(n)
            else:
                self.assertTrue(line.startswith("failed: ") and len(line) > len("failed: ") + 3,
                                "task %s is stuck or unclear: %r" % (n, line))
                other_failed.append((n, line))

        # 3. Outcome unknown only where a create could have been on the wire
        # at a kill.
        self.assertEqual(sorted(set(outcome_unknown) - before_last_kill), [],
                         "outcome unknown for prompts written after the last kill")
        for name in finals:
            self.assertEqual(self.status(m, name), "completed")

        # 4. Every completed video is the API's, byte for byte.
        for n, vid in completed:
            self.assertTrue(vid, "completed task %s has no id" % n)
            path = m.path(n, "video.mp4")
            self.assertTrue(os.path.exists(path), "completed task %s has no video.mp4" % n)
            got = sha256_file(path)
            ref = hashlib.sha256(sim.content(vid)).hexdigest()
            self.assertEqual(got, ref, "video of %s differs from the API's" % n)

        # 5. A final clean start, then the state dir holds no torn files.
        self.assertEqual(m.unmount(), 0)
        m.start()
        self.assertEqual(m.unmount(), 0)
        self._assert_state_dir_clean(m.state_dir)

        harness.log("torture: seed %d, %d rounds %r in %.0fs: %d prompts written, %d "
                    "accepted, %d tasks, %d completed, %d outcome unknown, %d other "
                    "failures %r, %d creates, %d create requests, 0 lost"
                    % (seed, ROUNDS, kinds, time.monotonic() - started, len(attempted) + 3,
                       len(closed_ok), len(names), len(completed), len(outcome_unknown),
                       len(other_failed), other_failed[:5], stats["creates"],
                       stats["create_requests"]))

    def _wait_for_phase(self, m, kind, timeout):
        """Until some task is being polled (queued/in_progress) or
        downloaded (completed without its whole video yet); bounded, and
        giving up quietly: the kill then lands somewhere else."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                for n in os.listdir(m.mnt):
                    if n == "new":
                        continue
                    line = self.status(m, n)
                    st = harness.state_of(line)
                    if kind == "poll" and st in ("queued", "in_progress"):
                        return
                    if kind == "download" and st == "completed" and \
                            not os.path.exists(os.path.join(m.state_dir, "tasks", n,
                                                            "video.mp4")):
                        return
            except OSError:
                pass
            time.sleep(0.05)

    def _assert_state_dir_clean(self, state_dir):
        tasks = os.path.join(state_dir, "tasks")
        for n in os.listdir(tasks):
            self.assertFalse(n.startswith((".new-", ".trash-")),
                             "leftover %s in %s" % (n, tasks))
            rec = os.path.join(tasks, n, "record.json")
            if os.path.isdir(os.path.join(tasks, n)):
                with open(rec, "rb") as f:
                    try:
                        json.loads(f.read())
                    except ValueError as e:
                        self.fail("%s is torn: %s" % (rec, e))
        for dirpath, dirnames, filenames in os.walk(state_dir):
            for n in dirnames + filenames:
                self.assertFalse(n.startswith(".veofs-tmp-"),
                                 "leftover temporary %s" % os.path.join(dirpath, n))


class EndingTest(harness.VeofsTestCase):
    sim_duration = 1

    def test_sigterm_unmounts_cleanly(self):
        """SIGTERM: the mount goes away and veofs exits 0."""
        sim, m = self.sim_and_mount()
        self.submit(m, "job", "a quiet harbour")
        os.kill(m.proc.pid, signal.SIGTERM)
        m.proc.wait(timeout=bound(30))
        self.assertEqual(m.proc.returncode, 0)
        self.assertFalse(harness.is_mounted(m.mnt), "SIGTERM left the mount behind")
        m.start()
        self.assertIn("job", os.listdir(m.mnt))

    def test_fusermount_unmounts_cleanly(self):
        """fusermount3 -u: the mount goes away and veofs exits 0."""
        sim, m = self.sim_and_mount()
        self.submit(m, "job", "a quiet harbour")
        r = subprocess.run(["fusermount3", "-u", m.mnt], capture_output=True,
                           timeout=bound(30))
        self.assertEqual(r.returncode, 0, r.stderr)
        m.proc.wait(timeout=bound(30))
        self.assertEqual(m.proc.returncode, 0)
        self.assertFalse(harness.is_mounted(m.mnt))

    def test_auto_unmount_after_kill9(self):
        """-o auto_unmount: a SIGKILLed daemon leaves no stale mount; the
        mount point is usable again within a few seconds."""
        sim = self.start_sim()
        m = self.new_mount(sim, extra_args=["-o", "auto_unmount"])
        m.start()
        self.submit(m, "job", "a quiet harbour")
        m.send_signal(signal.SIGKILL)
        m.proc.wait(timeout=bound(20))
        wait_until(lambda: not harness.is_mounted(m.mnt), 5,
                   "the mount to go away after kill -9 with auto_unmount")
        self.assertEqual(os.listdir(m.mnt), [])
        m.start()
        self.assertIn("job", os.listdir(m.mnt))


class FullDiskTest(harness.VeofsTestCase):
    sim_duration = 1

    def setUp(self):
        super().setUp()
        self.small_state = os.path.join(self.tmp, "small-state")
        os.makedirs(self.small_state)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", self.small_state],
                           capture_output=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs: %s" % r.stderr.decode(errors="replace"))
        self.addCleanup(self._umount_tmpfs)

    def _umount_tmpfs(self):
        subprocess.run(["umount", "-l", self.small_state], capture_output=True)

    def test_out_of_inodes_at_close_says_enospc(self):
        """Room for the prompt file but not for its task (the state dir's
        file system has one inode left): close() fails with ENOSPC, as
        new/NAME.error says, never EIO; once there is room the same text
        is accepted."""
        sim = self.start_sim()
        m = self.new_mount(sim, state_dir=self.small_state)
        m.start()
        self.submit(m, "warm", "one task so every directory exists")
        self.wait_submitted(m, "warm")
        st = os.statvfs(self.small_state)
        used = st.f_files - st.f_ffree
        r = subprocess.run(["mount", "-o", "remount,nr_inodes=%d" % (used + 1), self.small_state],
                           capture_output=True)
        if r.returncode != 0:
            self.skipTest("cannot limit the tmpfs's inodes: %s" % r.stderr.decode())
        path = m.path("new", "starved.prompt")
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        os.write(fd, b"a prompt with nowhere to go\n")
        with self.assertRaises(OSError) as cm:
            os.close(fd)
        self.assertEqual(cm.exception.errno, errno.ENOSPC,
                         "close() said %s" % cm.exception)
        self.assertFalse(os.path.exists(m.path("starved")))
        self.assertEqual(read_text(path), "a prompt with nowhere to go\n",
                         "the refused prompt's text is gone")
        subprocess.run(["mount", "-o", "remount,nr_inodes=10000", self.small_state],
                       capture_output=True, check=True)
        os.rename(path, path + "~")
        os.rename(path + "~", path)
        self.wait_submitted(m, "starved")

    def test_full_disk(self):
        """A state dir on a full disk: the task says why (space), prompts
        written then fail with ENOSPC (never EIO) leaving no half task,
        nothing already there is corrupted, and all recovers once there is
        room."""
        sim = self.start_sim(video_bytes=5000000)
        m = self.new_mount(sim, state_dir=self.small_state)
        m.start()
        self.submit(m, "first", "a heavy video for a small disk")
        self.wait_completed(m, "first", timeout=60)
        vid = self.task_id(m, "first")

        def says_space():
            text = self.status(m, "first")
            try:
                text += " " + read_text(m.path("first", "error"))
            except OSError:
                pass
            return text if any(w in text for w in SPACE_WORDS) else None
        line = wait_until(says_space, 60, "task status to name the lack of space")
        harness.log("full disk: first reads %r" % line)
        prompt_before = harness.read_bytes(m.path("first", "prompt"))

        # Fill whatever is left.
        filler = os.path.join(self.small_state, "filler")
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError as e:
                self.assertEqual(e.errno, errno.ENOSPC)
        try:
            os.close(os.open(filler, os.O_RDONLY))
        except OSError:
            pass

        for i in range(3):
            name = "later%d" % i
            with self.subTest(prompt=name):
                try:
                    write_file(m.path("new", name + ".prompt"), "a prompt on a full disk\n")
                except OSError as e:
                    self.assertEqual(e.errno, errno.ENOSPC,
                                     "close() on a full disk failed with %s" % e)
                    err = m.path("new", name + ".error")
                    if os.path.exists(err):
                        self.assertIn("space", read_text(err))
                else:
                    self.fail("a prompt was accepted on a full disk")
                self.assertFalse(os.path.exists(m.path(name)),
                                 "a half task %s was left" % name)
                self.assertFalse(os.path.exists(os.path.join(self.small_state, "tasks", name)))
        for n in os.listdir(os.path.join(self.small_state, "tasks")):
            self.assertFalse(n.startswith(".new-"), "leftover %s" % n)

        # Nothing already there is corrupted.
        self.assertEqual(harness.read_bytes(m.path("first", "prompt")), prompt_before)
        with open(os.path.join(self.small_state, "tasks", "first", "record.json"), "rb") as f:
            json.loads(f.read())
        self.assertIn(harness.state_of(self.status(m, "first")), ("completed",))

        # Room again: the video arrives and new prompts work.
        os.unlink(filler)
        r = subprocess.run(["mount", "-o", "remount,size=64m", self.small_state], capture_output=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.submit(m, "after", "a prompt once there is room")
        video = wait_until(lambda: self.status(m, "first") == "completed" and
                           os.path.exists(m.path("first", "video.mp4")) and
                           m.path("first", "video.mp4"), 120,
                           "the video to arrive once there is room")
        self.assertTrue(harness.read_bytes(video) == sim.content(vid),
                        "video differs from the API's after the disk filled up")
        self.wait_video(m, "after", timeout=120)
        self.assertEqual(m.unmount(), 0)


if __name__ == "__main__":
    harness.main()
