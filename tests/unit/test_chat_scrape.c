/* Scraping the chat route's text: the routers' dialects as they answer,
 * and the numbers and links that must not be taken. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "chat_scrape.h"

static int progress(const char *s)
{
	return chat_scrape_progress(s, strlen(s));
}

static void link_is(const char *text, const char *want)
{
	char *got = chat_scrape_link(text, strlen(text));

	if (!want) {
		cr_assert_null(got, "no link expected in [%s], got %s", text, got);
		return;
	}
	cr_assert_not_null(got, "no link found in [%s]", text);
	cr_assert_str_eq(got, want);
	free(got);
}

static void task_is(const char *text, const char *id, const char *url)
{
	struct chat_task_ref r;

	chat_scrape_task(text, strlen(text), &r);
	if (id) {
		cr_assert_not_null(r.task_id, "no id in [%s]", text);
		cr_assert_str_eq(r.task_id, id);
	} else {
		cr_assert_null(r.task_id, "id %s taken from [%s]", r.task_id, text);
	}
	if (url) {
		cr_assert_not_null(r.poll_url, "no URL to poll in [%s]", text);
		cr_assert_str_eq(r.poll_url, url);
	} else {
		cr_assert_null(r.poll_url, "URL %s taken from [%s]", r.poll_url, text);
	}
	chat_task_ref_free(&r);
}

/* ---- the dialects ---- */

/* flow2api: reasoning_content lines, then the video in an HTML block. */
static const char flow2api[] =
	"✨ 视频生成任务已启动\n"
	"视频生成中... 12%\n"
	"视频生成中... 36%\n"
	"```html\n<video src='https://host/v.mp4' controls></video>\n```";

/* sora2api: a bold progress line, a <video> with double quotes. */
static const char sora2api[] =
	"**Video Generation Progress**: 20% completed\n"
	"**Video Generation Progress**: 45% completed\n"
	"<video src=\"https://cdn.example/videos/abc.mp4?sig=x&amp;e=1\" controls></video>";

/* APIYI / laozhang: markdown, Chinese progress as dotted numbers, a
 * preview image and two links, the second for download. */
static const char apiyi[] =
	"> 🎬 视频生成中\n"
	"> 进度 36..47..58..\n"
	"![preview](https://x/p.webp)\n"
	"[▶️ 在线观看](https://x/v.mp4)\n"
	"[⏬ 下载视频](https://x/v.mp4?sig=1)\n";

/* An async router: a task id and a query link first, a bare link last. */
static const char async_task[] =
	"任务ID: task_abc123\n"
	"查询链接: https://asyncdata.example/source/task_abc123\n"
	"Progress: 45%\n"
	"视频已生成: https://files.example/out/task_abc123.mp4。\n";

Test(chat_scrape, flow2api_dialect)
{
	cr_assert_eq(progress(flow2api), 36);
	link_is(flow2api, "https://host/v.mp4");
	task_is(flow2api, NULL, NULL);
}

Test(chat_scrape, sora2api_dialect)
{
	cr_assert_eq(progress(sora2api), 45);
	link_is(sora2api, "https://cdn.example/videos/abc.mp4?sig=x&e=1");
}

Test(chat_scrape, apiyi_dialect)
{
	cr_assert_eq(progress(apiyi), 58);
	cr_assert_eq(progress("> 进度 36..47.."), 47);
	cr_assert_eq(progress("进度：45%"), 45);
	cr_assert_eq(progress("进度: 45"), 45);
	cr_assert_eq(progress("进度 36…47…"), 47);
	/* the download label wins, the preview is never taken */
	link_is(apiyi, "https://x/v.mp4?sig=1");
	task_is(apiyi, NULL, NULL);
}

Test(chat_scrape, async_task_dialect)
{
	cr_assert_eq(progress(async_task), 45);
	link_is(async_task, "https://files.example/out/task_abc123.mp4");
	task_is(async_task, "task_abc123",
		"https://asyncdata.example/source/task_abc123");
}

/* ---- progress ---- */

Test(chat_scrape, progress_forms)
{
	cr_assert_eq(progress("45%"), 45);
	cr_assert_eq(progress("Progress: 45%"), 45);
	cr_assert_eq(progress("progress 7"), 7);
	cr_assert_eq(progress("\"progress\": 63,"), 63);
	cr_assert_eq(progress("{\"status\":\"in_progress\",\"progress\":\"72\"}"), 72);
	cr_assert_eq(progress("生成中...36%"), 36);
	cr_assert_eq(progress("45.5%"), 45);
	cr_assert_eq(progress("45 ％"), 45);
	cr_assert_eq(progress("100% done"), 100);
	cr_assert_eq(progress("0%"), 0);
	cr_assert_eq(progress("10% 20% 15%"), 20);
	cr_assert_eq(progress("[#####-----] 50%"), 50);
}

