/* The command line comes from users, fstab and mount(8). The input is split
 * into arguments at NUL bytes and newlines (a corpus file is one argument
 * per line); argv[0] is always "veofs". */
#include "fuzz.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 64

static void check_cli(const struct cli *c)
{
	if (!c->mountpoint && !c->help && !c->version)
		abort();
	for (size_t i = 0; i < c->n_options; i++) {
		if (!c->options[i].key || !config_is_key(c->options[i].key))
			abort();
	}
	/* what reaches FUSE must be FUSE's */
	if (c->fuse_opts) {
		char *copy = strdup(c->fuse_opts), *save = NULL;

		if (!copy)
			abort();
		for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(o, '=');

			if (eq)
				*eq = '\0';
			if (!cli_is_fuse_opt(o))
				abort();
		}
		free(copy);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_strndup(data, size);
	char *argv[MAX_ARGS + 2];
	char *before[MAX_ARGS + 2];
	int argc = 1;
	struct cli c;
	char err[512] = "";
	size_t start = 0;

	argv[0] = "veofs";
	for (size_t i = 0; i <= size && argc <= MAX_ARGS; i++) {
		if (i == size || buf[i] == '\0' || buf[i] == '\n') {
			buf[i] = '\0';
			argv[argc++] = buf + start;
			start = i + 1;
		}
	}
	argv[argc] = NULL;
	for (int i = 0; i < argc; i++)
		before[i] = strdup(argv[i]);
	if (cli_parse(&c, argc, argv, err, sizeof(err)) == 0)
		check_cli(&c);
	else if (!err[0])
		abort();
	/* argv is the caller's: parsing must leave it as it was */
	for (int i = 0; i < argc; i++) {
		if (strcmp(before[i], argv[i]))
			abort();
		free(before[i]);
	}
	cli_free(&c);
	cli_is_fstab_only(buf);
	free(buf);
	return 0;
}
