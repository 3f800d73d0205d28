#!/usr/bin/env python3
"""A hung or failing provider: the mount keeps answering, failures are shown
(contract sections 1, 3 and 4)."""

import os
import subprocess

import harness
from harness import bound, read_text, wait_until, write_file

# A liveness bound for a single command on the mount: it must never wait on
# the network, so a few seconds are plenty even on a loaded machine.
COMMAND_BOUND = 5


class StalledSimulatorTest(harness.VeofsTestCase):
    sim_duration = 20

    def quick(self, argv):
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=bound(COMMAND_BOUND), env=self.env)
        except subprocess.TimeoutExpired:
            self.fail("%r hung while the simulator stalls" % " ".join(argv))
        self.assertEqual(r.returncode, 0, "%s: %s" % (" ".join(argv),
                                                      r.stderr.decode(errors="replace")))
        return r.stdout.decode("utf-8", "replace")

    def test_mount_answers_while_the_api_hangs(self):
        sim, m = self.sim_and_mount()
        self.submit(m, "job", "a windmill in a storm")
        self.wait_state(m, "job", "in_progress", timeout=60)
        for spec in ("poll=stall", "create=stall", "content=stall"):
            sim.add_fault(spec)
        # The point of the test: a poll is stuck in the simulator while the
        # mount is used. With poll intervals of 1-2 s one arrives soon.
        wait_until(lambda: sim.stats()["stalled"] >= 1, 30,
                   "a poll to stall in the simulator")

        self.quick(["ls", "-l", m.mnt])
        self.quick(["ls", "-l", m.path("job")])
        self.quick(["ls", "-l", m.path("new")])
        status = self.quick(["cat", m.path("job", "status")]).strip()
        self.assertRegex(status, harness.STATUS_LINE)
        for f in sorted(os.listdir(m.path("job"))):
            self.quick(["stat", m.path("job", f)])
            if f != "ctl":   # write-only: its refusal is checked elsewhere
                self.quick(["cat", m.path("job", f)])
        # A new prompt is accepted locally without the network.
        self.quick(["sh", "-c", 'echo "a second windmill" > "%s"' % m.path("new", "other.prompt")])
        self.assertEqual(harness.state_of(self.quick(["cat", m.path("other", "status")])),
                         "pending")
        self.quick(["ls", "-l", m.path("other")])

        sim.clear_faults()
        self.wait_video(m, "job", timeout=150)
        settled = wait_until(
            lambda: (lambda s: s if harness.state_of(s) in ("completed", "failed") else None)(
                self.status(m, "other")), 150, "task other to settle")
        if harness.state_of(settled) == "failed":
            self.assertTrue(settled.startswith(harness.OUTCOME_UNKNOWN), settled)
        self.assertLessEqual(sim.stats()["creates"], 2)


class FailedJobTest(harness.VeofsTestCase):
    sim_duration = 2

    def check_failed(self, fault, name):
        sim = self.start_sim(faults=[fault])
        m = self.mount(sim)
        self.submit(m, name, "a forbidden scene")
        line = self.wait_state(m, name, "failed", timeout=60)
        self.assertRegex(line, r"^failed: \S")
        reason = line[len("failed: "):]
        listing = os.listdir(m.path(name))
        self.assertIn("error", listing)
        self.assertNotIn("video.mp4", listing)
        error = read_text(m.path(name, "error"))
        self.assertTrue(error.strip(), "empty error file")
        self.assertIn(reason.lower(), error.lower(),
                      "the error file should say at least what status says")
        last = [ln for ln in read_text(m.path(name, "events")).split("\n") if ln][-1]
        self.assertRegex(last, r"^\d{4}-\d\d-\d\dT\S+[\s,]+failed")
        self.assertEqual(sim.stats()["downloads"], 0)
        self.assertEqual(sim.stats()["creates"], 1)
        return line, error

    def test_create_answers_failed_with_error_object(self):
        line, _ = self.check_failed("create=fail-error-objectx1", "bad")
        self.assertEqual(line, "failed: content policy violation")

    def test_poll_answers_failed_with_error_object(self):
        line, _ = self.check_failed("poll=fail-error-object", "bad")
        self.assertEqual(line, "failed: content policy violation")

    def test_poll_answers_failed_with_error_string(self):
        self.check_failed("poll=fail-error-string", "bad")

    def test_poll_answers_failed_without_error(self):
        self.check_failed("poll=fail-no-error", "bad")


if __name__ == "__main__":
    harness.main()
