#include "state_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int state_lock_acquire(const char *state_dir, const char *mountpoint,
		       char *err, size_t errlen)
{
	char path[4096], holder[4096 + 64];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/lock", state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		n = pread(fd, holder, sizeof(holder) - 1, 0);
		holder[n > 0 ? n : 0] = '\0';
		holder[strcspn(holder, "\n")] = '\0';
		if (e == EWOULDBLOCK)
			snprintf(err, errlen,
				 "state dir %s is already in use by another veofs (%s); "
				 "unmount it first or choose another state_dir",
				 state_dir, holder[0] ? holder : "unknown mount");
		else
			snprintf(err, errlen, "cannot lock %s: %s", path, strerror(e));
		close(fd);
		return -1;
	}
	state_lock_note(fd, mountpoint);
	return fd;
}

void state_lock_note(int fd, const char *mountpoint)
{
	char holder[4096 + 64];
	int n = snprintf(holder, sizeof(holder), "pid %d, mounted on %s\n",
			 (int)getpid(), mountpoint);

	if (ftruncate(fd, 0) == 0 && n > 0)
		(void)!pwrite(fd, holder, (size_t)n, 0);
}

void state_lock_release(int fd)
{
	if (fd >= 0)
		close(fd); /* closing drops the flock */
}
