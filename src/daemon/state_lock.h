/* One mount per state dir: two daemons writing the same tasks could each
 * submit them, which is exactly the double payment veofs exists to avoid. */
#ifndef VEOFS_STATE_LOCK_H
#define VEOFS_STATE_LOCK_H

#include <stddef.h>

/* Takes an exclusive lock on STATE_DIR/lock and records our pid and mount
 * point in it. Returns the lock fd (kept open for the life of the mount),
 * or -1 with a reason in err that names the mount holding it. */
int state_lock_acquire(const char *state_dir, const char *mountpoint,
		       char *err, size_t errlen);
/* Rewrite the holder line, e.g. with the daemon's pid after forking. */
void state_lock_note(int fd, const char *mountpoint);
void state_lock_release(int fd);

#endif
