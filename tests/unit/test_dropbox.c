/* new/, the drop box: which names submit, what is refused and why, and
 * that a prompt becomes exactly one task however it arrives. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dropbox.h"
#include "engine.h"
#include "fake_remote.h"
#include "fsutil.h"
#include "inode.h"
#include "log.h"
#include "scheduler.h"
#include "task_store.h"
#include "task_table.h"

static struct {
	char *dir;
	struct task_store *store;
	struct task_table *table;
	struct fake_remote *fake;
	struct engine *e;
	struct dropbox *db;
} env;

static const struct engine_options eopts = {
	.poll_interval_s = 1, .poll_max_interval_s = 2, .timeout_s = 2,
	.control_threads = 4, .download_threads = 2,
};

static const struct dropbox_options dopts = {
	.model = "veo-3.1", .seconds = "8", .size = "16x9", .watermark = 0,
};

static void setup(void)
{
	char err[256] = "";

	log_set_level(LOG_LVL_ERROR);
	memset(&env, 0, sizeof(env));
	env.dir = test_tmpdir();
	cr_assert_eq(task_store_open(env.dir, &env.store, err, sizeof(err)), 0, "%s", err);
	env.table = task_table_new();
	env.fake = fake_remote_new();
	env.e = engine_new(&eopts, fake_remote_remote(env.fake), env.store, env.table, NULL);
	env.db = dropbox_new(&dopts, env.store, env.table, env.e, NULL);
	cr_assert_not_null(env.db);
}

static void teardown(void)
{
	fake_remote_release_all(env.fake);
	engine_free(env.e);
	dropbox_free(env.db);
	task_table_free(env.table);
	fake_remote_free(env.fake);
	task_store_close(env.store);
	test_tmpdir_remove(env.dir);
}

TestSuite(dropbox, .init = setup, .fini = teardown, .timeout = 40);

/* open(O_CREAT), write, close: what `echo TEXT > new/NAME` does. Returns
 * the create's error or the flush's result. */
static int put_flags(const char *name, const char *text, int flags)
{
	uint64_t ino;
	struct stat st;
	struct dropbox_file *f;
	int rc = dropbox_create(env.db, name, 0644, flags, &ino, &st, &f);

	if (rc < 0)
		return rc;
	if (text) {
		ssize_t n = dropbox_write(f, text, strlen(text), 0);
		cr_assert_eq(n, (ssize_t)strlen(text));
	}
	rc = dropbox_flush(env.db, f);
	dropbox_release(env.db, f);
	dropbox_forget(env.db, ino, 1);
	return rc;
}

static int put(const char *name, const char *text)
{
	return put_flags(name, text, O_WRONLY | O_CREAT | O_TRUNC);
}

static char *path_in(const char *sub, const char *name)
{
	char *p;

	cr_assert_geq(asprintf(&p, "%s/%s/%s", env.dir, sub, name), 0);
	return p;
}

static bool new_exists(const char *name)
{
	char *p = path_in("new", name);
	struct stat st;
	bool ok = lstat(p, &st) == 0;

	free(p);
	return ok;
}

static char *new_read(const char *name)
{
	char *p = path_in("new", name), *text = NULL;
	size_t len;

	fs_read_all(AT_FDCWD, p, 1 << 20, &text, &len);
	free(p);
	return text;
}

static void new_write(const char *name, const void *data, size_t len)
{
	char *p = path_in("new", name);
	FILE *f = fopen(p, "w");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	fclose(f);
	free(p);
}

static bool task_dir_exists(const char *name)
{
	char *p = path_in("tasks", name);
	struct stat st;
	bool ok = stat(p, &st) == 0 && S_ISDIR(st.st_mode);

	free(p);
	return ok;
}

static int count_dir(const char *sub)
{
	char *p = path_in(sub, "");
	DIR *d = opendir(p);
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	free(p);
	return n;
}

static int count_tasks_on_disk(void)
{
	char *p = path_in("tasks", "");
	DIR *d = opendir(p);
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	free(p);
	return n;
}

static struct task *task_named(const char *name)
{
	return task_table_get_name(env.table, name);
}

static void assert_no_task(const char *name)
{
	struct task *t = task_named(name);

	cr_assert_null(t, "task %s exists", name);
	cr_assert_not(task_dir_exists(name), "task dir %s exists", name);
}

static void assert_refused(const char *taskname, const char *why)
{
	char errname[300], *text;

	snprintf(errname, sizeof(errname), "%s.error", taskname);
	text = new_read(errname);
	cr_assert_not_null(text, "no new/%s", errname);
	cr_assert(strstr(text, why), "new/%s says '%s', want '%s'", errname, text, why);
	cr_assert_eq(text[strlen(text) - 1], '\n');
	free(text);
	assert_no_task(taskname);
}

/* ---- accepting ---- */

Test(dropbox, prompt_submits_when_closed)
{
	struct task *t;
	const struct fake_create_call *c;

	cr_assert_eq(put("job.prompt", "a cow doing the Kemusan dance\n"), 0);
	t = task_named("job");
	cr_assert_not_null(t, "no task after close()");
	cr_assert(task_dir_exists("job"));
	cr_assert_not(new_exists("job.prompt"), "the prompt stayed in new/");
	cr_assert_not(new_exists("job.error"));
	pthread_mutex_lock(&t->mu);
	cr_assert_str_eq(t->prompt, "a cow doing the Kemusan dance");
	cr_assert_str_eq(t->model, "veo-3.1");
	cr_assert_str_eq(t->seconds, "8");
	cr_assert_str_eq(t->size, "16x9");
	cr_assert_eq(t->watermark, 0);
	cr_assert_null(t->image_file);
	pthread_mutex_unlock(&t->mu);

	cr_assert_eq(fake_remote_wait_calls(env.fake, FAKE_CREATE, 1, 3000), 1);
	c = fake_remote_create_call(env.fake, 0);
	cr_assert_str_eq(c->prompt, "a cow doing the Kemusan dance");
	cr_assert_str_eq(c->model, "veo-3.1");
	task_unref(t);
}

