/* bloom: a Bloom filter of 64-bit hashes. It answers "certainly never
 * added" or "maybe added": no false negatives, and false positives at most
 * about 0.24% while it holds up to its capacity (at least 16 bits an item,
 * the bits rounded up to a power of two; 4 probes), more past it
 * (bloom_full says when to build a bigger one). */
#ifndef PARLEY_BLOOM_H
#define PARLEY_BLOOM_H

#include <stddef.h>
#include <stdint.h>

typedef struct bloom {
  uint64_t *words; /* the bits, 64 a word; NULL before bloom_init */
  uint64_t mask;   /* bits - 1 (a power of two) */
  size_t items, capacity;
} bloom;

/* An empty filter for capacity items (at least 1,024). */
void bloom_init(bloom *f, size_t capacity);
void bloom_free(bloom *f);
void bloom_add(bloom *f, uint64_t h);
/* 0: h was certainly never added; 1: it may have been. */
int bloom_maybe(const bloom *f, uint64_t h);
/* 1 once more items were added than its capacity. */
int bloom_full(const bloom *f);
/* The hash of a key made of a number and a string (FNV-1a, then mixed). */
uint64_t bloom_hash(int64_t n, const char *s);

#endif
