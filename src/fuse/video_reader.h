/* Reading video.mp4 while it may still be arriving: a read never returns
 * bytes we don't have. It waits for the download (bounded by api.timeout,
 * then EIO), or fetches a far-ahead range straight from the provider when
 * it honours ranges, so a player can seek before the download gets there. */
#ifndef VEOFS_VIDEO_READER_H
#define VEOFS_VIDEO_READER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct engine;
struct task;

/* Read up to len bytes at off of the task's video into buf, from fd (the
 * part or finished file). Returns bytes read (0 at the end) or -errno. */
ssize_t video_reader_read(struct engine *e, struct task *t, int fd, char *buf,
			  size_t len, int64_t off);
/* Whether [off, off+len) (clipped to the size) is on disk already, so the
 * caller may serve it straight from fd (e.g. by splice). */
int video_reader_ready(struct task *t, int64_t off, size_t len);

#endif
