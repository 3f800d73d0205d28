/* The libFuzzer entry points, declared so the targets build cleanly with
 * -Wmissing-prototypes under gcc too (the replay programs). */
#ifndef VEOFS_FUZZ_H
#define VEOFS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A NUL-terminated copy of the input (the parsers under test take C strings
 * in places); the caller frees. */
char *fuzz_strndup(const uint8_t *data, size_t size);

#endif
