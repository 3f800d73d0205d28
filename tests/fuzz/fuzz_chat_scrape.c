/* The chat route's reply text, all of it chosen by a router, goes through
 * these scrapers as it accumulates. Besides memory safety the fuzzer checks
 * what they promise: progress -1..100 and the monotonic rule; links and
 * URLs to poll http(s), without blanks or control bytes, within their
 * limits, never an image, and never the video link taken for the URL to
 * poll; ids of id bytes only; a failure line without control bytes. Time
 * is bounded by libFuzzer's -timeout: the scans are linear. */
#include "fuzz.h"
#include "chat_scrape.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void check_url(const char *u, size_t max)
{
	size_t n = strlen(u);

	if (n > max || (strncasecmp(u, "http://", 7) && strncasecmp(u, "https://", 8)))
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] <= 0x20 || u[i] == 0x7f)
			abort();
	size_t path = strcspn(u, "?#");
	static const char *const images[] = { ".webp", ".png", ".jpg", ".jpeg", ".gif" };
	for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++) {
		size_t k = strlen(images[i]);
		if (path >= k && !strncasecmp(u + path - k, images[i], k))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	int p = chat_scrape_progress(text, size);

	if (p < -1 || p > 100)
		abort();
	int shown = size ? (int)(data[0] % 102) - 1 : -1;
	int next = chat_progress_next(shown, p);
	if (next < shown || next > 100 || (p >= 0 && next < p))
		abort();

	char *link = chat_scrape_link(text, size);
	if (link)
		check_url(link, CHAT_LINK_MAX);

	struct chat_task_ref r;
	chat_scrape_task(text, size, &r);
	if (r.poll_url) {
		check_url(r.poll_url, CHAT_POLL_URL_MAX);
		if (link && !strcmp(link, r.poll_url))
			abort();
	}
	if (r.task_id) {
		size_t n = strlen(r.task_id);
		if (n < 3 || n > 128)
			abort();
		for (size_t i = 0; i < n; i++) {
			char c = r.task_id[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
				abort();
		}
	}
	chat_task_ref_free(&r);
	free(link);

	char *f = chat_scrape_failure(text, size);
	if (f) {
		for (const char *c = f; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				abort();
		if (strlen(f) > 200)
			abort();
	}
	free(f);
	return 0;
}
