/* Everything the API (or a gateway in front of it) answers passes through
 * these parsers before it reaches a status file, a URL or a file name, so
 * besides memory safety the fuzzer checks what they promise: ids that are
 * safe in paths, one-line texts, progress within 0..100 and http(s) URLs. */
#include "fuzz.h"
#include "video_object.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void check_text(const char *s)
{
	if (!s)
		return;
	if (!s[0])
		abort();
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
}

static void check_id(const char *id)
{
	if (!id)
		return;
	if (!video_id_valid(id, strlen(id)))
		abort();
	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
}

static void fuzz_object(const uint8_t *data, size_t size)
{
	struct video_object v;
	char err[256] = "";

	if (video_object_parse((const char *)data, size, &v, err, sizeof(err)) == 0) {
		check_id(v.id);
		if (v.has_state && (v.state < VIDEO_QUEUED || v.state > VIDEO_FAILED))
			abort();
		if (v.progress < -1 || v.progress > 100)
			abort();
		check_text(v.error);
		check_text(v.model);
	} else {
		if (!err[0] || memchr(err, '\n', strlen(err)))
			abort();
	}
	video_object_free(&v);
}

static void fuzz_error_and_url(const uint8_t *data, size_t size)
{
	char *msg = api_error_message((const char *)data, size);
	char *text = api_error_text((const char *)data, size);

	check_text(text);
	free(text);
	char *url = api_content_url((const char *)data, size);

	check_text(msg);
	if (url) {
		if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))
			abort();
		for (const unsigned char *p = (const unsigned char *)url; *p; p++)
			if (*p <= 0x20 || *p == 0x7f)
				abort();
	}
	free(msg);
	free(url);
}

static void fuzz_status(const uint8_t *data, size_t size)
{
	enum video_status state = VIDEO_QUEUED;
	const char *reason = NULL;
	char *s = fuzz_strndup(data, size);

	if (video_status_normalize(s, &state, &reason)) {
		if (state < VIDEO_QUEUED || state > VIDEO_FAILED)
			abort();
		if (reason && state != VIDEO_FAILED)
			abort();
	} else if (reason) {
		abort();
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_object(data, size);
	fuzz_error_and_url(data, size);
	fuzz_status(data, size);
	return 0;
}
