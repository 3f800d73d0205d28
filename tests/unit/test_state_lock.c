#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "state_lock.h"
#include "test_support.h"

static char *dir;
static char lock_path[4096];

static void setup(void)
{
	dir = test_tmpdir();
	snprintf(lock_path, sizeof(lock_path), "%s/lock", dir);
}

static void teardown(void)
{
	test_tmpdir_remove(dir);
}

TestSuite(state_lock, .init = setup, .fini = teardown);

Test(state_lock, second_mount_is_refused_with_the_holder_named)
{
	char err[512] = "";
	struct state_lock *a = state_lock_acquire(dir, "/mnt/a", err, sizeof(err));

	cr_assert_not_null(a, "%s", err);
	cr_assert(state_lock_holds_dir(a));
	cr_assert_null(state_lock_acquire(dir, "/mnt/b", err, sizeof(err)));
	cr_assert(strstr(err, "already in use"), "%s", err);
	cr_assert(strstr(err, "/mnt/a"), "the holder is not named: %s", err);
	cr_assert_eq(state_lock_check(a, err, sizeof(err)), 0, "%s", err);
	state_lock_release(a);
	a = state_lock_acquire(dir, "/mnt/b", err, sizeof(err));
	cr_assert_not_null(a, "released, yet: %s", err);
	state_lock_release(a);
}

Test(state_lock, deleting_the_lock_file_does_not_let_a_second_mount_in)
{
	char err[512] = "";
	struct state_lock *a = state_lock_acquire(dir, "/mnt/a", err, sizeof(err));

	cr_assert_not_null(a, "%s", err);
	cr_assert_eq(unlink(lock_path), 0);
	cr_assert_null(state_lock_acquire(dir, "/mnt/b", err, sizeof(err)),
		       "a second mount got the state dir once the lock file was gone");
	cr_assert(strstr(err, "already in use"), "%s", err);
	state_lock_release(a);
}

Test(state_lock, a_deleted_lock_file_is_taken_again_by_its_holder)
{
	char err[512] = "", holder[256] = "";
	struct state_lock *a = state_lock_acquire(dir, "/mnt/a", err, sizeof(err));
	int fd;
	ssize_t n;

	cr_assert_not_null(a, "%s", err);
	cr_assert_eq(unlink(lock_path), 0);
	cr_assert_eq(state_lock_check(a, err, sizeof(err)), 0, "%s", err);
	fd = open(lock_path, O_RDONLY);
	cr_assert_geq(fd, 0, "the lock file was not made again");
	n = read(fd, holder, sizeof(holder) - 1);
	cr_assert_gt(n, 0);
	cr_assert(strstr(holder, "/mnt/a"), "%s", holder);
	/* And it is really held. */
	cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), -1);
	cr_assert_eq(errno, EWOULDBLOCK);
	close(fd);
	state_lock_release(a);
}

/* Where the directory cannot be locked (NFS), a second veofs that starts
 * after the lock file was deleted holds the new file: the first must stop
 * submitting rather than pay for the same prompts. */
Test(state_lock, a_lock_file_taken_by_another_process_stops_submissions)
{
	char err[512] = "";
	struct state_lock *a = state_lock_acquire(dir, "/mnt/a", err, sizeof(err));
	int ready[2];
	pid_t pid;
	char c;

	cr_assert_not_null(a, "%s", err);
	cr_assert_eq(unlink(lock_path), 0);
	cr_assert_eq(pipe(ready), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(lock_path, O_RDWR | O_CREAT, 0600);
		if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0 ||
		    write(fd, "pid 1, mounted on /mnt/b\n", 25) != 25)
			_exit(1);
		(void)!write(ready[1], "x", 1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	cr_assert_eq(read(ready[0], &c, 1), 1, "the other process could not lock");
	cr_assert_eq(state_lock_check(a, err, sizeof(err)), -1);
	cr_assert(strstr(err, "not submitting"), "%s", err);
	cr_assert(strstr(err, "/mnt/b"), "the other holder is not named: %s", err);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(ready[0]);
	/* Once the other is gone, the file is ours again. */
	cr_assert_eq(state_lock_check(a, err, sizeof(err)), 0, "%s", err);
	state_lock_release(a);
}
