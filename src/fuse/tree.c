#include "tree.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "clock.h"
#include "ctl_text.h"
#include "engine.h"
#include "inode.h"
#include "kernel_notify.h"
#include "log.h"
#include "owners.h"
#include "prompt.h"
#include "shared_fds.h"
#include "task_store.h"
#include "task_table.h"
#include "trash.h"
#include "video_reader.h"
#include "xalloc.h"

/* The longest a read of events waits for lines being written. */
#define EVENTS_WRITE_WAIT_MS 2000
#define TIMEOUT_CHANGING 1.0     /* invalidations make this a fallback */
#define TIMEOUT_FIXED 3600.0
/* Names in the task tree change only through the kernel (rmdir, mv) or
 * appear anew (never cached as missing), so they may be kept long. */
#define TIMEOUT_NAMES 60.0

/* Readdir cookies of the root: 1 ".", 2 "..", 3 "new", then 3 + tid. */
#define ROOT_COOKIE_TASKS 3

struct tree_file {
	struct task *t;
	enum task_file which;
	int fd;            /* video or image: shared's descriptor */
	struct shared_fd *shared;
	char *text;        /* snapshot of a text file at open */
	size_t text_len;
	struct tree_file *prev, *next; /* tree's open_files */
};

static void dir_attr(struct tree *tr, struct stat *st, uint64_t ino, long long mtime)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_uid = tr->uid;
	st->st_gid = tr->gid;
	st->st_mtime = st->st_ctime = st->st_atime = (time_t)mtime;
	st->st_blksize = 4096;
	if (tr->owners && (ino == INO_ROOT || ino == INO_NEW))
		owners_shared_dir(tr->owners, st);
}

/* t->mu held. */
static void task_file_attr(struct tree *tr, struct task *t, enum task_file f,
			   struct tree_attr *a)
{
	struct stat *st = &a->st;
	long long mtime = t->changed ? t->changed : t->created;

	a->entry_timeout = TIMEOUT_NAMES;
	if (f == TF_DIR) {
		dir_attr(tr, st, ino_of_task_file(t->tid, TF_DIR), mtime);
		if (tr->owners)
			owners_task(tr->owners, t, true, false, st);
		a->timeout = TIMEOUT_CHANGING;
		return;
	}
	memset(st, 0, sizeof(*st));
	st->st_ino = ino_of_task_file(t->tid, f);
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_uid = tr->uid;
	st->st_gid = tr->gid;
	st->st_blksize = 4096;
	st->st_size = task_file_size(t, f);
	if (f == TF_CTL) {
		/* Readable by all, so backups and grep -r go through it;
		 * commands only from the task's owner. Its size is its text's,
		 * which changes with the state: tar reads exactly st_size. */
		size_t len = 0;
		free(ctl_text(t, &len));
		st->st_mode = S_IFREG | 0644;
		st->st_size = (off_t)len;
	}
	st->st_blocks = (st->st_size + 511) / 512;
	switch (f) {
	case TF_PROMPT:
	case TF_IMAGE:
		mtime = t->created;
		a->timeout = TIMEOUT_FIXED;
		break;
	case TF_VIDEO:
		a->timeout = t->video_done ? TIMEOUT_FIXED : TIMEOUT_CHANGING;
		break;
	default:
		a->timeout = TIMEOUT_CHANGING;
		break;
	}
	st->st_mtime = st->st_ctime = st->st_atime = (time_t)mtime;
	if (tr->owners)
		owners_task(tr->owners, t, false, f == TF_CTL, st);
}

static long long root_mtime(struct tree *tr)
{
	long long c = task_table_changed(tr->table);

	return c > tr->started ? c : tr->started;
}

int tree_statfs(struct tree *tr, struct statvfs *sv)
{
	/* The state dir's space is what new prompts and videos use. */
	if (statvfs(task_store_path(tr->store), sv) < 0)
		return -errno;
	sv->f_namemax = 255;
	return 0;
}

int tree_getattr(struct tree *tr, uint64_t ino, struct tree_attr *a)
{
	struct task *t;
	enum task_file f;
	int rc = 0;

	if (ino == INO_ROOT || ino == INO_NEW) {
		dir_attr(tr, &a->st, ino, root_mtime(tr));
		a->timeout = TIMEOUT_CHANGING;
		a->entry_timeout = TIMEOUT_NAMES;
		return 0;
	}
	if (!ino_is_task(ino))
		return -ENOENT;
	t = task_table_get_tid(tr->table, ino_task_tid(ino));
	if (!t)
		return -ENOENT;
	f = ino_task_file(ino);
	pthread_mutex_lock(&t->mu);
	if (f != TF_DIR && !task_file_visible(t, f))
		rc = -ENOENT;
	else
		task_file_attr(tr, t, f, a);
	pthread_mutex_unlock(&t->mu);
	task_unref(t);
	return rc;
}

