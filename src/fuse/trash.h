/* The mount's freedesktop.org trash, for a file manager's Delete key
 * (gio trash, gvfs): MOUNT/.Trash-UID/ with files/, info/ and expunged/.
 *
 * - Trashing is a rename of a task folder from the root into
 *   .Trash-UID/files/X: the task is renamed, in memory and in the state
 *   dir, to ".Trash-UID@X" (a dot-name no prompt can take, so its old
 *   name is free for a new task at once), and its record says
 *   "trashed_from" and "trashed_at". Its video stays; its provider work
 *   goes on (it is never submitted again: its state machine is the same).
 * - info/ is an ordinary directory, STATE_DIR/trash/UID/info, holding
 *   the .trashinfo files the file manager writes.
 * - Restoring is a rename from files/X back to the root (any free task
 *   name); the task's info file goes.
 * - Emptying (rmdir of files/X, or gvfs's rename into expunged/) forgets
 *   the task as rmdir does and deletes its local files.
 * - .Trash-UID may be made by user UID (or root) only, and shows as
 *   theirs, mode 0700, as gio requires. */
#ifndef VEOFS_TRASH_H
#define VEOFS_TRASH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "tree.h"

/* Inodes of the trash: 2^61 + uid * 4 + {0 .Trash-UID, 1 files, 2 info,
 * 3 expunged}; info files from 2^61 + 2^36 on. */
#define INO_TRASH_BASE (1ULL << 61)
#define INO_TRASH_END (1ULL << 62)

static inline bool ino_is_trash(uint64_t ino)
{
	return ino >= INO_TRASH_BASE && ino < INO_TRASH_END;
}

struct trash;
struct trash_file;

/* state_dir/trash holds one folder per user's trash. NULL on failure. */
struct trash *trash_new(struct tree *tr, const char *state_dir);
void trash_free(struct trash *tr);
/* After the tasks are loaded: records brought in line with the names the
 * tasks have (a crash between the rename and the record's save), info
 * files whose task is not in the trash removed. */
void trash_recover(struct trash *tr);

/* Whether a root-level name is the trash's (a dot-name). */
static inline bool trash_root_name(const char *name)
{
	return name[0] == '.';
}
int trash_lookup(struct trash *tr, uint64_t parent, const char *name, struct tree_attr *a);
int trash_getattr(struct trash *tr, uint64_t ino, struct tree_attr *a);
/* uid: the caller's. */
int trash_mkdir(struct trash *tr, uint64_t parent, const char *name, uid_t uid,
		struct tree_attr *a);
int trash_readdir(struct trash *tr, uint64_t ino, off_t off, tree_fill_fn fill, void *ctx);
/* The .Trash-UID folders in the root listing, from cookie TRASH_ROOT_COOKIE. */
#define TRASH_ROOT_COOKIE (1LL << 40)
int trash_readdir_root(struct trash *tr, off_t off, tree_fill_fn fill, void *ctx);
/* A rename with either end in the trash (one end may be the root). */
int trash_rename(struct trash *tr, uint64_t parent, const char *name, uint64_t newparent,
		 const char *newname, unsigned flags);
int trash_rmdir(struct trash *tr, uint64_t parent, const char *name);
int trash_unlink(struct trash *tr, uint64_t parent, const char *name);
/* info/ files: create, open, and the fd to read and write them with. */
int trash_create(struct trash *tr, uint64_t parent, const char *name, mode_t mode, int flags,
		 struct tree_attr *a, struct trash_file **f);
int trash_open(struct trash *tr, uint64_t ino, int flags, struct trash_file **f);
int trash_file_fd(struct trash_file *f);
void trash_release(struct trash_file *f);
/* chmod, truncate, utimes of an info file; anything else is refused. */
int trash_setattr(struct trash *tr, uint64_t ino, const struct stat *attr, int to_set,
		  struct tree_attr *a);

#endif
