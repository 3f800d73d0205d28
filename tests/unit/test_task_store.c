#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_support.h"
#include "fsutil.h"
#include "log.h"
#include "task_store.h"

static char *dir;
static struct task_store *store;

static void setup(void)
{
	char err[256] = "";

	log_set_level(LOG_LVL_ERROR);
	dir = test_tmpdir();
	cr_assert_eq(task_store_open(dir, &store, err, sizeof(err)), 0, "%s", err);
}

static void teardown(void)
{
	task_store_close(store);
	test_tmpdir_remove(dir);
}

TestSuite(task_store, .init = setup, .fini = teardown);

static struct task *mk(const char *name, const char *prompt)
{
	struct task *t = task_new(name);

	t->prompt = strdup(prompt);
	t->model = strdup("veo-3.1-fast");
	t->seconds = strdup("4");
	t->size = strdup("9x16");
	t->created = 1700000123;
	t->source_hash = 0xfedcba9876543210ULL;
	task_event_append(t, NULL);
	return t;
}

static void create_ok(struct task *t, const void *image, size_t len)
{
	char err[256] = "";

	cr_assert_eq(task_store_create(store, t, image, len, err, sizeof(err)), 0, "%s", err);
}

struct loaded {
	struct task *t[64];
	int n;
};

static void collect(void *ctx, struct task *t)
{
	struct loaded *l = ctx;

	cr_assert_lt(l->n, 64);
	l->t[l->n++] = t;
}

/* Load everything through a freshly opened store, as a restart would. */
static int reload(struct loaded *l)
{
	char err[256];
	int n;

	task_store_close(store);
	cr_assert_eq(task_store_open(dir, &store, err, sizeof(err)), 0, "%s", err);
	memset(l, 0, sizeof(*l));
	n = task_store_load(store, collect, l);
	cr_assert_eq(n, l->n);
	return n;
}

static void loaded_free(struct loaded *l)
{
	for (int i = 0; i < l->n; i++)
		task_unref(l->t[i]);
	l->n = 0;
}

static char *slurp(const char *rel)
{
	char path[1024], *text = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (fs_read_all(AT_FDCWD, path, 1 << 24, &text, &len) < 0)
		return NULL;
	return text;
}

static bool exists(const char *rel)
{
	char path[1024];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return lstat(path, &st) == 0;
}

