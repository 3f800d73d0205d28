/* Logging: one line per call, written with a single write(2) so threads (and
 * other processes sharing stderr) never interleave inside a line. Every line
 * passes through the same filter: registered secrets are redacted, control
 * characters are escaped so text that came from the network cannot forge
 * extra lines, and the length is capped. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096
#define LOG_MAX_SECRETS 8
#define LOG_SECRET_MIN 4
#define LOG_REDACTED "[redacted]"
#define LOG_TRUNCATED "..."

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_level = LOG_LVL_INFO;
static bool log_to_syslog;
static char *log_secrets[LOG_MAX_SECRETS];
static size_t log_secret_lens[LOG_MAX_SECRETS];

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "error",
	[LOG_LVL_WARN] = "warn",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

static bool level_valid(int level)
{
	return level >= LOG_LVL_ERROR && level <= LOG_LVL_DEBUG;
}

void log_init(enum log_level level, int use_syslog)
{
	log_set_level(level);
	pthread_mutex_lock(&log_lock);
	if (use_syslog && !log_to_syslog)
		openlog("veofs", LOG_PID, LOG_DAEMON);
	else if (!use_syslog && log_to_syslog)
		closelog();
	log_to_syslog = use_syslog;
	pthread_mutex_unlock(&log_lock);
}

void log_set_level(enum log_level level)
{
	if (!level_valid((int)level))
		level = LOG_LVL_INFO;
	__atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

enum log_level log_get_level(void)
{
	return (enum log_level)__atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

int log_level_parse(const char *name)
{
	if (!name)
		return -1;
	for (int i = LOG_LVL_ERROR; i <= LOG_LVL_DEBUG; i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return i;
	if (strcasecmp(name, "warning") == 0)
		return LOG_LVL_WARN;
	return -1;
}

const char *log_level_name(enum log_level level)
{
	return level_valid((int)level) ? level_names[level] : "unknown";
}

void log_add_secret(const char *secret)
{
	size_t len;

	/* Very short strings would redact ordinary words and numbers. */
	if (!secret || (len = strlen(secret)) < LOG_SECRET_MIN)
		return;
	pthread_mutex_lock(&log_lock);
	for (int i = 0; i < LOG_MAX_SECRETS; i++) {
		if (log_secrets[i] && strcmp(log_secrets[i], secret) == 0)
			break;
		if (!log_secrets[i]) {
			log_secrets[i] = strdup(secret);
			if (log_secrets[i])
				log_secret_lens[i] = len;
			break;
		}
	}
	pthread_mutex_unlock(&log_lock);
}

void log_shutdown(void)
{
	pthread_mutex_lock(&log_lock);
	for (int i = 0; i < LOG_MAX_SECRETS; i++) {
		if (log_secrets[i]) {
			explicit_bzero(log_secrets[i], log_secret_lens[i]);
			free(log_secrets[i]);
		}
		log_secrets[i] = NULL;
		log_secret_lens[i] = 0;
	}
	if (log_to_syslog)
		closelog();
	log_to_syslog = false;
	pthread_mutex_unlock(&log_lock);
}

/* Length of the secret that starts at s, or 0. Caller holds log_lock. */
static size_t secret_at(const char *s, size_t left)
{
	for (int i = 0; i < LOG_MAX_SECRETS; i++) {
		size_t n = log_secret_lens[i];

		if (log_secrets[i] && n <= left && memcmp(s, log_secrets[i], n) == 0)
			return n;
	}
	return 0;
}

struct line_buf {
	char *buf;
	size_t len;
	size_t cap;   /* room for text, not counting the final "\n" and NUL */
	bool full;
};

static bool line_put(struct line_buf *l, const char *s, size_t n)
{
	if (l->full || l->len + n > l->cap) {
		l->full = true;
		return false;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	return true;
}

/* Copy text into l, redacting secrets and escaping control characters.
 * An escape or a redaction is never cut in half by the length cap.
 * Caller holds log_lock. */
static void line_filter(struct line_buf *l, const char *text, size_t n)
{
	size_t i = 0;

	while (i < n && !l->full) {
		unsigned char c = (unsigned char)text[i];
		size_t s = secret_at(text + i, n - i);
		char esc[8];

		if (s) {
			line_put(l, LOG_REDACTED, strlen(LOG_REDACTED));
			i += s;
			continue;
		}
		if (c == '\t' || (c >= 0x20 && c != 0x7f)) {
			line_put(l, (const char *)&c, 1);
		} else if (c == '\n') {
			line_put(l, "\\n", 2);
		} else if (c == '\r') {
			line_put(l, "\\r", 2);
		} else {
			snprintf(esc, sizeof(esc), "\\x%02x", c);
			line_put(l, esc, 4);
		}
		i++;
	}
	if (i < n)
		l->full = true;
}

static int syslog_priority(enum log_level level)
{
	switch (level) {
	case LOG_LVL_ERROR: return LOG_ERR;
	case LOG_LVL_WARN: return LOG_WARNING;
	case LOG_LVL_INFO: return LOG_INFO;
	default: return LOG_DEBUG;
	}
}

/* Debug output is for following what happens when; the time helps there and
 * is noise elsewhere. */
static size_t format_time(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, size, "%H:%M:%S", &tm);
	if (n == 0)
		return 0;
	n += (size_t)snprintf(buf + n, size - n, ".%03ld ", ts.tv_nsec / 1000000);
	return n < size ? n : size - 1;
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += w;
		len -= (size_t)w;
	}
}

static void emit(enum log_level level, const char *text, size_t n)
{
	char out[LOG_LINE_MAX + 64];
	struct line_buf l = { .buf = out, .cap = LOG_LINE_MAX };

	pthread_mutex_lock(&log_lock);
	if (!log_to_syslog) {
		if (log_get_level() == LOG_LVL_DEBUG)
			l.len = format_time(out, 32);
		l.len += (size_t)snprintf(out + l.len, sizeof(out) - l.len,
					  "veofs: %s: ", log_level_name(level));
	}
	line_filter(&l, text, n);
	if (l.full) {
		/* cap leaves room for the marker: it is LOG_LINE_MAX and out
		 * has 64 spare bytes. */
		memcpy(out + l.len, LOG_TRUNCATED, strlen(LOG_TRUNCATED));
		l.len += strlen(LOG_TRUNCATED);
	}
	if (log_to_syslog) {
		out[l.len] = '\0';
		syslog(syslog_priority(level), "%s", out);
	} else {
		out[l.len++] = '\n';
		write_all(STDERR_FILENO, out, l.len);
	}
	pthread_mutex_unlock(&log_lock);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	int saved_errno = errno;
	char small[1024];
	char *text = small;
	va_list ap;
	int n;

	if (!level_valid((int)level) || (int)level > (int)log_get_level())
		return;
	/* Format the whole message before capping it: redaction must see a
	 * secret entire, or a cut could leave half of it in the line. */
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		errno = saved_errno;
		return;
	}
	if ((size_t)n >= sizeof(small)) {
		text = malloc((size_t)n + 1);
		if (text) {
			errno = saved_errno;  /* for %m */
			va_start(ap, fmt);
			vsnprintf(text, (size_t)n + 1, fmt, ap);
			va_end(ap);
		} else {
			text = small;
			n = sizeof(small) - 1;
		}
	}
	emit(level, text, (size_t)n);
	if (text != small)
		free(text);
	errno = saved_errno;
}
