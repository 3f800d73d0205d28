/* What a task's ctl file takes and what this task can do now. The rules
 * (which command a state allows, and why not) and the text a reader of
 * ctl sees are made here from the same predicates, so the description
 * cannot say "yes" where the command would answer EBUSY, or the reverse.
 * All functions expect t->mu held and never block. */
#ifndef VEOFS_CTL_TEXT_H
#define VEOFS_CTL_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "task.h"

enum ctl_command {
	CTL_REFRESH = 0,
	CTL_RETRY,
	CTL_CANCEL,
	CTL_COUNT,
};

/* "refresh", "retry", "cancel". */
const char *ctl_command_name(enum ctl_command c);

/* Whether task t takes command c now. When it does not, why (without a
 * trailing newline, e.g. "the task is in_progress; only a failed task can
 * be retried") is written to why; why may be NULL. */
bool ctl_allowed(const struct task *t, enum ctl_command c, char *why, size_t whylen);

/* The text of ctl: one line per command, "NAME  what it does" or
 * "NAME  not now: why". Caller frees; *len is its length. */
char *ctl_text(const struct task *t, size_t *len);

#endif
