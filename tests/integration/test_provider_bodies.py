#!/usr/bin/env python3
"""A provider whose answers are wrong in ways the simulator does not play:
bodies that are not videos, hints that would stop polling, servers that
trickle, answers too big to keep, prompts that must never be sent empty.
Each test runs a real mount against a small fake provider on 127.0.0.1
whose exact bytes the test chooses."""

import errno
import gzip
import http.server
import json
import os
import socketserver
import struct
import threading
import time
import unittest

import harness
from harness import bound, read_bytes, read_text, wait_until, write_file

HERE = os.path.dirname(os.path.abspath(__file__))
BASE_MP4 = os.path.join(HERE, "..", "..", "src", "sim", "assets", "clip_4s_land.mp4")


def mp4_bytes(pad=0, tag=b""):
    """The simulator's real MP4, made distinct by a trailing free box."""
    data = read_bytes(BASE_MP4)
    body = tag + b"\0" * pad
    return data + struct.pack(">I", 8 + len(body)) + b"free" + body


def webm_bytes():
    # EBML header (magic 1A 45 DF A3), DocType "webm", then a Segment.
    ebml = bytes.fromhex("1a45dfa3") + bytes([0x9f]) + bytes.fromhex(
        "4286810142f7810142f2810442f381084282847765626d4287810442858102")
    return ebml + bytes.fromhex("18538067") + b"\x01\x00\x00\x00\x00\x00\x00\x10" + b"\0" * 16


def video_object(vid, status="completed", progress=100, **extra):
    o = {"id": vid, "object": "video", "model": "sora-2", "status": status,
         "progress": progress, "created_at": int(time.time()), "seconds": "4",
         "size": "720x1280"}
    o.update(extra)
    return o


class FakeProvider:
    """POST /v1/videos makes video_N (queued); GET /v1/videos/ID answers
    poll(vid, n) -> (code, headers, body); GET .../content answers
    content(vid, n, handler), which writes the whole answer itself. n counts
    the requests of that kind for that id, from 0."""

    def __init__(self, content=None, poll=None):
        self.content = content or (lambda vid, n, h: h.send(200, {"Content-Type": "video/mp4"},
                                                            mp4_bytes()))
        self.poll = poll or (lambda vid, n: (200, {}, video_object(vid)))
        self.requests = []        # (method, path)
        self.prompts = []         # the prompt field of every create
        self.counts = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thumbnail = None     # thumbnail(vid, handler) for ?variant=
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle(self):
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass        # veofs cut a body it did not want

            def send(self, code, headers, body):
                if isinstance(body, (dict, list)):
                    body = json.dumps(body).encode()
                    headers = dict({"Content-Type": "application/json"}, **headers)
                self.send_response(code)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def read_body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().strip() or b"0", 16)
                        out += self.rfile.read(size + 2)[:size]
                        if size == 0:
                            return out
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def count(self, key):
                with fake.lock:
                    n = fake.counts.get(key, 0)
                    fake.counts[key] = n + 1
                    return n

            def do_POST(self):
                body = self.read_body()
                prompt = None
                marker = b'name="prompt"\r\n\r\n'
                if marker in body:
                    rest = body.split(marker, 1)[1]
                    prompt = rest.split(b"\r\n--", 1)[0].decode("utf-8", "replace")
                with fake.lock:
                    fake.requests.append(("POST", self.path))
                    fake.prompts.append(prompt)
                    vid = "video_%d" % len(fake.prompts)
                self.send(200, {}, video_object(vid, "queued", 0))

            def do_GET(self):
                with fake.lock:
                    fake.requests.append(("GET", self.path))
                parts = self.path.split("?")[0].split("/")
                try:
                    if parts[-1] == "content" and "variant=" in self.path:
                        if fake.thumbnail:
                            fake.thumbnail(parts[-2], self)
                        else:
                            self.send(404, {}, {"error": {"message": "no thumbnail"}})
                    elif parts[-1] == "content":
                        vid = parts[-2]
                        fake.content(vid, self.count(("content", vid)), self)
                    elif parts[1] == "files":
                        fake.content(parts[-1], self.count(("file", parts[-1])), self)
                    else:
                        vid = parts[-1]
                        code, headers, body = fake.poll(vid, self.count(("poll", vid)))
                        self.send(code, headers, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def api(self):
        return "http://127.0.0.1:%d/v1" % self.port

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def count(self, kind, vid):
        with self.lock:
            return self.counts.get((kind, vid), 0)

    def posts(self):
        with self.lock:
            return len([r for r in self.requests if r[0] == "POST"])


def trickle(h, body, fast=0, every=0.5, stop=None):
    """Answer body: its first `fast` bytes at once, then one byte per `every`
    seconds until the end or until stop is set."""
    h.send_response(200)
    h.send_header("Content-Type", "video/mp4")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body[:fast])
    h.wfile.flush()
    for i in range(fast, len(body)):
        if stop is not None and stop.is_set():
            return
        time.sleep(every)
        h.wfile.write(body[i:i + 1])
        h.wfile.flush()


