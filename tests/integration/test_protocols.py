#!/usr/bin/env python3
"""Every protocol (api.protocol, contract sections 1 and 2) gives the same
tree: a prompt becomes a task, the task ends completed with the provider's
bytes or failed with its reason, and the key never leaves the API's
origin. Each runs against the simulator speaking that protocol."""

import errno
import json
import os

import harness
from harness import http, read_bytes, read_text, wait_until, write_file

GEMINI_KEY = "gemini-test-key-0123456789"
OPENROUTER_KEY = "sk-or-v1-test-key-0123456789"


class ProtocolSim(harness.Sim):
    """harness.Sim speaking another protocol (veofs-sim --protocol)."""

    def __init__(self, logdir, protocol, **kw):
        super().__init__(logdir, **kw)
        self.protocol = protocol
        self.args += ["--protocol", protocol]

    @property
    def api(self):
        return self.root + ("/v1beta" if self.protocol == "gemini" else "/v1")

    def reference(self, job_id):
        """The job's video as the simulator serves it to anyone."""
        status, _, body = http("GET", "%s/_sim/files/%s.mp4" % (self.root, job_id),
                               timeout=120)
        if status != 200:
            raise AssertionError("GET /_sim/files/%s.mp4 answered %d" % (job_id, status))
        return body


class ProtocolCase(harness.VeofsTestCase):
    sim_duration = 2
    protocol = None
    key_var = None
    key = None

    def setUp(self):
        super().setUp()
        self.env[self.key_var] = self.key

    def start_protocol_sim(self, faults=()):
        sim = ProtocolSim(self._logdir, self.protocol, duration=self.sim_duration,
                          faults=faults)
        self.addCleanup(sim.stop)
        return sim.start()

    def protocol_mount(self, sim, **kw):
        return self.mount(sim, options={"protocol": self.protocol}, **kw)

    def error_text(self, m, name):
        return read_text(m.path(name, "error"))

    def wait_failed(self, m, name):
        self.wait_state(m, name, "failed", timeout=60)
        return self.error_text(m, name)


