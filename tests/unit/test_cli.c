#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"


static struct cli c;
static char err[512];

static int parse_n(int argc, char **argv)
{
	err[0] = '\0';
	return cli_parse(&c, argc, argv, err, sizeof(err));
}

#define PARSE(...)                                                   \
	({                                                           \
		char *v_[] = { "veofs", __VA_ARGS__, NULL };         \
		parse_n((int)(sizeof(v_) / sizeof(v_[0])) - 1, v_);  \
	})

static void teardown(void)
{
	cli_free(&c);
}

TestSuite(cli, .fini = teardown);

static const char *opt_value(const char *key)
{
	for (size_t i = 0; i < c.n_options; i++)
		if (!strcmp(c.options[i].key, key))
			return c.options[i].value ? c.options[i].value : "(null)";
	return NULL;
}

Test(cli, mount_point_only)
{
	cr_assert_eq(PARSE("/mnt/veo"), 0, "%s", err);
	cr_assert_str_eq(c.mountpoint, "/mnt/veo");
	cr_assert_not(c.foreground);
	cr_assert_not(c.debug);
	cr_assert_not(c.simulate);
	cr_assert_eq(c.n_options, 0);
	cr_assert_null(c.fuse_opts);
	cr_assert_null(c.config_file);
}

Test(cli, foreground_and_debug)
{
	cr_assert_eq(PARSE("-f", "/mnt/veo"), 0, "%s", err);
	cr_assert(c.foreground);
	cr_assert_not(c.debug);
	cli_free(&c);

	cr_assert_eq(PARSE("/mnt/veo", "-d"), 0, "%s", err);
	cr_assert(c.debug);
	cr_assert(c.foreground, "-d implies -f");
	cli_free(&c);

	cr_assert_eq(PARSE("--simulate", "-s", "/mnt/veo"), 0, "%s", err);
	cr_assert(c.simulate);
}

Test(cli, o_list_is_split_into_keys_fuse_options_and_config)
{
	cr_assert_eq(PARSE("-o", "model=veo-3.1-fast,allow_other,config=/etc/x.conf,"
			   "defaults.seconds=4,auto_unmount,interval=2", "/mnt/veo"), 0, "%s", err);
	cr_assert_eq(c.n_options, 3);
	cr_assert_str_eq(c.options[0].key, "model");
	cr_assert_str_eq(c.options[0].value, "veo-3.1-fast");
	cr_assert_str_eq(c.options[1].key, "defaults.seconds");
	cr_assert_str_eq(c.options[1].value, "4");
	cr_assert_str_eq(c.options[2].key, "interval");
	cr_assert_str_eq(c.options[2].value, "2");
	cr_assert_str_eq(c.fuse_opts, "allow_other,auto_unmount");
	cr_assert_str_eq(c.config_file, "/etc/x.conf");
}

Test(cli, several_o_options_keep_their_order)
{
	cr_assert_eq(PARSE("-o", "model=veo-3.1", "-oro", "/mnt/veo", "-o",
			   "model=veo-3.1-fast,state_dir=/tmp/s"), 0, "%s", err);
	cr_assert_eq(c.n_options, 3);
	cr_assert_str_eq(c.options[0].value, "veo-3.1");
	cr_assert_str_eq(c.options[1].value, "veo-3.1-fast", "the later -o must come later");
	cr_assert_str_eq(opt_value("state_dir"), "/tmp/s");
	cr_assert_str_eq(c.fuse_opts, "ro");
}

Test(cli, values_may_hold_equals_signs)
{
	cr_assert_eq(PARSE("-o", "base_url=http://127.0.0.1:8080/v1?a=b", "/mnt/veo"), 0, "%s", err);
	cr_assert_str_eq(opt_value("base_url"), "http://127.0.0.1:8080/v1?a=b");
}

Test(cli, fstab_only_options_are_dropped)
{
	cr_assert_eq(PARSE("-o", "_netdev,nofail,auto,noauto,user,users,defaults,"
			   "x-systemd.automount,x-gvfs-show,comment=x-gvfs,allow_other",
			   "/mnt/veo"), 0, "%s", err);
	cr_assert_str_eq(c.fuse_opts, "allow_other");
	cr_assert_eq(c.n_options, 0);

	cr_assert(cli_is_fstab_only("_netdev"));
	cr_assert(cli_is_fstab_only("x-anything"));
	cr_assert(cli_is_fstab_only("nofail"));
	cr_assert_not(cli_is_fstab_only("allow_other"));
	cr_assert_not(cli_is_fstab_only("auto_unmount"));
	cr_assert_not(cli_is_fstab_only("ro"));
}

Test(cli, mount_fuse3_passes_source_then_mount_point)
{
	/* mount.fuse3 runs: veofs SOURCE MOUNTPOINT -o OPTIONS */
	cr_assert_eq(PARSE("veofs", "/mnt/veo", "-o",
			   "rw,config=/etc/veofs/veofs.conf,_netdev,nofail,dev,suid"), 0, "%s", err);
	cr_assert_str_eq(c.mountpoint, "/mnt/veo");
	cr_assert_str_eq(c.config_file, "/etc/veofs/veofs.conf");
	cr_assert_null(strstr(c.fuse_opts ? c.fuse_opts : "", "_netdev"));
	cr_assert_null(strstr(c.fuse_opts ? c.fuse_opts : "", "nofail"));
}

