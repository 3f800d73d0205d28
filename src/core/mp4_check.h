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

/* What a file's first bytes say it is: a body is judged by its bytes, not
 * by what a server labelled it. */
enum video_kind {
	VIDEO_KIND_NONE,  /* no video container (JSON, text, anything else) */
	VIDEO_KIND_MP4,   /* MP4/MOV: an ftyp box first */
	VIDEO_KIND_WEBM,  /* WebM/Matroska: the EBML magic 1A 45 DF A3 */
};
/* VIDEO_KIND_SNIFF bytes are enough to tell (fewer: the whole file). */
#define VIDEO_KIND_SNIFF 12
enum video_kind video_kind_of(const void *head, size_t len);

/* Walk the top-level boxes of the size-byte file fd. On anything but
 * MP4_WHOLE/MP4_NOT_MP4, a reason goes to err. */
enum mp4_verdict mp4_check_fd(int fd, int64_t size, char *err, size_t errlen);

#endif
