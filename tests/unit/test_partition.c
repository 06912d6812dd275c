/* The partition map (partition.h): fixed, spread, and the same in SQL. */
#include <sqlite3.h>

#include "partition.h"
#include "store.h"
#include "store_internal.h"
#include "test.h"

/* The store's parley_partition for (bot, number), or -1. */
static int sql_partition(store *st, int64_t bot, const char *number) {
  sqlite3_stmt *s = NULL;
  int p = -1;
  if (sqlite3_prepare_v2(st->db, "SELECT parley_partition(?1, ?2)", -1, &s, NULL) != SQLITE_OK)
    return -1;
  sqlite3_bind_int64(s, 1, bot);
  if (number) sqlite3_bind_text(s, 2, number, -1, SQLITE_STATIC);
  if (sqlite3_step(s) == SQLITE_ROW) p = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  return p;
}

int main(void) {
  /* a conversation's partition never changes (restarts, other nodes): these
   * are FNV-1a 64 over the id's 8 bytes and the number, mod 256 */
  CHECK_INT(partition_of(1, "+15550100"), 58, "bot 1, +15550100");
  CHECK_INT(partition_of(2, "+15550100"), 39, "the same number of another bot: another hash");
  CHECK_INT(partition_of(1, ""), 164, "bot 1's own conversation (\"\")");
  CHECK_INT(partition_of(1, NULL), partition_of(1, ""), "no number is the bot's own");

  int count[PARTITIONS] = {0};
  char number[32];
  for (int i = 0; i < 25600; i++) {
    snprintf(number, sizeof number, "+1555%07d", i);
    count[partition_of(7, number)]++;
  }
  int lo = 25600, hi = 0;
  for (int p = 0; p < PARTITIONS; p++) {
    if (count[p] < lo) lo = count[p];
    if (count[p] > hi) hi = count[p];
  }
  CHECK(lo >= 50 && hi <= 150, "25,600 numbers spread over the 256 partitions (%d to %d each)",
        lo, hi);

  char err[256];
  store *st = store_open(":memory:", err, sizeof err);
  CHECK(st != NULL, "a store opens (%s)", st ? "" : err);
  if (st) {
    int same = 1;
    for (int i = 0; i < 1000 && same; i++) {
      snprintf(number, sizeof number, "+4420%07d", i * 7919);
      same = sql_partition(st, i % 5 + 1, number) == partition_of(i % 5 + 1, number);
    }
    CHECK(same, "parley_partition in SQL is partition_of");
    CHECK_INT(sql_partition(st, 3, NULL), partition_of(3, ""),
              "a NULL number in SQL is the bot's own conversation");
    store_close(st);
  }
  return test_done();
}
