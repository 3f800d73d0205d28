#include "task_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "mp4_check.h"
#include "task_record.h"

#define RECORD "record.json"
#define RECORD_MAX (1 << 20)
#define PROMPT_FILE_MAX (4 << 20)
#define EVENTS_MAX (16 << 20)

struct task_store {
	char *path;
	int dirfd;
	int tasks_fd;
	int new_fd;
};

static int open_dir(int at, const char *name, char *err, size_t errlen)
{
	int fd;

	if (mkdirat(at, name, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", name, strerror(errno));
		return -1;
	}
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		snprintf(err, errlen, "cannot open %s: %s", name, strerror(errno));
	return fd;
}

int task_store_open(const char *state_dir, struct task_store **out,
		    char *err, size_t errlen)
{
	struct task_store *s = calloc(1, sizeof(*s));
	int rc;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->dirfd = s->tasks_fd = s->new_fd = -1;
	s->path = strdup(state_dir);
	/* 0700: prompts and videos are the user's own business. */
	rc = fs_mkdir_p(state_dir, 0700);
	if (rc < 0) {
		snprintf(err, errlen, "cannot create state dir %s: %s", state_dir,
			 strerror(-rc));
		goto fail;
	}
	s->dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open state dir %s: %s", state_dir,
			 strerror(errno));
		goto fail;
	}
	s->tasks_fd = open_dir(s->dirfd, "tasks", err, errlen);
	s->new_fd = open_dir(s->dirfd, "new", err, errlen);
	if (s->tasks_fd < 0 || s->new_fd < 0) {
		rc = -EIO;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	task_store_close(s);
	return rc ? rc : -EIO;
}

void task_store_close(struct task_store *s)
{
	if (!s)
		return;
	if (s->dirfd >= 0)
		close(s->dirfd);
	if (s->tasks_fd >= 0)
		close(s->tasks_fd);
	if (s->new_fd >= 0)
		close(s->new_fd);
	free(s->path);
	free(s);
}

const char *task_store_path(const struct task_store *s)
{
	return s->path;
}

int task_store_new_dirfd(const struct task_store *s)
{
	return s->new_fd;
}

static const char *submit_name(enum submit_phase p)
{
	return p == SUBMIT_SENDING ? "sending" : p == SUBMIT_DONE ? "done" : "none";
}

