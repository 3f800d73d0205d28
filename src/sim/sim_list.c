/* GET /videos: the list of jobs, as OpenAI's ListVideos answers it
 * (openai-openapi.yaml, operationId ListVideos and VideoListResource):
 * {object "list", data [VideoResource...], first_id, last_id, has_more},
 * with the query parameters after (the id to continue after), limit
 * (0..100) and order (asc or desc by creation time). The spec gives no
 * defaults: without limit every job is listed (as the simulator always
 * did; tests count jobs this way), order is desc.
 * A dialect without the route answers as that gateway does. */
#include "sim_internal.h"

#define LIST_ALL (-2)
#define LIST_MAX_LIMIT 100

/* -1 when the value is not a whole number from 0 to 100. */
static long parse_limit(const char *v)
{
	char *end;
	long n;

	if (!v)
		return LIST_ALL;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end != '\0' || n < 0 || n > LIST_MAX_LIMIT)
		return -1;
	return n;
}

void do_list(struct sim *s, struct MHD_Connection *c, struct answer *a)
{
	const char *after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
							"after");
	const char *order = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
							"order");
	long limit = parse_limit(MHD_lookup_connection_value(c,
					MHD_GET_ARGUMENT_KIND, "limit"));
	bool desc = true, started;
	json_t *data, *first = json_null(), *last = json_null();
	bool more = false;

	if (!s->d->has_list) {
		s->d->no_route(a, "GET", "/v1/videos");
		return;
	}
	if (limit == -1) {
		answer_error(a, 400, "invalid_request_error", NULL, "limit",
			     "limit must be a whole number from 0 to %d",
			     LIST_MAX_LIMIT);
		return;
	}
	if (order && strcmp(order, "asc") == 0)
		desc = false;
	else if (order && strcmp(order, "desc") != 0) {
		answer_error(a, 400, "invalid_request_error", NULL, "order",
			     "order must be asc or desc");
		return;
	}
	data = json_array();
	pthread_mutex_lock(&s->lock);
	if (after && !find_job(s, after)) {
		pthread_mutex_unlock(&s->lock);
		json_decref(data);
		answer_error(a, 400, "invalid_request_error", NULL, "after",
			     "no video '%.80s' to continue after", after);
		return;
	}
	started = after == NULL;
	for (size_t k = 0; k < s->n_jobs; k++) {
		struct job *j = s->jobs[desc ? s->n_jobs - 1 - k : k];

		if (j->deleted)
			continue;
		if (!started) {
			started = strcmp(j->id, after) == 0;
			continue;
		}
		if ((long)json_array_size(data) == limit) {
			more = true;
			break;
		}
		json_array_append_new(data, video_object(s, j, false, FK_NONE));
		if (json_is_null(first))
			first = json_string(j->id);
		json_decref(last);
		last = json_string(j->id);
	}
	pthread_mutex_unlock(&s->lock);
	answer_json(a, 200, json_pack("{s:s, s:o, s:o, s:o, s:b}", "object", "list",
				      "data", data, "first_id", first,
				      "last_id", last, "has_more", more));
}
