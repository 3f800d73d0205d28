#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "task.h"

static char *text_of(struct task *t, enum task_file f)
{
	size_t len = 12345;
	char *s = task_file_text(t, f, &len);

	cr_assert_not_null(s);
	cr_assert_eq(len, strlen(s));
	return s;
}

static void assert_status(struct task *t, const char *want)
{
	char *s = task_status_line(t);

	cr_assert_not_null(s);
	cr_assert_str_eq(s, want);
	free(s);
}

Test(task, new_task_defaults)
{
	struct task *t = task_new("job");

	cr_assert_not_null(t);
	cr_assert_str_eq(t->name, "job");
	cr_assert_eq(t->state, TASK_PENDING);
	cr_assert_eq(t->submit, SUBMIT_NONE);
	cr_assert_eq(t->video_size, -1);
	cr_assert_eq(t->range_support, -1);
	cr_assert_eq(t->sched[0].heap_index, -1);
	cr_assert_eq(t->sched[1].heap_index, -1);
	cr_assert_eq(t->sched[0].rerun_ms, -1);
	cr_assert_eq(atomic_load(&t->refs), 1);
	task_unref(t);
	task_unref(NULL);
}

Test(task, references)
{
	struct task *t = task_new("job");

	cr_assert_eq(task_ref(t), t);
	cr_assert_eq(atomic_load(&t->refs), 2);
	task_unref(t);
	cr_assert_eq(atomic_load(&t->refs), 1);
	task_set_str(&t->prompt, "kept alive");
	task_unref(t); /* frees; ASan/valgrind would see a leak or double free */
}

Test(task, set_str_copies_and_clears)
{
	struct task *t = task_new("job");
	char buf[16] = "abc";

	task_set_str(&t->model, buf);
	strcpy(buf, "xyz");
	cr_assert_str_eq(t->model, "abc");
	task_set_str(&t->model, t->model); /* self-assignment must be safe */
	cr_assert_str_eq(t->model, "abc");
	task_set_str(&t->model, NULL);
	cr_assert_null(t->model);
	task_unref(t);
}

Test(task, status_lines_per_state)
{
	struct task *t = task_new("job");

	assert_status(t, "pending\n");
	task_set_str(&t->note, "retrying in 20s (connection refused)");
	assert_status(t, "pending: retrying in 20s (connection refused)\n");
	task_set_str(&t->note, NULL);
	task_set_str(&t->reason, "waiting");
	assert_status(t, "pending: waiting\n");
	task_set_str(&t->reason, NULL);

	t->state = TASK_QUEUED;
	assert_status(t, "queued\n");
	t->state = TASK_IN_PROGRESS;
	t->progress = 42;
	t->progress_seen = true;
	assert_status(t, "in_progress 42%\n");
	task_set_str(&t->note, "poll failed: timed out; retrying in 2s");
	assert_status(t, "in_progress 42% (poll failed: timed out; retrying in 2s)\n");
	t->progress_estimated = true;
	assert_status(t, "in_progress 42% (estimated; poll failed: timed out; retrying in 2s)\n");
	task_set_str(&t->note, NULL);
	assert_status(t, "in_progress 42% (estimated)\n");
	t->progress_estimated = false;

	t->state = TASK_COMPLETED;
	t->progress = 100;
	assert_status(t, "completed\n");

	t->state = TASK_FAILED;
	task_set_str(&t->reason, "content policy violation");
	assert_status(t, "failed: content policy violation\n");
	task_set_str(&t->reason, NULL);
	assert_status(t, "failed: unknown reason\n");
	task_unref(t);
}

/* Gemini's operations give no figure: the running time instead of an
 * invented 0%, and an empty progress file. */
Test(task, no_progress_shows_the_running_time)
{
	struct task *t = task_new("job");
	char *s;

	t->state = TASK_IN_PROGRESS;
	t->accepted_at = (long long)time(NULL) - 80;
	s = task_status_line(t);
	cr_assert(!strcmp(s, "in_progress (running 1m20s)\n") ||
		  !strcmp(s, "in_progress (running 1m21s)\n"), "got %s", s);
	free(s);
	t->accepted_at = (long long)time(NULL) - 7300;
	s = task_status_line(t);
	cr_assert(!strncmp(s, "in_progress (running 2h01m", 26), "got %s", s);
	free(s);
	t->accepted_at = (long long)time(NULL) + 50; /* a clock that stepped back */
	assert_status(t, "in_progress (running 0s)\n");
	task_set_str(&t->note, "poll failed: timed out; retrying in 2s");
	assert_status(t, "in_progress (running 0s; poll failed: timed out; retrying in 2s)\n");
	s = text_of(t, TF_PROGRESS);
	cr_assert_str_eq(s, "");
	free(s);
	cr_assert_eq(task_file_size(t, TF_PROGRESS), 0);
	t->state = TASK_QUEUED;
	cr_assert(task_progress_unknown(t));
	/* The first figure any answer gives, even 0, is shown from then on. */
	t->progress_seen = true;
	t->state = TASK_IN_PROGRESS;
	cr_assert(!task_progress_unknown(t));
	s = text_of(t, TF_PROGRESS);
	cr_assert_str_eq(s, "0\n");
	free(s);
	/* Done is 100 whatever came before. */
	t->progress_seen = false;
	t->api_completed = true;
	cr_assert(!task_progress_unknown(t));
	task_unref(t);
}

