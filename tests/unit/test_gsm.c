/* Unit tests for runtime/core/gsm.h: which texts are GSM-7, how many units they
 * take, and how they pack into SMS segments without splitting an escape
 * pair or a surrogate pair.
 *
 *   make build/test_gsm && ./build/test_gsm */
#include <stdarg.h>

#include "gsm.h"
#include "test.h"

/* The GSM 7 bit default alphabet written out by hand (3GPP TS 23.038
 * 6.2.1, in septet order, without 0x1B ESC), independent of the table in
 * gsm.c: 127 characters. */
static const char basic_set[] =
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/* The extension table's characters (TS 23.038 6.2.1.1). */
static const char *const extension_set[] = {"^", "{", "}", "\\", "[",
                                            "~", "]", "|", "€",  "\f"};

#define EURO "€"
#define ZHE "ж"  /* U+0436: not GSM-7, one UTF-16 unit, two bytes */
#define GRIN "😀" /* U+1F600: a surrogate pair, four bytes */

/* A built text and its length in bytes (it may hold NUL or invalid bytes). */
typedef struct text {
  char *s;
  size_t len;
} text;

/* A text made of (piece, times) pairs, ended by NULL; free t.s. */
static text text_of(const char *piece, ...) {
  va_list ap;
  size_t n = 0;
  va_start(ap, piece);
  for (const char *p = piece; p; p = va_arg(ap, const char *))
    n += strlen(p) * (size_t)va_arg(ap, int);
  va_end(ap);
  text t = {malloc(n + 1), n};
  char *w = t.s;
  *w = 0;
  va_start(ap, piece);
  for (const char *p = piece; p; p = va_arg(ap, const char *))
    for (int k = va_arg(ap, int); k > 0; k--) w = stpcpy(w, p);
  va_end(ap);
  return t;
}

