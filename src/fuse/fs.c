#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inode.h"
#include "log.h"
#include "owners.h"
#include "trash.h"

/* new/ files change behind the kernel's back (prompts are consumed, error
 * files rewritten): never cache their attributes. Their names are kept a
 * little: every name veofs removes is deleted in the kernel
 * (kernel_notify_delete), which reaches watchers only if the kernel still
 * holds the name, and with no timeout at all it would drop the name of a
 * consumed prompt at the writer's last close, before the delete. */
#define DROPBOX_TIMEOUT 0.0
#define DROPBOX_ENTRY_TIMEOUT 1.0

#define CTX(req) ((struct fs_context *)fuse_req_userdata(req))

/* new/ and its staging folders belong to the drop box. */
static int in_dropbox(fuse_ino_t ino)
{
	return ino == INO_NEW || ino_is_dropbox(ino);
}

/* File handles carry their kind in the low bit: tree files are even
 * pointers, drop-box files odd. */
static uint64_t fh_of_dropbox(struct dropbox_file *f)
{
	return (uint64_t)(uintptr_t)f | 1;
}

static struct dropbox_file *dropbox_of_fh(uint64_t fh)
{
	return (fh & 1) ? (struct dropbox_file *)(uintptr_t)(fh & ~1ULL) : NULL;
}

static struct tree_file *tree_of_fh(uint64_t fh)
{
	return (fh & 3) ? NULL : (struct tree_file *)(uintptr_t)fh;
}

/* Trash info files: tagged 2. */
static uint64_t fh_of_trash(struct trash_file *f)
{
	return (uint64_t)(uintptr_t)f | 2;
}

static struct trash_file *trash_of_fh(uint64_t fh)
{
	return (fh & 3) == 2 ? (struct trash_file *)(uintptr_t)(fh & ~3ULL) : NULL;
}

/* Whether a call on parent/name is the trash's: inside it, or a dot-name
 * at the root (.Trash-UID; trashed tasks' own names are hidden). */
static bool to_trash(struct fs_context *c, fuse_ino_t parent, const char *name)
{
	return c->trash && (ino_is_trash(parent) ||
			    (parent == INO_ROOT && name && trash_root_name(name)));
}

/* The attributes of a new/ entry as shown (owners of a shared mount). */
static void dropbox_owner(struct fs_context *c, struct stat *st)
{
	if (c->owners)
		owners_dropbox(c->owners, st);
}

/* A file or folder made in new/ belongs to whoever made it. */
static void give_to_caller(fuse_req_t req, fuse_ino_t parent, const char *name,
			   struct stat *st)
{
	struct fs_context *c = CTX(req);
	const struct fuse_ctx *who = fuse_req_ctx(req);

	if (!c->owners || !c->owners->chown_ok || !who)
		return;
	if (dropbox_chown_at(c->dropbox, parent, name, who->uid, who->gid) == 0) {
		st->st_uid = who->uid;
		st->st_gid = who->gid;
	}
	dropbox_owner(c, st);
}