Test(dropbox, scratch_names_never_submit)
{
	static const char *const names[] = {
		"4913", ".job.prompt.swp", "job.prompt~", ".goutputstream-X1Y2Z3",
		"notes.txt", "job.PROMPT", "job.prompt.bak", "#job.prompt#",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		cr_assert_eq(put(names[i], "a cow\n"), 0, "%s", names[i]);
		cr_assert(new_exists(names[i]), "%s vanished", names[i]);
	}
	cr_assert_eq(dropbox_rename(env.db, "4913", "4914", 0), 0);
	cr_assert_eq(dropbox_rename(env.db, "notes.txt", "job.prompt.orig", 0), 0);
	cr_assert_eq(dropbox_unlink(env.db, "job.PROMPT"), 0);
	cr_assert_not(new_exists("job.PROMPT"));
	cr_assert_eq(task_table_count(env.table), 0);
	cr_assert_eq(count_dir("tasks"), 0);
	test_sleep_ms(300);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), 0);
}

Test(dropbox, empty_prompt_is_refused_and_kept)
{
	cr_assert_eq(put("job.prompt", "  \n\t\n"), -EINVAL);
	cr_assert(new_exists("job.prompt"), "a refused prompt must stay");
	assert_refused("job", "empty");
	char *text = new_read("job.prompt");
	cr_assert_str_eq(text, "  \n\t\n");
	free(text);

	/* an unwritten new file (`touch`, or a shell's first close) */
	cr_assert_eq(put("other.prompt", NULL), -EINVAL);
	assert_refused("other", "empty");
	test_sleep_ms(200);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), 0);
}

Test(dropbox, bad_front_matter_is_refused_then_fixed)
{
	uint64_t ino;
	struct stat st;
	struct dropbox_file *f;
	const char *bad = "---\nmodle: veo-3.1-fast\n---\na cow\n";
	const char *good = "---\nmodel: veo-3.1-fast\n---\na cow\n";
	char *text;

	cr_assert_eq(put("job.prompt", bad), -EINVAL);
	assert_refused("job", "unknown front matter key 'modle'");
	text = new_read("job.prompt");
	cr_assert_str_eq(text, bad, "the user's text must be kept as written");
	free(text);

	/* the editor saves again: open, truncate, write, close */
	cr_assert_eq(dropbox_lookup(env.db, "job.prompt", &ino, &st), 0);
	cr_assert_eq(dropbox_open(env.db, ino, O_WRONLY | O_TRUNC, &f), 0);
	cr_assert_eq(dropbox_write(f, good, strlen(good), 0), (ssize_t)strlen(good));
	cr_assert_eq(dropbox_flush(env.db, f), 0);
	dropbox_release(env.db, f);
	dropbox_forget(env.db, ino, 1);

	struct task *t = task_named("job");
	cr_assert_not_null(t);
	cr_assert_str_eq(t->model, "veo-3.1-fast");
	task_unref(t);
	cr_assert_not(new_exists("job.error"), "the error file must go once it is fixed");
	cr_assert_not(new_exists("job.prompt"));
}

Test(dropbox, error_file_tells_the_latest_reason)
{
	cr_assert_eq(put("job.prompt", "---\nseconds: 7\n---\ncow\n"), -EINVAL);
	assert_refused("job", "seconds");
	cr_assert_eq(put("job.prompt", "---\nsize: 3x4\n---\ncow\n"), -EINVAL);
	assert_refused("job", "size");
	char *text = new_read("job.error");
	cr_assert_null(strstr(text, "seconds"), "stale reason kept: %s", text);
	free(text);
}

Test(dropbox, oversized_and_non_utf8_prompts_are_refused)
{
	size_t n = 32001;
	char *big = malloc(n + 1);

	memset(big, 'a', n);
	big[n] = '\0';
	cr_assert_eq(put("big.prompt", big), -EINVAL);
	assert_refused("big", "32000");
	free(big);

	cr_assert_eq(put("latin.prompt", "caf\xe9 au lait\n"), -EINVAL);
	assert_refused("latin", "UTF-8");

	cr_assert_eq(put("unterminated.prompt", "---\nmodel: veo-3.1\na cow\n"), -EINVAL);
	assert_refused("unterminated", "front matter");
}

Test(dropbox, existing_task_name_is_eexist)
{
	uint64_t ino;
	struct stat st;
	struct dropbox_file *f;

	cr_assert_eq(put("job.prompt", "first\n"), 0);
	cr_assert_eq(dropbox_create(env.db, "job.prompt", 0644, O_WRONLY | O_CREAT | O_TRUNC,
				    &ino, &st, &f), -EEXIST);
	cr_assert_not(new_exists("job.prompt"), "a refused create left a file");

	cr_assert_eq(put("scratch", "second\n"), 0);
	cr_assert_eq(dropbox_rename(env.db, "scratch", "job.prompt", 0), -EEXIST);
	cr_assert(new_exists("scratch"), "a refused rename lost the source");
	cr_assert_not(new_exists("job.prompt"));

	struct task *t = task_named("job");
	cr_assert_str_eq(t->prompt, "first");
	task_unref(t);
	cr_assert_eq(task_table_count(env.table), 1);
}

Test(dropbox, refused_names_are_einval)
{
	static const char *const names[] = { "new.prompt", ".x.prompt", ".prompt", "a\tb.prompt" };
	uint64_t ino;
	struct stat st;
	struct dropbox_file *f;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		cr_assert_eq(dropbox_create(env.db, names[i], 0644, O_WRONLY | O_CREAT,
					    &ino, &st, &f), -EINVAL, "%s", names[i]);
		cr_assert_not(new_exists(names[i]), "%s was created", names[i]);
	}
	cr_assert_eq(put("scratch", "a cow\n"), 0);
	cr_assert_eq(dropbox_rename(env.db, "scratch", "new.prompt", 0), -EINVAL);
	cr_assert_eq(dropbox_rename(env.db, "scratch", ".x.prompt", 0), -EINVAL);
	cr_assert(new_exists("scratch"));
	cr_assert_eq(task_table_count(env.table), 0);
	cr_assert_not(task_dir_exists("new"));
}

