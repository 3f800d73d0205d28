/* Configuration loading. Every source goes through set_key(), which checks
 * the value and remembers where it came from, so an error or a warning can
 * always name the file and line, the variable or the -o option to fix. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "prompt.h"

#define DEFAULT_BASE_URL "https://api.applerouter.ai/v1"
#define GEMINI_BASE_URL "https://generativelanguage.googleapis.com/v1beta"
#define DEFAULT_MODEL "veo-3.1"
/* Both OpenAI's spec (720x1280, 1280x720, 1024x1792, 1792x1024) and the
 * Veo provider's page accept it; "16x9" is the provider's own spelling. */
#define DEFAULT_SIZE "1280x720"
#define MODEL_NAME_MAX 128
#define KEY_FILE_MAX 4096

enum key_type {
	KT_URL,
	KT_SECRET,
	KT_PATH,        /* required path: storage.state_dir */
	KT_OPT_PATH,    /* empty means none */
	KT_INT,
	KT_BYTES,     /* long long: a byte count, K/M/G/T suffixes allowed */
	KT_SECONDS,
	KT_SIZE,
	KT_BOOL,
	KT_LEVEL,
	KT_MODEL,
	KT_CHOICE,      /* one of key_def.choices */
};

enum key_id {
	K_BASE_URL, K_API_KEY, K_API_KEY_FILE, K_TIMEOUT, K_MIN_DOWNLOAD_RATE,
	K_MAX_VIDEO_BYTES, K_VIDEO_DEADLINE, K_PROTOCOL, K_MODEL, K_SECONDS,
	K_SIZE, K_WATERMARK, K_INTERVAL, K_MAX_INTERVAL, K_STATE_DIR,
	K_SILENCE_LIMIT, K_TOTAL_LIMIT, K_DURATION, K_SIM_PROTOCOL, K_SIM_DIALECT, K_SIM_CHAT_STYLE, K_SIM_PROGRESS, K_SIM_JITTER, K_LOG_LEVEL, K_ON_COMPLETE, K_ON_FAILED, N_KEYS
};

struct key_def {
	const char *section;
	const char *name;
	enum key_type type;
	size_t offset;
	int min, max;
	const char *hint;
	const char *const *choices;	/* KT_CHOICE: NULL-terminated */
};

/* The simulator's dialects and progress modes (veofs-sim --dialect,
 * --progress); the simulator checks them again when it starts. */
static const char *const sim_dialects[] = {
	"openai", "newapi", "newapi-gemini", "taskdto", "litellm", "redirect",
	"json-url", "url-in-status", NULL,
};
/* api.protocol and sim.protocol (contract sections 1 and 2). */
static const char *const protocols[] = {
	"openai", "gemini", "openrouter", "chat", NULL,
};
/* The chat protocol's router styles (veofs-sim --chat-style). */
static const char *const sim_chat_styles[] = {
	"flow2api", "sora2api", "markdown", "tasklink", "json", NULL,
};
static const char *const sim_progress_modes[] = {
	"smooth", "coarse", "none", NULL,
};

#define FIELD(f) offsetof(struct config, f)

