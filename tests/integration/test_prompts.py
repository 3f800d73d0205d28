#!/usr/bin/env python3
"""Writing prompts in new/: editor saves, cp, mv, front matter, prompts that
are refused locally, and names that are refused (contract section 3)."""

import errno
import os
import shutil
import subprocess

import harness
from harness import read_bytes, read_text, wait_until, write_file


class EditorSaveTest(harness.VeofsTestCase):
    sim_duration = 2

    def test_editor_cp_and_mv_saves(self):
        sim, m = self.sim_and_mount()
        new = m.path("new")

        # vim probes whether it may create files in the directory.
        write_file(os.path.join(new, "4913"), b"")
        os.unlink(os.path.join(new, "4913"))
        self.assertNotIn("4913", os.listdir(new))

        # The swap file lives beside the prompt while editing.
        swp = os.path.join(new, ".job.prompt.swp")
        write_file(swp, b"b0VIM 9.0\x00\x00swap contents")
        self.assertEqual(read_bytes(swp), b"b0VIM 9.0\x00\x00swap contents")

        # Write a temporary, fsync it, rename it over the real name.
        tmp = os.path.join(new, "job.prompt.tmp")
        write_file(tmp, "an owl reading a newspaper\n", fsync=True)
        self.assertEqual(read_text(tmp), "an owl reading a newspaper\n")
        os.rename(tmp, os.path.join(new, "job.prompt"))
        self.assertTrue(os.path.isdir(m.path("job")), "rename to job.prompt did not submit")
        listing = os.listdir(new)
        self.assertNotIn("job.prompt", listing)
        self.assertNotIn("job.prompt.tmp", listing)
        self.assertIn(".job.prompt.swp", listing)
        os.unlink(swp)
        self.assertNotIn(".job.prompt.swp", os.listdir(new))

        # A backup copy is a scratch file and stays one.
        backup = os.path.join(new, "bk.prompt~")
        write_file(backup, "the old text\n")
        self.assertIn("bk.prompt~", os.listdir(new))
        self.assertEqual(read_text(backup), "the old text\n")
        self.assertFalse(os.path.exists(m.path("bk")))
        self.assertFalse(os.path.exists(m.path("bk.prompt~")))

        # GNOME's atomic save.
        gtmp = os.path.join(new, ".goutputstream-X1Y2Z3")
        write_file(gtmp, "a paper boat in the rain\n")
        os.rename(gtmp, os.path.join(new, "ged.prompt"))
        self.assertTrue(os.path.isdir(m.path("ged")))

        # cp from elsewhere.
        src = os.path.join(self.tmp, "x.prompt")
        with open(src, "w") as f:
            f.write("a red kite over the hills\n")
        self.run_tool(["cp", src, m.path("new", "cpjob.prompt")])
        self.assertTrue(os.path.isdir(m.path("cpjob")), "cp did not submit")

        # mv of a scratch file in new/ to NAME.prompt.
        write_file(os.path.join(new, "draft.txt"), "a cat on a mat\n")
        self.assertFalse(os.path.exists(m.path("draft")))
        self.run_tool(["mv", os.path.join(new, "draft.txt"), m.path("new", "mvjob.prompt")])
        self.assertTrue(os.path.isdir(m.path("mvjob")), "mv did not submit")
        self.assertNotIn("draft.txt", os.listdir(new))

        expected = {"job": "an owl reading a newspaper", "ged": "a paper boat in the rain",
                    "cpjob": "a red kite over the hills", "mvjob": "a cat on a mat"}
        for name, text in expected.items():
            video_id = self.wait_submitted(m, name)
            self.assertEqual(sim.job(video_id).get("prompt"), text)
        self.assertEqual(sim.stats()["creates"], len(expected),
                         "scratch files must never be sent")
        self.assertEqual(sorted(os.listdir(new)), ["bk.prompt~"])
        tasks = sorted(e for e in os.listdir(m.mnt) if e != "new")
        self.assertEqual(tasks, sorted(expected))