Test(cli, api_key_is_a_config_key_never_a_fuse_option)
{
	/* config_load refuses it with a pointer to VEOFS_API_KEY; it must
	 * never be handed to FUSE (where it would end up in mtab). */
	cr_assert_eq(PARSE("-o", "api_key=sk-secret", "/mnt/veo"), 0, "%s", err);
	cr_assert_null(c.fuse_opts);
	cr_assert_str_eq(opt_value("api_key"), "sk-secret");
}

Test(cli, argv_is_not_modified)
{
	char list[] = "model=veo-3.1,allow_other";
	char *v[] = { "veofs", "-o", list, "/mnt/veo", NULL };

	cr_assert_eq(parse_n(4, v), 0, "%s", err);
	cr_assert_str_eq(list, "model=veo-3.1,allow_other", "argv text was split in place");
}

Test(cli, empty_items_are_skipped)
{
	cr_assert_eq(PARSE("-o", ",,allow_other,,", "/mnt/veo"), 0, "%s", err);
	cr_assert_str_eq(c.fuse_opts, "allow_other");
}

Test(cli, unknown_option_is_an_error)
{
	cr_assert_eq(PARSE("--bogus", "/mnt/veo"), -1);
	cr_assert(strstr(err, "--bogus"), "err: %s", err);
	cli_free(&c);
	cr_assert_eq(PARSE("-x", "/mnt/veo"), -1);
	cr_assert(strstr(err, "-x"), "err: %s", err);
}

Test(cli, missing_mount_point_is_an_error)
{
	cr_assert_eq(PARSE("-f"), -1);
	cr_assert(strstr(err, "mount point"), "err: %s", err);
	cli_free(&c);
	cr_assert_eq(PARSE("-o", "model=veo-3.1"), -1);
	cr_assert(strstr(err, "mount point"), "err: %s", err);
	cli_free(&c);
	char *v[] = { "veofs", NULL };
	cr_assert_eq(parse_n(1, v), -1);
	cr_assert(strstr(err, "mount point"), "err: %s", err);
}

Test(cli, help_and_version_need_no_mount_point)
{
	cr_assert_eq(PARSE("--help"), 0, "%s", err);
	cr_assert(c.help);
	cli_free(&c);
	cr_assert_eq(PARSE("-h"), 0, "%s", err);
	cr_assert(c.help);
	cli_free(&c);
	cr_assert_eq(PARSE("-V"), 0, "%s", err);
	cr_assert(c.version);
	cli_free(&c);
	cr_assert_eq(PARSE("--version"), 0, "%s", err);
	cr_assert(c.version);
}

Test(cli, o_without_a_list_is_an_error)
{
	cr_assert_eq(PARSE("/mnt/veo", "-o"), -1);
	cr_assert(strstr(err, "-o"), "err: %s", err);
}

Test(cli, config_without_a_file_is_an_error)
{
	cr_assert_eq(PARSE("-o", "config=", "/mnt/veo"), -1);
	cr_assert(strstr(err, "config"), "err: %s", err);
	cli_free(&c);
	cr_assert_eq(PARSE("-o", "config", "/mnt/veo"), -1);
}

Test(cli, too_many_arguments_is_an_error)
{
	cr_assert_eq(PARSE("a", "b", "c"), -1);
	cr_assert(strstr(err, "'c'"), "err: %s", err);
}

Test(cli, free_twice_is_safe)
{
	cr_assert_eq(PARSE("-o", "model=veo-3.1,ro", "/mnt/veo"), 0);
	cli_free(&c);
	cli_free(&c);
}

/* A typo in -o must be reported as ours, naming it, not handed to FUSE. */
Test(cli, unknown_o_key_is_an_error_naming_it)
{
	cr_assert_eq(PARSE("-o", "modle=veo-3.1", "/mnt/veo"), -1);
	cr_assert(strstr(err, "modle"), "err: %s", err);
	cli_free(&c);
	cr_assert_eq(PARSE("-o", "allow_other,auto_unmount,nosuid,ro", "/mnt/veo"), 0, "%s", err);
	cr_assert_str_eq(c.fuse_opts, "allow_other,auto_unmount,nosuid,ro");
}

/* mount(8) runs mount.veofs SOURCE DIR [-sfnv] [-N NS] -o OPTS. */
Test(cli, mount_helper_flags_are_understood)
{
	char *v[] = {"/sbin/mount.fuse.veofs", "veofs", "/mnt/veo", "-n", "-v", "-s",
		     "-N", "/proc/1/ns/mnt", "-o", "rw,config=/etc/veofs/veofs.conf", NULL};

	cr_assert_eq(parse_n(10, v), 0, "%s", err);
	cr_assert_str_eq(c.mountpoint, "/mnt/veo");
	cr_assert_str_eq(c.config_file, "/etc/veofs/veofs.conf");
	cr_assert_not(c.foreground);
	cr_assert_not(c.fake);
	cli_free(&c);
	char *f[] = {"mount.veofs", "veofs", "/mnt/veo", "-f", NULL};
	cr_assert_eq(parse_n(4, f), 0, "%s", err);
	cr_assert(c.fake, "-f from mount(8) means fake");
	cr_assert_not(c.foreground);
}
