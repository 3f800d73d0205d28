/* Dialects: the shapes and routes of the gateways that put an
 * OpenAI-compatible face on video generation. One table row per dialect;
 * every shape below names the source it follows. Where a source could not
 * be found the comment says so and the shape keeps to what is documented.
 *
 *   openai         OpenAI's spec (openai-openapi.yaml: VideoResource,
 *                  DeletedVideoResource, VideoListResource, Error-2)
 *   newapi         QuantumNous/new-api's OpenAI/Sora-shaped channel
 *   newapi-gemini  new-api's Gemini channel seen through /v1/videos
 *   taskdto        new-api's {"code":"success","data":TaskDto} envelope
 *   litellm        BerriAI/litellm's proxy over Gemini (Veo)
 *   redirect       openai, but /content is a 302 to a signed URL on a
 *                  second port that refuses an Authorization header
 *   json-url       openai, but /content answers {"url": ...}
 *   url-in-status  openai without /content; the finished status object
 *                  names the video under one of six field names */
#include "sim_internal.h"

#define REASON "content policy violation"

static const char *const url_fields[] = {
	"video_url", "data.result_url", "data.videos[].url", "unsigned_urls[]",
	"download_url", "content_url",
};
#define N_URL_FIELDS (sizeof(url_fields) / sizeof(url_fields[0]))

/* ---- shared pieces ---- */

static const char *field_or(const struct sbuf *b, const char *fallback)
{
	return b->p && b->p[0] ? b->p : fallback;
}

static const char *spell(const char *status, enum fault_kind fault)
{
	static const char *const names[][3] = {
		/* canonical, gateway-spelling, upper-case */
		{ "queued", "pending", "QUEUED" },
		{ "in_progress", "processing", "IN_PROGRESS" },
		{ "completed", "succeeded", "COMPLETED" },
		{ "failed", "failure", "FAILED" },
		{ "cancelled", "cancelled", "CANCELLED" },
	};
	int col = fault == FK_GATEWAY_SPELLING ? 1 : fault == FK_UPPER_CASE ? 2 : 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(status, names[i][0]) == 0)
			return names[i][col];
	return status;
}

const char *failure_reason(const struct job *j)
{
	if (j->cancelled)
		return "cancelled";
	if (j->outcome == OUTCOME_FAIL_OBJECT || j->outcome == OUTCOME_FAIL_STRING)
		return REASON;
	return NULL;
}

/* When the job finished: created_at plus its duration, rounded up. */
static json_int_t completed_at(const struct job *j)
{
	json_int_t whole = (json_int_t)j->duration;

	return j->created_at + whole + (j->duration > whole ? 1 : 0);
}

void url_encode(const char *id, char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *id && o + 4 < len; id++) {
		unsigned char c = (unsigned char)*id;

		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || c == '-' || c == '_' || c == '.') {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '%';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	buf[o] = '\0';
}

const char *file_url(struct sim *s, const char *id, char *buf, size_t len)
{
	char enc[3 * ID_MAX];

	url_encode(id, enc, sizeof(enc));
	snprintf(buf, len, "%s/_sim/files/%s.mp4", s->root, enc);
	return buf;
}

/* {"error": {"message", "type", "param", "code"}}, OpenAI's error body. */
static void openai_error(struct answer *a, unsigned status, const char *type,
			 const char *code, const char *message)
{
	answer_error(a, status, type, code, NULL, "%s", message);
}

/* ---- openai: VideoResource ---- */

/* openai-openapi.yaml, components/schemas/VideoResource: every key is
 * required, the nullable ones as null; status is one of queued,
 * in_progress, completed, failed (VideoStatus); error is Error-2
 * {code, message}. A cancelled job is "failed" with code "cancelled":
 * the spec has no status of its own for it. The fail-error-string and
 * fail-no-error faults break the error key on purpose. */
