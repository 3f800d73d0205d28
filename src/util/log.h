/* Logging: stderr in the foreground, syslog when daemonised. */
#ifndef VEOFS_LOG_H
#define VEOFS_LOG_H

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_init(enum log_level level, int use_syslog);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Returns -1 when the name is not a level. */
int log_level_parse(const char *name);
const char *log_level_name(enum log_level level);

/* Register a secret (the API key) that must never appear in a log line:
 * every occurrence is replaced by "[redacted]" before the line is written. */
void log_add_secret(const char *secret);

/* Forget the secrets (wiping them) and close syslog; logging still works
 * afterwards, on stderr. */
void log_shutdown(void);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
