/* Prompt files: names in new/ and the text with its front matter. */
#include "prompt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const known_models[] = {
	"veo-3.1", "veo-3.1-fl", "veo-3.1-fast", "veo-3.1-fast-fl",
	"veo-3.1-landscape", "veo-3.1-landscape-fl",
	"veo-3.1-landscape-fast", "veo-3.1-landscape-fast-fl", NULL,
};

static const char *const valid_sizes[] = {
	"16x9", "9x16", "1280x720", "720x1280", "1024x1792", "1792x1024", NULL,
};

static const char *const valid_seconds[] = { "4", "6", "8", "12", NULL };

/* Veo's output resolutions, as the Gemini API and OpenRouter name them. */
static const char *const valid_resolutions[] = { "720p", "1080p", NULL };

/* What OpenAI's spec allows (openai-openapi.yaml: VideoSize, VideoSeconds);
 * the Veo provider also takes 16x9, 9x16 and 6 s, so those are sent with a
 * warning rather than refused. */
static const char *const openai_sizes[] = {
	"720x1280", "1280x720", "1024x1792", "1792x1024", NULL,
};
static const char *const openai_seconds[] = { "4", "8", "12", NULL };

enum option_key { KEY_MODEL, KEY_SECONDS, KEY_SIZE, KEY_IMAGE, KEY_WATERMARK,
		  KEY_RESOLUTION, KEY_NEGATIVE_PROMPT, KEY_COUNT };

static const char *const option_keys[KEY_COUNT] = {
	"model", "seconds", "size", "image", "watermark", "resolution",
	"negative_prompt",
};

/* User text quoted in a reason is cut to this many bytes: reasons are one
 * line in a status file, not a copy of the input. */
#define QUOTE_MAX 60

__attribute__((format(printf, 3, 4)))
static void set_reason(char *buf, size_t buflen, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !buflen)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, buflen, fmt, ap);
	va_end(ap);
}

static bool in_list(const char *const *list, const char *s)
{
	if (!s)
		return false;
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

bool prompt_model_known(const char *model)
{
	return in_list(known_models, model);
}

bool prompt_seconds_valid(const char *seconds)
{
	return in_list(valid_seconds, seconds);
}

bool prompt_size_valid(const char *size)
{
	return in_list(valid_sizes, size);
}

bool prompt_resolution_valid(const char *resolution)
{
	return in_list(valid_resolutions, resolution);
}

int prompt_parse_bool(const char *s)
{
	static const char *const truthy[] = { "true", "yes", "on", "1", NULL };
	static const char *const falsy[] = { "false", "no", "off", "0", NULL };

	if (!s)
		return -1;
	for (int i = 0; truthy[i]; i++)
		if (strcasecmp(s, truthy[i]) == 0)
			return 1;
	for (int i = 0; falsy[i]; i++)
		if (strcasecmp(s, falsy[i]) == 0)
			return 0;
	return -1;
}

static enum prompt_name_kind refuse(char *err, size_t errlen, const char *why)
{
	set_reason(err, errlen, "%s", why);
	return PROMPT_NAME_REFUSED;
}

enum prompt_name_kind prompt_classify_name(const char *filename, char *name,
					   size_t namelen, char *err, size_t errlen)
{
	size_t suffix_len = strlen(PROMPT_SUFFIX);
	size_t len, n;

	if (name && namelen)
		name[0] = '\0';
	if (err && errlen)
		err[0] = '\0';
	if (!filename)
		return PROMPT_NAME_SCRATCH;
	len = strlen(filename);
	/* Case-sensitive on purpose: "x.PROMPT" or "x.Prompt" is more likely
	 * an accident than a request to spend money. */
	if (len < suffix_len || strcmp(filename + len - suffix_len, PROMPT_SUFFIX))
		return PROMPT_NAME_SCRATCH;
	n = len - suffix_len;
	if (n == 0)
		return refuse(err, errlen, "task name is empty");
	if (n == 3 && memcmp(filename, "new", 3) == 0)
		return refuse(err, errlen, "task name 'new' is reserved");
	if (filename[0] == '.')
		return refuse(err, errlen, "task names may not start with '.'");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)filename[i];

		if (c < 0x20 || c == 0x7f)
			return refuse(err, errlen,
				      "task names may not contain control characters");
		if (c == '/')
			return refuse(err, errlen, "task names may not contain '/'");
	}
	if (!name || n >= namelen)
		return refuse(err, errlen, "task name is too long");
	memcpy(name, filename, n);
	name[n] = '\0';
	return PROMPT_NAME_PROMPT;
}

void prompt_spec_free(struct prompt_spec *p)
{
	if (!p)
		return;
	free(p->text);
	free(p->model);
	free(p->seconds);
	free(p->size);
	free(p->image);
	free(p->resolution);
	free(p->negative_prompt);
	memset(p, 0, sizeof(*p));
	p->watermark = -1;
}

/* Length of the UTF-8 sequence starting at s[0], or 0 when it is not a
 * valid one (overlong, surrogate, above U+10FFFF, truncated). */
