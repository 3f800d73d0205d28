#include "writer_copy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void give_up(struct writer_copy *c)
{
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
	c->too_big = true;
}

/* Make room for end bytes, zero-filling any gap; false once too big. */
static bool reserve(struct writer_copy *c, size_t end)
{
	if (c->too_big)
		return false;
	if (end > c->max) {
		give_up(c);
		return false;
	}
	if (end > c->cap) {
		size_t cap = c->cap ? c->cap : 4096;
		while (cap < end)
			cap *= 2;
		if (cap > c->max)
			cap = c->max;
		char *grown = realloc(c->buf, cap);
		if (!grown) {
			/* Judged as too big: refused, never half-read. */
			give_up(c);
			return false;
		}
		c->buf = grown;
		c->cap = cap;
	}
	if (end > c->len) {
		memset(c->buf + c->len, 0, end - c->len);
		c->len = end;
	}
	return true;
}

int writer_copy_init(struct writer_copy *c, int fd, bool truncated, size_t max)
{
	char chunk[8192];
	ssize_t n;
	off_t off = 0;

	memset(c, 0, sizeof(*c));
	c->max = max;
	if (truncated)
		return 0;
	while ((n = pread(fd, chunk, sizeof(chunk), off)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			writer_copy_free(c);
			return -e;
		}
		writer_copy_write(c, chunk, (size_t)n, off, false);
		if (c->too_big)
			break;
		off += n;
	}
	return 0;
}

void writer_copy_write(struct writer_copy *c, const char *buf, size_t n, off_t off,
		       bool append)
{
	size_t at = append ? c->len : (size_t)off;

	if (off < 0 || at > c->max || n > c->max - at) {
		give_up(c);
		return;
	}
	if (n && reserve(c, at + n))
		memcpy(c->buf + at, buf, n);
}

void writer_copy_truncate(struct writer_copy *c, off_t size)
{
	if (size < 0)
		return;
	if (size == 0) {
		/* A fresh start, even after a text too big to keep. */
		c->too_big = false;
		c->len = 0;
		return;
	}
	if ((size_t)size <= c->len) {
		if (!c->too_big)
			c->len = (size_t)size;
		return;
	}
	reserve(c, (size_t)size);
}

void writer_copy_free(struct writer_copy *c)
{
	free(c->buf);
	memset(c, 0, sizeof(*c));
}
