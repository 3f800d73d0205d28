/* What the veofs process does to itself at start so that the API key stays
 * its own and a busy mount does not run out of descriptors. */
#ifndef VEOFS_PROCESS_GUARD_H
#define VEOFS_PROCESS_GUARD_H

#include <stdbool.h>
#include <stddef.h>

/* The environment variables that may carry a key. */
extern const char *const process_key_variables[];

/* Overwrite each key variable's value where the kernel shows it
 * (/proc/PID/environ reads the original block, which unsetenv leaves
 * alone), then unset it, so neither other users nor hooks see it. Call
 * once the configuration has copied the key. */
void process_forget_key_variables(void);

/* No core dumps and no ptrace by other processes of the same user, and
 * /proc/PID/{environ,mem,maps} owned by root: the key lives in this
 * process's memory. A debugging run (-d) stays dumpable. 0, or -1 with a
 * reason in err. */
int process_set_undumpable(bool debugging, char *err, size_t errlen);

/* Raise the soft limit on open files to the hard limit: a folder of
 * thousands of videos may be read at once. */
void process_raise_fd_limit(void);

#endif