int tree_lookup(struct tree *tr, uint64_t parent, const char *name, struct tree_attr *a)
{
	struct task *t;
	enum task_file f;
	int rc = 0;

	if (parent == INO_ROOT) {
		if (!strcmp(name, "new")) {
			dir_attr(tr, &a->st, INO_NEW, root_mtime(tr));
			a->timeout = TIMEOUT_CHANGING;
			a->entry_timeout = TIMEOUT_NAMES;
			return 0;
		}
		t = task_table_get_name(tr->table, name);
		if (!t)
			return -ENOENT;
		pthread_mutex_lock(&t->mu);
		task_file_attr(tr, t, TF_DIR, a);
		pthread_mutex_unlock(&t->mu);
		task_unref(t);
		return 0;
	}
	if (!ino_is_task(parent) || ino_task_file(parent) != TF_DIR)
		return -ENOTDIR;
	t = task_table_get_tid(tr->table, ino_task_tid(parent));
	if (!t)
		return -ENOENT;
	pthread_mutex_lock(&t->mu);
	f = task_file_lookup(t, name);
	if (f == TF_COUNT)
		rc = -ENOENT;
	else
		task_file_attr(tr, t, f, a);
	pthread_mutex_unlock(&t->mu);
	task_unref(t);
	return rc;
}

static int readdir_root(struct tree *tr, off_t off, tree_fill_fn fill, void *ctx)
{
	struct stat st = {0};
	struct task *batch[64];

	st.st_mode = S_IFDIR;
	if (off < 1) {
		st.st_ino = INO_ROOT;
		if (fill(ctx, ".", &st, 1))
			return 0;
	}
	if (off < 2) {
		st.st_ino = INO_ROOT;
		if (fill(ctx, "..", &st, 2))
			return 0;
	}
	if (off < 3) {
		st.st_ino = INO_NEW;
		if (fill(ctx, "new", &st, 3))
			return 0;
	}
	uint32_t after = off <= ROOT_COOKIE_TASKS ? 0 : (uint32_t)(off - ROOT_COOKIE_TASKS);
	for (; off < TRASH_ROOT_COOKIE;) {
		size_t n = task_table_list(tr->table, after, batch, 64);
		size_t i;
		int full = 0;
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			struct task *t = batch[i];
			if (!full) {
				char name[NAME_MAX + 1];
				/* fill may look the task up: not under its lock. */
				pthread_mutex_lock(&t->mu);
				snprintf(name, sizeof(name), "%s", t->name);
				pthread_mutex_unlock(&t->mu);
				st.st_ino = ino_of_task_file(t->tid, TF_DIR);
				/* A dot-name is a task in the trash (trash.c). */
				if (name[0] != '.')
					full = fill(ctx, name, &st, ROOT_COOKIE_TASKS + t->tid);
				if (!full)
					after = t->tid;
			}
			task_unref(t);
		}
		if (full)
			return 0;
	}
	/* The users' trash folders come last. */
	if (tr->trash)
		trash_readdir_root(tr->trash, off, fill, ctx);
	return 0;
}

static int readdir_task(struct tree *tr, uint64_t ino, off_t off, tree_fill_fn fill, void *ctx)
{
	struct task *t = task_table_get_tid(tr->table, ino_task_tid(ino));
	char names[TF_COUNT][NAME_MAX + 1];
	bool shown[TF_COUNT] = {false};
	struct stat st = {0};

	if (!t)
		return -ENOENT;
	/* A snapshot first: fill may look the files up, which takes t->mu. */
	pthread_mutex_lock(&t->mu);
	for (int f = TF_PROMPT; f < TF_COUNT; f++) {
		shown[f] = task_file_visible(t, f);
		if (shown[f])
			snprintf(names[f], sizeof(names[f]), "%s", task_file_name(t, f));
	}
	uint32_t tid = t->tid;
	pthread_mutex_unlock(&t->mu);
	task_unref(t);

	st.st_mode = S_IFDIR;
	st.st_ino = ino;
	if (off < 1 && fill(ctx, ".", &st, 1))
		return 0;
	st.st_ino = INO_ROOT;
	if (off < 2 && fill(ctx, "..", &st, 2))
		return 0;
	st.st_mode = S_IFREG;
	/* Cookie 2 + file index: stable while files come and go. */
	for (int f = TF_PROMPT; f < TF_COUNT; f++) {
		if (off >= 2 + f || !shown[f])
			continue;
		st.st_ino = ino_of_task_file(tid, f);
		if (fill(ctx, names[f], &st, 2 + f))
			break;
	}
	return 0;
}

