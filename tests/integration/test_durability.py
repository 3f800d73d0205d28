#!/usr/bin/env python3
"""Tasks survive kill -9 and restarts; nothing is sent or downloaded twice
(contract section 3, "Accepted locally means durable")."""

import os
import time

import harness
from harness import bound, read_bytes, read_text, wait_until, write_file

TASK_FILES = ("prompt", "status", "progress", "id", "events", "task.json", "video.mp4")
# Always there besides those (ctl is write-only), or there when the
# provider serves one (the simulator does, just after the video).
CONTROL_FILES = {"ctl", "thumbnail.webp"}


def listed_files(path):
    return sorted(set(os.listdir(path)) - CONTROL_FILES)



class CrashTest(harness.VeofsTestCase):
    sim_duration = 8

    def test_kill_during_generation_resumes(self):
        sim, m = self.sim_and_mount()
        self.submit(m, "job", "a slow sunrise over the sea")
        self.wait_state(m, "job", "in_progress", timeout=60)
        video_id = self.task_id(m, "job")
        events_before = read_text(m.path("job", "events"))

        m.restart_after_crash()
        self.assertIn("job", os.listdir(m.mnt))
        line = self.status(m, "job")
        self.assertRegex(line, harness.STATUS_LINE)
        self.assertIn(harness.state_of(line), ("queued", "in_progress", "completed"),
                      "after the restart the task reads %r" % line)
        self.assertEqual(self.task_id(m, "job"), video_id)
        self.assertEqual(read_text(m.path("job", "prompt")).rstrip("\n"),
                         "a slow sunrise over the sea")
        self.assertTrue(read_text(m.path("job", "events")).startswith(events_before),
                        "events lost lines across the crash")

        video = self.wait_video(m, "job", timeout=90)
        self.assertTrue(read_bytes(video) == sim.content(video_id),
                        "video differs from the simulator's bytes")
        self.assertEqual(harness.ffprobe(video).returncode, 0)
        self.assertEqual(sim.stats()["creates"], 1)

    def test_kill_while_create_is_in_flight(self):
        """A crash while the create is on the wire: the provider may have the
        task, so veofs must not send it again; it shows the task as
        'failed: submission outcome unknown' and leaves the choice to the
        user (contract section 3)."""
        sim, m = self.sim_and_mount(duration=2)
        sim.add_fault("create=stall")
        write_file(m.path("new", "inflight.prompt"), "a kite stuck in a tree\n")
        self.assertTrue(os.path.isdir(m.path("inflight")))
        wait_until(lambda: sim.stats()["stalled"] >= 1, 30,
                   "the create request to stall in the simulator")

        m.kill9()
        # Let the stalled create through: the provider now has the task,
        # which is exactly why veofs may not send it again.
        sim.clear_faults()
        wait_until(lambda: sim.stats()["creates"] >= 1, 30,
                   "the stalled create to be answered")
        m.start()
        self.assertIn("inflight", os.listdir(m.mnt))
        line = self.status(m, "inflight")
        self.assertRegex(line, harness.STATUS_LINE)
        self.assertTrue(line.startswith(harness.OUTCOME_UNKNOWN),
                        "after the restart the task reads %r" % line)
        self.assertIn("error", os.listdir(m.path("inflight")))
        # Give a misbehaving daemon a few poll intervals to send it again.
        time.sleep(bound(3))
        self.assertTrue(self.status(m, "inflight").startswith(harness.OUTCOME_UNKNOWN),
                        "the task moved on from 'outcome unknown': %r"
                        % self.status(m, "inflight"))
        stats = sim.stats()
        self.assertEqual(stats["create_requests"], 1, "the prompt was sent twice")
        self.assertEqual(stats["creates"], 1)

    def test_kill_right_after_close_keeps_the_task(self):
        """The network is down (create stalls): close() succeeds anyway and
        the task survives an immediate kill -9."""
        sim, m = self.sim_and_mount(duration=2)
        sim.add_fault("create=stall")
        write_file(m.path("new", "durable.prompt"), "a lantern on a windowsill\n")
        m.kill9()
        m.start()
        self.assertIn("durable", os.listdir(m.mnt))
        self.assertEqual(read_text(m.path("durable", "prompt")).rstrip("\n"),
                         "a lantern on a windowsill")
        sim.clear_faults()
        settled = wait_until(
            lambda: (lambda s: s if harness.state_of(s) in ("completed", "failed") else None)(
                self.status(m, "durable")), 90, "the task to settle")
        if harness.state_of(settled) == "failed":
            self.assertTrue(settled.startswith(harness.OUTCOME_UNKNOWN), settled)
        self.assertLessEqual(sim.stats()["creates"], 1)


class RestartTest(harness.VeofsTestCase):
    sim_duration = 2

    def test_clean_restart_keeps_everything(self):
        sim, m = self.sim_and_mount()
        self.submit(m, "job", "a paper plane over a city")
        video = self.wait_saved(m, "job")
        got = read_bytes(video)
        before = {f: read_bytes(m.path("job", f)) for f in TASK_FILES}
        stats = wait_until(lambda: (lambda s: s if s["downloads"] >= 1 else None)(sim.stats()),
                           30, "the download to be counted")

        rc = m.unmount()
        self.assertEqual(rc, 0, "veofs exited with %r after a clean unmount" % rc)
        m.start()
        self.assertEqual(sorted(os.listdir(m.mnt)), ["job", "new"])
        self.assertEqual(listed_files(m.path("job")), sorted(TASK_FILES))
        for f in TASK_FILES:
            self.assertTrue(read_bytes(m.path("job", f)) == before[f], "%s changed" % f)
        self.assertEqual(self.status(m, "job"), "completed")
        self.assertEqual(harness.ffprobe(m.path("job", "video.mp4")).returncode, 0)
        # Give a misbehaving daemon a few poll intervals to send or fetch again.
        time.sleep(bound(3))
        after = sim.stats()
        self.assertEqual(after["creates"], stats["creates"])
        self.assertEqual(after["creates"], 1)
        self.assertEqual(after["downloads"], stats["downloads"],
                         "the video was downloaded again after the restart")
        self.assertTrue(got == sim.content(self.task_id(m, "job")))


if __name__ == "__main__":
    harness.main()
