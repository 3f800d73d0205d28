/* The simulator's videos (see sim_video.h).
 *
 * Layout of a job's video:
 *   [embedded MP4 clip][free box header][tag "veofs-sim video ID\n"][filler]
 * A top-level `free` box after the last real box is skipped by every MP4
 * reader, and appending it leaves the chunk offsets of the original file
 * valid, so the result plays and ffprobe accepts it at any size. The
 * filler is a keyed pseudo-random stream so that a byte served from the
 * wrong offset or the wrong job never matches by chance.
 *
 * The clip follows the request: its duration is the requested `seconds`
 * (4, 6, 8 or 12; anything else gets the nearest, none gets 8, the API's
 * default) and its aspect follows `size` (16x9, 1280x720 and 1792x1024 are
 * landscape, 160x90; 9x16, 720x1280 and 1024x1792 are portrait, 90x160;
 * none is landscape, as the default 1280x720 is).
 *
 * The files under assets/ were made with ffmpeg 5.1 and are embedded at
 * build time by embed.py (neither ffmpeg nor the network is needed to run).
 * Each clip, for S in 4 6 8 12 and (NAME, WxH) in (land, 160x90) and
 * (port, 90x160):
 *   ffmpeg -f lavfi -i testsrc2=size=WxH:rate=12:duration=S \
 *     -c:v libx264 -preset veryslow -crf 40 -pix_fmt yuv420p -g 24 -bf 0 \
 *     -x264-params no-info=1 -map_metadata -1 -fflags +bitexact \
 *     -flags +bitexact -movflags +faststart assets/clip_Ss_NAME.mp4
 * e.g. clip_12s_port.mp4 is testsrc2=size=90x160:rate=12:duration=12.
 * The thumbnail:
 *   ffmpeg -f lavfi -i testsrc2=size=160x90:rate=1 -frames:v 1 \
 *     -c:v libwebp -quality 40 -map_metadata -1 -fflags +bitexact assets/thumbnail.webp
 */
#include "sim_video.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_assets.h"

#define TAG_MAX 400

#define CLIP(S, P, NAME) { S, P, NAME, sizeof(NAME) }

static const struct clip {
	int seconds;
	bool portrait;
	const unsigned char *data;
	size_t len;
} clips[] = {
	CLIP(4, false, asset_clip_4s_land_mp4),
	CLIP(6, false, asset_clip_6s_land_mp4),
	CLIP(8, false, asset_clip_8s_land_mp4),
	CLIP(12, false, asset_clip_12s_land_mp4),
	CLIP(4, true, asset_clip_4s_port_mp4),
	CLIP(6, true, asset_clip_6s_port_mp4),
	CLIP(8, true, asset_clip_8s_port_mp4),
	CLIP(12, true, asset_clip_12s_port_mp4),
};

#define N_CLIPS ((int)(sizeof(clips) / sizeof(clips[0])))
#define DEFAULT_CLIP 2	/* 8 seconds, landscape: the API's defaults */

static bool size_is_portrait(const char *size)
{
	static const char *const portrait[] = { "9x16", "720x1280", "1024x1792" };

	for (size_t i = 0; i < sizeof(portrait) / sizeof(portrait[0]); i++)
		if (strcmp(size, portrait[i]) == 0)
			return true;
	return false;
}

int sim_clip_pick(const char *seconds, const char *size)
{
	bool portrait = size && size_is_portrait(size);
	double want = 8;
	int best = -1;
	char *end;

	if (seconds && *seconds) {
		double v = strtod(seconds, &end);

		if (end != seconds)
			want = v;
	}
	for (int i = 0; i < N_CLIPS; i++) {
		if (clips[i].portrait != portrait)
			continue;
		/* Ties (5 between 4 and 6) go to the longer clip. */
		if (best < 0 || fabs(clips[i].seconds - want) <=
				fabs(clips[best].seconds - want))
			best = i;
	}
	return best < 0 ? DEFAULT_CLIP : best;
}

int sim_clip_seconds(int clip)
{
	return clips[clip >= 0 && clip < N_CLIPS ? clip : DEFAULT_CLIP].seconds;
}

bool sim_clip_portrait(int clip)
{
	return clips[clip >= 0 && clip < N_CLIPS ? clip : DEFAULT_CLIP].portrait;
}

static const struct clip *clip_of(int clip)
{
	return &clips[clip >= 0 && clip < N_CLIPS ? clip : DEFAULT_CLIP];
}

struct layout {
	int64_t total;
	int64_t box_size;	/* the free box, header included */
	int header_len;		/* 8, or 16 when the box needs a 64-bit size */
	char tag[TAG_MAX];
	int tag_len;
	uint64_t key;
};