Test(task, events_are_iso8601_lines_that_only_grow)
{
	struct task *t = task_new("job");
	regex_t re;
	const char *line;
	size_t before;

	cr_assert_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
			     "\\.[0-9]{3}Z pending 0\n$", REG_EXTENDED), 0);
	line = task_event_append(t, NULL);
	cr_assert_eq(regexec(&re, line, 0, NULL, 0), 0, "bad line '%s'", line);
	regfree(&re);
	cr_assert_str_eq(t->events, line);
	cr_assert_gt(t->changed, 0);

	t->state = TASK_IN_PROGRESS;
	t->progress = 7;
	before = t->events_len;
	line = task_event_append(t, "note here");
	cr_assert(strstr(line, " in_progress 7 note here\n"), "line '%s'", line);
	cr_assert_eq(t->events_len, before + strlen(line));
	cr_assert_eq(strncmp(t->events + before, line, strlen(line)), 0);

	/* many lines: the buffer grows, earlier lines stay */
	for (int i = 0; i < 500; i++)
		task_event_append(t, "x");
	cr_assert(strstr(t->events, "pending 0\n"));
	size_t lines = 0;
	for (size_t i = 0; i < t->events_len; i++)
		lines += t->events[i] == '\n';
	cr_assert_eq(lines, 502);
	task_unref(t);
}

Test(task, multi_line_reason_status_shows_the_first_line)
{
	struct task *t = task_new("job");
	size_t len;
	char *s;

	t->state = TASK_FAILED;
	task_set_str(&t->reason, "submission outcome unknown\nthe connection was reset");
	assert_status(t, "failed: submission outcome unknown\n");
	s = task_file_text(t, TF_ERROR, &len);
	cr_assert_str_eq(s, "submission outcome unknown\nthe connection was reset\n");
	free(s);
	task_unref(t);
}

Test(task, event_note_never_adds_a_line)
{
	struct task *t = task_new("job");
	const char *line = task_event_append(t, "first\nforged 2024-01-01T00:00:00Z completed 100");

	cr_assert_eq(strchr(line, '\n'), line + strlen(line) - 1, "line: %s", line);
	cr_assert(strstr(line, " first\n"), "line: %s", line);
	task_unref(t);
}

