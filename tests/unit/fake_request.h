/* fake_request: a provider_request made in a test (no HTTP server): its
 * headers, query arguments and secrets are pairs the test fills; what the
 * provider logs as rejected is kept in log. For the providers' tests. */
#ifndef PARLEY_FAKE_REQUEST_H
#define PARLEY_FAKE_REQUEST_H

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "provider_registry.h"
#include "test.h"

typedef struct fake {
  const char *headers[8][2], *query[8][2], *secrets[4][2];
  char log[256];
} fake;

static const char *lookup(const char *(*pairs)[2], const char *name) {
  for (int i = 0; i < 8 && pairs[i][0]; i++)
    if (strcasecmp(pairs[i][0], name) == 0) return pairs[i][1];
  return NULL;
}

static const char *fake_header(void *ctx, const char *name) {
  return lookup(((fake *)ctx)->headers, name);
}

static const char *fake_query(void *ctx, const char *name) {
  return lookup(((fake *)ctx)->query, name);
}

static const char *fake_secret(void *ctx, const char *bot, const char *key) {
  (void)bot;
  fake *f = ctx;
  for (int i = 0; i < 4 && f->secrets[i][0]; i++)
    if (strcmp(f->secrets[i][0], key) == 0) return f->secrets[i][1];
  return NULL;
}

static void fake_rejected(void *ctx, const char *who, const char *reason,
                          const char *bot, const char *endpoint) {
  snprintf(((fake *)ctx)->log, sizeof((fake *)ctx)->log, "%s %s %s %s", who, reason,
           bot ? bot : "-", endpoint);
}

static provider_request request(fake *f, const char *bot, const char *endpoint,
                                const char *url, const char *body) {
  return (provider_request){.bot = bot,
                            .endpoint = endpoint,
                            .url = url,
                            .body = body,
                            .len = strlen(body),
                            .header = fake_header,
                            .query = fake_query,
                            .secret = fake_secret,
                            .rejected = fake_rejected,
                            .ctx = f};
}

/* 1 if o is the JSON text want (as values: key order aside); else 0,
 * with what it was noted under the failing check. */
static inline int json_equal_text(json_t *o, const char *want) {
  json_t *w = json_loads(want, 0, NULL);
  int eq = o && w && json_equal(o, w);
  if (!eq) {
    char *got = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    test_note("got  %s", got ? got : "(nothing)");
    test_note("want %s", want);
    free(got);
  }
  json_decref(w);
  return eq;
}

#endif
