/* Unit tests for runtime/core/util.h's UTF-8 helpers. */
#include "test.h"
#include "util.h"

static void repaired(const char *in, const char *want, const char *what) {
  char *s = xstrdup(in);
  utf8_repair(s);
  CHECK_STR(s, want, "%s", what);
  CHECK(utf8_valid(s, strlen(s)), "%s: the result is valid UTF-8", what);
  free(s);
}

static void test_utf8_repair(void) {
  repaired("plain ascii", "plain ascii", "ASCII is left alone");
  repaired("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\x89",
           "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\x89",
           "valid 2-, 3- and 4-byte characters are left alone");
  repaired("cut \xc3", "cut ?", "a 2-byte character cut after its first byte");
  repaired("cut \xe2\x82", "cut ??", "a 3-byte character cut after two bytes");
  repaired("cut \xf0\x9f\x8e", "cut ???", "a 4-byte character cut after three bytes");
  repaired("\xc3(x", "?(x", "a lead byte followed by no continuation");
  repaired("\x80\xbf", "??", "stray continuation bytes");
  repaired("\xc0\xaf", "??", "an overlong encoding");
  repaired("\xed\xa0\x80", "???", "a UTF-16 surrogate");
  repaired("\xf4\x90\x80\x80", "????", "past U+10FFFF");
  repaired("\xff\xfe ok", "?? ok", "bytes that never start a character");
  repaired("", "", "an empty text");
}

int main(void) {
  test_utf8_repair();
  return test_done();
}
