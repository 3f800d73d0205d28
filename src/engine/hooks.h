/* hooks.on_complete / hooks.on_failed: a user's program run, detached, when
 * a task finishes. A hook that hangs, crashes or does not exist never
 * delays the file system: it runs in its own process, watched by a thread
 * of its own that logs its output and kills it after HOOK_TIMEOUT_S. */
#ifndef VEOFS_HOOKS_H
#define VEOFS_HOOKS_H

#define HOOK_TIMEOUT_S 300

struct hook_call {
	const char *program;   /* absolute path or a name looked up in PATH */
	const char *task;      /* NAME */
	const char *state;     /* completed or failed */
	const char *path;      /* the video, or the task folder */
	const char *prompt;
	const char *id;        /* may be NULL */
};

/* Starts the hook; returns at once. 0, or -errno when it can't start. */
int hooks_run(const struct hook_call *c);

/* The environment a hook gets: ours without any API key, plus VEOFS_TASK,
 * VEOFS_STATE, VEOFS_VIDEO, VEOFS_PROMPT, VEOFS_ID. NULL-terminated;
 * free with hooks_env_free. */
char **hooks_env(const struct hook_call *c);
void hooks_env_free(char **env);

#endif
