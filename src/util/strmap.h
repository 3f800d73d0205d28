/* A string-keyed hash map: task names and drop-box entries are looked up
 * on every FUSE call, so this must stay O(1) at tens of thousands. */
#ifndef VEOFS_STRMAP_H
#define VEOFS_STRMAP_H

#include <stddef.h>

struct strmap;

struct strmap *strmap_new(void);
void strmap_free(struct strmap *m);
void *strmap_get(const struct strmap *m, const char *key);
/* Inserts or replaces; the key is copied. 0 or -ENOMEM. */
int strmap_put(struct strmap *m, const char *key, void *value);
/* Returns the removed value or NULL. */
void *strmap_remove(struct strmap *m, const char *key);
size_t strmap_count(const struct strmap *m);

#endif
