#include "bloom.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

enum { FIRST_BITS_PER_ITEM = 16, MORE_BITS_PER_LAYER = 4, MAX_BITS_PER_ITEM = 32, PROBES = 4,
       MIN_CAPACITY = 1024 };

/* Appends a layer for capacity items, bits_per_item bits each. */
static void add_layer(bloom *f, size_t capacity, unsigned bits_per_item) {
  uint64_t bits = 64;
  while (bits < (uint64_t)capacity * bits_per_item) bits <<= 1;
  f->layers = xrealloc(f->layers, (f->nlayers + 1) * sizeof *f->layers);
  f->layers[f->nlayers++] = (bloom_layer){.words = xcalloc((size_t)(bits / 64), sizeof(uint64_t)),
                                          .mask = bits - 1,
                                          .capacity = capacity};
}

void bloom_init(bloom *f, size_t capacity) {
  *f = (bloom){0};
  add_layer(f, capacity < MIN_CAPACITY ? MIN_CAPACITY : capacity, FIRST_BITS_PER_ITEM);
}

void bloom_free(bloom *f) {
  for (size_t i = 0; i < f->nlayers; i++) free(f->layers[i].words);
  free(f->layers);
  *f = (bloom){0};
}

/* splitmix64's finalizer: every bit of x moves every bit of the result */
static uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* Where h's bits are: double hashing (Kirsch and Mitzenmacher), bit i at
 * first + i * step, the step odd. */
typedef struct probes {
  uint64_t first, step;
} probes;

static probes probes_of(uint64_t h) {
  return (probes){mix(h), mix(h ^ 0x9e3779b97f4a7c15ULL) | 1};
}

void bloom_add(bloom *f, uint64_t h) {
  bloom_layer *l = &f->layers[f->nlayers - 1];
  if (l->items >= l->capacity) {
    unsigned bits = FIRST_BITS_PER_ITEM + MORE_BITS_PER_LAYER * (unsigned)f->nlayers;
    add_layer(f, 2 * l->capacity, bits < MAX_BITS_PER_ITEM ? bits : MAX_BITS_PER_ITEM);
    l = &f->layers[f->nlayers - 1];
  }
  probes p = probes_of(h);
  for (int i = 0; i < PROBES; i++) {
    uint64_t bit = (p.first + (uint64_t)i * p.step) & l->mask;
    l->words[bit >> 6] |= 1ULL << (bit & 63);
  }
  l->items++;
}

static int layer_maybe(const bloom_layer *l, probes p) {
  for (int i = 0; i < PROBES; i++) {
    uint64_t bit = (p.first + (uint64_t)i * p.step) & l->mask;
    if (!(l->words[bit >> 6] & (1ULL << (bit & 63)))) return 0;
  }
  return 1;
}

int bloom_maybe(const bloom *f, uint64_t h) {
  probes p = probes_of(h);
  for (size_t i = f->nlayers; i-- > 0;) /* the newest first: where recent ids are */
    if (layer_maybe(&f->layers[i], p)) return 1;
  return 0;
}

uint64_t bloom_hash(int64_t n, const char *s) {
  uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 */
  for (int i = 0; i < 8; i++) {
    h ^= ((uint64_t)n >> (8 * i)) & 0xff;
    h *= 0x100000001b3ULL;
  }
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    h ^= *p;
    h *= 0x100000001b3ULL;
  }
  return mix(h);
}
