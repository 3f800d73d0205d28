/* The simulator's videos: small real MP4 clips, embedded, one per requested
 * duration (4, 6, 8, 12 s) and aspect (landscape, portrait), made distinct per job
 * by a trailing `free` box that names the job and pads the file to the
 * requested size. Every byte is a pure function of (job id, video_bytes,
 * offset), so a 1 GiB video never exists in memory and tests can compute
 * what a download must contain. */
#ifndef VEOFS_SIM_VIDEO_H
#define VEOFS_SIM_VIDEO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The clip for a request's `seconds` and `size` (either may be NULL): the
 * nearest duration among 4, 6, 8 and 12 (8 when not given) in the aspect
 * of size (portrait for 9x16, 720x1280 and 1024x1792, else landscape). */
int sim_clip_pick(const char *seconds, const char *size);
int sim_clip_seconds(int clip);
bool sim_clip_portrait(int clip);

/* Size of job_id's video made from clip; video_bytes 0 means as small as possible, and a
 * request below that minimum (a few KiB) gets the minimum. */
int64_t sim_clip_video_size(int clip, const char *job_id, int64_t video_bytes);

/* Copy up to len bytes of job_id's video starting at offset into buf.
 * Returns the number of bytes copied: less than len only at the end,
 * 0 at or beyond the end. */
size_t sim_clip_video_read(int clip, const char *job_id, int64_t video_bytes,
			   int64_t offset, void *buf, size_t len);

/* The same for the default clip (8 seconds, landscape). */
int64_t sim_video_size(const char *job_id, int64_t video_bytes);
size_t sim_video_read(const char *job_id, int64_t video_bytes, int64_t offset,
		      void *buf, size_t len);

/* The thumbnail served for ?variant=thumbnail: a small real WebP image,
 * the same for every job. */
const unsigned char *sim_thumbnail_webp(size_t *len);

#endif
