/* Small durable-file helpers: every write that must survive a crash goes
 * through here (write to a temporary, fsync, rename, fsync the directory). */
#ifndef VEOFS_FSUTIL_H
#define VEOFS_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Temporaries of fs_write_atomic/fs_write_replace start with this. */
#define FS_TEMP_PREFIX ".veofs-tmp-"

/* Remove temporaries a crash left in dirfd. */
void fs_remove_temporaries(int dirfd);
/* Remove every regular dot-file in dirfd (a directory only veofs writes). */
void fs_remove_dotfiles(int dirfd);

/* Atomically replace dirfd/name with data: NAME.tmp, fsync, rename, fsync
 * dir. Returns 0 or -errno, with a reason in err. */
int fs_write_atomic(int dirfd, const char *name, const void *data, size_t len,
		    char *err, size_t errlen);
/* Same, without the fsyncs: for files that can be rebuilt (task.json),
 * where torn content must still never be seen. */
int fs_write_replace(int dirfd, const char *name, const void *data, size_t len,
		     char *err, size_t errlen);
/* Read a whole file (at most max bytes; -EFBIG beyond). *out is
 * NUL-terminated, caller frees. Returns 0 or -errno. */
int fs_read_all(int dirfd, const char *name, size_t max, char **out, size_t *len);
/* The same from an open descriptor (left open): a regular file of at most
 * max bytes, NUL-terminated; 0 or -errno (-EFBIG, -EISDIR, -EINVAL). */
int fs_read_fd(int fd, size_t max, char **out, size_t *len);
int fs_fsync_dir(int dirfd);
/* mkdir -p with mode; 0 or -errno. */
int fs_mkdir_p(const char *path, mode_t mode);
/* rm -rf of dirfd/name; best effort, 0 or -errno of the first failure. */
int fs_remove_tree(int dirfd, const char *name);
/* rename(2) that never replaces an existing target: renameat2 with
 * RENAME_NOREPLACE, or where the file system refuses rename flags (NFS,
 * CIFS, FUSE file systems on libfuse's high-level API answer EINVAL)
 * fs_rename_noreplace_emulated. 0 or -errno; -EEXIST when to is taken. */
int fs_rename_noreplace(int fromfd, const char *from, int tofd, const char *to);
/* The same without rename flags. A directory: mkdir of the target as the
 * atomic reservation, then a plain rename onto that empty directory (a
 * crash in between leaves an empty directory and the source, both whole;
 * nothing but our own reservation is ever replaced, since rename(2) onto
 * a non-empty directory fails). Anything else: link(2) to the target
 * (refused when taken), then unlink of the source. */
int fs_rename_noreplace_emulated(int fromfd, const char *from, int tofd, const char *to);

/* Write all of buf at off (retries short writes and EINTR); 0 or -errno. */
int fs_pwrite_all(int fd, const void *buf, size_t len, off_t off);

#endif