static int count_entries(const char *rel)
{
	char path[1024];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	d = opendir(path);
	cr_assert_not_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void write_rel(const char *rel, const char *text)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

static void mkdir_rel(const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	cr_assert_eq(mkdir(path, 0700), 0, "%s", path);
}

Test(task_store, open_lays_out_the_state_dir)
{
	struct stat st;
	char path[1024];

	snprintf(path, sizeof(path), "%s/tasks", dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/new", dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_str_eq(task_store_path(store), dir);
	cr_assert_geq(task_store_new_dirfd(store), 0);
}

Test(task_store, open_creates_missing_parents)
{
	char path[1024], err[256] = "";
	struct task_store *s2 = NULL;

	snprintf(path, sizeof(path), "%s/deep/er/state", dir);
	cr_assert_eq(task_store_open(path, &s2, err, sizeof(err)), 0, "%s", err);
	task_store_close(s2);
}

Test(task_store, open_fails_with_a_reason)
{
	char path[1024], err[256] = "";
	struct task_store *s2 = NULL;

	write_rel("afile", "x");
	snprintf(path, sizeof(path), "%s/afile/state", dir);
	cr_assert_lt(task_store_open(path, &s2, err, sizeof(err)), 0);
	cr_assert_null(s2);
	cr_assert(strstr(err, "state dir"), "reason: %s", err);
	cr_assert(strstr(err, path), "reason should name the dir: %s", err);
}

Test(task_store, create_writes_a_whole_task_dir)
{
	struct task *t = mk("job", "a cow dancing");
	char *text;

	create_ok(t, NULL, 0);
	text = slurp("tasks/job/prompt");
	cr_assert_str_eq(text, "a cow dancing");
	free(text);
	text = slurp("tasks/job/events");
	cr_assert_str_eq(text, t->events);
	free(text);
	cr_assert(exists("tasks/job/record.json"));
	cr_assert_eq(count_entries("tasks"), 1, "only the task dir, no temporaries");
	task_unref(t);
}

Test(task_store, create_is_atomic_on_a_taken_name)
{
	struct task *a = mk("job", "first"), *b = mk("job", "second");
	char err[256] = "", *text;

	create_ok(a, NULL, 0);
	cr_assert_eq(task_store_create(store, b, NULL, 0, err, sizeof(err)), -EEXIST);
	cr_assert(strstr(err, "already exists"), "reason: %s", err);
	cr_assert(strstr(err, "job"), "reason: %s", err);
	cr_assert_eq(count_entries("tasks"), 1, "a temporary dir was left behind");
	text = slurp("tasks/job/prompt");
	cr_assert_str_eq(text, "first", "the existing task was overwritten");
	free(text);
	task_unref(a);
	task_unref(b);
}

Test(task_store, load_round_trips_every_field)
{
	static const unsigned char png[] = "\x89PNG\r\n\x1a\nfake image body";
	struct task *t = mk("job", "a cow dancing\nsecond line");
	struct loaded l;

	t->watermark = 1;
	t->image_file = strdup("image.png");
	t->image_size = sizeof(png);
	t->image_url = strdup("https://example.com/cow.png");
	t->resolution = strdup("1080p");
	t->negative_prompt = strdup("blurry, \"low\" quality");
	create_ok(t, png, sizeof(png));

	pthread_mutex_lock(&t->mu);
	t->state = TASK_FAILED;
	t->submit = SUBMIT_DONE;
	t->progress = 63;
	t->id = strdup("video_abc123");
	t->reason = strdup("content policy violation");
	t->video_size = 123456;
	t->video_synced = 0;
	t->ranges_ok = true;
	t->changed = 1700000999;
	t->accepted_at = 1700000200;
	t->progress_seen = true;
	t->progress_estimated = true;
	pthread_mutex_unlock(&t->mu);
	cr_assert_eq(task_store_save(store, t), 0);
	static const char answer[] = "{\"id\":\"video_abc123\",\"status\":\"failed\"}";
	task_store_save_answer(store, t, answer, strlen(answer));

	cr_assert_eq(reload(&l), 1);
	struct task *u = l.t[0];
	cr_assert_str_eq(u->name, "job");
	cr_assert_str_eq(u->prompt, "a cow dancing\nsecond line");
	cr_assert_str_eq(u->model, "veo-3.1-fast");
	cr_assert_str_eq(u->seconds, "4");
	cr_assert_str_eq(u->size, "9x16");
	cr_assert_eq(u->watermark, 1);
	cr_assert_str_eq(u->image_url, "https://example.com/cow.png");
	cr_assert_str_eq(u->image_file, "image.png");
	cr_assert_eq(u->image_size, (int64_t)sizeof(png));
	cr_assert_str_eq(u->resolution, "1080p");
	cr_assert_str_eq(u->negative_prompt, "blurry, \"low\" quality");
	cr_assert_eq(u->source_hash, 0xfedcba9876543210ULL);
	cr_assert_eq(u->created, 1700000123);
	cr_assert_eq(u->changed, 1700000999);
	cr_assert_eq(u->state, TASK_FAILED);
	cr_assert_eq(u->submit, SUBMIT_DONE);
	cr_assert_eq(u->progress, 63);
	cr_assert_eq(u->accepted_at, 1700000200);
	cr_assert(u->progress_seen);
	cr_assert(u->progress_estimated);
	cr_assert_str_eq(u->id, "video_abc123");
	cr_assert_str_eq(u->reason, "content policy violation");
	cr_assert_eq(u->video_size, 123456);
	cr_assert(u->ranges_ok);
	cr_assert_not(u->video_done);
	/* task.json stays on disk: only its size is loaded. */
	cr_assert(u->has_task_json);
	cr_assert_eq(u->task_json_len, strlen(answer));
	cr_assert_eq(u->events_len, t->events_len);
	cr_assert_str_eq(u->events, t->events);

	/* the image copy is the bytes given */
	int fd = task_store_open_file(store, u, "image.png");
	cr_assert_geq(fd, 0);
	char buf[64];
	cr_assert_eq(read(fd, buf, sizeof(buf)), (ssize_t)sizeof(png));
	cr_assert_eq(memcmp(buf, png, sizeof(png)), 0);
	close(fd);
	loaded_free(&l);
	task_unref(t);
}

Test(task_store, each_state_and_phase_round_trips)
{
	static const enum task_state states[] = { TASK_PENDING, TASK_QUEUED,
		TASK_IN_PROGRESS, TASK_COMPLETED, TASK_FAILED };
	char name[16];
	struct loaded l;

	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		struct task *t = mk(name, "p");
		t->state = states[i];
		t->submit = i == 0 ? SUBMIT_NONE : SUBMIT_DONE;
		if (i)
			t->id = strdup("video_x");
		create_ok(t, NULL, 0);
		task_unref(t);
	}
	cr_assert_eq(reload(&l), 5);
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		cr_assert_str_eq(l.t[i]->name, name, "loaded in name order");
		cr_assert_eq(l.t[i]->state, states[i]);
		cr_assert_eq(l.t[i]->submit, i == 0 ? SUBMIT_NONE : SUBMIT_DONE);
		cr_assert_eq(l.t[i]->video_size, -1);
	}
	loaded_free(&l);
}

