/* veofs: mount a video-generation API as a directory. */
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "dropbox.h"
#include "engine.h"
#include "fs.h"
#include "kernel_notify.h"
#include "log.h"
#include "owners.h"
#include "remote.h"
#include "remote_protocols.h"
#include "process_guard.h"
#include "service_notify.h"
#include "shared_fds.h"
#include "sim.h"
#include "state_lock.h"
#include "store_probe.h"
#include "task_store.h"
#include "task_table.h"
#include "trash.h"
#include "tree.h"

/* Start in the background the way a mount command should: the parent
 * waits until the child has mounted (or failed, having said why on the
 * terminal) and exits with the outcome. Returns the pipe to report on. */
static int daemon_fork(void)
{
	int p[2];
	pid_t pid;
	char c = '1';

	if (pipe(p) < 0) {
		perror("veofs: pipe");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		perror("veofs: fork");
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			c = '1';
		_exit(c == '0' ? 0 : 1);
	}
	close(p[0]);
	setsid();
	return p[1];
}

static void daemon_ready(int fd)
{
	int null = open("/dev/null", O_RDWR);

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	(void)!write(fd, "0", 1);
	close(fd);
}

static void insert_loaded(void *ctx, struct task *t)
{
	if (task_table_insert(ctx, t) < 0)
		log_error("task %s: loaded twice; ignored", t->name);
	task_unref(t);
}

struct exit_watch {
	struct fuse_session *se;
	struct engine *engine;
	atomic_bool done;
};

/* Once the session is told to exit (a signal, an unmount), reads waiting
 * for video bytes must give up at once: libfuse joins every worker before
 * the loop returns, and a service manager will not wait long. */
static void *watch_exit(void *arg)
{
	struct exit_watch *w = arg;

	while (!atomic_load(&w->done) && !fuse_session_exited(w->se))
		usleep(100 * 1000);
	atomic_store(&w->engine->stopping, true);
	if (w->engine->remote->ops->stop)
		w->engine->remote->ops->stop(w->engine->remote);
	return NULL;
}

