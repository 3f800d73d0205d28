/* new/: the drop box. Its files live in STATE_DIR/new, so editors can use
 * it as an ordinary directory (temporaries, swap files, fsync, rename to
 * save). A NAME.prompt file becomes task NAME when it is closed or renamed
 * into place; it is checked and made durable before close() returns, and a
 * prompt that can't be accepted stays, with NAME.error saying why. */
#ifndef VEOFS_DROPBOX_H
#define VEOFS_DROPBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct task_store;
struct task_table;
struct engine;
struct kernel_notify;
struct owners;

struct dropbox_options {
	const char *model;     /* defaults for prompts that name none */
	const char *seconds;
	const char *size;
	int watermark;
	const struct owners *owners; /* who writes what (NULL: the mount's user) */
};

struct dropbox;
/* An open file in new/. */
struct dropbox_file;

struct dropbox *dropbox_new(const struct dropbox_options *o, struct task_store *store,
			    struct task_table *table, struct engine *engine,
			    struct kernel_notify *notify);
void dropbox_free(struct dropbox *db);

/* After a crash between making a task durable and removing its prompt
 * file: drop prompt files whose task exists with the same bytes. */
void dropbox_recover(struct dropbox *db);

/* Each successful lookup/create counts one kernel reference on *ino. */
int dropbox_lookup(struct dropbox *db, const char *name, uint64_t *ino, struct stat *st);
void dropbox_forget(struct dropbox *db, uint64_t ino, uint64_t nlookup);
int dropbox_getattr(struct dropbox *db, uint64_t ino, struct stat *st);
/* to_set uses FUSE_SET_ATTR_* bits; f may be NULL. */
int dropbox_setattr(struct dropbox *db, uint64_t ino, struct dropbox_file *f,
		    const struct stat *attr, int to_set, struct stat *out);
int dropbox_create(struct dropbox *db, const char *name, mode_t mode, int flags,
		   uint64_t *ino, struct stat *st, struct dropbox_file **f);
int dropbox_open(struct dropbox *db, uint64_t ino, int flags, struct dropbox_file **f);
ssize_t dropbox_read(struct dropbox_file *f, char *buf, size_t size, off_t off);
ssize_t dropbox_write(struct dropbox_file *f, const char *buf, size_t size, off_t off);
/* Where a written NAME.prompt is accepted: 0, or -EINVAL (new/NAME.error
 * says why), -EEXIST, -EIO. */
int dropbox_flush(struct dropbox *db, struct dropbox_file *f);
int dropbox_fsync(struct dropbox_file *f, int datasync);
void dropbox_release(struct dropbox *db, struct dropbox_file *f);
int dropbox_unlink(struct dropbox *db, const char *name);
int dropbox_rename(struct dropbox *db, const char *from, const char *to, unsigned flags);

/* Calls fill for each entry of new/ from position off on; fill returns
 * non-zero when its buffer is full. Positions are opaque cookies. */
int dropbox_readdir(struct dropbox *db, off_t off,
		    int (*fill)(void *ctx, const char *name, const struct stat *st, off_t next),
		    void *ctx);

/* The same for any folder of the drop box: parent is INO_NEW or a staging
 * folder new/NAME/, whose files are all scratch but "prompt", which
 * submits task NAME with the folder's first image as input_reference. */
int dropbox_lookup_at(struct dropbox *db, uint64_t parent, const char *name, uint64_t *ino,
		      struct stat *st);
int dropbox_create_at(struct dropbox *db, uint64_t parent, const char *name, mode_t mode,
		      int flags, uint64_t *ino, struct stat *st, struct dropbox_file **f);
int dropbox_unlink_at(struct dropbox *db, uint64_t parent, const char *name);
int dropbox_rename_at(struct dropbox *db, uint64_t parent, const char *from,
		      uint64_t newparent, const char *to, unsigned flags);
int dropbox_readdir_at(struct dropbox *db, uint64_t ino, off_t off,
		       int (*fill)(void *ctx, const char *name, const struct stat *st, off_t next),
		       void *ctx);
/* ln -s TARGET new/NAME: only for scratch names (an editor's lock file,
 * .#NAME.prompt), EPERM for names that submit. Links are never followed
 * when prompts, ids or images are read. */
int dropbox_symlink_at(struct dropbox *db, uint64_t parent, const char *name,
		       const char *target, uint64_t *ino, struct stat *st);
/* The target of a link in new/; at most size bytes, not terminated. */
ssize_t dropbox_readlink(struct dropbox *db, uint64_t ino, char *buf, size_t size);
/* mkdir new/NAME: a staging folder (only directly in new/). */
int dropbox_mkdir_at(struct dropbox *db, uint64_t parent, const char *name, mode_t mode,
		     uint64_t *ino, struct stat *st);
int dropbox_rmdir_at(struct dropbox *db, uint64_t parent, const char *name);

/* Give the file or staging folder parent/name to the user who created it
 * (shared mounts, veofs running as root). 0 or -errno. */
int dropbox_chown_at(struct dropbox *db, uint64_t parent, const char *name, uid_t uid,
		     gid_t gid);

/* Accept the prompt file new/FILENAME as a task (used by flush and rename).
 * 0 or -errno; reasons go to new/NAME.error and the log. */
int dropbox_accept(struct dropbox *db, const char *filename);

#endif
