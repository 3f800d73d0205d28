/* Scraping the chat route's text (chat_scrape.h). Every scan moves
 * forward: a candidate is judged from where it was found, within a
 * bounded window or up to a byte that ends it, and the scan goes on after
 * it, so no input makes the work grow faster than its length. */
#include "chat_scrape.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- bytes ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(char c)
{
	return is_digit(c) || is_alpha(c);
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* s[0..n) starts with the ASCII word w, any case. */
static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool starts_nocase(const char *s, size_t n, const char *w)
{
	/* the first byte alone settles almost every call */
	if (n == 0 || lower(s[0]) != lower(w[0]))
		return false;
	size_t k = strlen(w);

	return n >= k && !strncasecmp(s, w, k);
}

static bool starts(const char *s, size_t n, const char *w)
{
	size_t k = strlen(w);

	return n >= k && !memcmp(s, w, k);
}

static bool ends_nocase(const char *s, size_t n, const char *w)
{
	size_t k = strlen(w);

	return n >= k && !strncasecmp(s + n - k, w, k);
}

static char *dup_n(const char *s, size_t n)
{
	char *out = malloc(n + 1);

	if (out) {
		memcpy(out, s, n);
		out[n] = '\0';
	}
	return out;
}

/* A copy with the escapes of text that went through JSON undone: "\/",
 * "\"" and the \u forms Go and others use for & < > = '. */
static char *unescape(const char *t, size_t len, size_t *out_len)
{
	static const struct { const char *esc; char c; } tab[] = {
		{ "\\u0026", '&' }, { "\\u003c", '<' }, { "\\u003e", '>' },
		{ "\\u003d", '=' }, { "\\u0027", '\'' },
	};
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len;) {
		if (t[i] == '\\' && i + 1 < len && (t[i + 1] == '/' || t[i + 1] == '"')) {
			*o++ = t[i + 1];
			i += 2;
			continue;
		}
		bool done = false;
		for (size_t k = 0; t[i] == '\\' && k < sizeof(tab) / sizeof(tab[0]); k++) {
			if (starts_nocase(t + i, len - i, tab[k].esc)) {
				*o++ = tab[k].c;
				i += 6;
				done = true;
				break;
			}
		}
		if (!done)
			*o++ = t[i++];
	}
	*o = '\0';
	*out_len = (size_t)(o - out);
	return out;
}

/* ---- progress ---- */

/* A number at s: digits and maybe a decimal part (".5", never ".."). Its
 * whole part when 0..100; -2 when larger; -1 when s holds no digit. */
static int number_at(const char *s, const char *end, const char **after)
{
	const char *p = s;
	long v = 0;
	int digits = 0;

	while (p < end && is_digit(*p)) {
		if (digits < 6)
			v = v * 10 + (*p - '0');
		digits++;
		p++;
	}
	*after = p;
	if (!digits)
		return -1;
	if (p + 1 < end && *p == '.' && is_digit(p[1])) {
		p++;
		while (p < end && is_digit(*p))
			p++;
		*after = p;
	}
	return digits > 3 || v > 100 ? -2 : (int)v;
}

/* "％", the full-width percent sign. */
static const char fw_percent[] = "\xef\xbc\x85";
static const char fw_colon[] = "\xef\xbc\x9a";
static const char progress_zh[] = "\xe8\xbf\x9b\xe5\xba\xa6"; /* 进度 */
static const char ellipsis[] = "\xe2\x80\xa6";              /* … */

/* What may come before a percentage's number: not a letter, digit or a
 * byte of a URL or an identifier ("v45%", "/45%", "a_45%", "3.45%"). */
static bool percent_boundary(const char *text, const char *p)
{
	if (p == text)
		return true;
	char c = p[-1];
	if (c == '.')
		return !(p - 1 > text && is_digit(p[-2]));
	return !is_alnum(c) && !strchr("_-/%=&?#+~\\", c);
}

/* After "progress" or "进度": what may stand between it and the number. */
static const char *skip_progress_separators(const char *p, const char *end)
{
	for (int budget = 24; p < end && budget > 0; budget--) {
		if (strchr(" \t:\"'*=>`", *p) && *p) {
			p++;
		} else if (starts(p, (size_t)(end - p), fw_colon)) {
			p += 3;
		} else {
			break;
		}
	}
	return p;
}

/* Between the numbers of "进度 36..47..58": dots, blanks, commas, "…". */
static const char *skip_list_separators(const char *p, const char *end)
{
	for (;;) {
		if (p < end && (*p == '.' || *p == ' ' || *p == ','))
			p++;
		else if (starts(p, (size_t)(end - p), ellipsis))
			p += 3;
		else
			return p;
	}
}