/* The record as JSON text; t->mu held. */
static char *record_dump(const struct task *t)
{
	char hash[24];
	json_t *o = json_object();
	char *text;

	snprintf(hash, sizeof(hash), "%016" PRIx64, t->source_hash);
	json_object_set_new(o, "version", json_integer(1));
	json_object_set_new(o, "model", json_string(t->model ? t->model : ""));
	json_object_set_new(o, "seconds", json_string(t->seconds ? t->seconds : ""));
	json_object_set_new(o, "size", json_string(t->size ? t->size : ""));
	json_object_set_new(o, "watermark", json_boolean(t->watermark));
	if (t->image_url)
		json_object_set_new(o, "image_url", json_string(t->image_url));
	if (t->image_file)
		json_object_set_new(o, "image_file", json_string(t->image_file));
	if (t->resolution)
		json_object_set_new(o, "resolution", json_string(t->resolution));
	if (t->negative_prompt)
		json_object_set_new(o, "negative_prompt", json_string(t->negative_prompt));
	json_object_set_new(o, "source_hash", json_string(hash));
	json_object_set_new(o, "created", json_integer(t->created));
	json_object_set_new(o, "changed", json_integer(t->changed));
	json_object_set_new(o, "state", json_string(task_state_name(t->state)));
	json_object_set_new(o, "submit", json_string(submit_name(t->submit)));
	json_object_set_new(o, "api_completed", json_boolean(t->api_completed));
	if (t->cancel_requested)
		json_object_set_new(o, "cancel_requested", json_true());
	if (t->video_link)
		json_object_set_new(o, "video_link", json_string(t->video_link));
	json_object_set_new(o, "progress", json_integer(t->progress));
	if (t->progress_seen)
		json_object_set_new(o, "progress_seen", json_true());
	if (t->progress_estimated)
		json_object_set_new(o, "progress_estimated", json_true());
	if (t->accepted_at)
		json_object_set_new(o, "accepted_at", json_integer(t->accepted_at));
	if (t->id)
		json_object_set_new(o, "id", json_string(t->id));
	if (t->reason)
		json_object_set_new(o, "reason", json_string(t->reason));
	json_object_set_new(o, "video_size", json_integer(t->video_size));
	json_object_set_new(o, "video_synced", json_integer(t->video_synced));
	json_object_set_new(o, "ranges_ok", json_boolean(t->ranges_ok));
	if (t->owned) {
		json_object_set_new(o, "owner_uid", json_integer(t->owner_uid));
		json_object_set_new(o, "owner_gid", json_integer(t->owner_gid));
	}
	if (t->trashed_from[0]) {
		json_object_set_new(o, "trashed_from", json_string(t->trashed_from));
		json_object_set_new(o, "trashed_at", json_integer(t->trashed_at));
	}
	if (t->video_webm)
		json_object_set_new(o, "video_type", json_string("webm"));
	text = json_dumps(o, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(o);
	return text;
}

static int task_dirfd(struct task_store *s, const char *name)
{
	return openat(s->tasks_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Who a directory is: its inode number, which file systems reuse at once,
 * mixed with its birth time where the file system records one. */
static uint64_t dir_identity(int fd)
{
	struct statx sx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_BTIME, &sx) < 0)
		return 0;
	uint64_t id = sx.stx_ino;
	if (sx.stx_mask & STATX_BTIME)
		id ^= ((uint64_t)sx.stx_btime.tv_sec * 1000000007ULL +
		       sx.stx_btime.tv_nsec) << 1;
	return id ? id : 1;
}

/* The directory of this very task (t->mu not held), or -errno. Writes go
 * through the returned fd, so they stay in the task's own directory even
 * if it is renamed away (rmdir) meanwhile. */
static int own_dirfd(struct task_store *s, struct task *t)
{
	char *name;
	uint64_t ino;
	bool deleted;
	int fd;

	pthread_mutex_lock(&t->mu);
	name = strdup(t->name);
	ino = t->dir_ino;
	deleted = t->deleted;
	pthread_mutex_unlock(&t->mu);
	if (!name)
		return -ENOMEM;
	if (deleted) {
		free(name);
		return -ENOENT;
	}
	fd = task_dirfd(s, name);
	free(name);
	if (fd < 0)
		return -errno;
	if (ino && dir_identity(fd) != ino) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

static int write_file(int dirfd, const char *name, const void *data, size_t len)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int rc;

	if (fd < 0)
		return -errno;
	rc = fs_pwrite_all(fd, data, len, 0);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int task_store_create(struct task_store *s, struct task *t,
		      const void *image, size_t image_len, char *err, size_t errlen)
{
	char tmp[64];
	char *record = NULL, *prompt = NULL;
	size_t prompt_len;
	int fd = -1, rc;
	static atomic_uint seq;

	snprintf(tmp, sizeof(tmp), ".new-%d-%u", (int)getpid(), atomic_fetch_add(&seq, 1));
	if (mkdirat(s->tasks_fd, tmp, 0700) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot store the task: %s", strerror(-rc));
		return rc;
	}
	fd = task_dirfd(s, tmp);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	pthread_mutex_lock(&t->mu);
	t->dir_ino = dir_identity(fd);
	pthread_mutex_unlock(&t->mu);
	pthread_mutex_lock(&t->mu);
	record = record_dump(t);
	prompt_len = strlen(t->prompt);
	prompt = strdup(t->prompt);
	pthread_mutex_unlock(&t->mu);
	if (!record || !prompt) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = write_file(fd, "prompt", prompt, prompt_len);
	if (rc == 0 && image && t->image_file)
		rc = write_file(fd, t->image_file, image, image_len);
	if (rc == 0 && t->events_len)
		rc = write_file(fd, "events", t->events, t->events_len);
	if (rc == 0)
		rc = write_file(fd, RECORD, record, strlen(record));
	if (rc == 0)
		rc = fs_fsync_dir(fd);
	if (rc < 0)
		goto fail;
	/* The task exists from this rename on; no-replace keeps two writers
	 * of one name from overwriting each other (emulated where the file
	 * system refuses rename flags: see fs_rename_noreplace). */
	rc = fs_rename_noreplace(s->tasks_fd, tmp, s->tasks_fd, t->name);
	if (rc < 0)
		goto fail;
	rc = fs_fsync_dir(s->tasks_fd);
	close(fd);
	free(record);
	free(prompt);
	if (rc < 0)
		snprintf(err, errlen, "cannot store the task: %s", strerror(-rc));
	return rc;
fail:
	if (rc == -EEXIST || rc == -ENOTEMPTY) {
		rc = -EEXIST;
		snprintf(err, errlen, "task '%s' already exists", t->name);
	} else {
		snprintf(err, errlen, "cannot store the task: %s", strerror(-rc));
	}
	if (fd >= 0)
		close(fd);
	fs_remove_tree(s->tasks_fd, tmp);
	free(record);
	free(prompt);
	return rc;
}

int task_store_save(struct task_store *s, struct task *t)
{
	char err[256];
	char *record, *name;
	int fd, rc;

	pthread_mutex_lock(&t->save_mu);
	pthread_mutex_lock(&t->mu);
	if (t->deleted || t->damaged) {
		pthread_mutex_unlock(&t->mu);
		pthread_mutex_unlock(&t->save_mu);
		return 0;
	}
	record = record_dump(t);
	name = strdup(t->name);
	pthread_mutex_unlock(&t->mu);
	rc = -ENOMEM;
	if (record && name) {
		fd = own_dirfd(s, t);
		if (fd < 0) {
			rc = fd;
			snprintf(err, sizeof(err), "%s", strerror(-fd));
		} else {
			rc = fs_write_atomic(fd, RECORD, record, strlen(record), err, sizeof(err));
			close(fd);
		}
		/* ESTALE/ENOENT: the task was removed meanwhile; nothing to keep. */
		if (rc < 0 && rc != -ESTALE && rc != -ENOENT)
			log_error("task %s: cannot save its record: %s", name, err);
	}
	pthread_mutex_unlock(&t->save_mu);
	free(record);
	free(name);
	return rc;
}

void task_store_save_answer(struct task_store *s, struct task *t, const char *json,
			    size_t len)
{
	char err[256];
	char *name;
	int fd;

	pthread_mutex_lock(&t->save_mu);
	pthread_mutex_lock(&t->mu);
	name = t->deleted ? NULL : strdup(t->name);
	pthread_mutex_unlock(&t->mu);
	if (name && json) {
		fd = own_dirfd(s, t);
		if (fd >= 0) {
			if (fs_write_replace(fd, "task.json", json, len, err, sizeof(err)) < 0)
				log_warn("task %s: %s", name, err);
			close(fd);
		}
	}
	pthread_mutex_unlock(&t->save_mu);
	free(name);
}

void task_store_append_event(struct task_store *s, struct task *t, const char *line)
{
	char *name;
	int dfd, fd;

	pthread_mutex_lock(&t->save_mu);
	pthread_mutex_lock(&t->mu);
	name = t->deleted ? NULL : strdup(t->name);
	pthread_mutex_unlock(&t->mu);
	dfd = name ? own_dirfd(s, t) : -1;
	if (dfd >= 0) {
		fd = openat(dfd, "events", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0) {
			(void)!write(fd, line, strlen(line));
			close(fd);
		}
		close(dfd);
	}
	pthread_mutex_unlock(&t->save_mu);
	free(name);
}

int task_store_remove(struct task_store *s, const char *name)
{
	char trash[64];
	static atomic_uint seq;
	int rc;

	/* Rename first so a crash half-way through deleting never leaves a
	 * half task that would load as a real one. */
	snprintf(trash, sizeof(trash), ".trash-%d-%u", (int)getpid(),
		 atomic_fetch_add(&seq, 1));
	if (renameat(s->tasks_fd, name, s->tasks_fd, trash) < 0)
		return -errno;
	fs_fsync_dir(s->tasks_fd);
	rc = fs_remove_tree(s->tasks_fd, trash);
	if (rc < 0)
		log_warn("cannot delete the files of task %s: %s", name, strerror(-rc));
	return 0;
}

int task_store_open_video(struct task_store *s, struct task *t, bool part, int flags)
{
	int dfd, fd;

	pthread_mutex_lock(&t->mu);
	const char *final = t->video_webm ? "video.webm" : "video.mp4";
	pthread_mutex_unlock(&t->mu);
	dfd = own_dirfd(s, t);
	if (dfd < 0)
		return dfd;
	fd = openat(dfd, part ? "video.mp4.part" : final, flags | O_CLOEXEC, 0600);
	if (fd < 0)
		fd = -errno;
	close(dfd);
	return fd;
}

int task_store_open_file(struct task_store *s, struct task *t, const char *file)
{
	int dfd, fd;

	dfd = own_dirfd(s, t);
	if (dfd < 0)
		return dfd;
	fd = openat(dfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	close(dfd);
	return fd;
}

int task_store_finish_video(struct task_store *s, struct task *t, int part_fd, bool webm)
{
	int dfd, rc = 0;

	if (fsync(part_fd) < 0)
		return -errno;
	dfd = own_dirfd(s, t);
	if (dfd < 0)
		return dfd;
	if (renameat(dfd, "video.mp4.part", dfd, webm ? "video.webm" : "video.mp4") < 0) {
		rc = -errno;
	} else {
		/* A video fetched again may have changed container. */
		unlinkat(dfd, webm ? "video.mp4" : "video.webm", 0);
		rc = fs_fsync_dir(dfd);
	}
	close(dfd);
	return rc;
}

int task_store_save_file(struct task_store *s, struct task *t, const char *file,
			 const void *data, size_t len)
{
	char err[256];
	int dfd = own_dirfd(s, t), rc;

	if (dfd < 0)
		return dfd;
	rc = fs_write_atomic(dfd, file, data, len, err, sizeof(err));
	close(dfd);
	return rc;
}

int task_store_reset_video(struct task_store *s, struct task *t)
{
	int dfd = own_dirfd(s, t);

	if (dfd < 0)
		return dfd;
	unlinkat(dfd, "video.mp4.part", 0);
	unlinkat(dfd, "video.mp4", 0);
	unlinkat(dfd, "video.webm", 0);
	unlinkat(dfd, "thumbnail.webp", 0);
	fs_fsync_dir(dfd);
	close(dfd);
	return 0;
}

int task_store_rename(struct task_store *s, const char *from, const char *to)
{
	int rc = fs_rename_noreplace(s->tasks_fd, from, s->tasks_fd, to);

	return rc < 0 ? rc : fs_fsync_dir(s->tasks_fd);
}

/* Bring the in-memory video fields in line with what is on disk. */
static void load_video(struct task *t, int dfd)
{
	struct stat st;

	if (t->image_file && fstatat(dfd, t->image_file, &st, AT_SYMLINK_NOFOLLOW) == 0)
		t->image_size = st.st_size;
	if (fstatat(dfd, "thumbnail.webp", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
		t->thumb_size = st.st_size;

	const char *final = "video.mp4";
	if (fstatat(dfd, final, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    fstatat(dfd, "video.webm", &st, AT_SYMLINK_NOFOLLOW) == 0)
		final = "video.webm";
	if (fstatat(dfd, final, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
		t->video_webm = !strcmp(final, "video.webm");
		unsigned char head[VIDEO_KIND_SNIFF];
		int fd = openat(dfd, final, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		ssize_t n = fd >= 0 ? pread(fd, head, sizeof(head), 0) : -1;
		if (fd >= 0)
			close(fd);
		/* A body that was no video, published by an older veofs
		 * (JSON saved as video.mp4): fetched again, shown as it is
		 * until the real one is whole. */
		if (n >= 0 && video_kind_of(head, (size_t)n) == VIDEO_KIND_NONE) {
			log_warn("task %s: its %s is not a video; fetching it again",
				 t->name, final);
			t->refetch = true;
		}
		t->video_done = true;
		t->video_size = st.st_size;
		t->video_shown_size = st.st_size;
		t->video_have = st.st_size;
		t->video_synced = st.st_size;
		return;
	}
	if (fstatat(dfd, "video.mp4.part", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
		/* Only bytes that were fsynced are trusted after a crash. */
		int64_t have = st.st_size < t->video_synced ? st.st_size : t->video_synced;
		t->video_have = have;
		t->video_synced = have;
	} else {
		t->video_have = 0;
		t->video_synced = 0;
	}
}

static struct task *load_one(struct task_store *s, const char *name)
{
	char *text = NULL, why[256] = "";
	size_t len;
	struct task *t;
	int dfd, rc;

	dfd = task_dirfd(s, name);
	if (dfd < 0)
		return NULL;
	t = task_new(name);
	if (!t)
		goto fail;
	rc = fs_read_all(dfd, RECORD, RECORD_MAX, &text, &len);
	if (rc < 0 || task_record_parse(text, len, t, why, sizeof(why)) < 0) {
		char reason[400];
		snprintf(reason, sizeof(reason), "damaged record: %s\n"
			 "%s/tasks/%s/record.json cannot be read; the task is never sent "
			 "again, its files are shown as they are, rmdir removes it",
			 rc < 0 ? strerror(-rc) : why, s->path, name);
		log_error("task %s: %s", name, reason);
		/* Shown, not hidden: a hidden task keeps its name taken and
		 * its paid video out of sight. Nothing of the record is
		 * trusted. */
		task_unref(t);
		t = task_new(name);
		t->damaged = true;
		t->state = TASK_FAILED;
		t->reason = strdup(reason);
	}
	free(text);
	text = NULL;
	if (fs_read_all(dfd, "prompt", PROMPT_FILE_MAX, &text, &len) == 0) {
		t->prompt = text;
		text = NULL;
	} else {
		t->prompt = strdup("");
	}
	struct stat st;
	if (fstatat(dfd, "task.json", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
		t->has_task_json = true;
		t->task_json_len = (size_t)st.st_size;
	}
	if (fs_read_all(dfd, "events", EVENTS_MAX, &text, &len) == 0) {
		t->events = text;
		t->events_len = len;
		t->events_cap = len + 1;
		text = NULL;
	}
	load_video(t, dfd);
	t->dir_ino = dir_identity(dfd);
	/* Only veofs writes here: any dot-file is a temporary a crash left. */
	fs_remove_dotfiles(dfd);
	close(dfd);
	return t;
fail:
	free(text);
	task_unref(t);
	close(dfd);
	return NULL;
}

/* An empty directory is never a task (a task always has its record): it
 * is the reservation of a no-replace rename emulated on a file system
 * without rename flags, cut short by a crash. rmdir removes only an empty
 * directory, so nothing else can go here. */
static bool drop_reservation(struct task_store *s, const char *name)
{
	if (unlinkat(s->tasks_fd, name, AT_REMOVEDIR) < 0)
		return false;
	log_info("removed %s/tasks/%s: an empty folder left by an interrupted rename",
		 s->path, name);
	return true;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int task_store_load(struct task_store *s,
		    void (*each)(void *ctx, struct task *t), void *ctx)
{
	int fd = dup(s->tasks_fd);
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int loaded = 0;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' && strncmp(de->d_name, TASK_STORE_TRASHED_PREFIX,
						      strlen(TASK_STORE_TRASHED_PREFIX))) {
			/* Leftovers of a crash: a task never completed its
			 * creation, or a removal was cut short. */
			if (strncmp(de->d_name, ".new-", 5) == 0 ||
			    strncmp(de->d_name, ".trash-", 7) == 0)
				fs_remove_tree(s->tasks_fd, de->d_name);
			continue;
		}
		if (drop_reservation(s, de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **p = realloc(names, cap * sizeof(*p));
			if (!p)
				break;
			names = p;
		}
		names[n] = strdup(de->d_name);
		if (names[n])
			n++;
	}
	closedir(d);
	/* Creation order would be nicer, but name order is stable and the
	 * record's created time is there for anyone who sorts. */
	if (n)
		qsort(names, n, sizeof(*names), compare_names);
	for (size_t i = 0; i < n; i++) {
		struct task *t = load_one(s, names[i]);
		free(names[i]);
		if (!t)
			continue;
		if (t->submit == SUBMIT_SENDING && !t->id && t->state != TASK_FAILED &&
		    t->state != TASK_COMPLETED) {
			/* The create may have reached the provider: sending it
			 * again could pay twice, so the user decides. A streamed
			 * create (the chat route) may have shown progress before
			 * it was cut: it has nothing to poll either. */
			t->state = TASK_FAILED;
			task_set_str(&t->reason, "submission outcome unknown\n"
				     "veofs stopped while the request was being sent; the "
				     "provider may have created the task: check its "
				     "dashboard before retrying");
			const char *line = task_event_append(t, "submission outcome unknown");
			task_store_append_event(s, t, line);
			task_store_save(s, t);
		}
		if (t->state == TASK_PENDING && t->submit == SUBMIT_NONE &&
		    (!t->prompt || !t->prompt[0])) {
			/* Never sent, and what was to be sent is gone: sending
			 * it would pay for a video of nothing. */
			log_error("task %s: its prompt file is missing from %s/tasks/%s; "
				  "shown as damaged, never sent", t->name, s->path, t->name);
			t->state = TASK_FAILED;
			task_set_str(&t->reason, "damaged task: its prompt file is missing from "
				     "the state dir; nothing was sent");
			const char *line = task_event_append(t, "damaged task: no prompt");
			task_store_append_event(s, t, line);
			task_store_save(s, t);
		}
		t->events_durable = t->events_len;
		each(ctx, t);
		loaded++;
	}
	free(names);
	return loaded;
}
