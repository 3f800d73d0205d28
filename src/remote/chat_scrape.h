/* What the chat route's free text says, read by pattern: progress, the
 * video link, the task's id or a URL to poll, a failure. Pure functions
 * on bytes (no I/O, no state), each one pass or a few over the text, so a
 * reply of any shape costs time in proportion to its length (fuzzed:
 * tests/fuzz/fuzz_chat_scrape.c).
 *
 * The dialects are the routers' (flow2api, sora2api, APIYI, laozhang...):
 * "视频生成中... 36%", "**Video Generation Progress**: 45% completed",
 * "> 进度 36..47..58..", "<video src='...'>", "[⏬ 下载视频](https://...)",
 * "任务ID: task_abc", "查询链接: https://...". */
#ifndef VEOFS_CHAT_SCRAPE_H
#define VEOFS_CHAT_SCRAPE_H

#include <stddef.h>

/* Links longer than this are not taken: no real one is, and an id must
 * stay within VIDEO_ID_MAX (video_object.h) to be kept as a task's id. */
#define CHAT_LINK_MAX 8192
#define CHAT_POLL_URL_MAX 1024

/* The highest percentage the text names: "45%", "45 ％", "Progress: 45",
 * "进度：45", "进度 36..47..58" (the last of those, 58); 0..100, or -1 when
 * none. Numbers over 100 are ignored, and so are numbers that are not
 * progress: "16:9", "1080p", "veo-3.1", "%20" in a URL. */
int chat_scrape_progress(const char *text, size_t len);

/* The caller's rule for what it shows: never lower than before, within
 * 0..100. shown -1 (nothing yet) or 0..100; seen as chat_scrape_progress
 * returns it. */
int chat_progress_next(int shown, int seen);

/* The video link (malloc'd), or NULL. In order of preference, the last
 * of each kind in the text: a <video src> (or a <source src> inside a
 * <video>); a markdown link whose path ends in .mp4, .webm, .mov or .m4v,
 * one labelled "download" or "下载" first; a bare http(s) URL with such a
 * path (a query allowed). Only http:// and https://; image links (.webp,
 * .png, .jpg, .jpeg, .gif) are never taken; JSON escapes ("\/") are undone,
 * "&amp;" in an attribute too, and trailing punctuation is dropped from a
 * bare URL. */
char *chat_scrape_link(const char *text, size_t len);

/* Where the reply names the task: an id ("task_id: abc123", "任务ID：abc",
 * "\"task_id\":\"abc\"") and a URL to poll (one after a label such as
 * "查询链接:" or "polling url:", else a bare URL whose path holds /task/,
 * /tasks/, /query, /status or /result). The video link, images and media
 * URLs are never taken for a URL to poll. The last of each; NULL when
 * none. Caller frees with chat_task_ref_free. */
struct chat_task_ref {
	char *task_id;
	char *poll_url;
};
void chat_scrape_task(const char *text, size_t len, struct chat_task_ref *out);
void chat_task_ref_free(struct chat_task_ref *r);

/* The first line naming a failure ("failed", "failure", "error", "失败",
 * "错误"), trimmed and cut to about 200 bytes (malloc'd); NULL when none. */
char *chat_scrape_failure(const char *text, size_t len);

#endif
