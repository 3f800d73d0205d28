#include "dropbox.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "engine.h"
#include "fsutil.h"
#include "owners.h"
#include "inode.h"
#include "kernel_notify.h"
#include "log.h"
#include "prompt.h"
#include "strmap.h"
#include "task_store.h"
#include "task_table.h"
#include "video_object.h"
#include "writer_copy.h"
#include "xalloc.h"

/* A prompt is at most 32000 characters (4 bytes each at worst) plus front
 * matter; anything bigger is refused without reading it all. */
#define PROMPT_FILE_MAX (256 * 1024)
#define IMAGE_MAX (20 * 1024 * 1024)
/* How long a prompt's name outlives its acceptance for lookup, stat,
 * chmod and touch (see struct ghost). */
#define GHOST_MS 3000

struct dnode {
	uint64_t ino;
	char *name;          /* current name in new/; authoritative, since only
				we change the backing directory */
	uint64_t nlookup;    /* kernel references */
	unsigned opens;
	bool unlinked;
	/* Unlinked because it became a task: a writer still holding it
	 * gets EEXIST at close, and its text is kept (see keep_conflict). */
	bool consumed;
	bool is_dir;         /* a staging folder new/NAME/ */
	bool ghost;          /* a struct ghost keeps it */
	uint32_t generation;
};

/* A prompt (or id) file that just became a task: its name stays
 * resolvable for GHOST_MS, while task NAME exists, so that what an editor
 * does right after its save by path (Emacs: chmod to the old mode) does
 * not fail. It is never listed (the file is gone from STATE_DIR/new);
 * stat shows the file as it was; chmod and touch succeed and change only
 * that picture; opening or truncating it fails with EEXIST, as creating
 * NAME.prompt does while task NAME exists. */
struct ghost {
	struct ghost *next;  /* db->ghosts, oldest first */
	char *name;
	char *task;
	struct dnode *node;
	struct stat st;
	int64_t until_ms;
};

struct dropbox_file {
	struct dropbox_file *prev, *next; /* db->files, under db->mu */
	int fd;
	struct dnode *node;
	bool dirty;          /* written or truncated since the last flush */
	/* Created (or truncated) by open and not flushed yet. Shells open,
	 * dup2 and close the first descriptor before writing, so a flush of
	 * an unwritten new file may be that close, not the user's: an empty
	 * prompt is still refused there, but quietly. */
	bool fresh;
	bool append;         /* opened O_APPEND */
	/* A quiet refusal (see fresh) not followed by a judged close: said
	 * in the log at release, so that every refusal is logged once. */
	char quiet_why[512];
	struct writer_copy copy; /* what this descriptor wrote, see writer_copy.h */
	bool has_copy;       /* else the file's bytes are judged */
};

struct dropbox {
	struct dropbox_options o;
	struct task_store *store;
	struct task_table *table;
	struct engine *engine;
	struct kernel_notify *notify;
	int dirfd;

	pthread_mutex_t mu;       /* nodes */
	struct dropbox_file *files; /* open now; freed at the end if the kernel
				      never released them */
	struct strmap *by_name;
	struct dnode **slots;     /* ino - INO_DROPBOX_BASE */
	size_t n_slots;
	uint32_t generation;
	struct strmap *ghost_by_name;
	struct ghost *ghosts, *ghosts_tail;

	pthread_mutex_t accept_mu; /* one acceptance at a time: names are
				      checked and taken atomically */
};

struct dropbox *dropbox_new(const struct dropbox_options *o, struct task_store *store,
			    struct task_table *table, struct engine *engine,
			    struct kernel_notify *notify)
{
	struct dropbox *db = calloc(1, sizeof(*db));

	if (!db)
		return NULL;
	db->o = *o;
	db->store = store;
	db->table = table;
	db->engine = engine;
	db->notify = notify;
	db->dirfd = task_store_new_dirfd(store);
	db->by_name = strmap_new();
	db->ghost_by_name = strmap_new();
	pthread_mutex_init(&db->mu, NULL);
	pthread_mutex_init(&db->accept_mu, NULL);
	if (!db->by_name || !db->ghost_by_name) {
		strmap_free(db->by_name);
		strmap_free(db->ghost_by_name);
	/* Files the kernel never released before the session ended. */
	while (db->files) {
		struct dropbox_file *f = db->files;
		db->files = f->next;
		close(f->fd);
		writer_copy_free(&f->copy);
		free(f);
	}
		free(db);
		return NULL;
	}
	return db;
}

void dropbox_free(struct dropbox *db)
{
	if (!db)
		return;
	while (db->ghosts) {
		struct ghost *g = db->ghosts;
		db->ghosts = g->next;
		free(g->name);
		free(g->task);
		free(g);
	}
	strmap_free(db->ghost_by_name);
	for (size_t i = 0; i < db->n_slots; i++) {
		if (db->slots[i]) {
			free(db->slots[i]->name);
			free(db->slots[i]);
		}
	}
	free(db->slots);
	strmap_free(db->by_name);
	pthread_mutex_destroy(&db->mu);
	pthread_mutex_destroy(&db->accept_mu);
	free(db);
}

static uint64_t hash_bytes(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static int accept_prompt(struct dropbox *db, const char *filename,
			 const struct writer_copy *copy, char *quiet);
static int accept_text(struct dropbox *db, const char *filename, const char *taskname,
		       const struct writer_copy *copy,
		       const char *stagedir, const char *as, char *quiet);
static const char *image_ext(const unsigned char *p, size_t n);
static void mark_consumed(struct dropbox *db, const char *filename);
static void forget_error_of(struct dropbox *db, const char *filename, bool staged);
static void notify_entry(struct dropbox *db, const char *name);
static void notify_gone(struct dropbox *db, const char *name, uint64_t ino);
static int keep_conflict(struct dropbox *db, const char *filename,
			 const struct writer_copy *copy, int fd);

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}
static int accept_id(struct dropbox *db, const char *filename, const char *taskname,
		     const char *as, char *quiet);

/* --- nodes (db->mu held) --- */

static struct dnode *node_by_ino(struct dropbox *db, uint64_t ino)
{
	uint64_t slot = ino - INO_DROPBOX_BASE;

	if (ino < INO_DROPBOX_BASE || slot >= db->n_slots)
		return NULL;
	return db->slots[slot];
}

static struct dnode *node_get(struct dropbox *db, const char *name)
{
	struct dnode *n = strmap_get(db->by_name, name);
	size_t slot;

	if (n)
		return n;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->name = xstrdup(name);
	for (slot = 0; slot < db->n_slots && db->slots[slot]; slot++)
		;
	if (slot == db->n_slots) {
		size_t cap = db->n_slots ? db->n_slots * 2 : 64;
		struct dnode **p = realloc(db->slots, cap * sizeof(*p));
		if (!p || !n->name) {
			free(p == db->slots ? NULL : p);
			free(n->name);
			free(n);
			return NULL;
		}
		memset(p + db->n_slots, 0, (cap - db->n_slots) * sizeof(*p));
		db->slots = p;
		db->n_slots = cap;
	}
	if (!n->name || strmap_put(db->by_name, name, n) < 0) {
		free(n->name);
		free(n);
		return NULL;
	}
	n->ino = INO_DROPBOX_BASE + slot;
	n->generation = ++db->generation;
	db->slots[slot] = n;
	return n;
}

static void node_maybe_free(struct dropbox *db, struct dnode *n)
{
	if (n->nlookup || n->opens || n->ghost)
		return;
	if (!n->unlinked && strmap_get(db->by_name, n->name) == n)
		strmap_remove(db->by_name, n->name);
	db->slots[n->ino - INO_DROPBOX_BASE] = NULL;
	free(n->name);
	free(n);
}

/* The name no longer exists in new/ (unlink, consumed, renamed over). */
static void node_detach(struct dropbox *db, const char *name)
{
	struct dnode *n = strmap_remove(db->by_name, name);

	if (n)
		n->unlinked = true;
}