static size_t utf8_sequence_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* The second byte's range is what rules out overlongs, surrogates
	 * and code points past U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (avail < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

static int check_encoding(const char *buf, size_t len, char *err, size_t errlen)
{
	const unsigned char *s = (const unsigned char *)buf;
	size_t i = 0;

	while (i < len) {
		size_t n;

		if (s[i] == 0) {
			set_reason(err, errlen, "prompt contains a NUL byte (byte %zu)", i);
			return -1;
		}
		n = utf8_sequence_len(s + i, len - i);
		if (n == 0) {
			set_reason(err, errlen, "prompt is not valid UTF-8 (byte %zu)", i);
			return -1;
		}
		i += n;
	}
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	       c == '\f';
}

static void trim(const char **s, size_t *n)
{
	while (*n && is_space(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_space((*s)[*n - 1]))
		(*n)--;
}

/* Copy user text into a reason: bounded, cut on a character boundary, with
 * control characters shown as '?'. The input is already valid UTF-8. */
static void quote(char *dst, size_t dstlen, const char *s, size_t n)
{
	size_t o = 0, i = 0;
	bool cut = false;

	while (i < n) {
		size_t clen = utf8_sequence_len((const unsigned char *)s + i, n - i);

		if (clen == 0)
			clen = 1;
		if (o + clen > QUOTE_MAX || o + clen + 4 > dstlen) {
			cut = true;
			break;
		}
		for (size_t k = 0; k < clen; k++) {
			unsigned char c = (unsigned char)s[i + k];

			dst[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
		}
		i += clen;
	}
	if (cut)
		memcpy(dst + o, "...", 3), o += 3;
	dst[o] = '\0';
}

static size_t line_end(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	if (!nl) {
		*next = end;
		return (size_t)(end - p);
	}
	*next = nl + 1;
	return (size_t)(nl - p);
}

static bool is_fence(const char *p, size_t n)
{
	if (n < 3 || memcmp(p, "---", 3) != 0)
		return false;
	for (size_t i = 3; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return false;
	return true;
}

static int set_model(struct prompt_spec *out, const char *v, size_t n,
		     char *warn, size_t warnlen, char *err, size_t errlen)
{
	char shown[QUOTE_MAX + 4];

	if (n == 0) {
		set_reason(err, errlen, "model is empty");
		return -1;
	}
	quote(shown, sizeof(shown), v, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c <= 0x20 || c >= 0x7f) {
			set_reason(err, errlen,
				   "model '%s' is not a model name (printable ASCII, no spaces)",
				   shown);
			return -1;
		}
	}
	out->model = strndup(v, n);
	if (!out->model) {
		set_reason(err, errlen, "out of memory");
		return -1;
	}
	if (!prompt_model_known(out->model))
		set_reason(warn, warnlen, "unknown model '%s' passed through", shown);
	return 0;
}

static int set_option(struct prompt_spec *out, enum option_key key,
		      const char *v, size_t n, char *warn, size_t warnlen,
		      char *err, size_t errlen)
{
	char shown[QUOTE_MAX + 4];
	char **slot;
	char *copy;

	if (key == KEY_MODEL)
		return set_model(out, v, n, warn, warnlen, err, errlen);
	quote(shown, sizeof(shown), v, n);
	copy = strndup(v, n);
	if (!copy) {
		set_reason(err, errlen, "out of memory");
		return -1;
	}
	switch (key) {
	case KEY_SECONDS:
		if (!prompt_seconds_valid(copy)) {
			set_reason(err, errlen,
				   "seconds must be 4, 6, 8 or 12, not '%s'", shown);
			goto bad;
		}
		if (!in_list(openai_seconds, copy))
			set_reason(warn, warnlen, "seconds %s is outside OpenAI's spec (4, 8, 12); "
				   "sent as written", shown);
		slot = &out->seconds;
		break;
	case KEY_SIZE:
		if (!prompt_size_valid(copy)) {
			set_reason(err, errlen,
				   "size must be one of 16x9, 9x16, 1280x720, 720x1280, 1024x1792, 1792x1024, not '%s'",
				   shown);
			goto bad;
		}
		if (!in_list(openai_sizes, copy))
			set_reason(warn, warnlen, "size %s is outside OpenAI's spec (720x1280, "
				   "1280x720, 1024x1792, 1792x1024); sent as written", shown);
		slot = &out->size;
		break;
	case KEY_IMAGE:
		if (n == 0) {
			set_reason(err, errlen, "image is empty");
			goto bad;
		}
		slot = &out->image;
		break;
	case KEY_RESOLUTION:
		for (char *c = copy; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		if (!prompt_resolution_valid(copy)) {
			set_reason(err, errlen,
				   "resolution must be 720p or 1080p, not '%s'", shown);
			goto bad;
		}
		slot = &out->resolution;
		break;
	case KEY_NEGATIVE_PROMPT:
		/* UTF-8 already: the whole file was checked before parsing. */
		if (n > PROMPT_NEGATIVE_MAX) {
			set_reason(err, errlen, "negative_prompt is %zu bytes; the limit is %d",
				   n, PROMPT_NEGATIVE_MAX);
			goto bad;
		}
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)v[i];

			if ((c < 0x20 && c != '\t') || c == 0x7f) {
				set_reason(err, errlen,
					   "negative_prompt may not contain control characters");
				goto bad;
			}
		}
		if (n == 0) {
			/* "negative_prompt:" with nothing after it: none. */
			free(copy);
			return 0;
		}
		slot = &out->negative_prompt;
		break;
	case KEY_WATERMARK:
		out->watermark = prompt_parse_bool(copy);
		free(copy);
		if (out->watermark < 0) {
			set_reason(err, errlen,
				   "watermark must be true or false, not '%s'", shown);
			return -1;
		}
		return 0;
	default:
		goto bad;
	}
	*slot = copy;
	return 0;
bad:
	free(copy);
	return -1;
}

static int parse_option_line(const char *p, size_t n, unsigned lineno,
			     bool *seen, struct prompt_spec *out,
			     char *warn, size_t warnlen, char *err, size_t errlen)
{
	const char *colon, *key, *val;
	size_t keylen, vallen;
	char shown[QUOTE_MAX + 4];
	int k;

	trim(&p, &n);
	if (n == 0 || p[0] == '#')
		return 0;
	colon = memchr(p, ':', n);
	key = p;
	keylen = colon ? (size_t)(colon - p) : 0;
	trim(&key, &keylen);
	if (!colon || keylen == 0) {
		set_reason(err, errlen,
			   "front matter line %u: expected 'key: value'", lineno);
		return -1;
	}
	for (k = 0; k < KEY_COUNT; k++)
		if (strlen(option_keys[k]) == keylen &&
		    memcmp(option_keys[k], key, keylen) == 0)
			break;
	if (k == KEY_COUNT) {
		quote(shown, sizeof(shown), key, keylen);
		set_reason(err, errlen,
			   "unknown front matter key '%s' (known: model, seconds, size, image, "
			   "watermark, resolution, negative_prompt)",
			   shown);
		return -1;
	}
	if (seen[k]) {
		set_reason(err, errlen, "front matter key '%s' is repeated (line %u)",
			   option_keys[k], lineno);
		return -1;
	}
	seen[k] = true;
	val = colon + 1;
	vallen = n - (size_t)(val - p);
	trim(&val, &vallen);
	if (vallen >= 2 && (val[0] == '"' || val[0] == '\'') &&
	    val[vallen - 1] == val[0]) {
		val++;
		vallen -= 2;
	}
	return set_option(out, (enum option_key)k, val, vallen, warn, warnlen,
			  err, errlen);
}

/* Front matter exists only when the very first line is "---"; anything
 * later that looks like it is part of the text. */
static int parse_front_matter(const char **pos, const char *end,
			      struct prompt_spec *out, char *warn,
			      size_t warnlen, char *err, size_t errlen)
{
	bool seen[KEY_COUNT] = { false };
	const char *p = *pos, *next;
	unsigned lineno = 1;
	size_t n;

	n = line_end(p, end, &next);
	if (!is_fence(p, n))
		return 0;
	for (p = next; p < end; p = next) {
		lineno++;
		n = line_end(p, end, &next);
		if (is_fence(p, n)) {
			*pos = next;
			return 0;
		}
		if (parse_option_line(p, n, lineno, seen, out, warn, warnlen,
				      err, errlen) < 0)
			return -1;
	}
	set_reason(err, errlen, "front matter is not closed with ---");
	return -1;
}

/* The text as sent: trimmed, CRLF turned into LF so a prompt saved on
 * Windows reads and counts the same as one saved elsewhere. */
static int take_text(const char *p, size_t n, struct prompt_spec *out,
		     char *err, size_t errlen)
{
	size_t chars = 0, o = 0;

	trim(&p, &n);
	if (n == 0) {
		set_reason(err, errlen, "prompt is empty");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\r' && i + 1 < n && p[i + 1] == '\n')
			continue;
		if ((c & 0xc0) != 0x80)
			chars++;
	}
	if (chars > PROMPT_MAX_CHARS) {
		set_reason(err, errlen, "prompt is %zu characters; the limit is %d",
			   chars, PROMPT_MAX_CHARS);
		return -1;
	}
	out->text = malloc(n + 1);
	if (!out->text) {
		set_reason(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')
			continue;
		out->text[o++] = p[i];
	}
	out->text[o] = '\0';
	return 0;
}

int prompt_parse(const char *buf, size_t len, struct prompt_spec *out,
		 char *warn, size_t warnlen, char *err, size_t errlen)
{
	const char *p, *end;

	memset(out, 0, sizeof(*out));
	out->watermark = -1;
	if (warn && warnlen)
		warn[0] = '\0';
	if (err && errlen)
		err[0] = '\0';
	if (!buf)
		buf = "", len = 0;
	if (check_encoding(buf, len, err, errlen) < 0)
		return -1;
	p = buf;
	end = buf + len;
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	if (parse_front_matter(&p, end, out, warn, warnlen, err, errlen) < 0 ||
	    take_text(p, (size_t)(end - p), out, err, errlen) < 0) {
		prompt_spec_free(out);
		return -1;
	}
	return 0;
}