static json_t *openai_object(struct sim *s, struct job *j, const struct view *v,
			     bool fresh, enum fault_kind fault)
{
	const char *status = v->status;
	json_t *o, *error = json_null();

	if (!fresh && v->failed) {
		status = "failed";
		if (j->cancelled)
			error = json_pack("{s:s, s:s}", "code", "cancelled",
					  "message", "cancelled");
		else if (j->outcome == OUTCOME_FAIL_OBJECT)
			error = json_pack("{s:s, s:s}", "code",
					  "content_policy_violation",
					  "message", REASON);
		else if (j->outcome == OUTCOME_FAIL_STRING)
			error = json_string(REASON);
		else
			error = NULL;
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:o, s:o, s:o, s:s, s:s,"
		      " s:n}",
		      "id", j->id, "object", "video",
		      "model", field_or(&j->in.model, ""),
		      "status", spell(status, fault),
		      "progress", v->progress,
		      "created_at", (json_int_t)j->created_at,
		      "completed_at", v->completed ?
				json_integer(completed_at(j)) : json_null(),
		      "expires_at", v->completed ?
				json_integer(completed_at(j) + EXPIRY_SECONDS) :
				json_null(),
		      "prompt", j->in.prompt.p ? json_string(j->in.prompt.p) :
				json_null(),
		      "seconds", field_or(&j->in.seconds, "8"),
		      "size", field_or(&j->in.size, "16x9"),
		      "remixed_from_video_id");
	if (o && error)
		json_object_set_new(o, "error", error);
	else
		json_decref(error);
	return o;
}

static void openai_unknown(struct answer *a, const char *id)
{
	not_found(a, id);
}

static void openai_not_ready(struct answer *a, struct job *j, int state)
{
	if (state == 0)
		answer_error(a, 404, "invalid_request_error", "video_not_ready",
			     NULL, "video is not ready yet");
	else
		answer_error(a, 404, "invalid_request_error", "video_unavailable",
			     NULL, "video generation did not complete");
}

static void openai_no_route(struct answer *a, const char *method,
			    const char *url)
{
	answer_error(a, 404, "invalid_request_error", "unknown_url", NULL,
		     "unknown URL %s", url);
}

/* url-in-status: the openai object, and once completed the link under one
 * field name per job, in turn (or the one --url-field names). The names
 * are those gateways use (contract section 1); data.result_url follows
 * new-api's TaskDto.ResultURL (dto/task.go), unsigned_urls OpenRouter's
 * video API; the others are not from a source we could read. */
static json_t *url_status_object(struct sim *s, struct job *j,
				 const struct view *v, bool fresh,
				 enum fault_kind fault)
{
	json_t *o = openai_object(s, j, v, fresh, fault);
	char url[1200];
	int which = j->url_field;

	if (!o || !v->completed)
		return o;
	if (s->opt.url_field)
		for (size_t i = 0; i < N_URL_FIELDS; i++)
			if (strcmp(s->opt.url_field, url_fields[i]) == 0)
				which = (int)i;
	file_url(s, j->id, url, sizeof(url));
	switch (which) {
	case 0:
		json_object_set_new(o, "video_url", json_string(url));
		break;
	case 1:
		json_object_set_new(o, "data", json_pack("{s:s}", "result_url", url));
		break;
	case 2:
		json_object_set_new(o, "data", json_pack("{s:[{s:s}]}", "videos",
							 "url", url));
		break;
	case 3:
		json_object_set_new(o, "unsigned_urls", json_pack("[s]", url));
		break;
	case 4:
		json_object_set_new(o, "download_url", json_string(url));
		break;
	default:
		json_object_set_new(o, "content_url", json_string(url));
		break;
	}
	return o;
}

/* ---- new-api ---- */

/* new-api's own error body for a task: dto.TaskError {code, message, data}
 * written as is by controller/relay.go respondTaskError; an unknown id is
 * TaskErrorWrapperLocal(errors.New("task_not_exist"), "task_not_exist",
 * 400) (relay/relay_task.go, videoFetchByIDRespBodyBuilder). */
static void newapi_unknown(struct answer *a, const char *id)
{
	answer_json(a, 400, json_pack("{s:s, s:s, s:n}", "code", "task_not_exist",
				      "message", "task_not_exist", "data"));
}

/* The internal status new-api keeps (model/task.go TaskStatus). */
static const char *newapi_task_status(const struct view *v, bool fresh)
{
	if (fresh)
		return "SUBMITTED";
	if (v->completed)
		return "SUCCESS";
	if (v->failed)
		return "FAILURE";
	return strcmp(v->status, "queued") == 0 ? "QUEUED" : "IN_PROGRESS";
}

/* /content through new-api: controller/video_proxy.go VideoProxy answers
 * 400 {"error": {"message": "Task is not completed yet, current status:
 * S", "type": "invalid_request_error"}} until the task succeeded. */
static void newapi_not_ready(struct answer *a, struct job *j, int state)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "Task is not completed yet, current status: %s",
		 state < 0 ? "FAILURE" : "IN_PROGRESS");
	answer_json(a, 400, json_pack("{s:{s:s, s:s}}", "error", "message", msg,
				      "type", "invalid_request_error"));
}

