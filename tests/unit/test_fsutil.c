#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_support.h"
#include "fsutil.h"

static char *dir;
static int dfd = -1;

static void setup(void)
{
	dir = test_tmpdir();
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(dfd, 0);
}

static void teardown(void)
{
	close(dfd);
	test_tmpdir_remove(dir);
}

static int count_entries(int fd)
{
	int n = 0, d = dup(fd);
	DIR *dp = fdopendir(d);
	struct dirent *de;

	rewinddir(dp);
	while ((de = readdir(dp)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(dp);
	return n;
}

TestSuite(fsutil, .init = setup, .fini = teardown);

Test(fsutil, write_atomic_creates_and_replaces_without_leftovers)
{
	char err[256] = "", *text;
	size_t len;

	cr_assert_eq(fs_write_atomic(dfd, "record.json", "first", 5, err, sizeof(err)), 0);
	cr_assert_eq(fs_read_all(dfd, "record.json", 100, &text, &len), 0);
	cr_assert_eq(len, 5);
	cr_assert_str_eq(text, "first");
	free(text);

	cr_assert_eq(fs_write_atomic(dfd, "record.json", "2nd", 3, err, sizeof(err)), 0);
	cr_assert_eq(fs_read_all(dfd, "record.json", 100, &text, &len), 0);
	cr_assert_str_eq(text, "2nd");
	free(text);
	cr_assert_eq(count_entries(dfd), 1, "a temporary was left behind");

	cr_assert_eq(fs_write_replace(dfd, "task.json", "{}", 2, err, sizeof(err)), 0);
	cr_assert_eq(fs_read_all(dfd, "task.json", 100, &text, &len), 0);
	cr_assert_str_eq(text, "{}");
	free(text);
	cr_assert_eq(count_entries(dfd), 2);
}

Test(fsutil, write_atomic_empty_file)
{
	char err[256], *text;
	size_t len = 99;

	cr_assert_eq(fs_write_atomic(dfd, "empty", "", 0, err, sizeof(err)), 0);
	cr_assert_eq(fs_read_all(dfd, "empty", 10, &text, &len), 0);
	cr_assert_eq(len, 0);
	cr_assert_str_eq(text, "");
	free(text);
}

Test(fsutil, write_atomic_reports_a_reason)
{
	char err[256] = "";
	int rc;

	/* the target is a non-empty directory: rename must fail */
	cr_assert_eq(mkdirat(dfd, "busy", 0700), 0);
	cr_assert_eq(mkdirat(dfd, "busy/inner", 0700), 0);
	rc = fs_write_atomic(dfd, "busy", "x", 1, err, sizeof(err));
	cr_assert_lt(rc, 0);
	cr_assert(strstr(err, "busy"), "reason '%s' should name the file", err);
	cr_assert_eq(count_entries(dfd), 1, "the temporary must be removed on failure");

	char longname[400];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	err[0] = '\0';
	rc = fs_write_atomic(dfd, longname, "x", 1, err, sizeof(err));
	cr_assert_eq(rc, -ENAMETOOLONG);
	cr_assert_neq(err[0], '\0');
}

Test(fsutil, read_all_limits_and_kinds)
{
	char err[256], *text = (char *)1;
	size_t len = 7;

	fs_write_atomic(dfd, "ten", "0123456789", 10, err, sizeof(err));
	cr_assert_eq(fs_read_all(dfd, "ten", 10, &text, &len), 0);
	cr_assert_eq(len, 10);
	cr_assert_eq(text[10], '\0');
	free(text);

	cr_assert_eq(fs_read_all(dfd, "ten", 9, &text, &len), -EFBIG);
	cr_assert_null(text);
	cr_assert_eq(len, 0);

	cr_assert_eq(fs_read_all(dfd, "missing", 9, &text, &len), -ENOENT);
	cr_assert_null(text);

	mkdirat(dfd, "sub", 0700);
	cr_assert_eq(fs_read_all(dfd, "sub", 9, &text, &len), -EISDIR);
	cr_assert_null(text);

	/* a device is not a file to slurp */
	cr_assert_eq(symlinkat("/dev/null", dfd, "null"), 0);
	cr_assert_eq(fs_read_all(dfd, "null", 9, &text, &len), -EINVAL);
	cr_assert_null(text);
}

Test(fsutil, read_all_binary_content)
{
	char err[256], *text;
	size_t len;
	const char data[] = { 'a', 0, 'b', (char)0xff };

	fs_write_atomic(dfd, "bin", data, sizeof(data), err, sizeof(err));
	cr_assert_eq(fs_read_all(dfd, "bin", 100, &text, &len), 0);
	cr_assert_eq(len, sizeof(data));
	cr_assert_eq(memcmp(text, data, sizeof(data)), 0);
	free(text);
}

Test(fsutil, mkdir_p_makes_every_level)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	cr_assert_eq(fs_mkdir_p(path, 0700), 0);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0700);
	/* again: already there is fine */
	cr_assert_eq(fs_mkdir_p(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/a/b/c/", dir);
	cr_assert_eq(fs_mkdir_p(path, 0700), 0);

	cr_assert_eq(fs_mkdir_p("", 0700), -ENAMETOOLONG);

	/* a file in the way */
	char err[256];
	fs_write_atomic(dfd, "file", "x", 1, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/file/sub", dir);
	cr_assert_eq(fs_mkdir_p(path, 0700), -ENOTDIR);
}

Test(fsutil, remove_tree_deletes_nested_content)
{
	char err[256];
	struct stat st;

	cr_assert_eq(mkdirat(dfd, "t", 0700), 0);
	cr_assert_eq(mkdirat(dfd, "t/sub", 0700), 0);
	cr_assert_eq(mkdirat(dfd, "t/sub/deeper", 0500), 0);
	int sub = openat(dfd, "t/sub", O_RDONLY | O_DIRECTORY);
	fs_write_atomic(sub, "f", "x", 1, err, sizeof(err));
	close(sub);
	cr_assert_eq(symlinkat("/etc/passwd", dfd, "t/link"), 0);

	cr_assert_eq(fs_remove_tree(dfd, "t"), 0);
	cr_assert_eq(fstatat(dfd, "t", &st, AT_SYMLINK_NOFOLLOW), -1);
	cr_assert_eq(errno, ENOENT);
	/* the symlink's target is untouched */
	cr_assert_eq(stat("/etc/passwd", &st), 0);

	/* missing: fine; a plain file: removed */
	cr_assert_eq(fs_remove_tree(dfd, "t"), 0);
	fs_write_atomic(dfd, "plain", "x", 1, err, sizeof(err));
	cr_assert_eq(fs_remove_tree(dfd, "plain"), 0);
	cr_assert_eq(count_entries(dfd), 0);
}

Test(fsutil, remove_tree_does_not_follow_a_symlinked_dir)
{
	char err[256];
	struct stat st;

	cr_assert_eq(mkdirat(dfd, "keep", 0700), 0);
	int k = openat(dfd, "keep", O_RDONLY | O_DIRECTORY);
	fs_write_atomic(k, "precious", "x", 1, err, sizeof(err));
	close(k);
	cr_assert_eq(symlinkat("keep", dfd, "victim"), 0);
	cr_assert_eq(fs_remove_tree(dfd, "victim"), 0);
	cr_assert_eq(fstatat(dfd, "keep/precious", &st, 0), 0);
}

Test(fsutil, pwrite_all_at_offsets)
{
	int fd = openat(dfd, "f", O_RDWR | O_CREAT, 0600);
	char buf[16] = {0};

	cr_assert_eq(fs_pwrite_all(fd, "world", 5, 6), 0);
	cr_assert_eq(fs_pwrite_all(fd, "hello ", 6, 0), 0);
	cr_assert_eq(pread(fd, buf, sizeof(buf), 0), 11);
	cr_assert_str_eq(buf, "hello world");
	cr_assert_eq(fs_pwrite_all(fd, "", 0, 100), 0);
	close(fd);
	cr_assert_eq(fs_pwrite_all(fd, "x", 1, 0), -EBADF);
}

Test(fsutil, fsync_dir)
{
	cr_assert_eq(fs_fsync_dir(dfd), 0);
	cr_assert_eq(fs_fsync_dir(-1), -EBADF);
}

/* The no-replace rename where rename flags are refused (NFS, high-level
 * FUSE): never replaces a taken name, moves a whole directory. */
Test(fsutil, rename_noreplace_emulated_never_replaces)
{
	char err[256], *text;
	size_t len;

	cr_assert_eq(mkdirat(dfd, "a", 0700), 0);
	cr_assert_eq(mkdirat(dfd, "b", 0700), 0);
	int a = openat(dfd, "a", O_RDONLY | O_DIRECTORY);
	int b = openat(dfd, "b", O_RDONLY | O_DIRECTORY);
	cr_assert_eq(fs_write_atomic(a, "f", "A", 1, err, sizeof(err)), 0);
	cr_assert_eq(fs_write_atomic(b, "f", "B", 1, err, sizeof(err)), 0);
	close(a);
	close(b);

	/* onto a taken directory: refused, both intact */
	cr_assert_eq(fs_rename_noreplace_emulated(dfd, "a", dfd, "b"), -EEXIST);
	cr_assert_eq(fs_read_all(dfd, "a/f", 10, &text, &len), 0);
	cr_assert_str_eq(text, "A");
	free(text);
	cr_assert_eq(fs_read_all(dfd, "b/f", 10, &text, &len), 0);
	cr_assert_str_eq(text, "B");
	free(text);
	/* onto an empty directory someone made: refused too (it is not ours) */
	cr_assert_eq(mkdirat(dfd, "empty", 0700), 0);
	cr_assert_eq(fs_rename_noreplace_emulated(dfd, "a", dfd, "empty"), -EEXIST);
	/* onto a free name: moved whole */
	cr_assert_eq(fs_rename_noreplace_emulated(dfd, "a", dfd, "c"), 0);
	cr_assert_eq(faccessat(dfd, "a", F_OK, 0), -1);
	cr_assert_eq(fs_read_all(dfd, "c/f", 10, &text, &len), 0);
	cr_assert_str_eq(text, "A");
	free(text);

	/* files: link then unlink */
	cr_assert_eq(fs_write_atomic(dfd, "x", "X", 1, err, sizeof(err)), 0);
	cr_assert_eq(fs_write_atomic(dfd, "y", "Y", 1, err, sizeof(err)), 0);
	cr_assert_eq(fs_rename_noreplace_emulated(dfd, "x", dfd, "y"), -EEXIST);
	cr_assert_eq(fs_rename_noreplace_emulated(dfd, "x", dfd, "z"), 0);
	cr_assert_eq(faccessat(dfd, "x", F_OK, 0), -1);
	cr_assert_eq(fs_read_all(dfd, "z", 10, &text, &len), 0);
	cr_assert_str_eq(text, "X");
	free(text);
	cr_assert_eq(fs_rename_noreplace(dfd, "z", dfd, "y"), -EEXIST);
	cr_assert_eq(fs_rename_noreplace_emulated(dfd, "missing", dfd, "w"), -ENOENT);
}