/* A staging folder went: forget it and everything in it. */
static void detach_tree(struct dropbox *db, const char *dir)
{
	size_t n = strlen(dir);

	for (size_t i = 0; i < db->n_slots; i++) {
		struct dnode *d = db->slots[i];
		if (d && !d->unlinked && (!strcmp(d->name, dir) ||
					   (!strncmp(d->name, dir, n) && d->name[n] == '/')))
			node_detach(db, d->name);
	}
}

/* A staging folder was renamed: its files' names follow. */
static void rename_tree(struct dropbox *db, const char *from, const char *to)
{
	size_t n = strlen(from);

	for (size_t i = 0; i < db->n_slots; i++) {
		struct dnode *d = db->slots[i];
		char *nn;
		if (!d || d->unlinked || strncmp(d->name, from, n) || d->name[n] != '/')
			continue;
		nn = xasprintf("%s%s", to, d->name + n);
		strmap_remove(db->by_name, d->name);
		free(d->name);
		d->name = nn;
		strmap_put(db->by_name, nn, d);
	}
}

/* --- ghosts (db->mu held) --- */

/* The ghost no longer keeps its node (freed at the next sweep); returns
 * the node, which may now be unreferenced. */
static struct dnode *ghost_detach(struct dropbox *db, struct ghost *g)
{
	struct dnode *n = g->node;

	if (!n)
		return NULL;
	if (strmap_get(db->ghost_by_name, g->name) == g)
		strmap_remove(db->ghost_by_name, g->name);
	g->node = NULL;
	n->ghost = false;
	return n;
}

static void ghost_end(struct dropbox *db, struct ghost *g)
{
	struct dnode *n = ghost_detach(db, g);

	if (n)
		node_maybe_free(db, n);
}

/* Ghosts expire in the order they were made: drop the expired ones. */
static void ghost_sweep(struct dropbox *db)
{
	int64_t now = now_ms();

	while (db->ghosts && (!db->ghosts->node || db->ghosts->until_ms <= now)) {
		struct ghost *g = db->ghosts;
		db->ghosts = g->next;
		if (!db->ghosts)
			db->ghosts_tail = NULL;
		ghost_end(db, g);
		free(g->name);
		free(g->task);
		free(g);
	}
}

/* The live ghost named name, or NULL. */
static struct ghost *ghost_find(struct dropbox *db, const char *name)
{
	ghost_sweep(db);
	return strmap_get(db->ghost_by_name, name);
}

/* The live ghost that keeps node n, or NULL. */
static struct ghost *ghost_of(struct dropbox *db, struct dnode *n)
{
	struct ghost *g;

	if (!n || !n->ghost)
		return NULL;
	ghost_sweep(db);
	for (g = db->ghosts; g; g = g->next)
		if (g->node == n)
			return g;
	return NULL;
}

/* new/NAME, just consumed by task TASK, stays resolvable a little. n is
 * the node the kernel knows it by (NULL: a fresh one). */
static void ghost_add(struct dropbox *db, const char *name, const char *task,
		      struct dnode *n, const struct stat *st)
{
	struct ghost *g, *old;

	struct dnode *old_node = NULL;

	ghost_sweep(db);
	if ((old = strmap_get(db->ghost_by_name, name)))
		old_node = ghost_detach(db, old);
	if (old_node && old_node != n)
		node_maybe_free(db, old_node);
	if (!n) {
		n = node_get(db, name);
		if (!n)
			return;
		strmap_remove(db->by_name, name);
		n->unlinked = true;
		n->consumed = true;
	}
	for (old = db->ghosts; n->ghost && old; old = old->next)
		if (old->node == n)
			ghost_detach(db, old);
	g = calloc(1, sizeof(*g));
	if (!g)
		return;
	g->name = strdup(name);
	g->task = strdup(task);
	if (!g->name || !g->task || strmap_put(db->ghost_by_name, name, g) < 0) {
		free(g->name);
		free(g->task);
		free(g);
		node_maybe_free(db, n);
		return;
	}
	g->node = n;
	g->st = *st;
	g->st.st_ino = n->ino;
	g->st.st_nlink = 1;
	g->until_ms = now_ms() + GHOST_MS;
	n->ghost = true;
	if (db->ghosts_tail)
		db->ghosts_tail->next = g;
	else
		db->ghosts = g;
	db->ghosts_tail = g;
}

/* Lookup of a name that is not in new/: a ghost's, while its task is
 * there. */
static int ghost_lookup(struct dropbox *db, const char *name, uint64_t *ino, struct stat *st)
{
	struct ghost *g;
	struct task *t;
	char *task;

	pthread_mutex_lock(&db->mu);
	g = ghost_find(db, name);
	task = g ? strdup(g->task) : NULL;
	pthread_mutex_unlock(&db->mu);
	if (!task)
		return -ENOENT;
	t = task_table_get_name(db->table, task);
	free(task);
	if (!t)
		return -ENOENT;
	task_unref(t);
	pthread_mutex_lock(&db->mu);
	g = ghost_find(db, name);
	if (g) {
		g->node->nlookup++;
		*ino = g->node->ino;
		*st = g->st;
	}
	pthread_mutex_unlock(&db->mu);
	return g ? 0 : -ENOENT;
}

static void stat_fix(struct stat *st, uint64_t ino)
{
	st->st_ino = ino;
}

/* The path of parent/name relative to new/: staging folders are one level
 * deep, so parent is new/ or a folder in it. */
