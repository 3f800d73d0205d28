/* What a task's state is, apart from how any provider spells it. */
#include "task_state.h"

#include <string.h>

static const char *const state_names[] = {
	[TASK_PENDING] = "pending",
	[TASK_QUEUED] = "queued",
	[TASK_IN_PROGRESS] = "in_progress",
	[TASK_COMPLETED] = "completed",
	[TASK_FAILED] = "failed",
};

#define STATE_COUNT (sizeof(state_names) / sizeof(state_names[0]))

const char *task_state_name(enum task_state s)
{
	if ((unsigned)s < STATE_COUNT)
		return state_names[s];
	return "unknown";
}

int task_state_parse(const char *s)
{
	if (!s)
		return -1;
	for (unsigned i = 0; i < STATE_COUNT; i++)
		if (strcmp(s, state_names[i]) == 0)
			return (int)i;
	return -1;
}