/* Readdirplus rides on the plain listing: each name it yields is looked
 * up in memory for its attributes. */
struct plus_ctx {
	struct tree *tr;
	uint64_t dir;
	tree_fill_plus_fn fill;
	void *ctx;
};

static int fill_with_attr(void *arg, const char *name, const struct stat *st, off_t next)
{
	struct plus_ctx *p = arg;
	struct tree_attr a;

	memset(&a, 0, sizeof(a));
	if (!strcmp(name, ".") || !strcmp(name, "..") ||
	    tree_lookup(p->tr, p->dir, name, &a) < 0) {
		/* No attributes: the kernel looks the name up itself. */
		memset(&a, 0, sizeof(a));
		a.st.st_mode = st->st_mode;
		a.st.st_ino = st->st_ino;
		a.name_only = true;
	}
	return p->fill(p->ctx, name, &a, next);
}

int tree_readdirplus(struct tree *tr, uint64_t ino, off_t off, tree_fill_plus_fn fill,
		     void *ctx)
{
	struct plus_ctx p = {.tr = tr, .dir = ino, .fill = fill, .ctx = ctx};

	return tree_readdir(tr, ino, off, fill_with_attr, &p);
}

int tree_readdir(struct tree *tr, uint64_t ino, off_t off, tree_fill_fn fill, void *ctx)
{
	if (ino == INO_ROOT)
		return readdir_root(tr, off, fill, ctx);
	if (ino_is_task(ino) && ino_task_file(ino) == TF_DIR)
		return readdir_task(tr, ino, off, fill, ctx);
	return -ENOTDIR;
}

/* What an open that could not get its descriptor answers: out of
 * descriptors or memory is said as such (a user must not read "no such
 * file" for a file that is there); anything else is a file that went. */
static int open_errno(int rc)
{
	return rc == -EMFILE || rc == -ENFILE || rc == -ENOMEM ? rc : -ENOENT;
}

int tree_open(struct tree *tr, uint64_t ino, int flags, struct tree_file **out,
	      struct tree_open_info *info)
{
	struct tree_file *f;
	struct task *t;
	enum task_file which;
	bool done = false;

