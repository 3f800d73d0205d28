#include "strmap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	struct entry *next;
	uint64_t hash;
	void *value;
	char key[];
};

struct strmap {
	struct entry **buckets;
	size_t nbuckets;
	size_t count;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

struct strmap *strmap_new(void)
{
	struct strmap *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->nbuckets = 64;
	m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
	if (!m->buckets) {
		free(m);
		return NULL;
	}
	return m;
}

void strmap_free(struct strmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct entry *e = m->buckets[i];
		while (e) {
			struct entry *next = e->next;
			free(e);
			e = next;
		}
	}
	free(m->buckets);
	free(m);
}

static struct entry **find(const struct strmap *m, const char *key, uint64_t h)
{
	struct entry **pp = &m->buckets[h & (m->nbuckets - 1)];

	while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key)))
		pp = &(*pp)->next;
	return pp;
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct entry *e = *find(m, key, hash_str(key));

	return e ? e->value : NULL;
}

static void grow(struct strmap *m)
{
	size_t n = m->nbuckets * 2;
	struct entry **b = calloc(n, sizeof(*b));

	if (!b)
		return; /* a fuller table is slower, not wrong */
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct entry *e = m->buckets[i];
		while (e) {
			struct entry *next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
			e = next;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = n;
}

int strmap_put(struct strmap *m, const char *key, void *value)
{
	uint64_t h = hash_str(key);
	struct entry **pp = find(m, key, h);
	size_t klen;

	if (*pp) {
		(*pp)->value = value;
		return 0;
	}
	klen = strlen(key);
	struct entry *e = malloc(sizeof(*e) + klen + 1);
	if (!e)
		return -ENOMEM;
	memcpy(e->key, key, klen + 1);
	e->hash = h;
	e->value = value;
	e->next = NULL;
	*pp = e;
	if (++m->count > m->nbuckets)
		grow(m);
	return 0;
}

void *strmap_remove(struct strmap *m, const char *key)
{
	struct entry **pp = find(m, key, hash_str(key));
	struct entry *e = *pp;
	void *v;

	if (!e)
		return NULL;
	*pp = e->next;
	v = e->value;
	free(e);
	m->count--;
	return v;
}

size_t strmap_count(const struct strmap *m)
{
	return m->count;
}
