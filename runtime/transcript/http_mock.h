/* http_mock: canned answers to http.get/post for transcripts and the
 * simulator.
 *
 *   @http GET https://api.example.com/stock?sku=1 -> 200 {"left": 3}
 *   @http POST https://hooks.example.com/orders* -> 500 busy
 *   @http GET https://slow.example.com/ -> timeout
 *   @http GET https://down.example.com/ -> error connection refused
 *
 * A URL ending in * matches every URL that starts with the rest; the latest
 * line that matches wins. Requests the handlers make are queued (the engine's
 * http_start) and answered by http_mocks_answer, in order, including those a
 * resumed handler makes. Every request is kept for assertions. */
#ifndef PARLEY_HTTP_MOCK_H
#define PARLEY_HTTP_MOCK_H

#include <stddef.h>

#include "engine.h"

typedef struct http_mocks http_mocks;

http_mocks *http_mocks_new(void);
void http_mocks_free(http_mocks *m);

/* Adds "METHOD URL -> STATUS [BODY]" (or "-> timeout", "-> error TEXT");
 * the body may use \n. 0, or -1 with a sentence in err. */
int http_mocks_add(http_mocks *m, const char *spec, char *err, size_t errlen);

/* For engine_on_http (ud: the mocks). */
void http_mocks_start(void *ud, const engine_http_request *r);

/* What answers a request no line matches: fn fills res (its strings last
 * until the next call) and returns 0; NULL: the request fails with "no
 * @http line for ..." and http_mocks_unmatched tells. */
typedef int (*http_fallback)(void *ud, const engine_http_request *r, engine_http_result *res);
void http_mocks_fallback(http_mocks *m, http_fallback fn, void *ud);

/* Answers every queued request; 0, or -1 with a sentence in err when the
 * engine failed. */
int http_mocks_answer(http_mocks *m, engine *e, char *err, size_t errlen);

/* engine_advance to `until`, answering the requests handlers make between
 * rounds, until none waits: what their conversations had due meanwhile
 * runs too. 0, or -1 with a sentence in err. */
int http_mocks_advance(http_mocks *m, engine *e, int64_t until, char *err, size_t errlen);

/* The first request no line matched since the last call ("GET url"), or
 * NULL; the caller frees it. */
char *http_mocks_unmatched(http_mocks *m);

/* Requests made so far, oldest first. */
typedef struct http_logged {
  char *method, *url, *body, *headers_json; /* body and headers may be NULL */
} http_logged;
const http_logged *http_mocks_log(const http_mocks *m, size_t *n);

#endif