static void reply_entry2(fuse_req_t req, const struct stat *st, double attr_timeout,
			 double entry_timeout)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = st->st_ino;
	e.attr = *st;
	e.attr_timeout = attr_timeout;
	e.entry_timeout = entry_timeout;
	fuse_reply_entry(req, &e);
}

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	/* O_TRUNC arrives with open, so "echo > new/x.prompt" over an old
	 * prompt is seen as a rewrite. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* ls -l asks every file for its ACLs: let the kernel cache that
	 * there are none instead of asking us each time. */
	if (conn->capable & FUSE_CAP_POSIX_ACL)
		conn->want |= FUSE_CAP_POSIX_ACL;
	/* Listings bring the attributes along: no lookup per entry. */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
	/* Writes to new/ must reach us before flush decides on them. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	conn->max_readahead = 1 << 20;
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_context *c = CTX(req);
	struct tree_attr a;
	int rc;

	if (in_dropbox(parent)) {
		uint64_t ino;
		struct stat st;
		rc = dropbox_lookup_at(c->dropbox, parent, name, &ino, &st);
		if (rc < 0) {
			fuse_reply_err(req, -rc);
		} else {
			dropbox_owner(c, &st);
			reply_entry2(req, &st, DROPBOX_TIMEOUT, DROPBOX_ENTRY_TIMEOUT);
		}
		return;
	}
	rc = to_trash(c, parent, name) ? trash_lookup(c->trash, parent, name, &a)
				       : tree_lookup(c->tree, parent, name, &a);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		reply_entry2(req, &a.st, a.timeout, a.entry_timeout);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	if (ino_is_dropbox(ino))
		dropbox_forget(CTX(req)->dropbox, ino, nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		if (ino_is_dropbox(forgets[i].ino))
			dropbox_forget(CTX(req)->dropbox, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_context *c = CTX(req);
	struct tree_attr a;
	int rc;

	if (ino_is_dropbox(ino)) {
		rc = dropbox_getattr(c->dropbox, ino, &a.st);
		if (rc == 0)
			dropbox_owner(c, &a.st);
		a.timeout = DROPBOX_TIMEOUT;
	} else if (c->trash && ino_is_trash(ino)) {
		rc = trash_getattr(c->trash, ino, &a);
	} else {
		rc = tree_getattr(c->tree, ino, &a);
	}
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &a.st, a.timeout);
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct fs_context *c = CTX(req);
	struct stat st;
	int rc;

	if (c->trash && ino_is_trash(ino)) {
		struct tree_attr a;
		rc = trash_setattr(c->trash, ino, attr, to_set, &a);
		if (rc < 0)
			fuse_reply_err(req, -rc);
		else
			fuse_reply_attr(req, &a.st, a.timeout);
		return;
	}
	if (!ino_is_dropbox(ino)) {
		struct tree_attr a;
		int harmless = !(to_set & ~(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME |
					   FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
					   FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME));
		rc = tree_setattr_ctl(c->tree, ino, harmless);
		if (rc < 0)
			tree_log_refusal(c->tree, ino, NULL, "changing attributes", -rc);
		if (rc == 0)
			rc = tree_getattr(c->tree, ino, &a);
		if (rc < 0)
			fuse_reply_err(req, -rc);
		else
			fuse_reply_attr(req, &a.st, a.timeout);
		return;
	}
	rc = dropbox_setattr(c->dropbox, ino, fi ? dropbox_of_fh(fi->fh) : NULL, attr,
			     to_set, &st);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
	} else {
		dropbox_owner(c, &st);
		fuse_reply_attr(req, &st, DROPBOX_TIMEOUT);
	}
}

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct fs_context *c = CTX(req);
	struct dropbox_file *f;
	struct fuse_entry_param e;
	uint64_t ino;
	int rc;

	if (to_trash(c, parent, name)) {
		struct trash_file *tf;
		struct tree_attr a;
		rc = trash_create(c->trash, parent, name, mode, fi->flags, &a, &tf);
		if (rc < 0) {
			fuse_reply_err(req, -rc);
			return;
		}
		memset(&e, 0, sizeof(e));
		e.ino = a.st.st_ino;
		e.attr = a.st;
		fi->fh = fh_of_trash(tf);
		fi->direct_io = 1;
		if (fuse_reply_create(req, &e, fi) != 0)
			trash_release(tf);
		return;
	}
	if (!in_dropbox(parent)) {
		tree_log_refusal(c->tree, parent, name, "creating", EACCES);
		fuse_reply_err(req, EACCES);
		return;
	}
	if (!S_ISREG(mode) && (mode & S_IFMT)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	rc = dropbox_create_at(c->dropbox, parent, name, mode, fi->flags, &ino, &e.attr, &f);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	give_to_caller(req, parent, name, &e.attr);
	e.ino = ino;
	e.generation = 0;
	e.attr_timeout = DROPBOX_TIMEOUT;
	e.entry_timeout = DROPBOX_ENTRY_TIMEOUT;
	fi->fh = fh_of_dropbox(f);
	fi->direct_io = 0;
	fi->keep_cache = 0;
	if (fuse_reply_create(req, &e, fi) != 0) {
		dropbox_release(c->dropbox, f);
		dropbox_forget(c->dropbox, ino, 1);
	}
}

static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev)
{
	/* Only regular files and staging folders exist in veofs. */
	int err = in_dropbox(parent) ? EPERM : EACCES;
	tree_log_refusal(CTX(req)->tree, parent, name, "mknod", err);
	fuse_reply_err(req, err);
}

