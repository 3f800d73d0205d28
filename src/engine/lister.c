#include "lister.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine.h"
#include "log.h"
#include "poll_book.h"
#include "strmap.h"
#include "xalloc.h"

struct lister {
	struct engine *e;
	pthread_t thread;
	bool joined;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	int64_t wake_ms;          /* a covered task wants news by then */
	int64_t next_allowed_ms;  /* no listing before: pages spaced */
	atomic_int mode;          /* -1 unknown, 0 cannot list, 1 lists */
	atomic_int requests;
	atomic_int failures;      /* listings in a row that failed */
};

/* The control worker looks again this long after a covered task's due
 * time, in case the listing did not bring its news. */
static int64_t grace_ms(const struct lister *l)
{
	int64_t g = 3 * l->e->o.poll_interval_s * 1000LL;

	return g < 10000 ? 10000 : g;
}

int lister_mode(struct lister *l)
{
	return l ? atomic_load(&l->mode) : 0;
}

int lister_requests(struct lister *l)
{
	return l ? atomic_load(&l->requests) : 0;
}

static void wake_at(struct lister *l, int64_t when)
{
	pthread_mutex_lock(&l->mu);
	if (when < l->wake_ms) {
		l->wake_ms = when;
		pthread_cond_signal(&l->cv);
	}
	pthread_mutex_unlock(&l->mu);
}

bool lister_covers(struct lister *l, struct task *t, int64_t now, int64_t *delay_ms)
{
	int64_t due, listed_ms;

	if (!l || atomic_load(&l->mode) == 0 || atomic_load(&l->failures))
		return false;
	/* Ensures t's entry, then counts it among the rest. */
	enum poll_listed listed = poll_book_listed(l->e->book, t, &due, &listed_ms);
	if (poll_book_listable_count(l->e->book) < LISTER_MIN_TASKS)
		return false;
	switch (listed) {
	case LISTED_UNTRIED:
		wake_at(l, now);
		*delay_ms = grace_ms(l);
		return true;
	case LISTED_YES:
		if (now - listed_ms > grace_ms(l) + (due - listed_ms))
			return false; /* listings stalled: ask on its own */
		wake_at(l, due);
		*delay_ms = (due > now ? due - now : 0) + grace_ms(l);
		return true;
	default:
		return false;
	}
}

/* The provider cannot list: say so once, and poll every task. */
static void give_up(struct lister *l, struct poll_ref *refs, size_t n, const char *why)
{
	atomic_store(&l->mode, 0);
	log_info("the provider does not list videos (%s); polling each task on its own",
		 why);
	poll_book_unlist_all(l->e->book);
	for (size_t i = 0; i < n; i++)
		engine_kick(l->e, refs[i].t);
}

/* Apply one listed object to its task. */
static void apply_item(struct lister *l, struct poll_ref *r, json_t *item, int64_t now)
{
	char *body = json_dumps(item, JSON_COMPACT);
	char err[256];
	bool done;

	if (!body)
		return;
	poller_apply_answer(l->e, r->t, body, strlen(body), err, sizeof(err));
	free(body);
	if (err[0])
		return; /* its own poll will say what is wrong */
	r->seen = true;
	poll_book_mark(l->e->book, r->t, true, now);
	poll_book_observe(l->e->book, r->t, now);
	pthread_mutex_lock(&r->t->mu);
	done = r->t->api_completed || r->t->state == TASK_FAILED;
	pthread_mutex_unlock(&r->t->mu);
	if (done)
		engine_kick(l->e, r->t); /* the download, at once */
}

/* One listing: pages, newest first, until every task looked for was seen
 * or the provider has no more. Returns the pages asked for. */