static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void layout_of(const struct clip *c, const char *job_id,
		      int64_t video_bytes, struct layout *l)
{
	int64_t base = (int64_t)c->len;
	int64_t min_box;

	l->tag_len = snprintf(l->tag, sizeof(l->tag), "veofs-sim video %.360s\n",
			      job_id);
	l->key = fnv1a64(job_id);
	l->header_len = 8;
	min_box = l->header_len + l->tag_len;
	l->total = base + min_box;
	if (video_bytes > l->total)
		l->total = video_bytes;
	l->box_size = l->total - base;
	/* A 32-bit box size can't say it: switch to the 64-bit form, which
	 * carries 8 more header bytes inside the same total. */
	if (l->box_size > (int64_t)UINT32_MAX)
		l->header_len = 16;
}

int64_t sim_clip_video_size(int clip, const char *job_id, int64_t video_bytes)
{
	struct layout l;

	layout_of(clip_of(clip), job_id, video_bytes, &l);
	return l.total;
}

static void put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = v & 0xff;
}

static void box_header(const struct layout *l, unsigned char *h)
{
	if (l->header_len == 8) {
		put_be(h, (uint64_t)l->box_size, 4);
		memcpy(h + 4, "free", 4);
	} else {
		put_be(h, 1, 4);
		memcpy(h + 4, "free", 4);
		put_be(h + 8, (uint64_t)l->box_size, 8);
	}
}

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = v & 0xff;
}

/* Filler at absolute offset off, a pure function of (key, off): byte off
 * is byte (off % 8) of the little-endian word splitmix64(key ^ off / 8). */
static void fill(uint64_t key, int64_t off, unsigned char *out, size_t len)
{
	unsigned char word[8];

	while (len > 0 && (off & 7)) {
		put_le64(word, splitmix64(key ^ (uint64_t)(off >> 3)));
		*out++ = word[off & 7];
		off++;
		len--;
	}
	for (; len >= 8; len -= 8, off += 8, out += 8)
		put_le64(out, splitmix64(key ^ (uint64_t)(off >> 3)));
	if (len > 0) {
		put_le64(word, splitmix64(key ^ (uint64_t)(off >> 3)));
		memcpy(out, word, len);
	}
}

/* Copy the part of [seg_start, seg_start + seg_len) that overlaps the
 * window [*off, *off + *len) and advance the window past it. */
static void copy_segment(const unsigned char *seg, int64_t seg_start,
			 int64_t seg_len, int64_t *off, unsigned char **out,
			 size_t *len)
{
	int64_t end = seg_start + seg_len;
	size_t n;

	if (*len == 0 || *off < seg_start || *off >= end)
		return;
	n = (size_t)(end - *off) < *len ? (size_t)(end - *off) : *len;
	memcpy(*out, seg + (*off - seg_start), n);
	*off += n;
	*out += n;
	*len -= n;
}

size_t sim_clip_video_read(int clip, const char *job_id, int64_t video_bytes,
			   int64_t offset, void *buf, size_t len)
{
	const struct clip *c = clip_of(clip);
	struct layout l;
	unsigned char header[16];
	unsigned char *out = buf;
	int64_t base = (int64_t)c->len;
	int64_t tag_start, fill_start;
	size_t want;

	layout_of(c, job_id, video_bytes, &l);
	if (offset < 0 || offset >= l.total)
		return 0;
	if ((int64_t)len > l.total - offset)
		len = (size_t)(l.total - offset);
	want = len;
	box_header(&l, header);
	tag_start = base + l.header_len;
	fill_start = tag_start + l.tag_len;

	copy_segment(c->data, 0, base, &offset, &out, &len);
	copy_segment(header, base, l.header_len, &offset, &out, &len);
	copy_segment((const unsigned char *)l.tag, tag_start, l.tag_len,
		     &offset, &out, &len);
	if (len > 0 && offset >= fill_start)
		fill(l.key, offset, out, len);
	return want;
}

int64_t sim_video_size(const char *job_id, int64_t video_bytes)
{
	return sim_clip_video_size(DEFAULT_CLIP, job_id, video_bytes);
}

size_t sim_video_read(const char *job_id, int64_t video_bytes, int64_t offset,
		      void *buf, size_t len)
{
	return sim_clip_video_read(DEFAULT_CLIP, job_id, video_bytes, offset,
				   buf, len);
}

const unsigned char *sim_thumbnail_webp(size_t *len)
{
	*len = sizeof(asset_thumbnail_webp);
	return asset_thumbnail_webp;
}