class ProviderCase(harness.VeofsTestCase):
    mount_options = {"interval": "1", "max_interval": "1", "timeout": "5"}

    def provider(self, **kw):
        fake = FakeProvider(**kw).start()
        self.addCleanup(fake.stop)
        return fake

    def mount_on(self, fake, options=None, **kw):
        opts = {"base_url": fake.api}
        opts.update(options or {})
        return self.mount(None, options=opts, **kw)


class ContentBodyTest(ProviderCase):
    """/content bodies are judged by their bytes, not their labels."""

    def check_not_ready_then_video(self, label):
        real = mp4_bytes(tag=b"real")
        not_ready = json.dumps({"error": {"message": "still processing"}}).encode()

        def content(vid, n, h):
            if n < 2:
                h.send(200, {"Content-Type": label}, not_ready)
            else:
                h.send(200, {"Content-Type": "video/mp4"}, real)
        fake = self.provider(content=content)
        m = self.mount_on(fake)
        self.submit(m, "job", "a body that is not a video")
        # Never completed with the JSON as its video.
        def seen():
            line = self.status(m, "job")
            if line.startswith("completed") and os.path.exists(m.path("job", "video.mp4")):
                data = read_bytes(m.path("job", "video.mp4"))
                self.assertNotIn(b"still processing", data, "JSON published as the video")
                return data == real
            return False
        wait_until(seen, 30, "the real video")
        self.assertGreaterEqual(fake.count("content", "video_1"), 3)
        self.assertIn("still processing", m.log_text())

    def test_json_labelled_octet_stream_is_not_ready(self):
        self.check_not_ready_then_video("application/octet-stream")

    def test_json_labelled_video_mp4_is_not_ready(self):
        self.check_not_ready_then_video("video/mp4")

    def test_json_url_labelled_as_video_is_followed(self):
        real = mp4_bytes(tag=b"linked")

        def content(vid, n, h):
            if h.path.startswith("/files/"):
                h.send(200, {"Content-Type": "video/mp4"}, real)
            else:
                link = "http://127.0.0.1:%d/files/%s.mp4" % (fake.port, vid)
                h.send(200, {"Content-Type": "application/octet-stream"},
                       json.dumps({"url": link}).encode())
        fake = self.provider(content=content)
        m = self.mount_on(fake)
        self.submit(m, "job", "a link labelled as a video")
        path = self.wait_video(m, "job", timeout=30)
        self.assertEqual(read_bytes(path), real)

    def test_gzip_encoded_mp4_is_decoded(self):
        real = mp4_bytes(pad=20000, tag=b"gzipped")

        def content(vid, n, h):
            h.send(200, {"Content-Type": "video/mp4", "Content-Encoding": "gzip"},
                   gzip.compress(real))
        fake = self.provider(content=content)
        m = self.mount_on(fake)
        self.submit(m, "job", "a compressed video")
        path = self.wait_video(m, "job", timeout=30)
        wait_until(lambda: "video.mp4 saved" in read_text(m.path("job", "events")), 20,
                   "the whole video")
        self.assertEqual(read_bytes(path), real)

    def test_webm_is_published_as_video_webm(self):
        real = webm_bytes()
        fake = self.provider(content=lambda vid, n, h: h.send(
            200, {"Content-Type": "application/octet-stream"}, real))
        m = self.mount_on(fake)
        self.submit(m, "job", "a WebM video")
        self.wait_completed(m, "job", timeout=30)
        wait_until(lambda: "saved" in read_text(m.path("job", "events")), 20, "the video")
        self.assertEqual(read_bytes(m.path("job", "video.webm")), real)
        self.assertNotIn("video.mp4", os.listdir(m.path("job")))

    def test_text_fails_the_task_with_what_came(self):
        fake = self.provider(content=lambda vid, n, h: h.send(
            200, {"Content-Type": "text/plain"}, b"enim ipsum dolor"))
        m = self.mount_on(fake)
        self.submit(m, "job", "a text body")
        line = self.wait_state(m, "job", "failed", timeout=40)
        self.assertIn("the provider sent 16 bytes of text/plain", line)
        self.assertIn("enim ipsum", line)
        self.assertIn("enim ipsum", read_text(m.path("job", "error")))
        self.assertFalse(os.path.exists(m.path("job", "video.mp4")))
        self.assertIn("16 bytes of text/plain", m.log_text())
        n = fake.count("content", "video_1")
        self.assertLessEqual(n, 8)
        time.sleep(bound(3))
        self.assertEqual(fake.count("content", "video_1"), n, "still downloading")

    def test_a_wrong_published_video_is_fetched_again(self):
        """A JSON body an older veofs saved as video.mp4 is replaced by the
        real video after a restart; ctl refresh downloads a completed video
        again, the old one readable until the new one is whole."""
        first, second = mp4_bytes(tag=b"first"), mp4_bytes(tag=b"second")
        gate = threading.Event()

        def content(vid, n, h):
            if n >= 2:
                gate.wait(bound(30))
                h.send(200, {"Content-Type": "video/mp4"}, second)
            else:
                h.send(200, {"Content-Type": "video/mp4"}, first)
        fake = self.provider(content=content)
        m = self.mount_on(fake)
        self.submit(m, "job", "a video published wrong")
        path = self.wait_video(m, "job", timeout=30)
        wait_until(lambda: "saved" in read_text(m.path("job", "events")), 20, "the video")
        m.unmount()
        stored = os.path.join(m.state_dir, "tasks", "job", "video.mp4")
        write_file(stored, b'{"status":"processing","progress":50}')
        m.start()
        wait_until(lambda: read_bytes(path) == first, 30, "the real video again")
        self.assertEqual(fake.count("content", "video_1"), 2)
        # A refresh fetches it once more; the old file stays meanwhile.
        write_file(m.path("job", "ctl"), "refresh\n")
        wait_until(lambda: fake.count("content", "video_1") == 3, 20, "the new download")
        self.assertEqual(read_bytes(path), first)
        self.assertTrue(self.status(m, "job").startswith("completed"))
        gate.set()
        wait_until(lambda: read_bytes(path) == second, 20, "the refreshed video")