Test(dropbox, renaming_a_scratch_file_to_a_prompt_submits)
{
	/* how vim and many editors save */
	cr_assert_eq(put("4913", "a cow in the rain\n"), 0);
	cr_assert_eq(dropbox_rename(env.db, "4913", "job.prompt", 0), 0);
	struct task *t = task_named("job");
	cr_assert_not_null(t);
	cr_assert_str_eq(t->prompt, "a cow in the rain");
	task_unref(t);
	cr_assert_not(new_exists("4913"));
	cr_assert_not(new_exists("job.prompt"));
	cr_assert_eq(fake_remote_wait_calls(env.fake, FAKE_CREATE, 1, 3000), 1);
}

/* A refused rename changes nothing: the source keeps its name and text
 * (mv and os.replace report the error with nothing lost), NAME.error says
 * why. */
Test(dropbox, renaming_a_bad_scratch_file_to_a_prompt_is_refused_and_changes_nothing)
{
	char *kept;

	cr_assert_eq(put(".goutputstream-ABC", "---\nfoo: bar\n---\ncow\n"), 0);
	cr_assert_eq(dropbox_rename(env.db, ".goutputstream-ABC", "job.prompt", 0), -EPERM);
	cr_assert_not(new_exists("job.prompt"), "the refused rename took effect");
	kept = new_read(".goutputstream-ABC");
	cr_assert_not_null(kept, "the source is gone");
	cr_assert_str_eq(kept, "---\nfoo: bar\n---\ncow\n");
	free(kept);
	kept = new_read("job.error");
	cr_assert_not_null(kept);
	cr_assert(strstr(kept, "foo"), "%s", kept);
	free(kept);
	cr_assert_eq(task_table_count(env.table), 0);
}

/* Saving over a refused prompt by rename: the new text is accepted, and
 * the old file under the target name goes, as a rename leaves it. */
Test(dropbox, renaming_a_good_text_over_a_refused_prompt_submits_it)
{
	cr_assert_eq(put("job.prompt", "---\nfoo: bar\n---\ncow\n"), -EINVAL);
	cr_assert(new_exists("job.error"));
	cr_assert_eq(put("job.prompt.tmp", "a fixed cow\n"), 0);
	cr_assert_eq(dropbox_rename(env.db, "job.prompt.tmp", "job.prompt", 0), 0);
	cr_assert_not(new_exists("job.prompt"));
	cr_assert_not(new_exists("job.prompt.tmp"));
	cr_assert_not(new_exists("job.error"));
	struct task *t = task_named("job");
	cr_assert_not_null(t);
	cr_assert_str_eq(t->prompt, "a fixed cow");
	task_unref(t);
}

/* An explanation goes with what it explains. */
Test(dropbox, deleting_or_renaming_away_a_refused_prompt_takes_its_error_along)
{
	cr_assert_eq(put("a.prompt", ""), -EINVAL);
	cr_assert(new_exists("a.error"));
	cr_assert_eq(dropbox_unlink(env.db, "a.prompt"), 0);
	cr_assert_not(new_exists("a.error"));
	cr_assert_eq(put("b.prompt", ""), -EINVAL);
	cr_assert(new_exists("b.error"));
	cr_assert_eq(dropbox_rename(env.db, "b.prompt", "b.txt", 0), 0);
	cr_assert_not(new_exists("b.error"));
}

Test(dropbox, rename_exchange_is_refused)
{
	cr_assert_eq(put("a", "x\n"), 0);
	cr_assert_eq(put("b", "y\n"), 0);
	cr_assert_eq(dropbox_rename(env.db, "a", "b", RENAME_EXCHANGE), -EINVAL);
}

Test(dropbox, front_matter_options_reach_the_task_and_the_request)
{
	const char *text = "---\nmodel: veo-3.1-landscape-fast\nseconds: 4\nsize: 9x16\n"
			   "watermark: true\n---\nA cheerful cow doing the Kemusan dance\n";
	const struct fake_create_call *c;
	struct task *t;

	cr_assert_eq(put("cow.prompt", text), 0);
	t = task_named("cow");
	cr_assert_not_null(t);
	cr_assert_str_eq(t->model, "veo-3.1-landscape-fast");
	cr_assert_str_eq(t->seconds, "4");
	cr_assert_str_eq(t->size, "9x16");
	cr_assert_eq(t->watermark, 1);
	cr_assert_str_eq(t->prompt, "A cheerful cow doing the Kemusan dance");
	task_unref(t);

	cr_assert_eq(fake_remote_wait_calls(env.fake, FAKE_CREATE, 1, 3000), 1);
	c = fake_remote_create_call(env.fake, 0);
	cr_assert_str_eq(c->model, "veo-3.1-landscape-fast");
	cr_assert_str_eq(c->seconds, "4");
	cr_assert_str_eq(c->size, "9x16");
	cr_assert_str_eq(c->watermark, "true");
	cr_assert_str_eq(c->prompt, "A cheerful cow doing the Kemusan dance");
	cr_assert_null(c->resolution);
	cr_assert_null(c->negative_prompt);
}