	if (!ino_is_task(ino))
		return -EISDIR;
	which = ino_task_file(ino);
	if (which == TF_DIR)
		return -EISDIR;
	/* ctl reads and takes commands (O_RDWR too: Samba opens files so);
	 * everything else is read-only. */
	if (which != TF_CTL && ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)))
		return -EACCES;
	t = task_table_get_tid(tr->table, ino_task_tid(ino));
	if (!t)
		return -ENOENT;
	int rc = -ENOENT;
	f = calloc(1, sizeof(*f));
	if (!f) {
		task_unref(t);
		return -ENOMEM;
	}
	f->t = t;
	f->which = which;
	f->fd = -1;
	memset(info, 0, sizeof(*info));
	pthread_mutex_lock(&t->mu);
	if (!task_file_visible(t, which)) {
		pthread_mutex_unlock(&t->mu);
		goto enoent;
	}
	switch (which) {
	case TF_VIDEO:
		done = t->video_done;
		info->keep_cache = done;
		break;
	case TF_IMAGE:
	case TF_THUMBNAIL:
		info->keep_cache = true;
		break;
	case TF_TASK_JSON:
		/* On disk only (it can be big); replaced whole, so an open
		 * reads one answer. */
		info->direct_io = true;
		break;
	case TF_CTL:
		/* What it takes as of the open, as status is. */
		info->direct_io = true;
		f->text = ctl_text(t, &f->text_len);
		break;
	case TF_EVENTS:
		/* Read live: tail -f reads on from where it was. */
		info->direct_io = true;
		break;
	case TF_PROMPT:
		info->keep_cache = true;
		f->text = task_file_text(t, which, &f->text_len);
		break;
	default:
		info->direct_io = true;
		f->text = task_file_text(t, which, &f->text_len);
		break;
	}
	char image[NAME_MAX + 1] = "";
	if (which == TF_IMAGE)
		snprintf(image, sizeof(image), "%s", t->image_file);
	else if (which == TF_THUMBNAIL)
		snprintf(image, sizeof(image), "thumbnail.webp");
	else if (which == TF_TASK_JSON)
		snprintf(image, sizeof(image), "task.json");
	pthread_mutex_unlock(&t->mu);

	if (which == TF_VIDEO) {
		f->fd = task_store_open_video(tr->store, t, !done, O_RDONLY);
		if (f->fd < 0 && !done) {
			/* Finished between our look and the open. */
			f->fd = task_store_open_video(tr->store, t, false, O_RDONLY);
		}
		if (f->fd < 0) {
			log_warn("task %s: cannot open the video: %s", t->name, strerror(-f->fd));
			rc = open_errno(f->fd);
			goto enoent;
		}
	} else if (which == TF_IMAGE || which == TF_THUMBNAIL || which == TF_TASK_JSON) {
		f->fd = task_store_open_file(tr->store, t, image);
		if (f->fd < 0) {
			rc = open_errno(f->fd);
			goto enoent;
		}
	}
	if (f->fd >= 0) {
		f->shared = shared_fds_adopt(tr->fds, f->fd);
		if (!f->shared) {
			rc = -ENOMEM;
			goto enoent;
		}
		f->fd = shared_fd_get(f->shared);
	}
	pthread_mutex_lock(&tr->files_mu);
	f->next = tr->open_files;
	if (f->next)
		f->next->prev = f;
	tr->open_files = f;
	pthread_mutex_unlock(&tr->files_mu);
	*out = f;
	return 0;
enoent:
	free(f->text);
	free(f);
	task_unref(t);
	return rc;
}

ssize_t tree_read(struct tree *tr, struct tree_file *f, char *buf, size_t size, off_t off)
{
	struct task *t = f->t;

	if (off < 0)
		return -EINVAL;
	switch (f->which) {
	case TF_VIDEO:
		return video_reader_read(tr->engine, t, f->fd, buf, size, off);
	case TF_IMAGE:
	case TF_THUMBNAIL:
	case TF_TASK_JSON: {
		ssize_t n = pread(f->fd, buf, size, off);
		return n < 0 ? -errno : n;
	}
	case TF_EVENTS: {
		size_t n = 0;
		pthread_mutex_lock(&t->mu);
		/* A change the status already shows has its line on the way
		 * to disk: wait for that local write (never the network), a
		 * bounded while, so events agree with the status read before. */
		int64_t deadline = now_ms() + EVENTS_WRITE_WAIT_MS;
		while (t->events_writing > 0 && now_ms() < deadline)
			clock_cond_wait_until(&t->events_cv, &t->mu, deadline);
		if ((size_t)off < t->events_durable) {
			n = t->events_durable - (size_t)off;
			if (n > size)
				n = size;
			memcpy(buf, t->events + off, n);
		}
		pthread_mutex_unlock(&t->mu);
		return (ssize_t)n;
	}
	default:
		if (!f->text || (size_t)off >= f->text_len)
			return 0;
		size_t n = f->text_len - (size_t)off;
		if (n > size)
			n = size;
		memcpy(buf, f->text + off, n);
		return (ssize_t)n;
	}
}

int tree_read_fd(struct tree *tr, struct tree_file *f, off_t off, size_t *size)
{
	int64_t end;

	if (f->fd < 0)
		return -1;
	if (f->which == TF_IMAGE || f->which == TF_THUMBNAIL || f->which == TF_TASK_JSON)
		return f->fd;
	if (f->which != TF_VIDEO)
		return -1;
	if (!video_reader_ready(f->t, off, *size))
		return -1;
	pthread_mutex_lock(&f->t->mu);
	end = f->t->video_size;
	pthread_mutex_unlock(&f->t->mu);
	if (end >= 0 && off >= end) {
		*size = 0;
	} else if (end >= 0 && off + (int64_t)*size > end) {
		*size = (size_t)(end - off);
	}
	return f->fd;
}

ssize_t tree_write(struct tree *tr, struct tree_file *f, const char *buf, size_t size,
		   off_t off)
{
	char err[256] = "";
	int rc;

	if (f->which != TF_CTL)
		return -EACCES;
	rc = task_control(tr->engine, f->t, buf, size, err, sizeof(err));
	if (rc < 0) {
		log_info("task %s: ctl refused: %s", f->t->name, err);
		return rc;
	}
	return (ssize_t)size;
}

