/* Unit tests for runtime/script.h: a version's identity (script_sha). */
#include "script.h"
#include "test.h"

static script *from_json(const char *json) {
  char err[256];
  script *s = script_from_json("bot", "bot (test)", json, err, sizeof err);
  if (!s) printf("#   %s\n", err);
  return s;
}

static void test_the_same_files_in_another_order_are_the_same_version(void) {
  script *a = from_json(
      "{\"bot.lua\":\"x = 1\",\"lib/u.lua\":\"y = 2\",\"tests/t.chat\":\"> hi\"}");
  script *b = from_json(
      "{\"tests/t.chat\":\"> hi\",\"lib/u.lua\":\"y = 2\",\"bot.lua\":\"x = 1\"}");
  char *ja = NULL, *jb = NULL;
  char *sa = script_sha(a, &ja), *sb = script_sha(b, &jb);
  CHECK_STR(sa, sb, "the same files in another order have the same sha");
  CHECK_STR(ja, jb, "... and the same files JSON");
  free(sa), free(sb), free(ja), free(jb);
  script_free(a);
  script_free(b);
}

static void test_any_change_is_another_version(void) {
  const char *variants[] = {
      "{\"bot.lua\":\"x = 1\"}",
      "{\"bot.lua\":\"x = 2\"}",                           /* a source */
      "{\"bot.lua\":\"x = 1\",\"tests/t.chat\":\"> hi\"}", /* a transcript added */
      "{\"main.lua\":\"x = 1\",\"bot.lua\":\"\"}",         /* a path */
      "{\"bot.lua\":\"x = 1\",\"a.lua\":\"\"}",            /* an empty file */
  };
  enum { N = sizeof variants / sizeof *variants };
  char *sha[N];
  for (int i = 0; i < N; i++) {
    script *s = from_json(variants[i]);
    sha[i] = script_sha(s, NULL);
    script_free(s);
  }
  int distinct = 1;
  for (int i = 0; i < N; i++)
    for (int k = i + 1; k < N; k++)
      if (strcmp(sha[i], sha[k]) == 0) distinct = 0;
  CHECK(distinct, "a changed source, path or transcript is another version");
  CHECK(strlen(sha[0]) == 64, "the sha is SHA-256 in hex (64 characters)");
  for (int i = 0; i < N; i++) free(sha[i]);
}

int main(void) {
  test_the_same_files_in_another_order_are_the_same_version();
  test_any_change_is_another_version();
  return test_done();
}
