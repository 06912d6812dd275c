/* bloom: a Bloom filter of 64-bit hashes that grows as items are added (a
 * scalable Bloom filter: once its newest layer holds its capacity, a layer
 * twice as large, with more bits an item, takes the new items). It answers
 * "certainly never added" or "maybe added": no false negatives, and false
 * positives at most about 0.5% however many items it holds (the first
 * layer 0.24%: 16 bits an item, the bits rounded up to a power of two, 4
 * probes; each further layer 4 bits an item more, up to 32). Growing
 * never needs the items again. */
#ifndef PARLEY_BLOOM_H
#define PARLEY_BLOOM_H

#include <stddef.h>
#include <stdint.h>

typedef struct bloom_layer {
  uint64_t *words; /* the bits, 64 a word */
  uint64_t mask;   /* bits - 1 (a power of two) */
  size_t items, capacity;
} bloom_layer;

typedef struct bloom {
  bloom_layer *layers; /* oldest first; NULL before bloom_init */
  size_t nlayers;
} bloom;

/* An empty filter whose first layer holds capacity items (at least 1,024). */
void bloom_init(bloom *f, size_t capacity);
void bloom_free(bloom *f);
void bloom_add(bloom *f, uint64_t h);
/* 0: h was certainly never added; 1: it may have been. */
int bloom_maybe(const bloom *f, uint64_t h);
/* The hash of a key made of a number and a string (FNV-1a, then mixed). */
uint64_t bloom_hash(int64_t n, const char *s);

#endif
