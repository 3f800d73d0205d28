#include "cli.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_usage(const char *prog)
{
	printf("usage: %s [options] MOUNTPOINT\n"
	       "\n"
	       "Mount an OpenAI-compatible video-generation API as a directory:\n"
	       "write NAME.prompt into MOUNTPOINT/new/ and the video appears in\n"
	       "MOUNTPOINT/NAME/video.mp4.\n"
	       "\n"
	       "options:\n"
	       "    -f                   stay in the foreground\n"
	       "    -d                   debug log (implies -f)\n"
	       "    -o KEY=VALUE,...     a configuration key (e.g. model=veo-3.1-fast,\n"
	       "                         state_dir=DIR, base_url=URL, interval=5) or a\n"
	       "                         FUSE option (allow_other, auto_unmount, ...)\n"
	       "    -o config=FILE       read this configuration file too\n"
	       "    -o uid=N,gid=N       owner and group shown for what no user's prompt made\n"
	       "    -o umask=NNN         bits masked from task folders and files (022)\n"
	       "    --simulate           use the built-in simulator on 127.0.0.1 (no API key)\n"
	       "    -h, --help           this help\n"
	       "    -V, --version        the version\n"
	       "\n"
	       "The API key comes from VEOFS_API_KEY (or OPENAI_API_KEY) or api.api_key_file;\n"
	       "never pass it with -o. Configuration: /etc/veofs/veofs.conf and\n"
	       "~/.config/veofs/veofs.conf; see veofs.conf(5) and conf/veofs.conf.\n",
	       prog);
}

bool cli_is_fstab_only(const char *opt)
{
	static const char *const names[] = {"_netdev", "nofail", "auto", "noauto",
					    "user", "users", "defaults", NULL};

	if (!strncmp(opt, "x-", 2) || !strncmp(opt, "comment=", 8))
		return true;
	for (int i = 0; names[i]; i++)
		if (!strcmp(opt, names[i]))
			return true;
	return false;
}

/* Mount options libfuse and the kernel understand. Anything else in -o is
 * a typo of ours to report, not something to hand to FUSE. */
bool cli_is_fuse_opt(const char *key)
{
	static const char *const names[] = {
		"allow_other", "allow_root", "auto_unmount", "default_permissions",
		"fsname", "subtype", "max_read", "blkdev", "blksize", "debug",
		"ro", "rw", "suid", "nosuid", "dev", "nodev", "exec", "noexec",
		"async", "sync", "dirsync", "atime", "noatime", "relatime",
		"norelatime", "strictatime", "nostrictatime", "lazytime", "nolazytime",
		"context", "fscontext", "defcontext", "rootcontext", "clone_fd",
		"max_idle_threads", "max_threads", NULL};

	for (int i = 0; names[i]; i++)
		if (!strcmp(key, names[i]))
			return true;
	return false;
}

static int add_fuse_opt(struct cli *c, const char *opt)
{
	size_t old = c->fuse_opts ? strlen(c->fuse_opts) : 0;
	char *p = realloc(c->fuse_opts, old + strlen(opt) + 2);

	if (!p)
		return -1;
	if (old)
		p[old++] = ',';
	strcpy(p + old, opt);
	c->fuse_opts = p;
	return 0;
}

/* uid=N, gid=N (decimal ids) and umask=NNN (octal), as sshfs takes them. */
static int take_owner_opt(struct cli *c, const char *key, const char *value, char *err,
			  size_t errlen)
{
	bool is_umask = !strcmp(key, "umask");
	unsigned long long v;
	char *end;

	if (!value || !*value || *value == '-' || *value == '+') {
		snprintf(err, errlen, "-o %s needs a value: -o %s=%s", key, key,
			 is_umask ? "022" : "1000");
		return -1;
	}
	errno = 0;
	v = strtoull(value, &end, is_umask ? 8 : 10);
	if (errno || *end || (is_umask ? v > 0777 : v >= 0xffffffffULL)) {
		snprintf(err, errlen, "-o %s=%s: %s", key, value,
			 is_umask ? "not an octal mode (000 to 777)" : "not a numeric id");
		return -1;
	}
	if (is_umask)
		c->umask = (long long)v;
	else if (!strcmp(key, "uid"))
		c->uid = (long long)v;
	else
		c->gid = (long long)v;
	return 0;
}

