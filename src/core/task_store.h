/* Tasks on disk, in the state dir:
 *
 *   STATE_DIR/lock              one mount per state dir (state_lock.c)
 *   STATE_DIR/new/              the drop box's files (dropbox.c)
 *   STATE_DIR/tasks/NAME/       one directory per task:
 *       record.json             our record: options, state, id, progress
 *       prompt                  the prompt text as submitted
 *       events                  the events file (append-only)
 *       task.json               the last object the API returned
 *       image.EXT               the reference image, when one was sent
 *       video.mp4.part          a download in progress
 *       video.mp4               the finished video
 *
 * A task directory appears by an atomic rename of a complete, fsynced
 * directory, so a crash leaves either no task or a whole one; later record
 * updates are atomic replacements. Dot-names are temporaries. */
#ifndef VEOFS_TASK_STORE_H
#define VEOFS_TASK_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "task.h"

struct task_store;

/* A task in the mount's trash is kept as tasks/.Trash-UID@NAME (fuse/trash.c):
 * a dot-name no prompt can take, loaded like any task. */
#define TASK_STORE_TRASHED_PREFIX ".Trash-"

int task_store_open(const char *state_dir, struct task_store **out,
		    char *err, size_t errlen);
void task_store_close(struct task_store *s);
const char *task_store_path(const struct task_store *s);
int task_store_new_dirfd(const struct task_store *s);

/* Calls each() for every stored task (a new reference the callee keeps or
 * drops). A task whose create was on the wire when veofs stopped comes back
 * failed with "submission outcome unknown". Returns the number loaded. */
int task_store_load(struct task_store *s,
		    void (*each)(void *ctx, struct task *t), void *ctx);

/* Make t durable as a new task directory. -EEXIST when the name is taken.
 * image may be NULL. 0 or -errno with a reason in err. */
int task_store_create(struct task_store *s, struct task *t,
		      const void *image, size_t image_len, char *err, size_t errlen);
/* Rewrite record.json from the task's current fields (durable). Takes t->mu
 * itself. 0 or -errno; failures are logged. */
int task_store_save(struct task_store *s, struct task *t);
/* Replace task.json with an answer of the provider's (bounded by the
 * caller). */
void task_store_save_answer(struct task_store *s, struct task *t, const char *json,
			    size_t len);
/* Append one line to the events file. */
void task_store_append_event(struct task_store *s, struct task *t, const char *line);
/* Forget a task: its directory (and video) go. The caller holds the
 * task's save_mu and has marked it deleted, so no write of the old task
 * can land in a new task of the same name. */
int task_store_remove(struct task_store *s, const char *name);

/* The video: open the part file (creating it) or the finished file
 * (video.mp4, or video.webm for a WebM task). */
int task_store_open_video(struct task_store *s, struct task *t, bool part, int flags);
/* fsync the part file fd, rename it over the finished file (video.webm
 * when webm, else video.mp4; the other name goes), fsync the directory. */
int task_store_finish_video(struct task_store *s, struct task *t, int part_fd, bool webm);
/* Durably write a file of the task's directory (the thumbnail). */
int task_store_save_file(struct task_store *s, struct task *t, const char *file,
			 const void *data, size_t len);
/* Delete the task's video, part file and thumbnail (retry starts over). */
int task_store_reset_video(struct task_store *s, struct task *t);
/* Rename a task directory; -EEXIST when the new name is taken. */
int task_store_rename(struct task_store *s, const char *from, const char *to);
/* Open a file of the task's directory read-only (the image copy). */
int task_store_open_file(struct task_store *s, struct task *t, const char *file);

#endif
