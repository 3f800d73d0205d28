/* The simulator's videos: one small real MP4, embedded, made distinct per job
 * by a trailing `free` box that names the job and pads the file to the
 * requested size. Every byte is a pure function of (job id, video_bytes,
 * offset), so a 1 GiB video never exists in memory and tests can compute
 * what a download must contain. */
#ifndef VEOFS_SIM_VIDEO_H
#define VEOFS_SIM_VIDEO_H

#include <stddef.h>
#include <stdint.h>

/* Size of job_id's video; video_bytes 0 means as small as possible, and a
 * request below that minimum (a few KiB) gets the minimum. */
int64_t sim_video_size(const char *job_id, int64_t video_bytes);

/* Copy up to len bytes of job_id's video starting at offset into buf.
 * Returns the number of bytes copied: less than len only at the end,
 * 0 at or beyond the end. */
size_t sim_video_read(const char *job_id, int64_t video_bytes, int64_t offset,
		      void *buf, size_t len);

/* The thumbnail served for ?variant=thumbnail: a small real WebP image,
 * the same for every job. */
const unsigned char *sim_thumbnail_webp(size_t *len);

#endif
