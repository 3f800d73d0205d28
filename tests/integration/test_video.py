#!/usr/bin/env python3
"""video.mp4 is an ordinary seekable file: mmap, pread, cp, even while it is
still arriving (contract section 3, "Reading videos")."""

import json
import mmap
import os
import random
import shutil
import subprocess

import harness
from harness import read_bytes, wait_until

LARGE = 50000000


def pread_all(fd, size, offset):
    """pread until size bytes or end of file (a short read is allowed by
    POSIX; we only care that the bytes are right)."""
    out = b""
    while len(out) < size:
        chunk = os.pread(fd, size - len(out), offset + len(out))
        if not chunk:
            break
        out += chunk
    return out


class MmapTest(harness.VeofsTestCase):
    sim_duration = 2

    def test_mmap_and_pread_match_the_reference(self):
        sim, m = self.sim_and_mount()
        self.submit(m, "job", "a jellyfish in blue light")
        video = self.wait_video(m, "job")
        ref = sim.content(self.task_id(m, "job"))
        got = read_bytes(video)
        self.assertTrue(got == ref, "read() differs from the simulator's bytes")
        with open(video, "rb") as f:
            self.assertEqual(os.fstat(f.fileno()).st_size, len(ref))
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                self.assertEqual(len(mm), len(ref))
                self.assertTrue(mm[:] == got, "mmap differs from read()")
                self.assertEqual(mm[len(ref) // 2:len(ref) // 2 + 100],
                                 ref[len(ref) // 2:len(ref) // 2 + 100])
        rnd = random.Random(20240601)
        offsets = [0, 1, 4095, 4096, len(ref) // 3, len(ref) // 2, len(ref) - 4096,
                   len(ref) - 1] + [rnd.randrange(len(ref)) for _ in range(20)]
        fd = os.open(video, os.O_RDONLY)
        try:
            for off in offsets:
                off = max(0, off)
                for size in (1, 777, 65536):
                    self.assertEqual(pread_all(fd, size, off), ref[off:off + size],
                                     "pread(%d, %d)" % (size, off))
            self.assertEqual(os.pread(fd, 100, len(ref)), b"", "read at EOF")
            self.assertEqual(os.pread(fd, 100, len(ref) + 12345), b"", "read past EOF")
        finally:
            os.close(fd)


class RequestedShapeTest(harness.VeofsTestCase):
    """seconds and size reach the provider: the simulator serves a clip of
    the requested length and aspect, which ffprobe reads back."""
    sim_duration = 1

    def probe(self, path):
        r = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0",
                            "-show_entries", "stream=width,height:format=duration",
                            "-of", "json", path], capture_output=True,
                           timeout=harness.bound(60))
        self.assertEqual(r.returncode, 0, r.stderr)
        info = json.loads(r.stdout)
        st = info["streams"][0]
        return float(info["format"]["duration"]), st["width"], st["height"]

    def test_seconds_and_size_reach_the_provider(self):
        if not shutil.which("ffprobe"):
            self.skipTest("ffprobe is not installed")
        sim, m = self.sim_and_mount()
        for name, seconds, size, portrait in (("wide", 4, "1280x720", False),
                                              ("tall", 12, "720x1280", True),
                                              ("eight", 8, "9x16", True)):
            harness.write_file(m.path("new", name + ".prompt"),
                               "---\nseconds: %d\nsize: %s\n---\na %s clip\n"
                               % (seconds, size, name))
        for name, seconds, size, portrait in (("wide", 4, "1280x720", False),
                                              ("tall", 12, "720x1280", True),
                                              ("eight", 8, "9x16", True)):
            with self.subTest(task=name):
                path = self.wait_video(m, name)
                duration, width, height = self.probe(path)
                self.assertAlmostEqual(duration, seconds, delta=0.6)
                self.assertEqual(height > width, portrait, "%dx%d" % (width, height))


class LargeVideoTest(harness.VeofsTestCase):
    sim_duration = 2

    def start_large(self, **sim_kw):
        sim = self.start_sim(video_bytes=LARGE, latency=0, **sim_kw)
        return sim, self.mount(sim)

    def test_cp_right_after_completed(self):
        sim, m = self.start_large()
        self.submit(m, "big", "a very long river")
        self.wait_completed(m, "big", timeout=90)
        video = wait_until(lambda: os.path.exists(m.path("big", "video.mp4"))
                           and m.path("big", "video.mp4"), 30, "video.mp4")
        size_at_once = os.stat(video).st_size
        out = os.path.join(self.tmp, "copy.mp4")
        self.run_tool(["cp", video, out], timeout=180)
        ref = sim.content(self.task_id(m, "big"))
        self.assertGreaterEqual(len(ref), LARGE * 9 // 10)
        self.assertEqual(size_at_once, len(ref), "video.mp4 must have its real size at once")
        self.assertEqual(os.path.getsize(out), len(ref))
        self.assertTrue(read_bytes(out) == ref, "the copy differs from the simulator's bytes")
        self.assertEqual(harness.ffprobe(out).returncode, 0)

    def far_reads_right_after_completed(self, sim, m):
        self.submit(m, "far", "a very long road")
        self.wait_completed(m, "far", timeout=90)
        video = wait_until(lambda: os.path.exists(m.path("far", "video.mp4"))
                           and m.path("far", "video.mp4"), 30, "video.mp4")
        fd = os.open(video, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            near_end = pread_all(fd, 4096, size - 4096)
            middle = pread_all(fd, 65536, size * 4 // 5)
            start = pread_all(fd, 4096, 0)
        finally:
            os.close(fd)
        ref = sim.content(self.task_id(m, "far"))
        self.assertEqual(size, len(ref))
        self.assertTrue(near_end == ref[-4096:], "the last 4 KiB differ")
        self.assertTrue(middle == ref[size * 4 // 5:size * 4 // 5 + 65536])
        self.assertTrue(start == ref[:4096])
        self.assertTrue(read_bytes(m.path("far", "video.mp4")) == ref)

    def test_far_read_with_ranges(self):
        self.far_reads_right_after_completed(*self.start_large())

    def test_far_read_without_ranges(self):
        self.far_reads_right_after_completed(*self.start_large(no_range=True))


if __name__ == "__main__":
    harness.main()