Test(dropbox, resolution_and_negative_prompt_reach_the_task_and_the_request)
{
	const char *text = "---\nresolution: 1080P\nnegative_prompt: \"blurry, low quality\"\n"
			   "---\nA cow\n";
	const struct fake_create_call *c;
	struct task *t;
	char *shown = NULL, *p;
	size_t n = 0;

	cr_assert_eq(put("cow.prompt", text), 0);
	t = task_named("cow");
	cr_assert_not_null(t);
	cr_assert_str_eq(t->resolution, "1080p");
	cr_assert_str_eq(t->negative_prompt, "blurry, low quality");
	task_unref(t);
	/* the prompt file shows the text as sent, as with every key */
	p = path_in("tasks", "cow/prompt");
	cr_assert_eq(fs_read_all(AT_FDCWD, p, 1 << 20, &shown, &n), 0, "no %s", p);
	cr_assert_eq(n, strlen("A cow"));
	cr_assert_eq(memcmp(shown, "A cow", n), 0);
	free(shown);
	free(p);

	cr_assert_eq(fake_remote_wait_calls(env.fake, FAKE_CREATE, 1, 3000), 1);
	c = fake_remote_create_call(env.fake, 0);
	cr_assert_str_eq(c->resolution, "1080p");
	cr_assert_str_eq(c->negative_prompt, "blurry, low quality");
}

Test(dropbox, bad_resolution_is_refused_with_its_reason)
{
	const char *bad = "---\nresolution: 4k\n---\na cow\n";

	cr_assert_eq(put("job.prompt", bad), -EINVAL);
	assert_refused("job", "resolution must be 720p or 1080p, not '4k'");
	cr_assert(new_exists("job.prompt"), "the refused text stays in new/");
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), 0);
}

static const unsigned char png[] = {
	0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
	0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89,
};

static const unsigned char jpeg[] = { 0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0 };

static void assert_task_image(const char *task, const char *file, const void *bytes, size_t len)
{
	char rel[300], *p, *got = NULL;
	size_t n = 0;
	struct task *t = task_named(task);

	cr_assert_not_null(t);
	cr_assert_str_eq(t->image_file, file);
	task_unref(t);
	snprintf(rel, sizeof(rel), "%s/%s", task, file);
	p = path_in("tasks", rel);
	cr_assert_eq(fs_read_all(AT_FDCWD, p, 1 << 20, &got, &n), 0, "no copy at %s", p);
	cr_assert_eq(n, len);
	cr_assert_eq(memcmp(got, bytes, len), 0);
	free(got);
	free(p);
}

Test(dropbox, image_relative_to_new_is_copied_into_the_task)
{
	const struct fake_create_call *c;

	new_write("cow.png", png, sizeof(png));
	cr_assert_eq(put("job.prompt", "---\nimage: cow.png\n---\na cow\n"), 0);
	assert_task_image("job", "image.png", png, sizeof(png));

	cr_assert_eq(fake_remote_wait_calls(env.fake, FAKE_CREATE, 1, 3000), 1);
	c = fake_remote_create_call(env.fake, 0);
	cr_assert_not_null(c->image_path, "the image was not sent");
	cr_assert(c->image_readable, "sent image path %s unreadable", c->image_path);
	cr_assert_eq(c->image_len, sizeof(png));
	cr_assert_null(c->image_url);
}

Test(dropbox, image_by_absolute_path_is_copied_into_the_task)
{
	char *abs = path_in("", "elsewhere.jpg"), *text;
	FILE *f = fopen(abs, "w");

	fwrite(jpeg, 1, sizeof(jpeg), f);
	fclose(f);
	cr_assert_geq(asprintf(&text, "---\nimage: %s\n---\na cow\n", abs), 0);
	cr_assert_eq(put("job.prompt", text), 0);
	assert_task_image("job", "image.jpg", jpeg, sizeof(jpeg));
	free(text);
	free(abs);
}

Test(dropbox, image_url_is_passed_through)
{
	const struct fake_create_call *c;

	cr_assert_eq(put("job.prompt", "---\nimage: https://example.com/cow.png\n---\na cow\n"), 0);
	struct task *t = task_named("job");
	cr_assert_str_eq(t->image_url, "https://example.com/cow.png");
	cr_assert_null(t->image_file);
	task_unref(t);
	cr_assert_eq(fake_remote_wait_calls(env.fake, FAKE_CREATE, 1, 3000), 1);
	c = fake_remote_create_call(env.fake, 0);
	cr_assert_str_eq(c->image_url, "https://example.com/cow.png");
	cr_assert_null(c->image_path);
}

Test(dropbox, unusable_images_are_refused)
{
	char *d = path_in("new", "adir");

	cr_assert_eq(mkdir(d, 0700), 0);
	free(d);
	cr_assert_eq(put("dir.prompt", "---\nimage: adir\n---\na cow\n"), -EINVAL);
	assert_refused("dir", "directory");

	new_write("notes.txt", "just text\n", 10);
	cr_assert_eq(put("text.prompt", "---\nimage: notes.txt\n---\na cow\n"), -EINVAL);
	assert_refused("text", "not a PNG");

	cr_assert_eq(put("missing.prompt", "---\nimage: nothere.png\n---\na cow\n"), -EINVAL);
	assert_refused("missing", "nothere.png");

	cr_assert_eq(put("escape.prompt", "---\nimage: ../tasks/x.png\n---\na cow\n"), -EINVAL);
	assert_refused("escape", "new/");

	cr_assert_eq(put("absdir.prompt", "---\nimage: /\n---\na cow\n"), -EINVAL);
	assert_refused("absdir", "directory");
	cr_assert(new_exists("dir.prompt"));
	test_sleep_ms(200);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), 0);
}

Test(dropbox, a_hundred_prompts_make_a_hundred_tasks)
{
	char name[32], text[64];

	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "batch-%03d.prompt", i);
		snprintf(text, sizeof(text), "prompt number %d\n", i);
		cr_assert_eq(put(name, text), 0, "%s", name);
	}
	cr_assert_eq(task_table_count(env.table), 100);
	cr_assert_eq(count_dir("tasks"), 100);
	cr_assert_eq(count_dir("new"), 0);
	cr_assert_eq(fake_remote_wait_calls(env.fake, FAKE_CREATE, 100, 10000), 100);
	test_sleep_ms(200);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), 100);
	struct task *t = task_named("batch-042");
	cr_assert_str_eq(t->prompt, "prompt number 42");
	task_unref(t);
}

struct racer {
	int rc;
};