class PollHintTest(ProviderCase):

    def test_a_huge_poll_hint_does_not_stop_polling(self):
        def poll(vid, n):
            if n == 0:
                return 200, {"openai-poll-after-ms": "1000000000000"}, \
                    video_object(vid, "in_progress", 10)
            return 200, {}, video_object(vid)
        fake = self.provider(poll=poll)
        m = self.mount_on(fake)
        self.submit(m, "job", "a provider that asks for a day")
        self.wait_video(m, "job", timeout=20)


class TrickleTest(ProviderCase):
    mount_options = {"interval": "1", "max_interval": "2", "timeout": "3"}

    def test_a_read_of_a_trickling_video_fails_within_the_timeout(self):
        body = mp4_bytes(pad=400000)

        def content(vid, n, h):
            trickle(h, body, fast=64 * 1024, stop=fake.stopping)
        fake = self.provider(content=content)
        m = self.mount_on(fake)
        self.submit(m, "job", "a trickling server")
        path = m.path("job", "video.mp4")
        wait_until(lambda: os.path.exists(path), 30, "video.mp4 to show")

        def read_far():
            with open(path, "rb") as f:
                f.seek(256 * 1024)
                return f.read(64 * 1024)
        start = time.monotonic()
        finished, value = harness_run_bounded(read_far, 20)
        took = time.monotonic() - start
        self.assertTrue(finished, "the read still waits after 20 s (api.timeout is 3 s)")
        self.assertIsInstance(value, OSError, value)
        self.assertEqual(value.errno, errno.EIO)
        self.assertLess(took, bound(8))

    def test_trickling_servers_do_not_starve_other_downloads(self):
        slow = mp4_bytes(pad=400000)
        fast = mp4_bytes(tag=b"fast")

        def content(vid, n, h):
            if vid in ("video_1", "video_2"):
                trickle(h, slow, fast=32, stop=fake.stopping)
            else:
                h.send(200, {"Content-Type": "video/mp4"}, fast)
        fake = self.provider(content=content)
        m = self.mount_on(fake)
        self.submit(m, "slow1", "a trickling server, one")
        self.submit(m, "slow2", "a trickling server, two")
        wait_until(lambda: fake.count("content", "video_1") and
                   fake.count("content", "video_2"), 20, "both slow downloads")
        self.submit(m, "quick", "a healthy video")
        path = self.wait_video(m, "quick", timeout=25)
        wait_until(lambda: "saved" in read_text(m.path("quick", "events")), 25,
                   "the healthy video while two servers trickle")
        self.assertEqual(read_bytes(path), fast)


