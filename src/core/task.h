/* One video-generation task as the tree shows it. All mutable fields are
 * guarded by mu; the task is reference counted because workers, open files
 * and the table hold it independently and rmdir may drop it at any time.
 *
 * Locking order. These are the locks, outermost first; a thread holding
 * one may take only those below it, never one above:
 *
 *   t->save_mu           one writer of a task's state-dir files at a time
 *                        (record, events, task.json, rmdir, rename); held
 *                        across the disk write.
 *     task table lock    task_table.c's rwlock: the name and tid maps.
 *                        Taken under save_mu only by a rename.
 *       t->mu            every mutable field of struct task. Never held
 *                        across a network request or a disk write, and
 *                        never two tasks' mu at once.
 *         scheduler lock one per pool (scheduler.c): the heap and the
 *                        tasks' sched[] slots. Nothing is taken under it
 *                        but the log's own lock.
 *
 *   test clock lock      clock.c's list of waiters (tests only): taken
 *                        first, then each waiter's scheduler lock.
 *
 * The drop box's accept_mu (fuse/dropbox.c) comes before all of the
 * above: one acceptance at a time stores and publishes its task.
 *
 * Leaves, taken alone and never under t->mu: the poll book's lock
 * (engine/poll_book.c), the timings store's (core/timings.c), the state
 * lock's (core/state_lock.c), the drop box's db->mu, the shared
 * descriptors' and the tree's open-files lock (fuse/shared_fds.c,
 * tree.c), kernel_notify's queue lock, and the locks inside
 * remote_http.c and log.c.
 *
 * The task store has no lock of its own: writes of one task are ordered
 * by that task's save_mu. t->name needs no lock (see below). */
#ifndef VEOFS_TASK_H
#define VEOFS_TASK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "task_state.h"

/* Where the create request stands; persisted before anything is sent so a
 * crash while sending is never mistaken for "not sent". */
enum submit_phase {
	SUBMIT_NONE = 0,  /* never sent, or certainly not received */
	SUBMIT_SENDING,   /* a create may be on the wire */
	SUBMIT_DONE,      /* the provider answered with an id */
};

/* A named part of struct task whose fields are also reachable flat:
 * t->req.model and t->model are one field (Linux's struct_group()). Code
 * that resets or copies a part names the part; code that reads a field
 * may do either. */
#define TASK_PART(TAG, NAME, ...) \
	union { \
		struct { __VA_ARGS__ }; \
		struct TAG { __VA_ARGS__ } NAME; \
	}

/* Names a task had before a rename, kept until the task is freed. */
struct task_old_name;

struct task {
	uint32_t tid;             /* stable for this mount; part of inode numbers */
	atomic_int refs;
	pthread_mutex_t mu;
	pthread_mutex_t save_mu;  /* orders record writes: snapshot then write */
	pthread_cond_t video_cv;  /* video_have, video_done or video_failed moved */

	/* Read it freely, with or without mu, for as long as you hold a
	 * reference: a rename publishes a new string and keeps the old one
	 * until the task is freed, so a name once read never dangles. Only
	 * task_new and task_rename set it. */
	_Atomic(const char *) name;
	struct task_old_name *old_names;
	/* Identity of the task's directory in the state dir (inode and birth
	 * time): a write never lands in another task's directory that took
	 * the same name. */
	uint64_t dir_ino;

	/* What the user asked for, fixed at acceptance. */
	TASK_PART(task_request, req,
		char *prompt;
		char *model;
		char *seconds;
		char *size;
		int watermark;            /* 0/1 */
		char *image_url;          /* input_reference as a URL */
		char *image_file;         /* local copy in the task dir ("image.png") */
		int64_t image_size;
		char *resolution;         /* "720p"/"1080p" or NULL (front matter) */
		char *negative_prompt;    /* or NULL (front matter) */
		uint64_t source_hash;     /* of the prompt file's bytes, to recognise it */
		long long created;        /* epoch seconds of acceptance */
	);

	/* What the tree shows of the task's progress. */
	enum task_state state;
	int progress;             /* 0..100 */
	char *reason;             /* failure reason; its first line is the
				     status, all of it the error file */
	char *note;               /* transient trouble shown after the status */
	char *events;             /* the events file, in memory */
	size_t events_len, events_cap;
	/* How much of events is on disk: all a reader is shown, so a line
	 * seen before a crash is never a line lost by it. */
	size_t events_durable;
	/* Commits whose events lines are being written: a reader waits for
	 * them (briefly, events_cv), so a line whose change the status
	 * already shows is in events too when read after it. */
	int events_writing;
	pthread_cond_t events_cv;
	long long changed;        /* epoch seconds of the last change (mtime) */

	/* The task at the provider: reset as a whole by a retry. */
	TASK_PART(task_api, api,
		enum submit_phase submit;
		char *id;                 /* provider id once known */
		/* The provider says the video is ready. The task reads
		 * "completed" only once video.mp4 can be shown (its size
		 * known), so that a script that waits for "completed" always
		 * finds the file. */
		bool api_completed;
		/* task.json, the last object the API returned: kept on disk
		 * only (an answer can be megabytes, times every task), read
		 * from there when the file is read. */
		bool has_task_json;
		size_t task_json_len;     /* its size on disk */
		uint64_t task_json_hash;  /* of the answer it holds; 0 unknown */
		bool cancel_requested;    /* a remote DELETE is owed */
		/* When the provider took the task (epoch seconds; 0 not
		 * yet): "running 1m20s" counts from here where there is no
		 * progress to show. */
		long long accepted_at;
		/* Some answer gave a progress figure: without one (Gemini's
		 * operations) the status shows the running time and the
		 * progress file stays empty rather than show an invented 0. */
		bool progress_seen;
		/* The progress was read out of free text (the chat route's
		 * reply), not reported as a number: shown as estimated. */
		bool progress_estimated;
		/* The video's link where the status object names one (a
		 * gateway that serves no /content): fetched instead. */
		char *video_link;
		/* The note is news that lasts until the task moves (a
		 * refused cancel), not trouble the next answer clears. */
		bool note_until_moved;
		char *status_word_logged; /* an unknown status word, logged once */
	);

