/* The Bloom filter (core/bloom.h): never a false negative, few false
 * positives, and it grows past its first capacity without the items
 * again. */
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
  CHECK_INT((int)f.nlayers, 1, "100,000 ids fit a filter for 100,000 in its first layer");
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
  CHECK_INT((int)f.nlayers, 2, "one more than its capacity: a second layer");
  /* ten times its first capacity: every id still found, few false positives */
  for (int i = 100000; i < 1000000; i++) {
    snprintf(id, sizeof id, "SM%08d", i);
    bloom_add(&f, bloom_hash(7, id));
  }
  CHECK((int)f.nlayers == 4, "1,000,000 ids in layers of 100k, 200k, 400k, 800k: %d layers",
        (int)f.nlayers);
  missed = 0;
  for (int i = 0; i < 1000000; i++) {
    snprintf(id, sizeof id, "SM%08d", i);
    missed += !bloom_maybe(&f, bloom_hash(7, id));
  }
  CHECK_INT(missed, 0, "grown: every id added is still found");
  CHECK(bloom_maybe(&f, bloom_hash(7, "one more")), "grown: the id that filled it is found");
  never = 0;
  for (int i = 0; i < 1000000; i++) {
    snprintf(id, sizeof id, "MM%08d", i);
    never += bloom_maybe(&f, bloom_hash(7, id));
  }
  /* the layers' rates add up: 0.24% + 0.11% + 0.06% + 0.03% expected */
  CHECK(never < 5000, "grown: ids never added: %d of 1,000,000 maybe-found (under 0.5%%)", never);
  bloom_free(&f);
  CHECK(f.layers == NULL && f.nlayers == 0, "freed: no layers left");

  bloom small;
  bloom_init(&small, 0);
  CHECK(small.layers[0].capacity >= 1024 && !bloom_maybe(&small, bloom_hash(1, "x")),
        "a filter for nothing still holds 1,024 and has nothing in it");
  CHECK(bloom_hash(1, "") != bloom_hash(2, "") && bloom_hash(1, "ab") != bloom_hash(1, "ba"),
        "the hash tells the number and the string's order apart");
  bloom_free(&small);
  return test_done();
}