class FrontMatterTest(harness.VeofsTestCase):
    sim_duration = 2

    def test_options_reach_the_api(self):
        sim, m = self.sim_and_mount()
        write_file(m.path("new", "cow.prompt"),
                   "---\nmodel: veo-3.1-fast\nseconds: 4\nsize: 9x16\nwatermark: true\n---\n"
                   "A cheerful cow doing the Kemusan dance\n")
        job = sim.job(self.wait_submitted(m, "cow"))
        self.assertEqual(job.get("model"), "veo-3.1-fast")
        self.assertEqual(str(job.get("seconds")), "4")
        self.assertEqual(job.get("size"), "9x16")
        self.assertEqual(str(job.get("watermark")).lower(), "true")
        self.assertEqual(job.get("prompt"), "A cheerful cow doing the Kemusan dance")
        self.assertEqual(job.get("input_reference_kind"), "none",
                         "no image was named: %r" % job)

    def test_defaults_when_no_front_matter(self):
        sim, m = self.sim_and_mount()
        write_file(m.path("new", "plain.prompt"), "a plain prompt\n")
        job = sim.job(self.wait_submitted(m, "plain"))
        self.assertEqual(job.get("model"), "veo-3.1")
        self.assertEqual(str(job.get("seconds")), "8")
        self.assertEqual(job.get("size"), "1280x720")

    def test_image_file_is_sent_as_file_part(self):
        sim, m = self.sim_and_mount()
        png = os.path.join(self.tmp, "dot.png")
        with open(png, "wb") as f:
            f.write(harness.minimal_png())
        write_file(m.path("new", "img.prompt"),
                   "---\nimage: %s\n---\nthe dot grows into a sun\n" % png)
        job = sim.job(self.wait_submitted(m, "img"))
        self.assertEqual(job.get("input_reference_kind"), "file", "job: %r" % job)
        self.assertEqual(job.get("prompt"), "the dot grows into a sun")
        data = harness.minimal_png()
        self.assertEqual(job.get("input_reference_bytes"), len(data))
        self.assertEqual(job.get("input_reference_fnv1a"), "%016x" % fnv1a64(data),
                         "the image arrived changed")
        self.assertEqual(job.get("input_reference_content_type"), "image/png")

    def test_image_url_is_sent_as_string(self):
        sim, m = self.sim_and_mount()
        url = "https://example.com/x.png"
        write_file(m.path("new", "url.prompt"),
                   "---\nimage: %s\n---\na postcard comes alive\n" % url)
        job = sim.job(self.wait_submitted(m, "url"))
        self.assertEqual(job.get("input_reference_kind"), "url", "job: %r" % job)
        self.assertEqual(job.get("input_reference_url"), url, "job: %r" % job)


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


REJECTED = [
    # name, bytes, words of which the reason must contain one
    ("empty", b"", ("empty",)),
    ("blank", b"  \n\t\n   \n", ("empty", "blank", "whitespace")),
    ("unknownkey", b"---\ncolor: red\n---\na red balloon\n", ("color",)),
    ("badseconds", b"---\nseconds: 7\n---\na seven second clip\n", ("seconds",)),
    ("notutf8", b"caf\xe9 au lait on a table\n", ("utf-8", "utf8", "utf")),
    ("toolong", b"a" * 32001 + b"\n", ("32000", "long", "too many")),
]