static void *race_flush(void *arg)
{
	struct racer *r = arg;

	/* no O_TRUNC: every writer writes the same bytes at 0 */
	r->rc = put_flags("race.prompt", "one cow, not two\n", O_WRONLY | O_CREAT);
	return NULL;
}

Test(dropbox, concurrent_flushes_of_one_name_make_one_task)
{
	enum { N = 8 };
	struct racer r[N];
	pthread_t th[N];

	for (int round = 0; round < 5; round++) {
		char taskdir[16];
		for (int i = 0; i < N; i++)
			pthread_create(&th[i], NULL, race_flush, &r[i]);
		for (int i = 0; i < N; i++)
			pthread_join(th[i], NULL);
		for (int i = 0; i < N; i++)
			cr_assert(r[i].rc == 0 || r[i].rc == -EEXIST, "flush returned %d", r[i].rc);
		cr_assert_eq(task_table_count(env.table), 1);
		/* dot-names: a removal's leftovers (see engine's
		 * forget_racing_a_worker_leaves_no_files), not tasks */
		cr_assert_eq(count_tasks_on_disk(), 1, "round %d", round);
		snprintf(taskdir, sizeof(taskdir), "race");
		cr_assert(task_dir_exists(taskdir));
		cr_assert_eq(fake_remote_wait_calls(env.fake, FAKE_CREATE, round + 1, 3000),
			     round + 1);
		if (round < 4) {
			/* forget it and race again */
			struct task *t = task_table_remove(env.table, "race");
			engine_forget(env.e, t);
			task_store_remove(env.store, "race");
			task_unref(t);
			dropbox_unlink(env.db, "race.prompt");
			dropbox_unlink(env.db, "race.error");
		}
	}
	test_sleep_ms(300);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), 5, "one create per task");
}

Test(dropbox, a_second_close_of_an_accepted_prompt_does_nothing)
{
	uint64_t ino;
	struct stat st;
	struct dropbox_file *f;

	cr_assert_eq(dropbox_create(env.db, "job.prompt", 0644, O_WRONLY | O_CREAT | O_TRUNC,
				    &ino, &st, &f), 0);
	cr_assert_eq(dropbox_write(f, "a cow\n", 6, 0), 6);
	cr_assert_eq(dropbox_flush(env.db, f), 0);
	/* close of a dup'd descriptor */
	cr_assert_eq(dropbox_flush(env.db, f), 0);
	dropbox_release(env.db, f);
	dropbox_forget(env.db, ino, 1);
	cr_assert_eq(task_table_count(env.table), 1);
	cr_assert_not(new_exists("job.error"));
	test_sleep_ms(300);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), 1);
}

/* Two descriptors on one name, each writing its own text: each close is
 * judged on that writer's words. The first makes the task from its text
 * (not the other's, though the other wrote over the file meanwhile); the
 * second gets EEXIST, and its text is kept in new/ with NAME.error saying
 * where. */
Test(dropbox, two_writers_each_get_an_answer_about_their_own_text)
{
	uint64_t ino, ino2;
	struct stat st;
	struct dropbox_file *a, *b;
	char *kept, *error;

	cr_assert_eq(dropbox_create(env.db, "job.prompt", 0644, O_WRONLY | O_CREAT | O_TRUNC,
				    &ino, &st, &a), 0);
	cr_assert_eq(dropbox_create(env.db, "job.prompt", 0644, O_WRONLY | O_CREAT | O_TRUNC,
				    &ino2, &st, &b), 0);
	cr_assert_eq(ino, ino2);
	cr_assert_eq(dropbox_write(a, "the first writer's cow\n", 23, 0), 23);
	cr_assert_eq(dropbox_write(b, "a second, longer text of a horse\n", 33, 0), 33);
	cr_assert_eq(dropbox_flush(env.db, a), 0);
	struct task *t = task_named("job");
	cr_assert_not_null(t);
	cr_assert_str_eq(t->prompt, "the first writer's cow");
	task_unref(t);
	cr_assert_eq(dropbox_flush(env.db, b), -EEXIST, "the later close said yes");
	kept = new_read("job.prompt.conflict");
	cr_assert_not_null(kept, "the second writer's text was dropped");
	cr_assert_str_eq(kept, "a second, longer text of a horse\n");
	error = new_read("job.error");
	cr_assert_not_null(error);
	cr_assert(strstr(error, "job.prompt.conflict"), "%s", error);
	cr_assert(strstr(error, "another writer"), "%s", error);
	free(kept);
	free(error);
	dropbox_release(env.db, a);
	dropbox_release(env.db, b);
	dropbox_forget(env.db, ino, 2);
	test_sleep_ms(200);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), 1);
	cr_assert_eq(task_table_count(env.table), 1);
}

/* One open file description closed twice (a dup'ed descriptor) with more
 * text written between the closes: the second close does not say yes for
 * words that were never sent. */
Test(dropbox, text_written_after_the_first_close_is_kept_not_dropped)
{
	uint64_t ino;
	struct stat st;
	struct dropbox_file *f;
	char *kept;

	cr_assert_eq(dropbox_create(env.db, "job.prompt", 0644, O_WRONLY | O_CREAT | O_TRUNC,
				    &ino, &st, &f), 0);
	cr_assert_eq(dropbox_write(f, "a cow\n", 6, 0), 6);
	cr_assert_eq(dropbox_flush(env.db, f), 0);
	cr_assert_eq(dropbox_write(f, "and a horse\n", 12, 6), 12);
	cr_assert_eq(dropbox_flush(env.db, f), -EEXIST);
	kept = new_read("job.prompt.conflict");
	cr_assert_not_null(kept);
	cr_assert_str_eq(kept, "a cow\nand a horse\n");
	free(kept);
	/* A third close with nothing new written is quiet. */
	cr_assert_eq(dropbox_flush(env.db, f), 0);
	dropbox_release(env.db, f);
	dropbox_forget(env.db, ino, 1);
	/* Writing it again is writing NAME.prompt while task NAME exists. */
	cr_assert_eq(dropbox_open(env.db, ino, O_WRONLY, &f), -EEXIST);
}

