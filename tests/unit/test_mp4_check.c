/* The MP4 integrity check that catches a body cut short while its
 * Content-Length claims it is whole. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mp4_check.h"
#include "sim_video.h"

static int temp_with(const void *data, size_t len)
{
	char path[] = "/tmp/veofs-mp4-XXXXXX";
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	unlink(path);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	return fd;
}

static char *sim_mp4(const char *id, int64_t pad, size_t *len)
{
	int64_t size = sim_video_size(id, pad);
	char *buf = malloc((size_t)size);

	cr_assert(buf);
	cr_assert_eq(sim_video_read(id, pad, 0, buf, (size_t)size), (size_t)size);
	*len = (size_t)size;
	return buf;
}

Test(mp4_check, a_whole_video_passes)
{
	char err[160] = "";
	size_t len;
	char *v = sim_mp4("video_a", 0, &len);
	int fd = temp_with(v, len);

	cr_assert_eq(mp4_check_fd(fd, (int64_t)len, err, sizeof(err)), MP4_WHOLE, "%s", err);
	close(fd);
	free(v);
}

Test(mp4_check, a_padded_video_passes)
{
	char err[160] = "";
	size_t len;
	char *v = sim_mp4("video_b", 200000, &len);
	int fd = temp_with(v, len);

	cr_assert_eq(mp4_check_fd(fd, (int64_t)len, err, sizeof(err)), MP4_WHOLE, "%s", err);
	close(fd);
	free(v);
}

Test(mp4_check, every_cut_is_caught)
{
	size_t len;
	char *v = sim_mp4("video_c", 0, &len);

	/* Any prefix short of the whole file must fail, whatever the cut. */
	for (size_t cut = 9; cut < len; cut += 97) {
		char err[160] = "";
		int fd = temp_with(v, cut);
		enum mp4_verdict r = mp4_check_fd(fd, (int64_t)cut, err, sizeof(err));
		cr_assert(r == MP4_TRUNCATED || r == MP4_GARBLED, "cut at %zu passed", cut);
		cr_assert(err[0], "no reason for a cut at %zu", cut);
		close(fd);
	}
	free(v);
}

Test(mp4_check, trailing_garbage_is_caught)
{
	char err[160] = "";
	size_t len;
	char *v = sim_mp4("video_d", 0, &len);
	char *longer = malloc(len + 5);

	memcpy(longer, v, len);
	memcpy(longer + len, "\0\0\0\0\x01", 5);
	int fd = temp_with(longer, len + 5);
	cr_assert_eq(mp4_check_fd(fd, (int64_t)len + 5, err, sizeof(err)), MP4_GARBLED);
	close(fd);
	free(v);
	free(longer);
}

Test(mp4_check, json_and_html_are_not_mp4)
{
	char err[160] = "";
	const char *json = "{\"error\":{\"message\":\"not ready\"}}";
	int fd = temp_with(json, strlen(json));

	cr_assert_eq(mp4_check_fd(fd, (int64_t)strlen(json), err, sizeof(err)), MP4_NOT_MP4);
	close(fd);
}

Test(mp4_check, a_box_claiming_the_rest_of_the_file_passes)
{
	unsigned char v[32] = {0, 0, 0, 16, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm',
			       0, 0, 0, 1, 0, 0, 0, 0, 'm', 'd', 'a', 't'};
	char err[160] = "";
	int fd = temp_with(v, sizeof(v));

	cr_assert_eq(mp4_check_fd(fd, sizeof(v), err, sizeof(err)), MP4_WHOLE, "%s", err);
	close(fd);
}
