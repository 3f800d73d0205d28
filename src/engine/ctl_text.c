/* The ctl rules and their description, side by side (see ctl_text.h). */
#include "ctl_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_state.h"
#include "xalloc.h"

static const char *const names[CTL_COUNT] = {
	[CTL_REFRESH] = "refresh",
	[CTL_RETRY] = "retry",
	[CTL_CANCEL] = "cancel",
};

/* What each command does when the task takes it. */
static const char *const does[CTL_COUNT] = {
	[CTL_REFRESH] = "ask the provider now (and retry a stalled download at once)",
	[CTL_RETRY] = "send the task again as a new generation (paid again)",
	[CTL_CANCEL] = "ask the provider to stop it; failed: cancelled once it confirms",
};

const char *ctl_command_name(enum ctl_command c)
{
	return c < CTL_COUNT ? names[c] : NULL;
}

bool ctl_allowed(const struct task *t, enum ctl_command c, char *why, size_t whylen)
{
	char dummy[1];

	if (!why) {
		why = dummy;
		whylen = sizeof(dummy);
	}
	why[0] = '\0';
	switch (c) {
	case CTL_REFRESH:
		/* Any state: it only resets backoffs and kicks the task. */
		return true;
	case CTL_RETRY:
		if (t->state != TASK_FAILED) {
			snprintf(why, whylen, "the task is %s; only a failed task can be retried",
				 task_state_name(t->state));
			return false;
		}
		if (t->damaged) {
			snprintf(why, whylen, "the task's record is damaged, so what was sent "
				 "and paid for is not known; remove it (rmdir) and write a new "
				 "NAME.prompt");
			return false;
		}
		/* Attached by its id (new/NAME.id): nothing was ever accepted
		 * to send, and a create without the user's prompt is never
		 * sent. */
		if (!t->prompt || !t->prompt[0]) {
			snprintf(why, whylen, "the task was attached by its id; there is no "
				 "prompt to send again");
			return false;
		}
		return true;
	case CTL_CANCEL:
		if (t->state == TASK_FAILED || t->state == TASK_COMPLETED) {
			snprintf(why, whylen, "the task is already %s",
				 task_state_name(t->state));
			return false;
		}
		if (t->cancel_requested) {
			snprintf(why, whylen, "the provider has been asked to stop it already");
			return false;
		}
		return true;
	default:
		snprintf(why, whylen, "unknown command");
		return false;
	}
}

char *ctl_text(const struct task *t, size_t *len)
{
	char line[CTL_COUNT][256], why[200];
	size_t n = 0;
	char *s;

	for (int c = 0; c < CTL_COUNT; c++) {
		if (ctl_allowed(t, (enum ctl_command)c, why, sizeof(why)))
			snprintf(line[c], sizeof(line[c]), "%-8s %s\n", names[c], does[c]);
		else
			snprintf(line[c], sizeof(line[c]), "%-8s not now: %s\n", names[c], why);
		n += strlen(line[c]);
	}
	s = xmalloc(n + 1);
	s[0] = '\0';
	for (int c = 0; c < CTL_COUNT; c++)
		strcat(s, line[c]);
	if (len)
		*len = n;
	return s;
}
