/* Unit tests for runtime/lua/script.h: a version's identity (script_sha). */
#include <sys/stat.h>

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

/* ---------------------------------------------------------------- shared lib/ */

static char *root; /* a scripts folder */

static void put(const char *rel, const char *text) {
  char *path = test_path(root, rel);
  for (char *slash = strchr(path + strlen(root) + 1, '/'); slash;
       slash = strchr(slash + 1, '/')) {
    *slash = 0;
    mkdir(path, 0700);
    *slash = '/';
  }
  test_write_file(path, text, strlen(text));
  free(path);
}

static script *read_bot(const char *name, char *err, size_t errlen) {
  char *dir = test_path(root, name);
  script *s = script_read(dir, err, errlen);
  free(dir);
  return s;
}

static char *sha_of(const char *name) {
  char err[512];
  script *s = read_bot(name, err, sizeof err);
  if (!s) {
    printf("#   %s\n", err);
    return strdup("(unreadable)");
  }
  char *sha = script_sha(s, NULL);
  script_free(s);
  return sha;
}

static void test_a_bot_carries_the_shared_modules_it_requires(void) {
  root = test_tmpdir();
  put("greeter/bot.lua",
      "local g = require(\"lib.greet\")\nlocal t = require 'lib.text.case'\n"
      "local own = require('helpers')\n");
  put("greeter/helpers.lua", "return require(\"lib.dates\")\n");
  put("plain/bot.lua",
      "bot.fallback(function() return 'x' end) -- require('lib.greet') in a comment is "
      "not\n"
      "local s = 'require' -- nor a word\n");
  put("lib/greet.lua", "return { hi = require(\"lib.words\").hi }\n");
  put("lib/words.lua", "return { hi = 'hello' }\n");
  put("lib/text/case/init.lua", "return {}\n");
  put("lib/dates.lua", "return {}\n");
  put("lib/unused.lua", "return {}\n");
  char err[512] = "";
  script *s = read_bot("greeter", err, sizeof err);
  CHECK(s != NULL, "a bot that requires shared modules reads (%s)", err);
  if (!s) return;
  CHECK(script_find(s, "lib/greet.lua") != NULL,
        "it carries lib/greet.lua, which bot.lua requires");
  CHECK(script_find(s, "lib/words.lua") != NULL,
        "... lib/words.lua, which that module requires");
  CHECK(script_find(s, "lib/text/case/init.lua") != NULL,
        "... lib/text/case/init.lua (require 'lib.text.case')");
  CHECK(script_find(s, "lib/dates.lua") != NULL,
        "... lib/dates.lua, which its own module requires");
  CHECK(script_find(s, "lib/unused.lua") == NULL,
        "... and not a module nothing requires");
  const script_file *f = script_find(s, "lib/greet.lua");
  char *want = test_path(root, "lib/greet.lua");
  CHECK_STR(f ? f->label : NULL, want,
            "a shared module is named by its own path in messages");
  free(want);
  script_free(s);

  char *plain = sha_of("plain"), *greeter = sha_of("greeter");
  put("lib/words.lua", "return { hi = 'hi there' }\n");
  char *plain2 = sha_of("plain"), *greeter2 = sha_of("greeter");
  CHECK(strcmp(greeter, greeter2) != 0,
        "a change to a shared module is a new version of a bot using it");
  CHECK_STR(plain, plain2, "... and not of a bot that does not");
  free(plain), free(plain2), free(greeter), free(greeter2);

  put("clash/bot.lua", "require('lib.greet')\n");
  put("clash/lib/greet.lua", "return {}\n");
  s = read_bot("clash", err, sizeof err);
  CHECK(s == NULL, "a bot whose own lib/greet.lua is also a shared module is refused");
  CHECK_HAS(err, "clash/lib/greet.lua", "... naming its file");
  CHECK_HAS(err, "shared", "... and the shared one");
  script_free(s);
  put("alone/bot.lua", "require('lib.nothing')\n");
  s = read_bot("alone", err, sizeof err);
  CHECK(s != NULL && s->nfiles == 1,
        "a shared module that is not there is left to require to report");
  script_free(s);
  test_rmtree(root);
  free(root);
}

int main(void) {
  test_the_same_files_in_another_order_are_the_same_version();
  test_any_change_is_another_version();
  test_a_bot_carries_the_shared_modules_it_requires();
  return test_done();
}