/* A route new-api lacks (DELETE /v1/videos/ID, GET /v1/videos: no such
 * routes found in its router): controller/relay.go RelayNotFound, 404
 * {"error": {"message": "Invalid URL (METHOD PATH)", "type":
 * "invalid_request_error", "param": "", "code": ""}}. */
static void newapi_no_route(struct answer *a, const char *method,
			    const char *url)
{
	char msg[400];

	snprintf(msg, sizeof(msg), "Invalid URL (%s %s)", method, url);
	answer_json(a, 404, json_pack("{s:{s:s, s:s, s:s, s:s}}", "error",
				      "message", msg, "type", "invalid_request_error",
				      "param", "", "code", ""));
}

/* The Sora channel: the upstream's object passed through
 * (relay/channel/task/sora/adaptor.go, responseTask and
 * ConvertToOpenAIVideo returning task.Data), with dto/openai_video.go's
 * OpenAIVideo keys: id, task_id (omitempty, "for the old interface"),
 * object, model, status, progress (int), created_at, completed_at and
 * expires_at (omitempty), seconds, size, error {message, code}
 * (omitempty). Statuses in the lower-case spellings ParseTaskResult
 * accepts: queued on create, then pending, processing, completed, failed. */
static json_t *newapi_object(struct sim *s, struct job *j, const struct view *v,
			     bool fresh, enum fault_kind fault)
{
	const char *status = fresh ? "queued" :
			     v->completed ? "completed" :
			     v->failed ? "failed" :
			     strcmp(v->status, "queued") == 0 ? "pending" :
			     "processing";
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:s, s:s}",
		      "id", j->id, "object", "video",
		      "model", field_or(&j->in.model, ""),
		      "status", spell(status, fault),
		      "progress", v->progress,
		      "created_at", (json_int_t)j->created_at,
		      "seconds", field_or(&j->in.seconds, "8"),
		      "size", field_or(&j->in.size, "16x9"));
	if (!o)
		return NULL;
	if (strncmp(j->id, "task_", 5) == 0)
		json_object_set_new(o, "task_id", json_string(j->id));
	if (v->completed) {
		json_object_set_new(o, "completed_at", json_integer(completed_at(j)));
		json_object_set_new(o, "expires_at",
				    json_integer(completed_at(j) + EXPIRY_SECONDS));
	}
	if (!fresh && v->failed && j->outcome == OUTCOME_FAIL_OBJECT)
		json_object_set_new(o, "error", json_pack("{s:s, s:s}",
			"message", REASON, "code", "content_policy_violation"));
	else if (!fresh && v->failed && j->outcome == OUTCOME_FAIL_STRING)
		json_object_set_new(o, "error", json_string(REASON));
	return o;
}

/* The Gemini channel through /v1/videos: the create answers
 * dto.NewOpenAIVideo() with id and task_id the public task id, created_at
 * and model (relay/channel/task/gemini/adaptor.go, DoResponse); polls
 * answer ConvertToOpenAIVideo: id, object, model, status from
 * TaskStatus.ToVideoStatus() (queued, in_progress, completed, failed),
 * progress, created_at, completed_at, and never an error: a failure says
 * no reason. Progress jumps 0, 50, 100 (ParseTaskResult: "50%" until done,
 * "100%" when done or failed). new-api keeps it as the string "50%"
 * (Task.Progress, dto/task.go TaskDto.Progress); the version of
 * ConvertToOpenAIVideo we read turns it into an int with SetProgressStr,
 * while gateways seen in the field pass the string: the string is served. */
static json_t *newapi_gemini_object(struct sim *s, struct job *j,
				    const struct view *v, bool fresh,
				    enum fault_kind fault)
{
	char progress[8];
	int p = fresh ? 0 : v->failed || v->completed ? 100 : v->progress;
	const char *status = fresh ? "queued" : v->completed ? "completed" :
			     v->failed ? "failed" : v->status;
	json_t *o;

	snprintf(progress, sizeof(progress), "%d%%", p);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}",
		      "id", j->id, "object", "video",
		      "model", field_or(&j->in.model, ""),
		      "status", spell(status, fault),
		      "progress", progress,
		      "created_at", (json_int_t)j->created_at);
	if (!o)
		return NULL;
	if (fresh)
		json_object_set_new(o, "task_id", json_string(j->id));
	if (!fresh && (v->completed || v->failed))
		json_object_set_new(o, "completed_at", json_integer(
			v->completed ? completed_at(j) : (json_int_t)time(NULL)));
	return o;
}

