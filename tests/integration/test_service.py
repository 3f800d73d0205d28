#!/usr/bin/env python3
"""Living with veofs as a service (contract section 5): READY=1 for systemd
once the mount answers, a clean unmount on SIGTERM, mount(8) with fstab-style
options both through mount.fuse3 and through the installed helper links, and
the notify hook."""

import os
import shutil
import signal
import socket
import stat
import subprocess
import time
import unittest

import harness
from harness import bound, read_text, wait_until

SOURCE_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                            "..", ".."))
NOTIFY_HOOK = os.path.join(SOURCE_ROOT, "contrib", "hooks", "notify")

# Records each call's arguments, NUL-terminated, one call per file line group.
FAKE_NOTIFY_SEND = """#!/bin/sh
for arg in "$@"; do printf '%s\\0' "$arg"; done >> "$NOTIFY_RECORD"
printf '\\n' >> "$NOTIFY_RECORD"
"""


def write_executable(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


def recorded_calls(path):
    """[[arg, ...], ...] from the fake notify-send's record."""
    try:
        with open(path, "rb") as f:
            data = f.read().decode("utf-8")
    except FileNotFoundError:
        return []
    calls = []
    for line in data.split("\0\n"):
        if line.strip("\n"):
            calls.append(line.lstrip("\n").split("\0"))
    return calls


class ReadyAndStopTest(harness.VeofsTestCase):
    """What a Type=notify unit relies on."""

    sim_duration = 2

    def notify_socket(self):
        path = os.path.join(self.tmp, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(path)
        return sock, path

    def test_ready_is_sent_once_the_mount_answers(self):
        sim = self.start_sim()
        sock, path = self.notify_socket()
        env = dict(self.env, NOTIFY_SOCKET=path)
        m = self.new_mount(sim, env=env)
        m.start(wait=False)

        sock.settimeout(bound(20))
        try:
            msg = sock.recv(4096)
        except socket.timeout:
            self.fail("no datagram on NOTIFY_SOCKET within %.0fs" % bound(20))
        # The service manager starts dependent units now: the mount must
        # already answer at this moment, not a little later.
        mounted = os.path.ismount(m.mnt)
        has_new = os.path.isdir(m.path("new"))
        self.assertEqual(msg.split(b"\n")[0], b"READY=1", "first datagram: %r" % msg)
        self.assertTrue(mounted, "READY=1 arrived before %s was a mount" % m.mnt)
        self.assertTrue(has_new, "READY=1 arrived before new/ answered")

        # Once only: a second READY=1 would mean a restart nobody asked for.
        sock.settimeout(bound(1))
        try:
            again = sock.recv(4096)
        except socket.timeout:
            again = b""
        self.assertNotIn(b"READY=1", again)

        self.submit(m, "ready", "a lighthouse at dusk")
        self.wait_submitted(m, "ready")
        self.assertEqual(m.unmount(), 0)

    def test_no_notify_socket_is_fine(self):
        sim = self.start_sim()
        env = dict(self.env)
        env.pop("NOTIFY_SOCKET", None)
        m = self.mount(sim, env=env)
        self.assertTrue(os.path.isdir(m.path("new")))
        self.assertEqual(m.unmount(), 0)

    def stop_with_sigterm(self, m):
        m.proc.send_signal(signal.SIGTERM)
        try:
            rc = m.proc.wait(timeout=bound(30))
        except subprocess.TimeoutExpired:
            self.fail("veofs still running %.0fs after SIGTERM" % bound(30))
        self.assertFalse(harness.is_mounted(m.mnt),
                         "%s still mounted after SIGTERM" % m.mnt)
        return rc

    def test_sigterm_unmounts_cleanly(self):
        sim = self.start_sim()
        m = self.mount(sim)
        self.submit(m, "kept", "a paper boat on a river")
        self.wait_submitted(m, "kept")
        self.stop_with_sigterm(m)

        # Nothing was lost: the next start shows the task and finishes it.
        m.start()
        self.wait_video(m, "kept")
        self.assertEqual(sim.stats()["creates"], 1)
        self.assertEqual(m.unmount(), 0)

    # A service manager reads a non-zero status after its own SIGTERM as a
    # failure: SIGTERM is a clean stop.
    def test_sigterm_exit_status_is_zero(self):
        sim = self.start_sim()
        m = self.mount(sim)
        rc = self.stop_with_sigterm(m)
        self.assertEqual(rc, 0, "exit status after SIGTERM:\n%s" % m.log_text())


# A mount namespace of its own, in which mount(8) finds the build's veofs the
# way it finds an installed one: `mount` clears PATH before running helpers,
# and mount.fuse3 then runs `veofs` through /bin/sh's default PATH, whose
# first entry is /usr/local/sbin. The helper directory (/sbin) is replaced
# by one holding only the helpers each test wants, so a veofs installed on
# this machine can never stand in for the build.
NAMESPACE_SCRIPT = r"""
set -u
real_sbin=$1 helpers=$2 path_dir=$3 mnt=$4 opts=$5 mount_flags=$6 fstype=$7
sbin=$(readlink -f /sbin)
mount --bind "$sbin" "$real_sbin" || { echo "setup=bind $sbin failed"; exit 0; }
mount --bind "$helpers" "$sbin" || { echo "setup=bind helpers failed"; exit 0; }
mount --bind "$path_dir" /usr/local/sbin || { echo "setup=bind /usr/local/sbin failed"; exit 0; }
echo "setup=ok"

# shellcheck disable=SC2086
mount $mount_flags -t "$fstype" veofs "$mnt" -o "$opts"
echo "mount_rc=$?"
if ! mountpoint -q "$mnt"; then
	echo "mounted=no"
	exit 0
fi
echo "mounted=yes"
echo "fstype=$(awk -v m="$mnt" '$2 == m { print $3 }' /proc/self/mounts)"
[ -d "$mnt/new" ] && echo "new=yes"

printf 'a cow doing the Kemusan dance\n' > "$mnt/new/cow.prompt"
echo "write_rc=$?"
[ -d "$mnt/cow" ] && echo "task=yes"
id=
i=0
while [ "$i" -lt 300 ]; do
	id=$(cat "$mnt/cow/id" 2>/dev/null)
	[ -n "$id" ] && break
	sleep 0.1
	i=$((i + 1))
done
echo "id=$id"
echo "status=$(cat "$mnt/cow/status" 2>/dev/null)"

umount "$mnt"
echo "umount_rc=$?"
mountpoint -q "$mnt" && echo "still_mounted=yes"
exit 0
"""


class MountCommandTest(harness.VeofsTestCase):
    """`mount -t fuse.veofs` and fstab-style option lists, for real."""

    sim_duration = 2

    def setUp(self):
        super().setUp()
        missing = [tool for tool in ("unshare", "mount", "umount", "mountpoint", "awk")
                   if not shutil.which(tool)]
        if missing:
            self.skipTest("%s not available" % ", ".join(missing))
        if os.geteuid() != 0:
            self.skipTest("mount -t fuse.veofs without an fstab entry needs root")
        self.real_sbin = os.path.realpath("/sbin")
        if not os.path.exists(os.path.join(self.real_sbin, "mount.fuse3")):
            self.skipTest("no %s/mount.fuse3" % self.real_sbin)
        if not os.path.isdir("/usr/local/sbin"):
            self.skipTest("no /usr/local/sbin to put veofs on the helpers' PATH")
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                           stdin=subprocess.DEVNULL, capture_output=True)
        if r.returncode != 0:
            self.skipTest("cannot create a mount namespace: %s"
                          % r.stderr.decode(errors="replace").strip())
        self.addCleanup(self.stop_daemons)

    def helper_dirs(self, links):
        """(real_sbin_view, helpers, path_dir): where the real /sbin stays
        reachable, the /sbin and the first PATH entry the namespace gets.
        links: only mount.fuse.veofs and mount.veofs pointing at veofs, as
        `meson install` puts them, and no mount.fuse3, so nothing else can
        do the mount; else mount.fuse3 and veofs on the PATH."""
        real_sbin_view = os.path.join(self.tmp, "real-sbin")
        helpers = os.path.join(self.tmp, "sbin")
        path_dir = os.path.join(self.tmp, "path")
        for d in (real_sbin_view, helpers, path_dir):
            os.makedirs(d, exist_ok=True)
        veofs = os.path.abspath(harness.veofs_bin())
        if links:
            for name in ("mount.fuse.veofs", "mount.veofs"):
                os.symlink(veofs, os.path.join(helpers, name))
        else:
            for name in ("mount.fuse", "mount.fuse3"):
                os.symlink(os.path.join(real_sbin_view, "mount.fuse3"),
                           os.path.join(helpers, name))
            os.symlink(veofs, os.path.join(path_dir, "veofs"))
        return real_sbin_view, helpers, path_dir

    def config_file(self, sim):
        path = os.path.join(self.tmp, "veofs.conf")
        self.state_dir = os.path.join(self.tmp, "state")
        with open(path, "w") as f:
            f.write("[api]\nbase_url = %s\ntimeout = 10\n\n"
                    "[poll]\ninterval = 1\nmax_interval = 2\n\n"
                    "[storage]\nstate_dir = %s\n\n"
                    "[general]\nlog_level = debug\n" % (sim.api, self.state_dir))
        return path

    def daemons(self):
        """Our veofs daemons: found by the temporary mount point in their
        command line, which no other process can have."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if self.mnt.encode() in argv:
                pids.append(int(entry))
        return pids

    def stop_daemons(self):
        if not hasattr(self, "mnt"):
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self.daemons()
            if not pids:
                return
            harness.log("stopping leftover veofs %s with signal %d" % (pids, sig))
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + bound(10)
            while self.daemons() and time.monotonic() < deadline:
                time.sleep(0.1)

    def mount_in_namespace(self, options, links=False, mount_flags="", fstype="fuse.veofs"):
        sim = self.start_sim()
        conf = self.config_file(sim)
        self.mnt = os.path.join(self.tmp, "mnt")
        os.makedirs(self.mnt)
        real_sbin_view, helpers, path_dir = self.helper_dirs(links)
        opts = ",".join(["config=" + conf] + list(options))
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                NAMESPACE_SCRIPT, "sh", real_sbin_view, helpers, path_dir, self.mnt, opts,
                mount_flags, fstype]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.env, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=bound(120))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            self.fail("the mount script hung:\n%s\n%s" % (out.decode(errors="replace"),
                                                          err.decode(errors="replace")))
        text = out.decode(errors="replace")
        self.transcript = "stdout:\n%s\nstderr:\n%s" % (text, err.decode(errors="replace"))
        result = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                result[key] = value
        self.assertEqual(result.get("setup"), "ok", self.transcript)
        # umount ended the daemon; it must go away by itself.
        wait_until(lambda: not self.daemons(), 30, "veofs to exit after umount")
        return sim, result

    def assert_mounted_and_working(self, sim, r):
        t = self.transcript
        self.assertEqual(r.get("mount_rc"), "0", t)
        self.assertEqual(r.get("mounted"), "yes", t)
        self.assertEqual(r.get("fstype"), "fuse.veofs", t)
        self.assertEqual(r.get("new"), "yes", t)
        self.assertEqual(r.get("write_rc"), "0", t)
        self.assertEqual(r.get("task"), "yes", t)
        self.assertTrue(r.get("id"), "the task got no id:\n" + t)
        self.assertIn(harness.state_of(r.get("status", "")),
                      ("queued", "in_progress", "completed"), t)
        self.assertEqual(r.get("umount_rc"), "0", t)
        self.assertNotIn("still_mounted", r, t)
        self.assertEqual(sim.stats()["creates"], 1)
        self.assertEqual(sim.job(r["id"])["prompt"], "a cow doing the Kemusan dance")
        # The task is durable in the configured state dir, not in a default.
        self.assertTrue(os.listdir(self.state_dir), "nothing in %s" % self.state_dir)

    def test_mount_t_fuse_veofs_through_mount_fuse3(self):
        sim, r = self.mount_in_namespace(["_netdev", "nofail"])
        self.assert_mounted_and_working(sim, r)

    def test_fstab_options_through_mount_fuse3(self):
        sim, r = self.mount_in_namespace(["_netdev", "nofail", "x-systemd.automount",
                                          "noauto", "user"])
        self.assert_mounted_and_working(sim, r)

    # With mount.fuse.veofs installed, mount(8) runs veofs itself as
    # `mount.fuse.veofs veofs MOUNTPOINT -o OPTIONS`.
    def test_fstab_options_through_the_helper_links(self):
        sim, r = self.mount_in_namespace(["_netdev", "nofail", "x-systemd.automount",
                                          "noauto", "user"], links=True)
        self.assert_mounted_and_working(sim, r)

    def test_mount_t_veofs_through_mount_veofs(self):
        sim, r = self.mount_in_namespace(["_netdev", "nofail"], links=True, fstype="veofs")
        self.assert_mounted_and_working(sim, r)

    # mount(8) passes its -v (and -n, -s, -f) on to a mount helper:
    # `mount.fuse.veofs SOURCE DIR [-sfnv] -o OPTIONS`.
    def test_mount_verbose_through_the_helper_links(self):
        sim, r = self.mount_in_namespace(["_netdev"], links=True, mount_flags="-v")
        self.assert_mounted_and_working(sim, r)


class NotifyHookTest(harness.VeofsTestCase):
    """contrib/hooks/notify with a stand-in notify-send that records its
    arguments."""

    sim_duration = 2

    def setUp(self):
        super().setUp()
        if not os.access(NOTIFY_HOOK, os.X_OK):
            self.fail("%s is missing or not executable" % NOTIFY_HOOK)
        self.fake_bin = os.path.join(self.tmp, "fake-bin")
        os.makedirs(self.fake_bin)
        write_executable(os.path.join(self.fake_bin, "notify-send"), FAKE_NOTIFY_SEND)
        self.record = os.path.join(self.tmp, "notify-send.record")
        self.hook_env = dict(self.env, NOTIFY_RECORD=self.record,
                             PATH=self.fake_bin + os.pathsep + self.env.get("PATH", ""))

    def run_hook(self, name, state, path, prompt, task_id="video_123", env=None):
        env = dict(env if env is not None else self.hook_env)
        env.update(VEOFS_TASK=name, VEOFS_STATE=state,
                   VEOFS_VIDEO=path if state == "completed" else "",
                   VEOFS_PROMPT=prompt, VEOFS_ID=task_id)
        r = subprocess.run([NOTIFY_HOOK, name, state, path], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=bound(30), env=env)
        self.assertEqual(r.returncode, 0, "hook failed: %s" % r.stderr.decode(errors="replace"))
        return r

    def only_call(self):
        calls = recorded_calls(self.record)
        self.assertEqual(len(calls), 1, "notify-send calls: %r" % calls)
        return calls[0]

    def test_completed_names_the_task_with_the_prompt_as_body(self):
        self.run_hook("piano", "completed", "/mnt/veo/piano/video.mp4",
                      "a cat playing the piano")
        args = self.only_call()
        self.assertEqual(args[-2:], ["veofs: piano completed", "a cat playing the piano"])
        self.assertIn("--app-name=veofs", args)

    def test_failed_gives_the_reason_from_the_error_file(self):
        folder = os.path.join(self.tmp, "mnt", "piano")
        os.makedirs(folder)
        with open(os.path.join(folder, "error"), "w") as f:
            f.write("content policy violation\n")
        self.run_hook("piano", "failed", folder, "a cat playing the piano")
        args = self.only_call()
        self.assertEqual(args[-2:], ["veofs: piano failed", "content policy violation"])

    def test_failed_without_an_error_file_falls_back_to_the_prompt(self):
        folder = os.path.join(self.tmp, "mnt", "piano")
        os.makedirs(folder)
        self.run_hook("piano", "failed", folder, "a cat playing the piano")
        self.assertEqual(self.only_call()[-2:],
                         ["veofs: piano failed", "a cat playing the piano"])

    def test_markup_in_the_prompt_is_escaped(self):
        self.run_hook("tags", "completed", "/mnt/veo/tags/video.mp4", "<b>cats</b> & dogs")
        self.assertEqual(self.only_call()[-1], "&lt;b&gt;cats&lt;/b&gt; &amp; dogs")

    def test_quietly_does_nothing_without_notify_send(self):
        empty = os.path.join(self.tmp, "empty-bin")
        os.makedirs(empty)
        env = dict(self.hook_env, PATH=empty)
        r = self.run_hook("piano", "completed", "/mnt/veo/piano/video.mp4", "x", env=env)
        self.assertEqual(r.stdout + r.stderr, b"")
        self.assertEqual(recorded_calls(self.record), [])

    def test_veofs_runs_it_on_complete_and_on_failed(self):
        sim = self.start_sim(faults=["poll=fail-error-objectx1"])
        m = self.mount(sim, env=self.hook_env,
                       options={"on_complete": NOTIFY_HOOK, "on_failed": NOTIFY_HOOK})
        # The first poll fails the first task; the second one completes.
        self.submit(m, "bad", "a forbidden scene")
        self.wait_state(m, "bad", "failed")
        self.submit(m, "good", "a lighthouse at dusk")
        self.wait_video(m, "good")

        def both():
            calls = recorded_calls(self.record)
            return calls if len(calls) >= 2 else None
        calls = wait_until(both, 30, "two notifications")
        summaries = {c[-2]: c[-1] for c in calls}
        self.assertEqual(summaries.get("veofs: good completed"), "a lighthouse at dusk",
                         "calls: %r" % calls)
        reason = read_text(m.path("bad", "error")).splitlines()[0]
        self.assertIn("veofs: bad failed", summaries, "calls: %r" % calls)
        self.assertIn(reason, summaries["veofs: bad failed"])
        self.assertEqual(m.unmount(), 0)

    def test_hook_is_installed_executable_in_the_source(self):
        mode = os.stat(NOTIFY_HOOK).st_mode
        self.assertTrue(mode & stat.S_IXOTH, "contrib/hooks/notify is not executable")
        with open(NOTIFY_HOOK) as f:
            self.assertEqual(f.readline().strip(), "#!/bin/sh")


if __name__ == "__main__":
    harness.main()