static int rel_path(struct dropbox *db, uint64_t parent, const char *name, char *out,
		    size_t len, bool *in_stage)
{
	struct dnode *d;
	int n;

	*in_stage = false;
	if (parent == INO_NEW) {
		n = snprintf(out, len, "%s", name);
	} else {
		pthread_mutex_lock(&db->mu);
		d = node_by_ino(db, parent);
		if (!d || d->unlinked || !d->is_dir) {
			pthread_mutex_unlock(&db->mu);
			return d && !d->is_dir ? -ENOTDIR : -ENOENT;
		}
		n = snprintf(out, len, "%s/%s", d->name, name);
		pthread_mutex_unlock(&db->mu);
		*in_stage = true;
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int dropbox_lookup(struct dropbox *db, const char *name, uint64_t *ino, struct stat *st)
{
	return dropbox_lookup_at(db, INO_NEW, name, ino, st);
}

int dropbox_lookup_at(struct dropbox *db, uint64_t parent, const char *name, uint64_t *ino,
		      struct stat *st)
{
	char rel[PATH_MAX];
	struct dnode *n;
	bool staged;
	int rc = rel_path(db, parent, name, rel, sizeof(rel), &staged);

	if (rc < 0)
		return rc;
	if (fstatat(db->dirfd, rel, st, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = -errno;
		return rc == -ENOENT && !staged ? ghost_lookup(db, rel, ino, st) : rc;
	}
	pthread_mutex_lock(&db->mu);
	n = node_get(db, rel);
	if (n) {
		n->nlookup++;
		n->is_dir = S_ISDIR(st->st_mode);
		*ino = n->ino;
		stat_fix(st, n->ino);
	}
	pthread_mutex_unlock(&db->mu);
	return n ? 0 : -ENOMEM;
}

void dropbox_forget(struct dropbox *db, uint64_t ino, uint64_t nlookup)
{
	struct dnode *n;

	pthread_mutex_lock(&db->mu);
	n = node_by_ino(db, ino);
	if (n) {
		n->nlookup = nlookup > n->nlookup ? 0 : n->nlookup - nlookup;
		node_maybe_free(db, n);
	}
	pthread_mutex_unlock(&db->mu);
}

/* Copy of a node's name, or NULL when gone. */
static char *node_name(struct dropbox *db, uint64_t ino, bool *unlinked)
{
	struct dnode *n;
	char *name = NULL;

	pthread_mutex_lock(&db->mu);
	n = node_by_ino(db, ino);
	if (n) {
		name = xstrdup(n->name);
		if (unlinked)
			*unlinked = n->unlinked;
	}
	pthread_mutex_unlock(&db->mu);
	return name;
}

int dropbox_getattr(struct dropbox *db, uint64_t ino, struct stat *st)
{
	bool unlinked = false;
	char *name = node_name(db, ino, &unlinked);
	struct ghost *g;
	int rc = 0;

	if (!name)
		return -ENOENT;
	if (unlinked) {
		pthread_mutex_lock(&db->mu);
		g = ghost_of(db, node_by_ino(db, ino));
		if (g)
			*st = g->st;
		pthread_mutex_unlock(&db->mu);
		if (g) {
			free(name);
			return 0;
		}
	}
	if (unlinked || fstatat(db->dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		rc = unlinked ? -ENOENT : -errno;
	else
		stat_fix(st, ino);
	free(name);
	return rc;
}

/* chmod and touch of a ghost succeed and change only its picture (an
 * editor restoring the mode it saw); truncating it is rewriting a prompt
 * whose task exists. */
static int ghost_setattr(struct dropbox *db, uint64_t ino, const struct stat *attr,
			 int to_set, struct stat *out)
{
	struct ghost *g;
	struct timespec now;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&db->mu);
	g = ghost_of(db, node_by_ino(db, ino));
	if (!g)
		rc = -ENOENT;
	else if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
		rc = -EPERM;
	else if (to_set & FUSE_SET_ATTR_SIZE)
		rc = -EEXIST;
	if (rc == 0) {
		if (to_set & FUSE_SET_ATTR_MODE)
			g->st.st_mode = (g->st.st_mode & S_IFMT) | (attr->st_mode & 07777);
		if (to_set & FUSE_SET_ATTR_ATIME)
			g->st.st_atim = (to_set & FUSE_SET_ATTR_ATIME_NOW) ? now : attr->st_atim;
		if (to_set & FUSE_SET_ATTR_MTIME)
			g->st.st_mtim = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? now : attr->st_mtim;
		g->st.st_ctim = now;
		*out = g->st;
	}
	pthread_mutex_unlock(&db->mu);
	return rc;
}

int dropbox_setattr(struct dropbox *db, uint64_t ino, struct dropbox_file *f,
		    const struct stat *attr, int to_set, struct stat *out)
{
	bool unlinked = false;
	char *name = node_name(db, ino, &unlinked);
	int fd = -1, rc = 0;

	if (!name)
		return -ENOENT;
	if (!f && unlinked) {
		free(name);
		return ghost_setattr(db, ino, attr, to_set, out);
	}
	if (f) {
		fd = f->fd;
	} else if (!unlinked) {
		/* truncate(2) by path needs a descriptor that may write. */
		fd = openat(db->dirfd, name, O_NOFOLLOW | O_CLOEXEC |
			    ((to_set & FUSE_SET_ATTR_SIZE) ? O_WRONLY : O_RDONLY | O_PATH));
	}
	if (fd < 0) {
		rc = unlinked ? -ENOENT : -errno;
		goto out;
	}
	if ((to_set & FUSE_SET_ATTR_UID) || (to_set & FUSE_SET_ATTR_GID)) {
		/* Files in new/ belong to the mount's owner. */
		rc = -EPERM;
		goto out;
	}
	/* A link has no mode of its own; fchmodat below would follow it. */
	if ((to_set & FUSE_SET_ATTR_MODE) && fstat(fd, out) == 0 && S_ISLNK(out->st_mode)) {
		rc = -EOPNOTSUPP;
		goto out;
	}
	if ((to_set & FUSE_SET_ATTR_MODE) && fchmod(fd, attr->st_mode & 07777) < 0 &&
	    !(errno == EBADF && fchmodat(db->dirfd, name, attr->st_mode & 07777, 0) == 0)) {
		rc = -errno;
		goto out;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		int wfd = f ? f->fd : fd;
		if (ftruncate(wfd, attr->st_size) < 0) {
			rc = -errno;
			goto out;
		}
		if (f) {
			writer_copy_truncate(&f->copy, attr->st_size);
			f->dirty = true;
		}
	}
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
		struct timespec tv[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};
		if (to_set & FUSE_SET_ATTR_ATIME_NOW)
			tv[0].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_ATIME)
			tv[0] = attr->st_atim;
		if (to_set & FUSE_SET_ATTR_MTIME_NOW)
			tv[1].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_MTIME)
			tv[1] = attr->st_mtim;
		if (utimensat(db->dirfd, name, tv, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = -errno;
			goto out;
		}
	}
	if (fstat(fd, out) < 0)
		rc = -errno;
	else
		stat_fix(out, ino);
out:
	if (fd >= 0 && (!f || fd != f->fd))
		close(fd);
	free(name);
	return rc;
}

/* Our own descriptor of a file opened write-only can still read it: the
 * writer's copy starts from what the file holds. */
static int readable(int flags)
{
	return (flags & O_ACCMODE) == O_WRONLY ? (flags & ~O_ACCMODE) | O_RDWR : flags;
}

static int file_new(struct dropbox *db, struct dnode *n, int fd, int flags, bool fresh,
		    struct dropbox_file **out)
{
	struct dropbox_file *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	/* Only a writer's words are judged; a reader's close judges nothing.
	 * The copy starts from what the file holds, as the writer sees it. */
	f->has_copy = (flags & O_ACCMODE) != O_RDONLY &&
		      writer_copy_init(&f->copy, fd, (flags & O_TRUNC) != 0,
				       PROMPT_FILE_MAX) == 0;
	f->append = (flags & O_APPEND) != 0;
	f->fd = fd;
	f->node = n;
	f->fresh = fresh;
	n->opens++;
	f->next = db->files;
	if (f->next)
		f->next->prev = f;
	db->files = f;
	*out = f;
	return 0;
}

enum entry_kind { ENTRY_SCRATCH, ENTRY_PROMPT, ENTRY_ID, ENTRY_REFUSED };

/* NAME.prompt submits; NAME.id attaches an existing provider task; both
 * follow the same rules for NAME. */
static enum entry_kind classify(const char *name, char *taskname, size_t len,
				char *why, size_t whylen)
{
	size_t n = strlen(name);
	enum prompt_name_kind k;

	if (n > 3 && !strcmp(name + n - 3, ".id")) {
		char probe[NAME_MAX + 16];
		snprintf(probe, sizeof(probe), "%.*s" PROMPT_SUFFIX, (int)(n - 3), name);
		k = prompt_classify_name(probe, taskname, len, why, whylen);
		return k == PROMPT_NAME_PROMPT ? ENTRY_ID :
		       k == PROMPT_NAME_REFUSED ? ENTRY_REFUSED : ENTRY_SCRATCH;
	}
	k = prompt_classify_name(name, taskname, len, why, whylen);
	return k == PROMPT_NAME_PROMPT ? ENTRY_PROMPT :
	       k == PROMPT_NAME_REFUSED ? ENTRY_REFUSED : ENTRY_SCRATCH;
}

/* -EINVAL for a refused name, 1 for a name that makes a task, else 0. */
static int refuse_name(const char *name, char *taskname, size_t len)
{
	char why[256];
	enum entry_kind k = classify(name, taskname, len, why, sizeof(why));

	if (k == ENTRY_REFUSED) {
		log_info("new/%s refused: %s", name, why);
		return -EINVAL;
	}
	return k == ENTRY_SCRATCH ? 0 : 1;
}

static int accept_entry(struct dropbox *db, const char *filename,
			const struct writer_copy *copy, char *quiet)
{
	char taskname[NAME_MAX + 1], why[256];
	const char *slash = strchr(filename, '/');

	/* new/NAME/prompt: the staging folder NAME becomes task NAME. */
	if (slash) {
		char dir[NAME_MAX + 1];
		if (strcmp(slash + 1, "prompt") || (size_t)(slash - filename) >= sizeof(dir))
			return 0;
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - filename), filename);
		return accept_text(db, filename, dir, copy, dir, NULL, quiet);
	}

	switch (classify(filename, taskname, sizeof(taskname), why, sizeof(why))) {
	case ENTRY_PROMPT:
		return accept_prompt(db, filename, copy, quiet);
	case ENTRY_ID:
		return accept_id(db, filename, taskname, NULL, quiet);
	default:
		return 0;
	}
}

