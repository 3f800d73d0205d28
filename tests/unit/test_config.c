/* Configuration: defaults, each source against the next, and the messages
 * a user sees for every kind of mistake. Every test runs in its own
 * temporary directory with its own environment array, never the real one. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

static char tmpdir[64];
static char home[128];
static char system_file[128];
static char *env_home;
static char err[1024];

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	return remove(path);
}

static void make_dirs(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(buf, 0700);
			*p = '/';
		}
	}
	mkdir(buf, 0700);
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/veofs-test-config-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(home, sizeof(home), "%s/home", tmpdir);
	make_dirs(home);
	snprintf(system_file, sizeof(system_file), "%s/etc/veofs.conf", tmpdir);
	cr_assert_neq(asprintf(&env_home, "HOME=%s", home), -1);
	err[0] = '\0';
}

static void teardown(void)
{
	nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(env_home);
}

TestSuite(config, .init = setup, .fini = teardown);

/* Write text to tmpdir/rel (directories made as needed); returns the path
 * in a static buffer that the next call overwrites. */
static const char *write_file(const char *rel, const char *text, mode_t mode)
{
	static char path[PATH_MAX];
	char dir[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	make_dirs(dir);
	f = fopen(path, "w");
	cr_assert_not_null(f, "cannot create %s", path);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

struct load_args {
	const char *config_file;
	const struct config_option *options;
	size_t n_options;
	bool simulate;
	bool debug;
	bool no_home;
	const char *env[8];   /* extra "K=V", NULL-terminated */
};

static int load_with(struct config *c, const struct load_args *a)
{
	char *environ_arr[10];
	size_t n = 0;
	struct config_sources src = {
		.simulate = a->simulate,
		.debug = a->debug,
		.config_file = a->config_file,
		.options = a->options,
		.n_options = a->n_options,
		.system_file = system_file,
		.environ = environ_arr,
	};

	if (!a->no_home)
		environ_arr[n++] = env_home;
	for (size_t i = 0; i < 8 && a->env[i]; i++)
		environ_arr[n++] = (char *)a->env[i];
	environ_arr[n] = NULL;
	return config_load(c, &src, err, sizeof(err));
}

#define LOAD(c, ...) load_with((c), &(struct load_args){ __VA_ARGS__ })
#define OPTS(...) \
	.options = (const struct config_option[]){ __VA_ARGS__ }, \
	.n_options = sizeof((const struct config_option[]){ __VA_ARGS__ }) / \
		     sizeof(struct config_option)

static void expect_error(int rc, const char *part)
{
	cr_assert_eq(rc, -1, "load should fail");
	cr_assert_not_null(strstr(err, part), "message '%s' lacks '%s'", err, part);
}

static const char *user_conf(void)
{
	return ".config/veofs/veofs.conf";
}

static const char *write_user_conf(const char *text)
{
	char rel[PATH_MAX];

	snprintf(rel, sizeof(rel), "home/%s", user_conf());
	return write_file(rel, text, 0600);
}

/* ---- defaults ---- */

Test(config, defaults)
{
	struct config c;
	char want[PATH_MAX];

	cr_assert_eq(LOAD(&c, .config_file = NULL), 0, "%s", err);
	cr_assert_str_eq(c.base_url, "https://api.applerouter.ai/v1");
	cr_assert_null(c.api_key);
	cr_assert_null(c.api_key_file);
	cr_assert_eq(c.timeout, 60);
	cr_assert_str_eq(c.model, "veo-3.1");
	cr_assert_eq(c.seconds, 8);
	cr_assert_str_eq(c.size, "1280x720");
	cr_assert_eq(c.watermark, false);
	cr_assert_eq(c.poll_interval, 2);
	cr_assert_eq(c.poll_max_interval, 60);
	snprintf(want, sizeof(want), "%s/.local/state/veofs", home);
	cr_assert_str_eq(c.state_dir, want);
	cr_assert_eq(c.sim_duration, 20);
	cr_assert_str_eq(c.sim_dialect, "openai");
	cr_assert_str_eq(c.sim_progress, "smooth");
	cr_assert_eq(c.sim_jitter, 0);
	cr_assert_eq(c.log_level, LOG_LVL_INFO);
	cr_assert_null(c.on_complete);
	cr_assert_null(c.on_failed);
	config_free(&c);
}

Test(config, free_is_safe_on_zeroed_and_twice)
{
	struct config c = { 0 };

	config_free(&c);
	cr_assert_eq(LOAD(&c, .config_file = NULL), 0, "%s", err);
	config_free(&c);
	config_free(&c);
	cr_assert_null(c.base_url);
}

Test(config, debug_forces_debug_level)
{
	struct config c;

	write_file("etc/veofs.conf", "[general]\nlog_level = error\n", 0644);
	cr_assert_eq(LOAD(&c, .debug = true), 0, "%s", err);
	cr_assert_eq(c.log_level, LOG_LVL_DEBUG);
	config_free(&c);
}

/* ---- precedence ---- */

Test(config, system_file_beats_defaults)
{
	struct config c;

	write_file("etc/veofs.conf",
		   "# system\n[defaults]\nmodel = veo-3.1-fast\nseconds = 4\n", 0644);
	cr_assert_eq(LOAD(&c, .config_file = NULL), 0, "%s", err);
	cr_assert_str_eq(c.model, "veo-3.1-fast");
	cr_assert_eq(c.seconds, 4);
	config_free(&c);
}

Test(config, user_file_beats_system_file)
{
	struct config c;

	write_file("etc/veofs.conf", "[defaults]\nmodel = veo-3.1-fast\nseconds = 4\n", 0644);
	write_user_conf("[defaults]\nmodel = veo-3.1-fl\n");
	cr_assert_eq(LOAD(&c, .config_file = NULL), 0, "%s", err);
	cr_assert_str_eq(c.model, "veo-3.1-fl");
	cr_assert_eq(c.seconds, 4, "untouched keys keep the system value");
	config_free(&c);
}

Test(config, config_file_beats_user_file)
{
	struct config c;
	const char *extra;

	write_user_conf("[defaults]\nmodel = veo-3.1-fl\nsize = 9x16\n");
	extra = write_file("extra.conf", "[defaults]\nmodel = veo-3.1-landscape\n", 0600);
	cr_assert_eq(LOAD(&c, .config_file = extra), 0, "%s", err);
	cr_assert_str_eq(c.model, "veo-3.1-landscape");
	cr_assert_str_eq(c.size, "9x16");
	config_free(&c);
}

Test(config, environment_beats_config_file)
{
	struct config c;
	const char *extra;

	extra = write_file("extra.conf", "[api]\nbase_url = http://file.example/v1\n", 0600);
	cr_assert_eq(LOAD(&c, .config_file = extra,
			  .env = { "VEOFS_BASE_URL=http://env.example/v1" }), 0, "%s", err);
	cr_assert_str_eq(c.base_url, "http://env.example/v1");
	config_free(&c);
}

Test(config, option_beats_environment)
{
	struct config c;

	cr_assert_eq(LOAD(&c, .env = { "VEOFS_BASE_URL=http://env.example/v1" },
			  OPTS({ "base_url", "http://opt.example/v1" })), 0, "%s", err);
	cr_assert_str_eq(c.base_url, "http://opt.example/v1");
	config_free(&c);
}

Test(config, all_sources_in_order)
{
	struct config c;
	const char *extra;

	write_file("etc/veofs.conf", "[poll]\ninterval = 2\nmax_interval = 10\n[sim]\nduration = 1\n", 0644);
	write_user_conf("[poll]\ninterval = 3\nmax_interval = 20\n");
	extra = write_file("extra.conf", "[poll]\ninterval = 4\n", 0600);
	cr_assert_eq(LOAD(&c, .config_file = extra,
			  OPTS({ "poll.interval", "7" })), 0, "%s", err);
	cr_assert_eq(c.poll_interval, 7);
	cr_assert_eq(c.poll_max_interval, 20);
	cr_assert_eq(c.sim_duration, 1);
	config_free(&c);
}

Test(config, xdg_config_home_replaces_dot_config)
{
	struct config c;
	char var[PATH_MAX + 32];

	write_user_conf("[defaults]\nmodel = veo-3.1-fl\n");
	write_file("xdg/veofs/veofs.conf", "[defaults]\nmodel = veo-3.1-fast-fl\n", 0600);
	snprintf(var, sizeof(var), "XDG_CONFIG_HOME=%s/xdg", tmpdir);
	cr_assert_eq(LOAD(&c, .env = { var }), 0, "%s", err);
	cr_assert_str_eq(c.model, "veo-3.1-fast-fl");
	config_free(&c);
}

Test(config, relative_xdg_config_home_is_ignored)
{
	struct config c;

	write_user_conf("[defaults]\nmodel = veo-3.1-fl\n");
	cr_assert_eq(LOAD(&c, .env = { "XDG_CONFIG_HOME=relative/dir" }), 0, "%s", err);
	cr_assert_str_eq(c.model, "veo-3.1-fl");
	config_free(&c);
}

Test(config, missing_optional_files_are_fine)
{
	struct config c;

	cr_assert_eq(LOAD(&c, .no_home = true,
			  .env = { "XDG_STATE_HOME=/var/tmp/st" }), 0, "%s", err);
	cr_assert_str_eq(c.state_dir, "/var/tmp/st/veofs");
	config_free(&c);
}

/* ---- -o names ---- */

Test(config, short_and_long_option_names)
{
	struct config c;

	cr_assert_eq(LOAD(&c, OPTS({ "model", "veo-3.1-fast" },
				   { "defaults.seconds", "12" },
				   { "size", "1792x1024" },
				   { "defaults.watermark", "yes" },
				   { "timeout", "30" },
				   { "api.timeout", "31" },
				   { "state_dir", "/srv/veo" },
				   { "duration", "2" },
				   { "dialect", "litellm" },
				   { "sim.progress", "coarse" },
				   { "jitter", "15" },
				   { "log_level", "debug" },
				   { "on_complete", "/usr/bin/true" },
				   { "hooks.on_failed", "notify-send" },
				   { "max_interval", "90" },
				   { "interval", "9" })), 0, "%s", err);
	cr_assert_str_eq(c.model, "veo-3.1-fast");
	cr_assert_eq(c.seconds, 12);
	cr_assert_str_eq(c.size, "1792x1024");
	cr_assert(c.watermark);
	cr_assert_eq(c.timeout, 31, "later options win");
	cr_assert_str_eq(c.state_dir, "/srv/veo");
	cr_assert_eq(c.sim_duration, 2);
	cr_assert_str_eq(c.sim_dialect, "litellm");
	cr_assert_str_eq(c.sim_progress, "coarse");
	cr_assert_eq(c.sim_jitter, 15);
	cr_assert_eq(c.log_level, LOG_LVL_DEBUG);
	cr_assert_str_eq(c.on_complete, "/usr/bin/true");
	cr_assert_str_eq(c.on_failed, "notify-send", "bare names are left for PATH");
	cr_assert_eq(c.poll_interval, 9);
	cr_assert_eq(c.poll_max_interval, 90);
	config_free(&c);
}

Test(config, later_option_wins)
{
	struct config c;

	cr_assert_eq(LOAD(&c, OPTS({ "model", "veo-3.1-fast" },
				   { "defaults.model", "veo-3.1-fl" })), 0, "%s", err);
	cr_assert_str_eq(c.model, "veo-3.1-fl");
	config_free(&c);
}

Test(config, bool_option_without_value_means_true)
{
	struct config c;

	cr_assert_eq(LOAD(&c, OPTS({ "watermark", NULL })), 0, "%s", err);
	cr_assert(c.watermark);
	config_free(&c);
}

Test(config, option_without_value_is_an_error)
{
	struct config c;

	expect_error(LOAD(&c, OPTS({ "model", NULL })),
		     "missing value for defaults.model in -o model");
	config_free(&c);
}

Test(config, is_key)
{
	cr_assert(config_is_key("model"));
	cr_assert(config_is_key("defaults.model"));
	cr_assert(config_is_key("base_url"));
	cr_assert(config_is_key("api.base_url"));
	cr_assert(config_is_key("state_dir"));
	cr_assert(config_is_key("duration"));
	cr_assert(config_is_key("sim.duration"));
	cr_assert(config_is_key("api_key"), "so that it reaches the refusal");
	cr_assert(config_is_key("hooks.on_complete"));
	cr_assert_not(config_is_key("config"));
	cr_assert_not(config_is_key("allow_other"));
	cr_assert_not(config_is_key("api.model"));
	cr_assert_not(config_is_key("defaults."));
	cr_assert_not(config_is_key(""));
	cr_assert_not(config_is_key(NULL));
}

/* ---- environment ---- */

Test(config, openai_variables_are_the_fallback)
{
	struct config c;

	cr_assert_eq(LOAD(&c, .env = { "OPENAI_BASE_URL=http://openai.example/v1/",
				       "OPENAI_API_KEY=sk-openai-1234" }), 0, "%s", err);
	cr_assert_str_eq(c.base_url, "http://openai.example/v1");
	cr_assert_str_eq(c.api_key, "sk-openai-1234");
	config_free(&c);
}

Test(config, veofs_variables_win_over_openai)
{
	struct config c;

	cr_assert_eq(LOAD(&c, .env = { "OPENAI_BASE_URL=http://openai.example/v1",
				       "VEOFS_BASE_URL=http://veofs.example/v1",
				       "OPENAI_API_KEY=sk-openai-1234",
				       "VEOFS_API_KEY=sk-veofs-5678" }), 0, "%s", err);
	cr_assert_str_eq(c.base_url, "http://veofs.example/v1");
	cr_assert_str_eq(c.api_key, "sk-veofs-5678");
	config_free(&c);
}

Test(config, empty_veofs_variable_falls_back)
{
	struct config c;

	cr_assert_eq(LOAD(&c, .env = { "VEOFS_API_KEY=",
				       "OPENAI_API_KEY=sk-openai-1234" }), 0, "%s", err);
	cr_assert_str_eq(c.api_key, "sk-openai-1234");
	config_free(&c);
}

Test(config, bad_environment_value_names_the_variable)
{
	struct config c;

	expect_error(LOAD(&c, .env = { "VEOFS_BASE_URL=ftp://x" }),
		     "bad value 'ftp://x' for api.base_url");
	cr_assert_not_null(strstr(err, "$VEOFS_BASE_URL"), "%s", err);
	config_free(&c);
}

Test(config, other_variables_are_not_read)
{
	struct config c;

	cr_assert_eq(LOAD(&c, .env = { "VEOFS_MODEL=veo-3.1-fast",
				       "VEOFS_STATE_DIR=/nowhere" }), 0, "%s", err);
	cr_assert_str_eq(c.model, "veo-3.1");
	config_free(&c);
}

/* ---- mistakes in files ---- */

Test(config, unknown_key_in_file_names_file_and_line)
{
	struct config c;
	char want[PATH_MAX + 64];

	write_file("etc/veofs.conf", "[defaults]\n; a comment\nmodle = veo-3.1\n", 0644);
	snprintf(want, sizeof(want), "unknown key 'modle' in %s:3", system_file);
	expect_error(LOAD(&c, .config_file = NULL), want);
	config_free(&c);
}

Test(config, key_outside_section)
{
	struct config c;
	const char *path;
	char want[PATH_MAX + 64];

	path = write_user_conf("# no section yet\nmodel = veo-3.1\n");
	snprintf(want, sizeof(want), "key 'model' outside a section in %s:2", path);
	expect_error(LOAD(&c, .config_file = NULL), want);
	cr_assert_not_null(strstr(err, "[defaults]"), "%s", err);
	config_free(&c);
}

Test(config, key_in_wrong_or_unknown_section)
{
	struct config c;

	write_file("etc/veofs.conf", "[api]\nmodel = veo-3.1\n", 0644);
	expect_error(LOAD(&c, .config_file = NULL), "belongs in [defaults]");
	config_free(&c);
	write_file("etc/veofs.conf", "[nonsense]\ntimeout = 5\n", 0644);
	expect_error(LOAD(&c, .config_file = NULL), "[nonsense]");
	config_free(&c);
}

Test(config, dotted_key_in_file_is_unknown)
{
	struct config c;

	write_file("etc/veofs.conf", "[defaults]\ndefaults.model = veo-3.1\n", 0644);
	expect_error(LOAD(&c, .config_file = NULL), "unknown key 'defaults.model'");
	config_free(&c);
}

Test(config, syntax_error_names_line)
{
	struct config c;
	char want[PATH_MAX + 64];

	write_file("etc/veofs.conf", "[api]\ntimeout = 5\nthis is not ini\n", 0644);
	snprintf(want, sizeof(want), "syntax error in %s:3", system_file);
	expect_error(LOAD(&c, .config_file = NULL), want);
	config_free(&c);
}

Test(config, first_error_wins)
{
	struct config c;
	char want[PATH_MAX + 64];

	write_file("etc/veofs.conf", "[api]\ntimeout = 0\nnot ini\nbogus = 1\n", 0644);
	snprintf(want, sizeof(want), "in %s:2", system_file);
	expect_error(LOAD(&c, .config_file = NULL), want);
	config_free(&c);
}

Test(config, comments_and_sections_are_case_insensitive)
{
	struct config c;

	write_file("etc/veofs.conf",
		   "# hash comment\n; semicolon comment\n[DEFAULTS]\n"
		   "Model = veo-3.1-fast ; trailing comment\n"
		   "  seconds = 6\n", 0644);
	cr_assert_eq(LOAD(&c, .config_file = NULL), 0, "%s", err);
	cr_assert_str_eq(c.model, "veo-3.1-fast");
	cr_assert_eq(c.seconds, 6, "an indented line is a key, not a continuation");
	config_free(&c);
}

Test(config, long_line_is_an_error)
{
	struct config c;
	char text[1200];
	char want[PATH_MAX + 64];

	memset(text, 0, sizeof(text));
	strcpy(text, "[hooks]\non_complete = /");
	memset(text + strlen(text), 'a', 1000);
	strcat(text, "\n");
	write_file("etc/veofs.conf", text, 0644);
	snprintf(want, sizeof(want), "line too long");
	expect_error(LOAD(&c, .config_file = NULL), want);
	snprintf(want, sizeof(want), "%s:2", system_file);
	cr_assert_not_null(strstr(err, want), "%s", err);
	config_free(&c);
}

Test(config, missing_config_file_is_an_error)
{
	struct config c;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/nope.conf", tmpdir);
	expect_error(LOAD(&c, .config_file = path), path);
	cr_assert_not_null(strstr(err, "no such file"), "%s", err);
	config_free(&c);
}

Test(config, config_file_that_is_a_directory)
{
	struct config c;

	expect_error(LOAD(&c, .config_file = tmpdir), "not a regular file");
	config_free(&c);
}

Test(config, config_file_with_tilde)
{
	struct config c;

	write_file("home/my.conf", "[defaults]\nsize = 9x16\n", 0600);
	cr_assert_eq(LOAD(&c, .config_file = "~/my.conf"), 0, "%s", err);
	cr_assert_str_eq(c.size, "9x16");
	config_free(&c);
}

/* ---- -o mistakes ---- */

Test(config, unknown_option_key)
{
	struct config c;

	expect_error(LOAD(&c, OPTS({ "modle", "x" })), "unknown key 'modle' in -o modle");
	config_free(&c);
}

Test(config, api_key_option_is_refused)
{
	struct config c;

	expect_error(LOAD(&c, OPTS({ "api_key", "sk-secret-9999" })), "-o api_key");
	cr_assert_not_null(strstr(err, "VEOFS_API_KEY"), "%s", err);
	cr_assert_not_null(strstr(err, "api_key_file"), "%s", err);
	cr_assert_null(strstr(err, "sk-secret"), "the key must not be echoed: %s", err);
	config_free(&c);
	expect_error(LOAD(&c, OPTS({ "api.api_key", "sk-secret-9999" })), "-o api.api_key");
	config_free(&c);
}

/* ---- bad values, one per kind of key ---- */

struct bad_case {
	const char *key;
	const char *value;
	const char *expect;
};

Test(config, bad_values)
{
	static const struct bad_case cases[] = {
		{ "base_url", "ftp://x", "for api.base_url" },
		{ "base_url", "http://", "for api.base_url" },
		{ "base_url", "api.example.com", "for api.base_url" },
		{ "base_url", "http://a b", "for api.base_url" },
		{ "timeout", "0", "for api.timeout" },
		{ "timeout", "3601", "for api.timeout" },
		{ "timeout", "abc", "for api.timeout" },
		{ "timeout", "-5", "for api.timeout" },
		{ "timeout", "99999999999999999999", "for api.timeout" },
		{ "model", "", "for defaults.model" },
		{ "model", "two words", "for defaults.model" },
		{ "model", "tab\tbed", "for defaults.model" },
		{ "seconds", "5", "for defaults.seconds (4, 6, 8 or 12)" },
		{ "seconds", "8s", "for defaults.seconds" },
		{ "size", "10x10", "for defaults.size" },
		{ "size", "16:9", "for defaults.size" },
		{ "watermark", "maybe", "for defaults.watermark" },
		{ "interval", "0", "for poll.interval" },
		{ "poll.interval", "abc", "bad value 'abc' for poll.interval (a whole number of seconds" },
		{ "max_interval", "", "for poll.max_interval" },
		{ "state_dir", "", "for storage.state_dir" },
		{ "state_dir", "~bob/x", "for storage.state_dir" },
		{ "duration", "86401", "for sim.duration" },
		{ "dialect", "sora", "for sim.dialect (openai, newapi" },
		{ "progress", "fast", "for sim.progress (smooth, coarse or none)" },
		{ "jitter", "101", "for sim.jitter" },
		{ "log_level", "loud", "for general.log_level (error, warn, info or debug)" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config c;
		char origin[128];
		struct config_option o = { cases[i].key, cases[i].value };

		cr_assert_eq(LOAD(&c, .options = &o, .n_options = 1), -1,
			     "%s=%s was accepted", cases[i].key, cases[i].value);
		cr_assert_not_null(strstr(err, cases[i].expect),
				   "%s=%s: '%s' lacks '%s'", cases[i].key,
				   cases[i].value, err, cases[i].expect);
		snprintf(origin, sizeof(origin), "in -o %s", cases[i].key);
		cr_assert_not_null(strstr(err, origin), "'%s' lacks '%s'", err, origin);
		config_free(&c);
	}
}

Test(config, bad_value_in_file)
{
	struct config c;
	char want[PATH_MAX + 64];

	write_user_conf("[defaults]\nseconds = 10\n");
	snprintf(want, sizeof(want),
		 "bad value '10' for defaults.seconds (4, 6, 8 or 12) in %s/%s:2",
		 home, user_conf());
	expect_error(LOAD(&c, .config_file = NULL), want);
	config_free(&c);
}

Test(config, good_values)
{
	static const char *const bools[][2] = {
		{ "true", "1" }, { "yes", "1" }, { "1", "1" }, { "on", "1" },
		{ "false", "0" }, { "no", "0" }, { "0", "0" }, { "off", "0" },
		{ "TRUE", "1" },
	};
	static const char *const sizes[] = {
		"16x9", "9x16", "1280x720", "720x1280", "1024x1792", "1792x1024",
	};
	static const char *const secs[] = { "4", "6", "8", "12" };
	struct config c;

	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		struct config_option o = { "watermark", bools[i][0] };

		cr_assert_eq(LOAD(&c, .options = &o, .n_options = 1), 0, "%s", err);
		cr_assert_eq(c.watermark, bools[i][1][0] == '1', "%s", bools[i][0]);
		config_free(&c);
	}
	for (size_t i = 0; i < 6; i++) {
		struct config_option o = { "size", sizes[i] };

		cr_assert_eq(LOAD(&c, .options = &o, .n_options = 1), 0, "%s", err);
		cr_assert_str_eq(c.size, sizes[i]);
		config_free(&c);
	}
	for (size_t i = 0; i < 4; i++) {
		struct config_option o = { "seconds", secs[i] };

		cr_assert_eq(LOAD(&c, .options = &o, .n_options = 1), 0, "%s", err);
		cr_assert_eq(c.seconds, atoi(secs[i]));
		config_free(&c);
	}
	cr_assert_eq(LOAD(&c, OPTS({ "timeout", "1" }, { "duration", "0" },
				   { "log_level", "warn" })), 0, "%s", err);
	cr_assert_eq(c.timeout, 1);
	cr_assert_eq(c.sim_duration, 0);
	cr_assert_eq(c.log_level, LOG_LVL_WARN);
	config_free(&c);
}

Test(config, unknown_model_is_accepted)
{
	struct config c;

	cr_assert_eq(LOAD(&c, OPTS({ "model", "veo-4-preview" })), 0, "%s", err);
	cr_assert_str_eq(c.model, "veo-4-preview");
	config_free(&c);
}

Test(config, max_interval_below_interval)
{
	struct config c;

	write_user_conf("[poll]\ninterval = 30\n");
	expect_error(LOAD(&c, OPTS({ "max_interval", "10" })),
		     "poll.max_interval 10 (from -o max_interval) is less than poll.interval 30");
	config_free(&c);
	cr_assert_eq(LOAD(&c, OPTS({ "interval", "60" }, { "max_interval", "60" })), 0, "%s", err);
	config_free(&c);
}

Test(config, base_url_trailing_slashes_removed)
{
	struct config c;

	cr_assert_eq(LOAD(&c, OPTS({ "base_url", "https://api.example.com/v1///" })), 0, "%s", err);
	cr_assert_str_eq(c.base_url, "https://api.example.com/v1");
	config_free(&c);
}

Test(config, empty_hooks_mean_none)
{
	struct config c;

	write_user_conf("[hooks]\non_complete = /bin/true\non_failed = /bin/false\n");
	cr_assert_eq(LOAD(&c, OPTS({ "on_complete", "" })), 0, "%s", err);
	cr_assert_null(c.on_complete);
	cr_assert_str_eq(c.on_failed, "/bin/false");
	config_free(&c);
}

/* ---- the API key ---- */

Test(config, api_key_file_is_read_and_trimmed)
{
	struct config c;
	const char *path;

	path = write_file("key", "  sk-from-file-42 \t\r\nsecond line\n", 0600);
	cr_assert_eq(LOAD(&c, OPTS({ "api_key_file", path })), 0, "%s", err);
	cr_assert_str_eq(c.api_key, "sk-from-file-42");
	cr_assert_str_eq(c.api_key_file, path);
	config_free(&c);
}

Test(config, api_key_file_without_newline_and_tilde)
{
	struct config c;
	char want[PATH_MAX];

	write_file("home/.veo-key", "sk-tilde-77", 0600);
	write_user_conf("[api]\napi_key_file = ~/.veo-key\n");
	cr_assert_eq(LOAD(&c, .config_file = NULL), 0, "%s", err);
	cr_assert_str_eq(c.api_key, "sk-tilde-77");
	snprintf(want, sizeof(want), "%s/.veo-key", home);
	cr_assert_str_eq(c.api_key_file, want);
	config_free(&c);
}

Test(config, empty_api_key_file_is_an_error)
{
	struct config c;
	const char *path;
	char want[PATH_MAX + 64];

	path = write_file("empty-key", " \n\n", 0600);
	snprintf(want, sizeof(want), "api.api_key_file %s (set in -o api_key_file) is empty", path);
	expect_error(LOAD(&c, OPTS({ "api_key_file", path })), want);
	config_free(&c);
}

Test(config, unreadable_api_key_file_is_an_error)
{
	struct config c;
	const char *conf;
	char want[PATH_MAX + 64];

	conf = write_user_conf("[api]\n\napi_key_file = /nonexistent/veofs-key\n");
	snprintf(want, sizeof(want),
		 "cannot read api.api_key_file /nonexistent/veofs-key (set in %s:3)", conf);
	expect_error(LOAD(&c, .config_file = NULL), want);
	config_free(&c);
}

Test(config, environment_key_beats_key_file_from_a_file)
{
	struct config c;
	const char *path;
	char conf[PATH_MAX + 64];

	path = write_file("key", "sk-from-file-42\n", 0600);
	snprintf(conf, sizeof(conf), "[api]\napi_key_file = %s\n", path);
	write_user_conf(conf);
	cr_assert_eq(LOAD(&c, .env = { "VEOFS_API_KEY=sk-from-env-43" }), 0, "%s", err);
	cr_assert_str_eq(c.api_key, "sk-from-env-43");
	config_free(&c);
}

Test(config, key_file_option_beats_environment_key)
{
	struct config c;
	const char *path;

	path = write_file("key", "sk-from-file-42\n", 0600);
	cr_assert_eq(LOAD(&c, .env = { "VEOFS_API_KEY=sk-from-env-43" },
			  OPTS({ "api.api_key_file", path })), 0, "%s", err);
	cr_assert_str_eq(c.api_key, "sk-from-file-42");
	config_free(&c);
}

Test(config, api_key_in_config_file)
{
	struct config c;

	write_user_conf("[api]\napi_key = sk-in-conf-44\n");
	cr_assert_eq(LOAD(&c, .config_file = NULL), 0, "%s", err);
	cr_assert_str_eq(c.api_key, "sk-in-conf-44");
	config_free(&c);
}

Test(config, bad_api_key_is_not_echoed)
{
	struct config c;

	expect_error(LOAD(&c, .env = { "VEOFS_API_KEY=sk-with space" }),
		     "bad value for api.api_key");
	cr_assert_null(strstr(err, "sk-with"), "%s", err);
	config_free(&c);
}

/* Run fn with fd 2 going to a file; returns what was written (free it). */
static char *capture_stderr(void (*fn)(void))
{
	char path[PATH_MAX];
	int fd, saved;
	FILE *f;
	char *out;
	long n;

	snprintf(path, sizeof(path), "%s/stderr", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	saved = dup(2);
	dup2(fd, 2);
	fn();
	dup2(saved, 2);
	close(saved);
	close(fd);
	f = fopen(path, "r");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	out = calloc(1, (size_t)n + 1);
	cr_assert_eq(fread(out, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return out;
}

static void load_world_readable_key(void)
{
	struct config c;

	write_user_conf("[api]\napi_key = sk-in-conf-44\n");
	chmod(home, 0755);
	{
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s", home, user_conf());
		chmod(path, 0644);
	}
	cr_assert_eq(LOAD(&c, .config_file = NULL), 0, "%s", err);
	config_free(&c);
}

Test(config, readable_key_file_warns_without_the_key)
{
	char *out = capture_stderr(load_world_readable_key);

	cr_assert_not_null(strstr(out, "warn"), "no warning: '%s'", out);
	cr_assert_not_null(strstr(out, "chmod 600"), "%s", out);
	cr_assert_null(strstr(out, "sk-in-conf"), "%s", out);
	free(out);
}

static void load_unknown_model(void)
{
	struct config c;

	cr_assert_eq(LOAD(&c, OPTS({ "model", "veo-9" })), 0, "%s", err);
	config_free(&c);
}

Test(config, unknown_model_warns)
{
	char *out = capture_stderr(load_unknown_model);

	cr_assert_not_null(strstr(out, "unknown model 'veo-9' (from -o model)"), "'%s'", out);
	free(out);
}

static void load_with_env_key(void)
{
	struct config c;

	cr_assert_eq(LOAD(&c, .env = { "VEOFS_API_KEY=sk-logged-never-45" }), 0, "%s", err);
	log_error("request failed with key sk-logged-never-45");
	config_free(&c);
}

Test(config, loaded_key_is_redacted_from_logs)
{
	char *out = capture_stderr(load_with_env_key);

	cr_assert_null(strstr(out, "sk-logged"), "%s", out);
	cr_assert_not_null(strstr(out, "[redacted]"), "%s", out);
	free(out);
}

/* ---- loopback and the key check ---- */

Test(config, loopback_detection)
{
	static const char *const yes[] = {
		"http://127.0.0.1:8080/v1", "http://127.0.0.1/v1", "https://127.5.5.5/v1",
		"http://127.255.255.254:1", "http://localhost:9000/v1", "http://localhost",
		"HTTP://LOCALHOST/v1", "http://[::1]:8080/v1", "http://[::1]/",
		"http://user:pw@127.0.0.1:80/v1",
	};
	static const char *const no[] = {
		"http://128.0.0.1/v1", "http://localhost.evil.com/v1",
		"https://api.applerouter.ai/v1", "http://127.0.0.1.evil.com/",
		"http://evil.com/127.0.0.1", "http://127.0.0.1@evil.com/",
		"http://localhost:80@evil.com/", "ftp://127.0.0.1/", "http://[::2]/",
		"http://10.0.0.1/", "127.0.0.1", "", "http://[::1", "http://:80/",
	};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		cr_assert(config_url_is_loopback(yes[i]), "%s", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		cr_assert_not(config_url_is_loopback(no[i]), "%s", no[i]);
	cr_assert_not(config_url_is_loopback(NULL));
}

Test(config, check_api_key)
{
	struct config c;

	cr_assert_eq(LOAD(&c, .config_file = NULL), 0, "%s", err);
	err[0] = '\0';
	cr_assert_eq(config_check_api_key(&c, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "no API key for https://api.applerouter.ai/v1: set VEOFS_API_KEY, "
			 "or api.api_key_file in ~/.config/veofs/veofs.conf "
			 "(or use --simulate to try veofs without one)");
	config_free(&c);

	cr_assert_eq(LOAD(&c, OPTS({ "base_url", "http://127.0.0.1:4000/v1" })), 0, "%s", err);
	cr_assert_eq(config_check_api_key(&c, err, sizeof(err)), 0);
	config_free(&c);

	cr_assert_eq(LOAD(&c, .env = { "OPENAI_API_KEY=sk-openai-1234" }), 0, "%s", err);
	cr_assert_eq(config_check_api_key(&c, err, sizeof(err)), 0);
	config_free(&c);
}

/* ---- state directory ---- */

Test(config, state_dir_from_xdg_state_home)
{
	struct config c;

	cr_assert_eq(LOAD(&c, .env = { "XDG_STATE_HOME=/var/tmp/xdg-state/" }), 0, "%s", err);
	cr_assert_str_eq(c.state_dir, "/var/tmp/xdg-state/veofs");
	config_free(&c);
}

Test(config, relative_xdg_state_home_is_ignored)
{
	struct config c;
	char want[PATH_MAX];

	cr_assert_eq(LOAD(&c, .env = { "XDG_STATE_HOME=rel" }), 0, "%s", err);
	snprintf(want, sizeof(want), "%s/.local/state/veofs", home);
	cr_assert_str_eq(c.state_dir, want);
	config_free(&c);
}

Test(config, simulate_state_dir_default)
{
	struct config c;
	char want[PATH_MAX];

	cr_assert_eq(LOAD(&c, .simulate = true), 0, "%s", err);
	snprintf(want, sizeof(want), "%s/.local/state/veofs-sim", home);
	cr_assert_str_eq(c.state_dir, want);
	config_free(&c);
	cr_assert_eq(LOAD(&c, .simulate = true,
			  .env = { "XDG_STATE_HOME=/var/tmp/st" }), 0, "%s", err);
	cr_assert_str_eq(c.state_dir, "/var/tmp/st/veofs-sim");
	config_free(&c);
	cr_assert_eq(LOAD(&c, .simulate = true, OPTS({ "state_dir", "/srv/x" })), 0, "%s", err);
	cr_assert_str_eq(c.state_dir, "/srv/x", "an explicit state_dir is kept");
	config_free(&c);
}

Test(config, state_dir_tilde_expansion)
{
	struct config c;
	char want[PATH_MAX];

	cr_assert_eq(LOAD(&c, OPTS({ "state_dir", "~/veo/state/" })), 0, "%s", err);
	snprintf(want, sizeof(want), "%s/veo/state", home);
	cr_assert_str_eq(c.state_dir, want);
	config_free(&c);
	cr_assert_eq(LOAD(&c, OPTS({ "state_dir", "~" })), 0, "%s", err);
	cr_assert_str_eq(c.state_dir, home);
	config_free(&c);
}

Test(config, relative_state_dir_is_made_absolute)
{
	struct config c;
	char want[PATH_MAX], cwd[256];

	cr_assert_eq(chdir(tmpdir), 0);
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	cr_assert_eq(LOAD(&c, OPTS({ "state_dir", "rel/dir" }, { "on_complete", "./hook" })), 0,
		     "%s", err);
	snprintf(want, sizeof(want), "%s/rel/dir", cwd);
	cr_assert_str_eq(c.state_dir, want);
	snprintf(want, sizeof(want), "%s/./hook", cwd);
	cr_assert_str_eq(c.on_complete, want);
	config_free(&c);
}

Test(config, no_home_and_no_xdg_state)
{
	struct config c;

	expect_error(LOAD(&c, .no_home = true), "cannot choose a state directory");
	config_free(&c);
	cr_assert_eq(LOAD(&c, .no_home = true, OPTS({ "state_dir", "/srv/x" })), 0, "%s", err);
	config_free(&c);
}

/* ---- the documented example ---- */

static char *read_example(void)
{
	const char *root = getenv("VEOFS_SOURCE_ROOT");
	char path[PATH_MAX];
	FILE *f;
	char *text;
	long n;

	if (!root || !*root)
		return NULL;
	snprintf(path, sizeof(path), "%s/conf/veofs.conf", root);
	f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	cr_assert_eq(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return text;
}

Test(config, example_parses_cleanly)
{
	struct config c;
	char *text = read_example();

	if (!text)
		cr_skip_test("VEOFS_SOURCE_ROOT is not set");
	write_file("example.conf", text, 0600);
	{
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/example.conf", tmpdir);
		cr_assert_eq(LOAD(&c, .config_file = path), 0, "%s", err);
	}
	config_free(&c);
	free(text);
}

/* With every ";key = value" line uncommented, the example must still load
 * and give exactly the built-in defaults: the documentation cannot drift. */
Test(config, example_documents_the_defaults)
{
	struct config c, d;
	char *text = read_example();
	char path[PATH_MAX];
	size_t keys = 0;

	if (!text)
		cr_skip_test("VEOFS_SOURCE_ROOT is not set");
	for (char *line = text; *line; ) {
		char *nl = strchr(line, '\n');

		if (line[0] == ';' && line[1] >= 'a' && line[1] <= 'z' && strchr(line, '=') &&
		    (!nl || strchr(line, '=') < nl)) {
			line[0] = ' ';
			keys++;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	cr_assert_eq(keys, 26, "the example should show all 26 keys, shows %zu", keys);
	write_file("example.conf", text, 0600);
	snprintf(path, sizeof(path), "%s/example.conf", tmpdir);
	cr_assert_eq(LOAD(&c, .config_file = path), 0, "%s", err);
	cr_assert_eq(LOAD(&d, .config_file = NULL), 0, "%s", err);
	cr_assert_str_eq(c.base_url, d.base_url);
	cr_assert_eq(c.api_key, NULL);
	cr_assert_eq(c.api_key_file, NULL);
	cr_assert_eq(c.timeout, d.timeout);
	cr_assert_eq(c.min_download_rate, d.min_download_rate);
	cr_assert_eq(c.max_video_bytes, d.max_video_bytes);
	cr_assert_str_eq(c.model, d.model);
	cr_assert_eq(c.seconds, d.seconds);
	cr_assert_str_eq(c.size, d.size);
	cr_assert_eq(c.watermark, d.watermark);
	cr_assert_eq(c.poll_interval, d.poll_interval);
	cr_assert_eq(c.poll_max_interval, d.poll_max_interval);
	cr_assert_str_eq(c.state_dir, d.state_dir);
	cr_assert_eq(c.sim_duration, d.sim_duration);
	cr_assert_str_eq(c.sim_chat_style, d.sim_chat_style);
	cr_assert_eq(c.chat_silence_limit, d.chat_silence_limit);
	cr_assert_eq(c.chat_total_limit, d.chat_total_limit);
	cr_assert_eq(c.log_level, d.log_level);
	cr_assert_null(c.on_complete);
	cr_assert_null(c.on_failed);
	config_free(&c);
	config_free(&d);
	free(text);
}

/* What a provider can make veofs hold or wait on is bounded by these. */
Test(config, download_bounds)
{
	struct config c;

	cr_assert_eq(LOAD(&c, .config_file = NULL), 0, "%s", err);
	cr_assert_eq(c.min_download_rate, 1024);
	cr_assert_eq(c.max_video_bytes, 4LL << 30);
	config_free(&c);
	cr_assert_eq(LOAD(&c, OPTS({ "max_video_bytes", "512M" },
				   { "min_download_rate", "0" })), 0, "%s", err);
	cr_assert_eq(c.max_video_bytes, 512LL << 20);
	cr_assert_eq(c.min_download_rate, 0);
	config_free(&c);
	cr_assert_eq(LOAD(&c, OPTS({ "api.max_video_bytes", "1048576" })), 0, "%s", err);
	cr_assert_eq(c.max_video_bytes, 1048576);
	config_free(&c);
	expect_error(LOAD(&c, OPTS({ "max_video_bytes", "10" })), "api.max_video_bytes");
	expect_error(LOAD(&c, OPTS({ "max_video_bytes", "2T" })), "api.max_video_bytes");
	expect_error(LOAD(&c, OPTS({ "max_video_bytes", "4GB" })), "api.max_video_bytes");
	expect_error(LOAD(&c, OPTS({ "min_download_rate", "-1" })), "api.min_download_rate");
}
