#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "shared_fds.h"
#include "test_support.h"

static int count_open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

Test(shared_fds, opens_of_one_file_share_one_descriptor)
{
	char *dir = test_tmpdir(), path[4096], other[4096];
	struct shared_fds *s = shared_fds_new();
	struct shared_fd *h[100], *o;
	int before;

	snprintf(path, sizeof(path), "%s/video.mp4", dir);
	snprintf(other, sizeof(other), "%s/other.mp4", dir);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	close(open(other, O_CREAT | O_WRONLY, 0644));
	before = count_open_fds();
	for (int i = 0; i < 100; i++) {
		h[i] = shared_fds_adopt(s, open(path, O_RDONLY));
		cr_assert_not_null(h[i]);
	}
	cr_assert_eq(count_open_fds(), before + 1);
	cr_assert_eq(shared_fd_get(h[0]), shared_fd_get(h[99]));
	o = shared_fds_adopt(s, open(other, O_RDONLY));
	cr_assert_neq(shared_fd_get(o), shared_fd_get(h[0]), "another file shares nothing");
	cr_assert_eq(count_open_fds(), before + 2);
	for (int i = 0; i < 99; i++)
		shared_fds_release(s, h[i]);
	cr_assert_eq(count_open_fds(), before + 2, "closed while still in use");
	shared_fds_release(s, h[99]);
	shared_fds_release(s, o);
	cr_assert_eq(count_open_fds(), before);
	shared_fds_free(s);
	test_tmpdir_remove(dir);
}

Test(shared_fds, a_replaced_file_is_not_served_the_old_descriptor)
{
	char *dir = test_tmpdir(), path[4096], tmp[4096], buf[8] = "";
	struct shared_fds *s = shared_fds_new();
	struct shared_fd *a, *b;
	int fd;

	snprintf(path, sizeof(path), "%s/video.mp4", dir);
	snprintf(tmp, sizeof(tmp), "%s/.tmp", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	cr_assert_eq(write(fd, "old", 3), 3);
	close(fd);
	a = shared_fds_adopt(s, open(path, O_RDONLY));
	fd = open(tmp, O_CREAT | O_WRONLY, 0644);
	cr_assert_eq(write(fd, "new", 3), 3);
	close(fd);
	cr_assert_eq(rename(tmp, path), 0);
	b = shared_fds_adopt(s, open(path, O_RDONLY));
	cr_assert_eq(pread(shared_fd_get(b), buf, 3, 0), 3);
	cr_assert_str_eq(buf, "new");
	cr_assert_eq(pread(shared_fd_get(a), buf, 3, 0), 3);
	cr_assert_str_eq(buf, "old", "an open reader keeps the file it opened");
	shared_fds_release(s, a);
	/* Left open: freeing closes it (a lazy unmount leaves files open). */
	shared_fds_free(s);
	(void)b;
	test_tmpdir_remove(dir);
}
