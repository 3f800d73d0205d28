#include "owners.h"

#include <fcntl.h>
#include <unistd.h>

#include "task.h"

void owners_init(struct owners *o)
{
	o->uid = getuid();
	o->gid = getgid();
	o->umask = 022;
	o->allow_other = false;
	o->chown_ok = geteuid() == 0;
}

void owners_shared_dir(const struct owners *o, struct stat *st)
{
	st->st_uid = o->uid;
	st->st_gid = o->gid;
	/* Like /tmp: everyone may add, only owners may take away. */
	st->st_mode = S_IFDIR | (o->allow_other ? 01777 : ((0755 & ~o->umask) | 0700));
}

void owners_task(const struct owners *o, const struct task *t, bool is_dir, bool is_ctl,
		 struct stat *st)
{
	st->st_uid = t->owned ? (uid_t)t->owner_uid : o->uid;
	st->st_gid = t->owned ? (gid_t)t->owner_gid : o->gid;
	/* The tree's own bits, less the umask; the owner keeps what the
	 * tree gives them (ctl's write bit is theirs alone). */
	mode_t bits = st->st_mode & 07777;

	st->st_mode = (st->st_mode & S_IFMT) | (bits & ~o->umask) | (bits & 0700);
	(void)is_dir;
	(void)is_ctl;
}

void owners_dropbox(const struct owners *o, struct stat *st)
{
	if (!o->chown_ok || st->st_uid == geteuid()) {
		st->st_uid = o->uid;
		st->st_gid = o->gid;
	}
}

void owners_take_from_file(const struct owners *o, struct task *t, int dirfd,
			   const char *name)
{
	struct stat st;

	if (!o || !o->chown_ok || fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	t->owned = true;
	t->owner_uid = (uint32_t)st.st_uid;
	t->owner_gid = (uint32_t)st.st_gid;
}
