/* Prompt files: names in new/ and the text with its front matter. */
#ifndef VEOFS_PROMPT_H
#define VEOFS_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

#define PROMPT_MAX_CHARS 32000
#define PROMPT_SUFFIX ".prompt"
/* A negative prompt is one front matter line of at most this many bytes. */
#define PROMPT_NEGATIVE_MAX 1000

enum prompt_name_kind {
	PROMPT_NAME_SCRATCH,  /* any other name: editor temporaries, never sent */
	PROMPT_NAME_PROMPT,   /* NAME.prompt with a valid NAME: submits */
	PROMPT_NAME_REFUSED,  /* NAME.prompt with NAME empty, "new", starting
			       * with '.', or containing control characters */
};

/* Classify a file name in new/. For PROMPT_NAME_PROMPT, the task name is
 * copied to name (size namelen). For REFUSED, a reason goes to err. */
enum prompt_name_kind prompt_classify_name(const char *filename, char *name,
					   size_t namelen, char *err, size_t errlen);

/* The per-task options a prompt may name; NULL/-1 means "not given". */
struct prompt_spec {
	char *text;     /* the prompt, front matter removed, trimmed */
	char *model;
	char *seconds;  /* "4", "6", "8" or "12" */
	char *size;     /* "16x9", "9x16", "1280x720", ... */
	char *image;    /* path or http(s) URL, as written */
	int watermark;  /* -1 unset, 0 false, 1 true */
	char *resolution;       /* "720p" or "1080p", lower case */
	char *negative_prompt;  /* what the video should not show; NULL none */
};

/* Parse and validate a prompt file's bytes. Rejects (returning -1 with a
 * one-line reason in err): empty or whitespace-only text, more than
 * PROMPT_MAX_CHARS characters, bytes that are not UTF-8 (including NUL),
 * unterminated front matter, unknown or repeated keys, bad values. Front
 * matter counts only as the very first thing in the file; a later "---"
 * block is prompt text. An unknown model is accepted with *warn set to a
 * message (models are passed through). */
int prompt_parse(const char *buf, size_t len, struct prompt_spec *out,
		 char *warn, size_t warnlen, char *err, size_t errlen);

void prompt_spec_free(struct prompt_spec *p);

/* Value checks shared with the configuration defaults. */
bool prompt_model_known(const char *model);
bool prompt_seconds_valid(const char *seconds);
bool prompt_size_valid(const char *size);
/* "720p" or "1080p", exactly (the parser lower-cases what it is given). */
bool prompt_resolution_valid(const char *resolution);
/* "true"/"false"/"yes"/"no"/"1"/"0"/"on"/"off"; -1 if none of those. */
int prompt_parse_bool(const char *s);

#endif
