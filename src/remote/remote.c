/* What every user of the provider seam needs, whichever implementation
 * stands behind it. */
#include "remote.h"

#include <stdlib.h>
#include <string.h>

void remote_result_clear(struct remote_result *res)
{
	if (!res)
		return;
	free(res->body);
	memset(res, 0, sizeof(*res));
	res->retry_after_ms = -1;
}
