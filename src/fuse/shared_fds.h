/* One descriptor per file for reads that need no file position of their
 * own (everything here is read with pread): a thousand opens of one video
 * hold one descriptor, not a thousand, so no user of an allow_other mount
 * can run veofs out of descriptors by opening a file over and over. */
#ifndef VEOFS_SHARED_FDS_H
#define VEOFS_SHARED_FDS_H

struct shared_fds;
struct shared_fd;

struct shared_fds *shared_fds_new(void);
/* Every handle must have been released. */
void shared_fds_free(struct shared_fds *s);
/* Take fd, just opened read-only. The handle reads from fd itself, or
 * from a descriptor already open on the same file (fd is then closed).
 * NULL (fd closed) only when out of memory. */
struct shared_fd *shared_fds_adopt(struct shared_fds *s, int fd);
int shared_fd_get(const struct shared_fd *h);
/* The last release closes the descriptor. */
void shared_fds_release(struct shared_fds *s, struct shared_fd *h);

#endif
