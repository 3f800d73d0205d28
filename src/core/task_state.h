/* The states a task moves through (src/README.md draws the machine). */
#ifndef VEOFS_TASK_STATE_H
#define VEOFS_TASK_STATE_H

enum task_state {
	TASK_PENDING = 0,   /* accepted locally, not yet by the API */
	TASK_QUEUED,
	TASK_IN_PROGRESS,
	TASK_COMPLETED,
	TASK_FAILED,
};

const char *task_state_name(enum task_state s);
/* Parses our own names back ("pending", ...); -1 if unknown. */
int task_state_parse(const char *s);

#endif
