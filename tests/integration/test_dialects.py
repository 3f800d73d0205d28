#!/usr/bin/env python3
"""veofs against every dialect of /v1/videos the simulator speaks: the
gateways people actually use (new-api's channels and task envelope,
LiteLLM, a /content that redirects to a signed URL or answers a JSON link,
a link only in the status object) and OpenAI's own spec. For each: the
whole lifecycle on a real mount (create, progress, completion, a
byte-identical video), a failure with its reason, and a cancel that says
what really happened."""

import json
import os
import unittest
import urllib.parse

import harness
from harness import read_bytes, read_text, wait_until, write_file

# dialect -> does its gateway really cancel a job?
DIALECTS = {
    "openai": True,
    "newapi": False,          # new-api has no DELETE route
    "newapi-gemini": False,
    "taskdto": False,
    "litellm": False,         # DELETE is "not supported by Google Veo"
    "redirect": True,
    "json-url": True,
    "url-in-status": True,
}


class DialectBase(harness.VeofsTestCase):
    sim_duration = 3
    mount_options = {"interval": "1", "max_interval": "2", "timeout": "10",
                     "video_deadline": "10"}

    def lifecycle(self, dialect, name="veofs", **sim_kw):
        sim = self.start_sim(dialect=dialect, **sim_kw)
        m = self.mount(sim, name=name)
        self.submit(m, "job", "a fox in the snow, as %s serves it" % dialect)
        vid = self.wait_submitted(m, "job")
        self.assertEqual(read_text(m.path("job", "id")).rstrip("\n"), vid)
        self.wait_video(m, "job", timeout=60)
        video = [f for f in os.listdir(m.path("job")) if f.startswith("video.")]
        self.assertEqual(video, ["video.mp4"])
        self.assertEqual(read_bytes(m.path("job", "video.mp4")), reference(sim, vid),
                         "the video is not the provider's, byte for byte")
        self.assertEqual(self.status(m, "job"), "completed")
        self.assertEqual(read_text(m.path("job", "progress")).strip(), "100")
        events = read_text(m.path("job", "events"))
        self.assertIn("completed 100", events)
        return sim, m

    def failure(self, dialect):
        sim = self.start_sim(dialect=dialect, faults=["poll=fail-error-objectx1000"])
        m = self.mount(sim)
        self.submit(m, "bad", "a prompt the provider refuses")
        line = self.wait_state(m, "bad", "failed", timeout=60)
        self.assertTrue(line.startswith("failed: "), line)
        self.assertTrue(read_text(m.path("bad", "error")).strip())
        return sim, m, line

    def cancel(self, dialect, confirms):
        sim = self.start_sim(duration=60, dialect=dialect)
        m = self.mount(sim)
        self.submit(m, "stop", "a long take to be stopped")
        self.wait_submitted(m, "stop")
        write_file(m.path("stop", "ctl"), "cancel\n")
        if confirms:
            self.wait_state(m, "stop", "failed", timeout=30)
            self.assertEqual(self.status(m, "stop"), "failed: cancelled")
        else:
            line = wait_until(lambda: "cancel refused by the provider" in self.status(m, "stop")
                              and self.status(m, "stop"), 30,
                              "the refused cancel to show")
            self.assertNotEqual(harness.state_of(line), "failed", line)
            self.assertNotIn("the provider cancelled", m.log_text())
        # A server error is asked again, a few times at most.
        self.assertIn(sim.stats()["deletes"], (1, 2, 3))
        return sim, m


class DialectLifecycleTest(DialectBase):
    """One lifecycle, failure and cancel test per dialect (added below)."""


def reference(sim, vid):
    """The job's video as the simulator made it, whatever the dialect
    does to /content."""
    status, _, body = harness.http(
        "GET", "%s/_sim/files/%s.mp4" % (sim.root, urllib.parse.quote(vid, safe="")),
        timeout=120)
    if status != 200:
        raise AssertionError("GET /_sim/files of %s answered %d" % (vid, status))
    return body


def _add(dialect, confirms):
    safe = dialect.replace("-", "_")

    def test_lifecycle(self):
        self.lifecycle(dialect)

    def test_failure(self):
        self.failure(dialect)

    def test_cancel(self):
        self.cancel(dialect, confirms)

    test_lifecycle.__doc__ = "%s: create, progress, completion, the video byte for byte" % dialect
    test_failure.__doc__ = "%s: a failure shows with a reason" % dialect
    test_cancel.__doc__ = "%s: a cancel says what the provider really did" % dialect
    setattr(DialectLifecycleTest, "test_%s_lifecycle" % safe, test_lifecycle)
    setattr(DialectLifecycleTest, "test_%s_failure" % safe, test_failure)
    setattr(DialectLifecycleTest, "test_%s_cancel" % safe, test_cancel)


for _d, _c in DIALECTS.items():
    _add(_d, _c)


class DialectDetailTest(DialectBase):

    def test_litellm_base64_ids_are_kept_and_attachable(self):
        """LiteLLM's ids are base64 with '=', '+' and '/': a create answered
        with one is a task like any other, and the id can be attached."""
        sim, m = self.lifecycle("litellm")
        vid = self.task_id(m, "job")
        self.assertTrue(any(c in vid for c in "=+/"), vid)
        write_file(m.path("new", "again.id"), vid + "\n")
        self.wait_video(m, "again", timeout=60)
        self.assertEqual(read_bytes(m.path("again", "video.mp4")), reference(sim, vid))
        self.assertEqual(sim.stats()["creates"], 1)

    def test_newapi_unknown_attached_id_fails_with_the_reason(self):
        """new-api answers 400 task_not_exist for an id it does not know: an
        attached id fails after a few polls instead of polling forever."""
        sim = self.start_sim(dialect="newapi")
        m = self.mount(sim)
        write_file(m.path("new", "ghost.id"), "task_doesnotexist\n")
        line = self.wait_state(m, "ghost", "failed", timeout=60)
        self.assertIn("does not know this task", line)
        self.assertIn("task_not_exist", read_text(m.path("ghost", "error")))

    def test_newapi_gemini_failure_without_a_reason_says_so(self):
        sim, m, line = self.failure("newapi-gemini")
        self.assertIn("no reason", line)

    def test_url_in_status_every_field(self):
        """The link only in the status object, under each name gateways
        use for it."""
        for k, field in enumerate(("video_url", "data.result_url", "data.videos[].url",
                                   "unsigned_urls[]", "download_url", "content_url")):
            with self.subTest(field=field):
                sim, m = self.lifecycle("url-in-status", name="m%d" % k, url_field=field)
                m.unmount()

    def test_redirect_never_sends_the_key_to_the_signed_host(self):
        self.env["VEOFS_API_KEY"] = "sk-veofs-dialect-key-0123456789"
        sim, m = self.lifecycle("redirect")
        stats = sim.stats()
        self.assertGreaterEqual(stats["signed_requests"], 1)
        self.assertEqual(stats["signed_refused"], 0,
                         "the key went to the signed URL's host")


if __name__ == "__main__":
    harness.main()
