/* Logging: format, level filtering, redaction of secrets, escaping of
 * control characters, the length cap and whole lines under threads. Each
 * test captures fd 2 in a temporary file. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static FILE *capture;
static int saved_stderr = -1;

static void start_capture(void)
{
	capture = tmpfile();
	cr_assert_not_null(capture);
	saved_stderr = dup(STDERR_FILENO);
	cr_assert_geq(saved_stderr, 0);
	cr_assert_eq(dup2(fileno(capture), STDERR_FILENO), STDERR_FILENO);
}

/* Stop capturing; returns everything written (caller frees). */
static char *stop_capture(void)
{
	char *out;
	long n;

	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	fseek(capture, 0, SEEK_END);
	n = ftell(capture);
	rewind(capture);
	out = calloc(1, (size_t)n + 1);
	cr_assert_not_null(out);
	cr_assert_eq(fread(out, 1, (size_t)n, capture), (size_t)n);
	fclose(capture);
	capture = NULL;
	return out;
}

static void setup(void)
{
	log_init(LOG_LVL_INFO, 0);
}

static void teardown(void)
{
	if (saved_stderr >= 0)
		free(stop_capture());
	log_shutdown();
}

TestSuite(log, .init = setup, .fini = teardown);

Test(log, line_format)
{
	char *out;

	start_capture();
	log_warn("disk %s is %d%% full", "sda", 93);
	log_error("boom");
	log_info("plain");
	out = stop_capture();
	cr_assert_str_eq(out, "veofs: warn: disk sda is 93% full\n"
			      "veofs: error: boom\n"
			      "veofs: info: plain\n");
	free(out);
}

Test(log, level_filtering)
{
	char *out;

	log_set_level(LOG_LVL_WARN);
	cr_assert_eq(log_get_level(), LOG_LVL_WARN);
	start_capture();
	log_debug("d");
	log_info("i");
	log_warn("w");
	log_error("e");
	out = stop_capture();
	cr_assert_str_eq(out, "veofs: warn: w\nveofs: error: e\n");
	free(out);

	log_set_level(LOG_LVL_ERROR);
	start_capture();
	log_warn("w");
	log_error("e");
	out = stop_capture();
	cr_assert_str_eq(out, "veofs: error: e\n");
	free(out);
}

Test(log, debug_lines_carry_a_time)
{
	char *out;
	int h, m, s, ms;
	char rest[64];

	log_init(LOG_LVL_DEBUG, 0);
	start_capture();
	log_debug("details");
	out = stop_capture();
	cr_assert_eq(sscanf(out, "%2d:%2d:%2d.%3d %63[^\n]", &h, &m, &s, &ms, rest), 5,
		     "'%s'", out);
	cr_assert_str_eq(rest, "veofs: debug: details");
	free(out);
}

Test(log, level_names)
{
	cr_assert_eq(log_level_parse("error"), LOG_LVL_ERROR);
	cr_assert_eq(log_level_parse("warn"), LOG_LVL_WARN);
	cr_assert_eq(log_level_parse("warning"), LOG_LVL_WARN);
	cr_assert_eq(log_level_parse("info"), LOG_LVL_INFO);
	cr_assert_eq(log_level_parse("DEBUG"), LOG_LVL_DEBUG);
	cr_assert_eq(log_level_parse("loud"), -1);
	cr_assert_eq(log_level_parse(""), -1);
	cr_assert_eq(log_level_parse(NULL), -1);
	cr_assert_str_eq(log_level_name(LOG_LVL_ERROR), "error");
	cr_assert_str_eq(log_level_name(LOG_LVL_WARN), "warn");
	cr_assert_str_eq(log_level_name(LOG_LVL_INFO), "info");
	cr_assert_str_eq(log_level_name(LOG_LVL_DEBUG), "debug");
}

Test(log, secrets_are_redacted_at_every_level)
{
	char *out;

	log_add_secret("sk-live-abcdef");
	log_add_secret("second-secret");
	log_init(LOG_LVL_DEBUG, 0);
	start_capture();
	log_error("Authorization: Bearer sk-live-abcdef");
	log_warn("sk-live-abcdefsk-live-abcdef and second-secret");
	log_info("%s", "key=sk-live-abcdef;");
	log_debug("sk-live-abcdef");
	out = stop_capture();
	cr_assert_null(strstr(out, "sk-live"), "%s", out);
	cr_assert_null(strstr(out, "second-secret"), "%s", out);
	cr_assert_not_null(strstr(out, "veofs: error: Authorization: Bearer [redacted]\n"), "%s", out);
	cr_assert_not_null(strstr(out, "veofs: warn: [redacted][redacted] and [redacted]\n"), "%s", out);
	cr_assert_not_null(strstr(out, "veofs: info: key=[redacted];\n"), "%s", out);
	cr_assert_not_null(strstr(out, "veofs: debug: [redacted]\n"), "%s", out);
	free(out);
}

Test(log, short_secrets_are_ignored)
{
	char *out;

	log_add_secret("abc");
	log_add_secret("");
	log_add_secret(NULL);
	start_capture();
	log_info("abc abcd");
	out = stop_capture();
	cr_assert_str_eq(out, "veofs: info: abc abcd\n");
	free(out);
}