static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fs_context *c = CTX(req);
	struct stat st;
	uint64_t ino;
	int rc;

	if (to_trash(c, parent, name)) {
		struct tree_attr a;
		const struct fuse_ctx *who = fuse_req_ctx(req);
		rc = trash_mkdir(c->trash, parent, name, who ? who->uid : (uid_t)-1, &a);
		if (rc < 0)
			fuse_reply_err(req, -rc);
		else
			reply_entry2(req, &a.st, a.timeout, a.entry_timeout);
		return;
	}
	if (!in_dropbox(parent)) {
		tree_log_refusal(c->tree, parent, name, "mkdir", EACCES);
		fuse_reply_err(req, EACCES);
		return;
	}
	rc = dropbox_mkdir_at(c->dropbox, parent, name, mode, &ino, &st);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
	} else {
		give_to_caller(req, parent, name, &st);
		reply_entry2(req, &st, DROPBOX_TIMEOUT, DROPBOX_ENTRY_TIMEOUT);
	}
}

/* Links are scratch files of new/ (editors' locks); nowhere else. */
static void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct fs_context *c = CTX(req);
	struct stat st;
	uint64_t ino;
	int rc;

	if (!in_dropbox(parent)) {
		tree_log_refusal(c->tree, parent, name, "symlink", EACCES);
		fuse_reply_err(req, EACCES);
		return;
	}
	rc = dropbox_symlink_at(c->dropbox, parent, name, link, &ino, &st);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		reply_entry2(req, &st, DROPBOX_TIMEOUT, DROPBOX_ENTRY_TIMEOUT);
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	ssize_t n = ino_is_dropbox(ino) ? dropbox_readlink(CTX(req)->dropbox, ino, buf,
							    sizeof(buf) - 1)
					: -EINVAL;

	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	int err = in_dropbox(newparent) ? EPERM : EACCES;

	tree_log_refusal(CTX(req)->tree, newparent, newname, "hard link", err);
	fuse_reply_err(req, err);
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_context *c = CTX(req);
	int rc = in_dropbox(parent) ? dropbox_unlink_at(c->dropbox, parent, name)
		 : to_trash(c, parent, name) ? trash_unlink(c->trash, parent, name)
		 : tree_unlink(c->tree, parent, name);

	fuse_reply_err(req, rc < 0 ? -rc : 0);
}