	/* The video (and thumbnail) in the state dir: reset by a retry. */
	TASK_PART(task_video, video,
		int64_t video_size;       /* -1 until the server told us */
		/* The size video.mp4 was shown with; kept while a download
		 * starts over, so a reader never sees the file vanish. */
		int64_t video_shown_size;
		int64_t video_have;       /* contiguous bytes from 0 on disk */
		int64_t video_synced;     /* bytes known to be fsynced */
		bool video_done;          /* video.mp4 complete and renamed into place */
		bool ranges_ok;           /* the server honoured Range for this video */
		int range_support;        /* -1 not known yet, 0 no, 1 yes */
		/* When readers began waiting for bytes that did not come;
		 * shared by every read of the task so one user read that the
		 * kernel splits or retries waits api.timeout in all, not once
		 * per piece. */
		int64_t stall_since_ms;
		/* A download is running, and when its last byte came (monotonic
		 * ms): a status that reads "completed" says so when the bytes
		 * stopped coming (task_status_line). */
		bool downloading;
		int64_t last_data_ms;
		int64_t thumb_size;       /* thumbnail.webp in the task dir; -1 none */
		bool thumb_tried;         /* asked the provider once this mount */
		/* The video is WebM/Matroska: shown and kept as video.webm. */
		bool video_webm;
		/* Download the finished video once more (ctl refresh, or a
		 * published file that is no video): the one shown stays
		 * until the new one is whole. */
		bool refetch;
	);

	/* Attempts behind the current backoffs: reset by a retry. */
	TASK_PART(task_tries, tries,
		int poll_delay_s;         /* attempts behind the poll backoff */
		int not_found_count;
		int download_failures;
		int cancel_failures;      /* server errors answering a cancel */
		int64_t video_errors_since_ms; /* server errors for a completed
						  task's video began (0: none) */
	);

	/* The last change could not be written to record.json: the engine
	 * writes it again before anything else, then tells the tree what it
	 * held back and runs the hook it owes (engine_commit). */
	bool record_unsaved;
	unsigned owed_files;      /* (1 << enum task_file) not yet told */
	bool owed_hook;

	/* Scheduling: one slot per scheduler (control, download), each owned
	 * by scheduler.c under that scheduler's lock. */
	struct sched_slot {
		int64_t due_ms;
		int heap_index;
		bool running;
		int64_t rerun_ms; /* request that came in while running */
	} sched[2];

	bool deleted;             /* forgotten by rmdir: workers drop it */

	/* Who wrote the prompt, for shared mounts (record.json "owner_uid",
	 * "owner_gid"); owned false: the mount's user (older records). Fixed
	 * at acceptance. */
	bool owned;
	uint32_t owner_uid, owner_gid;
	/* In the mount's trash (fuse/trash.c): the name it had at the root
	 * and when it was trashed (record.json "trashed_from", "trashed_at");
	 * empty when not in the trash. */
	char trashed_from[256];
	long long trashed_at;
	/* record.json could not be read: shown failed ("damaged record"),
	 * its files as they are, never sent, its record never rewritten
	 * (it may hold what a hand can still recover); rmdir removes it. */
	bool damaged;
};

struct task *task_new(const char *name);
struct task *task_ref(struct task *t);
void task_unref(struct task *t);

/* Give the task a new name (the caller holds the table lock, which
 * orders renames). The old string stays valid until the task is freed. */
void task_rename(struct task *t, const char *name);

/* Put a part back as a new task has it, freeing its strings; t->mu held
 * (or the task not yet shared). */
void task_api_reset(struct task *t);
void task_video_reset(struct task *t);
void task_tries_reset(struct task *t);

/* Helpers that expect t->mu held. */
void task_set_str(char **field, const char *value);
/* Append "TIME STATE PROGRESS[ note]\n" to the in-memory events; returns
 * the line (static per task, valid until the next call) for persisting. */
const char *task_event_append(struct task *t, const char *extra);
/* The status file's text, one line with '\n'; caller frees. */
char *task_status_line(const struct task *t);
/* The provider has the task but never gave a figure for its progress:
 * status shows the running time, the progress file is empty. */
bool task_progress_unknown(const struct task *t);
/* The file names shown in a task dir. */
enum task_file {
	TF_DIR = 0,
	TF_PROMPT,
	TF_STATUS,
	TF_PROGRESS,
	TF_ID,
	TF_EVENTS,
	TF_TASK_JSON,
	TF_ERROR,
	TF_VIDEO,
	TF_IMAGE,
	TF_CTL,
	TF_THUMBNAIL,
	TF_COUNT,
};
const char *task_file_name(const struct task *t, enum task_file f);
/* Whether the file exists now (state dependent); t->mu held. */
bool task_file_visible(const struct task *t, enum task_file f);
/* Look a file name up; TF_COUNT when none. */
enum task_file task_file_lookup(const struct task *t, const char *name);
/* Snapshot of a text file's content (prompt, status, progress, id, events,
 * task.json, error); caller frees. t->mu held. */
char *task_file_text(const struct task *t, enum task_file f, size_t *len);
/* Size of a file as stat shows it; t->mu held. */
int64_t task_file_size(const struct task *t, enum task_file f);

#endif