Test(dropbox, truncate_then_write_through_setattr_submits)
{
	uint64_t ino;
	struct stat st, attr = {0}, out;
	struct dropbox_file *f;

	new_write("job.prompt", "old text that was refused\x01\xff", 28);
	cr_assert_eq(dropbox_lookup(env.db, "job.prompt", &ino, &st), 0);
	cr_assert_eq(dropbox_open(env.db, ino, O_WRONLY, &f), 0);
	attr.st_size = 0;
	cr_assert_eq(dropbox_setattr(env.db, ino, f, &attr, FUSE_SET_ATTR_SIZE, &out), 0);
	cr_assert_eq(out.st_size, 0);
	cr_assert_eq(out.st_ino, ino);
	cr_assert_eq(dropbox_write(f, "fresh\n", 6, 0), 6);
	cr_assert_eq(dropbox_flush(env.db, f), 0);
	dropbox_release(env.db, f);
	dropbox_forget(env.db, ino, 1);
	struct task *t = task_named("job");
	cr_assert_not_null(t);
	cr_assert_str_eq(t->prompt, "fresh");
	task_unref(t);
}

Test(dropbox, lookup_getattr_and_unlink)
{
	uint64_t ino, ino2;
	struct stat st;

	cr_assert_eq(dropbox_lookup(env.db, "nothing", &ino, &st), -ENOENT);
	cr_assert_eq(put("4913", "abc"), 0);
	cr_assert_eq(dropbox_lookup(env.db, "4913", &ino, &st), 0);
	cr_assert_geq(ino, INO_DROPBOX_BASE);
	cr_assert_eq(st.st_ino, ino);
	cr_assert_eq(st.st_size, 3);
	cr_assert_eq(dropbox_lookup(env.db, "4913", &ino2, &st), 0);
	cr_assert_eq(ino2, ino, "one name, one inode");
	cr_assert_eq(dropbox_getattr(env.db, ino, &st), 0);
	cr_assert_eq(st.st_size, 3);
	cr_assert_eq(dropbox_unlink(env.db, "4913"), 0);
	cr_assert_eq(dropbox_getattr(env.db, ino, &st), -ENOENT);
	cr_assert_eq(dropbox_unlink(env.db, "4913"), -ENOENT);
	dropbox_forget(env.db, ino, 2);
	cr_assert_eq(dropbox_getattr(env.db, ino, &st), -ENOENT);
}

struct listing {
	char names[16][64];
	int n;
};

static int fill(void *ctx, const char *name, const struct stat *st, off_t next)
{
	struct listing *l = ctx;

	cr_assert_lt(l->n, 16);
	snprintf(l->names[l->n++], 64, "%s", name);
	return 0;
}

static bool listed(const struct listing *l, const char *name)
{
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->names[i], name))
			return true;
	return false;
}

Test(dropbox, readdir_lists_what_is_in_new)
{
	struct listing l = {0};

	cr_assert_eq(put("4913", "x"), 0);
	cr_assert_eq(put("bad.prompt", ""), -EINVAL);
	cr_assert_eq(put("good.prompt", "a cow\n"), 0);
	cr_assert_eq(dropbox_readdir(env.db, 0, fill, &l), 0);
	/* "." and ".." come from the backing directory too. */
	cr_assert_eq(l.n, 5, "listed %d entries", l.n);
	cr_assert(listed(&l, "."));
	cr_assert(listed(&l, ".."));
	cr_assert(listed(&l, "4913"));
	cr_assert(listed(&l, "bad.prompt"));
	cr_assert(listed(&l, "bad.error"));
	cr_assert_not(listed(&l, "good.prompt"));
}

struct pager {
	char names[16][64];
	int n;
	off_t last;
};

static int fill_one(void *ctx, const char *name, const struct stat *st, off_t next)
{
	struct pager *p = ctx;

	snprintf(p->names[p->n++], 64, "%s", name);
	p->last = next;
	return 1; /* buffer full after one */
}

Test(dropbox, readdir_resumes_from_a_cookie)
{
	struct pager p = {0};
	off_t off = 0;

	cr_assert_eq(put("a", "x"), 0);
	cr_assert_eq(put("b", "x"), 0);
	cr_assert_eq(put("c", "x"), 0);
	for (int i = 0; i < 10 && p.n < 6; i++) {
		int before = p.n;
		dropbox_readdir(env.db, off, fill_one, &p);
		if (p.n == before)
			break;
		off = p.last;
	}
	cr_assert_eq(p.n, 5, "paged through %d entries (a, b, c, . and ..)", p.n);
}

Test(dropbox, recover_removes_prompts_already_accepted)
{
	const char *text = "a cow\n";

	cr_assert_eq(put("job.prompt", text), 0);
	cr_assert_eq(put("other.prompt", "another cow\n"), 0);
	/* a crash after the task was stored, before the prompt was removed */
	new_write("job.prompt", text, strlen(text));
	/* the user wrote a new prompt under an existing name meanwhile */
	new_write("other.prompt", "a different cow\n", 16);
	new_write("stray.prompt", "no task\n", 8);
	dropbox_recover(env.db);
	cr_assert_not(new_exists("job.prompt"), "the accepted prompt was not recognised");
	cr_assert(new_exists("other.prompt"), "a prompt with other bytes must stay");
	cr_assert(new_exists("stray.prompt"));
	cr_assert_eq(task_table_count(env.table), 2);
}

Test(dropbox, accept_of_a_consumed_file_is_harmless)
{
	cr_assert_eq(dropbox_accept(env.db, "gone.prompt"), 0);
	assert_no_task("gone");
	cr_assert_eq(dropbox_accept(env.db, "scratch"), -EINVAL);
}