static void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_context *c = CTX(req);
	int rc = in_dropbox(parent) ? dropbox_rmdir_at(c->dropbox, parent, name)
		 : to_trash(c, parent, name) ? trash_rmdir(c->trash, parent, name)
		 : tree_rmdir(c->tree, parent, name);

	fuse_reply_err(req, rc < 0 ? -rc : 0);
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct fs_context *c = CTX(req);
	int rc;

	if (in_dropbox(parent) && in_dropbox(newparent))
		rc = dropbox_rename_at(c->dropbox, parent, name, newparent, newname, flags);
	else if (in_dropbox(parent) || in_dropbox(newparent))
		rc = -EXDEV;
	else if (to_trash(c, parent, name) || to_trash(c, newparent, newname))
		rc = trash_rename(c->trash, parent, name, newparent, newname, flags);
	else if (parent == INO_ROOT && newparent == INO_ROOT)
		rc = tree_rename(c->tree, name, newname, flags);
	else
		rc = -EACCES;
	if (rc == -EACCES || rc == -EXDEV)
		tree_log_refusal(c->tree, parent, name, "rename", -rc);
	fuse_reply_err(req, rc < 0 ? -rc : 0);
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_context *c = CTX(req);
	int rc;

	if (ino_is_dropbox(ino)) {
		struct dropbox_file *f;
		rc = dropbox_open(c->dropbox, ino, fi->flags, &f);
		if (rc < 0) {
			fuse_reply_err(req, -rc);
			return;
		}
		fi->fh = fh_of_dropbox(f);
		if (fuse_reply_open(req, fi) != 0)
			dropbox_release(c->dropbox, f);
		return;
	}
	if (c->trash && ino_is_trash(ino)) {
		struct trash_file *tf;
		rc = trash_open(c->trash, ino, fi->flags, &tf);
		if (rc < 0) {
			fuse_reply_err(req, -rc);
			return;
		}
		fi->fh = fh_of_trash(tf);
		fi->direct_io = 1;
		if (fuse_reply_open(req, fi) != 0)
			trash_release(tf);
		return;
	}
	struct tree_file *f;
	struct tree_open_info info;
	rc = tree_open(c->tree, ino, fi->flags, &f, &info);
	if (rc == -EACCES)
		tree_log_refusal(c->tree, ino, NULL, (fi->flags & O_ACCMODE) == O_RDONLY ?
				 "reading" : "writing", EACCES);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)f;
	fi->direct_io = info.direct_io;
	fi->keep_cache = info.keep_cache;
	if (fuse_reply_open(req, fi) != 0)
		tree_release(c->tree, f);
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs_context *c = CTX(req);
	struct dropbox_file *df = dropbox_of_fh(fi->fh);
	struct tree_file *tf = tree_of_fh(fi->fh);
	ssize_t n;
	char *buf;

	if (trash_of_fh(fi->fh)) {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = trash_file_fd(trash_of_fh(fi->fh));
		bv.buf[0].pos = off;
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
		return;
	}
	if (tf) {
		/* Bytes already on disk go from file to kernel by splice,
		 * without a copy through us. */
		size_t len = size;
		int fd = tree_read_fd(c->tree, tf, off, &len);
		if (fd >= 0) {
			struct fuse_bufvec bv = FUSE_BUFVEC_INIT(len);
			bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
			bv.buf[0].fd = fd;
			bv.buf[0].pos = off;
			fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
			return;
		}
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = df ? dropbox_read(df, buf, size, off) : tree_read(c->tree, tf, buf, size, off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		     off_t off, struct fuse_file_info *fi)
{
	struct dropbox_file *df = dropbox_of_fh(fi->fh);
	ssize_t n;

	if (trash_of_fh(fi->fh)) {
		n = pwrite(trash_file_fd(trash_of_fh(fi->fh)), buf, size, off);
		if (n < 0)
			n = -errno;
	} else if (df)
		n = dropbox_write(df, buf, size, off);
	else
		n = tree_write(CTX(req)->tree, tree_of_fh(fi->fh), buf, size, off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dropbox_file *df = dropbox_of_fh(fi->fh);
	int rc = df ? dropbox_flush(CTX(req)->dropbox, df) : 0;

	fuse_reply_err(req, rc < 0 ? -rc : 0);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_context *c = CTX(req);
	struct dropbox_file *df = dropbox_of_fh(fi->fh);

	if (trash_of_fh(fi->fh))
		trash_release(trash_of_fh(fi->fh));
	else if (df)
		dropbox_release(c->dropbox, df);
	else
		tree_release(c->tree, tree_of_fh(fi->fh));
	fuse_reply_err(req, 0);
}

static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct dropbox_file *df = dropbox_of_fh(fi->fh);
	struct trash_file *tf = trash_of_fh(fi->fh);
	int rc = df ? dropbox_fsync(df, datasync) : 0;

	if (tf && (datasync ? fdatasync(trash_file_fd(tf)) : fsync(trash_file_fd(tf))) < 0)
		rc = -errno;

	fuse_reply_err(req, rc < 0 ? -rc : 0);
}

struct dirbuf {
	fuse_req_t req;
	char *buf;
	size_t size, used;
};

static int dir_fill(void *ctx, const char *name, const struct stat *st, off_t next)
{
	struct dirbuf *b = ctx;
	size_t need = fuse_add_direntry(b->req, NULL, 0, name, st, next);

	if (b->used + need > b->size)
		return 1;
	fuse_add_direntry(b->req, b->buf + b->used, b->size - b->used, name, st, next);
	b->used += need;
	return 0;
}

static int dir_fill_plus(void *ctx, const char *name, const struct tree_attr *a, off_t next)
{
	struct dirbuf *b = ctx;
	struct fuse_entry_param e;
	size_t need;

	memset(&e, 0, sizeof(e));
	/* Node 0: no attributes; the kernel looks the name up itself. */
	e.ino = a->name_only ? 0 : a->st.st_ino;
	e.attr = a->st;
	e.attr_timeout = a->timeout;
	e.entry_timeout = a->entry_timeout;
	need = fuse_add_direntry_plus(b->req, NULL, 0, name, &e, next);
	if (b->used + need > b->size)
		return 1;
	fuse_add_direntry_plus(b->req, b->buf + b->used, b->size - b->used, name, &e, next);
	b->used += need;
	return 0;
}

/* new/ entries come without attributes (their lookups count references). */
static int dropbox_fill_plus(void *ctx, const char *name, const struct stat *st, off_t next)
{
	struct tree_attr a;

	memset(&a, 0, sizeof(a));
	a.st.st_mode = st->st_mode;
	a.st.st_ino = st->st_ino;
	a.name_only = true;
	return dir_fill_plus(ctx, name, &a, next);
}

/* readdir and readdirplus: the same listing, with or without attributes. */
static void list_dir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct fs_context *c = CTX(req);
	struct dirbuf b = {.req = req, .size = size};
	int rc;

	b.buf = malloc(size);
	if (!b.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (in_dropbox(ino))
		rc = dropbox_readdir_at(c->dropbox, ino, off,
					plus ? dropbox_fill_plus : dir_fill, &b);
	else if (c->trash && ino_is_trash(ino))
		rc = trash_readdir(c->trash, ino, off, plus ? dropbox_fill_plus : dir_fill, &b);
	else if (plus)
		rc = tree_readdirplus(c->tree, ino, off, dir_fill_plus, &b);
	else
		rc = tree_readdir(c->tree, ino, off, dir_fill, &b);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, b.buf, b.used);
	free(b.buf);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	list_dir(req, ino, size, off, false);
}