Test(task, event_with_a_huge_note_stays_one_line)
{
	struct task *t = task_new("job");
	char big[2000];
	const char *line;

	memset(big, 'r', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	line = task_event_append(t, big);
	size_t n = strlen(line);
	cr_assert_gt(n, 10);
	cr_assert_eq(line[n - 1], '\n');
	cr_assert_eq(strchr(line, '\n'), line + n - 1, "the note split the line");
	cr_assert_eq(t->events_len, n);
	task_unref(t);
}

Test(task, files_visible_by_state)
{
	struct task *t = task_new("job");

	cr_assert(task_file_visible(t, TF_PROMPT));
	cr_assert(task_file_visible(t, TF_STATUS));
	cr_assert(task_file_visible(t, TF_PROGRESS));
	cr_assert(task_file_visible(t, TF_EVENTS));
	cr_assert_not(task_file_visible(t, TF_DIR));
	cr_assert_not(task_file_visible(t, TF_COUNT));
	cr_assert_not(task_file_visible(t, TF_ID));
	cr_assert_not(task_file_visible(t, TF_TASK_JSON));
	cr_assert_not(task_file_visible(t, TF_ERROR));
	cr_assert_not(task_file_visible(t, TF_VIDEO));
	cr_assert_not(task_file_visible(t, TF_IMAGE));

	task_set_str(&t->id, "video_1");
	t->has_task_json = true;
	t->task_json_len = 2;
	cr_assert(task_file_visible(t, TF_ID));
	cr_assert(task_file_visible(t, TF_TASK_JSON));

	t->state = TASK_COMPLETED;
	cr_assert_not(task_file_visible(t, TF_VIDEO), "no size known yet");
	t->video_size = 1000;
	cr_assert(task_file_visible(t, TF_VIDEO));
	cr_assert_eq(task_file_size(t, TF_VIDEO), 1000);

	t->state = TASK_FAILED;
	cr_assert(task_file_visible(t, TF_ERROR));
	task_unref(t);
}

Test(task, lookup_by_name)
{
	struct task *t = task_new("job");

	cr_assert_eq(task_file_lookup(t, "prompt"), TF_PROMPT);
	cr_assert_eq(task_file_lookup(t, "status"), TF_STATUS);
	cr_assert_eq(task_file_lookup(t, "progress"), TF_PROGRESS);
	cr_assert_eq(task_file_lookup(t, "events"), TF_EVENTS);
	cr_assert_eq(task_file_lookup(t, "id"), TF_COUNT);
	cr_assert_eq(task_file_lookup(t, "video.mp4"), TF_COUNT);
	cr_assert_eq(task_file_lookup(t, "."), TF_COUNT);
	cr_assert_eq(task_file_lookup(t, "image"), TF_COUNT);
	cr_assert_eq(task_file_lookup(t, "nonsense"), TF_COUNT);

	task_set_str(&t->image_file, "image.png");
	cr_assert_str_eq(task_file_name(t, TF_IMAGE), "image.png");
	cr_assert_eq(task_file_lookup(t, "image.png"), TF_IMAGE);
	cr_assert_eq(task_file_lookup(t, "image"), TF_COUNT);
	t->image_size = 69;
	cr_assert_eq(task_file_size(t, TF_IMAGE), 69);
	task_unref(t);
}

Test(task, file_texts_and_sizes_agree)
{
	struct task *t = task_new("job");
	char *s;

	task_set_str(&t->prompt, "a cow dancing");
	task_set_str(&t->id, "video_9");
	t->progress = 37;
	t->progress_seen = true;
	t->state = TASK_IN_PROGRESS;
	task_event_append(t, NULL);
	t->events_durable = t->events_len; /* as the engine does once written */

	s = text_of(t, TF_PROMPT);
	cr_assert_str_eq(s, "a cow dancing\n");
	free(s);
	s = text_of(t, TF_PROGRESS);
	cr_assert_str_eq(s, "37\n");
	free(s);
	s = text_of(t, TF_ID);
	cr_assert_str_eq(s, "video_9\n");
	free(s);
	s = text_of(t, TF_EVENTS);
	cr_assert_str_eq(s, t->events);
	free(s);

	for (int f = TF_PROMPT; f <= TF_ERROR; f++) {
		size_t len = 0;
		if (f == TF_TASK_JSON)
			continue; /* on disk only: the tree reads it from there */
		s = task_file_text(t, f, &len);
		cr_assert_not_null(s, "file %d", f);
		cr_assert_eq(task_file_size(t, f), (int64_t)len, "file %d", f);
		free(s);
	}

	t->state = TASK_FAILED;
	task_set_str(&t->reason, "content policy violation");
	s = text_of(t, TF_ERROR);
	cr_assert_str_eq(s, "content policy violation\n");
	free(s);
	task_unref(t);
}

Test(task, empty_events_and_json_texts)
{
	struct task *t = task_new("job");
	size_t len = 5;
	char *s = task_file_text(t, TF_EVENTS, &len);

	cr_assert_not_null(s);
	cr_assert_eq(len, 0);
	free(s);
	/* task.json is on disk only: the tree reads it from there. */
	s = task_file_text(t, TF_TASK_JSON, &len);
	cr_assert_null(s);
	cr_assert_eq(len, 0);
	s = task_file_text(t, TF_PROMPT, &len);
	cr_assert_str_eq(s, "\n");
	free(s);
	task_unref(t);
}

/* ---- states ---- */

Test(task_state, names_round_trip)
{
	static const char *const names[] = { "pending", "queued", "in_progress",
					     "completed", "failed" };

	for (int s = TASK_PENDING; s <= TASK_FAILED; s++) {
		cr_assert_str_eq(task_state_name((enum task_state)s), names[s]);
		cr_assert_eq(task_state_parse(names[s]), s);
	}
	cr_assert_eq(task_state_parse("Queued"), -1);
	cr_assert_eq(task_state_parse("running"), -1);
	cr_assert_eq(task_state_parse(""), -1);
	cr_assert_eq(task_state_parse(NULL), -1);
	cr_assert_str_eq(task_state_name((enum task_state)42), "unknown");
}

/* A line is shown once it is on disk: one seen before a crash is never
 * one the crash loses. */
Test(task, events_show_only_what_is_on_disk)
{
	struct task *t = task_new("job");
	char *s;
	size_t first;

	t->state = TASK_QUEUED;
	task_event_append(t, NULL);
	first = t->events_len;
	t->events_durable = first;
	t->state = TASK_IN_PROGRESS;
	task_event_append(t, NULL);
	s = text_of(t, TF_EVENTS);
	cr_assert_eq(strlen(s), first, "a line not yet written is shown: %s", s);
	cr_assert_eq(task_file_size(t, TF_EVENTS), (int64_t)first);
	free(s);
	t->events_durable = t->events_len;
	s = text_of(t, TF_EVENTS);
	cr_assert_str_eq(s, t->events);
	free(s);
	task_unref(t);
}
