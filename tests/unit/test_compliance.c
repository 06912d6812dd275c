/* Unit tests for runtime/core/compliance.h: which whole messages are opt-out,
 * opt-in and help keywords, and the default texts.
 *
 *   make build/test_compliance && ./build/test_compliance */
#include <ctype.h>

#include "compliance.h"
#include "test.h"

static const char *kind_name(compliance_kind k) {
  switch (k) {
    case COMPLIANCE_NONE: return "NONE";
    case COMPLIANCE_OPTOUT: return "OPTOUT";
    case COMPLIANCE_OPTIN: return "OPTIN";
    case COMPLIANCE_HELP: return "HELP";
  }
  return "?";
}

/* Shows control characters of a message readably in test descriptions. */
static const char *shown(const char *text) {
  static char out[4][128];
  static int slot;
  char *o = out[slot++ % 4];
  size_t n = 0;
  for (const char *p = text; *p && n < sizeof out[0] - 4; p++) {
    if (*p == '\t') { o[n++] = '\\'; o[n++] = 't'; }
    else if (*p == '\n') { o[n++] = '\\'; o[n++] = 'n'; }
    else if (*p == '\r') { o[n++] = '\\'; o[n++] = 'r'; }
    else o[n++] = *p;
  }
  o[n] = 0;
  return o;
}

/* text is the keyword `want` (upper case) of kind `kind`. */
static void expect_keyword(const char *text, compliance_kind kind,
                           const char *want) {
  char keyword[16] = "";
  compliance_kind got = compliance_classify(text, strlen(text), keyword);
  int ok = got == kind && strcmp(keyword, want) == 0;
  if (!test_result(ok, "\"%s\" is %s keyword %s", shown(text), kind_name(kind),
                   want))
    test_note("expected %s \"%s\", got %s \"%s\"", kind_name(kind), want,
              kind_name(got), keyword);
}

static void expect_ordinary(const char *text) {
  char keyword[16] = "";
  compliance_kind got = compliance_classify(text, strlen(text), keyword);
  if (!test_result(got == COMPLIANCE_NONE, "\"%s\" is an ordinary message",
                   shown(text)))
    test_note("expected NONE, got %s \"%s\"", kind_name(got), keyword);
}

static void lower_copy(char *dst, const char *src) {
  while ((*dst++ = (char)tolower((unsigned char)*src++))) {}
}

/* "Stop": first letter upper, the rest lower. */
static void capitalized_copy(char *dst, const char *src) {
  lower_copy(dst, src);
  dst[0] = (char)toupper((unsigned char)dst[0]);
}

/* "sToP": alternating case starting lower. */
static void alternating_copy(char *dst, const char *src) {
  for (int i = 0; src[i]; i++)
    dst[i] = (char)(i % 2 ? toupper((unsigned char)src[i])
                          : tolower((unsigned char)src[i]));
  dst[strlen(src)] = 0;
}

static void test_every_keyword_in_every_case(void) {
  static const struct {
    const char *word;
    compliance_kind kind;
  } words[] = {
      {"STOP", COMPLIANCE_OPTOUT},    {"STOPALL", COMPLIANCE_OPTOUT},
      {"UNSUBSCRIBE", COMPLIANCE_OPTOUT}, {"CANCEL", COMPLIANCE_OPTOUT},
      {"END", COMPLIANCE_OPTOUT},     {"QUIT", COMPLIANCE_OPTOUT},
      {"REVOKE", COMPLIANCE_OPTOUT},  {"OPTOUT", COMPLIANCE_OPTOUT},
      {"START", COMPLIANCE_OPTIN},    {"UNSTOP", COMPLIANCE_OPTIN},
      {"YES", COMPLIANCE_OPTIN},      {"HELP", COMPLIANCE_HELP},
      {"INFO", COMPLIANCE_HELP},
  };
  for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
    char variant[32], framed[64];
    const char *w = words[i].word;
    compliance_kind k = words[i].kind;
    expect_keyword(w, k, w);
    lower_copy(variant, w);
    expect_keyword(variant, k, w);
    capitalized_copy(variant, w);
    expect_keyword(variant, k, w);
    alternating_copy(variant, w);
    expect_keyword(variant, k, w);
    snprintf(framed, sizeof framed, " \t%s!\n", variant);
    expect_keyword(framed, k, w);
    lower_copy(variant, w);
    snprintf(framed, sizeof framed, "%s.", variant);
    expect_keyword(framed, k, w);
  }
}

