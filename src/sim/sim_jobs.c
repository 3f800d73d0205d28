/* Jobs: the state machine a real provider runs (queued, in_progress with
 * rising progress, completed), outcomes set by faults, ids. */
#include "sim_internal.h"

/* Caller holds s->lock. */
struct job *find_job(struct sim *s, const char *id)
{
	for (size_t i = 0; i < s->n_jobs; i++)
		if (!s->jobs[i]->deleted && strcmp(s->jobs[i]->id, id) == 0)
			return s->jobs[i];
	return NULL;
}

/* Where job j stands now; progress only ever rises. Caller holds s->lock. */
void job_view(struct sim *s, struct job *j, struct view *v)
{
	double duration = s->opt.duration;
	double elapsed = now_mono() - j->created_mono;
	double queued_for = duration * 0.1 < 1.0 ? duration * 0.1 : 1.0;
	int progress;

	memset(v, 0, sizeof(*v));
	if (j->cancelled || (j->outcome != OUTCOME_NORMAL &&
			     j->outcome != OUTCOME_NEVER_FINISH)) {
		v->status = j->cancelled ? "cancelled" : "failed";
		v->failed = true;
		v->progress = j->progress;
		return;
	}
	if (j->outcome != OUTCOME_NEVER_FINISH &&
	    (duration <= 0 || elapsed >= duration)) {
		v->status = "completed";
		v->completed = true;
		j->progress = v->progress = 100;
		return;
	}
	if (elapsed < queued_for) {
		v->status = "queued";
		v->progress = j->progress;
		return;
	}
	progress = duration > 0 ? (int)(100.0 * elapsed / duration) : 0;
	if (progress < 1)
		progress = 1;
	if (progress > NEVER_FINISH_PROGRESS)
		progress = NEVER_FINISH_PROGRESS;
	if (progress < j->progress)
		progress = j->progress;
	v->status = "in_progress";
	j->progress = v->progress = progress;
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

static const char *field_or(const struct sbuf *b, const char *fallback)
{
	return b->p && b->p[0] ? b->p : fallback;
}

/* The video object as the API shows it. fresh: the answer to the create
 * itself, which always says queued (failures come later, as they do on a
 * real provider). Caller holds s->lock. */
json_t *video_object(struct sim *s, struct job *j, bool fresh,
			    enum fault_kind fault)
{
	struct view v = { .status = "queued" };
	json_t *o;

	if (!fresh)
		job_view(s, j, &v);
	o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:s, s:s}",
		      "id", j->id, "object", "video",
		      "model", field_or(&j->in.model, ""),
		      "status", spell(v.status, fault),
		      "progress", v.progress,
		      "created_at", (json_int_t)j->created_at,
		      "seconds", field_or(&j->in.seconds, "8"),
		      "size", field_or(&j->in.size, "16x9"));
	if (!o)
		return NULL;
	if (v.completed) {
		json_int_t whole = (json_int_t)s->opt.duration;
		json_int_t done = j->created_at + whole +
				  (s->opt.duration > whole ? 1 : 0);

		json_object_set_new(o, "completed_at", json_integer(done));
		json_object_set_new(o, "expires_at",
				    json_integer(done + EXPIRY_SECONDS));
	}
	if (j->cancelled && !fresh)
		json_object_set_new(o, "error", json_pack("{s:s, s:s}",
			"code", "cancelled",
			"message", "video generation was cancelled"));
	else if (v.failed && j->outcome == OUTCOME_FAIL_OBJECT)
		json_object_set_new(o, "error", json_pack("{s:s, s:s}",
			"code", "content_policy_violation",
			"message", "content policy violation"));
	else if (v.failed && j->outcome == OUTCOME_FAIL_STRING)
		json_object_set_new(o, "error",
				    json_string("content policy violation"));
	return o;
}

/* Fault kinds that decide how a job ends; fresh: the job is being
 * created. Caller holds s->lock. */
void mark_outcome(struct sim *s, struct job *j, enum fault_kind fault,
			 bool fresh)
{
	struct view v;

	switch (fault) {
	case FK_FAIL_ERROR_OBJECT:
	case FK_FAIL_ERROR_STRING:
	case FK_FAIL_NO_ERROR:
	case FK_NEVER_FINISH:
		break;
	default:
		return;
	}
	/* A job that already ended stays as it ended. */
	if (!fresh) {
		job_view(s, j, &v);
		if (v.completed || v.failed)
			return;
	}
	j->outcome = fault == FK_FAIL_ERROR_OBJECT ? OUTCOME_FAIL_OBJECT :
		     fault == FK_FAIL_ERROR_STRING ? OUTCOME_FAIL_STRING :
		     fault == FK_FAIL_NO_ERROR ? OUTCOME_FAIL_NO_ERROR :
		     OUTCOME_NEVER_FINISH;
}

/* Caller holds s->lock. */
static void new_id(struct sim *s, char *id)
{
	uint64_t a = splitmix64(s->id_seed + 2 * s->id_counter);
	uint64_t b = splitmix64(s->id_seed + 2 * s->id_counter + 1);

	s->id_counter++;
	/* uuid v4 layout, as the provider's ids look */
	snprintf(id, ID_MAX, "video_%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64
		 "-%04" PRIx64 "-%012" PRIx64,
		 a >> 32, (a >> 16) & 0xffff, a & 0xfff,
		 0x8000 | ((b >> 48) & 0x3fff), b & (uint64_t)0xffffffffffff);
}

/* Takes over the fields. Caller holds s->lock. */
struct job *add_job(struct sim *s, struct create_fields *in)
{
	struct job *j;

	if (s->n_jobs == s->cap_jobs) {
		size_t cap = s->cap_jobs ? 2 * s->cap_jobs : 64;
		struct job **p = realloc(s->jobs, cap * sizeof(*p));

		if (!p)
			return NULL;
		s->jobs = p;
		s->cap_jobs = cap;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	new_id(s, j->id);
	j->in = *in;
	memset(in, 0, sizeof(*in));
	j->created_at = time(NULL);
	j->created_mono = now_mono();
	s->jobs[s->n_jobs++] = j;
	s->count.creates++;
	return j;
}