static void file_free(struct tree *tr, struct tree_file *f)
{
	shared_fds_release(tr->fds, f->shared);
	task_unref(f->t);
	free(f->text);
	free(f);
}

void tree_release_all(struct tree *tr)
{
	pthread_mutex_lock(&tr->files_mu);
	while (tr->open_files) {
		struct tree_file *f = tr->open_files;
		tr->open_files = f->next;
		file_free(tr, f);
	}
	pthread_mutex_unlock(&tr->files_mu);
}

void tree_release(struct tree *tr, struct tree_file *f)
{
	pthread_mutex_lock(&tr->files_mu);
	if (f->prev)
		f->prev->next = f->next;
	else
		tr->open_files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	pthread_mutex_unlock(&tr->files_mu);
	file_free(tr, f);
}

int tree_unlink(struct tree *tr, uint64_t parent, const char *name)
{
	struct task *t;
	enum task_file f;

	if (parent == INO_ROOT) {
		/* A task folder or new/ is a directory: unlink refuses it. */
		t = task_table_get_name(tr->table, name);
		if (!t && strcmp(name, "new"))
			return -ENOENT;
		task_unref(t);
		return -EISDIR;
	}
	if (!ino_is_task(parent) || ino_task_file(parent) != TF_DIR)
		return -ENOENT;
	t = task_table_get_tid(tr->table, ino_task_tid(parent));
	if (!t)
		return -ENOENT;
	/* Nothing is removed: the task goes only as a whole, by rmdir. This
	 * succeeds so that rm -r NAME, which unlinks every file before the
	 * rmdir, works without an error per file. */
	pthread_mutex_lock(&t->mu);
	f = task_file_lookup(t, name);
	pthread_mutex_unlock(&t->mu);
	task_unref(t);
	return f == TF_COUNT ? -ENOENT : 0;
}

int tree_rmdir(struct tree *tr, uint64_t parent, const char *name)
{
	struct task *t;
	int rc;

	if (parent != INO_ROOT)
		return -ENOTDIR;
	if (!strcmp(name, "new"))
		return -EBUSY;
	t = task_table_remove(tr->table, name);
	if (!t)
		return -ENOENT;
	/* Under save_mu: a record write that already checked "deleted" ends
	 * before the directory goes, and none starts after. */
	pthread_mutex_lock(&t->save_mu);
	engine_forget(tr->engine, t);
	rc = task_store_remove(tr->store, name);
	pthread_mutex_unlock(&t->save_mu);
	if (rc < 0)
		log_error("task %s: forgotten, but its files stay: %s", name, strerror(-rc));
	else
		log_info("task %s: removed", name);
	task_unref(t);
	return 0;
}

/* Extended attributes on a task folder and its video, for file managers
 * (KDE Dolphin shows user.xdg.comment) and getfattr. */
static const char *const xattr_names[] = {
	"user.xdg.comment", "user.veofs.status", "user.veofs.progress",
	"user.veofs.id", "user.veofs.model", NULL,
};

static bool xattr_target(uint64_t ino)
{
	return ino_is_task(ino) &&
	       (ino_task_file(ino) == TF_DIR || ino_task_file(ino) == TF_VIDEO);
}

/* Value of one attribute (t->mu held); NULL when it has none. */
static char *xattr_value(const struct task *t, const char *name)
{
	char *v = NULL;

	if (!strcmp(name, "user.xdg.comment"))
		v = xstrdup(t->prompt ? t->prompt : "");
	else if (!strcmp(name, "user.veofs.status")) {
		v = task_status_line(t);
		if (v)
			v[strcspn(v, "\n")] = '\0';
	} else if (!strcmp(name, "user.veofs.progress")) {
		v = xasprintf("%d", t->progress);
	} else if (!strcmp(name, "user.veofs.id"))
		v = xstrdup_or_null(t->id);
	else if (!strcmp(name, "user.veofs.model"))
		v = xstrdup_or_null(t->model);
	return v;
}

