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

/* utf8_valid on n bytes of s (which may hold NUL bytes). */
static void valid(const char *s, size_t n, int want, const char *what) {
  CHECK_INT(utf8_valid(s, n), want, "utf8_valid: %s", what);
}

static void test_utf8_valid_edges(void) {
  valid("", 0, 1, "the empty text");
  valid("a\0b", 3, 1, "a NUL byte is a character");
  valid("\xc2\x80", 2, 1, "U+0080, the first 2-byte character");
  valid("\xdf\xbf", 2, 1, "U+07FF, the last 2-byte character");
  valid("\xe0\xa0\x80", 3, 1, "U+0800, the first 3-byte character");
  valid("\xed\x9f\xbf", 3, 1, "U+D7FF, just below the surrogates");
  valid("\xee\x80\x80", 3, 1, "U+E000, just above the surrogates");
  valid("\xef\xbf\xbf", 3, 1, "U+FFFF");
  valid("\xf0\x90\x80\x80", 4, 1, "U+10000, the first 4-byte character");
  valid("\xf4\x8f\xbf\xbf", 4, 1, "U+10FFFF, the last code point");
  valid("\xc0\x80", 2, 0, "an overlong NUL (C0 80)");
  valid("\xc1\xbf", 2, 0, "an overlong 2-byte form (C1 BF)");
  valid("\xe0\x80\x80", 3, 0, "an overlong 3-byte NUL");
  valid("\xe0\x9f\xbf", 3, 0, "an overlong U+07FF in 3 bytes");
  valid("\xf0\x80\x80\x80", 4, 0, "an overlong 4-byte NUL");
  valid("\xf0\x8f\xbf\xbf", 4, 0, "an overlong U+FFFF in 4 bytes");
  valid("\xed\xa0\x80", 3, 0, "U+D800, the first surrogate");
  valid("\xed\xbf\xbf", 3, 0, "U+DFFF, the last surrogate");
  valid("\xed\xa0\xbd\xed\xb8\x80", 6, 0, "a surrogate pair encoded as two characters");
  valid("\xf4\x90\x80\x80", 4, 0, "U+110000, past the last code point");
  valid("\xf5\x80\x80\x80", 4, 0, "lead byte F5");
  valid("\xf7\xbf\xbf\xbf", 4, 0, "lead byte F7");
  valid("\xf8\x88\x80\x80\x80", 5, 0, "a 5-byte form");
  valid("\xfc\x84\x80\x80\x80\x80", 6, 0, "a 6-byte form");
  valid("\xfe", 1, 0, "byte FE");
  valid("\xff", 1, 0, "byte FF");
  valid("\x80", 1, 0, "a stray continuation byte");
  valid("a\xbf", 2, 0, "a continuation byte after ASCII");
  valid("\xc3", 1, 0, "a 2-byte character cut after its lead");
  valid("\xe2\x82", 2, 0, "a 3-byte character cut after two bytes");
  valid("\xf0\x9f\x8e", 3, 0, "a 4-byte character cut after three bytes");
  valid(
      "\xf0\x9f\x8e"
      "a",
      4, 0, "a 4-byte character cut by ASCII");
  valid("\xc3\xa9", 1, 0, "a character cut by the length, not by the text");
  valid("\xc3\xa9\xe2\x82\xac", 4, 0, "the second character cut by the length");
  valid("\xc3\xa9\xe2\x82\xac", 5, 1, "both characters within the length");
  valid("\xc3\xc3\xa9", 3, 0, "a lead byte followed by another lead byte");
}

static void test_utf8_repair_edges(void) {
  repaired("\xe0\x80\x80", "???", "an overlong 3-byte NUL, one ? a byte");
  repaired("\xf0\x8f\xbf\xbf", "????", "an overlong 4-byte form, one ? a byte");
  repaired("\xed\xbf\xbf", "???", "U+DFFF, one ? a byte");
  repaired("\xf5\x80\x80\x80", "????", "lead byte F5, one ? a byte");
  repaired(
      "\xf0\x9f\x8e"
      "a\xc3\xa9",
      "???a\xc3\xa9", "a cut 4-byte character before ASCII and a valid one");
  repaired("\xe2\x82\xe2\x82\xac", "??\xe2\x82\xac",
           "a cut character before a whole one: the whole one stays");
  repaired("\xc3\xc3\xa9", "?\xc3\xa9", "a lead byte before a whole character");
  repaired("\xef\xbf\xbf\xf4\x8f\xbf\xbf", "\xef\xbf\xbf\xf4\x8f\xbf\xbf",
           "U+FFFF and U+10FFFF are left alone");
}

static void test_utf8_chars(void) {
  CHECK_INT(utf8_chars(""), 0, "utf8_chars: the empty text");
  CHECK_INT(utf8_chars("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\x89"), 8,
            "utf8_chars: 1-, 2-, 3- and 4-byte characters");
}

int main(void) {
  test_utf8_repair();
  test_utf8_valid_edges();
  test_utf8_repair_edges();
  test_utf8_chars();
  return test_done();
}