Test(dropbox, accepted_means_durable)
{
	cr_assert_eq(put("job.prompt", "---\nseconds: 4\n---\na cow\n"), 0);
	/* what a restart reads */
	char *p = path_in("tasks", "job/record.json"), *rec = NULL;
	size_t len;
	cr_assert_eq(fs_read_all(AT_FDCWD, p, 1 << 20, &rec, &len), 0);
	cr_assert(strstr(rec, "\"seconds\": \"4\""), "%s", rec);
	free(rec);
	free(p);
	p = path_in("tasks", "job/prompt");
	cr_assert_eq(fs_read_all(AT_FDCWD, p, 1 << 20, &rec, &len), 0);
	cr_assert_str_eq(rec, "a cow");
	free(rec);
	free(p);
}

Test(dropbox, editor_save_over_a_refused_prompt_submits)
{
	cr_assert_eq(put("job.prompt", "---\nseconds: 9\n---\ncow\n"), -EINVAL);
	assert_refused("job", "seconds");
	cr_assert_eq(put("job.prompt.tmp", "---\nseconds: 4\n---\ncow\n"), 0);
	cr_assert_eq(dropbox_rename(env.db, "job.prompt.tmp", "job.prompt", 0), 0);
	struct task *t = task_named("job");
	cr_assert_not_null(t);
	cr_assert_str_eq(t->seconds, "4");
	task_unref(t);
	cr_assert_eq(count_dir("new"), 0, "new/ should be empty once the task is made");
}

Test(dropbox, reading_a_refused_prompt_does_not_resubmit_it)
{
	uint64_t ino;
	struct stat st, st2, attr;
	struct dropbox_file *f;
	char buf[64];
	char *errpath = path_in("new", "job.error");

	cr_assert_eq(put("job.prompt", ""), -EINVAL);
	cr_assert_eq(stat(errpath, &st), 0);
	test_sleep_ms(20);
	cr_assert_eq(dropbox_lookup(env.db, "job.prompt", &ino, &attr), 0);
	cr_assert_eq(dropbox_open(env.db, ino, O_RDONLY, &f), 0);
	cr_assert_eq(dropbox_read(f, buf, sizeof(buf), 0), 0);
	cr_assert_eq(dropbox_flush(env.db, f), 0, "closing a prompt that was only read");
	dropbox_release(env.db, f);
	dropbox_forget(env.db, ino, 1);
	cr_assert_eq(stat(errpath, &st2), 0);
	cr_assert_eq(st2.st_ino, st.st_ino, "the error file was rewritten by a read");
	free(errpath);
}

/* The task directory exists on disk though the table lacks it (its record
 * could not be read at start): the name is still taken. */
Test(dropbox, a_task_dir_on_disk_takes_the_name)
{
	char *p = path_in("tasks", "ghost"), *rec;

	cr_assert_eq(mkdir(p, 0700), 0);
	free(p);
	p = path_in("tasks", "ghost/record.json");
	FILE *f = fopen(p, "w");
	fputs("{broken", f);
	fclose(f);
	cr_assert_eq(put("ghost.prompt", "a cow\n"), -EEXIST);
	cr_assert(new_exists("ghost.prompt"), "the prompt must be kept");
	char *text = new_read("ghost.error");
	cr_assert_not_null(text);
	cr_assert(strstr(text, "already exists"), "%s", text);
	free(text);
	size_t len;
	cr_assert_eq(fs_read_all(AT_FDCWD, p, 100, &rec, &len), 0);
	cr_assert_str_eq(rec, "{broken", "the broken task was touched");
	free(rec);
	free(p);
	cr_assert_eq(task_table_count(env.table), 0);
}

static char *long_name(size_t n, const char *suffix)
{
	char *s = malloc(n + strlen(suffix) + 1);

	memset(s, 'n', n);
	strcpy(s + n, suffix);
	return s;
}

Test(dropbox, longest_task_names_work)
{
	/* NAME.prompt fills NAME_MAX */
	char *name = long_name(255 - 7, ".prompt");
	char *task = long_name(255 - 7, "");

	cr_assert_eq(put(name, "a cow\n"), 0);
	struct task *t = task_named(task);
	cr_assert_not_null(t);
	task_unref(t);
	free(name);
	free(task);
}

/* A refused prompt with a long name still gets its error file: NAME.error
 * is shorter than NAME.prompt, so it always fits.
 */
Test(dropbox, refused_long_name_still_gets_its_error_file)
{
	char *name = long_name(255 - 7, ".prompt");
	char *task = long_name(255 - 7, "");

	cr_assert_eq(put(name, ""), -EINVAL);
	assert_refused(task, "empty");
	free(name);
	free(task);
}

/* ---- inode numbers ---- */

Test(inode, task_numbers_round_trip)
{
	for (uint32_t tid = 1; tid < 100000; tid += 997) {
		for (int f = TF_DIR; f < TF_COUNT; f++) {
			uint64_t ino = ino_of_task_file(tid, f);
			cr_assert(ino_is_task(ino));
			cr_assert_not(ino_is_dropbox(ino));
			cr_assert_neq(ino, INO_ROOT);
			cr_assert_neq(ino, INO_NEW);
			cr_assert_eq(ino_task_tid(ino), tid);
			cr_assert_eq(ino_task_file(ino), f);
		}
	}
	cr_assert_not(ino_is_task(INO_ROOT));
	cr_assert_not(ino_is_task(INO_NEW));
	cr_assert(ino_is_dropbox(INO_DROPBOX_BASE));
	cr_assert_not(ino_is_task(INO_DROPBOX_BASE));
	cr_assert(ino_is_task(ino_of_task_file(UINT32_MAX, TF_COUNT - 1)));
}

static int count_listed(void *ctx, const char *name, const struct stat *st, off_t next)
{
	if (!strcmp(name, (const char *)((void **)ctx)[0]))
		(*(int *)((void **)ctx)[1])++;
	return 0;
}

/* Emacs saves a fixed prompt, then chmods it by path: the name that just
 * became a task still resolves, for a moment, for what comes by path
 * after a save; it is never listed, and writing it again is EEXIST. */
