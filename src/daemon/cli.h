/* The veofs command line: our options, configuration -o keys, and the FUSE
 * options passed through. Kept apart from main() so it can be tested. */
#ifndef VEOFS_CLI_H
#define VEOFS_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct cli {
	bool foreground;
	bool debug;
	bool simulate;
	bool help;
	bool version;
	bool fake;           /* mount(8)'s -f: check the arguments, mount nothing */
	const char *mountpoint;
	const char *config_file;
	struct config_option *options;   /* configuration -o keys, in order */
	size_t n_options;
	char *fuse_opts;                 /* comma-joined -o options for FUSE */
	/* -o uid=N, gid=N, umask=NNN (as in sshfs): the owner and group shown
	 * for what no writer owns, and the bits masked from task folders and
	 * files; -1 when not given. */
	long long uid, gid, umask;
	bool allow_other;                /* -o allow_other: a shared mount */
	char *storage;                   /* owns the strings above */
};

/* 0, or -1 with a message in err (exit status 2). */
int cli_parse(struct cli *c, int argc, char **argv, char *err, size_t errlen);
void cli_free(struct cli *c);
void cli_usage(const char *prog);

/* fstab and mount(8) add options that mean nothing to us or to FUSE. */
bool cli_is_fstab_only(const char *opt);
/* Options passed through to FUSE and the kernel (allow_other, ...). */
bool cli_is_fuse_opt(const char *key);

#endif