int dropbox_create(struct dropbox *db, const char *name, mode_t mode, int flags,
		   uint64_t *ino, struct stat *st, struct dropbox_file **f)
{
	return dropbox_create_at(db, INO_NEW, name, mode, flags, ino, st, f);
}

int dropbox_create_at(struct dropbox *db, uint64_t parent, const char *name, mode_t mode,
		      int flags, uint64_t *ino, struct stat *st, struct dropbox_file **f)
{
	char taskname[NAME_MAX + 1], rel[PATH_MAX];
	struct task *t;
	struct dnode *n;
	bool staged;
	int fd, rc;

	rc = rel_path(db, parent, name, rel, sizeof(rel), &staged);
	if (rc < 0)
		return rc;
	/* Inside a staging folder every name is fine; "prompt" submits. */
	rc = staged ? 0 : refuse_name(name, taskname, sizeof(taskname));
	if (rc < 0)
		return rc;
	if (rc == 1 && (t = task_table_get_name(db->table, taskname))) {
		task_unref(t);
		log_info("new/%s refused: task %s already exists", name, taskname);
		return -EEXIST;
	}
	name = rel;
	fd = openat(db->dirfd, name, readable(flags & ~(O_NOFOLLOW | O_DIRECTORY)) | O_CREAT |
		    O_NOFOLLOW | O_CLOEXEC, (mode & 0777) | 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	pthread_mutex_lock(&db->mu);
	n = node_get(db, name);
	if (n) {
		n->unlinked = false;
		n->nlookup++;
		*ino = n->ino;
		stat_fix(st, n->ino);
		rc = file_new(db, n, fd, flags, true, f);
		if (rc < 0)
			n->nlookup--;
	} else {
		rc = -ENOMEM;
	}
	pthread_mutex_unlock(&db->mu);
	if (rc < 0)
		close(fd);
	return rc;
}

int dropbox_open(struct dropbox *db, uint64_t ino, int flags, struct dropbox_file **f)
{
	bool unlinked = false;
	char *name = node_name(db, ino, &unlinked);
	struct dnode *n;
	int fd, rc;

	if (!name)
		return -ENOENT;
	if (unlinked) {
		char *task = NULL;
		pthread_mutex_lock(&db->mu);
		struct ghost *g = ghost_of(db, node_by_ino(db, ino));
		if (g)
			task = xstrdup(g->task);
		pthread_mutex_unlock(&db->mu);
		/* The name became task NAME a moment ago: writing it again is
		 * creating NAME.prompt while task NAME exists. */
		if (task)
			log_info("new/%s refused: task %s already exists", name, task);
		free(task);
		free(name);
		return task ? -EEXIST : -ENOENT;
	}
	fd = openat(db->dirfd, name, readable(flags & ~(O_CREAT | O_EXCL | O_NOCTTY)) |
		    O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == EACCES && (flags & O_ACCMODE) == O_WRONLY)
		fd = openat(db->dirfd, name, (flags & ~(O_CREAT | O_EXCL | O_NOCTTY)) |
			    O_NOFOLLOW | O_CLOEXEC);
	free(name);
	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&db->mu);
	n = node_by_ino(db, ino);
	rc = n ? file_new(db, n, fd, flags, (flags & O_TRUNC) != 0, f) : -ENOENT;
	pthread_mutex_unlock(&db->mu);
	if (rc < 0)
		close(fd);
	return rc;
}

ssize_t dropbox_read(struct dropbox_file *f, char *buf, size_t size, off_t off)
{
	ssize_t n = pread(f->fd, buf, size, off);

	return n < 0 ? -errno : n;
}

ssize_t dropbox_write(struct dropbox_file *f, const char *buf, size_t size, off_t off)
{
	ssize_t n = pwrite(f->fd, buf, size, off);

	if (n < 0)
		return -errno;
	writer_copy_write(&f->copy, buf, (size_t)n, off, f->append);
	f->dirty = true;
	return n;
}

int dropbox_fsync(struct dropbox_file *f, int datasync)
{
	if ((datasync ? fdatasync(f->fd) : fsync(f->fd)) < 0)
		return -errno;
	return 0;
}

void dropbox_release(struct dropbox *db, struct dropbox_file *f)
{
	close(f->fd);
	writer_copy_free(&f->copy);
	pthread_mutex_lock(&db->mu);
	/* The last close was a quiet refusal (touch new/x.prompt, or a shell's
	 * ": > new/x.prompt"): it is the user's after all. Not when the
	 * prompt has become a task meanwhile. */
	if (f->quiet_why[0] && !f->node->consumed)
		log_info("%s", f->quiet_why);
	f->node->opens--;
	node_maybe_free(db, f->node);
	if (f->prev)
		f->prev->next = f->next;
	else
		db->files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	pthread_mutex_unlock(&db->mu);
	free(f);
}

int dropbox_flush(struct dropbox *db, struct dropbox_file *f)
{
	char *name;
	bool unlinked, consumed, wrote = f->dirty, quiet = !f->dirty;
	char quiet_why[sizeof(f->quiet_why)] = "";
	int rc;

	if (!f->dirty && !f->fresh)
		return 0;
	f->dirty = false;
	f->fresh = false;
	pthread_mutex_lock(&db->mu);
	name = xstrdup(f->node->name);
	unlinked = f->node->unlinked;
	pthread_mutex_unlock(&db->mu);
	if (!name)
		return -ENOMEM;
	rc = unlinked ? 0 : accept_entry(db, name, f->has_copy ? &f->copy : NULL,
					 quiet ? quiet_why : NULL);
	/* A judged close speaks for this file; a quiet one is kept for
	 * release in case no judged close follows. */
	snprintf(f->quiet_why, sizeof(f->quiet_why), "%s", quiet ? quiet_why : "");
	/* Another writer's close (or this description's earlier one) made
	 * the task meanwhile: this writer's words were not what was sent. */
	pthread_mutex_lock(&db->mu);
	consumed = f->node->consumed;
	pthread_mutex_unlock(&db->mu);
	if (consumed && wrote && (unlinked || rc == -EEXIST))
		rc = keep_conflict(db, name, f->has_copy ? &f->copy : NULL, f->fd);
	free(name);
	return rc;
}

int dropbox_unlink(struct dropbox *db, const char *name)
{
	return dropbox_unlink_at(db, INO_NEW, name);
}

int dropbox_unlink_at(struct dropbox *db, uint64_t parent, const char *name)
{
	char rel[PATH_MAX];
	bool staged;
	int rc = rel_path(db, parent, name, rel, sizeof(rel), &staged);

	if (rc < 0)
		return rc;
	if (unlinkat(db->dirfd, rel, 0) < 0) {
		struct ghost *g;
		rc = -errno;
		if (rc != -ENOENT || staged)
			return rc;
		/* rm of a name that just became a task: it is gone. */
		pthread_mutex_lock(&db->mu);
		g = ghost_find(db, rel);
		if (g)
			ghost_end(db, g);
		pthread_mutex_unlock(&db->mu);
		return g ? 0 : rc;
	}
	pthread_mutex_lock(&db->mu);
	node_detach(db, rel);
	pthread_mutex_unlock(&db->mu);
	forget_error_of(db, rel, staged);
	return 0;
}

int dropbox_symlink_at(struct dropbox *db, uint64_t parent, const char *name,
		       const char *target, uint64_t *ino, struct stat *st)
{
	char rel[PATH_MAX], taskname[NAME_MAX + 1], why[256];
	bool staged;
	int rc = rel_path(db, parent, name, rel, sizeof(rel), &staged);

	if (rc < 0)
		return rc;
	/* Only names that never submit: an editor's lock (.#NAME.prompt,
	 * which as a prompt name would be refused). */
	enum entry_kind k = staged ? (!strcmp(name, "prompt") ? ENTRY_PROMPT : ENTRY_SCRATCH)
				   : classify(name, taskname, sizeof(taskname), why, sizeof(why));
	if (k == ENTRY_PROMPT || k == ENTRY_ID) {
		log_info("new/%s refused: a symbolic link can only have a scratch name, "
			 "never one that submits", rel);
		return -EPERM;
	}
	if (symlinkat(target, db->dirfd, rel) < 0)
		return -errno;
	return dropbox_lookup_at(db, parent, name, ino, st);
}

