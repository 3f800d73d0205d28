/* Jobs: the state machine a real provider runs (queued, in_progress with
 * rising progress, completed), outcomes set by faults, ids. */
#include "sim_internal.h"
#include "sim_video.h"

#include <math.h>

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
	double duration = j->duration;
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
	/* Coarse: 0 queued, 50 running, 100 done, as new-api's Gemini channel
	 * reports (QuantumNous/new-api relay/channel/task/gemini/adaptor.go,
	 * ParseTaskResult: "50%" until done, then "100%"). */
	if (s->opt.progress == SIM_PROGRESS_COARSE || s->d->coarse)
		progress = 50;
	if (progress < j->progress)
		progress = j->progress;
	v->status = "in_progress";
	j->progress = v->progress = progress;
}

/* The status object as the dialect shows it. fresh: the answer to the
 * create itself, which always says queued (failures come later, as they
 * do on a real provider). With --progress none no progress key is left,
 * at the top or inside "data". Caller holds s->lock. */
json_t *video_object(struct sim *s, struct job *j, bool fresh,
		     enum fault_kind fault)
{
	struct view v = { .status = "queued" };
	json_t *o;

	if (!fresh)
		job_view(s, j, &v);
	o = s->d->object(s, j, &v, fresh, fault);
	if (o && s->opt.progress == SIM_PROGRESS_NONE) {
		json_object_del(o, "progress");
		if (json_is_object(json_object_get(o, "data")))
			json_object_del(json_object_get(o, "data"), "progress");
	}
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

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64(const unsigned char *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = in[i] << 16 | in[i + 1] << 8 | in[i + 2];

		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = b64[(v >> 6) & 63];
		out[o++] = b64[v & 63];
	}
	if (i < n) {
		uint32_t v = in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0);

		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
}

/* uuid v4 layout, as the provider's ids look */
static void uuid_id(const char *prefix, uint64_t a, uint64_t b, char *id)
{
	snprintf(id, ID_MAX, "%s%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64
		 "-%04" PRIx64 "-%012" PRIx64, prefix,
		 a >> 32, (a >> 16) & 0xffff, a & 0xfff,
		 0x8000 | ((b >> 48) & 0x3fff), b & (uint64_t)0xffffffffffff);
}

/* new-api's public task ids: "task_" and random letters and digits
 * (model.GenerateTaskID(), relay/relay_task.go; the generator's own source
 * was not found, so the length, 32, is ours). */
static void task_id(uint64_t a, uint64_t b, char *id)
{
	static const char alnum[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	uint64_t x = a;

	memcpy(id, "task_", 5);
	for (int i = 0; i < 32; i++) {
		if (i == 10)
			x = b;
		if (i == 20)
			x = splitmix64(a ^ b);
		id[5 + i] = alnum[x % 62];
		x /= 62;
	}
	id[37] = '\0';
}

/* LiteLLM's managed video ids: "video_" + standard base64 of
 * "litellm:custom_llm_provider:P;model_id:M;video_id:V"
 * (BerriAI/litellm litellm/types/videos/utils.py,
 * encode_video_id_with_provider), here for the Gemini provider, whose
 * video_id is the operation name (litellm/llms/gemini/videos/
 * transformation.py, transform_video_create_response). model_id is the
 * router deployment's id, which a LiteLLM config may set to any string;
 * here the model and a suffix drawn (with '~', '?' and '>') until the
 * base64 holds '=', '+' and '/': in ASCII text only those characters
 * yield '+' and '/', and ids seen from LiteLLM gateways carry all three. */
static void litellm_id(uint64_t a, uint64_t b, const char *model, char *id)
{
	static const char opchars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	static const char depchars[] = "abcdefghij0123456789~?>";
	char plain[220], op[17], dep[13];
	char enc[280];
	uint64_t x;

	for (uint64_t round = 0;; round++) {
		x = splitmix64(a + round * 0x9e3779b97f4a7c15ULL) ^ b;
		for (int i = 0; i < 16; i++) {
			op[i] = opchars[x % 36];
			x = x / 36 ? x / 36 : splitmix64(x + i);
		}
		op[16] = '\0';
		for (int i = 0; i < 12; i++) {
			dep[i] = depchars[x % 23];
			x = x / 23 ? x / 23 : splitmix64(x + i + 16);
		}
		dep[12] = '\0';
		snprintf(plain, sizeof(plain),
			 "litellm:custom_llm_provider:gemini;model_id:%.40s~%s;"
			 "video_id:models/veo-3.1-generate-preview/operations/%s",
			 model, dep, op);
		/* A length that is not a multiple of 3 pads with '='. */
		if (strlen(plain) % 3 == 0)
			strcat(plain, "x");
		base64((const unsigned char *)plain, strlen(plain), enc);
		if ((strchr(enc, '+') && strchr(enc, '/')) || round > 100000)
			break;
	}
	snprintf(id, ID_MAX, "video_%s", enc);
}

/* Caller holds s->lock. */
static void new_id(struct sim *s, const char *model, char *id)
{
	uint64_t a = splitmix64(s->id_seed + 2 * s->id_counter);
	uint64_t b = splitmix64(s->id_seed + 2 * s->id_counter + 1);
	unsigned long seq = s->id_counter++;

	switch (s->d->ids) {
	case IDS_VIDEO_UUID:
		uuid_id("video_", a, b, id);
		break;
	case IDS_NEWAPI:
		/* The Sora channel passes the upstream's "video_" id through
		 * (relay/channel/task/sora/adaptor.go, DoResponse); other
		 * channels answer new-api's own "task_" id: both, in turn. */
		if (seq % 2 == 0)
			uuid_id("video_", a, b, id);
		else
			task_id(a, b, id);
		break;
	case IDS_TASK:
		task_id(a, b, id);
		break;
	case IDS_LITELLM:
		litellm_id(a, b, model, id);
		break;
	}
}

/* The seconds a job takes: duration * (1 + u * pct / 100), u in [-1, 1]
 * from the FNV-1a hash of its id, so tests can predict it. */
double sim_job_duration(double duration, int jitter_pct, const char *job_id)
{
	uint64_t h;
	double u;

	if (jitter_pct <= 0 || duration <= 0)
		return duration;
	h = fnv1a_update(0xcbf29ce484222325ULL, job_id, strlen(job_id));
	u = (double)(h % 2000001) / 1000000.0 - 1.0;
	return duration * (1.0 + u * jitter_pct / 100.0);
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
	j->seq = s->id_counter;
	new_id(s, in->model.p ? in->model.p : "", j->id);
	j->in = *in;
	memset(in, 0, sizeof(*in));
	j->clip = sim_clip_pick(j->in.seconds.p, j->in.size.p);
	j->duration = sim_job_duration(s->opt.duration, s->opt.jitter_pct,
				       j->id);
	j->url_field = (int)(j->seq % 6);
	j->created_at = time(NULL);
	j->created_mono = now_mono();
	s->jobs[s->n_jobs++] = j;
	s->count.creates++;
	return j;
}

