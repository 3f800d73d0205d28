/* A finished download must be the whole video. Content-Length can lie (a
 * gateway that declares fewer bytes than it sends, a cut connection that
 * still looks complete), so the MP4's own structure is checked too: its
 * top-level boxes must tile the file exactly. */
#ifndef VEOFS_MP4_CHECK_H
#define VEOFS_MP4_CHECK_H

#include <stddef.h>
#include <stdint.h>

enum mp4_verdict {
	MP4_WHOLE,      /* boxes end exactly at the end of the file */
	MP4_NOT_MP4,    /* does not start with an ftyp box: not checked */
	MP4_TRUNCATED,  /* a box runs past the end: bytes are missing */
	MP4_GARBLED,    /* a box header makes no sense */
};

/* Walk the top-level boxes of the size-byte file fd. On anything but
 * MP4_WHOLE/MP4_NOT_MP4, a reason goes to err. */
enum mp4_verdict mp4_check_fd(int fd, int64_t size, char *err, size_t errlen);

#endif
