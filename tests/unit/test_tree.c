/* The task side of the tree, called directly (no kernel): what the
 * handlers answer and that they give back every reference they take. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>

#include "inode.h"
#include "task_table.h"
#include "tree.h"

Test(tree, unlink_of_a_task_folder_is_refused_and_leaks_nothing)
{
	struct task_table *table = task_table_new();
	struct task *t = task_new("job");
	struct tree tr = { .table = table };

	cr_assert_eq(task_table_insert(table, t), 0);
	cr_assert_eq(atomic_load(&t->refs), 2);
	cr_assert_eq(tree_unlink(&tr, INO_ROOT, "job"), -EISDIR);
	cr_assert_eq(tree_unlink(&tr, INO_ROOT, "job"), -EISDIR);
	cr_assert_eq(atomic_load(&t->refs), 2, "unlink kept %d references",
		     atomic_load(&t->refs) - 2);
	cr_assert_eq(tree_unlink(&tr, INO_ROOT, "new"), -EISDIR);
	cr_assert_eq(tree_unlink(&tr, INO_ROOT, "nothing"), -ENOENT);
	task_unref(t);
	task_table_free(table);
}

/* ctl is read like any file (backups, grep -r) and opened read-write by
 * Samba; its size is its text's, so tar reads all of it. */
Test(tree, ctl_is_readable_and_takes_any_open_mode)
{
	struct task_table *table = task_table_new();
	struct task *t = task_new("job");
	struct tree tr = { .table = table };
	struct tree_attr a;
	struct tree_file *f;
	struct tree_open_info info;
	char buf[1024];
	uint64_t ino;

	t->state = TASK_IN_PROGRESS;
	cr_assert_eq(task_table_insert(table, t), 0);
	ino = ino_of_task_file(t->tid, TF_CTL);
	cr_assert_eq(tree_getattr(&tr, ino, &a), 0);
	cr_assert_eq(a.st.st_mode, S_IFREG | 0644);
	cr_assert_gt(a.st.st_size, 0);
	int modes[] = { O_RDONLY, O_WRONLY, O_RDWR, O_WRONLY | O_TRUNC };
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		cr_assert_eq(tree_open(&tr, ino, modes[i], &f, &info), 0, "open mode %#x", modes[i]);
		cr_assert(info.direct_io);
		ssize_t n = tree_read(&tr, f, buf, sizeof(buf) - 1, 0);
		cr_assert_eq(n, a.st.st_size);
		buf[n] = '\0';
		cr_assert_not_null(strstr(buf, "retry    not now: the task is in_progress"), "%s", buf);
		tree_release(&tr, f);
	}
	/* Other files stay read-only. */
	cr_assert_eq(tree_open(&tr, ino_of_task_file(t->tid, TF_STATUS), O_RDWR, &f, &info),
		     -EACCES);
	cr_assert_eq(atomic_load(&t->refs), 2);
	task_unref(t);
	task_table_free(table);
}
