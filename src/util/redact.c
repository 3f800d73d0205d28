#include "redact.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Shorter secrets would hide ordinary words and numbers. */
#define SECRET_MIN 8
/* A token is at least this long: "Bearer of bad news" stays readable. */
#define TOKEN_MIN 8

static bool token_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~' || c == '+' || c == '/' ||
	       c == '=' || c == '*';
}

static size_t token_len(const char *s, size_t left)
{
	size_t n = 0;

	while (n < left && token_char((unsigned char)s[n]))
		n++;
	/* A sentence's full stop is not part of the token before it. */
	while (n > 0 && s[n - 1] == '.')
		n--;
	return n;
}

/* How many bytes at s are a credential, and how many of them to keep
 * (the "Bearer " before a token). 0 when none starts here. */
static size_t credential_at(const char *s, size_t left, const char *secret,
			    size_t secret_len, size_t *keep)
{
	size_t n;

	*keep = 0;
	if (secret_len >= SECRET_MIN && secret_len <= left &&
	    memcmp(s, secret, secret_len) == 0)
		return secret_len;
	if (left > 7 && strncasecmp(s, "bearer", 6) == 0 && (s[6] == ' ' || s[6] == '\t')) {
		size_t sp = 6;
		while (sp < left && (s[sp] == ' ' || s[sp] == '\t'))
			sp++;
		n = token_len(s + sp, left - sp);
		if (n >= TOKEN_MIN) {
			*keep = sp;
			return sp + n;
		}
	}
	if (left > 3 && s[0] == 's' && s[1] == 'k' && s[2] == '-') {
		n = token_len(s, left);
		if (n >= 3 + TOKEN_MIN)
			return n;
	}
	return 0;
}

char *redact_text(const char *text, size_t len, const char *secret, size_t *out_len)
{
	size_t secret_len = secret ? strlen(secret) : 0;
	size_t cap = len + 1, o = 0;
	char *out = malloc(cap);

	if (!out)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t keep, n = 0;

		/* A credential starts a word: not in the middle of one. */
		if (i == 0 || !token_char((unsigned char)text[i - 1]) ||
		    (secret_len >= SECRET_MIN && secret_len <= len - i &&
		     memcmp(text + i, secret, secret_len) == 0))
			n = credential_at(text + i, len - i, secret, secret_len, &keep);
		if (n) {
			size_t need = o + keep + sizeof(REDACTED) - 1 + (len - i - n) + 1;
			if (need > cap) {
				char *grown = realloc(out, need);
				if (!grown) {
					free(out);
					return NULL;
				}
				out = grown;
				cap = need;
			}
			memcpy(out + o, text + i, keep);
			o += keep;
			memcpy(out + o, REDACTED, sizeof(REDACTED) - 1);
			o += sizeof(REDACTED) - 1;
			i += n;
			continue;
		}
		if (o + 1 >= cap) {
			char *grown = realloc(out, cap * 2);
			if (!grown) {
				free(out);
				return NULL;
			}
			out = grown;
			cap *= 2;
		}
		out[o++] = text[i++];
	}
	out[o] = '\0';
	if (out_len)
		*out_len = o;
	return out;
}
