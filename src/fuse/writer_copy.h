/* What one open descriptor of a prompt file holds: the file as it was when
 * opened, with this descriptor's own writes and truncations applied. A
 * close is judged on this text, so two writers on one name each get an
 * answer about their own words, never success for the other's. */
#ifndef VEOFS_WRITER_COPY_H
#define VEOFS_WRITER_COPY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct writer_copy {
	char *buf;
	size_t len, cap;
	size_t max;     /* beyond this the text is too big to be a prompt */
	bool too_big;   /* then buf is dropped: the close refuses it anyway */
};

/* Start from what fd holds now (nothing when truncated at open). 0 or
 * -errno. */
int writer_copy_init(struct writer_copy *c, int fd, bool truncated, size_t max);
/* Apply a write of n bytes at off (the end of the text for O_APPEND). */
void writer_copy_write(struct writer_copy *c, const char *buf, size_t n, off_t off,
		       bool append);
void writer_copy_truncate(struct writer_copy *c, off_t size);
void writer_copy_free(struct writer_copy *c);

#endif
