#!/usr/bin/env python3
"""The chat protocol (api.protocol = chat): one streamed Chat Completions
reply per video, its progress and link read out of free text. The most
dangerous way to pay: a reply cut after its headers is never sent again.
Each case runs against veofs-sim --protocol chat in one router's style
(src/sim/sim_chat.c cites where each style's text comes from); the
video's link points at a second listener that refuses the key, as a
router's storage host would."""

import json
import os
import re
import time

import harness
from harness import http, read_bytes, read_text, wait_until

KEY = "sk-chat-test-key-0123456789"
OUTCOME = ("submission outcome unknown (stream dropped; this route bills even "
           "failed generations)")
STYLES = ("flow2api", "sora2api", "markdown", "tasklink", "json")
# The styles whose text carries a figure (tasklink's has dots only).
ESTIMATED_STYLES = ("flow2api", "sora2api", "markdown")


class ChatSim(harness.Sim):
    """harness.Sim speaking the chat protocol in one router's style."""

    def __init__(self, logdir, style, silence=None, tag=None, **kw):
        super().__init__(logdir, **kw)
        # A log of its own: the address is read from the first line of it.
        if tag:
            self.logpath = os.path.join(logdir, "veofs-sim-%s.log" % tag)
        self.args += ["--protocol", "chat", "--chat-style", style]
        if silence is not None:
            self.args += ["--chat-silence", str(silence)]

    def reference(self, job_id):
        status, _, body = http("GET", "%s/_sim/files/%s.mp4" % (self.root, job_id),
                               timeout=120)
        if status != 200:
            raise AssertionError("GET /_sim/files/%s.mp4 answered %d" % (job_id, status))
        return body


