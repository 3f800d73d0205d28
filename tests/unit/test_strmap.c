#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

Test(strmap, empty_map_finds_nothing)
{
	struct strmap *m = strmap_new();

	cr_assert_not_null(m);
	cr_assert_eq(strmap_count(m), 0);
	cr_assert_null(strmap_get(m, "x"));
	cr_assert_null(strmap_get(m, ""));
	cr_assert_null(strmap_remove(m, "x"));
	cr_assert_eq(strmap_count(m), 0);
	strmap_free(m);
	strmap_free(NULL);
}

Test(strmap, put_get_replace_remove)
{
	struct strmap *m = strmap_new();
	int a, b, c;

	cr_assert_eq(strmap_put(m, "job", &a), 0);
	cr_assert_eq(strmap_put(m, "", &c), 0);
	cr_assert_eq(strmap_get(m, "job"), &a);
	cr_assert_eq(strmap_get(m, ""), &c);
	cr_assert_null(strmap_get(m, "jo"));
	cr_assert_null(strmap_get(m, "job2"));
	cr_assert_eq(strmap_count(m), 2);

	/* replacing keeps the count */
	cr_assert_eq(strmap_put(m, "job", &b), 0);
	cr_assert_eq(strmap_get(m, "job"), &b);
	cr_assert_eq(strmap_count(m), 2);

	cr_assert_eq(strmap_remove(m, "job"), &b);
	cr_assert_null(strmap_get(m, "job"));
	cr_assert_null(strmap_remove(m, "job"));
	cr_assert_eq(strmap_count(m), 1);
	strmap_free(m);
}

Test(strmap, key_is_copied)
{
	struct strmap *m = strmap_new();
	char key[16] = "mutable";
	int v;

	strmap_put(m, key, &v);
	strcpy(key, "changed");
	cr_assert_eq(strmap_get(m, "mutable"), &v);
	cr_assert_null(strmap_get(m, "changed"));
	strmap_free(m);
}

Test(strmap, keys_are_case_and_byte_exact)
{
	struct strmap *m = strmap_new();
	int a, b, c;

	strmap_put(m, "Job", &a);
	strmap_put(m, "job", &b);
	strmap_put(m, "caf\xc3\xa9", &c);
	cr_assert_eq(strmap_get(m, "Job"), &a);
	cr_assert_eq(strmap_get(m, "job"), &b);
	cr_assert_eq(strmap_get(m, "caf\xc3\xa9"), &c);
	cr_assert_null(strmap_get(m, "JOB"));
	cr_assert_eq(strmap_count(m), 3);
	strmap_free(m);
}

/* Growth rehashes every entry: all must still be found, and removal of
 * half must leave exactly the other half. */
Test(strmap, many_keys_survive_growth)
{
	enum { N = 50000 };
	struct strmap *m = strmap_new();
	static int values[N];
	char key[32];

	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "task-%d", i);
		cr_assert_eq(strmap_put(m, key, &values[i]), 0);
	}
	cr_assert_eq(strmap_count(m), N);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "task-%d", i);
		cr_assert_eq(strmap_get(m, key), &values[i], "lost %s", key);
	}
	for (int i = 0; i < N; i += 2) {
		snprintf(key, sizeof(key), "task-%d", i);
		cr_assert_eq(strmap_remove(m, key), &values[i]);
	}
	cr_assert_eq(strmap_count(m), N / 2);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "task-%d", i);
		if (i % 2)
			cr_assert_eq(strmap_get(m, key), &values[i]);
		else
			cr_assert_null(strmap_get(m, key));
	}
	strmap_free(m);
}

Test(strmap, null_values_are_stored_but_indistinguishable)
{
	struct strmap *m = strmap_new();

	/* A NULL value counts as an entry; get cannot tell it from absence,
	 * which is why callers never store NULL. */
	cr_assert_eq(strmap_put(m, "k", NULL), 0);
	cr_assert_eq(strmap_count(m), 1);
	cr_assert_null(strmap_remove(m, "k"));
	cr_assert_eq(strmap_count(m), 0);
	strmap_free(m);
}