ssize_t tree_getxattr(struct tree *tr, uint64_t ino, const char *name, char *buf,
		      size_t size)
{
	struct task *t;
	char *v;
	ssize_t n;

	if (!xattr_target(ino))
		return -ENODATA;
	t = task_table_get_tid(tr->table, ino_task_tid(ino));
	if (!t)
		return -ENOENT;
	pthread_mutex_lock(&t->mu);
	v = xattr_value(t, name);
	pthread_mutex_unlock(&t->mu);
	task_unref(t);
	if (!v)
		return -ENODATA;
	n = (ssize_t)strlen(v);
	if (size && (size_t)n > size)
		n = -ERANGE;
	else if (size)
		memcpy(buf, v, (size_t)n);
	free(v);
	return n;
}

ssize_t tree_listxattr(struct tree *tr, uint64_t ino, char *buf, size_t size)
{
	struct task *t;
	size_t need = 0;

	if (!xattr_target(ino))
		return 0;
	t = task_table_get_tid(tr->table, ino_task_tid(ino));
	if (!t)
		return -ENOENT;
	pthread_mutex_lock(&t->mu);
	for (int i = 0; xattr_names[i]; i++) {
		char *v = xattr_value(t, xattr_names[i]);
		size_t len = strlen(xattr_names[i]) + 1;
		if (!v)
			continue;
		free(v);
		if (size && need + len <= size)
			memcpy(buf + need, xattr_names[i], len);
		need += len;
	}
	pthread_mutex_unlock(&t->mu);
	task_unref(t);
	if (size && need > size)
		return -ERANGE;
	return (ssize_t)need;
}

int tree_setattr_ctl(struct tree *tr, uint64_t ino, int only_size_or_times)
{
	/* "echo retry > ctl" may truncate it first: nothing to truncate. */
	if (ino_is_task(ino) && ino_task_file(ino) == TF_CTL && only_size_or_times)
		return 0;
	return -EACCES;
}

static int rename_on_disk(void *ctx, const char *from, const char *to)
{
	return task_store_rename(ctx, from, to);
}

int tree_rename(struct tree *tr, const char *from, const char *to, unsigned flags)
{
	char why[256], name[NAME_MAX + 1], probe[NAME_MAX + 16];
	struct task *t;
	int rc;

	/* (never NULL; said so for the sanitizer build's format check) */
	if (!from || !to || (flags & RENAME_EXCHANGE))
		return -EINVAL;
	if (!strcmp(from, "new") || !strcmp(to, "new"))
		return -EBUSY; /* the drop box stays where it is */
	if (!strcmp(from, to))
		return 0;
	/* A task may be renamed to anything a prompt could have named it. */
	snprintf(probe, sizeof(probe), "%s.prompt", to);
	if (strlen(to) > NAME_MAX - 7 ||
	    prompt_classify_name(probe, name, sizeof(name), why, sizeof(why)) != PROMPT_NAME_PROMPT) {
		log_info("task %s: rename to '%s' refused: %s", from, to,
			 why[0] ? why : "name too long");
		return -EINVAL;
	}
	t = task_table_get_name(tr->table, from);
	if (!t)
		return -ENOENT;
	/* No record write may be half-way through while the folder moves. */
	pthread_mutex_lock(&t->save_mu);
	rc = task_table_rename(tr->table, t, to, rename_on_disk, tr->store);
	pthread_mutex_unlock(&t->save_mu);
	if (rc == 0)
		log_info("task %s: renamed to %s", from, to);
	else
		log_info("task %s: rename to %s refused: %s", from, to, strerror(-rc));
	task_unref(t);
	return rc;
}

void tree_log_refusal(struct tree *tr, uint64_t ino, const char *name, const char *op,
		      int err)
{
	char where[NAME_MAX + 64] = "the mount root";
	struct task *t = NULL;

	if (ino_is_task(ino))
		t = task_table_get_tid(tr->table, ino_task_tid(ino));
	if (t) {
		pthread_mutex_lock(&t->mu);
		enum task_file f = ino_task_file(ino);
		snprintf(where, sizeof(where), "task %s%s%s", t->name,
			 f == TF_DIR ? "" : ": ", f == TF_DIR ? "" : task_file_name(t, f));
		pthread_mutex_unlock(&t->mu);
		task_unref(t);
	}
	const char *why = strerror(err);
	if (err == EACCES)
		why = ino_is_task(ino) && ino_task_file(ino) == TF_CTL
		      ? "ctl takes only commands (refresh, retry, cancel)"
		      : "read-only (only new/ and ctl take writes)";
	log_info("%s: %s%s%s refused: %s", where, op, name ? " " : "", name ? name : "", why);
}