class ChatTest(harness.VeofsTestCase):
    sim_duration = 3

    def setUp(self):
        super().setUp()
        self.env["VEOFS_API_KEY"] = KEY

    def chat_sim(self, style="flow2api", faults=(), duration=None, tag=None, **kw):
        sim = ChatSim(self._logdir, style, faults=faults, tag=tag,
                      duration=self.sim_duration if duration is None else duration, **kw)
        self.addCleanup(sim.stop)
        return sim.start()

    def chat_mount(self, sim, name="veofs", **options):
        opts = {"protocol": "chat"}
        opts.update(options)
        return self.mount(sim, name=name, options=opts)

    @staticmethod
    def job_of(m, name):
        """The simulator's job id, from the link the reply gave."""
        answer = read_text(m.path(name, "task.json"))
        found = re.search(r"/signed/([^/?\"]+)\.mp4", answer)
        if not found:
            raise AssertionError("no video link in task.json: %s" % answer)
        return found.group(1)

    def wait_failed(self, m, name, timeout=60):
        self.wait_state(m, name, "failed", timeout=timeout)
        return self.status(m, name), read_text(m.path(name, "error"))

    def assert_sent_once(self, sim, settle=2.0):
        """Exactly one request, now and after veofs had time to resend."""
        time.sleep(settle)
        stats = sim.stats()
        self.assertEqual(stats["create_requests"], 1, "the reply was sent again: %s" % stats)
        return stats

    def test_each_style_to_the_providers_bytes(self):
        for style in STYLES:
            with self.subTest(style=style):
                sim = self.chat_sim(style, tag=style, duration=4)
                m = self.chat_mount(sim, name=style)
                self.submit(m, "cat", "---\nmodel: veo-3.1-landscape-fast\n---\n"
                            "a cat at the piano")
                if style in ESTIMATED_STYLES:
                    self.check_estimated_progress(m, "cat")
                video = self.wait_video(m, "cat")
                job = self.job_of(m, "cat")
                self.assertEqual(read_bytes(video), sim.reference(job))
                self.assertEqual(sim.job(job)["prompt"], "a cat at the piano")
                stats = sim.stats()
                self.assertEqual(stats["create_requests"], 1, stats)
                # The link is on another origin: fetched without the key.
                self.assertGreaterEqual(stats.get("signed_requests", 0), 1, stats)
                self.assertEqual(stats.get("signed_refused", 0), 0,
                                 "the key went to the storage host: %s" % stats)
                self.assertNotIn(KEY, m.log_text())
                for line in read_text(m.path("cat", "events")).splitlines():
                    self.assertRegex(line, harness.EVENT_LINE)
                self.assertRegex(self.status(m, "cat"), harness.STATUS_LINE)
                m.unmount()

    def check_estimated_progress(self, m, name):
        """The figure is read from the reply's text, said to be estimated,
        never goes back, and the reply's words are in events."""
        seen = []

        def estimated():
            line = self.status(m, name)
            if line not in seen:
                seen.append(line)
            return re.match(r"^in_progress (\d+)% \(estimated\)$", line)
        first = int(wait_until(estimated, 30, "an estimated figure").group(1))
        self.assertGreater(first, 0)

        def said():
            events = read_text(m.path(name, "events"))
            return re.search(r"(?m)^\S+ in_progress \d+ .*(\d+\s*%|\.\.)", events)
        wait_until(said, 30, "the reply's text in events")
        self.wait_video(m, name)
        figures = [int(x) for line in seen for x in re.findall(r"^in_progress (\d+)%", line)]
        self.assertEqual(figures, sorted(figures), "progress went back: %s" % seen)

    def test_a_drop_after_the_headers_is_never_sent_again(self):
        for fault in ("drop-after-headers", "drop-mid-progress", "drop-before-link"):
            with self.subTest(fault=fault):
                sim = self.chat_sim(faults=["create=%sx1" % fault], tag=fault)
                m = self.chat_mount(sim, name=fault)
                self.submit(m, "cut", "a cat")
                status, error = self.wait_failed(m, "cut")
                self.assertEqual(status, "failed: " + OUTCOME)
                self.assertGreater(len(error.splitlines()), 1,
                                   "the error file does not say what cut it: %r" % error)
                stats = self.assert_sent_once(sim)
                self.assertEqual(stats["creates"], 1, stats)
                m.unmount()

    def test_a_drop_before_the_headers_is_sent_again(self):
        sim = self.chat_sim(faults=["create=reset-before-bodyx1"])
        m = self.chat_mount(sim)
        self.submit(m, "again", "a cat")
        self.wait_video(m, "again")
        stats = sim.stats()
        self.assertEqual(stats["create_requests"], 2, stats)
        self.assertEqual(stats["creates"], 1, stats)

    def test_an_error_event_after_200_fails_with_its_message(self):
        sim = self.chat_sim(faults=["create=stream-errorx1"])
        m = self.chat_mount(sim)
        self.submit(m, "bad", "a cat")
        status, error = self.wait_failed(m, "bad")
        # The event's own message (flow2api's error object), not a drop.
        self.assertIn("upstream connection reset (sim)", status)
        self.assertNotIn("outcome unknown", status)
        self.assert_sent_once(sim)

    def test_a_failed_generation_says_the_routers_words(self):
        for style in ("flow2api", "sora2api", "markdown"):
            with self.subTest(style=style):
                sim = self.chat_sim(style, faults=["create=fail-error-objectx1"], tag=style)
                m = self.chat_mount(sim, name=style)
                self.submit(m, "bad", "a cat")
                status, error = self.wait_failed(m, "bad")
                self.assertNotIn("stream dropped", status)
                self.assertTrue(error.strip())
                self.assert_sent_once(sim)
                m.unmount()

    def test_an_http_error_is_not_sent_again_until_the_user_retries(self):
        sim = self.chat_sim(faults=["create=500x1"])
        m = self.chat_mount(sim)
        self.submit(m, "refused", "a cat")
        self.wait_failed(m, "refused")
        self.assert_sent_once(sim)
        # ctl retry is the user's explicit choice to pay again.
        with open(m.path("refused", "ctl"), "w") as f:
            f.write("retry\n")
        self.wait_video(m, "refused")
        self.assertEqual(sim.stats()["create_requests"], 2)

    def test_a_tasklink_reply_is_followed_by_its_link_after_a_drop(self):
        sim = self.chat_sim("tasklink", faults=["create=drop-mid-progressx1"], duration=6)
        m = self.chat_mount(sim)
        self.submit(m, "linked", "a cat")
        video = self.wait_video(m, "linked", timeout=120)
        task_id = self.task_id(m, "linked")
        self.assertRegex(task_id, r"^http://127\.0\.0\.1:\d+/source/")
        job = self.job_of(m, "linked")
        self.assertEqual(read_bytes(video), sim.reference(job))
        stats = sim.stats()
        self.assertEqual(stats["create_requests"], 1, stats)
        self.assertGreaterEqual(stats["polls"], 1, stats)

    def test_silence_is_cut_at_the_limit(self):
        sim = self.chat_sim(faults=["create=silencex1"], silence=120, duration=4)
        m = self.chat_mount(sim, silence_limit="5")
        self.submit(m, "quiet", "a cat")
        status, error = self.wait_failed(m, "quiet", timeout=90)
        self.assertEqual(status, "failed: " + OUTCOME)
        self.assert_sent_once(sim, settle=1)

    def test_a_kill_during_the_reply_never_pays_twice(self):
        sim = self.chat_sim(duration=30)
        m = self.chat_mount(sim)
        self.submit(m, "killed", "a cat")
        wait_until(lambda: sim.stats().get("streams", 0) >= 1, 30, "the reply to start")
        m.kill9()
        m.start()
        line = self.status(m, "killed")
        self.assertTrue(line.startswith(harness.OUTCOME_UNKNOWN), line)
        self.assert_sent_once(sim)

    def test_a_kill_after_a_polling_link_resumes_by_polling(self):
        sim = self.chat_sim("tasklink", duration=8)
        m = self.chat_mount(sim)
        self.submit(m, "resumed", "a cat")
        # The link is on disk the moment it appears: the id file shows it
        # while the reply still runs.
        def linked():
            try:
                return read_text(m.path("resumed", "id")).startswith("http")
            except OSError:
                return False
        wait_until(linked, 30, "the polling link to be saved")
        self.assertEqual(sim.stats()["creates"], 1)
        self.assertNotEqual(self.state(m, "resumed"), "completed")
        m.kill9()
        m.start()
        video = self.wait_video(m, "resumed", timeout=120)
        self.assertEqual(read_bytes(video), sim.reference(self.job_of(m, "resumed")))
        self.assertEqual(sim.stats()["create_requests"], 1)

    def test_simulate_speaks_the_protocol(self):
        m = self.mount(None, simulate=True,
                       options={"protocol": "chat", "duration": "1"})
        self.submit(m, "sim", "a cat")
        video = self.wait_video(m, "sim")
        self.assertGreater(os.path.getsize(video), 1000)
        task = json.loads(read_text(m.path("sim", "task.json")))
        self.assertEqual(task.get("status"), "completed")


if __name__ == "__main__":
    harness.main()
