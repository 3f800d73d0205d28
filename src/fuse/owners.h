/* Who owns what in a shared mount, and the permission bits shown. With
 * default_permissions the kernel enforces these: a task folder belongs to
 * the user who wrote its prompt, the root and new/ are sticky (1777 with
 * allow_other) like /tmp, so only a task's owner (or root, or the mount's
 * user) may rmdir or mv it, and ctl is writable by its owner alone.
 * uid=, gid=, umask= (as in sshfs) set the owner and group of everything
 * no writer owns, and the bits masked from task folders and files. */
#ifndef VEOFS_OWNERS_H
#define VEOFS_OWNERS_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

struct task;

struct owners {
	uid_t uid;          /* the mount's user: uid= or veofs's own */
	gid_t gid;
	mode_t umask;       /* umask=, else 022 */
	bool allow_other;   /* other users see the mount: shared dirs 1777 */
	bool chown_ok;      /* veofs runs as root: files in new/ are given
			       to their creators, and tasks to their writers */
};

/* Defaults for this process: its uid and gid, umask 022. */
void owners_init(struct owners *o);

/* The root and new/ (st_mode, st_uid, st_gid). */
void owners_shared_dir(const struct owners *o, struct stat *st);
/* A task folder (is_dir) or one of its files (st_mode as the tree shows
 * it): owned by the prompt's writer, the umask taken from the group and
 * other bits; t->mu held. ctl stays writable by its owner only. */
void owners_task(const struct owners *o, const struct task *t, bool is_dir, bool is_ctl,
		 struct stat *st);
/* An entry of new/ as its backing file is: veofs's own files (error
 * files, and everything when not root) show as the mount's user. */
void owners_dropbox(const struct owners *o, struct stat *st);
/* Record the owner of the prompt file dirfd/name as the task's (t not
 * yet shared). Only when veofs runs as root: otherwise every file is
 * veofs's own and the task is the mount's user's. */
void owners_take_from_file(const struct owners *o, struct task *t, int dirfd,
			   const char *name);

#endif
