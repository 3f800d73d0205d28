/* One mount per state dir: two daemons writing the same tasks could each
 * submit them, which is exactly the double payment veofs exists to avoid.
 *
 * The lock is held twice: an flock on the state directory itself, which no
 * unlink can take away, and an flock on STATE_DIR/lock, which names the
 * holder and is all that file systems without directory locks (NFS) give.
 * Before every submission the engine asks state_lock_check whether the
 * lock is still ours, so a lock file deleted under a running mount cannot
 * let a second daemon pay for the same prompt. */
#ifndef VEOFS_STATE_LOCK_H
#define VEOFS_STATE_LOCK_H

#include <stdbool.h>
#include <stddef.h>

struct state_lock;

/* Takes both locks and records our pid and mount point in the lock file.
 * NULL with a reason in err that names the mount holding it. */
struct state_lock *state_lock_acquire(const char *state_dir, const char *mountpoint,
				      char *err, size_t errlen);
/* Rewrite the holder line, e.g. with the daemon's pid after forking. */
void state_lock_note(struct state_lock *l, const char *mountpoint);
/* Whether the state dir is still ours: 0, or -1 with a reason in err.
 * A lock file that was deleted or replaced is taken again when nobody
 * else holds it. Cheap: one stat in the common case. */
int state_lock_check(struct state_lock *l, char *err, size_t errlen);
/* Whether the directory itself is locked (false where the file system
 * refuses directory locks). */
bool state_lock_holds_dir(const struct state_lock *l);
void state_lock_release(struct state_lock *l);

#endif