def harness_run_bounded(func, seconds):
    out = {}

    def body():
        try:
            out["value"] = func()
        except BaseException as e:
            out["value"] = e
    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(bound(seconds))
    return (not t.is_alive()), out.get("value")


class PromptGuardTest(ProviderCase):
    """A create is never sent without the prompt the user wrote."""

    def test_retry_of_an_attached_task_is_refused(self):
        fake = self.provider(poll=lambda vid, n: (200, {}, video_object(
            vid, "failed", 0, error={"code": "x", "message": "the provider failed it"})))
        m = self.mount_on(fake)
        write_file(m.path("new", "att.id"), "video_attached\n")
        self.wait_state(m, "att", "failed", timeout=20)
        with self.assertRaises(OSError) as cm:
            write_file(m.path("att", "ctl"), "retry\n")
        self.assertIn(cm.exception.errno, (errno.EINVAL, errno.EBUSY))
        time.sleep(bound(2))
        self.assertEqual(fake.posts(), 0, "a create was sent for an attached task")
        self.assertIn("attached", m.log_text())
        self.assertIn("attached", read_text(m.path("att", "events")))

    def test_a_task_whose_prompt_went_missing_is_never_sent(self):
        fake = self.provider()
        m = self.mount_on(fake, options={"base_url": "http://127.0.0.1:9/v1"})
        self.submit(m, "job", "a prompt that will go missing")
        wait_until(lambda: "retrying" in self.status(m, "job"), 20, "a refused connection")
        m.unmount()
        os.unlink(os.path.join(m.state_dir, "tasks", "job", "prompt"))
        m2 = self.mount_on(fake, mnt=m.mnt, state_dir=m.state_dir, name="again")
        line = self.wait_state(m2, "job", "failed", timeout=20)
        self.assertIn("damaged", line)
        self.assertIn("prompt", line)
        time.sleep(bound(2))
        self.assertEqual(fake.posts(), 0, "sent without its prompt: %r" % fake.prompts)


