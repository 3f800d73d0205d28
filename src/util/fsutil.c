#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int fs_rename_noreplace_emulated(int fromfd, const char *from, int tofd, const char *to)
{
	struct stat st;
	int rc;

	if (fstatat(fromfd, from, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode)) {
		if (linkat(fromfd, from, tofd, to, 0) < 0)
			return -errno;
		if (unlinkat(fromfd, from, 0) < 0) {
			rc = -errno;
			unlinkat(tofd, to, 0);
			return rc;
		}
		return 0;
	}
	/* The reservation: mkdir fails with EEXIST on anything there. */
	if (mkdirat(tofd, to, 0700) < 0)
		return -errno;
	if (renameat(fromfd, from, tofd, to) < 0) {
		rc = -errno;
		/* Only ever our own, still empty, reservation goes. */
		unlinkat(tofd, to, AT_REMOVEDIR);
		return rc == -ENOTEMPTY ? -EEXIST : rc;
	}
	return 0;
}

int fs_rename_noreplace(int fromfd, const char *from, int tofd, const char *to)
{
	if (renameat2(fromfd, from, tofd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP && errno != EOPNOTSUPP)
		return errno == ENOTEMPTY ? -EEXIST : -errno;
	return fs_rename_noreplace_emulated(fromfd, from, tofd, to);
}

int fs_fsync_dir(int dirfd)
{
	if (fsync(dirfd) < 0 && errno != EINVAL)
		return -errno;
	return 0;
}

static int write_via_temp(int dirfd, const char *name, const void *data,
			  size_t len, int durable, char *err, size_t errlen)
{
	static atomic_uint seq;
	char tmp[64];
	int fd, rc;

	/* A short dot-name of its own, so it fits wherever the real name
	 * does and a crash never leaves something that looks like the real
	 * file; fs_remove_temporaries() clears them. */
	snprintf(tmp, sizeof(tmp), FS_TEMP_PREFIX "%d-%u", (int)getpid(),
		 atomic_fetch_add(&seq, 1));
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create %s: %s", name, strerror(-rc));
		return rc;
	}
	rc = fs_pwrite_all(fd, data, len, 0);
	if (rc == 0 && durable && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		rc = -errno;
	if (rc == 0 && durable)
		rc = fs_fsync_dir(dirfd);
	if (rc < 0) {
		unlinkat(dirfd, tmp, 0);
		snprintf(err, errlen, "cannot write %s: %s", name, strerror(-rc));
	}
	return rc;
}

int fs_write_atomic(int dirfd, const char *name, const void *data, size_t len,
		    char *err, size_t errlen)
{
	return write_via_temp(dirfd, name, data, len, 1, err, errlen);
}

int fs_write_replace(int dirfd, const char *name, const void *data, size_t len,
		     char *err, size_t errlen)
{
	return write_via_temp(dirfd, name, data, len, 0, err, errlen);
}

int fs_read_fd(int fd, size_t max, char **out, size_t *len)
{
	struct stat st;
	char *buf;
	size_t have = 0;

	*out = NULL;
	*len = 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	if ((size_t)st.st_size > max)
		return -EFBIG;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (have < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + have, (size_t)st.st_size - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int rc = -errno;
			free(buf);
			return rc;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	buf[have] = '\0';
	*out = buf;
	*len = have;
	return 0;
}

int fs_read_all(int dirfd, const char *name, size_t max, char **out, size_t *len)
{
	/* O_NONBLOCK: a FIFO or device named by a user must not hang us
	 * before fstat can refuse it. */
	int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	int rc;

	*out = NULL;
	*len = 0;
	if (fd < 0)
		return -errno;
	rc = fs_read_fd(fd, max, out, len);
	close(fd);
	return rc;
}

int fs_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int fs_remove_tree(int dirfd, const char *name)
{
	int fd, rc = 0;
	DIR *d;
	struct dirent *de;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int r = fs_remove_tree(fd, de->d_name);
		if (r < 0 && rc == 0)
			rc = r;
	}
	closedir(d);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

static void remove_matching(int dirfd, const char *prefix)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (!strncmp(de->d_name, prefix, strlen(prefix)) &&
		    strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    (de->d_type == DT_REG || de->d_type == DT_UNKNOWN))
			unlinkat(dirfd, de->d_name, 0);
	closedir(d);
}

void fs_remove_temporaries(int dirfd)
{
	remove_matching(dirfd, FS_TEMP_PREFIX);
}

void fs_remove_dotfiles(int dirfd)
{
	remove_matching(dirfd, ".");
}