/* A crash while a create was on the wire must never lead to a second
 * create: the task comes back failed, and stays so. */
Test(task_store, sending_without_id_loads_as_outcome_unknown)
{
	struct task *t = mk("job", "p");
	struct loaded l;
	char *events;

	create_ok(t, NULL, 0);
	t->submit = SUBMIT_SENDING;
	cr_assert_eq(task_store_save(store, t), 0);

	cr_assert_eq(reload(&l), 1);
	cr_assert_eq(l.t[0]->state, TASK_FAILED);
	cr_assert(strstr(l.t[0]->reason, "submission outcome unknown"), "reason: %s",
		  l.t[0]->reason);
	cr_assert(strstr(l.t[0]->events, "failed"), "no event in memory: %s", l.t[0]->events);
	events = slurp("tasks/job/events");
	cr_assert(strstr(events, "submission outcome unknown"), "events on disk: %s", events);
	free(events);
	loaded_free(&l);

	/* persisted: the next start sees the same, without a second event */
	cr_assert_eq(reload(&l), 1);
	cr_assert_eq(l.t[0]->state, TASK_FAILED);
	cr_assert(strstr(l.t[0]->reason, "submission outcome unknown"));
	events = slurp("tasks/job/events");
	const char *first = strstr(events, "outcome unknown");
	cr_assert_not_null(first);
	cr_assert_null(strstr(first + 1, "outcome unknown"),
		       "a second event was appended: %s", events);
	free(events);
	loaded_free(&l);
	task_unref(t);
}

/* A streamed create (the chat route) shows progress before it has an id:
 * cut by a crash, it has nothing to poll and is never sent again. */
Test(task_store, streaming_without_id_loads_as_outcome_unknown)
{
	struct task *t = mk("job", "p");
	struct loaded l;

	create_ok(t, NULL, 0);
	t->submit = SUBMIT_SENDING;
	t->state = TASK_IN_PROGRESS;
	t->progress = 45;
	t->progress_seen = t->progress_estimated = true;
	cr_assert_eq(task_store_save(store, t), 0);
	cr_assert_eq(reload(&l), 1);
	cr_assert_eq(l.t[0]->state, TASK_FAILED);
	cr_assert(strstr(l.t[0]->reason, "submission outcome unknown"), "reason: %s",
		  l.t[0]->reason);
	loaded_free(&l);
	task_unref(t);
}

