/* Small helpers the simulator's files share: growable strings, hashes,
 * clocks and id checks. */
#include "sim_internal.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int sbuf_append(struct sbuf *b, const char *data, size_t len, size_t max)
{
	if (b->len + len > max)
		return -1;
	if (!b->p || b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *p;

		while (cap < b->len + len + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}

int sbuf_set(struct sbuf *b, const char *s)
{
	b->len = 0;
	return sbuf_append(b, s, strlen(s), FIELD_MAX);
}

void sbuf_free(struct sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void fields_free(struct create_fields *f)
{
	sbuf_free(&f->model);
	sbuf_free(&f->prompt);
	sbuf_free(&f->seconds);
	sbuf_free(&f->size);
	sbuf_free(&f->watermark);
	sbuf_free(&f->resolution);
	sbuf_free(&f->negative_prompt);
	sbuf_free(&f->ref_url);
	sbuf_free(&f->ref_filename);
	sbuf_free(&f->ref_type);
}

uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

bool in_list(const char *v, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v, list[i]) == 0)
			return true;
	return false;
}

bool blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			return false;
	return true;
}

/* Ids are ours ("video_" or "task_" with letters, digits and dashes, or
 * litellm's base64 with '+', '/' and '='), so anything else is unknown;
 * checking the charset keeps URLs and HTML built from ids clean. */
bool copy_id(char *dst, const char *src, size_t len)
{
	if (len == 0 || len >= ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = src[i];

		if (!(c == '_' || c == '-' || c == '+' || c == '/' || c == '=' ||
		      (c >= '0' && c <= '9') ||
		      (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return false;
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
	return true;
}
uint64_t fnv1a_update(uint64_t h, const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)data[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

void count_locked(struct sim *s, long *counter)
{
	pthread_mutex_lock(&s->lock);
	(*counter)++;
	pthread_mutex_unlock(&s->lock);
}

bool method_is(const char *method, const char *want)
{
	return strcmp(method, want) == 0;
}

int sim_listen(const struct sockaddr_storage *ss, int *port)
{
	struct sockaddr_storage got;
	socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						  : sizeof(struct sockaddr_in);
	int one = 1, e;
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)ss, len) < 0 || listen(fd, 128) < 0)
		goto fail;
	len = sizeof(got);
	if (getsockname(fd, (struct sockaddr *)&got, &len) < 0)
		goto fail;
	*port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
						 : ((struct sockaddr_in *)&got)->sin_port);
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}