/* A number after a progress word stands for progress only if what follows
 * is no unit or ratio ("16:9", "5s", "3/4"). */
static bool plain_number_end(const char *p, const char *end)
{
	return p == end || (!is_alpha(*p) && *p != ':' && *p != '/' && *p != '_' &&
			    *p != '-');
}

int chat_scrape_progress(const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	int best = -1;

	while (p < end) {
		size_t left = (size_t)(end - p);
		bool word = starts_nocase(p, left, "progress") ||
			    starts(p, left, progress_zh);
		if (word) {
			const char *q = p + (starts(p, left, progress_zh) ? 6 : 8);
			q = skip_progress_separators(q, end);
			for (;;) {
				const char *after;
				int v = number_at(q, end, &after);
				if (v == -1)
					break;
				const char *r = after;
				while (r < end && *r == ' ')
					r++;
				bool pct = (r < end && *r == '%') ||
					   starts(r, (size_t)(end - r), fw_percent);
				if (v >= 0 && (pct || plain_number_end(after, end)) && v > best)
					best = v;
				const char *next = skip_list_separators(after, end);
				if (next == after || pct)
					break;
				q = next;
			}
			p = q > p ? q : p + 1;
			continue;
		}
		if (is_digit(*p) && percent_boundary(text, p)) {
			const char *after;
			int v = number_at(p, end, &after);
			const char *r = after;
			int spaces = 0;
			while (r < end && *r == ' ' && spaces < 2) {
				r++;
				spaces++;
			}
			bool pct = false;
			if (r < end && *r == '%')
				/* "%20" after digits is a URL's escape, not a sign */
				pct = !(r + 2 < end && is_hex(r[1]) && is_hex(r[2]));
			else if (starts(r, (size_t)(end - r), fw_percent))
				pct = true;
			if (pct && v >= 0 && v > best)
				best = v;
			p = after;
			continue;
		}
		p++;
	}
	return best;
}

int chat_progress_next(int shown, int seen)
{
	if (seen > 100 || seen < 0)
		return shown;
	return seen > shown ? seen : shown;
}

/* ---- links ---- */

static bool is_http(const char *s, size_t n)
{
	return starts_nocase(s, n, "http://") || starts_nocase(s, n, "https://");
}

/* The path of a URL: up to its query or fragment. */
static size_t path_len(const char *u, size_t n)
{
	size_t i = 0;

	while (i < n && u[i] != '?' && u[i] != '#')
		i++;
	return i;
}

static bool has_ext(const char *u, size_t n, const char *const *exts)
{
	size_t p = path_len(u, n);

	for (int i = 0; exts[i]; i++)
		if (ends_nocase(u, p, exts[i]))
			return true;
	return false;
}

static const char *const video_exts[] = { ".mp4", ".webm", ".mov", ".m4v", NULL };
static const char *const image_exts[] = {
	".webp", ".png", ".jpg", ".jpeg", ".gif", NULL,
};

static bool is_video_path(const char *u, size_t n)
{
	return has_ext(u, n, video_exts);
}

static bool is_image_path(const char *u, size_t n)
{
	return has_ext(u, n, image_exts);
}

/* A link worth taking at all: http(s), a host after the scheme, no blank
 * or control byte, not too long. */
static bool link_ok(const char *u, size_t n, size_t max)
{
	if (n > max || !is_http(u, n))
		return false;
	size_t scheme = starts_nocase(u, n, "https://") ? 8 : 7;
	if (n <= scheme)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] <= 0x20 || u[i] == 0x7f)
			return false;
	return true;
}

struct span {
	const char *s;
	size_t n;
};

/* A bare URL at p (which starts with http): up to a blank, a quote, a
 * bracket, a byte of another script ("。", "）"), then without trailing
 * punctuation. */
static struct span bare_url(const char *p, const char *end)
{
	const char *q = p;

	while (q < end && (unsigned char)*q > 0x20 && (unsigned char)*q < 0x7f &&
	       !strchr("\"'<>`()[]{}|\\^", *q))
		q++;
	while (q > p && strchr(".,;:!?*~", q[-1]))
		q--;
	return (struct span){ p, (size_t)(q - p) };
}

/* Where a tag that begins at p ends: its '>', or the next '<' (then the
 * tag is broken and the scan goes on from there), or end. */