/* Split one -o argument into its comma-separated items. */
static int take_opts(struct cli *c, char *list, char *err, size_t errlen)
{
	char *save = NULL;

	for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		char key[128];
		size_t klen = eq ? (size_t)(eq - item) : strlen(item);

		if (!*item || cli_is_fstab_only(item))
			continue;
		snprintf(key, sizeof(key), "%.*s", (int)(klen < sizeof(key) ? klen : sizeof(key) - 1), item);
		if (!strcmp(key, "uid") || !strcmp(key, "gid") || !strcmp(key, "umask")) {
			if (take_owner_opt(c, key, eq ? eq + 1 : NULL, err, errlen) < 0)
				return -1;
			continue;
		}
		if (!strcmp(key, "allow_other"))
			c->allow_other = true;
		if (!strcmp(key, "config")) {
			if (!eq || !eq[1]) {
				snprintf(err, errlen, "-o config needs a file: -o config=FILE");
				return -1;
			}
			c->config_file = eq + 1;
			continue;
		}
		if (config_is_key(key)) {
			struct config_option *p = realloc(c->options, (c->n_options + 1) * sizeof(*p));
			if (!p) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			c->options = p;
			if (eq)
				*eq = '\0';
			p[c->n_options].key = item;
			p[c->n_options].value = eq ? eq + 1 : NULL;
			c->n_options++;
			continue;
		}
		if (!cli_is_fuse_opt(key)) {
			snprintf(err, errlen, "unknown option '%s' in -o: not a configuration key "
				 "(see veofs.conf(5)) nor a FUSE mount option", key);
			return -1;
		}
		if (add_fuse_opt(c, item) < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

int cli_parse(struct cli *c, int argc, char **argv, char *err, size_t errlen)
{
	size_t total = 0;
	const char *source = NULL, *base;
	bool as_helper;
	char *p;

	memset(c, 0, sizeof(*c));
	c->uid = c->gid = c->umask = -1;
	/* -o values are split in place, so keep our own copy of argv's text. */
	for (int i = 1; i < argc; i++)
		total += strlen(argv[i]) + 1;
	c->storage = malloc(total + 1);
	if (!c->storage) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	p = c->storage;
	/* Called by mount(8) as mount.veofs or mount.fuse.veofs, whose own
	 * flags come after the mount point: -n (no mtab), -v (verbose), -s
	 * (sloppy), -N NS (namespace), and -f, which means "fake": do nothing. */
	base = argc > 0 ? strrchr(argv[0], '/') : NULL;
	base = base ? base + 1 : argc > 0 ? argv[0] : "";
	as_helper = !strncmp(base, "mount.", 6);
	for (int i = 1; i < argc; i++) {
		char *arg = strcpy(p, argv[i]);
		p += strlen(argv[i]) + 1;

		if (as_helper && (!strcmp(arg, "-n") || !strcmp(arg, "-v") || !strcmp(arg, "-s")))
			continue;
		if (as_helper && !strcmp(arg, "-N")) {
			i++;
			continue;
		}
		if (as_helper && !strcmp(arg, "-f")) {
			c->fake = true;
			continue;
		}

		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			c->help = true;
		} else if (!strcmp(arg, "-V") || !strcmp(arg, "--version")) {
			c->version = true;
		} else if (!strcmp(arg, "-f")) {
			c->foreground = true;
		} else if (!strcmp(arg, "-d") || !strcmp(arg, "--debug")) {
			c->debug = true;
			c->foreground = true;
		} else if (!strcmp(arg, "-s")) {
			/* single-threaded FUSE loop: accepted for habit, ignored */
		} else if (!strcmp(arg, "--simulate")) {
			c->simulate = true;
		} else if (!strcmp(arg, "-o") || !strncmp(arg, "-o", 2)) {
			char *list = arg + 2;
			if (!*list) {
				if (++i >= argc) {
					snprintf(err, errlen, "-o needs an argument");
					return -1;
				}
				list = strcpy(p, argv[i]);
				p += strlen(argv[i]) + 1;
			}
			if (take_opts(c, list, err, errlen) < 0)
				return -1;
		} else if (arg[0] == '-' && arg[1]) {
			snprintf(err, errlen, "unknown option '%s' (see --help)", arg);
			return -1;
		} else if (!c->mountpoint) {
			c->mountpoint = arg;
		} else if (!source) {
			/* mount.fuse3 passes the fstab "device" before the
			 * mount point; veofs needs none. */
			source = c->mountpoint;
			c->mountpoint = arg;
		} else {
			snprintf(err, errlen, "too many arguments ('%s')", arg);
			return -1;
		}
	}
	if (!c->mountpoint && !c->help && !c->version) {
		snprintf(err, errlen, "no mount point given (see --help)");
		return -1;
	}
	return 0;
}

void cli_free(struct cli *c)
{
	free(c->options);
	free(c->fuse_opts);
	free(c->storage);
	memset(c, 0, sizeof(*c));
}