class RejectedPromptTest(harness.VeofsTestCase):
    sim_duration = 2

    def test_rejected_prompts_stay_with_a_reason(self):
        sim, m = self.sim_and_mount()
        new = m.path("new")
        for name, data, words in REJECTED:
            with self.subTest(prompt=name):
                path = os.path.join(new, name + ".prompt")
                self.assertErrno(errno.EINVAL, write_file, path, data)
                listing = os.listdir(new)
                self.assertIn(name + ".prompt", listing, "the refused prompt must stay")
                self.assertEqual(read_bytes(path), data, "the refused text must stay as written")
                self.assertIn(name + ".error", listing, "new/%s.error missing" % name)
                reason = read_text(os.path.join(new, name + ".error")).lower()
                self.assertTrue(reason.strip(), "empty error file")
                self.assertTrue(any(w in reason for w in words),
                                "reason %r should mention one of %s" % (reason, words))
                self.assertFalse(os.path.exists(m.path(name)), "a refused prompt made a task")
        self.assertEqual(sim.stats()["creates"], 0)
        self.assertEqual(sim.stats().get("create_requests", 0), 0)

        # Fixing and saving again submits, and the reason goes away.
        for name, _, _ in REJECTED:
            with self.subTest(fixed=name):
                path = os.path.join(new, name + ".prompt")
                if name == "empty":
                    self.sh('echo "now with words" > "%s"' % path)
                else:
                    write_file(path, "the fixed prompt for %s\n" % name)
                self.assertTrue(os.path.isdir(m.path(name)), "fixed prompt did not submit")
                listing = os.listdir(new)
                self.assertNotIn(name + ".prompt", listing)
                self.assertNotIn(name + ".error", listing, "the stale reason stayed")
        for name, _, _ in REJECTED:
            self.wait_submitted(m, name)
        self.assertEqual(sim.stats()["creates"], len(REJECTED))

    def test_unreadable_image_is_refused(self):
        sim, m = self.sim_and_mount()
        missing = os.path.join(self.tmp, "no-such-image.png")
        path = m.path("new", "noimg.prompt")
        self.assertErrno(errno.EINVAL, write_file, path,
                         "---\nimage: %s\n---\na missing picture\n" % missing)
        reason = read_text(m.path("new", "noimg.error"))
        self.assertIn("no-such-image.png", reason)
        self.assertFalse(os.path.exists(m.path("noimg")))
        self.assertEqual(sim.stats()["creates"], 0)


class HalfDoneTest(harness.VeofsTestCase):
    """Renames and truncates either happen whole or not at all, and a
    refusal's explanation lives exactly as long as what it explains."""
    sim_duration = 2

    def test_refused_mv_changes_nothing(self):
        sim, m = self.sim_and_mount()
        draft = m.path("new", "draft.txt")
        write_file(draft, "---\ncolour: red\n---\na cow\n")
        r = subprocess.run(["mv", draft, m.path("new", "cow.prompt")],
                           capture_output=True, timeout=harness.bound(30))
        self.assertNotEqual(r.returncode, 0, "mv of a refused prompt said yes")
        self.assertIn(b"Operation not permitted", r.stderr)
        self.assertNotIn(b"cannot stat", r.stderr)
        self.assertEqual(read_text(draft), "---\ncolour: red\n---\na cow\n")
        self.assertFalse(os.path.exists(m.path("new", "cow.prompt")))
        self.assertIn("colour", read_text(m.path("new", "cow.error")))
        # Python's os.replace: the temporary is still there to fix.
        tmp = m.path("new", ".cow.prompt.tmp")
        write_file(tmp, "")
        with self.assertRaises(OSError) as cm:
            os.replace(tmp, m.path("new", "cow.prompt"))
        self.assertEqual(cm.exception.errno, errno.EPERM)
        self.assertTrue(os.path.exists(tmp))
        # Fixed, the same move submits.
        write_file(draft, "a cow, fixed\n")
        subprocess.run(["mv", draft, m.path("new", "cow.prompt")], check=True,
                       timeout=harness.bound(30))
        self.wait_submitted(m, "cow")
        self.assertEqual(read_text(m.path("cow", "prompt")).strip(), "a cow, fixed")
        self.assertFalse(os.path.exists(m.path("new", "cow.error")))

    def test_truncate_by_path_in_new(self):
        sim, m = self.sim_and_mount()
        scratch = m.path("new", "notes.txt")
        write_file(scratch, "some notes\n")
        r = subprocess.run(["truncate", "-s", "4", scratch], capture_output=True,
                           timeout=harness.bound(30))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(read_text(scratch), "some")
        os.truncate(scratch, 0)
        self.assertEqual(read_text(scratch), "")

    def test_error_files_follow_their_prompt(self):
        sim, m = self.sim_and_mount()
        for name in ("gone", "moved"):
            with self.assertRaises(OSError):
                write_file(m.path("new", name + ".prompt"), "")
            err = m.path("new", name + ".error")
            self.assertTrue(os.path.exists(err))
            self.assertEqual(os.stat(err).st_mode & 0o777,
                             os.stat(m.path("new", name + ".prompt")).st_mode & 0o777,
                             "the error file is less readable than its prompt")
        os.unlink(m.path("new", "gone.prompt"))
        self.assertFalse(os.path.exists(m.path("new", "gone.error")))
        os.rename(m.path("new", "moved.prompt"), m.path("new", "moved.txt"))
        self.assertFalse(os.path.exists(m.path("new", "moved.error")))


