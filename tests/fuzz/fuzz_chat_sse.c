/* Every byte of a chat route's reply reaches this parser as the network
 * hands it over. The input is fed whole, then again cut at positions the
 * input itself chooses (its first byte), and byte by byte: besides memory
 * safety the fuzzer checks that the events do not depend on the cuts, that
 * each event's data is NUL-terminated at its length and within the limit,
 * and that nothing is buffered past the limit. */
#include "fuzz.h"
#include "chat_sse.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT 4096

struct digest {
	unsigned long long hash;
	size_t events;
};

static int on_event(void *ctx, const char *event, const char *data, size_t len)
{
	struct digest *d = ctx;

	if (data[len] != '\0' || len > LIMIT)
		abort();
	for (const char *p = event; *p; p++)
		d->hash = d->hash * 1099511628211ull ^ (unsigned char)*p;
	d->hash = d->hash * 1099511628211ull ^ 0x100;
	for (size_t i = 0; i < len; i++)
		d->hash = d->hash * 1099511628211ull ^ (unsigned char)data[i];
	d->hash = d->hash * 1099511628211ull ^ 0x200;
	d->events++;
	return 0;
}

static int run(const uint8_t *data, size_t size, size_t step, struct digest *d)
{
	struct chat_sse p;
	int rc = 0;

	memset(d, 0, sizeof(*d));
	chat_sse_init(&p, LIMIT, on_event, d);
	for (size_t at = 0; at < size && rc == 0; at += step) {
		size_t n = size - at < step ? size - at : step;
		rc = chat_sse_feed(&p, (const char *)data + at, n);
		if (p.line.len + p.data.len > LIMIT)
			abort();
	}
	if (rc == 0)
		rc = chat_sse_finish(&p);
	chat_sse_free(&p);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct digest whole, cut, bytes;
	int rc = run(data, size, size ? size : 1, &whole);
	size_t step = size ? (size_t)data[0] % 17 + 1 : 1;

	if (rc != CHAT_SSE_OK && rc != CHAT_SSE_TOO_BIG)
		abort();
	/* An error stops the parser where it happened, so only a stream
	 * without one must read the same however it is cut. */
	if (run(data, size, step, &cut) != rc || run(data, size, 1, &bytes) != rc)
		abort();
	if (rc == CHAT_SSE_OK &&
	    (cut.hash != whole.hash || cut.events != whole.events ||
	     bytes.hash != whole.hash || bytes.events != whole.events))
		abort();
	bool decided;
	char *type = fuzz_strndup(data, size < 64 ? size : 64);
	chat_sse_body_is_json(type, (const char *)data, size, &decided);
	free(type);
	return 0;
}
