/* lua_api: the C side of the bot API (send, log, now, bot.store).
 *
 * The Lua side (stdlib/internal/conversations.lua, http.lua, ...) validates
 * arguments and expands templates; these functions hand the result to whoever runs the invocation
 * (the engine), reached through the context given to sandbox_call. */
#ifndef PARLEY_LUA_API_H
#define PARLEY_LUA_API_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct api_host {
  /* to == NULL: the conversation's own contact. kind: "reply" or "send".
   * transactional: not held by quiet hours, delivered after an opt-out too;
   * urgent: not held by quiet hours (an opted-out contact still gets nothing).
   * media_json: a JSON list of media URLs (checked by the prelude), or NULL.
   * Returns the message's status ("sent", "queued", "suppressed"), or NULL
   * with a sentence in err (host.send then returns nil, err and the Lua
   * side raises it at the script's line). */
  const char *(*send)(void *ctx, const char *to, const char *text, size_t len,
                      const char *kind, int transactional, int urgent, const char *media_json,
                      char *err, size_t errlen);
  void (*log)(void *ctx, const char *text, size_t len);
  int64_t (*now_ms)(void *ctx);
  const char *(*store_json)(void *ctx);
  /* A timer for the conversation's contact (or the bot's own, outside a
   * conversation), committed with the handler. Returns its id, or -1 with
   * a sentence in err. */
  int64_t (*timer_add)(void *ctx, int64_t due_ms, const char *handler,
                       const char *args_json, const char *kind, char *err,
                       size_t errlen);
  /* 0, or -1 with a sentence in err (too many timer changes) */
  int (*timer_cancel)(void *ctx, int64_t id, char *err, size_t errlen);
  /* Stops the contact's pending steps of one drip ("drip:<name>") or, with
   * NULL, of all its drips. */
  int (*drips_stop)(void *ctx, const char *handler, char *err, size_t errlen);
  /* The time zone of the conversation's contact, else the bot's. */
  const char *(*zone)(void *ctx);
  /* A broadcast (segment as JSON), committed with the handler; its id, or
   * -1 with a sentence in err (too many from one handler, a text longer
   * than a message may be), checked before anything is copied. */
  int64_t (*broadcast_add)(void *ctx, const char *segment, const char *text,
                           size_t text_len, const char *content, int64_t start_ms, double rate,
                           char *err, size_t errlen);
  /* Contacts matching a segment, after id `after`, at most limit; stop(ud)
   * is called as the store works, and a nonzero answer interrupts it (-1). */
  int (*contacts_match)(void *ctx, const char *segment, int64_t after, long limit,
                        contact_fn fn, int (*stop)(void *ud), void *ud);
  /* 1 found, 0 not, -1 error */
  int (*broadcast_get)(void *ctx, int64_t id, broadcast_row *out);
  /* Starts an HTTP request the handler then waits for (it is suspended and
   * resumed with the answer: status, body, headers, or nil and a reason).
   * headers_json: {"Name": "value", ...} or NULL. 0, or -1 with a sentence
   * in err (a host the bot does not allow, too many waiting, ...). */
  int (*http_start)(void *ctx, const char *method, const char *url, const char *body,
                    size_t body_len, const char *headers_json, long timeout_ms,
                    char *err, size_t errlen);
  /* Pushes the answer the resumed handler gets (status, body, headers; or
   * nil and why none came); returns how many values. */
  int (*http_result)(void *ctx, lua_State *L);
  /* The rule that takes the message: kind "on_join", "keyword", "expect",
   * "hear", "match", "fallback", "none", "on_event", "on_optout" or
   * "on_optin"; what: the keyword, handler, place or pattern (may be NULL).
   * May be NULL. */
  void (*rule)(void *ctx, const char *kind, const char *what);
  /* The call is an event (kind "event") the bot has no bot.on_event
   * handler for: the error the router raises next is that one, not a
   * handler's (the host tells the backend "no_handler"). May be NULL. */
  void (*no_handler)(void *ctx);
  /* A tracked short link to url for the conversation's contact (c:link),
   * recorded with the handler; the caller frees it. NULL with a sentence
   * in err (not an http(s) URL, too many). */
  char *(*link)(void *ctx, const char *url, size_t len, char *err, size_t errlen);
} api_host;

/* The context passed to sandbox_call must start with this. */
typedef struct api_ctx {
  const api_host *host;
} api_ctx;

/* Pushes a broadcast's progress: { status, sent, held, suppressed, failed }. */
void lua_api_push_broadcast(lua_State *L, const broadcast_row *b);

/* Stores send, log, now and store_json into the table at index host. */
void lua_api_register(lua_State *L, int host);

#endif
