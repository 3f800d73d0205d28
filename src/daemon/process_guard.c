#include "process_guard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

const char *const process_key_variables[] = {
	"VEOFS_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY",
	"OPENROUTER_API_KEY", NULL,
};

void process_forget_key_variables(void)
{
	for (const char *const *name = process_key_variables; *name; name++) {
		char *value = getenv(*name);

		/* getenv points into the block the kernel shows, as long as
		 * nobody called setenv for this name: scrub it in place. */
		if (value)
			explicit_bzero(value, strlen(value));
		unsetenv(*name);
	}
}

int process_set_undumpable(bool debugging, char *err, size_t errlen)
{
	if (debugging)
		return 0;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		snprintf(err, errlen, "cannot make the process non-dumpable: %s",
			 strerror(errno));
		return -1;
	}
	return 0;
}

void process_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}