class GeminiTest(ProtocolCase):
    protocol = "gemini"
    key_var = "GEMINI_API_KEY"
    key = GEMINI_KEY

    @staticmethod
    def job_of(task_id):
        return task_id.rsplit("/", 1)[-1]

    def test_prompt_to_video_by_operation(self):
        sim = self.start_protocol_sim()
        m = self.protocol_mount(sim)
        self.submit(m, "cat", "---\nsize: 9x16\nseconds: 4\n---\na cat at the piano")
        video = self.wait_video(m, "cat")
        task_id = self.task_id(m, "cat")
        # veo-3.1 is the Gemini API's veo-3.1-generate-preview; the
        # operation's name is the task's id.
        self.assertTrue(task_id.startswith(
            "models/veo-3.1-generate-preview/operations/"), task_id)
        job = sim.job(self.job_of(task_id))
        self.assertEqual(job["prompt"], "a cat at the piano")
        self.assertEqual(job["seconds"], "4")
        self.assertEqual(job["size"], "720x1280")
        self.assertTrue(job["authorization_present"], "x-goog-api-key was not sent")
        self.assertEqual(read_bytes(video), sim.reference(self.job_of(task_id)))
        # The download went through the storage redirect, without the key.
        stats = sim.stats()
        self.assertGreaterEqual(stats.get("signed_requests", 0), 1, stats)
        self.assertEqual(stats.get("signed_refused", 0), 0,
                         "the key was sent to the storage host: %s" % stats)
        self.assertNotIn(GEMINI_KEY, m.log_text())
        task = json.loads(read_text(m.path("cat", "task.json")))
        self.assertEqual(task.get("status"), "completed")

    def test_resolution_and_negative_prompt_are_sent(self):
        sim = self.start_protocol_sim()
        m = self.protocol_mount(sim)
        self.submit(m, "sharp", "---\nresolution: 1080P\nnegative_prompt: blurry\n"
                    "size: 1280x720\n---\na sharp cat")
        video = self.wait_video(m, "sharp")
        job = sim.job(self.job_of(self.task_id(m, "sharp")))
        self.assertEqual(job["resolution"], "1080p")
        self.assertEqual(job["negative_prompt"], "blurry")
        self.assertEqual(job["prompt"], "a sharp cat")
        self.assertGreater(os.path.getsize(video), 1000)
        # The prompt file shows the text as sent, front matter gone, as
        # with every key.
        self.assertEqual(read_text(m.path("sharp", "prompt")).strip(), "a sharp cat")

        # A size alone names no resolution to the Gemini API.
        self.submit(m, "plain", "---\nsize: 1280x720\n---\na plain cat")
        self.wait_submitted(m, "plain")
        job = sim.job(self.job_of(self.task_id(m, "plain")))
        self.assertIsNone(job["resolution"])
        self.assertIsNone(job["negative_prompt"])

    def test_unknown_resolution_is_refused_before_sending(self):
        sim = self.start_protocol_sim()
        m = self.protocol_mount(sim)
        path = m.path("new", "huge.prompt")
        text = "---\nresolution: 4k\n---\na huge cat\n"
        self.assertErrno(errno.EINVAL, write_file, path, text)
        self.assertEqual(read_text(path), text, "the refused text must stay as written")
        self.assertEqual(read_text(m.path("new", "huge.error")).strip(),
                         "resolution must be 720p or 1080p, not '4k'")
        self.assertFalse(os.path.exists(m.path("huge")), "a refused prompt made a task")
        self.assertEqual(sim.stats().get("create_requests", 0), 0)

        # Fixed and saved again, it is sent and the reason goes.
        write_file(path, "---\nresolution: 720p\n---\na huge cat\n")
        self.assertTrue(os.path.isdir(m.path("huge")))
        self.assertFalse(os.path.exists(m.path("new", "huge.error")))
        self.wait_submitted(m, "huge")
        self.assertEqual(sim.job(self.job_of(self.task_id(m, "huge")))["resolution"], "720p")

    def test_no_progress_is_invented(self):
        # A Veo operation has no progress figure: the status says how long
        # it has run and the progress file stays empty, never a made-up 0.
        self.sim_duration = 8
        sim = self.start_protocol_sim()
        m = self.protocol_mount(sim)
        self.submit(m, "slow", "a slow cat")

        def running():
            line = read_text(m.path("slow", "status")).strip()
            return line if line.startswith("in_progress") else None
        status = wait_until(running, 30, "the operation to run")
        self.assertRegex(status, r"^in_progress \(running \d+s\)$")
        self.assertEqual(read_text(m.path("slow", "progress")), "")
        self.assertEqual(os.path.getsize(m.path("slow", "progress")), 0)
        self.wait_video(m, "slow")
        self.assertEqual(read_text(m.path("slow", "progress")).strip(), "100")

    def test_operation_error_fails_the_task(self):
        sim = self.start_protocol_sim(faults=["create=fail-error-objectx1"])
        m = self.protocol_mount(sim)
        self.submit(m, "bad", "a cat")
        err = self.wait_failed(m, "bad")
        self.assertIn("internal error", err)
        self.assertEqual(sim.stats()["creates"], 1, "a failed task was sent again")

    def test_safety_filtered_samples_fail_with_the_reasons(self):
        sim = self.start_protocol_sim(faults=["create=fail-no-errorx1"])
        m = self.protocol_mount(sim)
        self.submit(m, "rai", "a cat")
        err = self.wait_failed(m, "rai")
        self.assertIn("safety", err)
        self.assertIn("person generation", err)

    def test_inline_video_is_saved(self):
        sim = self.start_protocol_sim(faults=["create=inline-videox1"])
        m = self.protocol_mount(sim)
        self.submit(m, "inline", "a cat")
        video = self.wait_video(m, "inline")
        job_id = self.job_of(self.task_id(m, "inline"))
        self.assertEqual(read_bytes(video), sim.reference(job_id))
        self.assertEqual(sim.stats().get("signed_requests", 0), 0)

    def test_simulate_speaks_the_protocol(self):
        m = self.mount(None, simulate=True,
                       options={"protocol": "gemini", "duration": "1"})
        self.submit(m, "sim", "a cat")
        video = self.wait_video(m, "sim")
        self.assertTrue(self.task_id(m, "sim").startswith("models/"))
        self.assertGreater(os.path.getsize(video), 1000)


class OpenRouterTest(ProtocolCase):
    protocol = "openrouter"
    key_var = "OPENROUTER_API_KEY"
    key = OPENROUTER_KEY

    def test_prompt_to_video(self):
        sim = self.start_protocol_sim()
        m = self.protocol_mount(sim)
        self.submit(m, "cat", "---\nmodel: veo-3.1-fast\nsize: 16x9\n---\na cat")
        video = self.wait_video(m, "cat")
        job_id = self.task_id(m, "cat")
        job = sim.job(job_id)
        self.assertEqual(job["model"], "google/veo-3.1-fast")
        self.assertEqual(job["seconds"], "8")
        self.assertTrue(job["authorization_present"])
        self.assertEqual(read_bytes(video), sim.reference(job_id))
        self.assertNotIn(OPENROUTER_KEY, m.log_text())

    def test_failed_job_shows_the_error_string(self):
        sim = self.start_protocol_sim(faults=["create=fail-error-stringx1"])
        m = self.protocol_mount(sim)
        self.submit(m, "bad", "a cat")
        err = self.wait_failed(m, "bad")
        self.assertIn("rejected the prompt", err)
        self.assertEqual(sim.stats()["creates"], 1)

    def test_expired_job_fails(self):
        sim = self.start_protocol_sim(faults=["create=expiredx1"])
        m = self.protocol_mount(sim)
        self.submit(m, "old", "a cat")
        err = self.wait_failed(m, "old")
        self.assertIn("expired", err.lower())
        self.assertFalse(os.path.exists(m.path("old", "video.mp4")))

    def test_simulate_speaks_the_protocol(self):
        m = self.mount(None, simulate=True,
                       options={"protocol": "openrouter", "duration": "1"})
        self.submit(m, "sim", "a cat")
        video = self.wait_video(m, "sim")
        self.assertGreater(os.path.getsize(video), 1000)


if __name__ == "__main__":
    harness.main()
