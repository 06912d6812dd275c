#include "bloom.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

enum { BITS_PER_ITEM = 16, PROBES = 4, MIN_CAPACITY = 1024 };

void bloom_init(bloom *f, size_t capacity) {
  if (capacity < MIN_CAPACITY) capacity = MIN_CAPACITY;
  uint64_t bits = 64;
  while (bits < (uint64_t)capacity * BITS_PER_ITEM) bits <<= 1;
  *f = (bloom){.words = xcalloc((size_t)(bits / 64), sizeof(uint64_t)),
               .mask = bits - 1,
               .capacity = capacity};
}

void bloom_free(bloom *f) {
  free(f->words);
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

/* probe i of h: double hashing (Kirsch and Mitzenmacher), the step odd */
static uint64_t probe(uint64_t h, int i) {
  uint64_t a = mix(h), b = mix(h ^ 0x9e3779b97f4a7c15ULL) | 1;
  return a + (uint64_t)i * b;
}

void bloom_add(bloom *f, uint64_t h) {
  for (int i = 0; i < PROBES; i++) {
    uint64_t bit = probe(h, i) & f->mask;
    f->words[bit >> 6] |= 1ULL << (bit & 63);
  }
  f->items++;
}

int bloom_maybe(const bloom *f, uint64_t h) {
  for (int i = 0; i < PROBES; i++) {
    uint64_t bit = probe(h, i) & f->mask;
    if (!(f->words[bit >> 6] & (1ULL << (bit & 63)))) return 0;
  }
  return 1;
}

int bloom_full(const bloom *f) { return f->items > f->capacity; }

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