class NameTest(harness.VeofsTestCase):
    sim_duration = 2

    def test_existing_task_name_gives_eexist(self):
        sim, m = self.sim_and_mount()
        self.submit(m, "job", "first version")
        path = m.path("new", "job.prompt")
        self.assertErrno(errno.EEXIST, os.open, path, os.O_CREAT | os.O_WRONLY)
        self.assertErrno(errno.EEXIST, os.open, path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC)
        self.assertErrno(errno.EEXIST, os.open, path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        r = self.sh('echo "second version" > "%s"' % path, check=False)
        self.assertNotEqual(r.returncode, 0, "the shell redirection should fail")
        # Renaming a scratch file onto the name creates it too.
        scratch = m.path("new", "second.txt")
        write_file(scratch, "second version\n")
        self.assertErrno(errno.EEXIST, os.rename, scratch, path)
        self.assertEqual(read_text(scratch), "second version\n")
        self.wait_submitted(m, "job")
        self.assertEqual(read_text(m.path("job", "prompt")).rstrip("\n"), "first version")
        self.assertEqual(sim.stats()["creates"], 1)

    def test_refused_names(self):
        sim, m = self.sim_and_mount()
        for filename in ("new.prompt", ".hidden.prompt", ".prompt"):
            with self.subTest(name=filename):
                path = m.path("new", filename)
                self.assertErrno(errno.EINVAL, write_file, path, "a refused name\n")
        self.assertEqual(sorted(os.listdir(m.mnt)), ["new"])
        self.assertEqual(sim.stats()["creates"], 0)

    def test_scratch_names_work(self):
        sim, m = self.sim_and_mount()
        new = m.path("new")
        for filename in ("notes.txt", ".hidden.prompt.swp", "new.prompt~", "4913",
                         ".goutputstream-ABC123", "x.prompt.bak"):
            with self.subTest(name=filename):
                path = os.path.join(new, filename)
                write_file(path, "scratch %s\n" % filename)
                with open(path, "ab") as f:
                    f.write(b"more\n")
                self.assertEqual(read_text(path), "scratch %s\nmore\n" % filename)
                self.assertEqual(os.stat(path).st_size, len("scratch %s\nmore\n" % filename))
                moved = path + ".moved"
                os.rename(path, moved)
                self.assertEqual(read_text(moved), "scratch %s\nmore\n" % filename)
                os.unlink(moved)
                self.assertNotIn(os.path.basename(moved), os.listdir(new))
        self.assertEqual(os.listdir(new), [])
        self.assertEqual(sorted(os.listdir(m.mnt)), ["new"])
        self.assertEqual(sim.stats()["creates"], 0)


if __name__ == "__main__":
    harness.main()
