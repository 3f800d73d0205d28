/* The API's video object, parsed leniently: gateways differ in spelling. */
#include "video_object.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Text from the API ends up in one-line status files and xattrs. */
#define API_TEXT_MAX 500

/* OpenAI's VideoResource says queued, in_progress, completed, failed
 * (openai-openapi.yaml). Gateways pass on what their upstreams say: the
 * spellings new-api's relay accepts from OpenAI-shaped upstreams
 * (QuantumNous/new-api, relay/channel/task/sora/adaptor.go,
 * ParseTaskResult: "unknown", "notstarted", "created" and "starting" are
 * kept queued there, and so here), its own task statuses (SUBMITTED,
 * QUEUED, IN_PROGRESS, SUCCESS, FAILURE, NOT_START; dto/task.go), and
 * LiteLLM's "processing". */
static const struct {
	const char *spelling;
	enum video_status state;
	const char *reason;
} status_spellings[] = {
	/* The API's "pending" means it has the job: queued. */
	{ "queued", VIDEO_QUEUED, NULL },
	{ "pending", VIDEO_QUEUED, NULL },
	{ "submitted", VIDEO_QUEUED, NULL },
	{ "not_started", VIDEO_QUEUED, NULL },
	{ "not_start", VIDEO_QUEUED, NULL },
	{ "notstarted", VIDEO_QUEUED, NULL },
	{ "preparing", VIDEO_QUEUED, NULL },
	{ "starting", VIDEO_QUEUED, NULL },
	{ "unknown", VIDEO_QUEUED, NULL },
	{ "created", VIDEO_QUEUED, NULL },
	{ "in_progress", VIDEO_IN_PROGRESS, NULL },
	{ "processing", VIDEO_IN_PROGRESS, NULL },
	{ "running", VIDEO_IN_PROGRESS, NULL },
	{ "started", VIDEO_IN_PROGRESS, NULL },
	{ "generating", VIDEO_IN_PROGRESS, NULL },
	{ "completed", VIDEO_COMPLETED, NULL },
	{ "complete", VIDEO_COMPLETED, NULL },
	{ "succeeded", VIDEO_COMPLETED, NULL },
	{ "success", VIDEO_COMPLETED, NULL },
	{ "finished", VIDEO_COMPLETED, NULL },
	{ "done", VIDEO_COMPLETED, NULL },
	{ "failed", VIDEO_FAILED, NULL },
	{ "fail", VIDEO_FAILED, NULL },
	{ "failure", VIDEO_FAILED, NULL },
	{ "error", VIDEO_FAILED, NULL },
	{ "cancelled", VIDEO_FAILED, "cancelled" },
	{ "canceled", VIDEO_FAILED, "cancelled" },
	{ "expired", VIDEO_FAILED, "expired" },
};

bool video_status_normalize(const char *status, enum video_status *state,
			    const char **reason)
{
	char norm[32];
	size_t n, start = 0;

	if (reason)
		*reason = NULL;
	if (!status)
		return false;
	n = strlen(status);
	while (start < n && (status[start] == ' ' || status[start] == '\t'))
		start++;
	while (n > start && (status[n - 1] == ' ' || status[n - 1] == '\t'))
		n--;
	if (n - start >= sizeof(norm))
		return false;
	for (size_t i = start; i < n; i++) {
		char c = status[i];

		if (c == '-' || c == ' ')
			c = '_';
		else if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		norm[i - start] = c;
	}
	norm[n - start] = '\0';
	for (size_t i = 0; i < sizeof(status_spellings) / sizeof(status_spellings[0]); i++) {
		if (strcmp(norm, status_spellings[i].spelling) == 0) {
			if (state)
				*state = status_spellings[i].state;
			if (reason)
				*reason = status_spellings[i].reason;
			return true;
		}
	}
	return false;
}

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

/* Length of the valid UTF-8 character at s (NUL-terminated), 0 if the
 * bytes there are not one. */
