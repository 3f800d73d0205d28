#include "timings.h"

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "strmap.h"
#include "xalloc.h"

struct samples {
	int n;          /* how many are held (at most TIMINGS_KEEP) */
	int next;       /* where the next one goes once full */
	double s[TIMINGS_KEEP];
};

struct timings {
	pthread_mutex_t mu;
	int dirfd;              /* -1: in memory only */
	struct strmap *by_model; /* model -> struct samples */
	char **models;          /* the keys, for saving */
	size_t n_models;
	bool save_failed_logged;
};

#define TIMINGS_FILE_MAX (1u << 20)
/* A sample outside this is not a generation time (clock jumps). */
#define SAMPLE_MIN_S 0.0
#define SAMPLE_MAX_S (24.0 * 3600)

static struct samples *samples_of(struct timings *tm, const char *model, bool create)
{
	struct samples *s = strmap_get(tm->by_model, model);

	if (s || !create)
		return s;
	s = xcalloc(1, sizeof(*s));
	if (strmap_put(tm->by_model, model, s) < 0) {
		free(s);
		return NULL;
	}
	tm->models = xrealloc(tm->models, (tm->n_models + 1) * sizeof(*tm->models));
	tm->models[tm->n_models++] = xstrdup(model);
	return s;
}

static void push(struct samples *s, double v)
{
	if (s->n < TIMINGS_KEEP) {
		s->s[s->n++] = v;
		return;
	}
	s->s[s->next] = v;
	s->next = (s->next + 1) % TIMINGS_KEEP;
}

static void load(struct timings *tm)
{
	char *text = NULL;
	size_t len = 0;
	json_t *root, *models, *arr;
	const char *model;

	if (fs_read_all(tm->dirfd, TIMINGS_FILE, TIMINGS_FILE_MAX, &text, &len) < 0)
		return;
	root = json_loadb(text, len, 0, NULL);
	free(text);
	models = json_object_get(root, "models");
	if (!json_is_object(models)) {
		if (root)
			log_warn("%s: not what veofs writes; starting afresh", TIMINGS_FILE);
		json_decref(root);
		return;
	}
	json_object_foreach(models, model, arr) {
		size_t i;
		json_t *v;
		struct samples *s;

		if (!json_is_array(arr) || !(s = samples_of(tm, model, true)))
			continue;
		json_array_foreach(arr, i, v) {
			double d = json_number_value(v);
			if (json_is_number(v) && d > SAMPLE_MIN_S && d < SAMPLE_MAX_S)
				push(s, d);
		}
	}
	json_decref(root);
}

struct timings *timings_open(const char *state_dir)
{
	struct timings *tm = xcalloc(1, sizeof(*tm));

	pthread_mutex_init(&tm->mu, NULL);
	tm->by_model = strmap_new();
	tm->dirfd = -1;
	if (state_dir) {
		tm->dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (tm->dirfd >= 0)
			load(tm);
	}
	return tm;
}

void timings_close(struct timings *tm)
{
	if (!tm)
		return;
	for (size_t i = 0; i < tm->n_models; i++) {
		free(strmap_get(tm->by_model, tm->models[i]));
		free(tm->models[i]);
	}
	free(tm->models);
	strmap_free(tm->by_model);
	if (tm->dirfd >= 0)
		close(tm->dirfd);
	pthread_mutex_destroy(&tm->mu);
	free(tm);
}

/* tm->mu held. The samples oldest first. */
static int ordered(const struct samples *s, double *out, int max)
{
	int n = 0;
	int first = s->n < TIMINGS_KEEP ? 0 : s->next;

	for (int i = 0; i < s->n && n < max; i++)
		out[n++] = s->s[(first + i) % TIMINGS_KEEP];
	return n;
}

/* tm->mu held. */
static void save(struct timings *tm)
{
	json_t *root = json_object(), *models = json_object();
	double buf[TIMINGS_KEEP];
	char err[256];
	char *text;

	json_object_set_new(root, "version", json_integer(1));
	for (size_t i = 0; i < tm->n_models; i++) {
		struct samples *s = strmap_get(tm->by_model, tm->models[i]);
		json_t *arr = json_array();
		int n = ordered(s, buf, TIMINGS_KEEP);

		for (int k = 0; k < n; k++)
			json_array_append_new(arr, json_real((double)(long long)(buf[k] * 10 + 0.5) / 10));
		json_object_set_new(models, tm->models[i], arr);
	}
	json_object_set_new(root, "models", models);
	text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS | JSON_REAL_PRECISION(6));
	json_decref(root);
	if (!text)
		return;
	if (fs_write_replace(tm->dirfd, TIMINGS_FILE, text, strlen(text), err,
			     sizeof(err)) < 0 && !tm->save_failed_logged) {
		tm->save_failed_logged = true;
		log_warn("cannot save %s (%s); generation times are learned for "
			 "this mount only", TIMINGS_FILE, err);
	}
	free(text);
}

void timings_add(struct timings *tm, const char *model, double seconds)
{
	struct samples *s;

	if (!tm || !(seconds > SAMPLE_MIN_S && seconds < SAMPLE_MAX_S))
		return;
	pthread_mutex_lock(&tm->mu);
	s = samples_of(tm, model ? model : "", true);
	if (s) {
		push(s, seconds);
		if (tm->dirfd >= 0)
			save(tm);
	}
	pthread_mutex_unlock(&tm->mu);
}

int timings_get(struct timings *tm, const char *model, double *out, int max)
{
	struct samples *s;
	int n = 0;

	if (!tm)
		return 0;
	pthread_mutex_lock(&tm->mu);
	s = samples_of(tm, model ? model : "", false);
	if (s)
		n = ordered(s, out, max);
	pthread_mutex_unlock(&tm->mu);
	return n;
}
