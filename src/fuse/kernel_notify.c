#include "kernel_notify.h"

#include <errno.h>
#include <limits.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inode.h"
#include "log.h"

/* Bounded: when the kernel stops taking notifications for a while we drop
 * the oldest rather than grow; attribute timeouts are the safety net. */
#define QUEUE_MAX 65536

struct item {
	struct item *next;
	uint64_t ino;      /* attr: this inode; entry, delete: the parent */
	uint64_t child;    /* delete: the inode the name held */
	char *name;        /* NULL for attr */
};

struct kernel_notify {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct item *head, *tail;
	size_t n;
	bool stopping;
	struct fuse_session *se;
	pthread_t thread;
	bool started;
};

static void *notify_thread(void *arg)
{
	struct kernel_notify *kn = arg;

	pthread_mutex_lock(&kn->mu);
	while (!kn->stopping) {
		struct item *it = kn->head;
		if (!it) {
			pthread_cond_wait(&kn->cv, &kn->mu);
			continue;
		}
		kn->head = it->next;
		if (!kn->head)
			kn->tail = NULL;
		kn->n--;
		struct fuse_session *se = kn->se;
		pthread_mutex_unlock(&kn->mu);
		if (se) {
			int rc;
			if (it->name && it->child)
				rc = fuse_lowlevel_notify_delete(se, it->ino, it->child, it->name,
								 strlen(it->name));
			else if (it->name)
				rc = fuse_lowlevel_notify_inval_entry(se, it->ino, it->name,
								      strlen(it->name));
			else
				rc = fuse_lowlevel_notify_inval_inode(se, it->ino, -1, 0);
			/* ENOENT: the kernel had nothing cached. */
			if (rc < 0 && rc != -ENOENT)
				log_debug("kernel notification for inode %llu: %s",
					  (unsigned long long)it->ino, strerror(-rc));
		}
		free(it->name);
		free(it);
		pthread_mutex_lock(&kn->mu);
	}
	pthread_mutex_unlock(&kn->mu);
	return NULL;
}

struct kernel_notify *kernel_notify_new(void)
{
	struct kernel_notify *kn = calloc(1, sizeof(*kn));

	if (!kn)
		return NULL;
	pthread_mutex_init(&kn->mu, NULL);
	pthread_cond_init(&kn->cv, NULL);
	if (pthread_create(&kn->thread, NULL, notify_thread, kn) == 0)
		kn->started = true;
	return kn;
}

void kernel_notify_set_session(struct kernel_notify *kn, struct fuse_session *se)
{
	pthread_mutex_lock(&kn->mu);
	kn->se = se;
	pthread_mutex_unlock(&kn->mu);
}

static void enqueue(struct kernel_notify *kn, uint64_t ino, uint64_t child, const char *name)
{
	struct item *it, *drop = NULL;

	if (!kn)
		return;
	it = calloc(1, sizeof(*it));
	if (!it)
		return;
	it->ino = ino;
	it->child = child;
	if (name && !(it->name = strdup(name))) {
		free(it);
		return;
	}
	pthread_mutex_lock(&kn->mu);
	if (!kn->se || kn->stopping) {
		pthread_mutex_unlock(&kn->mu);
		free(it->name);
		free(it);
		return;
	}
	if (kn->n >= QUEUE_MAX) {
		drop = kn->head;
		kn->head = drop->next;
		kn->n--;
	}
	if (kn->tail)
		kn->tail->next = it;
	else
		kn->head = it;
	kn->tail = it;
	kn->n++;
	pthread_cond_signal(&kn->cv);
	pthread_mutex_unlock(&kn->mu);
	if (drop) {
		free(drop->name);
		free(drop);
	}
}

void kernel_notify_attr(struct kernel_notify *kn, uint64_t ino)
{
	enqueue(kn, ino, 0, NULL);
}

void kernel_notify_entry(struct kernel_notify *kn, uint64_t parent, const char *name)
{
	enqueue(kn, parent, 0, name);
}

void kernel_notify_delete(struct kernel_notify *kn, uint64_t parent, uint64_t child,
			  const char *name)
{
	enqueue(kn, parent, child, name);
}

void kernel_notify_free(struct kernel_notify *kn)
{
	if (!kn)
		return;
	pthread_mutex_lock(&kn->mu);
	kn->stopping = true;
	pthread_cond_signal(&kn->cv);
	pthread_mutex_unlock(&kn->mu);
	if (kn->started)
		pthread_join(kn->thread, NULL);
	while (kn->head) {
		struct item *it = kn->head;
		kn->head = it->next;
		free(it->name);
		free(it);
	}
	pthread_mutex_destroy(&kn->mu);
	pthread_cond_destroy(&kn->cv);
	free(kn);
}

void kernel_notify_task_changed(void *ctx, struct task *t, unsigned files)
{
	struct kernel_notify *kn = ctx;
	char names[TF_COUNT][NAME_MAX + 1];
	bool gone[TF_COUNT] = {false};
	uint32_t tid = t->tid;

	if (!kn)
		return;
	/* ctl's text (what the task can do now) follows its state. */
	if (files & (1u << TF_STATUS))
		files |= 1u << TF_CTL;
	/* A file that went (error, id, video.mp4 after a retry) is deleted in
	 * the kernel: its dentry goes, and watchers get IN_DELETE. */
	pthread_mutex_lock(&t->mu);
	for (int f = TF_PROMPT; f < TF_COUNT; f++) {
		if (!(files & (1u << f)) || task_file_visible(t, (enum task_file)f))
			continue;
		gone[f] = true;
		snprintf(names[f], sizeof(names[f]), "%s", task_file_name(t, (enum task_file)f));
	}
	pthread_mutex_unlock(&t->mu);
	for (int f = 0; f < TF_COUNT; f++) {
		uint64_t ino = ino_of_task_file(tid, (enum task_file)f);
		if (!(files & (1u << f)))
			continue;
		if (gone[f])
			kernel_notify_delete(kn, ino_of_task_file(tid, TF_DIR), ino, names[f]);
		else
			kernel_notify_attr(kn, ino);
	}
}
