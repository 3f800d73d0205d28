#include "state_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

struct state_lock {
	pthread_mutex_t mu;    /* guards fd, ino and dev across checks */
	char *path;            /* STATE_DIR/lock */
	char *mountpoint;
	int dir_fd;            /* flock'ed, or -1 where refused */
	int fd;                /* the lock file, flock'ed */
	dev_t dev;
	ino_t ino;
};

static void read_holder(int fd, char *holder, size_t size)
{
	ssize_t n = pread(fd, holder, size - 1, 0);

	holder[n > 0 ? n : 0] = '\0';
	holder[strcspn(holder, "\n")] = '\0';
}

static void write_holder(int fd, const char *mountpoint)
{
	char holder[4096 + 64];
	int n = snprintf(holder, sizeof(holder), "pid %d, mounted on %s\n",
			 (int)getpid(), mountpoint);

	if (ftruncate(fd, 0) == 0 && n > 0)
		(void)!pwrite(fd, holder, (size_t)n, 0);
}

static void in_use(const char *state_dir, int holder_fd, char *err, size_t errlen)
{
	char holder[4096];

	holder[0] = '\0';
	if (holder_fd >= 0)
		read_holder(holder_fd, holder, sizeof(holder));
	snprintf(err, errlen,
		 "state dir %s is already in use by another veofs (%s); "
		 "unmount it first or choose another state_dir",
		 state_dir, holder[0] ? holder : "unknown mount");
}

/* Open and flock the lock file; the fd, or -1 with errno (EWOULDBLOCK when
 * another process holds it, its fd then left in *busy_fd). */
static int lock_file(const char *path, int *busy_fd)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	*busy_fd = -1;
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		if (e == EWOULDBLOCK)
			*busy_fd = fd;
		else
			close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

struct state_lock *state_lock_acquire(const char *state_dir, const char *mountpoint,
				      char *err, size_t errlen)
{
	struct state_lock *l = calloc(1, sizeof(*l));
	struct stat st;
	int busy = -1;

	if (!l || asprintf(&l->path, "%s/lock", state_dir) < 0) {
		free(l);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&l->mu, NULL);
	l->fd = -1;
	l->mountpoint = strdup(mountpoint);
	l->dir_fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->dir_fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", state_dir, strerror(errno));
		goto fail;
	}
	if (flock(l->dir_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK) {
			/* The holder's name is in the file, if it is still there. */
			int fd = open(l->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			in_use(state_dir, fd, err, errlen);
			if (fd >= 0)
				close(fd);
			goto fail;
		}
		/* NFS emulates flock with byte-range locks, which a directory
		 * opened read-only cannot take: the file lock alone serves. */
		log_info("state dir %s cannot be locked itself (%s); relying on %s",
			 state_dir, strerror(errno), l->path);
		close(l->dir_fd);
		l->dir_fd = -1;
	}
	l->fd = lock_file(l->path, &busy);
	if (l->fd < 0) {
		if (busy >= 0) {
			in_use(state_dir, busy, err, errlen);
			close(busy);
		} else {
			snprintf(err, errlen, "cannot lock %s: %s", l->path, strerror(errno));
		}
		goto fail;
	}
	if (fstat(l->fd, &st) < 0) {
		snprintf(err, errlen, "cannot stat %s: %s", l->path, strerror(errno));
		goto fail;
	}
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	write_holder(l->fd, mountpoint);
	return l;
fail:
	state_lock_release(l);
	return NULL;
}

void state_lock_note(struct state_lock *l, const char *mountpoint)
{
	pthread_mutex_lock(&l->mu);
	write_holder(l->fd, mountpoint);
	pthread_mutex_unlock(&l->mu);
}

int state_lock_check(struct state_lock *l, char *err, size_t errlen)
{
	struct stat st;
	int fd, busy = -1, rc = 0;

	pthread_mutex_lock(&l->mu);
	if (stat(l->path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino)
		goto out;
	/* Deleted or replaced under us. Whoever holds the new file is
	 * another veofs; if nobody does, it is ours again. */
	fd = lock_file(l->path, &busy);
	if (fd < 0) {
		char holder[4096] = "";
		if (busy >= 0) {
			read_holder(busy, holder, sizeof(holder));
			close(busy);
			snprintf(err, errlen, "the state dir's lock file was replaced and "
				 "is held by another veofs (%s): not submitting",
				 holder[0] ? holder : "unknown mount");
		} else {
			snprintf(err, errlen, "the state dir's lock file %s cannot be "
				 "taken again: %s; not submitting", l->path, strerror(errno));
		}
		rc = -1;
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot stat %s: %s; not submitting", l->path,
			 strerror(errno));
		close(fd);
		rc = -1;
		goto out;
	}
	log_warn("the state dir's lock file %s was removed or replaced; taken again",
		 l->path);
	close(l->fd);
	l->fd = fd;
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	write_holder(l->fd, l->mountpoint ? l->mountpoint : "");
out:
	pthread_mutex_unlock(&l->mu);
	return rc;
}

bool state_lock_holds_dir(const struct state_lock *l)
{
	return l->dir_fd >= 0;
}

void state_lock_release(struct state_lock *l)
{
	if (!l)
		return;
	/* Closing drops the flocks. */
	if (l->fd >= 0)
		close(l->fd);
	if (l->dir_fd >= 0)
		close(l->dir_fd);
	pthread_mutex_destroy(&l->mu);
	free(l->path);
	free(l->mountpoint);
	free(l);
}
