#include "mp4_check.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int printable_type(const unsigned char *t)
{
	for (int i = 0; i < 4; i++)
		if (t[i] < 0x20 || t[i] > 0x7e)
			return 0;
	return 1;
}

enum video_kind video_kind_of(const void *head, size_t len)
{
	const unsigned char *p = head;

	if (len >= 8 && !memcmp(p + 4, "ftyp", 4))
		return VIDEO_KIND_MP4;
	if (len >= 4 && !memcmp(p, "\x1a\x45\xdf\xa3", 4))
		return VIDEO_KIND_WEBM;
	return VIDEO_KIND_NONE;
}

enum mp4_verdict mp4_check_fd(int fd, int64_t size, char *err, size_t errlen)
{
	unsigned char h[16];
	int64_t off = 0;
	int boxes = 0;

	while (off < size) {
		if (size - off < 8) {
			snprintf(err, errlen, "%lld stray bytes after the last MP4 box",
				 (long long)(size - off));
			return boxes ? MP4_GARBLED : MP4_NOT_MP4;
		}
		ssize_t n = pread(fd, h, sizeof(h), off);
		if (n < 8) {
			snprintf(err, errlen, "cannot read the video: %s",
				 n < 0 ? strerror(errno) : "short read");
			return MP4_GARBLED;
		}
		if (boxes == 0 && memcmp(h + 4, "ftyp", 4) != 0)
			return MP4_NOT_MP4;
		if (!printable_type(h + 4)) {
			snprintf(err, errlen, "no MP4 box at byte %lld", (long long)off);
			return MP4_GARBLED;
		}
		uint64_t box = be32(h);
		if (box == 1) {
			if (n < 16) {
				snprintf(err, errlen, "MP4 box at byte %lld is cut short",
					 (long long)off);
				return MP4_TRUNCATED;
			}
			box = (uint64_t)be32(h + 8) << 32 | be32(h + 12);
			if (box < 16) {
				snprintf(err, errlen, "bad MP4 box size at byte %lld", (long long)off);
				return MP4_GARBLED;
			}
		} else if (box == 0) {
			return MP4_WHOLE; /* "to the end of the file" */
		} else if (box < 8) {
			snprintf(err, errlen, "bad MP4 box size at byte %lld", (long long)off);
			return MP4_GARBLED;
		}
		if (box > (uint64_t)(size - off)) {
			snprintf(err, errlen, "the video is incomplete: its '%.4s' box needs %llu "
				 "bytes more than arrived", (const char *)h + 4,
				 (unsigned long long)(box - (uint64_t)(size - off)));
			return MP4_TRUNCATED;
		}
		off += (int64_t)box;
		boxes++;
	}
	return boxes ? MP4_WHOLE : MP4_NOT_MP4;
}
