/* The task side of the tree, called directly (no kernel): what the
 * handlers answer and that they give back every reference they take. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>

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
