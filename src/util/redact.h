/* Hiding credentials in text that came from elsewhere. A provider may echo
 * the key it was sent ("Incorrect API key provided: Bearer sk-..."), and
 * whatever it says ends up in files every user of a shared mount reads. */
#ifndef VEOFS_REDACT_H
#define VEOFS_REDACT_H

#include <stddef.h>

#define REDACTED "[redacted]"

/* A copy of text[0..len) (NUL-terminated, its length in *out_len) in which
 * the secret (when at least 8 bytes), every "Bearer TOKEN" and every
 * OpenAI-style "sk-..." key are replaced by [redacted]. NULL when out of
 * memory. Bytes other than those are kept as they are, so JSON stays
 * JSON. */
char *redact_text(const char *text, size_t len, const char *secret, size_t *out_len);

#endif