Test(chat_scrape, not_progress)
{
	cr_assert_eq(progress(""), -1);
	cr_assert_eq(progress("16:9"), -1);
	cr_assert_eq(progress("1080p"), -1);
	cr_assert_eq(progress("veo-3.1"), -1);
	cr_assert_eq(progress("veo-3.1-landscape-fast 16:9 1080p 8s"), -1);
	cr_assert_eq(progress("progress 16:9"), -1);
	cr_assert_eq(progress("progress: 1080p"), -1);
	cr_assert_eq(progress("progress 5s"), -1);
	cr_assert_eq(progress("150%"), -1);
	cr_assert_eq(progress("1000%"), -1);
	cr_assert_eq(progress("https://x/a%20b/45%20c.mp4"), -1);
	cr_assert_eq(progress("v45%"), -1);
	cr_assert_eq(progress("3.45%"), 3);
	cr_assert_eq(progress("progressive 10"), -1);
}

Test(chat_scrape, progress_next_is_monotonic_and_clamped)
{
	cr_assert_eq(chat_progress_next(-1, -1), -1);
	cr_assert_eq(chat_progress_next(-1, 0), 0);
	cr_assert_eq(chat_progress_next(-1, 36), 36);
	cr_assert_eq(chat_progress_next(36, 12), 36);
	cr_assert_eq(chat_progress_next(36, -1), 36);
	cr_assert_eq(chat_progress_next(36, 101), 36);
	cr_assert_eq(chat_progress_next(36, 100), 100);
}

/* ---- links ---- */

Test(chat_scrape, video_tags)
{
	link_is("<video src=\"https://a/v.mp4\"></video>", "https://a/v.mp4");
	link_is("<VIDEO controls SRC='https://a/v.webm'>", "https://a/v.webm");
	link_is("<video src=https://a/v.mov controls>", "https://a/v.mov");
	/* no extension needed inside a video tag */
	link_is("<video src=\"https://a/files/abc?x=1\">", "https://a/files/abc?x=1");
	link_is("<video controls>\n  <source src=\"https://a/s.mp4\" type=\"video/mp4\">\n</video>",
		"https://a/s.mp4");
	/* a poster is not the video, an image src neither */
	link_is("<video poster=\"https://a/p.jpg\" src=\"https://a/v.mp4\">", "https://a/v.mp4");
	link_is("<video src=\"https://a/p.png\">", NULL);
	/* the video tag wins over a markdown link and a bare URL */
	link_is("https://a/bare.mp4 [download](https://a/md.mp4) <video src='https://a/tag.mp4'>",
		"https://a/tag.mp4");
	/* only http(s) */
	link_is("<video src=\"file:///etc/passwd\">", NULL);
	link_is("<video src=\"javascript:alert(1)\">", NULL);
	/* data-src is another attribute (and this one no video path) */
	link_is("<video data-src=\"https://a/x\">", NULL);
}

Test(chat_scrape, markdown_links)
{
	link_is("[watch](https://x/v.mp4)", "https://x/v.mp4");
	link_is("[Download video](https://x/d.mp4) [watch](https://x/w.mp4)", "https://x/d.mp4");
	link_is("[watch](https://x/w.mp4) [⏬ 下载](https://x/d.webm)", "https://x/d.webm");
	/* the path decides, not the query */
	link_is("[watch](https://x/page?file=v.mp4)", NULL);
	link_is("[watch](https://x/v.MP4?token=abc)", "https://x/v.MP4?token=abc");
	/* images are previews */
	link_is("![preview](https://x/p.webp)", NULL);
	/* ...by their extension: an embedded video is still the video */
	link_is("![video](https://x/v.mp4)", "https://x/v.mp4");
	link_is("[[nested] label](https://x/n.mp4)", "https://x/n.mp4");
	link_is("[title](https://x/t.mp4 \"a title\")", "https://x/t.mp4");
}

Test(chat_scrape, bare_links)
{
	link_is("here: https://x/v.mp4", "https://x/v.mp4");
	link_is("(https://x/v.mp4).", "https://x/v.mp4");
	link_is("\"https://x/v.mp4\",", "https://x/v.mp4");
	link_is("`https://x/v.mp4`", "https://x/v.mp4");
	link_is("<https://x/v.mp4>", "https://x/v.mp4");
	link_is("see https://x/v.mp4?sig=1&e=2.", "https://x/v.mp4?sig=1&e=2");
	link_is("链接：https://x/v.mp4。完成", "https://x/v.mp4");
	link_is("http://x/v.webm!", "http://x/v.webm");
	/* the last one counts: later text supersedes */
	link_is("https://x/a.mp4 then https://x/b.mp4", "https://x/b.mp4");
	/* not video, not http */
	link_is("https://x/page.html", NULL);
	link_is("https://x/p.jpeg https://x/p.gif", NULL);
	link_is("ftp://x/v.mp4", NULL);
	link_is("xhttps://x/v.mp4", NULL);
	link_is("https://", NULL);
}