static const struct key_def keys[N_KEYS] = {
	[K_BASE_URL] = { "api", "base_url", KT_URL, FIELD(base_url), 0, 0,
		"an http:// or https:// URL" },
	[K_API_KEY] = { "api", "api_key", KT_SECRET, FIELD(api_key), 0, 0,
		"printable characters without spaces" },
	[K_API_KEY_FILE] = { "api", "api_key_file", KT_OPT_PATH,
		FIELD(api_key_file), 0, 0, "a file name" },
	[K_TIMEOUT] = { "api", "timeout", KT_INT, FIELD(timeout), 1, 3600,
		"a whole number of seconds from 1 to 3600" },
	[K_MIN_DOWNLOAD_RATE] = { "api", "min_download_rate", KT_INT,
		FIELD(min_download_rate), 0, 1 << 30,
		"a whole number of bytes per second from 0 to 1073741824 (0: no floor)" },
	[K_MAX_VIDEO_BYTES] = { "api", "max_video_bytes", KT_BYTES,
		FIELD(max_video_bytes), 0, 0,
		"a number of bytes from 1M to 1T, with K, M, G or T for powers of 1024" },
	[K_VIDEO_DEADLINE] = { "api", "video_deadline", KT_INT, FIELD(video_deadline),
		10, 86400, "a whole number of seconds from 10 to 86400" },
	[K_PROTOCOL] = { "api", "protocol", KT_CHOICE, FIELD(protocol), 0, 0,
		"openai, gemini, openrouter or chat", protocols },
	[K_MODEL] = { "defaults", "model", KT_MODEL, FIELD(model), 0, 0,
		"a model name: printable characters without spaces" },
	[K_SECONDS] = { "defaults", "seconds", KT_SECONDS, FIELD(seconds), 0, 0,
		"4, 6, 8 or 12" },
	[K_SIZE] = { "defaults", "size", KT_SIZE, FIELD(size), 0, 0,
		"16x9, 9x16, 1280x720, 720x1280, 1024x1792 or 1792x1024" },
	[K_WATERMARK] = { "defaults", "watermark", KT_BOOL, FIELD(watermark),
		0, 0, "true or false" },
	[K_INTERVAL] = { "poll", "interval", KT_INT, FIELD(poll_interval),
		1, 86400, "a whole number of seconds from 1 to 86400" },
	[K_MAX_INTERVAL] = { "poll", "max_interval", KT_INT,
		FIELD(poll_max_interval), 1, 86400,
		"a whole number of seconds from 1 to 86400" },
	[K_STATE_DIR] = { "storage", "state_dir", KT_PATH, FIELD(state_dir),
		0, 0, "a directory" },
	/* The chat route holds one streamed request for the whole
	 * generation: its bounds are its own, not api.timeout. */
	[K_SILENCE_LIMIT] = { "chat", "silence_limit", KT_INT, FIELD(chat_silence_limit),
		5, 3600, "a whole number of seconds from 5 to 3600" },
	[K_TOTAL_LIMIT] = { "chat", "total_limit", KT_INT, FIELD(chat_total_limit),
		60, 86400, "a whole number of seconds from 60 to 86400" },
	[K_DURATION] = { "sim", "duration", KT_INT, FIELD(sim_duration),
		0, 86400, "a whole number of seconds from 0 to 86400" },
	[K_SIM_PROTOCOL] = { "sim", "protocol", KT_CHOICE, FIELD(sim_protocol),
		0, 0, "openai, gemini, openrouter or chat", protocols },
	[K_SIM_DIALECT] = { "sim", "dialect", KT_CHOICE, FIELD(sim_dialect),
		0, 0, "openai, newapi, newapi-gemini, taskdto, litellm, redirect, "
		"json-url or url-in-status", sim_dialects },
	[K_SIM_CHAT_STYLE] = { "sim", "chat_style", KT_CHOICE, FIELD(sim_chat_style),
		0, 0, "flow2api, sora2api, markdown, tasklink or json", sim_chat_styles },
	[K_SIM_PROGRESS] = { "sim", "progress", KT_CHOICE, FIELD(sim_progress),
		0, 0, "smooth, coarse or none", sim_progress_modes },
	[K_SIM_JITTER] = { "sim", "jitter", KT_INT, FIELD(sim_jitter), 0, 100,
		"a whole percentage from 0 to 100" },
	[K_LOG_LEVEL] = { "general", "log_level", KT_LEVEL, FIELD(log_level),
		0, 0, "error, warn, info or debug" },
	[K_ON_COMPLETE] = { "hooks", "on_complete", KT_OPT_PATH,
		FIELD(on_complete), 0, 0, "a program" },
	[K_ON_FAILED] = { "hooks", "on_failed", KT_OPT_PATH, FIELD(on_failed),
		0, 0, "a program" },
};

struct loader {
	struct config *c;
	const struct config_sources *src;
	char *err;
	size_t errlen;
	/* Which assignment came last decides between api_key and
	 * api_key_file: sources are applied lowest precedence first. */
	unsigned seq[N_KEYS];
	unsigned next_seq;
	char *origin[N_KEYS];   /* NULL: the built-in default */
	/* The file being parsed. */
	const char *file;
	FILE *fp;
	int line;
	int err_line;           /* first line our handler or reader refused */
	bool warned_key_perms;
	char *linebuf;
	size_t linecap;
};

