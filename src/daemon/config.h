/* Configuration: built-in defaults, INI files, environment and -o options,
 * merged in the contract's order of precedence. */
#ifndef VEOFS_CONFIG_H
#define VEOFS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_SYSTEM_FILE "/etc/veofs/veofs.conf"

struct config {
	char *base_url;        /* api.base_url, no trailing slash */
	char *api_key;         /* api.api_key (never logged) */
	char *api_key_file;    /* api.api_key_file */
	int timeout;           /* api.timeout, seconds */
	int min_download_rate; /* api.min_download_rate, bytes/s; 0: none */
	long long max_video_bytes; /* api.max_video_bytes */
	int video_deadline;    /* api.video_deadline, seconds */
	char *protocol;        /* api.protocol: openai, gemini, openrouter or chat */
	char *model;           /* defaults.model */
	int seconds;           /* defaults.seconds: 4, 6, 8 or 12 */
	char *size;            /* defaults.size */
	bool watermark;        /* defaults.watermark */
	int poll_interval;     /* poll.interval, seconds */
	int poll_max_interval; /* poll.max_interval, seconds */
	char *state_dir;       /* storage.state_dir, absolute */
	int chat_silence_limit; /* chat.silence_limit, seconds without a byte */
	int chat_total_limit;  /* chat.total_limit, seconds for one reply */
	int sim_duration;      /* sim.duration, seconds */
	char *sim_protocol;    /* sim.protocol; follows api.protocol when unset */
	char *sim_dialect;     /* sim.dialect: openai, newapi, ... */
	char *sim_chat_style;  /* sim.chat_style: flow2api, sora2api, ... */
	char *sim_progress;    /* sim.progress: smooth, coarse or none */
	int sim_jitter;        /* sim.jitter, percent */
	int log_level;         /* general.log_level, enum log_level */
	char *on_complete;     /* hooks.on_complete */
	char *on_failed;       /* hooks.on_failed */
};

/* One -o KEY=VALUE given on the command line, in the order given. */
struct config_option {
	const char *key;   /* "model" or "defaults.model" */
	const char *value;
};

struct config_sources {
	bool simulate;            /* --simulate: state dir defaults to .../veofs-sim */
	bool debug;               /* -d: log level debug */
	const char *config_file;  /* -o config=FILE, or NULL */
	const struct config_option *options; /* -o KEY=VALUE, not including config= */
	size_t n_options;
	/* Where to look for files and variables; NULL means the real ones.
	 * Tests point these at temporary files. */
	const char *system_file;  /* default CONFIG_SYSTEM_FILE */
	char **environ;           /* default: the process environment */
};

/* True when NAME (short "model" or long "defaults.model") is a configuration
 * key; used by the command line to tell our -o options from FUSE ones. */
bool config_is_key(const char *name);

/* Fill *c from every source in order of precedence: defaults, system file,
 * $XDG_CONFIG_HOME/veofs/veofs.conf, sources->config_file, environment,
 * sources->options. Then resolve api_key_file and the state dir default and
 * validate. On failure returns -1 with a message in err that names the key
 * and where it came from (file:line, environment variable or -o option).
 * -o api_key=... is refused. A missing API key is only an error for a
 * base_url that is not on loopback; check it with config_check_api_key(). */
int config_load(struct config *c, const struct config_sources *sources,
		char *err, size_t errlen);

/* -1 with a how-to in err when there is no API key and base_url is not a
 * loopback address. */
int config_check_api_key(const struct config *c, char *err, size_t errlen);

/* True when the URL's host is 127.0.0.0/8, ::1 or localhost. */
bool config_url_is_loopback(const char *url);

void config_free(struct config *c);

#endif