ssize_t dropbox_readlink(struct dropbox *db, uint64_t ino, char *buf, size_t size)
{
	bool unlinked = false;
	char *name = node_name(db, ino, &unlinked);
	ssize_t n;

	if (!name || unlinked) {
		free(name);
		return -ENOENT;
	}
	n = readlinkat(db->dirfd, name, buf, size);
	if (n < 0)
		n = errno == EINVAL ? -EINVAL : -errno;
	free(name);
	return n;
}

int dropbox_mkdir_at(struct dropbox *db, uint64_t parent, const char *name, mode_t mode,
		     uint64_t *ino, struct stat *st)
{
	char taskname[NAME_MAX + 1], why[256], probe[NAME_MAX + 16];
	struct task *t;

	/* Staging folders are one level deep and named like the task. */
	if (parent != INO_NEW)
		return -EPERM;
	snprintf(probe, sizeof(probe), "%s" PROMPT_SUFFIX, name);
	if (strlen(name) > NAME_MAX - 7 ||
	    prompt_classify_name(probe, taskname, sizeof(taskname), why, sizeof(why)) !=
	    PROMPT_NAME_PROMPT) {
		log_info("new/%s/ refused: %s", name, why);
		return -EINVAL;
	}
	if ((t = task_table_get_name(db->table, taskname))) {
		task_unref(t);
		log_info("new/%s/ refused: task %s already exists", name, taskname);
		return -EEXIST;
	}
	if (mkdirat(db->dirfd, name, (mode & 0777) | 0700) < 0)
		return -errno;
	return dropbox_lookup_at(db, INO_NEW, name, ino, st);
}

int dropbox_rmdir_at(struct dropbox *db, uint64_t parent, const char *name)
{
	if (parent != INO_NEW)
		return -ENOENT;
	if (unlinkat(db->dirfd, name, AT_REMOVEDIR) < 0)
		return -errno;
	pthread_mutex_lock(&db->mu);
	detach_tree(db, name);
	pthread_mutex_unlock(&db->mu);
	return 0;
}

int dropbox_rename(struct dropbox *db, const char *from, const char *to, unsigned flags)
{
	return dropbox_rename_at(db, INO_NEW, from, INO_NEW, to, flags);
}

/* Renaming a file onto NAME.prompt (or NAME.id) is how editors save, and it
 * submits. The text is judged where it is, before anything moves, so that
 * a refused rename changes nothing: the source keeps its name and text, the
 * rename fails (EPERM, or EEXIST for a name taken) and NAME.error says why. Accepted,
 * the source is consumed and what the target name held goes, as the rename
 * would have left it. */
static int rename_into_task(struct dropbox *db, const char *from, const char *to,
			    const char *taskname, unsigned flags)
{
	char why[256], probe[NAME_MAX + 1];
	struct stat st;
	int rc;

	if (fstatat(db->dirfd, to, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (flags & RENAME_NOREPLACE)
			return -EEXIST;
		if (S_ISDIR(st.st_mode))
			return -EISDIR;
	}
	if (classify(to, probe, sizeof(probe), why, sizeof(why)) == ENTRY_ID)
		rc = accept_id(db, from, taskname, to, NULL);
	else
		rc = accept_text(db, from, taskname, NULL, NULL, to, NULL);
	/* rename(2)'s EINVAL reads "cannot move to a subdirectory of itself"
	 * in mv: a refused text is "Operation not permitted" there, with
	 * NAME.error saying why. */
	if (rc == -EINVAL)
		return -EPERM;
	if (rc < 0)
		return rc;
	if (fstatat(db->dirfd, from, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0; /* not consumed: nothing was done */
	if (unlinkat(db->dirfd, to, 0) == 0) {
		pthread_mutex_lock(&db->mu);
		node_detach(db, to);
		pthread_mutex_unlock(&db->mu);
		notify_entry(db, to);
	}
	return 0;
}

int dropbox_rename_at(struct dropbox *db, uint64_t parent, const char *from_name,
		      uint64_t newparent, const char *to_name, unsigned flags)
{
	char taskname[NAME_MAX + 1], from[PATH_MAX], to[PATH_MAX];
	struct task *t;
	struct dnode *n;
	bool from_staged, to_staged;
	struct stat st;
	int rc;

	if (flags & ~RENAME_NOREPLACE)
		return -EINVAL; /* RENAME_EXCHANGE would swap a prompt out unseen */
	rc = rel_path(db, parent, from_name, from, sizeof(from), &from_staged);
	if (rc == 0)
		rc = rel_path(db, newparent, to_name, to, sizeof(to), &to_staged);
	if (rc < 0)
		return rc;
	if (fstatat(db->dirfd, from, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode)) {
		/* A staging folder may be renamed ("New Folder" -> "cow"),
		 * only within new/, to a name a task could have. */
		char probe[NAME_MAX + 16], why[256];
		if (to_staged || from_staged)
			return -EPERM;
		if (strlen(to) > NAME_MAX - 7)
			return -EINVAL;
		snprintf(probe, sizeof(probe), "%.*s" PROMPT_SUFFIX, NAME_MAX - 7, to);
		if (
		    prompt_classify_name(probe, taskname, sizeof(taskname), why, sizeof(why)) !=
		    PROMPT_NAME_PROMPT)
			return -EINVAL;
		if ((t = task_table_get_name(db->table, taskname))) {
			task_unref(t);
			return -EEXIST;
		}
		rc = fs_rename_noreplace(db->dirfd, from, db->dirfd, to);
		if (rc < 0)
			return rc;
		pthread_mutex_lock(&db->mu);
		n = strmap_remove(db->by_name, from);
		if (n) {
			free(n->name);
			n->name = xstrdup(to);
			strmap_put(db->by_name, to, n);
		}
		rename_tree(db, from, to);
		pthread_mutex_unlock(&db->mu);
		return 0;
	}
	rc = to_staged ? (!strcmp(to_name, "prompt") ? 1 : 0)
		       : refuse_name(to, taskname, sizeof(taskname));
	if (rc < 0)
		return rc;
	if (rc == 1 && S_ISLNK(st.st_mode)) {
		log_info("new/%s refused: a symbolic link is never a prompt (veofs does not "
			 "follow links in new/)", to);
		return -EPERM;
	}
	bool is_prompt = rc == 1 && !to_staged;
	if (is_prompt && (t = task_table_get_name(db->table, taskname))) {
		task_unref(t);
		log_info("new/%s refused: task %s already exists", to, taskname);
		return -EEXIST;
	}
	if (is_prompt)
		return rename_into_task(db, from, to, taskname, flags);
	if (flags & RENAME_NOREPLACE) {
		int r = fs_rename_noreplace(db->dirfd, from, db->dirfd, to);
		if (r < 0)
			return r;
	} else if (renameat(db->dirfd, from, db->dirfd, to) < 0) {
		return -errno;
	}
	pthread_mutex_lock(&db->mu);
	node_detach(db, to);
	n = strmap_remove(db->by_name, from);
	if (n) {
		free(n->name);
		n->name = xstrdup(to);
		strmap_put(db->by_name, to, n);
	}
	pthread_mutex_unlock(&db->mu);
	forget_error_of(db, from, from_staged);
	/* Renaming into a staging folder's prompt submits the folder. */
	return rc == 1 ? accept_entry(db, to, NULL, NULL) : 0;
}

int dropbox_readdir(struct dropbox *db, off_t off,
		    int (*fill)(void *ctx, const char *name, const struct stat *st, off_t next),
		    void *ctx)
{
	return dropbox_readdir_at(db, INO_NEW, off, fill, ctx);
}

int dropbox_readdir_at(struct dropbox *db, uint64_t ino, off_t off,
		       int (*fill)(void *ctx, const char *name, const struct stat *st, off_t next),
		       void *ctx)
{
	char rel[PATH_MAX] = ".";
	int fd;
	DIR *d;

	if (ino != INO_NEW) {
		pthread_mutex_lock(&db->mu);
		struct dnode *n = node_by_ino(db, ino);
		if (!n || n->unlinked || !n->is_dir) {
			pthread_mutex_unlock(&db->mu);
			return n && !n->is_dir ? -ENOTDIR : -ENOENT;
		}
		snprintf(rel, sizeof(rel), "%s", n->name);
		pthread_mutex_unlock(&db->mu);
	}
	fd = openat(db->dirfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	/* Cookies are the backing directory's own positions, "." and ".."
	 * included, so they can never collide with ones we made up. */
	if (off > 0)
		seekdir(d, off);
	while ((de = readdir(d)) != NULL) {
		struct stat st = {0};
		st.st_ino = de->d_ino;
		st.st_mode = (mode_t)(de->d_type << 12);
		if (!strcmp(de->d_name, "."))
			st.st_ino = ino;
		else if (!strcmp(de->d_name, ".."))
			st.st_ino = ino == INO_NEW ? INO_ROOT : INO_NEW;
		if (fill(ctx, de->d_name, &st, telldir(d)))
			break;
	}
	closedir(d);
	return 0;
}

/* --- acceptance --- */

static void error_file_name(const char *taskname, char *out, size_t len)
{
	snprintf(out, len, "%s.error", taskname);
}

static void notify_entry(struct dropbox *db, const char *name)
{
	if (db->notify)
		kernel_notify_entry(db->notify, INO_NEW, name);
}

/* new/NAME, which the kernel knew as ino (0: not known), went behind the
 * kernel's back: it is deleted there, and watchers of new/ see IN_DELETE. */
static void notify_gone(struct dropbox *db, const char *name, uint64_t ino)
{
	if (!db->notify || strchr(name, '/'))
		return;
	if (ino)
		kernel_notify_delete(db->notify, INO_NEW, ino, name);
	else
		kernel_notify_entry(db->notify, INO_NEW, name);
}

static void write_error_file(struct dropbox *db, const char *taskname, const char *reason)
{
	char name[NAME_MAX + 16], err[256];
	char *text = xasprintf("%s\n", reason);
	size_t n = strlen(text);

	error_file_name(taskname, name, sizeof(name));
	if (fs_write_replace(db->dirfd, name, text, (size_t)n, err, sizeof(err)) < 0)
		log_error("new/%s: %s", name, err);
	/* As readable as the prompt it explains (they are written 0600). */
	else if (fchmodat(db->dirfd, name, 0644, 0) < 0)
		log_warn("new/%s: %s", name, strerror(errno));
	free(text);
	/* The file was replaced under any cached size: drop it. */
	pthread_mutex_lock(&db->mu);
	struct dnode *node = strmap_get(db->by_name, name);
	uint64_t ino = node ? node->ino : 0;
	pthread_mutex_unlock(&db->mu);
	if (ino && db->notify)
		kernel_notify_attr(db->notify, ino);
}

static void remove_error_file(struct dropbox *db, const char *taskname)
{
	char name[NAME_MAX + 16];

	error_file_name(taskname, name, sizeof(name));
	if (unlinkat(db->dirfd, name, 0) == 0) {
		pthread_mutex_lock(&db->mu);
		struct dnode *n = strmap_get(db->by_name, name);
		uint64_t ino = n ? n->ino : 0;
		node_detach(db, name);
		pthread_mutex_unlock(&db->mu);
		notify_gone(db, name, ino);
	}
}

static const char *image_ext(const unsigned char *p, size_t n)
{
	if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8))
		return "png";
	if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return "jpg";
	if (n >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4))
		return "webp";
	if (n >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6)))
		return "gif";
	return NULL;
}