Test(task_store, sending_with_an_id_is_left_alone)
{
	struct task *t = mk("job", "p");
	struct loaded l;

	t->state = TASK_QUEUED;
	t->submit = SUBMIT_SENDING;
	t->id = strdup("video_1");
	create_ok(t, NULL, 0);
	cr_assert_eq(reload(&l), 1);
	cr_assert_eq(l.t[0]->state, TASK_QUEUED);
	cr_assert_null(l.t[0]->reason);
	loaded_free(&l);
	task_unref(t);
}

Test(task_store, leftovers_of_a_crash_are_cleaned)
{
	struct task *t = mk("job", "p");
	struct loaded l;

	create_ok(t, NULL, 0);
	mkdir_rel("tasks/.new-999-1");
	write_rel("tasks/.new-999-1/record.json", "{}");
	mkdir_rel("tasks/.trash-999-7");
	mkdir_rel("tasks/.trash-999-7/sub");
	write_rel("tasks/.trash-999-7/sub/video.mp4", "bytes");
	mkdir_rel("tasks/.other");

	cr_assert_eq(reload(&l), 1);
	cr_assert_str_eq(l.t[0]->name, "job");
	cr_assert_not(exists("tasks/.new-999-1"));
	cr_assert_not(exists("tasks/.trash-999-7"));
	cr_assert(exists("tasks/.other"), "only our own temporaries are removed");
	loaded_free(&l);
	task_unref(t);
}

/* A damaged record once hid the task (and its paid video) while its name
 * stayed taken: it is shown, failed as damaged, never rewritten. */
Test(task_store, unreadable_record_is_shown_as_damaged_not_deleted)
{
	struct task *t = mk("good", "p");
	struct loaded l;

	create_ok(t, NULL, 0);
	mkdir_rel("tasks/broken");
	write_rel("tasks/broken/record.json", "{ this is not json");
	write_rel("tasks/broken/prompt", "precious");
	mkdir_rel("tasks/norecord");
	write_rel("tasks/norecord/prompt", "also precious");
	mkdir_rel("tasks/array");
	write_rel("tasks/array/record.json", "[1,2,3]");

	write_rel("tasks/broken/video.mp4", "\0\0\0\x10" "ftypisom" "abcd");

	cr_assert_eq(reload(&l), 4);
	/* name order: array, broken, good, norecord */
	cr_assert_str_eq(l.t[2]->name, "good");
	cr_assert_not(l.t[2]->damaged);
	for (int i = 0; i < 4; i++) {
		if (i == 2)
			continue;
		struct task *d = l.t[i];
		cr_assert(d->damaged, "%s", d->name);
		cr_assert_eq(d->state, TASK_FAILED);
		cr_assert(!strncmp(d->reason, "damaged record: ", 16), "%s", d->reason);
		cr_assert_eq(task_store_save(store, d), 0);
	}
	cr_assert_str_eq(l.t[1]->prompt, "precious");
	cr_assert(l.t[1]->video_done, "its video is still readable");
	cr_assert(task_file_visible(l.t[1], TF_VIDEO));
	char *text = slurp("tasks/broken/record.json");
	cr_assert_str_eq(text, "{ this is not json", "a damaged record is never rewritten");
	free(text);
	cr_assert(exists("tasks/broken/record.json"));
	cr_assert(exists("tasks/broken/prompt"));
	cr_assert(exists("tasks/norecord/prompt"));
	cr_assert(exists("tasks/array/record.json"));
	loaded_free(&l);
	task_unref(t);
}

