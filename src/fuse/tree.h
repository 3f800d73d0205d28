/* The task side of the tree: the root, task directories and their files,
 * all answered from memory (getattr, lookup and readdir never touch the
 * network or wait on a worker). new/ is dropbox.c's. */
#ifndef VEOFS_TREE_H
#define VEOFS_TREE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct task_table;
struct task_store;
struct engine;
struct kernel_notify;
struct owners;
struct trash;

struct tree {
	struct task_table *table;
	struct task_store *store;
	struct engine *engine;
	struct kernel_notify *notify;
	struct shared_fds *fds;     /* videos and images, one descriptor a file */
	uid_t uid;
	gid_t gid;
	long long started;
	/* Owners and modes of a shared mount (NULL: everything the mount's
	 * user's, as uid and gid say). */
	const struct owners *owners;
	struct trash *trash;        /* the mount's trash (NULL: none) */
	/* Files open now: the kernel may stop before it releases them all
	 * (a read still waiting, a RELEASE still queued), and what it never
	 * released is freed by tree_release_all. Zero-initialised is fine. */
	pthread_mutex_t files_mu;
	struct tree_file *open_files;
};

/* Free the files the kernel never released; once the session is over. */
void tree_release_all(struct tree *tr);

/* How long the kernel may keep an answer; changes also invalidate. */
struct tree_attr {
	struct stat st;
	double timeout;        /* attributes */
	double entry_timeout;  /* the name */
	bool name_only;        /* readdirplus: no attributes for this entry */
};

int tree_getattr(struct tree *tr, uint64_t ino, struct tree_attr *a);
/* parent is INO_ROOT or a task directory. */
int tree_lookup(struct tree *tr, uint64_t parent, const char *name, struct tree_attr *a);

/* fill returns non-zero when its buffer is full; next is the cookie of
 * the following entry. */
typedef int (*tree_fill_fn)(void *ctx, const char *name, const struct stat *st, off_t next);
int tree_readdir(struct tree *tr, uint64_t ino, off_t off, tree_fill_fn fill, void *ctx);
/* The same with each entry's attributes (readdirplus), so ls -l needs no
 * lookup per entry. "." and ".." come without (a->name_only). */
typedef int (*tree_fill_plus_fn)(void *ctx, const char *name, const struct tree_attr *a,
				 off_t next);
int tree_readdirplus(struct tree *tr, uint64_t ino, off_t off, tree_fill_plus_fn fill,
		     void *ctx);

struct tree_file;
struct tree_open_info {
	bool direct_io;   /* text that changes: no page cache, no stale size */
	bool keep_cache;  /* content never changes again: keep pages */
};
int tree_open(struct tree *tr, uint64_t ino, int flags, struct tree_file **f,
	      struct tree_open_info *info);
/* Bytes read into buf, or -errno. */
ssize_t tree_read(struct tree *tr, struct tree_file *f, char *buf, size_t size, off_t off);
/* When [off, off+size) of an on-disk file (a finished or arrived part of
 * the video, the image) can be served straight from a file descriptor,
 * returns it (owned by f) and clips *size to the file's end; else -1. */
int tree_read_fd(struct tree *tr, struct tree_file *f, off_t off, size_t *size);
/* Writes reach only ctl: a command (refresh, retry, cancel). */
ssize_t tree_write(struct tree *tr, struct tree_file *f, const char *buf, size_t size,
		   off_t off);
void tree_release(struct tree *tr, struct tree_file *f);

/* rm -r support: unlinking a file of a task dir succeeds and changes
 * nothing, so that rm -r NAME reaches its rmdir cleanly. */
int tree_unlink(struct tree *tr, uint64_t parent, const char *name);
/* user.xdg.comment, user.veofs.{status,progress,id,model} on task folders
 * and videos; -ENODATA for anything else. size 0 asks for the length. */
ssize_t tree_getxattr(struct tree *tr, uint64_t ino, const char *name, char *buf,
		      size_t size);
ssize_t tree_listxattr(struct tree *tr, uint64_t ino, char *buf, size_t size);
/* Truncating ctl (a shell's "> ctl") is allowed and does nothing. */
int tree_setattr_ctl(struct tree *tr, uint64_t ino, int only_size_or_times);

/* mv NAME OTHER at the root: the task and its folder take the new name. */
int tree_rename(struct tree *tr, const char *from, const char *to, unsigned flags);

/* Log, once per refused call, what was refused where and why. */
void tree_log_refusal(struct tree *tr, uint64_t ino, const char *name, const char *op,
		      int err);

struct statvfs;
/* Space of the state dir, where prompts and videos go. */
int tree_statfs(struct tree *tr, struct statvfs *sv);

/* rmdir NAME: forget the task and delete its local files. */
int tree_rmdir(struct tree *tr, uint64_t parent, const char *name);

#endif
