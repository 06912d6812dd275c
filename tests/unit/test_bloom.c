/* The Bloom filter (core/bloom.h): never a false negative, few false
 * positives up to its capacity, and full past it. */
#include <stdio.h>

#include "bloom.h"
#include "test.h"

int main(void) {
  bloom f;
  bloom_init(&f, 100000);
  char id[32];
  for (int i = 0; i < 100000; i++) {
    snprintf(id, sizeof id, "SM%08d", i);
    bloom_add(&f, bloom_hash(7, id));
  }
  CHECK(!bloom_full(&f), "100,000 ids fill a filter for 100,000 exactly, not more");
  int missed = 0;
  for (int i = 0; i < 100000; i++) {
    snprintf(id, sizeof id, "SM%08d", i);
    missed += !bloom_maybe(&f, bloom_hash(7, id));
  }
  CHECK_INT(missed, 0, "every id added is found (no false negative)");
  int other_bot = 0, never = 0;
  for (int i = 0; i < 100000; i++) {
    snprintf(id, sizeof id, "SM%08d", i);
    other_bot += bloom_maybe(&f, bloom_hash(8, id));
    snprintf(id, sizeof id, "MM%08d", i);
    never += bloom_maybe(&f, bloom_hash(7, id));
  }
  /* 16 bits an item and 4 probes: 0.24% expected */
  CHECK(never < 500, "ids never added: %d of 100,000 maybe-found (under 0.5%%)", never);
  CHECK(other_bot < 500, "the same ids of another bot: %d of 100,000 maybe-found", other_bot);
  bloom_add(&f, bloom_hash(7, "one more"));
  CHECK(bloom_full(&f), "one more than its capacity: full");
  bloom_free(&f);

  bloom small;
  bloom_init(&small, 0);
  CHECK(small.capacity >= 1024 && !bloom_maybe(&small, bloom_hash(1, "x")),
        "a filter for nothing still holds 1,024 and has nothing in it");
  CHECK(bloom_hash(1, "") != bloom_hash(2, "") && bloom_hash(1, "ab") != bloom_hash(1, "ba"),
        "the hash tells the number and the string's order apart");
  bloom_free(&small);
  return test_done();
}
