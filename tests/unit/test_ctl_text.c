/* ctl's text and the rules it describes: every state, every command. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_text.h"
#include "task.h"

static char *line_of(const char *text, const char *cmd)
{
	size_t n = strlen(cmd);

	for (const char *p = text; *p; p = strchr(p, '\n') + 1) {
		if (!strncmp(p, cmd, n) && p[n] == ' ')
			return strndup(p, strcspn(p, "\n"));
		if (!strchr(p, '\n'))
			break;
	}
	return NULL;
}

Test(ctl_text, each_command_says_yes_exactly_when_the_rule_does)
{
	struct task *t = task_new("job");

	task_set_str(&t->prompt, "a cow");
	for (int s = TASK_PENDING; s <= TASK_FAILED; s++) {
		size_t len = 0;
		t->state = (enum task_state)s;
		char *text = ctl_text(t, &len);
		cr_assert_eq(len, strlen(text));
		cr_assert_eq(text[len - 1], '\n');
		for (int c = 0; c < CTL_COUNT; c++) {
			char why[200];
			char *line = line_of(text, ctl_command_name((enum ctl_command)c));
			cr_assert_not_null(line, "no %s line in %s", ctl_command_name(c), text);
			bool ok = ctl_allowed(t, (enum ctl_command)c, why, sizeof(why));
			if (ok) {
				cr_assert_null(strstr(line, "not now"), "%s", line);
				cr_assert_eq(why[0], '\0');
			} else {
				cr_assert_not_null(strstr(line, "not now: "), "%s", line);
				cr_assert_not_null(strstr(line, why), "%s lacks %s", line, why);
			}
			free(line);
		}
		free(text);
	}
	t->state = TASK_IN_PROGRESS;
	cr_assert(ctl_allowed(t, CTL_REFRESH, NULL, 0));
	cr_assert(ctl_allowed(t, CTL_CANCEL, NULL, 0));
	cr_assert_not(ctl_allowed(t, CTL_RETRY, NULL, 0));
	t->state = TASK_FAILED;
	cr_assert(ctl_allowed(t, CTL_RETRY, NULL, 0));
	cr_assert_not(ctl_allowed(t, CTL_CANCEL, NULL, 0));
	t->state = TASK_COMPLETED;
	cr_assert_not(ctl_allowed(t, CTL_RETRY, NULL, 0));
	cr_assert_not(ctl_allowed(t, CTL_CANCEL, NULL, 0));
	task_unref(t);
}

/* An attached task has no prompt: retry is refused, and ctl says why. */
Test(ctl_text, an_attached_task_cannot_be_retried)
{
	struct task *t = task_new("job");
	char why[200];
	char *text;

	task_set_str(&t->prompt, "");
	t->state = TASK_FAILED;
	cr_assert_not(ctl_allowed(t, CTL_RETRY, why, sizeof(why)));
	cr_assert(strstr(why, "attached"), "%s", why);
	text = ctl_text(t, NULL);
	cr_assert(strstr(text, "retry    not now: the task was attached"), "%s", text);
	free(text);
	task_unref(t);
}

/* A cancel asked of the provider is not asked twice. */
Test(ctl_text, a_cancel_already_asked_is_not_offered_again)
{
	struct task *t = task_new("job");
	char why[200];

	t->state = TASK_IN_PROGRESS;
	t->cancel_requested = true;
	cr_assert_not(ctl_allowed(t, CTL_CANCEL, why, sizeof(why)));
	cr_assert(strstr(why, "asked"), "%s", why);
	task_unref(t);
}