static void test_whitespace_and_trailing_punctuation(void) {
  expect_keyword("STOP!", COMPLIANCE_OPTOUT, "STOP");
  expect_keyword("stop.", COMPLIANCE_OPTOUT, "STOP");
  expect_keyword("Stop!!", COMPLIANCE_OPTOUT, "STOP");
  expect_keyword(" unsubscribe", COMPLIANCE_OPTOUT, "UNSUBSCRIBE");
  expect_keyword("\tQUIT\n", COMPLIANCE_OPTOUT, "QUIT");
  expect_keyword("Cancel ", COMPLIANCE_OPTOUT, "CANCEL");
  expect_keyword("\r\n  STOP  \r\n", COMPLIANCE_OPTOUT, "STOP");
  expect_keyword("stop?!.", COMPLIANCE_OPTOUT, "STOP");
  expect_keyword("STOP !", COMPLIANCE_OPTOUT, "STOP");
  expect_keyword("help?", COMPLIANCE_HELP, "HELP");
  expect_keyword("Info...", COMPLIANCE_HELP, "INFO");
  expect_keyword("  start\n", COMPLIANCE_OPTIN, "START");
  expect_keyword("Yes!", COMPLIANCE_OPTIN, "YES");
}

static void test_ordinary_messages(void) {
  expect_ordinary("please stop by the store");
  expect_ordinary("stop it");
  expect_ordinary("stopp");
  expect_ordinary("s top");
  expect_ordinary("STOP STOP");
  expect_ordinary("");
  expect_ordinary("   ");
  expect_ordinary("!!!");
  expect_ordinary("opt out");
  expect_ordinary("yes please");
  expect_ordinary("help me");
  expect_ordinary("STOP2");
  expect_ordinary("unsubscribed");
  /* leading punctuation is not stripped, only trailing */
  expect_ordinary("\xc2\xa1STOP");  /* "¡STOP" */
  expect_ordinary("!STOP");
  expect_ordinary("(STOP)");
  expect_ordinary("\"STOP\"");
}

/* STOPALL and OPTOUT look like near misses but are keywords themselves. */
static void test_one_word_variants_are_keywords(void) {
  expect_keyword("STOPALL", COMPLIANCE_OPTOUT, "STOPALL");
  expect_keyword("OPTOUT", COMPLIANCE_OPTOUT, "OPTOUT");
  expect_keyword("OptOut", COMPLIANCE_OPTOUT, "OPTOUT");
}

/* Only len bytes count: a buffer that continues after them is not read. */
static void test_length_is_respected(void) {
  char keyword[16] = "";
  const char *text = "STOPPED";
  compliance_kind k = compliance_classify(text, 4, keyword);
  CHECK(k == COMPLIANCE_OPTOUT && strcmp(keyword, "STOP") == 0,
        "the first 4 bytes of \"STOPPED\" are STOP");
  k = compliance_classify("STOP", 0, keyword);
  CHECK_INT(k, COMPLIANCE_NONE, "zero bytes of \"STOP\" are no keyword");
  k = compliance_classify("STOP\0extra", 10, keyword);
  CHECK_INT(k, COMPLIANCE_NONE, "\"STOP\\0extra\" (NUL inside) is no keyword");
}

static void test_default_texts_name_the_bot(void) {
  char *help = compliance_default_help("Ava Stone");
  char *optout = compliance_default_optout("Ava Stone");
  char *optin = compliance_default_optin("Ava Stone");
  CHECK_HAS(help, "Ava Stone", "the default help text names the bot");
  CHECK_HAS(help, "STOP", "the default help text says how to stop");
  CHECK_HAS(optout, "Ava Stone", "the default opt-out text names the bot");
  CHECK_HAS(optout, "START", "the default opt-out text says how to come back");
  CHECK_HAS(optin, "Ava Stone", "the default opt-in text names the bot");
  CHECK_HAS(optin, "STOP", "the default opt-in text says how to stop");
  free(help);
  free(optout);
  free(optin);
}

int main(void) {
  test_every_keyword_in_every_case();
  test_whitespace_and_trailing_punctuation();
  test_ordinary_messages();
  test_one_word_variants_are_keywords();
  test_length_is_respected();
  test_default_texts_name_the_bot();
  return test_done();
}