static void set_err(struct loader *ld, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_err(struct loader *ld, const char *fmt, ...)
{
	va_list ap;

	if (!ld->err || ld->errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(ld->err, ld->errlen, fmt, ap);
	va_end(ap);
}

/* strerror() capitalises; our messages are lower-case phrases. */
static const char *errno_phrase(int errnum, char *buf, size_t size)
{
	snprintf(buf, size, "%s", strerror(errnum));
	buf[0] = (char)tolower((unsigned char)buf[0]);
	return buf;
}

static const char *env_get(const struct loader *ld, const char *name)
{
	size_t n = strlen(name);
	char **e;

	if (!ld->src->environ)
		return getenv(name);
	for (e = ld->src->environ; *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

/* Empty variables count as unset, as in most shells' ${VAR:-...}. */
static const char *env_nonempty(const struct loader *ld, const char *name)
{
	const char *v = env_get(ld, name);

	return v && *v ? v : NULL;
}

static const char *home_dir(const struct loader *ld)
{
	const char *home = env_nonempty(ld, "HOME");
	struct passwd *pw;

	if (home || ld->src->environ)
		return home;
	pw = getpwuid(getuid());
	return pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : NULL;
}

/* An XDG base directory variable counts only when absolute (the spec says
 * relative ones are to be ignored). */
static const char *xdg_dir(const struct loader *ld, const char *name)
{
	const char *v = env_nonempty(ld, name);

	return v && v[0] == '/' ? v : NULL;
}

static void strip_trailing_slashes(char *s)
{
	size_t n = strlen(s);

	while (n > 1 && s[n - 1] == '/')
		s[--n] = '\0';
}

/* dir + "/" + rest without doubled slashes (HOME and XDG variables often
 * end in one); rest may be empty. */
static int join_path(char **out, const char *dir, const char *rest)
{
	int len = (int)strlen(dir);

	while (len > 1 && dir[len - 1] == '/')
		len--;
	while (*rest == '/')
		rest++;
	if (!*rest)
		return asprintf(out, "%.*s", len, dir);
	if (len == 1 && dir[0] == '/')
		len = 0;
	return asprintf(out, "%.*s/%s", len, dir, rest);
}

/* "~" and "~/x" become $HOME and $HOME/x; a relative path is anchored at
 * the current directory, because a daemon later runs from "/". */
static int expand_path(struct loader *ld, const char *in, const char *what,
		       const char *origin, char **out)
{
	const char *home;
	char cwd[PATH_MAX];
	int n;

	*out = NULL;
	if (in[0] == '~') {
		if (in[1] != '\0' && in[1] != '/') {
			set_err(ld, "bad value '%.200s' for %s (~user is not supported) in %s",
				in, what, origin);
			return -1;
		}
		home = home_dir(ld);
		if (!home) {
			set_err(ld, "cannot expand '%.200s' for %s from %s: HOME is not set",
				in, what, origin);
			return -1;
		}
		n = join_path(out, home, in + 1);
	} else if (in[0] == '/') {
		*out = strdup(in);
		n = *out ? 0 : -1;
	} else {
		if (!getcwd(cwd, sizeof(cwd))) {
			set_err(ld, "cannot resolve relative %s '%.200s' from %s: no current directory",
				what, in, origin);
			return -1;
		}
		n = join_path(out, cwd, in);
	}
	if (n < 0) {
		*out = NULL;
		set_err(ld, "out of memory");
		return -1;
	}
	strip_trailing_slashes(*out);
	return 0;
}

static bool printable_no_spaces(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s <= 0x20 || *s >= 0x7f)
			return false;
	return true;
}

static bool parse_int(const char *s, int min, int max, int *out)
{
	long v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return false;
		v = v * 10 + (*s - '0');
		if (v > max)
			return false;
	}
	if (v < min)
		return false;
	*out = (int)v;
	return true;
}

/* "4294967296", "4G", "512M": 1 MiB to 1 TiB. */
static bool parse_bytes(const char *s, long long *out)
{
	unsigned long long v = 0;
	int shift = 0;

	if (!isdigit((unsigned char)*s))
		return false;
	for (; isdigit((unsigned char)*s); s++) {
		v = v * 10 + (unsigned)(*s - '0');
		if (v > (1ULL << 40))
			return false;
	}
	switch (*s) {
	case '\0':
		break;
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	case 't': case 'T':
		shift = 40;
		break;
	default:
		return false;
	}
	if (*s && s[1])
		return false;
	if (v > (1ULL << 40) >> shift)
		return false;
	v <<= shift;
	if (v < (1ULL << 20))
		return false;
	*out = (long long)v;
	return true;
}

static bool url_valid(const char *url)
{
	const char *host;

	if (strncasecmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		host = url + 8;
	else
		return false;
	if (!*host || *host == '/' || *host == '?' || *host == '#')
		return false;
	return printable_no_spaces(url);
}

static char *long_name(enum key_id id, char *buf, size_t size)
{
	snprintf(buf, size, "%s.%s", keys[id].section, keys[id].name);
	return buf;
}

static void warn_if_readable_by_others(int fd, const char *path,
				       const char *what)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)))
		log_warn("%s holds %s and other users can read it: chmod 600 %s",
			 path, what, path);
}

