#!/usr/bin/env python3
"""The command line: refusals that name their cause, --help, --version, one
mount per state dir, and --simulate end to end (contract section 2)."""

import os
import re
import subprocess

import harness
from harness import bound, read_bytes, wait_until, write_file


class CommandLineTest(harness.VeofsTestCase):
    sim_duration = 2

    def run_veofs(self, args, timeout=30):
        """veofs in the foreground on a fresh mount point; it must exit."""
        mnt = os.path.join(self.tmp, "cli-mnt")
        os.makedirs(mnt, exist_ok=True)
        argv = [harness.veofs_bin(), "-f"] + args + [mnt]
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=bound(timeout), env=self.env)
        except subprocess.TimeoutExpired:
            harness.force_unmount(mnt)
            self.fail("%s did not exit (it should have refused to start)" % " ".join(argv))
        mounted = harness.is_mounted(mnt)
        harness.force_unmount(mnt)
        self.assertFalse(mounted, "%s mounted" % " ".join(argv))
        out = (r.stdout + r.stderr).decode("utf-8", "replace")
        self.assertRefused(r.returncode, out, " ".join(argv))
        return r.returncode, out

    def state_option(self):
        """A loopback API (no key needed) and a private state dir, so the
        only thing wrong is what the test puts in."""
        return "base_url=http://127.0.0.1:9/v1,state_dir=" + os.path.join(self.tmp, "cli-state")

    def test_unknown_key_is_named(self):
        rc, out = self.run_veofs(["-o", "nosuchkey=1," + self.state_option()])
        self.assertNotEqual(rc, 0)
        self.assertIn("nosuchkey", out)

    def test_bad_value_is_named(self):
        rc, out = self.run_veofs(["-o", "seconds=7," + self.state_option()])
        self.assertNotEqual(rc, 0)
        self.assertIn("seconds", out)

    def test_api_key_option_is_refused_and_not_echoed(self):
        secret = "sk-test-never-show-me-4242"
        rc, out = self.run_veofs(["-o", "api_key=%s,%s" % (secret, self.state_option())])
        self.assertNotEqual(rc, 0)
        self.assertIn("api_key", out)
        self.assertTrue("VEOFS_API_KEY" in out or "api_key_file" in out,
                        "no pointer to VEOFS_API_KEY or api_key_file: %r" % out)
        self.assertNotIn(secret, out, "the key was echoed back")

    def test_bad_key_in_config_file_names_file_and_key(self):
        conf_dir = os.path.join(self.env["XDG_CONFIG_HOME"], "veofs")
        os.makedirs(conf_dir)
        with open(os.path.join(conf_dir, "veofs.conf"), "w") as f:
            f.write("[defaults]\nmodel = veo-3.1\nnosuchthing = 1\n")
        rc, out = self.run_veofs(["-o", self.state_option()])
        self.assertNotEqual(rc, 0)
        self.assertIn("nosuchthing", out)
        self.assertIn("veofs.conf", out)

    def test_no_key_for_remote_api_is_refused_with_a_howto(self):
        rc, out = self.run_veofs(["-o", "state_dir=%s,base_url=https://api.example.com/v1"
                                  % os.path.join(self.tmp, "cli-state")])
        self.assertNotEqual(rc, 0)
        self.assertIn("VEOFS_API_KEY", out, "no how-to for setting the key: %r" % out)

    def test_help_and_version(self):
        for flag in ("-h", "--help"):
            r = subprocess.run([harness.veofs_bin(), flag], stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=bound(30), env=self.env)
            out = (r.stdout + r.stderr).decode("utf-8", "replace")
            self.assertEqual(r.returncode, 0, "%s: %s" % (flag, out))
            self.assertRegex(out.lower(), r"usage")
            self.assertIn("--simulate", out)
        for flag in ("-V", "--version"):
            r = subprocess.run([harness.veofs_bin(), flag], stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=bound(30), env=self.env)
            out = (r.stdout + r.stderr).decode("utf-8", "replace")
            self.assertEqual(r.returncode, 0, "%s: %s" % (flag, out))
            self.assertRegex(out, r"\d+\.\d+(\.\d+)?")
            self.assertIn("veofs", out.lower())

    def test_second_mount_on_same_state_dir_is_refused(self):
        sim = self.start_sim()
        first = self.mount(sim, name="first")
        second = self.new_mount(sim, name="second", state_dir=first.state_dir)
        second.start(wait=False)
        second.expect_refusal()
        try:
            second.proc.wait(timeout=bound(30))
        except subprocess.TimeoutExpired:
            self.fail("a second veofs on the same state dir kept running")
        self.assertNotEqual(second.proc.returncode, 0)
        self.assertFalse(harness.is_mounted(second.mnt))
        out = second.log_text()
        self.assertTrue(first.mnt in out or os.path.realpath(first.mnt) in out,
                        "the refusal should name the first mount %s: %r" % (first.mnt, out))
        # The first mount is unharmed.
        self.submit(first, "still", "the first mount still works")
        self.wait_submitted(first, "still")


    def test_deleting_the_lock_file_does_not_admit_a_second_mount(self):
        """The lock is on the state directory as well as on STATE/lock:
        removing the file must not let a second veofs in to submit the
        same prompts again."""
        sim = self.start_sim(duration=30)
        first = self.mount(sim, name="first")
        self.submit(first, "once", "a prompt paid for once")
        self.wait_submitted(first, "once")
        os.unlink(os.path.join(first.state_dir, "lock"))
        second = self.new_mount(sim, name="second", state_dir=first.state_dir)
        second.start(wait=False)
        second.expect_refusal()
        try:
            second.proc.wait(timeout=bound(30))
        except subprocess.TimeoutExpired:
            self.fail("a second veofs got the state dir once its lock file was deleted")
        self.assertNotEqual(second.proc.returncode, 0)
        self.assertIn("already in use", second.log_text())
        self.assertEqual(sim.stats()["creates"], 1)
        # The first mount takes its lock file again and goes on submitting.
        self.submit(first, "later", "a prompt after the lock file went")
        self.wait_submitted(first, "later")
        self.assertTrue(os.path.exists(os.path.join(first.state_dir, "lock")))
        self.assertEqual(sim.stats()["creates"], 2)


class SimulateTest(harness.VeofsTestCase):

    def test_simulate_end_to_end_without_a_key(self):
        m = self.new_mount(None, simulate=True, options={"duration": "2"})
        m.start()
        found = wait_until(lambda: re.search(r"http://127\.0\.0\.1:(\d+)", m.log_text()), 10,
                           "the simulator's address on veofs's output")
        root = "http://127.0.0.1:%s" % found.group(1)
        self.submit(m, "sim", "a robot watering plants")
        video = self.wait_video(m, "sim", timeout=90)
        self.assertEqual(harness.ffprobe(video).returncode, 0)
        status, _, ref = harness.http(
            "GET", "%s/v1/videos/%s/content" % (root, self.task_id(m, "sim")))
        self.assertEqual(status, 200)
        self.assertTrue(read_bytes(video) == ref)

    def test_simulate_state_dir_default(self):
        m = self.new_mount(None, simulate=True, options={"duration": "2"})
        m.state_dir = None
        m.start()
        write_file(m.path("new", "where.prompt"), "a map of the stars\n")
        default = os.path.join(self.env["XDG_STATE_HOME"], "veofs-sim")
        self.assertTrue(os.path.isdir(default), "%s was not used" % default)
        self.assertFalse(os.path.exists(os.path.join(self.env["XDG_STATE_HOME"], "veofs")),
                         "--simulate used the real state dir")


if __name__ == "__main__":
    harness.main()