static int sweep(struct lister *l)
{
	struct engine *e = l->e;
	struct poll_ref *refs;
	int64_t earliest;
	size_t n = poll_book_listable(e->book, &refs, &earliest);
	struct strmap *by_id = strmap_new();
	size_t found = 0;
	char *after = NULL;
	bool complete = false, failed = false;
	int pages = 0, max_pages = (int)(n / LISTER_PAGE_SIZE) + 3;

	for (size_t i = 0; i < n; i++)
		strmap_put(by_id, refs[i].id, &refs[i]);
	while (n > 0 && pages < max_pages && !atomic_load(&e->stopping)) {
		struct remote_result res = {0};
		json_t *root = NULL, *data;
		int64_t now;

		atomic_fetch_add(&l->requests, 1);
		pages++;
		int rc = e->remote->ops->list(e->remote, after, LISTER_PAGE_SIZE, &res);
		now = now_ms();
		if (rc != 0) {
			int st = res.http_status;
			if (st == 404 || st == 405 || st == 501) {
				char why[64];
				snprintf(why, sizeof(why), "HTTP %d", st);
				give_up(l, refs, n, why);
			} else {
				if (st == 429)
					engine_rate_limited(e, res.retry_after_ms);
				if (atomic_fetch_add(&l->failures, 1) == 0)
					log_info("listing videos failed: %s; polling tasks on "
						 "their own meanwhile", res.reason);
				failed = true;
			}
			remote_result_clear(&res);
			break;
		}
		root = json_loadb(res.body ? res.body : "", res.body_len, 0, NULL);
		remote_result_clear(&res);
		data = json_object_get(root, "data");
		if (!json_is_array(data) ||
		    !json_is_string(json_object_get(root, "object")) ||
		    strcmp(json_string_value(json_object_get(root, "object")), "list")) {
			json_decref(root);
			give_up(l, refs, n, "its answer to GET /videos is not a list");
			break;
		}
		if (atomic_load(&l->mode) != 1) {
			atomic_store(&l->mode, 1);
			log_info("the provider lists videos: one listing brings the news of "
				 "many tasks");
		}
		atomic_store(&l->failures, 0);
		size_t i;
		json_t *item;
		json_array_foreach(data, i, item) {
			const char *id = json_string_value(json_object_get(item, "id"));
			struct poll_ref *r = id ? strmap_get(by_id, id) : NULL;
			if (r && !r->seen) {
				apply_item(l, r, item, now);
				if (r->seen)
					found++;
			}
		}
		const char *last = json_string_value(json_object_get(root, "last_id"));
		bool more = json_is_true(json_object_get(root, "has_more"));
		free(after);
		after = more && last ? xstrdup(last) : NULL;
		json_decref(root);
		if (found == n || !after) {
			complete = true;
			break;
		}
	}
	if (atomic_load(&l->mode) == 1 && !failed) {
		/* A whole listing (or as many pages as it may take) missed
		 * these: they are polled on their own from now on. */
		int64_t now = now_ms();
		for (size_t i = 0; i < n; i++) {
			if (refs[i].seen)
				continue;
			poll_book_mark(e->book, refs[i].t, false, now);
			engine_kick(e, refs[i].t);
		}
	}
	(void)complete;
	free(after);
	strmap_free(by_id);
	poll_book_refs_free(refs, n);
	return pages;
}

static void *lister_main(void *arg)
{
	struct lister *l = arg;

	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		int64_t now = now_ms();
		int64_t at = l->wake_ms > l->next_allowed_ms ? l->wake_ms : l->next_allowed_ms;
		int64_t rl = engine_rate_limit_until(l->e);

		if (rl > at)
			at = rl;
		if (l->wake_ms == INT64_MAX || now < at) {
			clock_cond_wait_until(&l->cv, &l->mu,
					      l->wake_ms == INT64_MAX ? now + 3600000 : at);
			continue;
		}
		l->wake_ms = INT64_MAX;
		pthread_mutex_unlock(&l->mu);

		int pages = sweep(l);
		int64_t gap = (int64_t)pages * LISTER_PAGE_GAP_MS;
		int64_t floor = l->e->o.poll_interval_s * 1000LL;
		int64_t next = poll_book_earliest(l->e->book);

		if (gap < floor)
			gap = floor;
		int fails = atomic_load(&l->failures);
		if (fails)
			gap *= fails < 5 ? (1 << fails) : 32;
		pthread_mutex_lock(&l->mu);
		l->next_allowed_ms = now_ms() + gap;
		if (atomic_load(&l->mode) != 0 && next < l->wake_ms)
			l->wake_ms = next;
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

struct lister *lister_new(struct engine *e)
{
	struct lister *l;

	if (!e->remote->ops->list)
		return NULL;
	l = xcalloc(1, sizeof(*l));
	l->e = e;
	l->wake_ms = INT64_MAX;
	atomic_init(&l->mode, -1);
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	clock_watch(&l->cv, &l->mu);
	if (pthread_create(&l->thread, NULL, lister_main, l) != 0) {
		clock_unwatch(&l->cv);
		pthread_cond_destroy(&l->cv);
		pthread_mutex_destroy(&l->mu);
		free(l);
		return NULL;
	}
	return l;
}

void lister_stop(struct lister *l)
{
	if (!l || l->joined)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	/* A listing in flight is bounded by api.timeout. */
	pthread_join(l->thread, NULL);
	l->joined = true;
}

void lister_free(struct lister *l)
{
	if (!l)
		return;
	lister_stop(l);
	clock_unwatch(&l->cv);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}
