/* What every user of the provider seam needs, whichever implementation
 * stands behind it. */
#include "remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"

void remote_result_clear(struct remote_result *res)
{
	if (!res)
		return;
	free(res->body);
	memset(res, 0, sizeof(*res));
	res->retry_after_ms = -1;
}

void remote_result_redact(struct remote_result *res, const char *key)
{
	size_t n;
	char *clean = redact_text(res->reason, strlen(res->reason), key, &n);

	if (clean) {
		snprintf(res->reason, sizeof(res->reason), "%s", clean);
		free(clean);
	}
	if (res->body) {
		clean = redact_text(res->body, res->body_len, key, &n);
		if (clean) {
			free(res->body);
			res->body = clean;
			res->body_len = n;
		} else {
			/* Nothing unredacted may leave: drop the body. */
			free(res->body);
			res->body = NULL;
			res->body_len = 0;
		}
	}
}