static int replace_string(struct loader *ld, char **field, const char *value,
			  bool secret)
{
	char *copy = NULL;

	if (value) {
		copy = strdup(value);
		if (!copy) {
			set_err(ld, "out of memory");
			return -1;
		}
	}
	if (*field && secret)
		explicit_bzero(*field, strlen(*field));
	free(*field);
	*field = copy;
	return 0;
}

/* Check and store one value. origin says where it came from, for messages. */
static int set_key(struct loader *ld, enum key_id id, const char *value,
		   const char *origin)
{
	const struct key_def *k = &keys[id];
	char *base = (char *)ld->c;
	char name[64];
	char *trimmed = NULL;
	int ival, rc = 0;

	long_name(id, name, sizeof(name));
	switch (k->type) {
	case KT_URL:
		if (!url_valid(value))
			goto bad;
		trimmed = strdup(value);
		if (!trimmed) {
			set_err(ld, "out of memory");
			return -1;
		}
		strip_trailing_slashes(trimmed);
		rc = replace_string(ld, (char **)(base + k->offset), trimmed, false);
		free(trimmed);
		break;
	case KT_SECRET:
		/* Never echo the value: it may be the key itself. */
		if (*value && !printable_no_spaces(value)) {
			set_err(ld, "bad value for %s (%s) in %s", name, k->hint, origin);
			return -1;
		}
		rc = replace_string(ld, (char **)(base + k->offset),
				    *value ? value : NULL, true);
		break;
	case KT_PATH:
		if (!*value)
			goto bad;
		rc = replace_string(ld, (char **)(base + k->offset), value, false);
		break;
	case KT_OPT_PATH:
		rc = replace_string(ld, (char **)(base + k->offset),
				    *value ? value : NULL, false);
		break;
	case KT_INT:
		if (!parse_int(value, k->min, k->max, &ival))
			goto bad;
		*(int *)(base + k->offset) = ival;
		break;
	case KT_BYTES:
		if (!parse_bytes(value, (long long *)(base + k->offset)))
			goto bad;
		break;
	case KT_SECONDS:
		/* The same values a prompt's front matter accepts. */
		if (!prompt_seconds_valid(value))
			goto bad;
		*(int *)(base + k->offset) = atoi(value);
		break;
	case KT_SIZE:
		if (!prompt_size_valid(value))
			goto bad;
		rc = replace_string(ld, (char **)(base + k->offset), value, false);
		break;
	case KT_BOOL:
		ival = prompt_parse_bool(value);
		if (ival < 0)
			goto bad;
		*(bool *)(base + k->offset) = ival;
		break;
	case KT_LEVEL:
		ival = log_level_parse(value);
		if (ival < 0)
			goto bad;
		*(int *)(base + k->offset) = ival;
		break;
	case KT_CHOICE: {
		const char *const *c = k->choices;

		while (*c && strcmp(*c, value) != 0)
			c++;
		if (!*c)
			goto bad;
		rc = replace_string(ld, (char **)(base + k->offset), value, false);
		break;
	}
	case KT_MODEL:
		/* Unknown models pass (providers add them); they only must
		 * fit in a form field unchanged. */
		if (!printable_no_spaces(value) || strlen(value) > MODEL_NAME_MAX)
			goto bad;
		rc = replace_string(ld, (char **)(base + k->offset), value, false);
		break;
	}
	if (rc < 0)
		return -1;
	ld->seq[id] = ++ld->next_seq;
	return replace_string(ld, &ld->origin[id], origin, false);
bad:
	set_err(ld, "bad value '%.200s' for %s (%s) in %s", value, name, k->hint,
		origin);
	return -1;
}

/* Accepts "model" and "defaults.model" (any case); -1 if not a key. */
static int find_key(const char *name)
{
	const char *dot = strchr(name, '.');

	for (int i = 0; i < N_KEYS; i++) {
		if (!dot) {
			if (strcasecmp(name, keys[i].name) == 0)
				return i;
		} else if (strlen(keys[i].section) == (size_t)(dot - name) &&
			   strncasecmp(name, keys[i].section, (size_t)(dot - name)) == 0 &&
			   strcasecmp(dot + 1, keys[i].name) == 0) {
			return i;
		}
	}
	return -1;
}

bool config_is_key(const char *name)
{
	return name && find_key(name) >= 0;
}

/* ---- INI files ---- */

/* An fgets() for inih that counts lines (for file:line in messages), turns
 * over-long lines into errors instead of letting inih split them, and
 * removes leading blanks so inih never takes an indented line as the
 * continuation of the previous value. */
