/* What the non-OpenAI protocols share beyond HTTP: how each wraps the
 * HTTP remote, base64 for images and inline videos, reading a prompt's
 * image file. */
#include "remote_protocols.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define IMAGE_MAX (20u << 20) /* inline request data is limited to 20 MB */

int remote_over_http_init(struct remote_over_http *p, const struct remote_ops *ops,
			  void *impl, const struct remote_http_options *o,
			  const char *key_header, char *err, size_t errlen)
{
	struct remote_http_options ho = *o;

	ho.key_header = key_header;
	p->http = remote_http_new(&ho, err, errlen);
	if (!p->http)
		return -1;
	if (o->api_key && *o->api_key && !(p->key = strdup(o->api_key))) {
		remote_destroy(p->http);
		p->http = NULL;
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	p->base.ops = ops;
	p->base.impl = impl;
	return 0;
}

void remote_over_http_stop(struct remote *r)
{
	/* Every protocol's impl begins with its remote_over_http. */
	struct remote_over_http *p = r->impl;

	if (p->http->ops->stop)
		p->http->ops->stop(p->http);
}

void remote_over_http_fini(struct remote_over_http *p)
{
	remote_destroy(p->http);
	if (p->key) {
		explicit_bzero(p->key, strlen(p->key));
		free(p->key);
	}
}

char *remote_base64(const unsigned char *p, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*o++ = tab[(v >> 18) & 63];
		*o++ = tab[(v >> 12) & 63];
		*o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		*o++ = i + 2 < n ? tab[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int unbase64_char(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Standard or URL-safe base64, padding and whitespace ignored. */
unsigned char *remote_unbase64(const char *s, size_t *outlen)
{
	size_t n = strlen(s);
	unsigned char *out = malloc(n / 4 * 3 + 3);
	unsigned acc = 0;
	int bits = 0;
	size_t o = 0;

	if (!out)
		return NULL;
	for (; *s; s++) {
		if (*s == '=' || *s == '\n' || *s == '\r' || *s == ' ')
			continue;
		int v = unbase64_char((unsigned char)*s);
		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	*outlen = o;
	return out;
}

const char *remote_image_mime(const char *path)
{
	const char *dot = strrchr(path, '.');
	if (dot && (!strcasecmp(dot, ".png")))
		return "image/png";
	if (dot && (!strcasecmp(dot, ".webp")))
		return "image/webp";
	if (dot && (!strcasecmp(dot, ".gif")))
		return "image/gif";
	return "image/jpeg";
}

char *remote_read_image(const char *path, size_t *len, char *why, size_t whylen)
{
	FILE *f = fopen(path, "rbe");
	struct stat st;
	char *buf = NULL;

	if (!f || fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "cannot read image %s: %s", path,
			 f ? "not a regular file" : strerror(errno));
		goto out;
	}
	if ((uintmax_t)st.st_size > IMAGE_MAX) {
		snprintf(why, whylen, "image %s is larger than 20 MB", path);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf || fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		snprintf(why, whylen, "cannot read image %s", path);
		free(buf);
		buf = NULL;
		goto out;
	}
	*len = (size_t)st.st_size;
out:
	if (f)
		fclose(f);
	return buf;
}