Test(log, shutdown_forgets_secrets)
{
	char *out;

	log_add_secret("forget-me");
	log_shutdown();
	start_capture();
	log_info("forget-me");
	out = stop_capture();
	cr_assert_str_eq(out, "veofs: info: forget-me\n");
	free(out);
}

Test(log, control_characters_are_escaped)
{
	char *out;

	start_capture();
	log_error("task says: %s", "line1\nveofs: error: forged\r\x01\x1b[31m\x7f\tend");
	out = stop_capture();
	cr_assert_str_eq(out, "veofs: error: task says: line1\\nveofs: error: forged"
			      "\\r\\x01\\x1b[31m\\x7f\tend\n");
	free(out);
}

Test(log, utf8_passes_through)
{
	char *out;

	start_capture();
	log_info("caf\xc3\xa9 \xe2\x9c\x93");
	out = stop_capture();
	cr_assert_str_eq(out, "veofs: info: caf\xc3\xa9 \xe2\x9c\x93\n");
	free(out);
}

Test(log, long_lines_are_capped)
{
	char *big = malloc(10001);
	char *out;
	size_t len;

	memset(big, 'x', 10000);
	big[10000] = '\0';
	start_capture();
	log_info("%s", big);
	log_info("next");
	out = stop_capture();
	len = strcspn(out, "\n");
	cr_assert_leq(len, 4096 + 64, "line of %zu bytes", len);
	cr_assert_geq(len, 4000);
	cr_assert_eq(strncmp(out + len - 3, "...", 3), 0, "a cut line ends in ...");
	cr_assert_str_eq(out + len + 1, "veofs: info: next\n");
	free(out);
	free(big);
}

Test(log, cap_never_leaves_part_of_a_secret)
{
	char *out;
	char *text = malloc(8200);

	log_add_secret("sk-0123456789abcdef");
	/* Put a secret across the cap at every offset near it. */
	for (size_t pad = 4070; pad < 4100; pad++) {
		memset(text, 'a', pad);
		strcpy(text + pad, "sk-0123456789abcdef tail");
		start_capture();
		log_info("%s", text);
		out = stop_capture();
		cr_assert_null(strstr(out, "sk-0"), "pad %zu leaks a prefix", pad);
		cr_assert_null(strstr(out, "[reda\n"), "pad %zu cuts the marker", pad);
		free(out);
	}
	free(text);
}

Test(log, escapes_are_not_cut_in_half)
{
	char *text = malloc(4200);
	char *out;
	size_t len;

	memset(text, 'a', 4093);
	memset(text + 4093, '\x01', 10);
	text[4103] = '\0';
	start_capture();
	log_info("%s", text);
	out = stop_capture();
	len = strcspn(out, "\n");
	cr_assert_eq(strncmp(out + len - 3, "...", 3), 0);
	/* Just before the marker: an 'a' or a whole \x01. */
	cr_assert(out[len - 4] == 'a' || strncmp(out + len - 7, "\\x01", 4) == 0,
		  "'%s'", out + len - 10);
	free(out);
	free(text);
}

Test(log, errno_is_preserved)
{
	char *out;

	start_capture();
	errno = ENOENT;
	log_error("open failed: %m");
	cr_assert_eq(errno, ENOENT);
	out = stop_capture();
	cr_assert_str_eq(out, "veofs: error: open failed: No such file or directory\n");
	free(out);
}

#define THREADS 8
#define LINES 500

static void *writer(void *arg)
{
	long id = (long)arg;

	for (int i = 0; i < LINES; i++)
		log_info("thread %ld line %d %s", id, i,
			 "padding-padding-padding-padding-padding-padding-padding");
	return NULL;
}

Test(log, threads_never_interleave)
{
	pthread_t t[THREADS];
	int count[THREADS] = { 0 };
	char *out, *line, *save = NULL;
	int total = 0;

	start_capture();
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, writer, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	out = stop_capture();
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		long id;
		int n;
		char pad[128];

		cr_assert_eq(sscanf(line, "veofs: info: thread %ld line %d %127s", &id, &n, pad),
			     3, "mangled line '%s'", line);
		cr_assert_str_eq(pad, "padding-padding-padding-padding-padding-padding-padding");
		cr_assert(id >= 0 && id < THREADS);
		cr_assert_eq(n, count[id], "thread %ld out of order", id);
		count[id]++;
		total++;
	}
	cr_assert_eq(total, THREADS * LINES);
	free(out);
}

Test(log, syslog_mode_writes_nothing_to_stderr)
{
	char *out;

	log_init(LOG_LVL_INFO, 1);
	start_capture();
	log_debug("filtered");
	log_info("to syslog only");
	out = stop_capture();
	cr_assert_str_eq(out, "");
	free(out);
	log_init(LOG_LVL_INFO, 0);
	start_capture();
	log_info("back on stderr");
	out = stop_capture();
	cr_assert_str_eq(out, "veofs: info: back on stderr\n");
	free(out);
}