static char *read_line(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	ssize_t n = getline(&ld->linebuf, &ld->linecap, ld->fp);
	char *p;
	size_t len;

	if (n < 0)
		return NULL;
	ld->line++;
	p = ld->linebuf;
	while (*p == ' ' || *p == '\t')
		p++;
	len = strlen(p);
	if (len + 1 > (size_t)num) {
		if (!ld->err_line) {
			ld->err_line = ld->line;
			set_err(ld, "line too long (over %d characters) in %s:%d",
				num - 2, ld->file, ld->line);
		}
		snprintf(str, (size_t)num, "\n");
		return str;
	}
	memcpy(str, p, len + 1);
	return str;
}

static int on_ini_value(void *user, const char *section, const char *name,
			const char *value)
{
	struct loader *ld = user;
	char origin[PATH_MAX + 32];
	int id;

	if (ld->err_line)
		return 1;   /* only the first error is reported */
	snprintf(origin, sizeof(origin), "%s:%d", ld->file, ld->line);
	id = strchr(name, '.') ? -1 : find_key(name);
	/* A name two sections share (protocol) is the one of this section. */
	if (id >= 0 && *section && strcasecmp(section, keys[id].section) != 0) {
		char full[200];
		snprintf(full, sizeof(full), "%.90s.%.100s", section, name);
		int own = find_key(full);
		if (own >= 0)
			id = own;
	}
	if (id < 0) {
		set_err(ld, "unknown key '%.100s' in %s", name, origin);
	} else if (!*section) {
		set_err(ld, "key '%s' outside a section in %s (it belongs in [%s])",
			name, origin, keys[id].section);
	} else if (strcasecmp(section, keys[id].section) != 0) {
		set_err(ld, "key '%s' in section [%.100s] in %s (it belongs in [%s])",
			name, section, origin, keys[id].section);
	} else {
		if (id == K_API_KEY && *value && !ld->warned_key_perms) {
			warn_if_readable_by_others(fileno(ld->fp), ld->file,
						   "api.api_key");
			ld->warned_key_perms = true;
		}
		if (set_key(ld, id, value, origin) == 0)
			return 1;
	}
	ld->err_line = ld->line;
	return 0;
}

/* Parse one file. A missing optional file is fine; a missing required one
 * (-o config=FILE) is an error. */
static int parse_file(struct loader *ld, const char *path, bool required)
{
	char ebuf[128];
	struct stat st;
	int ret;

	ld->fp = fopen(path, "re");
	if (!ld->fp) {
		if (!required && (errno == ENOENT || errno == ENOTDIR))
			return 0;
		if (!required && errno == EACCES) {
			log_warn("skipping configuration file %s: %s", path,
				 errno_phrase(errno, ebuf, sizeof(ebuf)));
			return 0;
		}
		set_err(ld, "cannot read configuration file %s: %s", path,
			errno_phrase(errno, ebuf, sizeof(ebuf)));
		return -1;
	}
	if (fstat(fileno(ld->fp), &st) == 0 && !S_ISREG(st.st_mode)) {
		fclose(ld->fp);
		ld->fp = NULL;
		set_err(ld, "cannot read configuration file %s: not a regular file",
			path);
		return -1;
	}
	ld->file = path;
	ld->line = 0;
	ld->err_line = 0;
	ld->warned_key_perms = false;
	ret = ini_parse_stream(read_line, ld, on_ini_value, ld);
	fclose(ld->fp);
	ld->fp = NULL;
	if (ret == -2) {
		set_err(ld, "out of memory");
		return -1;
	}
	/* inih reports the first line it disliked, ours or its own. */
	if (ret > 0 && (!ld->err_line || ret < ld->err_line)) {
		set_err(ld, "syntax error in %s:%d (expected [section] or key = value)",
			path, ret);
		return -1;
	}
	if (ret < 0 && !ld->err_line) {
		set_err(ld, "cannot read configuration file %s", path);
		return -1;
	}
	return ld->err_line ? -1 : 0;
}

static int parse_user_file(struct loader *ld)
{
	const char *dir = xdg_dir(ld, "XDG_CONFIG_HOME");
	const char *home = home_dir(ld);
	char *path = NULL;
	int rc;

	if (dir)
		rc = join_path(&path, dir, "veofs/veofs.conf");
	else if (home)
		rc = join_path(&path, home, ".config/veofs/veofs.conf");
	else
		return 0;
	if (rc < 0) {
		set_err(ld, "out of memory");
		return -1;
	}
	rc = parse_file(ld, path, false);
	free(path);
	return rc;
}