static const char *tag_end(const char *p, const char *end)
{
	for (const char *q = p + 1; q < end; q++)
		if (*q == '>' || *q == '<')
			return q;
	return end;
}

/* The value of attribute name (e.g. "src") in the tag [p, e); *vs, *vn. */
static bool tag_attr(const char *p, const char *e, const char *name,
		     const char **vs, size_t *vn)
{
	size_t k = strlen(name);

	for (const char *q = p + 1; q + k < e; q++) {
		if (!(is_space(q[-1]) || q[-1] == '"' || q[-1] == '\'') ||
		    strncasecmp(q, name, k))
			continue;
		const char *r = q + k;
		while (r < e && is_space(*r))
			r++;
		if (r >= e || *r != '=')
			continue;
		r++;
		while (r < e && is_space(*r))
			r++;
		if (r >= e)
			return false;
		const char *v = r, *ve;
		if (*r == '"' || *r == '\'') {
			v = r + 1;
			ve = memchr(v, *r, (size_t)(e - v));
			if (!ve)
				return false;
		} else {
			ve = v;
			while (ve < e && !is_space(*ve))
				ve++;
		}
		*vs = v;
		*vn = (size_t)(ve - v);
		return true;
	}
	return false;
}

/* The last acceptable link of each kind. */
struct link_pick {
	struct span video_tag, md_download, md_other, bare;
};

static void take(struct span *slot, const char *s, size_t n)
{
	if (link_ok(s, n, CHAT_LINK_MAX) && !is_image_path(s, n))
		*slot = (struct span){ s, n };
}

static void scan_video_tags(const char *u, const char *end, struct link_pick *lp)
{
	const char *p = u;

	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		if (!lt)
			return;
		size_t left = (size_t)(end - lt);
		if (!starts_nocase(lt, left, "<video") ||
		    (left > 6 && is_alnum(lt[6]))) {
			p = lt + 1;
			continue;
		}
		const char *e = tag_end(lt, end), *vs;
		size_t vn;
		if (tag_attr(lt, e, "src", &vs, &vn)) {
			take(&lp->video_tag, vs, vn);
			p = e;
			continue;
		}
		/* <source src> inside this video element */
		p = e;
		while (p < end) {
			const char *t = memchr(p, '<', (size_t)(end - p));
			if (!t) {
				p = end;
				break;
			}
			size_t tl = (size_t)(end - t);
			if (starts_nocase(t, tl, "</video") || starts_nocase(t, tl, "<video")) {
				p = t;
				break;
			}
			const char *te = tag_end(t, end);
			if (starts_nocase(t, tl, "<source") &&
			    tag_attr(t, te, "src", &vs, &vn))
				take(&lp->video_tag, vs, vn);
			p = te > t ? te : t + 1;
		}
		if (p < end && *p == '<' && starts_nocase(p, (size_t)(end - p), "</video"))
			p++;
	}
}

static bool label_says_download(const char *s, size_t n)
{
	static const char zh[] = "\xe4\xb8\x8b\xe8\xbd\xbd"; /* 下载 */

	for (size_t i = 0; i < n; i++)
		if (starts_nocase(s + i, n - i, "download") || starts(s + i, n - i, zh))
			return true;
	return false;
}

static void scan_markdown(const char *u, const char *end, struct link_pick *lp)
{
	const char *p = u;

	while (p < end) {
		const char *open = memchr(p, '[', (size_t)(end - p));
		if (!open)
			return;
		const char *q = open + 1;
		while (q < end && *q != '[' && *q != ']' && *q != '\n')
			q++;
		if (q >= end)
			return;
		if (*q != ']' || q + 1 >= end || q[1] != '(') {
			p = *q == '[' ? q : q + 1;
			continue;
		}
		const char *us = q + 2, *ue = us;
		while (ue < end && *ue != ')' && !is_space(*ue) && *ue != '<' && *ue != '>')
			ue++;
		size_t n = (size_t)(ue - us);
		bool image = open > u && open[-1] == '!';
		if (!image && ue < end && is_video_path(us, n)) {
			if (label_says_download(open + 1, (size_t)(q - open - 1)))
				take(&lp->md_download, us, n);
			else
				take(&lp->md_other, us, n);
		}
		p = ue > q ? ue : q + 1;
	}
}

static bool url_start(const char *u, const char *p, const char *end)
{
	return (*p == 'h' || *p == 'H') && is_http(p, (size_t)(end - p)) &&
	       (p == u || !is_alnum(p[-1]));
}