static bool path_escapes(const char *path)
{
	const char *p = path;

	while (*p) {
		const char *end = strchrnul(p, '/');
		if (end - p == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}

/* Read new/REL (a prompt, an id, an image a prompt names) without
 * following a symbolic link anywhere on the way: links in new/ are
 * scratch (an editor's lock), and renaming one onto NAME.prompt, or naming
 * one in image:, must never make veofs read what it points at. As
 * fs_read_all otherwise: -ELOOP for a link. */
static int read_in_new(struct dropbox *db, const char *rel, size_t max, char **out,
		       size_t *len)
{
	struct open_how how = {
		.flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	struct stat st;
	int fd, rc;

	*out = NULL;
	*len = 0;
	fd = (int)syscall(SYS_openat2, db->dirfd, rel, &how, sizeof(how));
	if (fd < 0 && (errno == ENOSYS || errno == EPERM)) {
		/* No openat2 (before Linux 5.6, or a seccomp filter): only
		 * names of new/ itself and of staging folders, checked one
		 * component at a time. */
		const char *slash = strchr(rel, '/');
		char dir[PATH_MAX];
		if (slash) {
			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - rel), rel);
			if (strchr(slash + 1, '/') ||
			    fstatat(db->dirfd, dir, &st, AT_SYMLINK_NOFOLLOW) < 0)
				return -ENOENT;
			if (!S_ISDIR(st.st_mode))
				return S_ISLNK(st.st_mode) ? -ELOOP : -ENOTDIR;
		}
		fd = openat(db->dirfd, rel, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0)
		return errno == EXDEV ? -ENOENT : -errno;
	rc = fs_read_fd(fd, max, out, len);
	close(fd);
	return rc;
}

/* Read the image a prompt names; relative paths are files in new/. */
static int read_image(struct dropbox *db, const char *path, char **data, size_t *len,
		      const char **ext, char *err, size_t errlen)
{
	int rc;

	if (path[0] != '/' && path_escapes(path)) {
		snprintf(err, errlen, "image '%s': a relative image path must name a file in new/",
			 path);
		return -EINVAL;
	}
	rc = path[0] == '/' ? fs_read_all(AT_FDCWD, path, IMAGE_MAX, data, len)
			    : read_in_new(db, path, IMAGE_MAX, data, len);
	if (rc == -ELOOP && path[0] != '/') {
		snprintf(err, errlen, "image '%s' is a symbolic link in new/; veofs never follows "
			 "those", path);
		return -EINVAL;
	}
	if (rc == -EFBIG) {
		snprintf(err, errlen, "image '%s' is larger than %d MB", path, IMAGE_MAX >> 20);
		return -EINVAL;
	}
	if (rc == -EISDIR) {
		snprintf(err, errlen, "image '%s' is a directory", path);
		return -EINVAL;
	}
	if (rc < 0) {
		snprintf(err, errlen, "cannot read image '%s': %s", path, strerror(-rc));
		return -EINVAL;
	}
	*ext = image_ext((const unsigned char *)*data, *len);
	if (!*ext) {
		snprintf(err, errlen, "image '%s' is not a PNG, JPEG, WebP or GIF file", path);
		free(*data);
		*data = NULL;
		return -EINVAL;
	}
	return 0;
}

/* The task is durable: show it, let the drop box forget its source (the
 * prompt or id file, or the whole staging folder) and start work on it. */
static void publish_task(struct dropbox *db, struct task *t, const char *filename,
			 const char *stagedir, const char *as)
{
	int rc = task_table_insert(db->table, t);
	struct stat st;
	struct dnode *n;
	uint64_t ino;

	if (rc < 0) /* durable already: it shows at the next mount at worst */
		log_error("task %s: stored but not shown: %s", t->name, strerror(-rc));
	if (stagedir) {
		fs_remove_tree(db->dirfd, stagedir);
		pthread_mutex_lock(&db->mu);
		n = strmap_get(db->by_name, stagedir);
		ino = n ? n->ino : 0;
		mark_consumed(db, filename);
		detach_tree(db, stagedir);
		pthread_mutex_unlock(&db->mu);
		notify_gone(db, stagedir, ino);
	} else {
		bool seen = fstatat(db->dirfd, filename, &st, AT_SYMLINK_NOFOLLOW) == 0;
		if (unlinkat(db->dirfd, filename, 0) == 0) {
			pthread_mutex_lock(&db->mu);
			n = strmap_get(db->by_name, filename);
			ino = n ? n->ino : 0;
			mark_consumed(db, filename);
			node_detach(db, filename);
			if (seen)
				ghost_add(db, as ? as : filename, t->name, n, &st);
			pthread_mutex_unlock(&db->mu);
			notify_gone(db, as ? as : filename, ino);
		}
	}
	remove_error_file(db, t->name);
	if (db->engine)
		engine_kick(db->engine, t);
	if (db->notify)
		kernel_notify_attr(db->notify, INO_ROOT);
}

/* db->mu held. */
static void mark_consumed(struct dropbox *db, const char *filename)
{
	struct dnode *n = strmap_get(db->by_name, filename);

	if (n)
		n->consumed = true;
}

/* A writer closed a prompt that another writer's close had already made
 * into its task. Its text is not dropped: it is kept under a scratch name
 * (NAME.prompt.conflict, then .conflict.2, ...) and NAME.error says where.
 * -EEXIST for that close, or the error that stopped the keeping. */
static int keep_conflict(struct dropbox *db, const char *filename,
			 const struct writer_copy *copy, int file_fd)
{
	struct writer_copy from_file;

	/* Without a copy of its own, the writer's descriptor still holds its
	 * bytes (the file it wrote, now unlinked). */
	if (!copy) {
		if (writer_copy_init(&from_file, file_fd, false, PROMPT_FILE_MAX) < 0)
			from_file.too_big = true;
		copy = &from_file;
	}
	char taskname[NAME_MAX + 1], keep[NAME_MAX + 32], why[NAME_MAX * 4 + 256];
	const char *slash = strchr(filename, '/');
	int fd = -1, rc = -EEXIST;

	if (slash)
		snprintf(taskname, sizeof(taskname), "%.*s", (int)(slash - filename), filename);
	else
		snprintf(taskname, sizeof(taskname), "%.*s",
			 (int)(strlen(filename) - strlen(PROMPT_SUFFIX)), filename);
	for (int i = 1; i < 100 && fd < 0; i++) {
		if (i == 1)
			snprintf(keep, sizeof(keep), "%s" PROMPT_SUFFIX ".conflict", taskname);
		else
			snprintf(keep, sizeof(keep), "%s" PROMPT_SUFFIX ".conflict.%d", taskname, i);
		fd = openat(db->dirfd, keep, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0644);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		rc = -errno;
		snprintf(why, sizeof(why), "task '%s' was already made from new/%s by another "
			 "writer, and this writer's text could not be kept: %s",
			 taskname, filename, strerror(errno));
	} else {
		bool ok = copy->too_big ? false :
			  fs_pwrite_all(fd, copy->buf, copy->len, 0) == 0 && fsync(fd) == 0;
		if (!ok)
			rc = copy->too_big ? -EFBIG : -errno;
		close(fd);
		if (ok)
			snprintf(why, sizeof(why), "task '%s' was already made from new/%s by "
				 "another writer; this writer's text was not sent and is kept in "
				 "new/%s (rename it to another NAME.prompt to submit it)",
				 taskname, filename, keep);
		else
			snprintf(why, sizeof(why), "task '%s' was already made from new/%s by "
				 "another writer; this writer's text %s", taskname, filename,
				 copy->too_big ? "was too large to be a prompt" : "could not be kept");
		notify_entry(db, keep);
	}
	log_info("new/%s: %s", filename, why);
	write_error_file(db, taskname, why);
	if (copy == &from_file)
		writer_copy_free(&from_file);
	return rc;
}

/* A NAME.error explains NAME.prompt (or new/NAME/prompt): when that file
 * is deleted or renamed away, its explanation goes too. */
static void forget_error_of(struct dropbox *db, const char *filename, bool staged)
{
	char taskname[NAME_MAX + 1], why[256];
	const char *slash = strchr(filename, '/');

	if (staged) {
		if (!slash || strcmp(slash + 1, "prompt") ||
		    (size_t)(slash - filename) >= sizeof(taskname))
			return;
		snprintf(taskname, sizeof(taskname), "%.*s", (int)(slash - filename), filename);
	} else if (prompt_classify_name(filename, taskname, sizeof(taskname), why,
					sizeof(why)) != PROMPT_NAME_PROMPT) {
		return;
	}
	remove_error_file(db, taskname);
}

/* quiet: a close that may not be the user's (see dropbox_file.fresh);
 * the reason is kept there, and logged at release unless a later close
 * of the same file is judged (and logged) itself. */
static void log_refusal(const char *filename, const char *why, char *quiet)
{
	if (quiet) {
		snprintf(quiet, sizeof(((struct dropbox_file *)0)->quiet_why),
			 "new/%s refused: %s", filename, why);
		log_debug("%s", quiet);
	} else {
		log_info("new/%s refused: %s", filename, why);
	}
}

int dropbox_accept(struct dropbox *db, const char *filename)
{
	return accept_prompt(db, filename, NULL, NULL);
}

static int accept_prompt(struct dropbox *db, const char *filename,
			 const struct writer_copy *copy, char *quiet)
{
	char taskname[NAME_MAX + 1], why[256];

	if (prompt_classify_name(filename, taskname, sizeof(taskname), why, sizeof(why)) !=
	    PROMPT_NAME_PROMPT)
		return -EINVAL;
	return accept_text(db, filename, taskname, copy, NULL, NULL, quiet);
}

/* The first image file of a staging folder, by name: what a user dropped
 * in. NULL when there is none. */
static char *first_image_in(struct dropbox *db, const char *dir)
{
	int fd = openat(db->dirfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char *found = NULL, **names = NULL;
	size_t count = 0;
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return NULL;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, "prompt"))
			continue;
		char **p = realloc(names, (count + 1) * sizeof(*p));
		if (!p)
			break;
		names = p;
		names[count++] = xstrdup(de->d_name);
	}
	if (names)
		qsort(names, count, sizeof(*names), compare_strings);
	for (size_t i = 0; i < count; i++) {
		unsigned char head[12];
		int f = found ? -1 : openat(dirfd(d), names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (f >= 0) {
			struct stat st;
			if (fstat(f, &st) == 0 && S_ISREG(st.st_mode) &&
			    read(f, head, sizeof(head)) == (ssize_t)sizeof(head) &&
			    image_ext(head, sizeof(head)))
				found = xasprintf("%s/%s", dir, names[i]);
			close(f);
		}
		free(names[i]);
	}
	free(names);
	closedir(d);
	return found;
}

/* Accept the prompt text in FILENAME (relative to new/) as task TASKNAME.
 * For a staging folder, stagedir names it: relative image paths are taken
 * from it, its first image is sent when the prompt names none, and the
 * whole folder goes once the task exists. */
/* copy: the closing writer's own text, judged instead of the file's bytes
 * (NULL: read the file, as for a rename or at start). */
/* as: the name the kernel shows the accepted file under (a rename's
 * target), NULL for filename itself. */
static int accept_text(struct dropbox *db, const char *filename, const char *taskname,
		       const struct writer_copy *copy, const char *stagedir, const char *as,
		       char *quiet)
{
	char why[512] = "", warn[256] = "";
	struct prompt_spec spec = {0};
	char *text = NULL, *image = NULL, *image_path = NULL;
	size_t len = 0, image_len = 0;
	const char *ext = NULL;
	struct task *t = NULL;
	int rc;

	pthread_mutex_lock(&db->accept_mu);
	if ((t = task_table_get_name(db->table, taskname))) {
		task_unref(t);
		t = NULL;
		snprintf(why, sizeof(why), "task '%s' already exists", taskname);
		rc = -EEXIST;
		goto refused;
	}
	if (!copy) {
		rc = read_in_new(db, filename, PROMPT_FILE_MAX, &text, &len);
	} else if (copy->too_big) {
		rc = -EFBIG;
	} else if (!(text = malloc(copy->len + 1))) {
		rc = -ENOMEM;
	} else {
		if (copy->len)
			memcpy(text, copy->buf, copy->len);
		text[copy->len] = '\0';
		len = copy->len;
		rc = 0;
	}
	if (rc == -EFBIG) {
		snprintf(why, sizeof(why), "prompt file is larger than %d KiB; a prompt is at most %d characters",
			 PROMPT_FILE_MAX / 1024, PROMPT_MAX_CHARS);
		rc = -EINVAL;
		goto refused;
	}
	if (rc == -ELOOP) {
		snprintf(why, sizeof(why), "a symbolic link is never a prompt (veofs does not "
			 "follow links in new/)");
		rc = -EINVAL;
		goto refused;
	}
	if (rc < 0) {
		snprintf(why, sizeof(why), "cannot read the prompt: %s", strerror(-rc));
		rc = rc == -ENOENT ? 0 : -EIO; /* consumed meanwhile: nothing to do */
		if (rc == 0)
			goto out;
		goto refused;
	}
	if (prompt_parse(text, len, &spec, warn, sizeof(warn), why, sizeof(why)) < 0) {
		rc = -EINVAL;
		goto refused;
	}
	if (warn[0])
		log_warn("task %s: %s", taskname, warn);
	if (spec.image && (!strncmp(spec.image, "http://", 7) || !strncmp(spec.image, "https://", 8))) {
		/* sent as a URL string; the provider fetches it */
	} else if (spec.image) {
		if (stagedir && spec.image[0] != '/')
			image_path = xasprintf("%s/%s", stagedir, spec.image);
		if (read_image(db, image_path ? image_path : spec.image, &image, &image_len,
			       &ext, why, sizeof(why)) < 0) {
			rc = -EINVAL;
			goto refused;
		}
	} else if (stagedir && (image_path = first_image_in(db, stagedir))) {
		if (read_image(db, image_path, &image, &image_len, &ext, why, sizeof(why)) < 0) {
			rc = -EINVAL;
			goto refused;
		}
	}

	t = task_new(taskname);
	if (!t) {
		rc = -ENOMEM;
		snprintf(why, sizeof(why), "out of memory");
		goto refused;
	}
	t->prompt = spec.text;
	spec.text = NULL;
	t->model = xstrdup(spec.model ? spec.model : db->o.model);
	t->seconds = xstrdup(spec.seconds ? spec.seconds : db->o.seconds);
	t->size = xstrdup(spec.size ? spec.size : db->o.size);
	t->watermark = spec.watermark >= 0 ? spec.watermark : db->o.watermark;
	if (spec.image && !image)
		t->image_url = xstrdup(spec.image);
	t->resolution = spec.resolution;
	t->negative_prompt = spec.negative_prompt;
	spec.resolution = spec.negative_prompt = NULL;
	if (image)
		t->image_file = xasprintf("image.%s", ext);
	t->image_size = (int64_t)image_len;
	t->source_hash = hash_bytes(text, len);
	t->created = time(NULL);
	t->state = TASK_PENDING;
	task_event_append(t, NULL);
	owners_take_from_file(db->o.owners, t, db->dirfd, filename);

	rc = task_store_create(db->store, t, image, image_len, why, sizeof(why));
	t->events_durable = t->events_len; /* written with the task */
	if (rc < 0) {
		/* The errno close() returns must agree with NAME.error: a full
		 * disk or quota, or running out of descriptors or memory, is
		 * said as such; anything else is EIO. */
		if (rc != -EEXIST && rc != -ENOSPC && rc != -EDQUOT && rc != -EMFILE &&
		    rc != -ENFILE && rc != -ENOMEM)
			rc = -EIO;
		goto refused;
	}
	log_info("task %s: accepted (%s, %s s, %s%s)", taskname, t->model, t->seconds,
		 t->size, t->image_file || t->image_url ? ", with an image" : "");
	publish_task(db, t, filename, stagedir, as);
	goto out;

refused:
	log_refusal(filename, why, quiet);
	write_error_file(db, taskname, why);
out:
	pthread_mutex_unlock(&db->accept_mu);
	task_unref(t);
	prompt_spec_free(&spec);
	free(text);
	free(image);
	free(image_path);
	return rc;
}

static bool id_valid(const char *id)
{
	return video_id_valid(id, strlen(id));
}

/* new/NAME.id: follow a task that already exists at the provider (made
 * elsewhere, or before a crash lost track of it). Nothing is created or
 * paid: the task starts as queued and is polled. */
static int accept_id(struct dropbox *db, const char *filename, const char *taskname,
		     const char *as, char *quiet)
{
	char why[512] = "", *text = NULL, *id;
	struct task *t = NULL;
	size_t len = 0;
	int rc;

	pthread_mutex_lock(&db->accept_mu);
	if ((t = task_table_get_name(db->table, taskname))) {
		task_unref(t);
		t = NULL;
		snprintf(why, sizeof(why), "task '%s' already exists", taskname);
		rc = -EEXIST;
		goto refused;
	}
	rc = read_in_new(db, filename, 1024, &text, &len);
	if (rc < 0) {
		snprintf(why, sizeof(why), rc == -EFBIG ? "a task id is one short line" :
			 rc == -ELOOP ? "a symbolic link is never a task id" :
			 "cannot read the id: %s", strerror(-rc));
		rc = rc == -ENOENT ? 0 : -EINVAL;
		if (rc == 0)
			goto out;
		goto refused;
	}
	id = text;
	while (*id && isspace((unsigned char)*id))
		id++;
	/* Blanks around the id go; blanks inside are part of it (OpenAI's
	 * spec allows any string). */
	for (size_t n = strlen(id); n && isspace((unsigned char)id[n - 1]); n--)
		id[n - 1] = '\0';
	if (!id_valid(id)) {
		snprintf(why, sizeof(why), "'%.60s' is not a task id (one line of at most %d "
			 "bytes, without control characters)", id, VIDEO_ID_MAX);
		rc = -EINVAL;
		goto refused;
	}
	t = task_new(taskname);
	if (!t) {
		rc = -ENOMEM;
		snprintf(why, sizeof(why), "out of memory");
		goto refused;
	}
	t->prompt = xstrdup("");
	t->model = xstrdup(db->o.model);
	t->seconds = xstrdup(db->o.seconds);
	t->size = xstrdup(db->o.size);
	t->watermark = db->o.watermark;
	t->id = xstrdup(id);
	t->submit = SUBMIT_DONE;
	t->state = TASK_QUEUED;
	t->created = time(NULL);
	t->source_hash = hash_bytes(text, len);
	char extra[300];
	snprintf(extra, sizeof(extra), "attached to provider task %s", id);
	task_event_append(t, extra);
	owners_take_from_file(db->o.owners, t, db->dirfd, filename);
	rc = task_store_create(db->store, t, NULL, 0, why, sizeof(why));
	t->events_durable = t->events_len; /* written with the task */
	if (rc < 0) {
		if (rc != -EEXIST)
			rc = -EIO;
		goto refused;
	}
	log_info("task %s: attached to provider task %s", taskname, id);
	publish_task(db, t, filename, NULL, as);
	goto out;
refused:
	log_refusal(filename, why, quiet);
	write_error_file(db, taskname, why);
out:
	pthread_mutex_unlock(&db->accept_mu);
	task_unref(t);
	free(text);
	return rc;
}

void dropbox_recover(struct dropbox *db)
{
	fs_remove_temporaries(db->dirfd);
	int fd = openat(db->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char taskname[NAME_MAX + 1], why[256];
		struct task *t;
		char *text;
		size_t len;

		if (prompt_classify_name(de->d_name, taskname, sizeof(taskname), why,
					 sizeof(why)) != PROMPT_NAME_PROMPT)
			continue;
		t = task_table_get_name(db->table, taskname);
		if (!t)
			continue;
		if (read_in_new(db, de->d_name, PROMPT_FILE_MAX, &text, &len) == 0) {
			if (hash_bytes(text, len) == t->source_hash) {
				unlinkat(db->dirfd, de->d_name, 0);
				log_info("new/%s: already task %s; removed", de->d_name, taskname);
			}
			free(text);
		}
		task_unref(t);
	}
	closedir(d);
}

int dropbox_chown_at(struct dropbox *db, uint64_t parent, const char *name, uid_t uid,
		     gid_t gid)
{
	char rel[PATH_MAX];
	bool staged;
	int rc = rel_path(db, parent, name, rel, sizeof(rel), &staged);

	if (rc < 0)
		return rc;
	return fchownat(db->dirfd, rel, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}