/* Bytes of the UTF-8 character that starts with lead. */
static size_t utf8_length(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

static int same_count(gsm_count c, gsm_encoding e, int segments, long units) {
  return c.encoding == e && c.segments == segments && c.units == units;
}

static void expect(const char *text, size_t len, gsm_encoding e, int segments,
                   long units, const char *what) {
  gsm_count c = gsm_count_text(text, len);
  if (!test_result(same_count(c, e, segments, units), "%s", what))
    test_note("expected %s, %d segments, %ld units, got %s, %d segments, %ld units",
              gsm_encoding_name(e), segments, units, gsm_encoding_name(c.encoding),
              c.segments, c.units);
}

/* expect() for a text built by text_of(), which it frees. */
static void expect_built(text t, gsm_encoding e, int segments, long units,
                         const char *what) {
  expect(t.s, t.len, e, segments, units, what);
  free(t.s);
}

/* gsm_split's answer equals want[0..n). */
static void expect_starts(const char *text, size_t len, const size_t *want, size_t n,
                          const char *what) {
  size_t got[16] = {0};
  size_t count = gsm_split(text, len, got, 16);
  int ok = count == n;
  for (size_t i = 0; ok && i < n; i++) ok = got[i] == want[i];
  if (!test_result(ok, "%s", what)) {
    test_note("expected %zu segments, got %zu", n, count);
    for (size_t i = 0; i < n && i < 16; i++)
      test_note("segment %zu: expected start %zu, got %zu", i, want[i], got[i]);
  }
}

static void test_every_basic_character_is_one_septet(void) {
  size_t len = strlen(basic_set), chars = 0, wrong = 0;
  for (size_t i = 0; i < len; chars++) {
    size_t n = utf8_length((unsigned char)basic_set[i]);
    gsm_count c = gsm_count_text(basic_set + i, n);
    if (!same_count(c, GSM_ENCODING_GSM7, 1, 1)) {
      wrong++;
      printf("#   '%.*s' (byte %zu): %s, %ld units\n", (int)n, basic_set + i, i,
             gsm_encoding_name(c.encoding), c.units);
    }
    i += n;
  }
  CHECK_INT(chars, 127, "the written-out basic set has 127 characters");
  CHECK_INT(wrong, 0, "every basic-set character is GSM-7, 1 septet");
  expect(basic_set, len, GSM_ENCODING_GSM7, 1, 127,
         "the whole basic set is one GSM-7 message of 127 septets");
}

static void test_every_extension_character_is_two_septets(void) {
  for (size_t i = 0; i < sizeof extension_set / sizeof *extension_set; i++) {
    const char *ch = extension_set[i];
    char what[64];
    snprintf(what, sizeof what, "extension character %s is GSM-7, 2 septets",
             strcmp(ch, "\f") == 0 ? "form feed" : ch);
    expect(ch, strlen(ch), GSM_ENCODING_GSM7, 1, 2, what);
  }
}

/* Characters people expect in GSM-7 that are not in it. */
static void test_look_alikes_are_not_gsm7(void) {
  static const struct {
    const char *text, *name;
  } outside[] = {
      {"`", "backtick"},
      {"ç", "lowercase c-cedilla (only Ç is GSM-7)"},
      {"’", "right single quote"},
      {"“", "left double quote"},
      {"…", "ellipsis"},
      {"\xc2\xa0", "no-break space"},
      {"\x1b", "a bare ESC (U+001B)"},
      {"\t", "tab"},
      {"Α", "Greek capital alpha (not mapped to A)"},
      {"á", "a with acute"},
  };
  for (size_t i = 0; i < sizeof outside / sizeof *outside; i++) {
    char what[96];
    snprintf(what, sizeof what, "%s is UCS-2, 1 unit", outside[i].name);
    expect(outside[i].text, strlen(outside[i].text), GSM_ENCODING_UCS2, 1, 1, what);
  }
  expect("a\0b", 3, GSM_ENCODING_UCS2, 1, 3,
         "a NUL byte (U+0000, not @) makes the text UCS-2");
}

static void test_gsm7_boundaries(void) {
  expect_built(text_of("a", 160, NULL), GSM_ENCODING_GSM7, 1, 160,
               "160 GSM characters are 1 segment");
  expect_built(text_of("a", 161, NULL), GSM_ENCODING_GSM7, 2, 161,
               "161 GSM characters are 2 segments");
  expect_built(text_of("a", 306, NULL), GSM_ENCODING_GSM7, 2, 306,
               "306 GSM characters are 2 segments (153 + 153)");
  expect_built(text_of("a", 307, NULL), GSM_ENCODING_GSM7, 3, 307,
               "307 GSM characters are 3 segments");
  expect_built(text_of("a", 1000000, NULL), GSM_ENCODING_GSM7, 6536, 1000000,
               "a million GSM characters are 6536 segments");
}

static void test_escape_pair_never_splits(void) {
  expect_built(text_of("a", 153, EURO, 1, NULL), GSM_ENCODING_GSM7, 1, 155,
               "153 plain + one € (155 septets) still fits one message");
  text t = text_of("a", 153, EURO, 1, "a", 7, NULL);
  expect(t.s, t.len, GSM_ENCODING_GSM7, 2, 162, "153 plain + € + 7 plain: 2 segments");
  expect_starts(t.s, t.len, (size_t[]){0, 153}, 2,
                "after 153 plain septets the € starts segment 2");
  free(t.s);
  t = text_of("a", 152, EURO, 1, "a", 152, NULL);
  expect(t.s, t.len, GSM_ENCODING_GSM7, 3, 306,
         "152 plain + € + 152 plain (306 septets): the pair moves, 3 segments");
  expect_starts(t.s, t.len, (size_t[]){0, 152, 306}, 3,
                "the € at septet 153 starts segment 2 whole");
  free(t.s);
  expect_built(text_of(EURO, 80, NULL), GSM_ENCODING_GSM7, 1, 160,
               "80 € (160 septets) are 1 segment");
  expect_built(text_of(EURO, 81, NULL), GSM_ENCODING_GSM7, 2, 162,
               "81 € (162 septets) are 2 segments (76 + 5 pairs)");
  expect_built(text_of(EURO, 153, NULL), GSM_ENCODING_GSM7, 3, 306,
               "153 € (306 septets) are 3 segments (76 + 76 + 1), not 306/153");
}

static void test_ucs2_boundaries(void) {
  expect_built(text_of(ZHE, 70, NULL), GSM_ENCODING_UCS2, 1, 70,
               "70 UCS-2 characters are 1 segment");
  expect_built(text_of(ZHE, 71, NULL), GSM_ENCODING_UCS2, 2, 71,
               "71 UCS-2 characters are 2 segments");
  expect_built(text_of(ZHE, 134, NULL), GSM_ENCODING_UCS2, 2, 134,
               "134 UCS-2 characters are 2 segments (67 + 67)");
  expect_built(text_of(ZHE, 135, NULL), GSM_ENCODING_UCS2, 3, 135,
               "135 UCS-2 characters are 3 segments");
}

static void test_surrogate_pair_never_splits(void) {
  expect(GRIN, strlen(GRIN), GSM_ENCODING_UCS2, 1, 2, "an emoji is 2 UTF-16 units");
  expect_built(text_of(GRIN, 35, NULL), GSM_ENCODING_UCS2, 1, 70,
               "35 emoji (70 units) are 1 segment");
  expect_built(text_of(GRIN, 36, NULL), GSM_ENCODING_UCS2, 2, 72,
               "36 emoji (72 units) are 2 segments");
  text t = text_of(ZHE, 66, GRIN, 1, ZHE, 66, NULL);
  expect(t.s, t.len, GSM_ENCODING_UCS2, 3, 134,
         "66 + emoji + 66 (134 units): the pair moves, 3 segments");
  expect_starts(t.s, t.len, (size_t[]){0, 132, 266}, 3,
                "the emoji at unit 67 starts segment 2 whole");
  free(t.s);
}

static void test_one_outsider_makes_the_text_ucs2(void) {
  expect_built(text_of("a", 100, "ç", 1, NULL), GSM_ENCODING_UCS2, 2, 101,
               "100 plain + ç: the whole text is UCS-2, 101 units, 2 segments");
  expect_built(text_of("It", 1, "’", 1, "s ok", 1, NULL), GSM_ENCODING_UCS2, 1, 7,
               "a curly apostrophe makes \"It’s ok\" UCS-2 (not replaced)");
  expect("`code`", 6, GSM_ENCODING_UCS2, 1, 6, "backticks make the text UCS-2");
  expect(EURO "ç", strlen(EURO "ç"), GSM_ENCODING_UCS2, 1, 2,
         "in UCS-2 an extension character (€) is 1 unit");
}

static void test_invalid_utf8_is_replacement_characters(void) {
  expect("\xff", 1, GSM_ENCODING_UCS2, 1, 1, "byte 0xFF is one U+FFFD");
  expect("\x80", 1, GSM_ENCODING_UCS2, 1, 1, "a stray continuation byte is one U+FFFD");
  expect("abc\xc3", 4, GSM_ENCODING_UCS2, 1, 4,
         "a truncated sequence at the end: abc + U+FFFD");
  expect("\xe2\x82", 2, GSM_ENCODING_UCS2, 1, 2,
         "a truncated 3-byte sequence: one U+FFFD per byte");
  expect("\xc0\xaf", 2, GSM_ENCODING_UCS2, 1, 2, "an overlong '/' is 2 U+FFFD");
  expect("\xed\xa0\x80", 3, GSM_ENCODING_UCS2, 1, 3,
         "an encoded surrogate is 3 U+FFFD");
  expect("\xf4\x90\x80\x80", 4, GSM_ENCODING_UCS2, 1, 4,
         "a code point beyond U+10FFFF is 4 U+FFFD");
  expect("\xc3(", 2, GSM_ENCODING_UCS2, 1, 2,
         "a lead byte before ASCII: U+FFFD, then the ASCII character");
  expect("\xe0\x80\x80", 3, GSM_ENCODING_UCS2, 1, 3,
         "an overlong 3-byte NUL is 3 U+FFFD");
  expect("\xe0\x9f\xbf", 3, GSM_ENCODING_UCS2, 1, 3, "an overlong U+07FF is 3 U+FFFD");
  expect("\xf0\x8f\xbf\xbf", 4, GSM_ENCODING_UCS2, 1, 4,
         "an overlong 4-byte U+FFFF is 4 U+FFFD");
  expect("\xc1\xbf", 2, GSM_ENCODING_UCS2, 1, 2, "lead byte C1 is 2 U+FFFD");
  expect("\xed\xbf\xbf", 3, GSM_ENCODING_UCS2, 1, 3, "U+DFFF encoded is 3 U+FFFD");
  expect("\xf5\x80\x80\x80", 4, GSM_ENCODING_UCS2, 1, 4, "lead byte F5 is 4 U+FFFD");
  expect(
      "\xf0\x9f\x8e"
      "a",
      4, GSM_ENCODING_UCS2, 1, 4,
      "a cut 4-byte character before ASCII: 3 U+FFFD, then the ASCII character");
  expect("\xe2\x82\xe2\x82\xac", 5, GSM_ENCODING_UCS2, 1, 3,
         "a cut character before a whole one: 2 U+FFFD, then the euro sign");
}

static void test_utf8_edges_are_characters(void) {
  expect("\xc2\x80", 2, GSM_ENCODING_UCS2, 1, 1, "U+0080 is one UCS-2 unit");
  expect("\xdf\xbf", 2, GSM_ENCODING_UCS2, 1, 1, "U+07FF is one UCS-2 unit");
  expect("\xe0\xa0\x80", 3, GSM_ENCODING_UCS2, 1, 1, "U+0800 is one UCS-2 unit");
  expect("\xed\x9f\xbf", 3, GSM_ENCODING_UCS2, 1, 1, "U+D7FF is one UCS-2 unit");
  expect("\xee\x80\x80", 3, GSM_ENCODING_UCS2, 1, 1, "U+E000 is one UCS-2 unit");
  expect("\xef\xbf\xbf", 3, GSM_ENCODING_UCS2, 1, 1, "U+FFFF is one UCS-2 unit");
  expect("\xf0\x90\x80\x80", 4, GSM_ENCODING_UCS2, 1, 2,
         "U+10000 is a surrogate pair, 2 units");
  expect("\xf4\x8f\xbf\xbf", 4, GSM_ENCODING_UCS2, 1, 2,
         "U+10FFFF is a surrogate pair, 2 units");
}

static void test_empty_text(void) {
  expect("", 0, GSM_ENCODING_GSM7, 1, 0, "the empty text is GSM-7, 0 units, 1 segment");
  expect(NULL, 0, GSM_ENCODING_GSM7, 1, 0, "NULL with length 0 is the empty text");
  expect_starts("", 0, (size_t[]){0}, 1, "the empty text splits into one segment at 0");
}

static void test_split_agrees_with_count(void) {
  text t = text_of("a", 100, EURO, 30, GRIN, 1, "\xff", 3, ZHE, 200, NULL);
  gsm_count c = gsm_count_text(t.s, t.len);
  size_t starts[64];
  size_t segments = gsm_split(t.s, t.len, starts, 64);
  CHECK_INT(segments, c.segments, "gsm_split finds as many segments as gsm_count_text");
  int increasing = starts[0] == 0;
  for (size_t i = 1; i < segments && i < 64; i++)
    increasing = increasing && starts[i] > starts[i - 1] && starts[i] < t.len;
  CHECK(increasing, "segment starts rise from 0 and stay inside the text");
  size_t few[3] = {7, 7, 7};
  CHECK_INT(gsm_split(t.s, t.len, few, 2), c.segments,
            "gsm_split with room for 2 starts still returns the full count");
  CHECK_INT(few[2], 7, "gsm_split writes no more than max starts");
  CHECK_INT(gsm_split(t.s, t.len, NULL, 0), c.segments,
            "gsm_split with max 0 only counts");
  free(t.s);
}

static void test_encoding_names(void) {
  CHECK_STR(gsm_encoding_name(GSM_ENCODING_GSM7), "GSM-7", "GSM-7 is named GSM-7");
  CHECK_STR(gsm_encoding_name(GSM_ENCODING_UCS2), "UCS-2", "UCS-2 is named UCS-2");
}

int main(void) {
  test_every_basic_character_is_one_septet();
  test_every_extension_character_is_two_septets();
  test_look_alikes_are_not_gsm7();
  test_gsm7_boundaries();
  test_escape_pair_never_splits();
  test_ucs2_boundaries();
  test_surrogate_pair_never_splits();
  test_one_outsider_makes_the_text_ucs2();
  test_invalid_utf8_is_replacement_characters();
  test_utf8_edges_are_characters();
  test_empty_text();
  test_split_agrees_with_count();
  test_encoding_names();
  return test_done();
}