static size_t utf8_char_len(const unsigned char *s)
{
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

static bool is_control(const unsigned char *s, size_t clen)
{
	if (clen == 1)
		return s[0] < 0x20 || s[0] == 0x7f;
	/* C1 controls, U+0080..U+009F */
	return clen == 2 && s[0] == 0xc2 && s[1] <= 0x9f;
}

/* Make API text fit for a one-line file: each run of control characters
 * becomes one space, bytes that are not UTF-8 are dropped, the ends are
 * trimmed and the result is cut on a character boundary to fit dst. */
static size_t sanitize_into(char *dst, size_t dstlen, const char *src)
{
	const unsigned char *p = (const unsigned char *)src;
	bool gap = false;
	size_t o = 0;

	if (!dstlen)
		return 0;
	while (*p) {
		size_t clen = utf8_char_len(p);

		if (clen == 0) {
			p++;
			continue;
		}
		if (is_control(p, clen) || (clen == 1 && *p == ' ')) {
			gap = o > 0;
			p += clen;
			continue;
		}
		if (o + gap + clen + 1 > dstlen)
			break;
		if (gap)
			dst[o++] = ' ';
		gap = false;
		memcpy(dst + o, p, clen);
		o += clen;
		p += clen;
	}
	dst[o] = '\0';
	return o;
}

static char *sanitized_copy(const char *s)
{
	char buf[API_TEXT_MAX + 1];

	if (!s || sanitize_into(buf, sizeof(buf), s) == 0)
		return NULL;
	return strdup(buf);
}

/* A string value, or an integer written in decimal (codes and ids are
 * sometimes numbers). */
static const char *scalar_text(json_t *v, char *buf, size_t buflen)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, buflen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	return NULL;
}

static char *text_of(json_t *v)
{
	return json_is_string(v) ? sanitized_copy(json_string_value(v)) : NULL;
}

static char *code_of(json_t *v)
{
	char num[32];

	return sanitized_copy(scalar_text(v, num, sizeof(num)));
}

static bool all_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

static json_t *load_object(const char *text, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root;

	if (!text)
		text = "", len = 0;
	if (all_blank(text, len)) {
		/* jansson says "unexpected token" here, which misleads */
		set_reason(err, errlen, "answer is not valid JSON: empty answer");
		return NULL;
	}
	/* A NUL escaped in a string is valid JSON: take it, the text is
	 * cleaned before anyone sees it. */
	root = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (!root) {
		char why[sizeof(jerr.text)];

		sanitize_into(why, sizeof(why), jerr.text);
		set_reason(err, errlen, "answer is not valid JSON: %s", why);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		set_reason(err, errlen, "answer is not a JSON object");
		return NULL;
	}
	return root;
}

/* Some gateways wrap the object: {"code": 0, "data": {...}}. */
static json_t *unwrap(json_t *root)
{
	json_t *data = json_object_get(root, "data");

	if (json_is_object(data) && !json_object_get(root, "id") &&
	    !json_object_get(root, "task_id") && !json_object_get(root, "status"))
		return data;
	return root;
}