static int parse_config_file(struct loader *ld)
{
	char *path;
	int rc;

	if (!ld->src->config_file)
		return 0;
	if (!*ld->src->config_file) {
		set_err(ld, "-o config needs a file name");
		return -1;
	}
	if (expand_path(ld, ld->src->config_file, "config", "-o config", &path) < 0)
		return -1;
	rc = parse_file(ld, path, true);
	free(path);
	return rc;
}

/* ---- environment and -o ---- */

static int apply_env_pair(struct loader *ld, enum key_id id, const char *veofs,
			  const char *openai)
{
	const char *name = veofs;
	const char *v = env_nonempty(ld, veofs);
	char origin[64];

	if (!v) {
		name = openai;
		v = env_nonempty(ld, openai);
	}
	if (!v)
		return 0;
	snprintf(origin, sizeof(origin), "$%s", name);
	return set_key(ld, id, v, origin);
}

/* api.protocol as it will end: -o options come after the environment,
 * but which key variables count depends on the protocol. */
static const char *protocol_in_effect(const struct loader *ld)
{
	const char *p = ld->c->protocol;

	for (size_t i = 0; i < ld->src->n_options; i++) {
		const struct config_option *o = &ld->src->options[i];
		if (o->key && o->value && find_key(o->key) == K_PROTOCOL)
			p = o->value;
	}
	return p ? p : "openai";
}

static int apply_env(struct loader *ld)
{
	const char *protocol = protocol_in_effect(ld);
	const char *own[2] = { NULL, NULL };

	if (apply_env_pair(ld, K_BASE_URL, "VEOFS_BASE_URL", "OPENAI_BASE_URL") < 0)
		return -1;
	/* A protocol's own variables first, then the usual ones. */
	if (!strcmp(protocol, "gemini")) {
		own[0] = "GEMINI_API_KEY";
		own[1] = "GOOGLE_API_KEY";
	} else if (!strcmp(protocol, "openrouter")) {
		own[0] = own[1] = "OPENROUTER_API_KEY";
	}
	if (own[0] && (env_nonempty(ld, own[0]) || env_nonempty(ld, own[1])))
		return apply_env_pair(ld, K_API_KEY, own[0], own[1]);
	return apply_env_pair(ld, K_API_KEY, "VEOFS_API_KEY", "OPENAI_API_KEY");
}

static int apply_options(struct loader *ld)
{
	const struct config_sources *src = ld->src;
	char origin[160];

	for (size_t i = 0; i < src->n_options; i++) {
		const struct config_option *o = &src->options[i];
		const char *value = o->value;
		int id;

		if (!o->key)
			continue;
		snprintf(origin, sizeof(origin), "-o %.100s", o->key);
		id = find_key(o->key);
		if (id < 0) {
			set_err(ld, "unknown key '%.100s' in %s", o->key, origin);
			return -1;
		}
		/* argv is visible to every user through ps and /proc. */
		if (id == K_API_KEY) {
			set_err(ld, "%s refused: the command line is visible to other users in ps; set VEOFS_API_KEY or api.api_key_file instead",
				origin);
			return -1;
		}
		if (!value) {
			if (keys[id].type != KT_BOOL) {
				set_err(ld, "missing value for %s.%s in %s",
					keys[id].section, keys[id].name, origin);
				return -1;
			}
			value = "true";   /* -o watermark */
		}
		if (set_key(ld, (enum key_id)id, value, origin) < 0)
			return -1;
	}
	return 0;
}

/* ---- after all sources ---- */

static const char *origin_of(const struct loader *ld, enum key_id id)
{
	return ld->origin[id] ? ld->origin[id] : "the built-in default";
}