static void scan_bare(const char *u, const char *end, struct link_pick *lp)
{
	for (const char *p = u; p < end;) {
		if (!url_start(u, p, end)) {
			p++;
			continue;
		}
		struct span s = bare_url(p, end);
		if (is_video_path(s.s, s.n))
			take(&lp->bare, s.s, s.n);
		p += s.n > 0 ? s.n : 1;
	}
}

/* A copy of a link, with the "&amp;" of an HTML attribute undone. */
static char *link_copy(struct span s, bool html)
{
	char *out = malloc(s.n + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < s.n;) {
		if (html && starts_nocase(s.s + i, s.n - i, "&amp;")) {
			*o++ = '&';
			i += 5;
		} else {
			*o++ = s.s[i++];
		}
	}
	*o = '\0';
	return out;
}

static char *find_link(const char *u, size_t n)
{
	struct link_pick lp = { 0 };
	const char *end = u + n;

	scan_video_tags(u, end, &lp);
	if (lp.video_tag.s)
		return link_copy(lp.video_tag, true);
	scan_markdown(u, end, &lp);
	if (lp.md_download.s)
		return link_copy(lp.md_download, false);
	if (lp.md_other.s)
		return link_copy(lp.md_other, false);
	scan_bare(u, end, &lp);
	if (lp.bare.s)
		return link_copy(lp.bare, false);
	return NULL;
}

char *chat_scrape_link(const char *text, size_t len)
{
	size_t n;
	char *u = unescape(text, len, &n);
	char *link = u ? find_link(u, n) : NULL;

	free(u);
	return link;
}

/* ---- the task's id and a URL to poll ---- */

/* Labels of a URL to poll, then labels of an id; any case for ASCII. */
static const char *const poll_labels[] = {
	"polling url", "polling_url", "poll url", "poll_url", "status url",
	"status_url", "query url", "query_url",
	"\xe6\x9f\xa5\xe8\xaf\xa2\xe9\x93\xbe\xe6\x8e\xa5", /* 查询链接 */
	"\xe6\x9f\xa5\xe8\xaf\xa2\xe5\x9c\xb0\xe5\x9d\x80", /* 查询地址 */
	"\xe8\xbd\xae\xe8\xaf\xa2\xe5\x9c\xb0\xe5\x9d\x80", /* 轮询地址 */
	"\xe8\xbd\xae\xe8\xaf\xa2\xe9\x93\xbe\xe6\x8e\xa5", /* 轮询链接 */
	/* The async task-link style's markdown: "[数据预览](.../web/ID) |
	 * [原始数据](.../source/ID)", the second the task as JSON (the
	 * veo3-pro transcript cited in src/sim/sim_chat.c). */
	"\xe5\x8e\x9f\xe5\xa7\x8b\xe6\x95\xb0\xe6\x8d\xae", /* 原始数据 */
	"raw data",
	NULL,
};
static const char *const id_labels[] = {
	"task_id", "task id", "taskid", "task-id",
	"\xe4\xbb\xbb\xe5\x8a\xa1id", /* 任务ID (any case: ASCII part) */
	"\xe4\xbb\xbb\xe5\x8a\xa1 id",
	"\xe4\xbb\xbb\xe5\x8a\xa1\xe7\xbc\x96\xe5\x8f\xb7", /* 任务编号 */
	NULL,
};

/* The length of the label of the list at p, 0 when none. */
static size_t label_at(const char *p, size_t left, const char *const *labels)
{
	for (int i = 0; labels[i]; i++)
		if (starts_nocase(p, left, labels[i]))
			return strlen(labels[i]);
	return 0;
}

/* Blanks, quotes, emphasis and at most one ':', '：' or '='. *sep tells
 * whether one was there. */
static const char *skip_label_separators(const char *p, const char *end, bool *sep)
{
	*sep = false;
	for (int budget = 16; p < end && budget > 0; budget--) {
		if (*p && strchr(" \t\"'*`<(]", *p)) {
			p++;
		} else if (!*sep && (*p == ':' || *p == '=')) {
			*sep = true;
			p++;
		} else if (!*sep && starts(p, (size_t)(end - p), fw_colon)) {
			*sep = true;
			p += 3;
		} else {
			break;
		}
	}
	return p;
}

static bool id_byte(char c)
{
	return is_alnum(c) || c == '_' || c == '-' || c == '.';
}

/* A URL that may be polled: not the video, not an image, not media. */
static bool pollable(struct span s, const char *video)
{
	if (!link_ok(s.s, s.n, CHAT_POLL_URL_MAX) || is_video_path(s.s, s.n) ||
	    is_image_path(s.s, s.n))
		return false;
	return !video || strlen(video) != s.n || memcmp(video, s.s, s.n);
}