class BoundsTest(ProviderCase):
    """What a provider can make veofs hold is bounded."""

    def test_an_endless_video_is_cut_at_the_limit(self):
        def content(vid, n, h):
            h.send_response(200)
            h.send_header("Content-Type", "video/mp4")
            h.end_headers()           # no length: ends when the connection does
            h.wfile.write(mp4_bytes())
            chunk = b"\0" * 65536
            while not fake.stopping.is_set():
                h.wfile.write(chunk)
        fake = self.provider(content=content)
        m = self.mount_on(fake, options={"max_video_bytes": "1048576"})
        self.submit(m, "job", "a video without end")
        line = self.wait_state(m, "job", "failed", timeout=60)
        self.assertIn("api.max_video_bytes", line)
        part = os.path.join(m.state_dir, "tasks", "job", "video.mp4.part")
        if os.path.exists(part):
            self.assertLessEqual(os.path.getsize(part), 1048576 + 1024 * 1024)

    def test_big_status_answers_are_not_kept_in_memory(self):
        if "ASAN_OPTIONS" in os.environ or "TSAN_OPTIONS" in os.environ:
            # AddressSanitizer keeps freed memory in quarantine (256 MB by
            # default) and ThreadSanitizer keeps shadow memory and history:
            # RSS says nothing there. The plain pass checks it.
            self.skipTest("RSS is not meaningful under a sanitizer")
        pad = "x" * (3 << 20)

        def poll(vid, n):
            return 200, {}, video_object(vid, "in_progress", 10 + n % 2, padding=pad + vid)
        fake = self.provider(poll=poll)
        m = self.mount_on(fake)
        base = daemon_rss(m)
        names = ["big%02d" % i for i in range(24)]
        for name in names:
            write_file(m.path("new", name + ".prompt"), "a very big answer %s\n" % name)
        for name in names:
            wait_until(lambda: os.path.exists(m.path(name, "task.json")), 30,
                       "%s/task.json" % name)
        time.sleep(bound(3))
        grown = daemon_rss(m) - base
        self.assertLess(grown, 40 << 20, "RSS grew by %d MB for 24 answers of 3 MB"
                        % (grown >> 20))
        data = read_bytes(m.path(names[0], "task.json"))
        self.assertLessEqual(len(data), 1 << 20)
        # Creates go out from several threads: the id is whichever came.
        self.assertEqual(json.loads(data)["id"], read_text(m.path(names[0], "id")).strip())
        self.assertEqual(os.stat(m.path(names[0], "task.json")).st_size, len(data))

    def test_flapping_progress_does_not_grow_events(self):
        fake = self.provider(poll=lambda vid, n: (200, {}, video_object(
            vid, "in_progress", 10 if n % 2 else 20)))
        m = self.mount_on(fake)
        self.submit(m, "job", "a provider that cannot make up its mind")
        wait_until(lambda: fake.count("poll", "video_1") >= 10, 30, "ten polls")
        lines = read_text(m.path("job", "events")).splitlines()
        self.assertLessEqual(len(lines), 5, "events grew with every flap:\n" + "\n".join(lines))
        stored = read_text(os.path.join(m.state_dir, "tasks", "job", "events")).splitlines()
        self.assertEqual(len(stored), len(lines))