/* new-api's task envelope: dto.TaskResponse {code: "success", message,
 * data} around dto.TaskDto (dto/task.go; relay/relay_task.go
 * TaskModel2Dto): task_id, status SUBMITTED, QUEUED, IN_PROGRESS, SUCCESS
 * or FAILURE (model/task.go), fail_reason, result_url (omitempty) pointing
 * at new-api's proxy for the video, /v1/videos/ID/content
 * (taskcommon.BuildProxyURL in relay_task.go), progress as a string
 * "30%". The create answers the same envelope; the submit answer in this
 * envelope was not found in the sources read. */
static json_t *taskdto_object(struct sim *s, struct job *j, const struct view *v,
			      bool fresh, enum fault_kind fault)
{
	char progress[8], url[1200], enc[3 * ID_MAX];
	const char *status = newapi_task_status(v, fresh);
	json_int_t now = (json_int_t)time(NULL);
	json_t *d;

	snprintf(progress, sizeof(progress), "%d%%",
		 fresh ? 0 : v->failed ? 100 : v->progress);
	d = json_pack("{s:I, s:I, s:I, s:s, s:s, s:i, s:s, s:i, s:i, s:s, s:s,"
		      " s:s, s:I, s:I, s:I, s:s, s:n, s:n}",
		      "id", (json_int_t)j->seq + 1,
		      "created_at", (json_int_t)j->created_at,
		      "updated_at", fresh ? (json_int_t)j->created_at : now,
		      "task_id", j->id,
		      "platform", "gemini",
		      "user_id", 1,
		      "group", "default",
		      "channel_id", 1,
		      "quota", 0,
		      "action", "generate",
		      "status", spell(status, fault),
		      "fail_reason", !fresh && v->failed && failure_reason(j) ?
				failure_reason(j) : "",
		      "submit_time", (json_int_t)j->created_at,
		      "start_time", fresh || strcmp(status, "QUEUED") == 0 ?
				(json_int_t)0 : (json_int_t)j->created_at + 1,
		      "finish_time", v->completed ? completed_at(j) :
				v->failed && !fresh ? now : (json_int_t)0,
		      "progress", progress,
		      "properties", "data");
	if (d && v->completed) {
		url_encode(j->id, enc, sizeof(enc));
		snprintf(url, sizeof(url), "%s/v1/videos/%s/content", s->root, enc);
		json_object_set_new(d, "result_url", json_string(url));
	}
	return json_pack("{s:s, s:s, s:o}", "code", "success", "message", "",
			 "data", d ? d : json_null());
}

/* ---- LiteLLM over Gemini ---- */

/* LiteLLM's proxy reports an exception as an OpenAI-style error body with
 * the HTTP status as the code; the envelope's exact keys were not found in
 * the sources read (litellm/proxy), so this keeps to OpenAI's error
 * object. */
static void litellm_error(struct answer *a, unsigned status, const char *message)
{
	char code[8];

	snprintf(code, sizeof(code), "%u", status);
	openai_error(a, status, status >= 500 ? "internal_server_error" :
		     "invalid_request_error", code, message);
}

/* litellm/llms/gemini/videos/transformation.py: the create answers
 * VideoObject(id, object "video", status "processing", model) with usage
 * {duration_seconds} (transform_video_create_response); a poll answers
 * VideoObject(id, object, status "processing" or "completed") from the
 * operation's done flag alone (transform_video_status_retrieve_response),
 * so a failed operation, being done, says "completed". No progress. */
static json_t *litellm_object(struct sim *s, struct job *j, const struct view *v,
			      bool fresh, enum fault_kind fault)
{
	const char *status = !fresh && (v->completed || v->failed) ?
			     "completed" : "processing";
	double seconds = j->in.seconds.p ? atof(j->in.seconds.p) : 8;

	if (fresh)
		return json_pack("{s:s, s:s, s:s, s:s, s:{s:f}}", "id", j->id,
				 "object", "video", "status", spell(status, fault),
				 "model", field_or(&j->in.model, ""),
				 "usage", "duration_seconds", seconds);
	return json_pack("{s:s, s:s, s:s}", "id", j->id, "object", "video",
			 "status", spell(status, fault));
}

