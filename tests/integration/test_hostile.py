#!/usr/bin/env python3
"""Hostile input: prompts, front matter, names, offsets, metadata calls and
concurrency that a careless or malicious user can throw at the mount
(contract section 3, "Writing prompts" and "Removing").

Every case must get a clear errno (and new/NAME.error where the contract
promises one), keep the daemon's memory bounded and leave other tasks alone:
a task created first still completes byte-identical."""

import errno
import os
import resource
import shutil
import stat
import threading
import time
import unittest

import harness
from harness import bound, read_bytes, read_text, wait_until, write_file

REFUSE = (errno.EROFS, errno.EACCES, errno.EPERM)
XATTR_REFUSE = REFUSE + (errno.ENOTSUP, errno.EINVAL)
MB = 1 << 20

# Every hostile input tried, counted as the tests run (printed at the end).
tried = []


def daemon_rss(m):
    with open("/proc/%d/status" % m.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for pid %d" % m.proc.pid)


def run_bounded(func, seconds):
    """(finished, result or exception) of func() run in a thread."""
    out = {}

    def body():
        try:
            out["value"] = func()
        except BaseException as e:  # reported to the caller
            out["value"] = e
    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(bound(seconds))
    return (not t.is_alive()), out.get("value")


class HostileCase(harness.VeofsTestCase):
    sim_duration = 2

    def start_with_anchor(self, **sim_kw):
        """A simulator, a mount, and a task created before anything hostile."""
        sim, m = self.sim_and_mount(sim_kw=sim_kw)
        self.submit(m, "anchor", "a calm anchor task made before the storm")
        return sim, m

    def check_anchor(self, sim, m):
        self.assertIsNone(m.proc.poll(), "veofs died")
        video = self.wait_video(m, "anchor", timeout=90)
        self.assertTrue(read_bytes(video) == sim.content(self.task_id(m, "anchor")),
                        "the anchor task's video differs from the API's")
        self.assertEqual(read_text(m.path("anchor", "prompt")).rstrip("\n"),
                         "a calm anchor task made before the storm")

    def refused(self, m, name, data, words=None):
        """data written as new/NAME.prompt must fail with EINVAL, stay, and
        leave new/NAME.error with a reason; no task."""
        tried.append("prompt:" + name)
        path = m.path("new", name + ".prompt")

        def write_prompt():     # a short name in failure messages, not the data
            write_file(path, data)
        write_prompt.__name__ = "write_file(new/%s.prompt, %d bytes)" % (
            name, len(data.encode() if isinstance(data, str) else data))
        self.assertErrno(errno.EINVAL, write_prompt)
        self.assertTrue(os.path.exists(path), "the refused prompt must stay")
        reason = read_text(m.path("new", name + ".error")).strip()
        self.assertTrue(reason, "empty new/%s.error" % name)
        if words:
            self.assertTrue(any(w in reason.lower() for w in words),
                            "reason %r should mention one of %s" % (reason, words))
        self.assertFalse(os.path.exists(m.path(name)), "a refused prompt made a task")
        return reason


class PromptBodyTest(HostileCase):

    def test_refused_bodies(self):
        """Empty, blank, over-long (ASCII and multi-byte), 10 MB, binary,
        invalid UTF-8 and NUL-carrying prompts are refused with EINVAL and a
        reason; memory stays bounded; the anchor task is untouched."""
        sim, m = self.start_with_anchor()
        cases = [
            ("empty", b"", ("empty",)),
            ("space", b" ", ("empty", "blank", "whitespace")),
            ("whitespace", b" \t\r\n\v\f\n  \n", ("empty", "blank", "whitespace")),
            ("ascii32001", b"a" * 32001, ("32000", "long")),
            ("eacute32001", "é".encode() * 32001, ("32000", "long")),
            ("cjk32001", "字".encode() * 32001, ("32000", "long")),
            ("emoji32001", "🐄".encode() * 32001, ("32000", "long")),
            ("binary", bytes(range(256)) * 64, None),
            ("invalidutf8", b"caf\xe9 \xff\xfe au lait", ("utf",)),
            ("overlong", b"over\xc0\xaflong", ("utf",)),
            ("surrogate", b"half \xed\xa0\x80 surrogate", ("utf",)),
            ("truncutf8", b"cut \xe5\xad", ("utf",)),
            ("nul", b"a prompt\0with a nul", ("utf", "nul", "null", "zero")),
            ("nulonly", b"\0" * 100, None),
        ]
        for name, data, words in cases:
            with self.subTest(prompt=name):
                self.refused(m, name, data, words)
        rss_before = daemon_rss(m)
        for name, data in (("tenmb", b"x" * (10 * MB)),
                           ("tenmbutf8", "é".encode() * (5 * MB)),
                           ("tenmbbinary", os.urandom(10 * MB))):
            with self.subTest(prompt=name):
                self.refused(m, name, data)
                os.unlink(m.path("new", name + ".prompt"))
        rss_after = daemon_rss(m)
        self.assertLess(rss_after - rss_before, 64 * MB,
                        "daemon grew from %d to %d bytes on 10 MB prompts"
                        % (rss_before, rss_after))
        self.assertEqual(sim.stats()["create_requests"], 1)
        self.check_anchor(sim, m)
        harness.log("hostile: %d inputs tried so far" % len(tried))

    def test_limit_prompt_is_accepted(self):
        """Exactly 32000 ASCII characters is accepted and reaches the API
        whole."""
        sim, m = self.start_with_anchor()
        self.accepted_at_the_limit(sim, m, "ascii32000", "a")
        self.check_anchor(sim, m)

    # Bug: validate() in src/sim/sim.c compares the prompt's length in bytes
    # (f->prompt.len) with the 32000-character limit, so the simulator
    # refuses a 32000-character prompt written in multi-byte UTF-8 with
    # HTTP 400 "prompt is longer than 32000 characters". veofs (prompt.c)
    # counts characters, as the contract says; the simulator should too.
    def test_limit_multibyte_prompts_are_accepted(self):
        """Exactly 32000 characters of 2-, 3- and 4-byte UTF-8 is accepted
        and reaches the API whole."""
        sim, m = self.start_with_anchor()
        for name, ch in (("eacute32000", "é"), ("cjk32000", "字"), ("emoji32000", "🐄")):
            self.accepted_at_the_limit(sim, m, name, ch)
        self.check_anchor(sim, m)

    def accepted_at_the_limit(self, sim, m, name, ch):
        tried.append("prompt:" + name)
        write_file(m.path("new", name + ".prompt"), ch * 32000)
        vid = self.wait_submitted(m, name)
        self.assertTrue(sim.job(vid)["prompt"] == ch * 32000,
                        "the API got another prompt than the 32000 characters written")


class FrontMatterTest(HostileCase):

    def test_bad_front_matter(self):
        """Unterminated, repeated, unknown keys and bad values are refused
        with EINVAL and a reason naming the problem."""
        sim, m = self.start_with_anchor()
        cases = [
            ("unterminated", "---\nmodel: veo-3.1\na prompt\n", ("front matter", "---")),
            ("unterminated2", "---\n", None),
            ("repeated", "---\nseconds: 4\nseconds: 8\n---\nrepeated\n", ("repeat", "seconds")),
            ("repeatedsame", "---\nsize: 16x9\nsize: 16x9\n---\nrepeated\n", ("size",)),
            ("unknown", "---\ncolour: red\n---\nred\n", ("colour",)),
            ("unknowncase", "---\nModel: veo-3.1\n---\ncase\n", ("model",)),
            ("badseconds", "---\nseconds: 5\n---\nx\n", ("seconds",)),
            ("negseconds", "---\nseconds: -8\n---\nx\n", ("seconds",)),
            ("hugeseconds", "---\nseconds: 99999999999999999999999\n---\nx\n", ("seconds",)),
            ("badsize", "---\nsize: 3x3\n---\nx\n", ("size",)),
            ("badwatermark", "---\nwatermark: perhaps\n---\nx\n", ("watermark",)),
            ("emptymodel", "---\nmodel:\n---\nx\n", ("model",)),
            ("nokey", "---\n: value\n---\nx\n", None),
            ("nocolon", "---\njust words\n---\nx\n", None),
            ("onlyfront", "---\nseconds: 4\n---\n", ("empty",)),
            ("longvalue", "---\nseconds: " + "8" * 100000 + "\n---\nx\n", ("seconds",)),
            ("longkey", "---\n" + "k" * 100000 + ": 1\n---\nx\n", None),
        ]
        for name, text, words in cases:
            with self.subTest(prompt=name):
                self.refused(m, name, text, words)
        self.assertEqual(sim.stats()["create_requests"], 1)
        self.check_anchor(sim, m)

    def test_bad_images(self):
        """Missing, directory, FIFO, /proc/self/mem, over 20 MB, not an
        image, escaping new/: refused with EINVAL and a reason, close()
        never hangs."""
        sim, m = self.start_with_anchor()
        d = os.path.join(self.tmp, "imgs")
        os.makedirs(d)
        huge = os.path.join(d, "huge.png")
        with open(huge, "wb") as f:
            f.write(harness.minimal_png())
            f.truncate(21 * MB)
        notimg = os.path.join(d, "text.png")
        write_file(notimg, "this is not a picture\n")
        locked = os.path.join(d, "locked")
        os.makedirs(locked)
        write_file(os.path.join(locked, "in.txt"), "text, not a picture\n")
        os.chmod(locked, 0)
        self.addCleanup(os.chmod, locked, 0o755)
        cases = [
            ("missing", os.path.join(d, "nope.png"), ("nope.png",)),
            ("dirimage", d, ("director",)),
            ("procmem", "/proc/self/mem", None),
            ("huge", huge, ("20", "large")),
            ("notimage", notimg, ("png", "image")),
            ("locked", os.path.join(locked, "in.txt"), None),
            ("escape", "../../../etc/passwd", ("new/",)),
            ("devzero", "/dev/zero", None),
        ]
        for name, image, words in cases:
            with self.subTest(image=name):
                self.refused(m, name, "---\nimage: %s\n---\na picture\n" % image, words)
        self.check_anchor(sim, m)

    # Bug: fs_read_all() (src/util/fsutil.c), used by read_image() in
    # src/fuse/dropbox.c, opens the image with a blocking open(O_RDONLY) before
    # checking it is a regular file, so "image: /path/to/a/fifo" blocks the
    # close() of the prompt (and a FUSE worker) until someone opens the
    # FIFO for writing. It should open with O_NONBLOCK (or check with
    # stat first) and refuse the prompt with EINVAL.
    def test_fifo_image_does_not_hang(self):
        """An image that is a FIFO nobody writes to: refused with EINVAL,
        close() returns instead of blocking."""
        sim, m = self.start_with_anchor()
        fifo = os.path.join(self.tmp, "pipe.png")
        os.mkfifo(fifo)
        tried.append("image:fifo")
        path = m.path("new", "fifo.prompt")
        done, value = run_bounded(
            lambda: write_file(path, "---\nimage: %s\n---\na picture\n" % fifo), 10)
        if not done:
            # Release the blocked worker so the mount can be torn down.
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
            self.fail("close() of a prompt naming a FIFO as image blocked")
        self.assertIsInstance(value, OSError)
        self.assertEqual(value.errno, errno.EINVAL)
        self.assertTrue(read_text(m.path("new", "fifo.error")).strip())
        self.check_anchor(sim, m)


class NameTest(HostileCase):

    def test_long_and_odd_names(self):
        """NAME.prompt of 255 bytes submits task NAME (248 bytes); longer is
        ENAMETOOLONG; spaces work; newlines and reserved names are refused."""
        sim, m = self.start_with_anchor()
        name248 = "n" * 248
        tried.append("name:248")
        write_file(m.path("new", name248 + ".prompt"), "a long name\n")
        self.assertTrue(os.path.isdir(m.path(name248)))
        self.wait_submitted(m, name248)
        for name in ("é" * 124, "字" * 82 + "xx"):     # 248 bytes, multi-byte
            tried.append("name:248-utf8")
            self.assertEqual(len(name.encode()), 248)
            write_file(m.path("new", name + ".prompt"), "a long utf-8 name\n")
            self.assertTrue(os.path.isdir(m.path(name)))
        tried.append("name:249")
        self.assertErrno(errno.ENAMETOOLONG, write_file,
                         m.path("new", "n" * 249 + ".prompt"), "too long\n")
        tried.append("name:255-scratch")
        scratch = m.path("new", "s" * 255)
        write_file(scratch, "a scratch file with a 255-byte name\n")
        self.assertEqual(read_text(scratch), "a scratch file with a 255-byte name\n")
        os.unlink(scratch)
        tried.append("name:256-scratch")
        self.assertErrno(errno.ENAMETOOLONG, write_file, m.path("new", "s" * 256), "x")

        tried.append("name:spaces")
        write_file(m.path("new", "with some spaces.prompt"), "spaces in a name\n")
        self.assertTrue(os.path.isdir(m.path("with some spaces")))
        self.assertEqual(read_text(m.path("with some spaces", "prompt")).rstrip("\n"),
                         "spaces in a name")
        for filename in ("line\nbreak.prompt", "tab\there.prompt", "\n.prompt",
                         "cr\r.prompt", "esc\x1b[31m.prompt", "new.prompt", ".x.prompt",
                         ".prompt", "..prompt", "...prompt"):
            with self.subTest(name=filename):
                tried.append("name:" + filename)
                self.assertErrno(errno.EINVAL, write_file, m.path("new", filename),
                                 "a refused name\n")
        listing = sorted(os.listdir(m.mnt))
        self.assertEqual(listing, sorted(["new", "anchor", name248, "é" * 124,
                                          "字" * 82 + "xx", "with some spaces"]))
        self.check_anchor(sim, m)

    def test_huge_offsets_in_new(self):
        """pwrite at 2**40 into new/: a scratch file is sparse or refused with
        a clear errno; a prompt written there is refused, memory bounded."""
        sim, m = self.start_with_anchor()
        rss_before = daemon_rss(m)
        for filename in ("far.txt", "far.prompt"):
            with self.subTest(name=filename):
                tried.append("pwrite-2^40:" + filename)
                path = m.path("new", filename)
                fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
                try:
                    try:
                        n = os.pwrite(fd, b"far away", 2 ** 40)
                        self.assertEqual(n, 8)
                        wrote = True
                    except OSError as e:
                        self.assertIn(e.errno, (errno.EFBIG, errno.EINVAL, errno.ENOSPC))
                        wrote = False
                finally:
                    if filename.endswith(".prompt"):
                        try:
                            os.close(fd)
                            closed_ok = True
                        except OSError as e:
                            self.assertEqual(e.errno, errno.EINVAL)
                            closed_ok = False
                    else:
                        os.close(fd)
                if filename.endswith(".prompt"):
                    if wrote:
                        self.assertFalse(closed_ok, "a 1 TiB sparse prompt was accepted")
                        self.assertTrue(read_text(m.path("new", "far.error")).strip())
                    self.assertFalse(os.path.exists(m.path("far")))
                elif wrote:
                    self.assertEqual(os.stat(path).st_size, 2 ** 40 + 8)
                    with open(path, "rb") as f:
                        f.seek(2 ** 40)
                        self.assertEqual(f.read(), b"far away")
                os.unlink(path)
        self.assertLess(daemon_rss(m) - rss_before, 64 * MB)
        self.check_anchor(sim, m)


class MetadataTest(HostileCase):

    def test_metadata_calls_everywhere(self):
        """truncate, chmod, chown, symlink, link, mknod, mkdir, rename and
        setxattr on the root, new/, a task folder and its files: refused
        with a clear errno outside new/, and nothing changes."""
        sim, m = self.start_with_anchor()
        self.wait_video(m, "anchor")
        task = m.path("anchor")
        # thumbnail.webp may arrive any moment after the video: leave it out.
        files = sorted(set(os.listdir(task)) - {"thumbnail.webp"})
        # ctl is the one writable (write-only) file of a task folder.
        ro_files = [f for f in files if f != "ctl"]
        before = {f: read_bytes(os.path.join(task, f)) for f in ro_files}

        for f in ro_files:
            p = os.path.join(task, f)
            for op, call in (("truncate", lambda: os.truncate(p, 0)),
                             ("truncate-grow", lambda: os.truncate(p, 1 << 40)),
                             ("chmod", lambda: os.chmod(p, 0o777)),
                             ("chown", lambda: os.chown(p, 65534, 65534)),
                             ("utime", lambda: os.utime(p, (0, 0))),
                             ("rename-in", lambda: os.rename(p, p + ".x")),
                             ("rename-out", lambda: os.rename(p, m.path("new", "stolen"))),
                             ("rename-onto", lambda: os.rename(m.path("anchor", "prompt"), p)),
                             ("link", lambda: os.link(p, m.path("new", "hard"))),
                             ("setxattr", lambda: os.setxattr(p, "user.evil", b"1")),
                             ("setxattr-veofs", lambda: os.setxattr(p, "user.veofs.status",
                                                                     b"completed")),
                             ("setxattr-trusted", lambda: os.setxattr(p, "trusted.x", b"1")),
                             ("setxattr-security", lambda: os.setxattr(p, "security.x",
                                                                        b"1"))):
                if op == "rename-onto" and f == "prompt":
                    continue
                if op == "utime":
                    # touch on a read-only file: refused or harmless.
                    tried.append("%s:%s" % (op, f))
                    try:
                        call()
                    except OSError as e:
                        self.assertIn(e.errno, REFUSE)
                    continue
                with self.subTest(op=op, file=f):
                    tried.append("%s:%s" % (op, f))
                    expected = XATTR_REFUSE if op.startswith("setxattr") else \
                        REFUSE + ((errno.EXDEV,) if op in ("rename-out", "link") else ())
                    self.assertErrno(expected, call)
        for where, label in ((m.mnt, "root"), (task, "task")):
            for op, call in (("mkdir", lambda: os.mkdir(os.path.join(where, "d"))),
                             ("mknod", lambda: os.mkfifo(os.path.join(where, "fifo"))),
                             ("mknod-reg", lambda: os.mknod(os.path.join(where, "reg"),
                                                            stat.S_IFREG | 0o644)),
                             ("symlink", lambda: os.symlink("/etc/passwd",
                                                            os.path.join(where, "l"))),
                             ("create", lambda: os.open(os.path.join(where, "f"),
                                                        os.O_CREAT | os.O_WRONLY)),
                             ("chmod", lambda: os.chmod(where, 0o777)),
                             ("chown", lambda: os.chown(where, 65534, 65534)),
                             ("setxattr", lambda: os.setxattr(where, "user.evil", b"1")),
                             ("setxattr-veofs", lambda: os.setxattr(where, "user.veofs.id",
                                                                     b"x")),
                             ("removexattr", lambda: os.removexattr(where,
                                                                    "user.xdg.comment"))):
                with self.subTest(op=op, where=label):
                    tried.append("%s:%s" % (op, label))
                    self.assertErrno(XATTR_REFUSE + (errno.ENODATA,), call)
        with self.subTest(op="rename task onto new"):
            tried.append("rename:task-onto-new")
            self.assertErrno(REFUSE + (errno.EEXIST, errno.ENOTEMPTY, errno.EBUSY,
                                       errno.EINVAL, errno.EISDIR),
                             os.rename, task, m.path("new"))
        with self.subTest(op="rename task into new"):
            tried.append("rename:task-into-new")
            self.assertErrno(REFUSE + (errno.EXDEV, errno.EINVAL),
                             os.rename, task, m.path("new", "anchor"))
        with self.subTest(op="rmdir root"):
            tried.append("rmdir:root")
            self.assertErrno(REFUSE + (errno.EBUSY, errno.EINVAL), os.rmdir, m.mnt)

        # new/ itself: ordinary operations on scratch files work; things that
        # can't be a prompt are refused with a clear errno or are harmless.
        new = m.path("new")
        for op, call, ok_errnos in (
                ("mknod-fifo", lambda: os.mkfifo(os.path.join(new, "pipe.prompt")),
                 REFUSE + (errno.EINVAL, errno.ENOSYS)),
                ("mknod-fifo-scratch", lambda: os.mkfifo(os.path.join(new, "pipe")),
                 REFUSE + (errno.EINVAL, errno.ENOSYS)),
                ("symlink-prompt", lambda: os.symlink("/etc/passwd",
                                                      os.path.join(new, "pw.prompt")),
                 REFUSE + (errno.EINVAL, errno.ENOSYS)),
                ("link-prompt", lambda: os.link(m.path("anchor", "prompt"),
                                                os.path.join(new, "ln.prompt")),
                 REFUSE + (errno.EXDEV, errno.EINVAL)),
                ("setxattr-new", lambda: os.setxattr(new, "user.evil", b"1"), XATTR_REFUSE),
                ("chmod-new", lambda: os.chmod(new, 0o777), REFUSE),
                ("chown-new", lambda: os.chown(new, 65534, 65534), REFUSE)):
            with self.subTest(op=op):
                tried.append("new:" + op)
                try:
                    call()
                except OSError as e:
                    self.assertIn(e.errno, ok_errnos, "%s: %s" % (op, e))
        # Whatever got through, no task came of it.
        self.assertEqual(sorted(os.listdir(m.mnt)), ["anchor", "new"])
        scratch = m.path("new", "scratch.txt")
        write_file(scratch, "some scratch text\n")
        for op, call in (("truncate", lambda: os.truncate(scratch, 4)),
                         ("chmod", lambda: os.chmod(scratch, 0o600)),
                         ("setxattr", lambda: os.setxattr(scratch, "user.x", b"1"))):
            with self.subTest(op="scratch " + op):
                tried.append("scratch:" + op)
                try:
                    call()
                except OSError as e:
                    self.assertIn(e.errno, XATTR_REFUSE, "%s: %s" % (op, e))
        self.assertIn(read_text(scratch), ("some", "some scratch text\n"))

        # Still answering, nothing changed.
        self.assertEqual(sorted(set(os.listdir(task)) - {"thumbnail.webp"}), files)
        for f in ro_files:
            self.assertTrue(read_bytes(os.path.join(task, f)) == before[f] or
                            f in ("events", "status"), "%s changed" % f)
        self.run_tool(["ls", "-lR", m.mnt])
        self.check_anchor(sim, m)


class ConcurrencyTest(HostileCase):
    sim_duration = 3

    def test_1000_concurrent_writers(self):
        """1000 threads, each writing its own NAME.prompt at once: exactly
        1000 tasks and 1000 creates."""
        sim, m = self.start_with_anchor()
        count = 1000
        barrier = threading.Barrier(count, timeout=bound(60))
        errors = []

        def writer(i):
            try:
                barrier.wait()
                write_file(m.path("new", "w%04d.prompt" % i), "concurrent prompt %d\n" % i)
            except BaseException as e:  # collected and reported below
                errors.append((i, e))
        threads = [threading.Thread(target=writer, args=(i,), daemon=True)
                   for i in range(count)]
        old = threading.stack_size(256 * 1024)
        try:
            for t in threads:
                t.start()
        finally:
            threading.stack_size(old)
        for t in threads:
            t.join(bound(120))
        self.assertFalse(any(t.is_alive() for t in threads), "writers hung")
        tried.append("concurrent:1000")
        self.assertEqual(errors, [])
        names = [n for n in os.listdir(m.mnt) if n.startswith("w")]
        self.assertEqual(len(names), count)
        self.assertEqual([n for n in os.listdir(m.path("new"))], [])
        wait_until(lambda: sim.stats()["creates"] >= count + 1, 120,
                   "every task to be created at the API", interval=0.5)
        time.sleep(bound(1))
        stats = sim.stats()
        self.assertEqual(stats["creates"], count + 1)
        self.check_anchor(sim, m)

    def test_two_writers_same_name(self):
        """Two writers on the same NAME.prompt at once: exactly one task and
        one create, made from the text of the writer whose close said yes;
        the other writer is refused (EEXIST at open, or at close with its
        text kept in new/NAME.prompt.conflict and NAME.error saying so)."""
        sim, m = self.start_with_anchor()
        rounds = 20
        for r in range(rounds):
            name = "same%d" % r
            barrier = threading.Barrier(2, timeout=bound(30))
            results = {}
            texts = {k: "writer %d of round %d %s\n" % (k, r, str(k) * 2000) for k in (1, 2)}

            def writer(k):
                stage = "open"
                try:
                    barrier.wait()
                    fd = os.open(m.path("new", name + ".prompt"),
                                 os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
                    stage = "write"
                    try:
                        os.write(fd, texts[k].encode())
                    finally:
                        stage = "close"
                        os.close(fd)
                    results[k] = (None, None)
                except OSError as e:
                    results[k] = (stage, e.errno)
            ts = [threading.Thread(target=writer, args=(k,), daemon=True) for k in (1, 2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(bound(30))
            tried.append("same-name:" + name)
            with self.subTest(round=r):
                self.assertTrue(os.path.isdir(m.path(name)), "no task %s: %r" % (name, results))
                winners = [k for k, v in results.items() if v == (None, None)]
                self.assertEqual(len(winners), 1, "not exactly one close said yes: %r" % results)
                won, lost = winners[0], 3 - winners[0]
                text = read_text(m.path(name, "prompt"))
                self.assertEqual(text.rstrip("\n"), texts[won].rstrip("\n"),
                                 "the task is not the text of the writer told yes")
                stage, err = results[lost]
                self.assertEqual(err, errno.EEXIST, "the other writer got %r" % (results[lost],))
                if stage == "close":
                    kept = m.path("new", name + ".prompt.conflict")
                    self.assertEqual(read_text(kept), texts[lost],
                                     "the refused writer's text was dropped")
                    self.assertIn(name + ".prompt.conflict",
                                  read_text(m.path("new", name + ".error")))
        wait_until(lambda: sim.stats()["creates"] >= rounds + 1, 60, "the creates")
        time.sleep(bound(1))
        self.assertEqual(sim.stats()["creates"], rounds + 1)
        self.assertEqual(sorted(n for n in os.listdir(m.mnt) if n.startswith("same")),
                         sorted("same%d" % r for r in range(rounds)))
        self.check_anchor(sim, m)

    def test_later_close_of_a_consumed_prompt_keeps_its_text(self):
        """Two descriptors on one NAME.prompt, both written, closed in turn:
        the first close makes the task from its own words, the second fails
        with EEXIST and its words wait in new/NAME.prompt.conflict."""
        sim, m = self.start_with_anchor()
        path = m.path("new", "both.prompt")
        a = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        b = os.open(path, os.O_WRONLY)
        os.write(a, b"the words of the first writer\n")
        os.write(b, b"the second writer, who wrote over them\n")
        os.close(a)
        with self.assertRaises(OSError) as cm:
            os.close(b)
        self.assertEqual(cm.exception.errno, errno.EEXIST)
        self.assertEqual(read_text(m.path("both", "prompt")).rstrip("\n"),
                         "the words of the first writer")
        self.assertEqual(read_text(m.path("new", "both.prompt.conflict")),
                         "the second writer, who wrote over them\n")
        self.assertIn("both.prompt.conflict", read_text(m.path("new", "both.error")))
        wait_until(lambda: sim.stats()["creates"] >= 2, 30, "the create")
        time.sleep(bound(1))
        self.assertEqual(sim.stats()["creates"], 2)
        self.check_anchor(sim, m)

    def test_rmdir_while_reading_video(self):
        """rmdir of a task while another thread reads its video: the reader
        gets its bytes or a clean error, the daemon lives on."""
        sim, m = self.start_with_anchor(video_bytes=20000000)
        self.submit(m, "victim", "a video read while it is removed")
        video = self.wait_video(m, "victim", timeout=90)
        ref = sim.content(self.task_id(m, "victim"))
        outcome = {}
        started = threading.Event()

        def reader():
            got = bytearray()
            try:
                with open(video, "rb", buffering=0) as f:
                    while True:
                        chunk = f.read(256 * 1024)
                        started.set()
                        if not chunk:
                            break
                        got += chunk
                        time.sleep(0.002)
                outcome["bytes"] = bytes(got)
            except OSError as e:
                outcome["error"] = e
                outcome["bytes"] = bytes(got)
            started.set()
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        self.assertTrue(started.wait(bound(30)))
        tried.append("rmdir-while-reading")
        self.sh('rm -r "%s"' % m.path("victim"))
        t.join(bound(60))
        self.assertFalse(t.is_alive(), "the reader hung after rmdir")
        got = outcome["bytes"]
        self.assertTrue(ref.startswith(got), "the reader got bytes that are not the video's")
        if "error" not in outcome:
            self.assertEqual(len(got), len(ref), "a short read without an error")
        else:
            self.assertIn(outcome["error"].errno, (errno.EIO, errno.ENOENT, errno.ESTALE),
                          outcome["error"])
        self.assertFalse(os.path.exists(m.path("victim")))
        self.assertFalse(os.path.exists(os.path.join(m.state_dir, "tasks", "victim")))
        self.check_anchor(sim, m)
        harness.log("hostile: %d inputs tried in this file's run" % len(tried))


def tearDownModule():
    harness.log("hostile: %d inputs tried" % len(tried))


class LimitedMount(harness.Mount):
    """veofs started with a hard limit of 128 open files."""

    def argv(self):
        return ["prlimit", "--nofile=128:128"] + super().argv()


class DescriptorTest(HostileCase):
    """Any user of an allow_other mount can open files as often as they
    like: veofs must neither run out of descriptors over it nor answer
    "no such file" when it does run out."""

    def limited_mount(self, sim):
        if not shutil.which("prlimit"):
            self.skipTest("prlimit is not installed")
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < 4096:
            self.skipTest("this test needs 4096 descriptors of its own")
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        m = LimitedMount(self._logdir, os.path.join(self.tmp, "mnt"),
                         state_dir=os.path.join(self.tmp, "state"), base_url=sim.api,
                         options=dict(self.mount_options), env=self.env, name="limited")
        self.addCleanup(m.teardown)
        return m.start()

    def test_a_video_opened_thousands_of_times_holds_one_descriptor(self):
        sim = self.start_sim()
        m = self.limited_mount(sim)
        self.submit(m, "film", "a video opened over and over")
        self.wait_video(m, "film")
        video = m.path("film", "video.mp4")
        want = read_bytes(video)
        fds = []
        try:
            for _ in range(3000):
                fds.append(os.open(video, os.O_RDONLY))
            for fd in (fds[0], fds[1500], fds[-1]):
                self.assertEqual(os.pread(fd, len(want) + 10, 0), want)
            # veofs is still well: a new task comes and goes.
            self.submit(m, "after", "a prompt while the video is held open")
            self.wait_submitted(m, "after")
        finally:
            for fd in fds:
                os.close(fd)

    def test_running_out_says_emfile_never_enoent(self):
        sim = self.start_sim()
        m = self.limited_mount(sim)
        self.submit(m, "film", "a video")
        self.wait_video(m, "film")
        held, errors = [], set()
        try:
            for k in range(400):
                try:
                    held.append(os.open(m.path("new", "scratch%d" % k),
                                        os.O_CREAT | os.O_RDWR, 0o644))
                except OSError as e:
                    errors.add(e.errno)
            self.assertTrue(errors, "128 descriptors were never exhausted")
            self.assertLessEqual(errors, {errno.EMFILE, errno.ENFILE},
                                 "running out of descriptors said %r" %
                                 [errno.errorcode[e] for e in errors])
            for path in (m.path("film", "video.mp4"), m.path("new", "scratch0")):
                try:
                    os.close(os.open(path, os.O_RDONLY))
                except OSError as e:
                    self.assertNotEqual(e.errno, errno.ENOENT,
                                        "%s: ENOENT for a file that is there" % path)
        finally:
            for fd in held:
                os.close(fd)
        # Descriptors back: everything works again.
        self.submit(m, "later", "a prompt once descriptors are free")
        self.wait_submitted(m, "later")
        self.assertEqual(read_bytes(m.path("film", "video.mp4")), sim.content(self.task_id(m, "film")))


if __name__ == "__main__":
    harness.main()