Test(task_store, missing_optional_files_are_tolerated)
{
	struct loaded l;

	mkdir_rel("tasks/bare");
	write_rel("tasks/bare/record.json", "{\"state\":\"queued\",\"id\":\"video_7\"}");
	cr_assert_eq(reload(&l), 1);
	cr_assert_eq(l.t[0]->state, TASK_QUEUED);
	cr_assert_str_eq(l.t[0]->id, "video_7");
	cr_assert_str_eq(l.t[0]->prompt, "");
	cr_assert_not(l.t[0]->has_task_json);
	cr_assert_eq(l.t[0]->events_len, 0);
	cr_assert_eq(l.t[0]->video_size, -1);
	loaded_free(&l);
}

static void write_part(const char *name, int64_t bytes)
{
	char rel[256], path[1024];
	int fd;

	snprintf(rel, sizeof(rel), "tasks/%s/video.mp4.part", name);
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, bytes), 0);
	close(fd);
}

/* After a crash only fsynced bytes are trusted: the part file may hold a
 * torn tail beyond video_synced. */
Test(task_store, video_resume_trusts_only_synced_bytes)
{
	struct task *a = mk("longer", "p"), *b = mk("shorter", "p"), *c = mk("none", "p");
	struct loaded l;

	for (int i = 0; i < 3; i++) {
		struct task *t = i == 0 ? a : i == 1 ? b : c;
		t->state = TASK_COMPLETED;
		t->submit = SUBMIT_DONE;
		t->id = strdup("video_1");
		t->video_size = 10000;
		t->video_synced = 6000;
		create_ok(t, NULL, 0);
	}
	write_part("longer", 9000);
	write_part("shorter", 2500);

	cr_assert_eq(reload(&l), 3);
	/* name order: longer, none, shorter */
	cr_assert_eq(l.t[0]->video_have, 6000);
	cr_assert_eq(l.t[0]->video_synced, 6000);
	cr_assert_not(l.t[0]->video_done);
	cr_assert_eq(l.t[0]->video_size, 10000);
	cr_assert_eq(l.t[1]->video_have, 0, "no part file: nothing to trust");
	cr_assert_eq(l.t[1]->video_synced, 0);
	cr_assert_eq(l.t[2]->video_have, 2500);
	cr_assert_eq(l.t[2]->video_synced, 2500);
	loaded_free(&l);
	task_unref(a);
	task_unref(b);
	task_unref(c);
}

Test(task_store, finished_video_loads_as_done)
{
	struct task *t = mk("job", "p");
	struct loaded l;
	int fd;

	t->state = TASK_COMPLETED;
	t->id = strdup("video_1");
	create_ok(t, NULL, 0);
	fd = task_store_open_video(store, t, true, O_RDWR | O_CREAT);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fs_pwrite_all(fd, "0123456789", 10, 0), 0);
	cr_assert_eq(task_store_finish_video(store, t, fd, false), 0);
	close(fd);
	cr_assert_not(exists("tasks/job/video.mp4.part"));
	cr_assert(exists("tasks/job/video.mp4"));

	cr_assert_eq(reload(&l), 1);
	cr_assert(l.t[0]->video_done);
	cr_assert_eq(l.t[0]->video_size, 10);
	cr_assert_eq(l.t[0]->video_have, 10);
	fd = task_store_open_video(store, l.t[0], false, O_RDONLY);
	cr_assert_geq(fd, 0);
	char buf[16] = {0};
	cr_assert_eq(read(fd, buf, sizeof(buf)), 10);
	cr_assert_str_eq(buf, "0123456789");
	close(fd);
	loaded_free(&l);
	task_unref(t);
}

Test(task_store, remove_deletes_the_directory)
{
	struct task *t = mk("job", "p"), *other = mk("other", "p");
	struct loaded l;
	int fd;

	create_ok(t, NULL, 0);
	create_ok(other, NULL, 0);
	fd = task_store_open_video(store, t, true, O_RDWR | O_CREAT);
	cr_assert_eq(fs_pwrite_all(fd, "video", 5, 0), 0);
	close(fd);
	cr_assert_eq(task_store_remove(store, "job"), 0);
	cr_assert_not(exists("tasks/job"));
	cr_assert_eq(count_entries("tasks"), 1, "a .trash dir was left behind");
	cr_assert_eq(task_store_remove(store, "job"), -ENOENT);
	cr_assert_eq(reload(&l), 1);
	cr_assert_str_eq(l.t[0]->name, "other");
	loaded_free(&l);

	/* the name is free again */
	struct task *again = mk("job", "new");
	create_ok(again, NULL, 0);
	task_unref(again);
	task_unref(t);
	task_unref(other);
}