/* The first line of the file, blanks around it removed. */
static int read_key_file(struct loader *ld)
{
	struct config *c = ld->c;
	const char *origin = origin_of(ld, K_API_KEY_FILE);
	char buf[KEY_FILE_MAX + 1];
	char ebuf[128];
	char *path, *start, *end;
	ssize_t n;
	size_t got = 0;
	int fd, rc = -1;

	if (expand_path(ld, c->api_key_file, "api.api_key_file", origin, &path) < 0)
		return -1;
	free(c->api_key_file);
	c->api_key_file = path;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		set_err(ld, "cannot read api.api_key_file %s (set in %s): %s", path,
			origin, errno_phrase(errno, ebuf, sizeof(ebuf)));
		return -1;
	}
	warn_if_readable_by_others(fd, path, "the API key");
	while (got < KEY_FILE_MAX) {
		n = read(fd, buf + got, KEY_FILE_MAX - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_err(ld, "cannot read api.api_key_file %s (set in %s): %s",
				path, origin, errno_phrase(errno, ebuf, sizeof(ebuf)));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	end = strchr(buf, '\n');
	if (end)
		*end = '\0';
	start = buf;
	while (*start == ' ' || *start == '\t')
		start++;
	end = start + strlen(start);
	while (end > start && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (!*start) {
		set_err(ld, "api.api_key_file %s (set in %s) is empty", path, origin);
		goto out;
	}
	if (!printable_no_spaces(start)) {
		set_err(ld, "api.api_key_file %s (set in %s) does not hold a key on its first line (printable characters without spaces)",
			path, origin);
		goto out;
	}
	rc = replace_string(ld, &c->api_key, start, true);
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return rc;
}

static int resolve_state_dir(struct loader *ld)
{
	struct config *c = ld->c;
	const char *leaf = ld->src->simulate ? "veofs-sim" : "veofs";
	const char *dir;
	char *path = NULL;
	int rc;

	if (c->state_dir) {
		if (expand_path(ld, c->state_dir, "storage.state_dir",
				origin_of(ld, K_STATE_DIR), &path) < 0)
			return -1;
		free(c->state_dir);
		c->state_dir = path;
		return 0;
	}
	dir = xdg_dir(ld, "XDG_STATE_HOME");
	if (dir) {
		rc = join_path(&path, dir, leaf);
	} else if ((dir = home_dir(ld))) {
		char rest[64];

		snprintf(rest, sizeof(rest), ".local/state/%s", leaf);
		rc = join_path(&path, dir, rest);
	} else {
		set_err(ld, "cannot choose a state directory: neither XDG_STATE_HOME nor HOME is set (set storage.state_dir)");
		return -1;
	}
	if (rc < 0) {
		set_err(ld, "out of memory");
		return -1;
	}
	strip_trailing_slashes(path);
	c->state_dir = path;
	return 0;
}

/* A bare program name is left for a PATH search; anything with a slash is
 * anchored now, since the daemon runs from "/". */
static int resolve_hook(struct loader *ld, enum key_id id)
{
	char **field = (char **)((char *)ld->c + keys[id].offset);
	char name[64];
	char *path;

	if (!*field || (!strchr(*field, '/') && (*field)[0] != '~'))
		return 0;
	if (expand_path(ld, *field, long_name(id, name, sizeof(name)),
			origin_of(ld, id), &path) < 0)
		return -1;
	free(*field);
	*field = path;
	return 0;
}

static int finish(struct loader *ld)
{
	struct config *c = ld->c;

	if (c->api_key_file && ld->seq[K_API_KEY_FILE] > ld->seq[K_API_KEY] &&
	    read_key_file(ld) < 0)
		return -1;
	if (resolve_state_dir(ld) < 0 || resolve_hook(ld, K_ON_COMPLETE) < 0 ||
	    resolve_hook(ld, K_ON_FAILED) < 0)
		return -1;
	if (c->poll_max_interval < c->poll_interval) {
		set_err(ld, "poll.max_interval %d (from %s) is less than poll.interval %d (from %s)",
			c->poll_max_interval, origin_of(ld, K_MAX_INTERVAL),
			c->poll_interval, origin_of(ld, K_INTERVAL));
		return -1;
	}
	/* Google's API has its own root; a base_url set anywhere wins. */
	if (!strcmp(c->protocol, "gemini") && !ld->origin[K_BASE_URL] &&
	    replace_string(ld, &c->base_url, GEMINI_BASE_URL, false) < 0)
		return -1;
	/* The embedded simulator speaks the mount's protocol unless told
	 * otherwise. */
	if (!ld->origin[K_SIM_PROTOCOL] &&
	    replace_string(ld, &c->sim_protocol, c->protocol, false) < 0)
		return -1;
	if (ld->src->debug)
		c->log_level = LOG_LVL_DEBUG;
	if (!prompt_model_known(c->model))
		log_warn("unknown model '%s' (from %s): passing it to the API as is",
			 c->model, origin_of(ld, K_MODEL));
	return 0;
}

static int set_defaults(struct config *c)
{
	c->base_url = strdup(DEFAULT_BASE_URL);
	c->model = strdup(DEFAULT_MODEL);
	c->size = strdup(DEFAULT_SIZE);
	c->timeout = 60;
	c->min_download_rate = 1024;
	c->max_video_bytes = 4LL << 30;
	c->video_deadline = 600;
	c->seconds = 8;
	c->watermark = false;
	c->poll_interval = 2;
	c->poll_max_interval = 60;
	c->sim_duration = 20;
	c->chat_silence_limit = 120;
	c->chat_total_limit = 900;
	c->sim_dialect = strdup("openai");
	c->sim_chat_style = strdup("flow2api");
	c->protocol = strdup("openai");
	c->sim_protocol = strdup("openai");
	c->sim_progress = strdup("smooth");
	c->sim_jitter = 0;
	c->log_level = LOG_LVL_INFO;
	return c->base_url && c->model && c->size && c->sim_dialect && c->sim_chat_style &&
	       c->sim_progress && c->protocol && c->sim_protocol ? 0 : -1;
}

int config_load(struct config *c, const struct config_sources *sources,
		char *err, size_t errlen)
{
	static const struct config_sources no_sources;
	struct loader ld = {
		.c = c,
		.src = sources ? sources : &no_sources,
		.err = err,
		.errlen = errlen,
	};
	int rc = -1;

	if (err && errlen)
		err[0] = '\0';
	memset(c, 0, sizeof(*c));
	if (set_defaults(c) < 0) {
		set_err(&ld, "out of memory");
		goto out;
	}
	if (parse_file(&ld, ld.src->system_file ? ld.src->system_file
						  : CONFIG_SYSTEM_FILE, false) < 0 ||
	    parse_user_file(&ld) < 0 || parse_config_file(&ld) < 0 ||
	    apply_env(&ld) < 0 || apply_options(&ld) < 0 || finish(&ld) < 0)
		goto out;
	log_add_secret(c->api_key);
	rc = 0;
out:
	for (int i = 0; i < N_KEYS; i++)
		free(ld.origin[i]);
	free(ld.linebuf);
	if (rc < 0)
		config_free(c);
	return rc;
}

/* ---- checks for callers ---- */

bool config_url_is_loopback(const char *url)
{
	char host[256];
	const char *p, *end, *at;
	size_t n;
	struct in_addr a4;
	struct in6_addr a6;

	if (!url)
		return false;
	if (strncasecmp(url, "http://", 7) == 0)
		p = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		p = url + 8;
	else
		return false;
	end = p + strcspn(p, "/?#");
	/* user:password@host: only what follows the last @ is the host. */
	for (at = p; at < end; at++)
		if (*at == '@')
			p = at + 1;
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));

		if (!close)
			return false;
		n = (size_t)(close - p - 1);
		if (n >= sizeof(host))
			return false;
		memcpy(host, p + 1, n);
		host[n] = '\0';
		p = close + 1;
		if (p < end && *p != ':')
			return false;
		return inet_pton(AF_INET6, host, &a6) == 1 &&
		       (IN6_IS_ADDR_LOOPBACK(&a6) ||
			(IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127));
	}
	n = strcspn(p, ":/?#");
	if (p + n > end || n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, p, n);
	host[n] = '\0';
	/* A port, if any, must be all digits: "localhost:80@evil" is not. */
	for (const char *q = p + n + (p[n] == ':'); q < end; q++)
		if (!isdigit((unsigned char)*q))
			return false;
	if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0)
		return true;
	return inet_pton(AF_INET, host, &a4) == 1 &&
	       (ntohl(a4.s_addr) >> 24) == 127;
}

int config_check_api_key(const struct config *c, char *err, size_t errlen)
{
	if (c->api_key && *c->api_key)
		return 0;
	if (config_url_is_loopback(c->base_url))
		return 0;
	if (err && errlen)
		snprintf(err, errlen,
			 "no API key for %s: set %sVEOFS_API_KEY, or api.api_key_file in ~/.config/veofs/veofs.conf (or use --simulate to try veofs without one)",
			 c->base_url ? c->base_url : "the API",
			 c->protocol && !strcmp(c->protocol, "gemini") ? "GEMINI_API_KEY, " :
			 c->protocol && !strcmp(c->protocol, "openrouter") ?
			 "OPENROUTER_API_KEY, " : "");
	return -1;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	if (c->api_key)
		explicit_bzero(c->api_key, strlen(c->api_key));
	free(c->base_url);
	free(c->api_key);
	free(c->api_key_file);
	free(c->model);
	free(c->size);
	free(c->state_dir);
	free(c->on_complete);
	free(c->on_failed);
	free(c->sim_dialect);
	free(c->sim_progress);
	free(c->protocol);
	free(c->sim_chat_style);
	free(c->sim_protocol);
	memset(c, 0, sizeof(*c));
}
