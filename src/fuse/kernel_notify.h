/* Tells the kernel that cached attributes or names went stale. The calls
 * are made from one thread of our own: libfuse forbids them inside a
 * handler, and an invalidation can block on the kernel (page locks held by
 * a read we are answering), which must never stall a worker. */
#ifndef VEOFS_KERNEL_NOTIFY_H
#define VEOFS_KERNEL_NOTIFY_H

#include <stdint.h>

struct fuse_session;
struct kernel_notify;

struct kernel_notify *kernel_notify_new(void);
/* Until a session is set, requests are dropped (nothing is cached yet). */
void kernel_notify_set_session(struct kernel_notify *kn, struct fuse_session *se);
/* Attributes (size, mtime) of ino changed; its data is not cached. */
void kernel_notify_attr(struct kernel_notify *kn, uint64_t ino);
/* parent/name no longer names what it did. Watchers see nothing. */
void kernel_notify_entry(struct kernel_notify *kn, uint64_t parent, const char *name);
/* parent/name, which named inode child, is gone: the kernel drops the
 * name and watchers of parent get IN_DELETE (of child: IN_DELETE_SELF),
 * but only if the kernel still had the name cached. */
void kernel_notify_delete(struct kernel_notify *kn, uint64_t parent, uint64_t child,
			  const char *name);
/* The engine's observer: the task's files in the mask (1 << enum
 * task_file) changed. ctx is the struct kernel_notify. Files that are no
 * longer shown are deleted in the kernel, the others' attributes dropped;
 * a status change drops ctl's too. Takes t->mu (the caller must not). */
struct task;
void kernel_notify_task_changed(void *ctx, struct task *t, unsigned files);
void kernel_notify_free(struct kernel_notify *kn);

#endif
