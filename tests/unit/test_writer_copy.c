#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "writer_copy.h"

static int file_with(const char *text)
{
	char path[] = "/tmp/veofs-writer-copy-XXXXXX";
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	unlink(path);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

static void expect(const struct writer_copy *c, const char *want)
{
	cr_assert_not(c->too_big);
	cr_assert_eq(c->len, strlen(want));
	cr_assert_eq(memcmp(c->buf ? c->buf : "", want, c->len), 0);
}

Test(writer_copy, starts_from_the_file_unless_truncated)
{
	struct writer_copy c;
	int fd = file_with("existing text\n");

	cr_assert_eq(writer_copy_init(&c, fd, false, 1024), 0);
	expect(&c, "existing text\n");
	writer_copy_free(&c);
	cr_assert_eq(writer_copy_init(&c, fd, true, 1024), 0);
	expect(&c, "");
	writer_copy_free(&c);
	close(fd);
}

Test(writer_copy, writes_at_offsets_appends_and_holes)
{
	struct writer_copy c;
	int fd = file_with("0123456789");

	cr_assert_eq(writer_copy_init(&c, fd, false, 1024), 0);
	writer_copy_write(&c, "ab", 2, 3, false);
	expect(&c, "012ab56789");
	writer_copy_write(&c, "XY", 2, 0, true);
	expect(&c, "012ab56789XY");
	writer_copy_write(&c, "!", 1, 14, false);
	cr_assert_eq(c.len, 15);
	cr_assert_eq(c.buf[12], '\0');
	cr_assert_eq(c.buf[14], '!');
	writer_copy_truncate(&c, 4);
	expect(&c, "012a");
	writer_copy_truncate(&c, 6);
	cr_assert_eq(memcmp(c.buf, "012a\0\0", 6), 0);
	writer_copy_free(&c);
	close(fd);
}

Test(writer_copy, too_big_is_dropped_and_a_truncation_to_zero_starts_over)
{
	struct writer_copy c;
	char big[300];
	int fd = file_with("");

	memset(big, 'x', sizeof(big));
	cr_assert_eq(writer_copy_init(&c, fd, false, 256), 0);
	writer_copy_write(&c, big, 200, 0, false);
	cr_assert_not(c.too_big);
	writer_copy_write(&c, big, 100, 200, false);
	cr_assert(c.too_big);
	cr_assert_null(c.buf);
	writer_copy_truncate(&c, 10);
	cr_assert(c.too_big, "a shrunk text we no longer have is not invented");
	writer_copy_truncate(&c, 0);
	writer_copy_write(&c, "ok", 2, 0, false);
	expect(&c, "ok");
	/* An offset far beyond the limit, or negative, never wraps. */
	writer_copy_write(&c, "z", 1, (off_t)1 << 62, false);
	cr_assert(c.too_big);
	writer_copy_free(&c);
	close(fd);
}