/* Polling an unknown operation: Google answers 404 and LiteLLM passes the
 * status on (GeminiError, transformation.py get_error_class). */
static void litellm_unknown(struct answer *a, const char *id)
{
	litellm_error(a, 404, "Requested entity was not found.");
}

/* transform_video_content_request raises ValueError before done ("Video
 * generation is not complete yet...") and, for a failed operation (done
 * without a response), "No response data in completed operation": the
 * proxy answers 500 with that message; the operation's own reason is
 * appended so it is not lost. */
static void litellm_not_ready(struct answer *a, struct job *j, int state)
{
	char msg[256];

	if (state == 0) {
		litellm_error(a, 500, "Video generation is not complete yet. "
			      "Please check status with video_status() before downloading.");
		return;
	}
	snprintf(msg, sizeof(msg), "No response data in completed operation: %s",
		 j && failure_reason(j) ? failure_reason(j) : "generation failed");
	litellm_error(a, 500, msg);
}

/* Delete and list raise NotImplementedError for Veo
 * (transform_video_delete_request, transform_video_list_request). */
static void litellm_no_route(struct answer *a, const char *method,
			     const char *url)
{
	if (strcmp(method, "DELETE") == 0)
		litellm_error(a, 500, "Video delete is not supported by Google Veo. "
			      "Videos are automatically cleaned up by Google.");
	else if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		litellm_error(a, 500, "Video list is not supported by Google Veo. "
			      "Use the operations endpoint directly if you need to list operations.");
	else
		openai_no_route(a, method, url);
}

/* ---- the table ---- */

static const struct dialect dialects[] = {
	{ "openai", IDS_VIDEO_UUID, CONTENT_BYTES, true, true, false,
	  openai_object, openai_unknown, openai_not_ready, openai_no_route },
	{ "newapi", IDS_NEWAPI, CONTENT_BYTES, false, false, false,
	  newapi_object, newapi_unknown, newapi_not_ready, newapi_no_route },
	{ "newapi-gemini", IDS_TASK, CONTENT_BYTES, false, false, true,
	  newapi_gemini_object, newapi_unknown, newapi_not_ready, newapi_no_route },
	{ "taskdto", IDS_TASK, CONTENT_BYTES, false, false, false,
	  taskdto_object, newapi_unknown, newapi_not_ready, newapi_no_route },
	{ "litellm", IDS_LITELLM, CONTENT_BYTES, false, false, false,
	  litellm_object, litellm_unknown, litellm_not_ready, litellm_no_route },
	{ "redirect", IDS_VIDEO_UUID, CONTENT_REDIRECT, true, true, false,
	  openai_object, openai_unknown, openai_not_ready, openai_no_route },
	{ "json-url", IDS_VIDEO_UUID, CONTENT_JSON_URL, true, true, false,
	  openai_object, openai_unknown, openai_not_ready, openai_no_route },
	{ "url-in-status", IDS_VIDEO_UUID, CONTENT_NONE, true, true, false,
	  url_status_object, openai_unknown, openai_not_ready, openai_no_route },
};

#define N_DIALECTS (sizeof(dialects) / sizeof(dialects[0]))

const struct dialect *dialect_find(const char *name)
{
	if (!name || !*name)
		return &dialects[0];
	for (size_t i = 0; i < N_DIALECTS; i++)
		if (strcmp(name, dialects[i].name) == 0)
			return &dialects[i];
	return NULL;
}

bool sim_dialect_valid(const char *name)
{
	return name && *name && dialect_find(name) != NULL;
}

const char *sim_dialect_list(void)
{
	return "openai, newapi, newapi-gemini, taskdto, litellm, redirect, "
	       "json-url, url-in-status";
}

int sim_progress_parse(const char *name, enum sim_progress *out)
{
	if (!name)
		return -1;
	if (strcmp(name, "smooth") == 0)
		*out = SIM_PROGRESS_SMOOTH;
	else if (strcmp(name, "coarse") == 0)
		*out = SIM_PROGRESS_COARSE;
	else if (strcmp(name, "none") == 0)
		*out = SIM_PROGRESS_NONE;
	else
		return -1;
	return 0;
}

bool sim_url_field_valid(const char *name)
{
	for (size_t i = 0; name && i < N_URL_FIELDS; i++)
		if (strcmp(name, url_fields[i]) == 0)
			return true;
	return false;
}

const char *sim_url_field_list(void)
{
	return "video_url, data.result_url, data.videos[].url, unsigned_urls[], "
	       "download_url, content_url";
}