int main(int argc, char **argv)
{
	struct cli cli;
	struct config cfg = {0};
	struct config_sources sources = {0};
	char err[1024], mountpoint[PATH_MAX], *base_url = NULL, *fsopts = NULL;
	struct sim *sim = NULL;
	struct remote *remote = NULL;
	struct task_store *store = NULL;
	struct state_lock *lock = NULL;
	struct task_table *table = NULL;
	struct kernel_notify *notify = NULL;
	struct shared_fds *fds = NULL;
	struct engine *engine = NULL;
	struct dropbox *dropbox = NULL;
	struct fuse_session *se = NULL;
	struct fuse_loop_config *loop = NULL;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct tree tree = {0};
	struct owners owners;
	struct trash *trash = NULL;
	struct fs_context ctx;
	struct stat st;
	int status_fd = -1, rc = 1, mounted = 0;

	if (cli_parse(&cli, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "veofs: %s\n", err);
		cli_free(&cli);
		return 2;
	}
	if (cli.fake) {
		cli_free(&cli);
		return 0;
	}
	if (cli.help || cli.version) {
		if (cli.help)
			cli_usage(argv[0]);
		else
			printf("veofs %s (libfuse %d.%d)\n", VEOFS_VERSION,
			       fuse_version() / 100, fuse_version() % 100);
		cli_free(&cli);
		return 0;
	}
	log_init(LOG_LVL_INFO, 0);
	sources.simulate = cli.simulate;
	sources.debug = cli.debug;
	sources.config_file = cli.config_file;
	sources.options = cli.options;
	sources.n_options = cli.n_options;
	if (config_load(&cfg, &sources, err, sizeof(err)) < 0) {
		fprintf(stderr, "veofs: %s\n", err);
		rc = 2;
		goto out;
	}
	log_set_level(cfg.log_level);
	/* The configuration holds its own copy of the key now. */
	process_forget_key_variables();
	if (process_set_undumpable(cli.debug, err, sizeof(err)) < 0)
		log_warn("%s", err);
	if (!cli.simulate && config_check_api_key(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "veofs: %s\n", err);
		rc = 2;
		goto out;
	}
	if (!realpath(cli.mountpoint, mountpoint) || stat(mountpoint, &st) < 0 ||
	    !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "veofs: mount point %s is not a directory\n", cli.mountpoint);
		rc = 2;
		goto out;
	}
	if (task_store_open(cfg.state_dir, &store, err, sizeof(err)) < 0) {
		fprintf(stderr, "veofs: %s\n", err);
		goto out;
	}
	/* A state dir that cannot keep tasks (a file system without the
	 * calls the store needs) is refused now, not at the first prompt. */
	if (store_probe(store, err, sizeof(err)) < 0) {
		fprintf(stderr, "veofs: %s\n", err);
		goto out;
	}
	lock = state_lock_acquire(cfg.state_dir, mountpoint, err, sizeof(err));
	if (!lock) {
		fprintf(stderr, "veofs: %s\n", err);
		goto out;
	}
	process_raise_fd_limit();

	/* Threads start only after this point: they would not survive fork. */
	if (!cli.foreground) {
		status_fd = daemon_fork();
		if (status_fd < 0)
			goto out;
		state_lock_note(lock, mountpoint);
	}

	if (cli.simulate) {
		struct sim_options so;
		sim_options_init(&so);
		so.duration = cfg.sim_duration;
		so.dialect = cfg.sim_dialect;
		so.protocol = cfg.sim_protocol;
		so.chat_style = cfg.sim_chat_style;
		so.jitter_pct = cfg.sim_jitter;
		sim_progress_parse(cfg.sim_progress, &so.progress);
		sim = sim_start(&so, err, sizeof(err));
		if (!sim) {
			fprintf(stderr, "veofs: cannot start the simulator: %s\n", err);
			goto out;
		}
		if (asprintf(&base_url, "%s%s", sim_root_url(sim),
			     sim_api_path(cfg.sim_protocol)) < 0)
			goto out;
	} else {
		base_url = strdup(cfg.base_url);
	}
	struct remote_http_options ro = {
		.base_url = base_url,
		.api_key = cfg.api_key,
		.timeout_s = cfg.timeout,
		.min_download_rate = cfg.min_download_rate,
	};
	/* The protocol is the remote: the engine above sees the same
	 * video objects from each. */
	if (!strcmp(cfg.protocol, "gemini"))
		remote = remote_gemini_new(&ro, err, sizeof(err));
	else if (!strcmp(cfg.protocol, "openrouter"))
		remote = remote_openrouter_new(&ro, err, sizeof(err));
	else if (!strcmp(cfg.protocol, "chat")) {
		struct remote_chat_options co = {
			.silence_limit_s = cfg.chat_silence_limit,
			.total_limit_s = cfg.chat_total_limit,
		};
		remote = remote_chat_new(&ro, &co, err, sizeof(err));
	}
	else
		remote = remote_http_new(&ro, err, sizeof(err));
	if (!remote) {
		fprintf(stderr, "veofs: %s\n", err);
		goto out;
	}
	table = task_table_new();
	notify = kernel_notify_new();
	fds = shared_fds_new();
	if (!table || !notify || !fds)
		goto out;
	int loaded = task_store_load(store, insert_loaded, table);

	struct engine_options eo = {
		.poll_interval_s = cfg.poll_interval,
		.poll_max_interval_s = cfg.poll_max_interval,
		.timeout_s = cfg.timeout,
		.max_video_bytes = cfg.max_video_bytes,
		.video_deadline_s = cfg.video_deadline,
		.on_complete = cfg.on_complete,
		.on_failed = cfg.on_failed,
		.mountpoint = mountpoint,
		.lock = lock,
	};
	struct engine_observer observer = {
		.ctx = notify,
		.task_changed = kernel_notify_task_changed,
	};
	engine = engine_new(&eo, remote, store, table, &observer);
	char seconds[16];
	snprintf(seconds, sizeof(seconds), "%d", cfg.seconds);
	owners_init(&owners);
	if (cli.uid >= 0)
		owners.uid = (uid_t)cli.uid;
	if (cli.gid >= 0)
		owners.gid = (gid_t)cli.gid;
	if (cli.umask >= 0)
		owners.umask = (mode_t)cli.umask;
	owners.allow_other = cli.allow_other;
	struct dropbox_options dbo = {
		.owners = &owners,
		.model = cfg.model,
		.seconds = seconds,
		.size = cfg.size,
		.watermark = cfg.watermark,
	};
	dropbox = dropbox_new(&dbo, store, table, engine, notify);
	if (!engine || !dropbox)
		goto out;
	dropbox_recover(dropbox);

	tree.table = table;
	tree.store = store;
	tree.engine = engine;
	tree.notify = notify;
	tree.fds = fds;
	tree.uid = owners.uid;
	tree.gid = owners.gid;
	tree.started = time(NULL);
	tree.owners = &owners;
	trash = trash_new(&tree, cfg.state_dir);
	if (!trash)
		goto out;
	tree.trash = trash;
	trash_recover(trash);
	ctx.tree = &tree;
	ctx.dropbox = dropbox;
	ctx.owners = &owners;
	ctx.trash = trash;

	if (asprintf(&fsopts, "fsname=veofs,subtype=veofs,default_permissions%s%s",
		     cli.fuse_opts ? "," : "", cli.fuse_opts ? cli.fuse_opts : "") < 0)
		goto out;
	if (fuse_opt_add_arg(&args, argv[0]) || fuse_opt_add_arg(&args, "-o") ||
	    fuse_opt_add_arg(&args, fsopts))
		goto out;
	se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), &ctx);
	if (!se) {
		fprintf(stderr, "veofs: bad FUSE options: %s\n", cli.fuse_opts ? cli.fuse_opts : "");
		rc = 2;
		goto out;
	}
	if (fuse_set_signal_handlers(se) != 0)
		goto out;
	if (fuse_session_mount(se, mountpoint) != 0) {
		fprintf(stderr, "veofs: cannot mount on %s\n", mountpoint);
		goto out;
	}
	mounted = 1;
	kernel_notify_set_session(notify, se);

	/* Every task picks up where it was: submit, poll or download. */
	struct task *batch[256];
	uint32_t after = 0;
	size_t n;
	while ((n = task_table_list(table, after, batch, 256)) > 0) {
		for (size_t i = 0; i < n; i++) {
			engine_kick(engine, batch[i]);
			after = batch[i]->tid;
			task_unref(batch[i]);
		}
	}

	printf("veofs: mounted on %s; API at %s%s; state in %s; %d task%s\n", mountpoint,
	       base_url, sim ? " (simulator)" : "", cfg.state_dir, loaded,
	       loaded == 1 ? "" : "s");
	fflush(stdout);
	if (status_fd >= 0) {
		log_init(cfg.log_level, 1);
		log_info("mounted on %s (API at %s, state in %s)", mountpoint, base_url,
			 cfg.state_dir);
		daemon_ready(status_fd);
		status_fd = -1;
	}
	service_notify_ready();

	struct exit_watch watch = {.se = se, .engine = engine};
	pthread_t watcher;
	bool watching = pthread_create(&watcher, NULL, watch_exit, &watch) == 0;

	loop = fuse_loop_cfg_create();
	/* Reads waiting for a download hold a thread each; keep plenty so
	 * ls and cat status never queue behind them. */
	fuse_loop_cfg_set_max_threads(loop, 64);
	fuse_loop_cfg_set_idle_threads(loop, 8);
	/* A signal (SIGTERM, SIGINT, SIGHUP) is a clean stop: libfuse
	 * returns its number. Only a negative value is a failure. */
	rc = fuse_session_loop_mt(se, loop) < 0 ? 1 : 0;
	log_info("unmounting %s", mountpoint);
	if (watching) {
		atomic_store(&watch.done, true);
		pthread_join(watcher, NULL);
	}

out:
	if (se) {
		kernel_notify_set_session(notify, NULL);
		if (mounted)
			fuse_session_unmount(se);
		fuse_remove_signal_handlers(se);
	}
	/* Workers first: they use everything below. */
	engine_free(engine);
	kernel_notify_free(notify);
	if (se)
		fuse_session_destroy(se);
	tree_release_all(&tree);
	fuse_opt_free_args(&args);
	fuse_loop_cfg_destroy(loop);
	dropbox_free(dropbox);
	trash_free(trash);
	shared_fds_free(fds);
	task_table_free(table);
	remote_destroy(remote);
	sim_stop(sim);
	state_lock_release(lock);
	task_store_close(store);
	free(base_url);
	free(fsopts);
	config_free(&cfg);
	cli_free(&cli);
	log_shutdown();
	if (status_fd >= 0)
		close(status_fd); /* the waiting parent exits 1 */
	return rc;
}