/* The path of an unlabelled URL names a task or its status. */
static bool path_names_task(struct span s)
{
	static const char *const parts[] = {
		"/task/", "/tasks/", "/query", "/status", "/result", "/source/", NULL,
	};
	size_t scheme = starts_nocase(s.s, s.n, "https://") ? 8 : 7;
	const char *path = memchr(s.s + scheme, '/', s.n - scheme);

	if (!path)
		return false;
	size_t n = path_len(path, (size_t)(s.s + s.n - path));
	for (size_t i = 0; i < n; i++)
		for (int k = 0; parts[k]; k++)
			if (starts_nocase(path + i, n - i, parts[k]))
				return true;
	return false;
}

/* The URL at p is an attribute's value (src="..."): media, not a task. */
static bool in_attribute(const char *u, const char *p)
{
	const char *q = p;

	if (q > u && (q[-1] == '"' || q[-1] == '\''))
		q--;
	return q > u && q[-1] == '=';
}

void chat_scrape_task(const char *text, size_t len, struct chat_task_ref *out)
{
	struct span labelled = { 0 }, unlabelled = { 0 }, id = { 0 };
	size_t n;
	char *u = unescape(text, len, &n);
	char *video = u ? find_link(u, n) : NULL;
	const char *end = u + n;

	out->task_id = NULL;
	out->poll_url = NULL;
	if (!u)
		return;
	for (const char *p = u; p < end;) {
		size_t left = (size_t)(end - p), k;
		bool sep;
		if ((k = label_at(p, left, poll_labels))) {
			const char *q = skip_label_separators(p + k, end, &sep);
			if (q < end && is_http(q, (size_t)(end - q))) {
				struct span s = bare_url(q, end);
				if (pollable(s, video))
					labelled = s;
				p = q + (s.n ? s.n : 1);
				continue;
			}
			p += k;
			continue;
		}
		if ((k = label_at(p, left, id_labels))) {
			const char *q = skip_label_separators(p + k, end, &sep);
			const char *tok = q;
			while (tok < end && id_byte(*tok) && tok - q <= 128)
				tok++;
			/* "task_id: https://..." is a URL, judged as one */
			bool url = tok < end && *tok == ':';
			bool whole = tok == end || !id_byte(*tok);
			const char *e = tok;
			while (e > q && e[-1] == '.') /* the end of a sentence */
				e--;
			if (sep && !url && whole && e - q >= 3 && e - q <= 128)
				id = (struct span){ q, (size_t)(e - q) };
			p = url && q > p ? q : tok > p + k ? tok : p + k;
			continue;
		}
		if (url_start(u, p, end)) {
			struct span s = bare_url(p, end);
			if (!in_attribute(u, p) && path_names_task(s) && pollable(s, video))
				unlabelled = s;
			p += s.n ? s.n : 1;
			continue;
		}
		p++;
	}
	struct span url = labelled.s ? labelled : unlabelled;
	if (url.s)
		out->poll_url = dup_n(url.s, url.n);
	if (id.s)
		out->task_id = dup_n(id.s, id.n);
	free(video);
	free(u);
}

void chat_task_ref_free(struct chat_task_ref *r)
{
	free(r->task_id);
	free(r->poll_url);
	r->task_id = NULL;
	r->poll_url = NULL;
}

/* ---- failure ---- */

char *chat_scrape_failure(const char *text, size_t len)
{
	static const char *const words[] = {
		"failed", "failure", "error",
		"\xe5\xa4\xb1\xe8\xb4\xa5", /* 失败 */
		"\xe9\x94\x99\xe8\xaf\xaf", /* 错误 */
		NULL,
	};
	const char *line = text, *end = text + len;

	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *le = nl ? nl : end;
		for (const char *p = line; p < le; p++) {
			for (int k = 0; words[k]; k++) {
				if (!starts_nocase(p, (size_t)(le - p), words[k]))
					continue;
				const char *s = line, *e = le;
				while (s < e && is_space(*s))
					s++;
				while (e > s && is_space(e[-1]))
					e--;
				size_t n = (size_t)(e - s);
				if (n > 200) {
					n = 200;
					/* not inside a UTF-8 sequence */
					while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
						n--;
				}
				char *out = dup_n(s, n);
				for (char *c = out; c && *c; c++)
					if ((unsigned char)*c < 0x20 || *c == 0x7f)
						*c = ' ';
				return out;
			}
		}
		line = le + 1;
	}
	return NULL;
}