bool video_id_valid(const char *s, size_t n)
{
	if (!s || n == 0 || n > VIDEO_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static int read_id(json_t *obj, char **id, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, "task_id");
	const char *s;
	char num[32];
	size_t n;

	/* new-api's task DTO has both: "id" is its database row (a number),
	 * "task_id" the task (QuantumNous/new-api, dto/task.go). Where both
	 * are the task, they are equal (relay/channel/task/sora/adaptor.go). */
	if (!json_is_string(v))
		v = json_object_get(obj, "id");
	if (!v || json_is_null(v))
		v = json_object_get(obj, "task_id");
	if (!v || json_is_null(v))
		return 0;
	s = scalar_text(v, num, sizeof(num));
	n = json_is_string(v) ? json_string_length(v) : (s ? strlen(s) : 0);
	if (!s || strlen(s) != n || !video_id_valid(s, n)) {
		set_reason(err, errlen, "invalid id in answer");
		return -1;
	}
	*id = strdup(s);
	if (!*id) {
		set_reason(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* "42", "42.5", " 42 %" */
static bool parse_number_text(const char *s, double *out)
{
	char *end;
	double d;

	while (*s == ' ')
		s++;
	if (!((*s >= '0' && *s <= '9') || *s == '-' || *s == '+' || *s == '.'))
		return false;
	d = strtod(s, &end);
	if (end == s || !isfinite(d))
		return false;
	while (*end == ' ')
		end++;
	if (*end == '%')
		end++;
	while (*end == ' ')
		end++;
	if (*end)
		return false;
	*out = d;
	return true;
}

static int read_progress(json_t *v)
{
	double d;

	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		return i < 0 ? 0 : i > 100 ? 100 : (int)i;
	}
	if (json_is_real(v))
		d = json_real_value(v);
	else if (!json_is_string(v) || !parse_number_text(json_string_value(v), &d))
		return -1;
	/* Truncate rather than round: 99.6% is not done yet. */
	return d < 0 ? 0 : d > 100 ? 100 : (int)d;
}

static long long read_time(json_t *v)
{
	double d;

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		d = json_real_value(v);
	else if (!json_is_string(v) || !parse_number_text(json_string_value(v), &d))
		return 0;
	if (!isfinite(d) || d < -9.2e18 || d > 9.2e18)
		return 0;
	return (long long)d;
}

/* An error message keeps its line breaks: its first line is the status,
 * all of them the error file (a chat reply cut short says what cut it on
 * a second line). Each line is cleaned as any text is; blank ones go. */
static char *error_lines(json_t *v)
{
	char buf[API_TEXT_MAX + 1], line[API_TEXT_MAX + 1];
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	size_t o = 0;

	if (!s)
		return NULL;
	while (*s && o < API_TEXT_MAX) {
		size_t n = strcspn(s, "\n");
		size_t take = n < API_TEXT_MAX ? n : API_TEXT_MAX;
		char raw[API_TEXT_MAX + 1];

		memcpy(raw, s, take);
		raw[take] = '\0';
		size_t len = sanitize_into(line, sizeof(line), raw);
		if (len && o + (o ? 1 : 0) + len <= API_TEXT_MAX) {
			if (o)
				buf[o++] = '\n';
			memcpy(buf + o, line, len);
			o += len;
		}
		s += n;
		if (*s == '\n')
			s++;
	}
	buf[o] = '\0';
	return o ? strdup(buf) : NULL;
}

static char *read_error(json_t *obj, bool failed)
{
	static const char *const fallbacks[] = {
		"failure_reason", "fail_reason", "message", NULL,
	};
	json_t *e = json_object_get(obj, "error");
	char *text = NULL;

	if (json_is_object(e)) {
		text = error_lines(json_object_get(e, "message"));
		if (!text)
			text = code_of(json_object_get(e, "code"));
	} else if (json_is_string(e)) {
		text = error_lines(e);
	}
	/* A top-level "message" is often "success": only a failed job's
	 * message is taken as its reason. */
	for (int i = 0; !text && failed && fallbacks[i]; i++)
		text = text_of(json_object_get(obj, fallbacks[i]));
	return text;
}

static bool url_usable(const char *s);

static char *url_of(json_t *v)
{
	return json_is_string(v) && url_usable(json_string_value(v)) ?
	       strdup(json_string_value(v)) : NULL;
}

/* The link to a finished video, where a status object names one. Several
 * gateways never serve /content and put it in the status instead:
 *   result_url        new-api's task DTO (QuantumNous/new-api, dto/task.go:
 *                     TaskDto.ResultURL), under its {"code","data"} envelope
 *   videos[].url      a list of generated videos (new-api's Gemini results)
 *   unsigned_urls[]   OpenRouter's video objects
 *   video_url, download_url, content_url   other relays' spellings
 * looked for in the object, its envelope and a "data" member. */
static char *video_link_in(json_t *o)
{
	static const char *const keys[] = {
		"video_url", "result_url", "download_url", "content_url", NULL,
	};
	json_t *a;
	char *url = NULL;

	if (!json_is_object(o))
		return NULL;
	for (int i = 0; !url && keys[i]; i++)
		url = url_of(json_object_get(o, keys[i]));
	a = json_object_get(o, "videos");
	if (!url && json_is_array(a))
		url = url_of(json_object_get(json_array_get(a, 0), "url"));
	a = json_object_get(o, "unsigned_urls");
	if (!url && json_is_array(a))
		url = url_of(json_array_get(a, 0));
	return url;
}

static char *video_link(json_t *root, json_t *obj)
{
	char *url = video_link_in(obj);

	if (!url && obj != root)
		url = video_link_in(root);
	if (!url)
		url = video_link_in(json_object_get(obj, "data"));
	return url;
}

void video_object_free(struct video_object *v)
{
	if (!v)
		return;
	free(v->id);
	free(v->error);
	free(v->model);
	free(v->status_word);
	free(v->status_text);
	free(v->video_url);
	memset(v, 0, sizeof(*v));
	v->progress = -1;
}

int video_object_parse(const char *json, size_t len, struct video_object *out,
		       char *err, size_t errlen)
{
	const char *status_reason = NULL;
	json_t *root, *obj, *v;
	bool failed;

	memset(out, 0, sizeof(*out));
	out->progress = -1;
	if (err && errlen)
		err[0] = '\0';
	root = load_object(json, len, err, errlen);
	if (!root)
		return -1;
	obj = unwrap(root);
	if (read_id(obj, &out->id, err, errlen) < 0) {
		json_decref(root);
		video_object_free(out);
		return -1;
	}
	v = json_object_get(obj, "status");
	if (json_is_string(v)) {
		out->has_state = video_status_normalize(json_string_value(v),
							&out->state, &status_reason);
		out->status_text = sanitized_copy(json_string_value(v));
		if (!out->has_state)
			out->status_word = sanitized_copy(json_string_value(v));
	}
	out->video_url = video_link(root, obj);
	failed = out->has_state && out->state == VIDEO_FAILED;
	out->progress = read_progress(json_object_get(obj, "progress"));
	out->error = read_error(obj, failed);
	/* "cancelled" and "expired" say why by themselves */
	if (!out->error && failed && status_reason)
		out->error = strdup(status_reason);
	out->model = text_of(json_object_get(obj, "model"));
	v = json_object_get(obj, "created_at");
	if (!v || json_is_null(v))
		v = json_object_get(obj, "created");
	out->created_at = read_time(v);
	json_decref(root);
	return 0;
}

char *api_error_message(const char *body, size_t len)
{
	json_t *root = load_object(body, len, NULL, 0);
	json_t *e, *detail;
	char *text = NULL;

	if (!root)
		return NULL;
	e = json_object_get(root, "error");
	detail = json_object_get(root, "detail");
	if (json_is_object(e))
		text = text_of(json_object_get(e, "message"));
	if (!text)
		text = text_of(e);
	if (!text)
		text = text_of(json_object_get(root, "message"));
	if (!text)
		text = text_of(detail);
	/* FastAPI-style validation errors: {"detail": [{"msg": ...}]} */
	if (!text && json_is_array(detail))
		text = text_of(json_object_get(json_array_get(detail, 0), "msg"));
	if (!text && json_is_object(e))
		text = code_of(json_object_get(e, "code"));
	json_decref(root);
	return text;
}

/* The first line worth reading of a body that is not JSON: an HTML page's
 * <title> (a proxy's "502 Bad Gateway"), else its first line of text with
 * tags dropped; a text/plain body's first non-blank line. */
static char *first_text_line(const char *body, size_t len)
{
	char line[API_TEXT_MAX + 1];
	const char *p = body, *end = body + len, *t;
	size_t o = 0;
	bool in_tag = false;

	t = memmem(body, len, "<title>", 7);
	if (!t)
		t = memmem(body, len, "<TITLE>", 7);
	if (t) {
		const char *e;
		t += 7;
		e = memchr(t, '<', (size_t)(end - t));
		if (e && e > t) {
			size_t n = (size_t)(e - t) < API_TEXT_MAX ? (size_t)(e - t) : API_TEXT_MAX;
			memcpy(line, t, n);
			line[n] = '\0';
			char *clean = sanitized_copy(line);
			if (clean)
				return clean;
		}
	}
	for (; p < end; p++) {
		char c = *p;
		if (c == '<') {
			in_tag = true;
			continue;
		}
		if (in_tag) {
			in_tag = c != '>';
			continue;
		}
		if (c == '\n' || c == '\r') {
			line[o] = '\0';
			if (o && !all_blank(line, o))
				break;
			o = 0;
			continue;
		}
		if (c == '\0')
			c = ' ';
		if (o < API_TEXT_MAX)
			line[o++] = c;
	}
	line[o] = '\0';
	return o ? sanitized_copy(line) : NULL;
}

char *api_error_text(const char *body, size_t len)
{
	char *msg;

	if (!body || !len)
		return NULL;
	msg = api_error_message(body, len);
	if (msg)
		return msg;
	/* A JSON object without a message says nothing readable. */
	json_t *root = load_object(body, len, NULL, 0);
	if (root) {
		json_decref(root);
		return NULL;
	}
	return first_text_line(body, len);
}

static bool url_usable(const char *s)
{
	size_t skip;

	if (strncasecmp(s, "https://", 8) == 0)
		skip = 8;
	else if (strncasecmp(s, "http://", 7) == 0)
		skip = 7;
	else
		return false;
	if (!s[skip])
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

static char *url_in(json_t *obj)
{
	static const char *const keys[] = { "url", "video_url", "download_url", NULL };

	for (int i = 0; keys[i]; i++) {
		json_t *v = json_object_get(obj, keys[i]);

		if (json_is_string(v) && url_usable(json_string_value(v)))
			return strdup(json_string_value(v));
	}
	return NULL;
}

char *api_content_url(const char *body, size_t len)
{
	json_t *root = load_object(body, len, NULL, 0);
	json_t *data;
	char *url;

	if (!root)
		return NULL;
	url = url_in(root);
	data = json_object_get(root, "data");
	if (!url && json_is_array(data))
		data = json_array_get(data, 0);
	if (!url && json_is_object(data))
		url = url_in(data);
	json_decref(root);
	return url;
}
