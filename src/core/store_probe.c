#include "store_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "task_store.h"

/* ".new-" like an unfinished task: a crash mid-probe leaves what the next
 * start deletes anyway. */
#define PROBE_PREFIX ".new-probe-"

static int make_dir_with_file(int at, const char *dir, const char *text)
{
	int dfd, fd, rc = 0;

	if (mkdirat(at, dir, 0700) < 0)
		return -errno;
	dfd = openat(at, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = openat(dfd, "f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		rc = -errno;
	else {
		rc = fs_pwrite_all(fd, text, strlen(text), 0);
		if (rc == 0 && fsync(fd) < 0)
			rc = -errno;
		close(fd);
	}
	if (rc == 0)
		rc = fs_fsync_dir(dfd);
	close(dfd);
	return rc;
}

/* The text of DIR/f, compared. */
static bool holds(int at, const char *dir, const char *text)
{
	char path[128], *got = NULL;
	size_t len;
	bool same;

	snprintf(path, sizeof(path), "%s/f", dir);
	if (fs_read_all(at, path, 64, &got, &len) < 0)
		return false;
	same = !strcmp(got, text);
	free(got);
	return same;
}

int store_probe(struct task_store *s, char *err, size_t errlen)
{
	char a[64], b[64], c[64], path[4096], why[256] = "";
	const char *step = "";
	int tfd, dfd, fd, rc;

	snprintf(path, sizeof(path), "%s/tasks", task_store_path(s));
	tfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return rc;
	}
	snprintf(a, sizeof(a), PROBE_PREFIX "%d-a", (int)getpid());
	snprintf(b, sizeof(b), PROBE_PREFIX "%d-b", (int)getpid());
	snprintf(c, sizeof(c), PROBE_PREFIX "%d-c", (int)getpid());
	fs_remove_tree(tfd, a);
	fs_remove_tree(tfd, b);
	fs_remove_tree(tfd, c);

	step = "creating a directory and a file, with fsync";
	rc = make_dir_with_file(tfd, a, "a");
	if (rc == 0)
		rc = make_dir_with_file(tfd, b, "b");
	if (rc < 0)
		goto out;
	step = "renaming a directory onto a taken name without replacing it";
	rc = fs_rename_noreplace(tfd, a, tfd, b);
	if (rc != -EEXIST || !holds(tfd, a, "a") || !holds(tfd, b, "b")) {
		if (rc == 0 || rc == -EEXIST) {
			snprintf(why, sizeof(why), "%s",
				 rc == 0 ? "the existing directory was replaced"
					 : "the refused rename changed the directories");
			rc = -EIO;
		}
		goto out;
	}
	step = "renaming a directory into place";
	rc = fs_rename_noreplace(tfd, a, tfd, c);
	if (rc == 0 && (!holds(tfd, c, "a") || faccessat(tfd, a, F_OK, AT_SYMLINK_NOFOLLOW) == 0)) {
		snprintf(why, sizeof(why), "the directory did not arrive whole");
		rc = -EIO;
	}
	if (rc == 0)
		rc = fs_fsync_dir(tfd);
	if (rc < 0)
		goto out;
	step = "replacing a file atomically";
	dfd = openat(tfd, c, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rc = -errno;
		goto out;
	}
	rc = fs_write_atomic(dfd, "f", "r1", 2, why, sizeof(why));
	if (rc == 0)
		rc = fs_write_atomic(dfd, "f", "r2", 2, why, sizeof(why));
	why[0] = '\0';
	if (rc == 0 && !holds(tfd, c, "r2")) {
		snprintf(why, sizeof(why), "the replaced file does not read back");
		rc = -EIO;
	}
	if (rc == 0) {
		step = "appending to a file";
		fd = openat(dfd, "f", O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd < 0 || write(fd, "x", 1) != 1)
			rc = errno ? -errno : -EIO;
		if (fd >= 0)
			close(fd);
	}
	close(dfd);
out:
	if (rc < 0)
		snprintf(err, errlen, "the state dir %s cannot keep tasks safely: %s failed: %s",
			 task_store_path(s), step, why[0] ? why : strerror(-rc));
	fs_remove_tree(tfd, a);
	fs_remove_tree(tfd, b);
	fs_remove_tree(tfd, c);
	fs_fsync_dir(tfd);
	close(tfd);
	return rc < 0 ? rc : 0;
}
