/* Unit tests for tracked links (runtime/engine/links.c, clicks.c): which
 * URLs a link may have, which visitors are programs, and the codes
 * `parley serve` makes (random, unguessable, each its own) against the
 * simulator's (the same at each run).
 *
 *   make build/test_links && ./build/test_links */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine_internal.h"
#include "test.h"

static void test_urls(void) {
  static const struct {
    const char *url;
    int ok;
  } cases[] = {
      {"https://shop.example/presale", 1},
      {"http://shop.example/a?b=c&d=%20e#f", 1},
      {"https://shop.example/caf\xc3\xa9", 1}, /* UTF-8 as written */
      {"https://", 0},
      {"ftp://shop.example/", 0},
      {"javascript:alert(1)", 0},
      {"https://shop.example/a b", 0},
      {"https://shop.example/\"x", 0},
      {"https://shop.example/<x>", 0},
      {"https://shop.example/{x}", 0},
      {"https://shop.example/\x01", 0},
      {"https://shop.example/\x7f", 0},
      {"HTTPS://shop.example/", 0}, /* as the Lua side reads it: the scheme in lowercase */
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    test_result(link_url_ok(cases[i].url, strlen(cases[i].url)) == cases[i].ok, "'%s' is %s",
                cases[i].url, cases[i].ok ? "a link's URL" : "refused");
  char *long_url = malloc(LINK_URL_MAX + 2);
  memcpy(long_url, "https://", 8);
  memset(long_url + 8, 'a', LINK_URL_MAX - 7);
  long_url[LINK_URL_MAX + 1] = '\0';
  test_result(!link_url_ok(long_url, LINK_URL_MAX + 1) && link_url_ok(long_url, LINK_URL_MAX),
              "a URL is at most %d bytes", LINK_URL_MAX);
  free(long_url);
}

static void test_agents(void) {
  static const struct {
    const char *agent;
    int program;
  } cases[] = {
      {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
       "like Gecko) Version/17.0 Mobile/15E148 Safari/604.1", 0},
      {"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
       "Chrome/120.0.0.0 Mobile Safari/537.36", 0},
      {"Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36 "
       "Instagram 312.0", 0}, /* an app's own browser: a person */
      /* iMessage's preview says it is both of these */
      {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like "
       "Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0", 1},
      {"WhatsApp/2.23.20.0 A", 1},
      {"TelegramBot (like TwitterBot)", 1},
      {"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", 1},
      {"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 1},
      {"curl/8.4.0", 1},
      {"python-requests/2.31.0", 1},
      {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36",
       1},
      {"", 1}, /* browsers say who they are */
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    test_result(link_agent_is_bot(cases[i].agent) == cases[i].program, "%.60s: %s",
                cases[i].agent, cases[i].program ? "a program" : "a person");
  test_result(link_agent_is_bot(NULL), "no user agent: a program");
}

static int codes_all_ok(char codes[][LINK_CODE_LEN + 1], int n) {
  for (int i = 0; i < n; i++) {
    if (!link_code_ok(codes[i])) return 0;
    for (int k = 0; k < i; k++)
      if (strcmp(codes[i], codes[k]) == 0) return 0;
  }
  return 1;
}

enum { CODES = 2000 };

static void test_codes(const char *db) {
  static char made[CODES][LINK_CODE_LEN + 1], again[CODES][LINK_CODE_LEN + 1];
  for (int serving = 0; serving <= 1; serving++) {
    for (int run = 0; run < 2; run++) {
      engine_options opt = {.db_path = db, .serving = serving};
      char err[512];
      engine *e = engine_open(&opt, err, sizeof err);
      if (!test_result(e != NULL, "the engine opens")) {
        test_note("%s", err);
        return;
      }
      bot b = {.name = "shop"};
      int ok = 1;
      for (int i = 0; i < CODES && ok; i++) {
        char *link = links_make(e, &b, (run ? again : made)[i]);
        size_t n = strlen(ENGINE_LINK_BASE_DEFAULT "/l/");
        ok = link && strncmp(link, ENGINE_LINK_BASE_DEFAULT "/l/", n) == 0 &&
             strcmp(link + n, (run ? again : made)[i]) == 0;
        free(link);
      }
      engine_close(e);
      test_result(ok, "%s: a short link is the base, /l/ and its code",
                  serving ? "serving" : "the simulator");
      test_result(codes_all_ok(run ? again : made, CODES), "%s: %d codes, each of %d letters "
                  "and digits, no two alike", serving ? "serving" : "the simulator", CODES,
                  LINK_CODE_LEN);
    }
    int same = 1;
    for (int i = 0; i < CODES; i++) same &= strcmp(made[i], again[i]) == 0;
    if (serving) {
      int shared = 0;
      for (int i = 0; i < CODES; i++)
        for (int k = 0; k < CODES; k++) shared += strcmp(made[i], again[k]) == 0;
      test_result(shared == 0, "serving: the codes of two runs are unrelated");
    } else {
      test_result(same, "the simulator: the same codes at each run");
    }
  }
  /* unguessable: every letter and digit appears, in every place */
  int seen[LINK_CODE_LEN][62] = {{0}};
  static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  for (int i = 0; i < CODES; i++)
    for (int p = 0; p < LINK_CODE_LEN; p++) seen[p][strchr(base62, again[i][p]) - base62]++;
  int every = 1;
  for (int p = 0; p < LINK_CODE_LEN; p++)
    for (int c = 0; c < 62; c++) every &= seen[p][c] > 0;
  test_result(every, "serving: every letter and digit comes in every place of a code");
}

int main(void) {
  test_urls();
  test_agents();
  test_codes(":memory:");
  return test_done();
}
