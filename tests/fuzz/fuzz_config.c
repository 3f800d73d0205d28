/* Configuration files are written by hand, so any bytes may reach the INI
 * reader. The input is the file given with -o config=FILE; when it holds
 * two NUL bytes in a row, what follows them is a NUL-separated list of
 * -o KEY=VALUE items. The environment is a fake one pointing HOME at an
 * empty directory, so no real configuration is read. */
#include "fuzz.h"
#include "config.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_OPTIONS 16

static char scratch_dir[] = "/tmp/veofs-fuzz-config-XXXXXX";
static char config_path[sizeof(scratch_dir) + 16];
static char missing_path[sizeof(scratch_dir) + 16];
static char home_var[sizeof(scratch_dir) + 8];
static char *fake_environ[] = { home_var, "PATH=/usr/bin:/bin", NULL };

static void remove_scratch(void)
{
	unlink(config_path);
	rmdir(scratch_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(LOG_LVL_ERROR, 0);
	if (!mkdtemp(scratch_dir)) {
		perror("mkdtemp");
		abort();
	}
	snprintf(config_path, sizeof(config_path), "%s/fuzz.conf", scratch_dir);
	snprintf(missing_path, sizeof(missing_path), "%s/none.conf", scratch_dir);
	snprintf(home_var, sizeof(home_var), "HOME=%s", scratch_dir);
	atexit(remove_scratch);
	return 0;
}

static void write_config(const uint8_t *data, size_t size)
{
	FILE *f = fopen(config_path, "w");

	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
		perror(config_path);
		abort();
	}
}

/* Splits "KEY=VALUE\0KEY=VALUE..." in place; items without '=' stand for
 * a key given with no value, as cli_parse passes them. */
static size_t split_options(char *s, size_t len, struct config_option *opts)
{
	size_t n = 0;
	char *p = s, *end = s + len;

	while (p < end && n < MAX_OPTIONS) {
		size_t l = strlen(p);
		char *eq = strchr(p, '=');

		if (l) {
			if (eq)
				*eq = '\0';
			opts[n].key = p;
			opts[n].value = eq ? eq + 1 : NULL;
			n++;
		}
		p += l + 1;
	}
	return n;
}

static void check_config(const struct config *c)
{
	if (!c->base_url || strncasecmp(c->base_url, "http", 4))
		abort();
	if (!c->state_dir || c->state_dir[0] != '/')
		abort();
	if (c->seconds != 4 && c->seconds != 6 && c->seconds != 8 && c->seconds != 12)
		abort();
	if (c->timeout < 1 || c->timeout > 3600)
		abort();
	if (c->poll_interval < 1 || c->poll_max_interval < c->poll_interval)
		abort();
	if (c->log_level < LOG_LVL_ERROR || c->log_level > LOG_LVL_DEBUG)
		abort();
	if (!c->model || !c->size)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_option opts[MAX_OPTIONS];
	struct config_sources src = {
		.config_file = config_path,
		.system_file = missing_path,
		.environ = fake_environ,
	};
	struct config c;
	char err[512] = "";
	char *copy = fuzz_strndup(data, size);
	const uint8_t *sep = NULL;
	size_t file_len = size;

	for (size_t i = 0; i + 1 < size; i++) {
		if (data[i] == 0 && data[i + 1] == 0) {
			sep = data + i;
			break;
		}
	}
	if (sep) {
		file_len = (size_t)(sep - data);
		src.n_options = split_options(copy + file_len + 2,
					      size - file_len - 2, opts);
		src.options = opts;
	}
	src.simulate = size & 1;
	write_config(data, file_len);
	if (config_load(&c, &src, err, sizeof(err)) == 0) {
		check_config(&c);
		config_check_api_key(&c, err, sizeof(err));
		config_url_is_loopback(c.base_url);
		config_free(&c);
	} else if (!err[0]) {
		abort();
	}
	config_is_key(copy);
	free(copy);
	return 0;
}
