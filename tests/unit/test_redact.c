#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"

static const char *KEY = "sk-veofs-SECRET-7f3a9c2e41d8b6054e1f";

static void expect(const char *in, const char *secret, const char *want)
{
	size_t n = 0;
	char *out = redact_text(in, strlen(in), secret, &n);

	cr_assert_not_null(out);
	cr_assert_str_eq(out, want, "in: %s", in);
	cr_assert_eq(n, strlen(want));
	free(out);
}

Test(redact, the_key_and_what_looks_like_one)
{
	expect("Incorrect API key provided: Bearer sk-veofs-SECRET-7f3a9c2e41d8b6054e1f.",
	       KEY, "Incorrect API key provided: Bearer [redacted].");
	expect("{\"error\":{\"message\":\"key sk-veofs-SECRET-7f3a9c2e41d8b6054e1f is bad\"}}",
	       KEY, "{\"error\":{\"message\":\"key [redacted] is bad\"}}");
	/* A key that is no sk- key, anywhere in a word. */
	expect("token=abcdefgh12345678&x=1", "abcdefgh12345678", "token=[redacted]&x=1");
	/* Other bearer tokens and sk- keys, not ours. */
	expect("Authorization: bearer eyJhbGciOiJIUzI1NiJ9.e30.x", NULL,
	       "Authorization: bearer [redacted]");
	expect("got sk-proj-0123456789abcdef from you", NULL, "got [redacted] from you");
	/* Masked echoes are still hidden. */
	expect("Incorrect API key provided: sk-veofs***********4e1f", KEY,
	       "Incorrect API key provided: [redacted]");
}

Test(redact, ordinary_text_is_kept)
{
	expect("", KEY, "");
	expect("the bearer of bad news", KEY, "the bearer of bad news");
	expect("Bearer short", KEY, "Bearer short");
	expect("task-sk-1 risk-assessment sk-8", KEY, "task-sk-1 risk-assessment sk-8");
	expect("a cat playing the piano, 8 s, 1280x720", "ab", "a cat playing the piano, 8 s, 1280x720");
}

Test(redact, binary_bytes_and_nuls_survive)
{
	const char in[] = "a\0b Bearer 0123456789abcdef\0c";
	size_t n = 0;
	char *out = redact_text(in, sizeof(in) - 1, NULL, &n);

	cr_assert_not_null(out);
	cr_assert_eq(n, 4 + 7 + 10 + 2);
	cr_assert_eq(memcmp(out, "a\0b Bearer [redacted]\0c", n), 0);
	free(out);
}

Test(redact, a_huge_text_full_of_keys)
{
	size_t len = 1 << 20, n = 0;
	char *in = malloc(len + 1);
	char *out;

	cr_assert_not_null(in);
	for (size_t i = 0; i < len; i += 12)
		memcpy(in + i, i + 12 <= len ? "sk-abcdefgh " : "xxxxxxxxxxxx", i + 12 <= len ? 12 : len - i);
	in[len] = '\0';
	out = redact_text(in, len, NULL, &n);
	cr_assert_not_null(out);
	cr_assert_null(strstr(out, "sk-abcdefgh"));
	free(in);
	free(out);
}