Test(task_store, save_after_delete_writes_nothing)
{
	struct task *t = mk("job", "p");

	create_ok(t, NULL, 0);
	cr_assert_eq(task_store_remove(store, "job"), 0);
	t->deleted = true;
	t->state = TASK_QUEUED;
	cr_assert_eq(task_store_save(store, t), 0);
	task_store_append_event(store, t, "line\n");
	task_store_save_answer(store, t, "{}", 2);
	cr_assert_not(exists("tasks/job"), "a forgotten task came back");
	task_unref(t);
}

Test(task_store, events_and_answers_persist)
{
	struct task *t = mk("job", "p");
	char *text;

	create_ok(t, NULL, 0);
	task_store_append_event(store, t, "2024-01-01T00:00:00.000Z queued 0\n");
	task_store_append_event(store, t, "2024-01-01T00:00:01.000Z in_progress 5\n");
	text = slurp("tasks/job/events");
	cr_assert(strstr(text, "queued 0\n2024-01-01T00:00:01.000Z in_progress 5\n"), "%s", text);
	cr_assert_eq(strncmp(text, t->events, t->events_len), 0, "events only grow");
	free(text);

	task_store_save_answer(store, t, "{\"a\":1}", 7);
	text = slurp("tasks/job/task.json");
	cr_assert_str_eq(text, "{\"a\":1}");
	free(text);
	task_unref(t);
}

Test(task_store, open_file_does_not_follow_symlinks)
{
	struct task *t = mk("job", "p");
	char path[1024];

	create_ok(t, NULL, 0);
	snprintf(path, sizeof(path), "%s/tasks/job/image.png", dir);
	cr_assert_eq(symlink("/etc/passwd", path), 0);
	cr_assert_eq(task_store_open_file(store, t, "image.png"), -ELOOP);
	cr_assert_eq(task_store_open_file(store, t, "missing.png"), -ENOENT);
	task_unref(t);
}

Test(task_store, video_of_a_missing_task_fails)
{
	struct task *t = mk("ghost", "p");

	cr_assert_eq(task_store_open_video(store, t, true, O_RDWR | O_CREAT), -ENOENT);
	cr_assert_lt(task_store_save(store, t), 0);
	task_unref(t);
}

/* fs_write_atomic's temporaries are dot-names that "loaders ignore and
 * remove" (fsutil.c): a crash in the middle of a record update must not
 * leave them behind forever.
 */
Test(task_store, temporaries_inside_a_task_dir_are_cleaned)
{
	struct task *t = mk("job", "p");
	struct loaded l;

	create_ok(t, NULL, 0);
	write_rel("tasks/job/.record.json.tmp", "{\"state\":\"torn");
	write_rel("tasks/job/.task.json.tmp", "{");
	cr_assert_eq(reload(&l), 1);
	cr_assert_not(exists("tasks/job/.record.json.tmp"));
	cr_assert_not(exists("tasks/job/.task.json.tmp"));
	loaded_free(&l);
	task_unref(t);
}

Test(task_store, a_torn_temporary_never_replaces_the_record)
{
	struct task *t = mk("job", "p");
	struct loaded l;

	t->state = TASK_QUEUED;
	t->id = strdup("video_1");
	create_ok(t, NULL, 0);
	write_rel("tasks/job/.record.json.tmp", "{\"state\":\"torn");
	cr_assert_eq(reload(&l), 1);
	cr_assert_eq(l.t[0]->state, TASK_QUEUED);
	cr_assert_str_eq(l.t[0]->id, "video_1");
	loaded_free(&l);
	task_unref(t);
}