Test(chat_scrape, json_escapes_undone)
{
	link_is("{\"url\":\"https:\\/\\/x\\/v.mp4\"}", "https://x/v.mp4");
	link_is("\\u003cvideo src=\\\"https:\\/\\/x\\/v.mp4?a=1\\u0026b=2\\\"\\u003e",
		"https://x/v.mp4?a=1&b=2");
}

/* ---- ids and URLs to poll ---- */

Test(chat_scrape, task_ids)
{
	task_is("task_id: abc123", "abc123", NULL);
	task_is("Task ID：abc-123_x", "abc-123_x", NULL);
	task_is("{\"task_id\":\"gen_77aa\",\"status\":\"queued\"}", "gen_77aa", NULL);
	task_is("{\\\"task_id\\\":\\\"gen_77aa\\\"}", "gen_77aa", NULL);
	task_is("任务ID: xxx", "xxx", NULL);
	task_is("任务编号：T20250101.", "T20250101", NULL);
	task_is("**task_id**: `abc123`", "abc123", NULL);
	/* no separator, too short, or a word */
	task_is("the task id is unknown", NULL, NULL);
	task_is("task_id: ab", NULL, NULL);
	task_is("task_id:", NULL, NULL);
}

Test(chat_scrape, poll_urls)
{
	task_is("查询链接: https://async.example/source/t1", NULL,
		"https://async.example/source/t1");
	task_is("polling url: https://r.example/v1/x?id=9", NULL, "https://r.example/v1/x?id=9");
	task_is("Status URL：<https://r.example/s/9>", NULL, "https://r.example/s/9");
	/* unlabelled: the path must name a task or its status */
	task_is("see https://r.example/v1/tasks/abc", NULL, "https://r.example/v1/tasks/abc");
	task_is("see https://r.example/api/query?id=abc", NULL, "https://r.example/api/query?id=abc");
	task_is("see https://r.example/home", NULL, NULL);
	/* never the video, an image or media */
	task_is("查询链接: https://r.example/result/v.mp4", NULL, NULL);
	task_is("https://r.example/result/thumb.png", NULL, NULL);
	task_is("<video src=\"https://r.example/result/abc\"></video>", NULL, NULL);
	task_is("[x](https://r.example/tasks/v.mp4)", NULL, NULL);
	/* an id inside a URL is the URL's */
	task_is("https://r.example/query?task_id=abc123", NULL,
		"https://r.example/query?task_id=abc123");
	task_is("task_id: https://r.example/tasks/9", NULL, "https://r.example/tasks/9");
	/* the task-link style: its raw-data link is the task as JSON, its
	 * preview link a web page */
	task_is("> 任务ID: `task_01k8` \n> [数据预览](https://a.example/web/task_01k8) | "
		"[原始数据](https://a.example/source/task_01k8)\n", "task_01k8",
		"https://a.example/source/task_01k8");
	task_is("[raw data](https://a.example/s/9)", NULL, "https://a.example/s/9");
}

Test(chat_scrape, long_poll_url_refused)
{
	char buf[2000];

	strcpy(buf, "查询链接: https://r.example/tasks/");
	size_t n = strlen(buf);
	memset(buf + n, 'a', 1100);
	buf[n + 1100] = '\0';
	task_is(buf, NULL, NULL);
}

/* ---- failures ---- */

Test(chat_scrape, failure_lines)
{
	char *f = chat_scrape_failure("queued\n  Generation FAILED: content policy  \nmore", 48);
	cr_assert_str_eq(f, "Generation FAILED: content policy");
	free(f);
	f = chat_scrape_failure("视频生成失败\n", strlen("视频生成失败\n"));
	cr_assert_str_eq(f, "视频生成失败");
	free(f);
	cr_assert_null(chat_scrape_failure("all fine, 45%", 13));
}

/* ---- cost ---- */

Test(chat_scrape, linear_on_hostile_text, .timeout = 10)
{
	static const char *const units[] = {
		"[", "<video", "<video src=", "https://", "progress ", "进度 1..",
		"task_id:", "查询链接:", "![", "](", "1", "\\/", "<source src=",
	};
	size_t n = 1u << 20;
	char *big = malloc(n + 1);

	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		size_t k = strlen(units[u]), i = 0;
		for (; i + k <= n; i += k)
			memcpy(big + i, units[u], k);
		memset(big + i, ' ', n - i);
		big[n] = '\0';
		chat_scrape_progress(big, n);
		free(chat_scrape_link(big, n));
		struct chat_task_ref r;
		chat_scrape_task(big, n, &r);
		chat_task_ref_free(&r);
		free(chat_scrape_failure(big, n));
	}
	free(big);
}
