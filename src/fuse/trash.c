#include "trash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "fsutil.h"
#include "inode.h"
#include "log.h"
#include "owners.h"
#include "prompt.h"
#include "task_store.h"
#include "task_table.h"
#include "xalloc.h"

#define INO_INFO_FILES (INO_TRASH_BASE + (1ULL << 36))
#define UID_MAX_TRASH 0xfffffffeULL
#define TIMEOUT 1.0

enum trash_part { TP_DIR = 0, TP_FILES, TP_INFO, TP_EXPUNGED };
static const char *const part_names[] = {NULL, "files", "info", "expunged"};

/* An info file the kernel knows by inode number. */
struct info_node {
	uint32_t uid;
	char *name;
};

struct trash {
	struct tree *tree;
	int dirfd;                /* STATE_DIR/trash */
	pthread_mutex_t mu;       /* nodes */
	struct info_node *nodes;
	size_t n_nodes, cap;
};

struct trash_file {
	int fd;
};

static uint64_t ino_of(uint32_t uid, enum trash_part p)
{
	return INO_TRASH_BASE + (uint64_t)uid * 4 + p;
}

static bool ino_is_part(uint64_t ino)
{
	return ino_is_trash(ino) && ino < INO_INFO_FILES;
}

static uint32_t ino_uid(uint64_t ino)
{
	return (uint32_t)((ino - INO_TRASH_BASE) / 4);
}

static enum trash_part ino_part(uint64_t ino)
{
	return (enum trash_part)((ino - INO_TRASH_BASE) % 4);
}

/* ".Trash-UID" with UID in decimal, nothing else; -1 when not. */
static long long trash_uid_of(const char *name)
{
	char *end;
	unsigned long long v;

	if (strncmp(name, ".Trash-", 7) || name[7] < '0' || name[7] > '9' ||
	    (name[7] == '0' && name[8]))
		return -1;
	errno = 0;
	v = strtoull(name + 7, &end, 10);
	if (errno || *end || v > UID_MAX_TRASH)
		return -1;
	return (long long)v;
}

/* The task name of files/X in uid's trash. */
static int trashed_name(uint32_t uid, const char *x, char *out, size_t len)
{
	int n = snprintf(out, len, TASK_STORE_TRASHED_PREFIX "%u@%s", uid, x);

	return n < 0 || (size_t)n >= len || n > NAME_MAX ? -ENAMETOOLONG : 0;
}

/* X from ".Trash-UID@X" and its uid; NULL when not a trashed name. */
static const char *trashed_split(const char *name, uint32_t *uid)
{
	const char *at = strchr(name, '@');
	char head[64];

	if (!at || (size_t)(at - name) >= sizeof(head))
		return NULL;
	snprintf(head, sizeof(head), "%.*s", (int)(at - name), name);
	long long u = trash_uid_of(head);
	if (u < 0 || !at[1])
		return NULL;
	*uid = (uint32_t)u;
	return at + 1;
}

