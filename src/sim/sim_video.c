/* The simulator's videos (see sim_video.h).
 *
 * Layout of a job's video:
 *   [embedded MP4][free box header][tag "veofs-sim video ID\n"][filler]
 * A top-level `free` box after the last real box is skipped by every MP4
 * reader, and appending it leaves the chunk offsets of the original file
 * valid, so the result plays and ffprobe accepts it at any size. The
 * filler is a keyed pseudo-random stream so that a byte served from the
 * wrong offset or the wrong job never matches by chance.
 *
 * The files under assets/ were made with ffmpeg 5.1 and are embedded at
 * build time by embed.py (neither ffmpeg nor the network is needed to run):
 *   ffmpeg -f lavfi -i testsrc2=size=160x90:rate=12:duration=2 \
 *     -c:v libx264 -preset veryslow -crf 40 -pix_fmt yuv420p -g 24 -bf 0 \
 *     -x264-params no-info=1 -map_metadata -1 -fflags +bitexact \
 *     -flags +bitexact -movflags +faststart assets/base.mp4
 *   ffmpeg -f lavfi -i testsrc2=size=160x90:rate=1 -frames:v 1 \
 *     -c:v libwebp -quality 40 -map_metadata -1 -fflags +bitexact assets/thumbnail.webp
 */
#include "sim_video.h"

#include <stdio.h>
#include <string.h>

#include "sim_assets.h"

#define TAG_MAX 160

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

static void layout_of(const char *job_id, int64_t video_bytes, struct layout *l)
{
	int64_t base = sizeof(asset_base_mp4);
	int64_t min_box;

	l->tag_len = snprintf(l->tag, sizeof(l->tag), "veofs-sim video %.120s\n",
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

int64_t sim_video_size(const char *job_id, int64_t video_bytes)
{
	struct layout l;

	layout_of(job_id, video_bytes, &l);
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

size_t sim_video_read(const char *job_id, int64_t video_bytes, int64_t offset,
		      void *buf, size_t len)
{
	struct layout l;
	unsigned char header[16];
	unsigned char *out = buf;
	int64_t base = sizeof(asset_base_mp4);
	int64_t tag_start, fill_start;
	size_t want;

	layout_of(job_id, video_bytes, &l);
	if (offset < 0 || offset >= l.total)
		return 0;
	if ((int64_t)len > l.total - offset)
		len = (size_t)(l.total - offset);
	want = len;
	box_header(&l, header);
	tag_start = base + l.header_len;
	fill_start = tag_start + l.tag_len;

	copy_segment(asset_base_mp4, 0, base, &offset, &out, &len);
	copy_segment(header, base, l.header_len, &offset, &out, &len);
	copy_segment((const unsigned char *)l.tag, tag_start, l.tag_len,
		     &offset, &out, &len);
	if (len > 0 && offset >= fill_start)
		fill(l.key, offset, out, len);
	return want;
}

const unsigned char *sim_thumbnail_webp(size_t *len)
{
	*len = sizeof(asset_thumbnail_webp);
	return asset_thumbnail_webp;
}
