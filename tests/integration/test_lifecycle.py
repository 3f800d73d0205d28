#!/usr/bin/env python3
"""A prompt becomes a task, the task goes through its states, and the
finished video is the simulator's bytes (contract section 3)."""

import json
import os
import re
import queue
import subprocess
import threading
import time

import harness
from harness import STATES, STATUS_LINE, bound, parse_event, read_bytes, read_text, wait_until


class LifecycleTest(harness.VeofsTestCase):
    sim_duration = 5

    def test_prompt_to_video(self):
        sim, m = self.sim_and_mount()
        self.sh('echo "cat piano" > "%s"' % m.path("new", "job.prompt"))

        # close() returned: the task exists at once, the prompt left new/.
        self.assertTrue(os.path.isdir(m.path("job")), "job/ missing right after close()")
        first = self.status(m, "job")
        self.assertRegex(first, STATUS_LINE)
        self.assertNotIn("job.prompt", os.listdir(m.path("new")))

        statuses, progresses, events_seen = [first], [], []
        previous_events = ""
        deadline = time.monotonic() + bound(90)
        while True:
            line = self.status(m, "job")
            self.assertRegex(line, STATUS_LINE, "bad status line")
            if line != statuses[-1]:
                statuses.append(line)
            progress = read_text(m.path("job", "progress")).strip()
            self.assertRegex(progress, r"^\d{1,3}$", "progress is not a number")
            self.assertLessEqual(int(progress), 100)
            progresses.append(int(progress))
            events = read_text(m.path("job", "events"))
            self.assertTrue(events.startswith(previous_events),
                            "events shrank or changed:\nbefore %r\nafter %r"
                            % (previous_events, events))
            previous_events = events
            if harness.state_of(line) == "completed":
                break
            self.assertNotEqual(harness.state_of(line), "failed",
                                "task failed: %s" % line)
            self.assertLess(time.monotonic(), deadline,
                            "task never completed; statuses seen: %s" % statuses)
            time.sleep(0.05)

        states_seen = [harness.state_of(s) for s in statuses]
        order = [STATES.index(s) for s in states_seen]
        self.assertEqual(order, sorted(order), "states went backwards: %s" % statuses)
        self.assertTrue(any(re.match(r"^in_progress \d{1,3}%$", s) for s in statuses),
                        "never saw 'in_progress NN%%' over a %ds job: %s"
                        % (self.sim_duration, statuses))
        self.assertEqual(progresses, sorted(progresses), "progress went backwards")
        self.assertEqual(read_text(m.path("job", "progress")).strip(), "100")

        # Identity: the id is the simulator's, task.json is its last answer.
        video_id = self.task_id(m, "job")
        self.assertTrue(video_id)
        job = sim.job(video_id)
        self.assertEqual(job.get("prompt"), "cat piano",
                         "the API should get the prompt with the newline trimmed")
        prompt = read_text(m.path("job", "prompt"))
        self.assertEqual(prompt.rstrip("\n"), "cat piano")
        self.assertLessEqual(len(prompt) - len(prompt.rstrip("\n")), 1)
        task = json.loads(read_text(m.path("job", "task.json")))
        self.assertEqual(task.get("id"), video_id)

        # events: one line per change, time, state, progress; ends completed.
        lines = [ln for ln in read_text(m.path("job", "events")).split("\n") if ln]
        self.assertGreaterEqual(len(lines), 2, "events: %r" % lines)
        parsed = [parse_event(ln) for ln in lines]
        times = [p[0] for p in parsed]
        self.assertEqual(parsed[-1][1], "completed")
        self.assertEqual(parsed[-1][2], 100)
        ev_order = [STATES.index(p[1]) for p in parsed]
        self.assertEqual(ev_order, sorted(ev_order), "events states went backwards: %r" % lines)
        aware = [t for t in times if t.tzinfo is not None]
        if len(aware) == len(times):
            self.assertEqual(times, sorted(times), "event times go backwards")
        for a, b in zip(lines, lines[1:]):
            self.assertNotEqual(a.split(None, 1)[1:], b.split(None, 1)[1:],
                                "events repeats a line without a change: %r" % b)

        # The video: appears, is a real MP4, the simulator's bytes.
        video = wait_until(lambda: os.path.exists(m.path("job", "video.mp4"))
                           and m.path("job", "video.mp4"), 30, "video.mp4")
        probe = harness.ffprobe(video)
        self.assertEqual(probe.returncode, 0, "ffprobe: %s" % probe.stderr.decode(errors="replace"))
        self.assertEqual(probe.stderr.strip(), b"", "ffprobe complained")
        got = read_bytes(video)
        ref = sim.content(video_id)
        self.assertEqual(len(got), len(ref))
        self.assertTrue(got == ref, "video.mp4 differs from the simulator's bytes")
        self.assertEqual(os.stat(video).st_size, len(ref))
        size = self.run_tool(["stat", "-c", "%s", video]).stdout.decode().strip()
        self.assertEqual(int(size), len(ref))
        ls = self.run_tool(["ls", "-l", m.path("job")]).stdout.decode()
        self.assertRegex(ls, r"\b%d\b.*video\.mp4" % len(ref))

        self.assertEqual(sim.stats()["creates"], 1)

    def test_tail_follows_events(self):
        sim, m = self.sim_and_mount(duration=4)
        self.sh('echo "a lighthouse at night" > "%s"' % m.path("new", "tail.prompt"))
        tail = subprocess.Popen(["tail", "-f", m.path("tail", "events")],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        lines = queue.Queue()

        def reader():
            for raw in tail.stdout:
                lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
            lines.put(None)
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        seen = []
        try:
            deadline = time.monotonic() + bound(90)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.fail("tail -f never showed the completed line; it showed %r "
                              "(status now %r)" % (seen, self.status(m, "tail")))
                try:
                    line = lines.get(timeout=min(remaining, 1))
                except queue.Empty:
                    continue
                if line is None:
                    tail.wait(timeout=10)
                    self.fail("tail -f exited: %r" % tail.stderr.read().decode(errors="replace"))
                seen.append(line)
                if parse_event(line)[1] == "completed":
                    break
        finally:
            tail.terminate()
            try:
                tail.wait(timeout=10)
            except subprocess.TimeoutExpired:
                tail.kill()
                tail.wait()
        self.assertGreaterEqual(len(seen), 2, "tail -f showed only %r" % seen)
        # What tail showed is exactly the file's lines, in order.
        file_lines = [ln for ln in read_text(m.path("tail", "events")).split("\n") if ln]
        self.assertEqual(seen, file_lines[:len(seen)])


if __name__ == "__main__":
    harness.main()