static int info_dirfd(struct trash *tr, uint32_t uid)
{
	char path[64];

	snprintf(path, sizeof(path), "%u/info", uid);
	return openat(tr->dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static bool trash_exists(struct trash *tr, uint32_t uid)
{
	int fd = info_dirfd(tr, uid);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static void part_attr(struct trash *tr, uint32_t uid, enum trash_part p, struct tree_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->st.st_ino = ino_of(uid, p);
	a->st.st_mode = S_IFDIR | 0700;
	a->st.st_nlink = 2;
	a->st.st_uid = uid;
	a->st.st_gid = tr->tree->owners ? tr->tree->owners->gid : tr->tree->gid;
	a->st.st_blksize = 4096;
	a->st.st_mtime = a->st.st_ctime = a->st.st_atime = (time_t)tr->tree->started;
	a->timeout = a->entry_timeout = TIMEOUT;
}

/* The inode number of info file uid/name, made on first sight. */
static uint64_t info_ino(struct trash *tr, uint32_t uid, const char *name)
{
	size_t i;

	pthread_mutex_lock(&tr->mu);
	for (i = 0; i < tr->n_nodes; i++)
		if (tr->nodes[i].uid == uid && !strcmp(tr->nodes[i].name, name))
			break;
	if (i == tr->n_nodes) {
		if (tr->n_nodes == tr->cap) {
			tr->cap = tr->cap ? tr->cap * 2 : 16;
			tr->nodes = xrealloc(tr->nodes, tr->cap * sizeof(*tr->nodes));
		}
		tr->nodes[i].uid = uid;
		tr->nodes[i].name = xstrdup(name);
		tr->n_nodes++;
	}
	pthread_mutex_unlock(&tr->mu);
	return INO_INFO_FILES + i;
}

/* uid and a copy of the name of an info file's inode; false when none. */
static bool info_node(struct trash *tr, uint64_t ino, uint32_t *uid, char *name, size_t len)
{
	bool ok = false;

	pthread_mutex_lock(&tr->mu);
	if (ino >= INO_INFO_FILES && ino - INO_INFO_FILES < tr->n_nodes) {
		struct info_node *n = &tr->nodes[ino - INO_INFO_FILES];
		*uid = n->uid;
		snprintf(name, len, "%s", n->name);
		ok = true;
	}
	pthread_mutex_unlock(&tr->mu);
	return ok;
}

static int info_attr(struct trash *tr, uint32_t uid, const char *name, struct tree_attr *a)
{
	int dfd = info_dirfd(tr, uid), rc = 0;

	if (dfd < 0)
		return -ENOENT;
	memset(a, 0, sizeof(*a));
	if (fstatat(dfd, name, &a->st, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	else if (!S_ISREG(a->st.st_mode))
		rc = -ENOENT;
	close(dfd);
	if (rc < 0)
		return rc;
	a->st.st_ino = info_ino(tr, uid, name);
	a->st.st_uid = uid;
	a->timeout = a->entry_timeout = 0;
	return 0;
}

struct trash *trash_new(struct tree *tree, const char *state_dir)
{
	struct trash *tr = xcalloc(1, sizeof(*tr));
	char path[PATH_MAX];

	tr->tree = tree;
	pthread_mutex_init(&tr->mu, NULL);
	snprintf(path, sizeof(path), "%s/trash", state_dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		log_error("cannot create %s: %s", path, strerror(errno));
		free(tr);
		return NULL;
	}
	tr->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tr->dirfd < 0) {
		log_error("cannot open %s: %s", path, strerror(errno));
		free(tr);
		return NULL;
	}
	return tr;
}

void trash_free(struct trash *tr)
{
	if (!tr)
		return;
	for (size_t i = 0; i < tr->n_nodes; i++)
		free(tr->nodes[i].name);
	free(tr->nodes);
	close(tr->dirfd);
	pthread_mutex_destroy(&tr->mu);
	free(tr);
}

/* Make uid's trash on disk (durably): STATE_DIR/trash/UID/info. */
static int make_trash(struct trash *tr, uint32_t uid)
{
	char path[64];

	snprintf(path, sizeof(path), "%u", uid);
	if (mkdirat(tr->dirfd, path, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%u/info", uid);
	if (mkdirat(tr->dirfd, path, 0700) < 0 && errno != EEXIST)
		return -errno;
	fs_fsync_dir(tr->dirfd);
	return 0;
}

static void unlink_info(struct trash *tr, uint32_t uid, const char *x)
{
	char name[NAME_MAX + 16];
	int dfd = info_dirfd(tr, uid);

	if (dfd < 0)
		return;
	snprintf(name, sizeof(name), "%s.trashinfo", x);
	if (unlinkat(dfd, name, 0) == 0)
		fs_fsync_dir(dfd);
	close(dfd);
}

void trash_recover(struct trash *tr)
{
	struct task *batch[64];
	uint32_t after = 0;
	size_t n;

	while ((n = task_table_list(tr->tree->table, after, batch, 64)) > 0) {
		for (size_t i = 0; i < n; i++) {
			struct task *t = batch[i];
			uint32_t uid;
			const char *x = trashed_split(t->name, &uid);
			bool save = false;

			after = t->tid;
			pthread_mutex_lock(&t->mu);
			if (x && !t->trashed_from[0]) {
				snprintf(t->trashed_from, sizeof(t->trashed_from), "%s", x);
				t->trashed_at = time(NULL);
				save = true;
			} else if (!x && t->trashed_from[0]) {
				t->trashed_from[0] = '\0';
				t->trashed_at = 0;
				save = true;
			}
			pthread_mutex_unlock(&t->mu);
			if (x)
				make_trash(tr, uid);
			if (save)
				task_store_save(tr->tree->store, t);
			task_unref(t);
		}
	}
	/* Info files of tasks no longer in the trash (restored, emptied, or
	 * never moved because of a crash) go. */
	int fd = dup(tr->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		long long uid;
		char head[32];
		snprintf(head, sizeof(head), ".Trash-%.20s", de->d_name);
		if ((uid = trash_uid_of(head)) < 0)
			continue;
		int ifd = info_dirfd(tr, (uint32_t)uid);
		DIR *id = ifd >= 0 ? fdopendir(ifd) : NULL;
		struct dirent *ie;
		if (!id) {
			if (ifd >= 0)
				close(ifd);
			continue;
		}
		while ((ie = readdir(id))) {
			char x[NAME_MAX + 1], tname[NAME_MAX + 32];
			size_t len = strlen(ie->d_name);
			if (ie->d_name[0] == '.' && (!ie->d_name[1] || !strcmp(ie->d_name, "..")))
				continue;
			if (len <= 10 || strcmp(ie->d_name + len - 10, ".trashinfo"))
				continue; /* a writer's temporary: not ours to judge */
			snprintf(x, sizeof(x), "%.*s", (int)(len - 10), ie->d_name);
			struct task *t = trashed_name((uint32_t)uid, x, tname, sizeof(tname)) == 0
					 ? task_table_get_name(tr->tree->table, tname) : NULL;
			if (t) {
				task_unref(t);
				continue;
			}
			unlinkat(dirfd(id), ie->d_name, 0);
			log_info("trash of uid %lld: removed %s, whose task is not in the trash",
				 uid, ie->d_name);
		}
		closedir(id);
	}
	closedir(d);
}

int trash_lookup(struct trash *tr, uint64_t parent, const char *name, struct tree_attr *a)
{
	if (parent == INO_ROOT) {
		long long uid = trash_uid_of(name);
		if (uid < 0 || !trash_exists(tr, (uint32_t)uid))
			return -ENOENT;
		part_attr(tr, (uint32_t)uid, TP_DIR, a);
		return 0;
	}
	if (!ino_is_part(parent))
		return -ENOENT;
	uint32_t uid = ino_uid(parent);
	switch (ino_part(parent)) {
	case TP_DIR:
		for (int p = TP_FILES; p <= TP_EXPUNGED; p++)
			if (!strcmp(name, part_names[p])) {
				part_attr(tr, uid, (enum trash_part)p, a);
				return 0;
			}
		return -ENOENT;
	case TP_FILES: {
		char tname[NAME_MAX + 32];
		if (trashed_name(uid, name, tname, sizeof(tname)) < 0)
			return -ENOENT;
		return tree_lookup(tr->tree, INO_ROOT, tname, a);
	}
	case TP_INFO:
		return info_attr(tr, uid, name, a);
	default:
		return -ENOENT;
	}
}

int trash_getattr(struct trash *tr, uint64_t ino, struct tree_attr *a)
{
	uint32_t uid;
	char name[NAME_MAX + 1];

	if (ino_is_part(ino)) {
		if (!trash_exists(tr, ino_uid(ino)))
			return -ENOENT;
		part_attr(tr, ino_uid(ino), ino_part(ino), a);
		return 0;
	}
	if (!info_node(tr, ino, &uid, name, sizeof(name)))
		return -ENOENT;
	return info_attr(tr, uid, name, a);
}

int trash_mkdir(struct trash *tr, uint64_t parent, const char *name, uid_t caller,
		struct tree_attr *a)
{
	if (parent == INO_ROOT) {
		long long uid = trash_uid_of(name);
		int rc;
		if (uid < 0)
			return -EACCES;
		/* Each user makes their own trash; root may make anyone's. */
		if (caller != 0 && (uid_t)uid != caller)
			return -EACCES;
		if (trash_exists(tr, (uint32_t)uid))
			return -EEXIST;
		rc = make_trash(tr, (uint32_t)uid);
		if (rc < 0) {
			log_error("cannot make the trash of uid %lld: %s", uid, strerror(-rc));
			return rc;
		}
		part_attr(tr, (uint32_t)uid, TP_DIR, a);
		return 0;
	}
	if (ino_is_part(parent) && ino_part(parent) == TP_DIR)
		return trash_lookup(tr, parent, name, a) == 0 ? -EEXIST : -EACCES;
	return -EACCES;
}

int trash_readdir_root(struct trash *tr, off_t off, tree_fill_fn fill, void *ctx)
{
	int fd = dup(tr->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	long long uids[256];
	size_t n = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	rewinddir(d);
	while ((de = readdir(d)) && n < 256) {
		char head[32];
		snprintf(head, sizeof(head), ".Trash-%.20s", de->d_name);
		long long uid = trash_uid_of(head);
		if (uid >= 0 && trash_exists(tr, (uint32_t)uid))
			uids[n++] = uid;
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		struct stat st = {0};
		char name[32];
		off_t cookie = TRASH_ROOT_COOKIE + (off_t)uids[i] + 1;
		/* Cookies by uid: stable while trashes come and go; the
		 * listing is in directory order, so a resumed listing
		 * skips by value. */
		if (cookie <= off)
			continue;
		st.st_ino = ino_of((uint32_t)uids[i], TP_DIR);
		st.st_mode = S_IFDIR;
		snprintf(name, sizeof(name), ".Trash-%lld", uids[i]);
		if (fill(ctx, name, &st, cookie))
			break;
	}
	return 0;
}

static int readdir_files(struct trash *tr, uint32_t uid, off_t off, tree_fill_fn fill,
			 void *ctx)
{
	char prefix[32];
	struct task *batch[64];
	uint32_t after = off <= 2 ? 0 : (uint32_t)(off - 2);
	size_t n;
	bool full = false;

	snprintf(prefix, sizeof(prefix), TASK_STORE_TRASHED_PREFIX "%u@", uid);
	while (!full && (n = task_table_list(tr->tree->table, after, batch, 64)) > 0) {
		for (size_t i = 0; i < n; i++) {
			struct task *t = batch[i];
			const char *name = t->name;
			if (!full && !strncmp(name, prefix, strlen(prefix))) {
				struct stat st = {0};
				st.st_mode = S_IFDIR;
				st.st_ino = ino_of_task_file(t->tid, TF_DIR);
				full = fill(ctx, name + strlen(prefix), &st, 2 + t->tid);
			}
			if (!full)
				after = t->tid;
			task_unref(t);
		}
	}
	return 0;
}

static int readdir_info(struct trash *tr, uint32_t uid, off_t off, tree_fill_fn fill,
			void *ctx)
{
	int fd = info_dirfd(tr, uid);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	off_t i = 2;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -ENOENT;
	}
	while ((de = readdir(d))) {
		struct stat st = {0};
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		i++;
		if (i <= off)
			continue;
		st.st_mode = S_IFREG;
		st.st_ino = info_ino(tr, uid, de->d_name);
		if (fill(ctx, de->d_name, &st, i))
			break;
	}
	closedir(d);
	return 0;
}

int trash_readdir(struct trash *tr, uint64_t ino, off_t off, tree_fill_fn fill, void *ctx)
{
	struct stat st = {0};
	uint32_t uid;

	if (!ino_is_part(ino))
		return -ENOTDIR;
	uid = ino_uid(ino);
	if (!trash_exists(tr, uid))
		return -ENOENT;
	st.st_mode = S_IFDIR;
	st.st_ino = ino;
	if (off < 1 && fill(ctx, ".", &st, 1))
		return 0;
	st.st_ino = ino_part(ino) == TP_DIR ? INO_ROOT : ino_of(uid, TP_DIR);
	if (off < 2 && fill(ctx, "..", &st, 2))
		return 0;
	switch (ino_part(ino)) {
	case TP_DIR:
		for (int p = TP_FILES; p <= TP_EXPUNGED; p++) {
			st.st_ino = ino_of(uid, (enum trash_part)p);
			if (off < 2 + p && fill(ctx, part_names[p], &st, 2 + p))
				break;
		}
		return 0;
	case TP_FILES:
		return readdir_files(tr, uid, off, fill, ctx);
	case TP_INFO:
		return readdir_info(tr, uid, off, fill, ctx);
	default:
		return 0;
	}
}

static int rename_on_disk(void *ctx, const char *from, const char *to)
{
	return task_store_rename(ctx, from, to);
}

/* Rename task `from` to `to` (table and state dir), then set or clear
 * its trash fields and save its record. A crash between the two leaves
 * the name, which trash_recover trusts. */
static int move_task(struct trash *tr, const char *from, const char *to,
		     const char *trashed_from)
{
	struct tree *tree = tr->tree;
	struct task *t = task_table_get_name(tree->table, from);
	int rc;

	if (!t)
		return -ENOENT;
	pthread_mutex_lock(&t->save_mu);
	rc = task_table_rename(tree->table, t, to, rename_on_disk, tree->store);
	pthread_mutex_unlock(&t->save_mu);
	if (rc == 0) {
		pthread_mutex_lock(&t->mu);
		snprintf(t->trashed_from, sizeof(t->trashed_from), "%s",
			 trashed_from ? trashed_from : "");
		t->trashed_at = trashed_from ? time(NULL) : 0;
		pthread_mutex_unlock(&t->mu);
		task_store_save(tree->store, t);
	}
	task_unref(t);
	return rc;
}

/* Forget a trashed task for good, as rmdir does. */
static int forget_task(struct trash *tr, uint32_t uid, const char *x)
{
	struct tree *tree = tr->tree;
	char tname[NAME_MAX + 32];
	struct task *t;
	int rc;

	if (trashed_name(uid, x, tname, sizeof(tname)) < 0)
		return -ENOENT;
	t = task_table_remove(tree->table, tname);
	if (!t)
		return -ENOENT;
	pthread_mutex_lock(&t->save_mu);
	engine_forget(tree->engine, t);
	rc = task_store_remove(tree->store, tname);
	pthread_mutex_unlock(&t->save_mu);
	if (rc < 0)
		log_error("task %s (in the trash): forgotten, but its files stay: %s", x,
			  strerror(-rc));
	else
		log_info("task %s: deleted from the trash", x);
	task_unref(t);
	unlink_info(tr, uid, x);
	return 0;
}

/* A name a task could have been given by a prompt. */
static bool task_name_ok(const char *to)
{
	char probe[NAME_MAX + 16], name[NAME_MAX + 1], why[256];

	snprintf(probe, sizeof(probe), "%s.prompt", to);
	return strlen(to) <= NAME_MAX - 7 && strcmp(to, "new") &&
	       prompt_classify_name(probe, name, sizeof(name), why, sizeof(why)) ==
		       PROMPT_NAME_PROMPT;
}

int trash_rename(struct trash *tr, uint64_t parent, const char *name, uint64_t newparent,
		 const char *newname, unsigned flags)
{
	char from[NAME_MAX + 32], to[NAME_MAX + 32];
	int rc;

	if (flags & ~RENAME_NOREPLACE)
		return -EINVAL;
	/* The root into files/: trashing. */
	if (parent == INO_ROOT && ino_is_part(newparent) && ino_part(newparent) == TP_FILES) {
		uint32_t uid = ino_uid(newparent);
		if (trash_root_name(name) || !strcmp(name, "new"))
			return -EACCES;
		if (trashed_name(uid, newname, to, sizeof(to)) < 0)
			return -ENAMETOOLONG;
		rc = move_task(tr, name, to, name);
		if (rc == 0)
			log_info("task %s: moved to the trash of uid %u as %s", name, uid, newname);
		return rc;
	}
	if (!ino_is_part(parent) || ino_part(parent) == TP_DIR)
		return -EACCES;
	uint32_t uid = ino_uid(parent);
	if (ino_part(parent) == TP_INFO) {
		int dfd;
		if (newparent != parent)
			return -EXDEV;
		dfd = info_dirfd(tr, uid);
		if (dfd < 0)
			return -ENOENT;
		rc = flags & RENAME_NOREPLACE ? fs_rename_noreplace(dfd, name, dfd, newname)
					      : (renameat(dfd, name, dfd, newname) < 0 ? -errno : 0);
		close(dfd);
		return rc;
	}
	if (ino_part(parent) != TP_FILES)
		return -ENOENT;
	if (trashed_name(uid, name, from, sizeof(from)) < 0)
		return -ENOENT;
	/* files/ back to the root: restoring, under any free task name. */
	if (newparent == INO_ROOT) {
		if (!task_name_ok(newname))
			return -EINVAL;
		rc = move_task(tr, from, newname, NULL);
		if (rc == 0) {
			unlink_info(tr, uid, name);
			log_info("task %s: restored from the trash", newname);
		}
		return rc;
	}
	/* files/ into expunged/ (how gvfs empties a trash): deleted. */
	if (newparent == ino_of(uid, TP_EXPUNGED))
		return forget_task(tr, uid, name);
	if (newparent == parent) {
		if (trashed_name(uid, newname, to, sizeof(to)) < 0)
			return -ENAMETOOLONG;
		char old_from[NAME_MAX + 1] = "";
		struct task *t = task_table_get_name(tr->tree->table, from);
		if (!t)
			return -ENOENT;
		pthread_mutex_lock(&t->mu);
		snprintf(old_from, sizeof(old_from), "%s", t->trashed_from);
		pthread_mutex_unlock(&t->mu);
		task_unref(t);
		return move_task(tr, from, to, old_from[0] ? old_from : name);
	}
	return -EXDEV;
}

int trash_rmdir(struct trash *tr, uint64_t parent, const char *name)
{
	if (!ino_is_part(parent))
		return -ENOENT;
	switch (ino_part(parent)) {
	case TP_FILES:
		return forget_task(tr, ino_uid(parent), name);
	case TP_DIR:
		return trash_lookup(tr, parent, name, &(struct tree_attr){0}) == 0 ? -ENOTEMPTY
										    : -ENOENT;
	default:
		return -ENOENT;
	}
}

int trash_unlink(struct trash *tr, uint64_t parent, const char *name)
{
	int dfd, rc = 0;

	if (!ino_is_part(parent) || ino_part(parent) != TP_INFO)
		return ino_is_part(parent) && ino_part(parent) == TP_FILES ? -EISDIR : -ENOENT;
	dfd = info_dirfd(tr, ino_uid(parent));
	if (dfd < 0)
		return -ENOENT;
	if (unlinkat(dfd, name, 0) < 0)
		rc = -errno;
	close(dfd);
	return rc;
}

int trash_create(struct trash *tr, uint64_t parent, const char *name, mode_t mode, int flags,
		 struct tree_attr *a, struct trash_file **f)
{
	int dfd, fd, rc;

	if (!ino_is_part(parent) || ino_part(parent) != TP_INFO)
		return -EACCES;
	dfd = info_dirfd(tr, ino_uid(parent));
	if (dfd < 0)
		return -ENOENT;
	fd = openat(dfd, name, (flags & ~(O_NOFOLLOW | O_DIRECTORY)) | O_CREAT | O_NOFOLLOW |
		    O_CLOEXEC, (mode & 0777) | 0600);
	if (fd < 0) {
		rc = -errno;
		close(dfd);
		return rc;
	}
	/* A file another writer can read: it must be whole before it is
	 * seen, which the writer's own rename ensures. */
	if (flags & O_CREAT)
		fs_fsync_dir(dfd);
	close(dfd);
	rc = info_attr(tr, ino_uid(parent), name, a);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	*f = xcalloc(1, sizeof(**f));
	(*f)->fd = fd;
	return 0;
}

int trash_open(struct trash *tr, uint64_t ino, int flags, struct trash_file **f)
{
	char name[NAME_MAX + 1];
	uint32_t uid;
	int dfd, fd;

	if (ino_is_part(ino))
		return -EISDIR;
	if (!info_node(tr, ino, &uid, name, sizeof(name)))
		return -ENOENT;
	dfd = info_dirfd(tr, uid);
	if (dfd < 0)
		return -ENOENT;
	fd = openat(dfd, name, (flags & (O_ACCMODE | O_TRUNC | O_APPEND)) | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return -errno;
	*f = xcalloc(1, sizeof(**f));
	(*f)->fd = fd;
	return 0;
}

int trash_file_fd(struct trash_file *f)
{
	return f->fd;
}

void trash_release(struct trash_file *f)
{
	if (!f)
		return;
	close(f->fd);
	free(f);
}

int trash_setattr(struct trash *tr, uint64_t ino, const struct stat *attr, int to_set,
		  struct tree_attr *a)
{
	char name[NAME_MAX + 1];
	uint32_t uid;
	int dfd, rc = 0;

	if (ino_is_part(ino))
		return (to_set & ~(FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
				   FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME | FUSE_SET_ATTR_MODE))
			       ? -EPERM : trash_getattr(tr, ino, a);
	if (!info_node(tr, ino, &uid, name, sizeof(name)))
		return -ENOENT;
	dfd = info_dirfd(tr, uid);
	if (dfd < 0)
		return -ENOENT;
	if ((to_set & FUSE_SET_ATTR_MODE) && fchmodat(dfd, name, attr->st_mode & 0777, 0) < 0)
		rc = -errno;
	if (rc == 0 && (to_set & FUSE_SET_ATTR_SIZE)) {
		int fd = openat(dfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || ftruncate(fd, attr->st_size) < 0)
			rc = -errno;
		if (fd >= 0)
			close(fd);
	}
	if (rc == 0 && (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
				  FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW))) {
		struct timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
		if (to_set & FUSE_SET_ATTR_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_ATIME)
			ts[0] = attr->st_atim;
		if (to_set & FUSE_SET_ATTR_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_MTIME)
			ts[1] = attr->st_mtim;
		if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
			rc = -errno;
	}
	close(dfd);
	return rc < 0 ? rc : info_attr(tr, uid, name, a);
}
