#include "hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

extern char **environ;

static bool is_secret_var(const char *kv)
{
	return !strncmp(kv, "VEOFS_API_KEY=", 14) || !strncmp(kv, "OPENAI_API_KEY=", 15) ||
	       !strncmp(kv, "VEOFS_", 6); /* ours are set below, fresh */
}

static int push(char ***env, size_t *n, const char *k, const char *v)
{
	char *s;
	char **p;

	if (asprintf(&s, "%s=%s", k, v ? v : "") < 0)
		return -1;
	p = realloc(*env, (*n + 2) * sizeof(*p));
	if (!p) {
		free(s);
		return -1;
	}
	*env = p;
	p[(*n)++] = s;
	p[*n] = NULL;
	return 0;
}

char **hooks_env(const struct hook_call *c)
{
	char **env = NULL;
	size_t n = 0;

	for (char **e = environ; e && *e; e++) {
		if (is_secret_var(*e))
			continue;
		char *eq = strchr(*e, '=');
		if (!eq)
			continue;
		char key[256];
		snprintf(key, sizeof(key), "%.*s", (int)(eq - *e), *e);
		if (push(&env, &n, key, eq + 1) < 0)
			goto fail;
	}
	if (push(&env, &n, "VEOFS_TASK", c->task) || push(&env, &n, "VEOFS_STATE", c->state) ||
	    push(&env, &n, "VEOFS_VIDEO", !strcmp(c->state, "completed") ? c->path : "") ||
	    push(&env, &n, "VEOFS_PROMPT", c->prompt) || push(&env, &n, "VEOFS_ID", c->id))
		goto fail;
	return env;
fail:
	hooks_env_free(env);
	return NULL;
}

void hooks_env_free(char **env)
{
	for (char **e = env; e && *e; e++)
		free(*e);
	free(env);
}

struct watch {
	pid_t pid;
	int out;      /* the hook's stdout and stderr */
	char *label;
};

/* Log the hook's output line by line and reap it; kill it when it runs
 * past its time. */
static void *watch_hook(void *arg)
{
	struct watch *w = arg;
	time_t deadline = time(NULL) + HOOK_TIMEOUT_S;
	char buf[4096];
	size_t have = 0;
	int status = 0;
	bool killed = false;

	for (;;) {
		struct pollfd pfd = {.fd = w->out, .events = POLLIN};
		int left = (int)(deadline - time(NULL));
		if (left <= 0) {
			kill(w->pid, SIGKILL);
			killed = true;
			break;
		}
		int r = poll(&pfd, 1, left * 1000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		ssize_t n = read(w->out, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		char *line = buf, *nl;
		while ((nl = strchr(line, '\n'))) {
			*nl = '\0';
			log_info("hook %s: %s", w->label, line);
			line = nl + 1;
		}
		have = strlen(line);
		memmove(buf, line, have);
		if (have == sizeof(buf) - 1) {
			buf[have] = '\0';
			log_info("hook %s: %s", w->label, buf);
			have = 0;
		}
	}
	if (have) {
		buf[have] = '\0';
		log_info("hook %s: %s", w->label, buf);
	}
	close(w->out);
	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (killed)
		log_warn("hook %s: killed after %d s", w->label, HOOK_TIMEOUT_S);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		log_warn("hook %s: could not be run (not found or not executable)", w->label);
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		log_warn("hook %s: exited with status %d", w->label, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_warn("hook %s: killed by signal %d", w->label, WTERMSIG(status));
	else
		log_debug("hook %s: done", w->label);
	free(w->label);
	free(w);
	return NULL;
}

int hooks_run(const struct hook_call *c)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t sa;
	char *argv[] = {(char *)c->program, (char *)c->task, (char *)c->state,
			(char *)c->path, NULL};
	char **env;
	int p[2], rc;
	pid_t pid;
	pthread_t th;
	pthread_attr_t ta;
	struct watch *w;

	if (!c->program || !*c->program)
		return 0;
	env = hooks_env(c);
	if (!env)
		return -ENOMEM;
	if (pipe2(p, O_CLOEXEC) < 0) {
		hooks_env_free(env);
		return -errno;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	/* Only stdin, stdout and stderr: a hook must not hold the API's
	 * connection, the FUSE device or the state lock, whether or not
	 * whoever opened them remembered close-on-exec. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&sa);
	/* Its own process group, and default signal handling: our FUSE
	 * signal handlers must not be inherited. */
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&sa, &none);
	posix_spawnattr_setsigdefault(&sa, &all);
	posix_spawnattr_setpgroup(&sa, 0);
	posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
				 POSIX_SPAWN_SETPGROUP);
	rc = strchr(c->program, '/') ? posix_spawn(&pid, c->program, &fa, &sa, argv, env)
				     : posix_spawnp(&pid, c->program, &fa, &sa, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&sa);
	hooks_env_free(env);
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		log_warn("hook %s for task %s: cannot run it: %s", c->program, c->task, strerror(rc));
		return -rc;
	}
	w = calloc(1, sizeof(*w));
	if (!w || asprintf(&w->label, "%s (task %s)", c->program, c->task) < 0) {
		/* Still reap it, without the output. */
		close(p[0]);
		free(w);
		waitpid(pid, NULL, WNOHANG);
		return -ENOMEM;
	}
	w->pid = pid;
	w->out = p[0];
	pthread_attr_init(&ta);
	pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &ta, watch_hook, w) != 0) {
		close(p[0]);
		free(w->label);
		free(w);
	}
	pthread_attr_destroy(&ta);
	log_info("task %s: started hook %s", c->task, c->program);
	return 0;
}
