#!/usr/bin/env python3
"""Signals and daemon mode (contract section 2, "Running it", and section 5:
"SIGTERM unmounts cleanly"): SIGTERM, SIGINT and SIGHUP end the mount
cleanly, also while a read waits for video bytes; without -f veofs returns
once mounted and leaves a daemon that fusermount3 -u stops with status 0."""

import ctypes
import errno
import os
import signal
import subprocess
import threading
import time
import unittest

import harness
from harness import bound, read_bytes, wait_until

PR_SET_CHILD_SUBREAPER = 36
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def set_subreaper(on):
    """Become the parent of orphaned descendants (a daemonised veofs), so
    that its exit status can be collected."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


class SignalTest(harness.VeofsTestCase):
    sim_duration = 1

    def end_with(self, m, sig):
        """Send sig; the daemon must exit and take the mount with it."""
        os.kill(m.proc.pid, sig)
        try:
            m.proc.wait(timeout=bound(30))
        except subprocess.TimeoutExpired:
            self.fail("veofs did not exit after %s" % signal.Signals(sig).name)
        wait_until(lambda: not harness.is_mounted(m.mnt), 5,
                   "the mount to go after %s" % signal.Signals(sig).name)
        return m.proc.returncode

    def test_signals_unmount_cleanly(self):
        """SIGTERM, SIGINT and SIGHUP each unmount, the daemon exits (not
        killed by the signal), and a remount shows every task as it was."""
        sim = self.start_sim()
        m = self.new_mount(sim)
        m.start()
        self.submit(m, "job", "a clock tower at noon")
        video = self.wait_video(m, "job")
        ref = read_bytes(video)
        for sig in SIGNALS:
            with self.subTest(signal=signal.Signals(sig).name):
                rc = self.end_with(m, sig)
                self.assertGreaterEqual(rc, 0, "veofs died of the signal instead of "
                                        "unmounting (%d)" % rc)
                m.start()
                self.assertEqual(sorted(os.listdir(m.mnt)), ["job", "new"])
                self.assertEqual(self.status(m, "job"), "completed")
                self.assertTrue(read_bytes(m.path("job", "video.mp4")) == ref)
        self.assertEqual(sim.stats()["creates"], 1)
        self.assertEqual(m.unmount(), 0)

    def test_signals_exit_zero(self):
        """After SIGTERM, SIGINT or SIGHUP veofs exits with status 0."""
        sim = self.start_sim()
        m = self.new_mount(sim)
        statuses = {}
        for sig in SIGNALS:
            m.start()
            statuses[signal.Signals(sig).name] = self.end_with(m, sig)
        self.assertEqual(statuses, {name: 0 for name in statuses})

    def test_sigterm_while_a_read_waits(self):
        """SIGTERM while a read of video.mp4 waits for bytes that are not
        downloaded yet: the reader gets its bytes or an error (never garbage
        or a hang), veofs exits and the mount goes."""
        self.sigterm_during_read({"timeout": "3"})

    # Bug: a SIGTERM does not end reads that wait for video bytes
    # (src/fuse/video_reader.c waits out api.timeout for each FUSE read, see
    # test_waiting_read_is_bounded), and the daemon exits only once they
    # are done: about 19 s with api.timeout 10, up to minutes with the
    # default 60, past systemd's stop timeout. Waiting reads should end
    # (EIO) as soon as the session is told to exit.
    def test_sigterm_is_prompt_while_a_read_waits(self):
        """With a read waiting for bytes, veofs still unmounts and exits
        within a few seconds of SIGTERM."""
        read_ended, gone = self.sigterm_during_read({"timeout": "10"})
        self.assertLess(gone, bound(5), "veofs took %.1fs to exit after SIGTERM" % gone)
        self.assertLess(read_ended, bound(5))

    # Bug: one pread() of video.mp4 ahead of a stalled download waits about
    # four times api.timeout (40 s with timeout=10, 12 s with 3) before
    # EIO: src/fuse/video_reader.c bounds each FUSE read request by api.timeout,
    # but the kernel sends several for one read (readahead, then the page
    # again), each waiting in full. The README promises EIO after
    # api.timeout.
    def test_waiting_read_is_bounded(self):
        """A read ahead of a stalled download gives EIO after about
        api.timeout seconds."""
        sim = self.start_sim(video_bytes=20000000, faults=["content=short-bodyx1"])
        sim.add_fault("content=stall")
        m = self.new_mount(sim, options={"timeout": "3"})
        m.start()
        self.submit(m, "job", "a clock tower at dawn")
        self.wait_completed(m, "job")
        path = m.path("job", "video.mp4")
        wait_until(lambda: os.path.exists(path), 30, "video.mp4 to appear")
        fd = os.open(path, os.O_RDONLY)
        self.addCleanup(os.close, fd)
        started = time.monotonic()
        with self.assertRaises(OSError) as cm:
            os.pread(fd, 65536, os.fstat(fd).st_size - 65536)
        took = time.monotonic() - started
        self.assertEqual(cm.exception.errno, errno.EIO)
        sim.clear_faults()
        self.assertLess(took, 3 * 1.5 + 2, "the read waited %.1fs with api.timeout 3" % took)

    def sigterm_during_read(self, options):
        # The first download is cut short (video.mp4 then shows with its
        # real size), every later request for bytes stalls.
        sim = self.start_sim(video_bytes=20000000, faults=["content=short-bodyx1"])
        sim.add_fault("content=stall")
        m = self.new_mount(sim, options=options)
        m.start()
        self.submit(m, "job", "a clock tower at midnight")
        self.wait_completed(m, "job")
        vid = self.task_id(m, "job")
        path = m.path("job", "video.mp4")
        wait_until(lambda: os.path.exists(path), 30, "video.mp4 to appear")
        size = os.stat(path).st_size
        offset = size - 65536
        wait_until(lambda: sim.stats()["stalled"] >= 1, 30, "the download to stall")
        outcome = {}

        def reader():
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError as e:
                outcome["open_error"] = e
                return
            try:
                outcome["bytes"] = os.pread(fd, 65536, offset)
            except OSError as e:
                outcome["error"] = e
            finally:
                try:
                    os.close(fd)
                except OSError:
                    pass
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        time.sleep(bound(1))
        self.assertTrue(t.is_alive(), "the read did not wait for the missing bytes: %r"
                        % {k: (len(v) if k == "bytes" else v) for k, v in outcome.items()})
        sent = time.monotonic()
        os.kill(m.proc.pid, signal.SIGTERM)
        t.join(bound(30))
        self.assertFalse(t.is_alive(), "the read hung after SIGTERM")
        read_ended = time.monotonic() - sent
        try:
            m.proc.wait(timeout=bound(30))
        except subprocess.TimeoutExpired:
            self.fail("veofs did not exit after SIGTERM with a read waiting")
        gone = time.monotonic() - sent
        wait_until(lambda: not harness.is_mounted(m.mnt), 5, "the mount to go")
        harness.log("read during SIGTERM: %s after %.1fs; veofs gone after %.1fs"
                    % ({k: (len(v) if k == "bytes" else v) for k, v in outcome.items()},
                       read_ended, gone))
        if "bytes" in outcome:
            sim.clear_faults()
            ref = sim.content(vid)
            self.assertTrue(outcome["bytes"] == ref[offset:offset + 65536],
                            "the waiting read returned wrong bytes")
        else:
            self.assertIn(outcome["error"].errno, (errno.EIO, errno.ENOTCONN, errno.EINTR,
                                                   errno.ECONNABORTED))
        sim.clear_faults()
        m.start()
        video = self.wait_video(m, "job", timeout=60)
        self.assertTrue(read_bytes(video) == sim.content(vid))
        return read_ended, gone


class DaemonTest(harness.VeofsTestCase):
    sim_duration = 1

    def test_daemon_mode(self):
        """Without -f, veofs returns 0 once the mount answers, its daemon is
        found by pgrep, and fusermount3 -u makes it exit with status 0."""
        sim = self.start_sim()
        mnt = os.path.join(self.tmp, "daemon-mnt")
        state = os.path.join(self.tmp, "daemon-state")
        os.makedirs(mnt)
        out = os.path.join(self.tmp, "veofs-daemon.out")
        set_subreaper(True)
        self.addCleanup(set_subreaper, False)
        with open(out, "wb") as f:
            r = subprocess.run([harness.veofs_bin(), "-o",
                                "base_url=%s,state_dir=%s,interval=1" % (sim.api, state), mnt],
                               stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                               env=self.env, timeout=bound(30),
                               preexec_fn=harness.child_signal_defaults)
        self.addCleanup(harness.force_unmount, mnt)
        text = harness.read_text(out)
        self.assertEqual(r.returncode, 0, text)
        # Mounted and answering the moment the command returns.
        self.assertTrue(harness.is_mounted(mnt), "veofs returned before mounting")
        self.assertEqual(os.listdir(mnt), ["new"])
        p = subprocess.run(["pgrep", "-f", "--", mnt], capture_output=True, timeout=bound(10))
        pids = [int(x) for x in p.stdout.split()]
        self.assertEqual(len(pids), 1, "pgrep found %r" % pids)
        pid = pids[0]

        def kill_daemon():
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        self.addCleanup(kill_daemon)

        harness.write_file(os.path.join(mnt, "new", "job.prompt"), "a daemon's prompt\n")
        wait_until(lambda: harness.read_text(os.path.join(mnt, "job", "status"))
                   .startswith("completed"), 60, "the task to complete in daemon mode")

        r = subprocess.run(["fusermount3", "-u", mnt], capture_output=True, timeout=bound(30))
        self.assertEqual(r.returncode, 0, r.stderr)
        deadline = time.monotonic() + bound(30)
        status = None
        while time.monotonic() < deadline:
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                self.fail("the daemon is not our descendant; cannot see its exit status")
            if done:
                break
            time.sleep(0.05)
        else:
            self.fail("the daemon did not exit after fusermount3 -u")
        self.assertFalse(harness.is_mounted(mnt))
        self.assertTrue(os.WIFEXITED(status), "the daemon ended by signal %d"
                        % os.WTERMSIG(status) if os.WIFSIGNALED(status) else "")
        self.assertEqual(os.WEXITSTATUS(status), 0)


if __name__ == "__main__":
    harness.main()