class DamagedStateTest(ProviderCase):
    """A record.json cut short or overwritten once hid the task and its paid
    video while its name stayed taken (EEXIST with nothing shown)."""

    def test_a_damaged_record_shows_the_task_as_damaged(self):
        real = mp4_bytes(tag=b"paid")
        fake = self.provider(content=lambda vid, n, h: h.send(
            200, {"Content-Type": "video/mp4"}, real))
        m = self.mount_on(fake)
        self.submit(m, "job", "a task whose record will be damaged")
        self.wait_video(m, "job", timeout=30)
        wait_until(lambda: "saved" in read_text(m.path("job", "events")), 20, "the video")
        m.unmount()
        record = os.path.join(m.state_dir, "tasks", "job", "record.json")
        write_file(record, b'{"version": 1, "state": "compl')
        m.start()
        line = self.status(m, "job")
        self.assertTrue(line.startswith("failed: damaged record"), line)
        self.assertEqual(read_bytes(m.path("job", "video.mp4")), real)
        self.assertIn("damaged record", read_text(m.path("job", "error")))
        with self.assertRaises(OSError) as cm:
            write_file(m.path("job", "ctl"), "retry\n")
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        time.sleep(bound(1))
        self.assertEqual(fake.posts(), 1, "a damaged task was sent")
        self.assertEqual(read_bytes(record), b'{"version": 1, "state": "compl')
        os.rmdir(m.path("job"))
        self.assertFalse(os.path.exists(os.path.join(m.state_dir, "tasks", "job")))
        self.submit(m, "job", "the name is free again")


def daemon_rss(m):
    with open("/proc/%d/status" % m.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class StallShownTest(ProviderCase):
    """A download whose bytes stop coming says so in status: reads beyond
    them fail with EIO after api.timeout, and a bare "completed" would not
    say why."""
    mount_options = {"interval": "1", "max_interval": "2", "timeout": "30",
                     "min_download_rate": "0"}

    def test_a_stalled_download_shows_in_status(self):
        body = mp4_bytes(pad=400000)
        release = threading.Event()

        def content(vid, n, h):
            h.send_response(200)
            h.send_header("Content-Type", "video/mp4")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body[:64 * 1024])
            h.wfile.flush()
            release.wait(bound(60))
            if not fake.stopping.is_set():
                h.wfile.write(body[64 * 1024:])
        fake = self.provider(content=content)
        self.addCleanup(release.set)
        m = self.mount_on(fake)
        self.submit(m, "job", "a download that stalls")
        line = wait_until(lambda: "stalled" in self.status(m, "job") and self.status(m, "job"),
                          30, "status to say the download stalled")
        self.assertRegex(line, r"^completed \(video download stalled \d+s; retrying\)$")
        release.set()
        self.wait_video(m, "job", timeout=60)
        self.assertEqual(self.status(m, "job"), "completed")
        self.assertEqual(read_bytes(m.path("job", "video.mp4")), body)


class ThumbnailProbeTest(ProviderCase):
    """A gateway that ignores ?variant=thumbnail (new-api's video proxy,
    LiteLLM) answers with the whole video: the probe stops at its first
    bytes instead of downloading the video a second time."""

    def test_the_probe_never_downloads_a_video(self):
        big = mp4_bytes(pad=32 << 20)
        sent = []

        def thumbnail(vid, h):
            # No Content-Length: only the bytes themselves can tell.
            h.send_response(200)
            h.send_header("Content-Type", "image/webp")
            h.send_header("Connection", "close")
            h.end_headers()
            n = 0
            try:
                for i in range(0, len(big), 16384):
                    h.wfile.write(big[i:i + 16384])
                    h.wfile.flush()
                    n += len(big[i:i + 16384])
            finally:
                sent.append(n)
        fake = self.provider()
        fake.thumbnail = thumbnail
        m = self.mount_on(fake)
        self.submit(m, "job", "a video with no thumbnail")
        self.wait_video(m, "job")
        wait_until(lambda: sent, 30, "the thumbnail probe")
        # What the server wrote includes what loopback's socket buffers took
        # (a few MiB); a probe that read the video would take all 32.
        self.assertLess(sent[0], 12 << 20, "the probe took %d bytes of an %d-byte video"
                        % (sent[0], len(big)))
        self.assertFalse(os.path.exists(m.path("job", "thumbnail.webp")))


if __name__ == "__main__":
    harness.main()
