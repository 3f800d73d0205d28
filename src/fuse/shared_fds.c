#include "shared_fds.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strmap.h"

struct shared_fd {
	int fd;
	unsigned long refs;
	char key[48];     /* device and inode: the file, whatever its name */
	struct shared_fd *prev, *next;
};

struct shared_fds {
	pthread_mutex_t mu;
	struct strmap *by_file;
	struct shared_fd *all;  /* to close what is still open at the end */
};

struct shared_fds *shared_fds_new(void)
{
	struct shared_fds *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->by_file = strmap_new();
	if (!s->by_file) {
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	return s;
}

void shared_fds_free(struct shared_fds *s)
{
	if (!s)
		return;
	/* Files the kernel never released (a lazy unmount). */
	while (s->all) {
		struct shared_fd *h = s->all;
		s->all = h->next;
		close(h->fd);
		free(h);
	}
	strmap_free(s->by_file);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

struct shared_fd *shared_fds_adopt(struct shared_fds *s, int fd)
{
	struct shared_fd *h;
	struct stat st;
	char key[48];

	if (fstat(fd, &st) < 0) {
		/* Cannot tell which file: keep it to itself. */
		snprintf(key, sizeof(key), "fd:%d", fd);
	} else {
		snprintf(key, sizeof(key), "%llx:%llx", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino);
	}
	pthread_mutex_lock(&s->mu);
	h = strmap_get(s->by_file, key);
	if (h) {
		h->refs++;
		pthread_mutex_unlock(&s->mu);
		close(fd);
		return h;
	}
	h = calloc(1, sizeof(*h));
	if (!h || strmap_put(s->by_file, key, h) < 0) {
		pthread_mutex_unlock(&s->mu);
		free(h);
		close(fd);
		return NULL;
	}
	h->fd = fd;
	h->refs = 1;
	h->next = s->all;
	if (h->next)
		h->next->prev = h;
	s->all = h;
	snprintf(h->key, sizeof(h->key), "%s", key);
	pthread_mutex_unlock(&s->mu);
	return h;
}

int shared_fd_get(const struct shared_fd *h)
{
	return h->fd;
}

void shared_fds_release(struct shared_fds *s, struct shared_fd *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&s->mu);
	if (--h->refs > 0) {
		pthread_mutex_unlock(&s->mu);
		return;
	}
	strmap_remove(s->by_file, h->key);
	if (h->prev)
		h->prev->next = h->next;
	else
		s->all = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&s->mu);
	close(h->fd);
	free(h);
}