Test(dropbox, a_consumed_prompt_name_resolves_for_a_moment)
{
	uint64_t ino, ino2;
	struct stat st, st2, attr = {0}, out;
	struct dropbox_file *f;
	int listed = 0;
	void *ctx[2] = { "job.prompt", &listed };

	cr_assert_eq(dropbox_create(env.db, "job.prompt", 0600, O_WRONLY | O_CREAT | O_TRUNC,
				    &ino, &st, &f), 0);
	cr_assert_eq(dropbox_write(f, "a cow\n", 6, 0), 6);
	cr_assert_eq(dropbox_flush(env.db, f), 0);
	dropbox_release(env.db, f);
	dropbox_forget(env.db, ino, 1);
	cr_assert_not(new_exists("job.prompt"));

	cr_assert_eq(dropbox_lookup(env.db, "job.prompt", &ino2, &st2), 0);
	cr_assert_eq(ino2, ino, "the kernel's inode keeps its number");
	cr_assert_eq(st2.st_size, 6);
	attr.st_mode = 0644;
	cr_assert_eq(dropbox_setattr(env.db, ino2, NULL, &attr, FUSE_SET_ATTR_MODE, &out), 0);
	cr_assert_eq(out.st_mode & 07777, 0644);
	cr_assert_eq(dropbox_setattr(env.db, ino2, NULL, &attr,
				     FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW, &out), 0);
	cr_assert_eq(dropbox_getattr(env.db, ino2, &st2), 0);
	cr_assert_eq(st2.st_mode & 07777, 0644);
	attr.st_size = 0;
	cr_assert_eq(dropbox_setattr(env.db, ino2, NULL, &attr, FUSE_SET_ATTR_SIZE, &out),
		     -EEXIST);
	cr_assert_eq(dropbox_open(env.db, ino2, O_WRONLY, &f), -EEXIST);
	cr_assert_eq(dropbox_open(env.db, ino2, O_RDONLY, &f), -EEXIST);
	cr_assert_eq(dropbox_readdir(env.db, 0, count_listed, ctx), 0);
	cr_assert_eq(listed, 0, "a consumed prompt was listed");
	cr_assert_not(new_exists("job.prompt"), "chmod of the name brought a file back");
	cr_assert_eq(task_table_count(env.table), 1);
	dropbox_forget(env.db, ino2, 1);

	/* Not for long. */
	test_sleep_ms(3200);
	cr_assert_eq(dropbox_lookup(env.db, "job.prompt", &ino2, &st2), -ENOENT);
	cr_assert_eq(dropbox_getattr(env.db, ino, &st2), -ENOENT);
}

/* Only while its task exists: after rmdir the name is free again. */
Test(dropbox, a_consumed_name_goes_with_its_task)
{
	uint64_t ino;
	struct stat st;
	struct task *t;

	cr_assert_eq(put("job.prompt", "a cow\n"), 0);
	cr_assert_eq(dropbox_lookup(env.db, "job.prompt", &ino, &st), 0);
	dropbox_forget(env.db, ino, 1);
	t = task_table_remove(env.table, "job");
	cr_assert_not_null(t);
	engine_forget(env.e, t);
	task_unref(t);
	cr_assert_eq(dropbox_lookup(env.db, "job.prompt", &ino, &st), -ENOENT);
	/* rm of a consumed name is not an error either. */
	cr_assert_eq(put("two.prompt", "a horse\n"), 0);
	cr_assert_eq(dropbox_unlink(env.db, "two.prompt"), 0);
	cr_assert_eq(dropbox_lookup(env.db, "two.prompt", &ino, &st), -ENOENT);
}

/* Editors lock files with symbolic links (.#NAME.prompt); links are
 * scratch and never followed into a prompt or an image. */
Test(dropbox, links_are_scratch_and_never_followed)
{
	uint64_t ino;
	struct stat st;
	char buf[256], *outside = path_in("", "secret.txt"), *err;
	ssize_t n;

	FILE *fp = fopen(outside, "w");
	cr_assert_not_null(fp);
	fputs("a secret that is not a prompt\n", fp);
	fclose(fp);

	cr_assert_eq(dropbox_symlink_at(env.db, INO_NEW, ".#job.prompt", "me@host.123:456",
					&ino, &st), 0);
	cr_assert(S_ISLNK(st.st_mode));
	n = dropbox_readlink(env.db, ino, buf, sizeof(buf));
	cr_assert_eq(n, 15);
	cr_assert_eq(memcmp(buf, "me@host.123:456", 15), 0);
	dropbox_forget(env.db, ino, 1);
	cr_assert_eq(dropbox_unlink(env.db, ".#job.prompt"), 0);

	/* Not under a name that submits. */
	cr_assert_eq(dropbox_symlink_at(env.db, INO_NEW, "job.prompt", outside, &ino, &st),
		     -EPERM);
	cr_assert_eq(dropbox_symlink_at(env.db, INO_NEW, "job.id", outside, &ino, &st), -EPERM);
	cr_assert_not(new_exists("job.prompt"));

	/* A scratch link renamed onto a prompt name submits nothing. */
	cr_assert_eq(dropbox_symlink_at(env.db, INO_NEW, "link", outside, &ino, &st), 0);
	dropbox_forget(env.db, ino, 1);
	cr_assert_eq(dropbox_rename(env.db, "link", "job.prompt", 0), -EPERM);
	cr_assert(new_exists("link"));
	cr_assert_eq(dropbox_accept(env.db, "link"), -EINVAL);

	/* Nor is one read as an image. */
	cr_assert_eq(dropbox_symlink_at(env.db, INO_NEW, "cow.png", outside, &ino, &st), 0);
	dropbox_forget(env.db, ino, 1);
	cr_assert_eq(put("cow.prompt", "---\nimage: cow.png\n---\na cow\n"), -EINVAL);
	err = new_read("cow.error");
	cr_assert_not_null(err);
	cr_assert_not_null(strstr(err, "symbolic link"), "%s", err);
	free(err);
	cr_assert_eq(task_table_count(env.table), 0);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), 0);
	free(outside);
}