static void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	list_dir(req, ino, size, off, true);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	int rc = tree_statfs(CTX(req)->tree, &sv);

	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_statfs(req, &sv);
}

static void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char *buf = size ? malloc(size) : NULL;
	ssize_t n = size && !buf ? -ENOMEM
		    : ino_is_trash(ino) ? -ENODATA
		    : tree_getxattr(CTX(req)->tree, ino, name, buf, size);

	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *buf = size ? malloc(size) : NULL;
	ssize_t n = size && !buf ? -ENOMEM
		    : ino_is_trash(ino) ? 0
		    : tree_listxattr(CTX(req)->tree, ino, buf, size);

	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

/* Attributes describe the task; they are not the user's to set. */
static void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	int err = ino_is_dropbox(ino) || ino == INO_NEW ? ENOTSUP : EACCES;

	tree_log_refusal(CTX(req)->tree, ino, name, "setting attribute", err);
	fuse_reply_err(req, err);
}

static void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req, ino_is_dropbox(ino) || ino == INO_NEW ? ENOTSUP : EACCES);
}

const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.lookup = fs_lookup,
	.forget = fs_forget,
	.forget_multi = fs_forget_multi,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.mknod = fs_mknod,
	.mkdir = fs_mkdir,
	.symlink = fs_symlink,
	.readlink = fs_readlink,
	.link = fs_link,
	.unlink = fs_unlink,
	.rmdir = fs_rmdir,
	.rename = fs_rename,
	.create = fs_create,
	.open = fs_open,
	.read = fs_read,
	.write = fs_write,
	.flush = fs_flush,
	.release = fs_release,
	.fsync = fs_fsync,
	.readdir = fs_readdir,
	.readdirplus = fs_readdirplus,
	.statfs = fs_statfs,
	.getxattr = fs_getxattr,
	.listxattr = fs_listxattr,
	.setxattr = fs_setxattr,
	.removexattr = fs_removexattr,
};
