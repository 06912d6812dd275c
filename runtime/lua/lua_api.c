#include "lua_api.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "luadata.h"
#include "sandbox.h"

static api_ctx *context(lua_State *L, const char *fname) {
  api_ctx *ctx = sandbox_context(L);
  if (!ctx) luaL_error(L, "%s is available only inside handlers", fname);
  return ctx;
}

static int api_send(lua_State *L) {
  api_ctx *ctx = context(L, "send");
  const char *to = luaL_optstring(L, 1, NULL);
  size_t len;
  const char *text = luaL_checklstring(L, 2, &len);
  const char *kind = luaL_checkstring(L, 3);
  int transactional = lua_toboolean(L, 4);
  const char *media = luaL_optstring(L, 5, NULL);
  int urgent = lua_toboolean(L, 6);
  sandbox_charge(L, (long)(len / 64)); /* the text is read to be checked */
  char err[512];
  const char *status =
      ctx->host->send(ctx, to, text, len, kind, transactional, urgent, media, err, sizeof err);
  if (!status) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushstring(L, status);
  return 1;
}

static int api_log(lua_State *L) {
  api_ctx *ctx = context(L, "bot.log");
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  sandbox_charge(L, (long)(len / 64));
  ctx->host->log(ctx, text, len);
  return 0;
}

/* host.rule(kind, what): which rule takes the message (the prelude's). */
static int api_rule(lua_State *L) {
  api_ctx *ctx = context(L, "rule");
  const char *kind = luaL_checkstring(L, 1);
  const char *what = luaL_optstring(L, 2, NULL);
  if (ctx->host->rule) ctx->host->rule(ctx, kind, what);
  return 0;
}

/* host.no_handler(): the event being dispatched has no handler (the router's). */
static int api_no_handler(lua_State *L) {
  api_ctx *ctx = context(L, "no_handler");
  if (ctx->host->no_handler) ctx->host->no_handler(ctx);
  return 0;
}

static int api_now(lua_State *L) {
  api_ctx *ctx = context(L, "bot.now");
  lua_pushinteger(L, (lua_Integer)(ctx->host->now_ms(ctx) / 1000));
  return 1;
}

static int api_store_json(lua_State *L) {
  api_ctx *ctx = context(L, "bot.store");
  const char *json = ctx->host->store_json(ctx);
  size_t len = json ? strlen(json) : 2;
  sandbox_charge(L, (long)(len / 64)); /* copied in, then decoded */
  lua_pushlstring(L, json ? json : "{}", len);
  return 1;
}

static int api_now_ms(lua_State *L) {
  api_ctx *ctx = context(L, "bot.now");
  lua_pushinteger(L, (lua_Integer)ctx->host->now_ms(ctx));
  return 1;
}

/* timer_add(due_ms, handler, args_json) -> id | nil, err */
static int api_timer_add(lua_State *L) {
  api_ctx *ctx = context(L, "bot.after");
  lua_Integer due = luaL_checkinteger(L, 1);
  const char *handler = luaL_checkstring(L, 2);
  const char *args = luaL_checkstring(L, 3);
  const char *kind = luaL_optstring(L, 4, "timer");
  char err[256];
  int64_t id = ctx->host->timer_add(ctx, (int64_t)due, handler, args, kind, err,
                                    sizeof err);
  if (id < 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushinteger(L, (lua_Integer)id);
  return 1;
}

static int fail_with(lua_State *L, const char *err) {
  lua_pushnil(L);
  lua_pushstring(L, err);
  return 2;
}

/* timer_cancel(id) -> true | nil, err */
static int api_timer_cancel(lua_State *L) {
  api_ctx *ctx = context(L, "bot.cancel");
  char err[256];
  if (ctx->host->timer_cancel(ctx, (int64_t)luaL_checkinteger(L, 1), err, sizeof err))
    return fail_with(L, err);
  lua_pushboolean(L, 1);
  return 1;
}

/* drips_stop([handler]) -> true | nil, err */
static int api_drips_stop(lua_State *L) {
  api_ctx *ctx = context(L, "c:stop_drip");
  char err[256];
  if (ctx->host->drips_stop(ctx, luaL_optstring(L, 1, NULL), err, sizeof err))
    return fail_with(L, err);
  lua_pushboolean(L, 1);
  return 1;
}

/* broadcast_add(segment_json, text, start_ms, rate, content_json) -> id | nil, err */
static int api_broadcast_add(lua_State *L) {
  api_ctx *ctx = context(L, "bot.broadcast");
  const char *segment = luaL_checkstring(L, 1);
  size_t len;
  const char *text = luaL_checklstring(L, 2, &len);
  lua_Integer start = luaL_checkinteger(L, 3);
  double rate = luaL_checknumber(L, 4);
  const char *content = luaL_optstring(L, 5, NULL);
  sandbox_charge(L, (long)(len / 64)); /* the text is read to be checked */
  char err[256];
  int64_t id = ctx->host->broadcast_add(ctx, segment, text, len, content, (int64_t)start, rate,
                                        err, sizeof err);
  if (id < 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushinteger(L, (lua_Integer)id);
  return 1;
}

static void push_json_or_empty(lua_State *L, const char *json, int as_set) {
  char err[128];
  if (!json || luadata_decode(L, json, strlen(json), err, sizeof err)) {
    lua_newtable(L);
    return;
  }
  if (!as_set || lua_type(L, -1) != LUA_TTABLE) return;
  lua_newtable(L); /* ["a","b"] -> {a = true, b = true} */
  lua_Integer n = (lua_Integer)lua_rawlen(L, -2);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, -2, i);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
  }
  lua_remove(L, -2);
}

/* push_view(page, row): the row's view appended to the page, charged. */
static int push_view(lua_State *L) {
  const contact_row *r = lua_touserdata(L, 2);
  lua_settop(L, 1);
  lua_createtable(L, 0, 7);
  lua_pushinteger(L, (lua_Integer)r->id);
  lua_setfield(L, -2, "id");
  lua_pushstring(L, r->number);
  lua_setfield(L, -2, "number");
  lua_pushstring(L, r->status);
  lua_setfield(L, -2, "status");
  lua_pushboolean(L, r->status && strcmp(r->status, "opted_out") == 0);
  lua_setfield(L, -2, "opted_out");
  push_json_or_empty(L, r->fields, 0);
  lua_setfield(L, -2, "fields");
  push_json_or_empty(L, r->tags, 1);
  lua_setfield(L, -2, "tags");
  if (r->timezone) {
    lua_pushstring(L, r->timezone);
    lua_setfield(L, -2, "timezone");
  }
  lua_pushinteger(L, (lua_Integer)(r->first_seen / 1000));
  lua_setfield(L, -2, "first_seen");
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  sandbox_charge(L, 200);
  return 0;
}

/* The store calls this for each row, inside its query: an error (a limit,
 * no memory) must not unwind through it (the query would stay open), so
 * each view is made in a protected call; after an error the other rows are
 * skipped, and the error is raised again once the query is finished. */
typedef struct contact_page {
  lua_State *L;
  int table; /* the page, on L's stack */
  int failed; /* the error object is on top of L's stack */
} contact_page;

static void push_contact_view(void *ud, const contact_row *r) {
  contact_page *page = ud;
  lua_State *L = page->L;
  if (page->failed) return;
  lua_pushcfunction(L, push_view);
  lua_pushvalue(L, page->table);
  lua_pushlightuserdata(L, (void *)r);
  page->failed = lua_pcall(L, 2, 0, 0) != LUA_OK;
}

/* Every 1,000 steps of the store's query (a segment can make it slow while
 * it matches nothing): 100 instructions, and the limits looked at. */
static int contacts_page_stop(void *ud) {
  contact_page *page = ud;
  return sandbox_charge_nothrow(page->L, 100);
}

/* contacts_page(segment_json, after_id, limit) -> { view, ... } */
static int api_contacts_page(lua_State *L) {
  api_ctx *ctx = context(L, "bot.contacts");
  const char *segment = luaL_checkstring(L, 1);
  lua_Integer after = luaL_checkinteger(L, 2);
  lua_Integer limit = luaL_checkinteger(L, 3);
  lua_newtable(L);
  luaL_checkstack(L, 8, "bot.contacts"); /* the calls in the store's loop need no more */
  contact_page page = {.L = L, .table = lua_gettop(L)};
  int rc = ctx->host->contacts_match(ctx, segment, (int64_t)after, (long)limit,
                                     push_contact_view, contacts_page_stop, &page);
  if (page.failed) return lua_error(L);
  sandbox_charge(L, 0); /* raises the limit that interrupted the query, if one did */
  if (rc) return luaL_error(L, "bot.contacts: the store failed");
  lua_settop(L, page.table);
  return 1;
}

void lua_api_push_broadcast(lua_State *L, const broadcast_row *b) {
  lua_createtable(L, 0, 6);
  lua_pushstring(L, b->status);
  lua_setfield(L, -2, "status");
  lua_pushinteger(L, b->sent);
  lua_setfield(L, -2, "sent");
  lua_pushinteger(L, b->held);
  lua_setfield(L, -2, "held");
  lua_pushinteger(L, b->suppressed);
  lua_setfield(L, -2, "suppressed");
  lua_pushinteger(L, b->failed);
  lua_setfield(L, -2, "failed");
  lua_pushinteger(L, b->not_opted_in);
  lua_setfield(L, -2, "not_opted_in");
}

static int api_broadcast_get(lua_State *L) {
  api_ctx *ctx = context(L, "bot.broadcast_status");
  broadcast_row b = {0};
  int found = ctx->host->broadcast_get(ctx, (int64_t)luaL_checkinteger(L, 1), &b);
  if (found <= 0) return 0;
  lua_api_push_broadcast(L, &b);
  broadcast_row_free(&b);
  return 1;
}

static int api_zone(lua_State *L) {
  api_ctx *ctx = context(L, "bot.at");
  lua_pushstring(L, ctx->host->zone(ctx));
  return 1;
}

/* The continuation of host.http: the answer, pushed inside the resumed
 * invocation (its bytes count against the handler's memory limit). */
static int http_resumed(lua_State *L, int status, lua_KContext k) {
  (void)status, (void)k;
  api_ctx *ctx = context(L, "http");
  return ctx->host->http_result(ctx, L);
}

/* A request's body (a string; a table is encoded to at most the same) and
 * URL, at most. */
enum { HTTP_MAX_REQUEST_BODY = 1024 * 1024, HTTP_MAX_URL = 8192 };

/* host.http(method, url, body, headers_json, timeout_ms): suspends the
 * handler until the answer comes (then returns what the engine resumes it
 * with: status, body, headers, or nil and why no response came); or false
 * and a sentence the prelude raises at the script's line. */
static int api_http(lua_State *L) {
  api_ctx *ctx = context(L, "http");
  const char *method = luaL_checkstring(L, 1);
  const char *url = luaL_checkstring(L, 2);
  size_t len = 0;
  const char *body = luaL_optlstring(L, 3, NULL, &len);
  const char *headers = luaL_optstring(L, 4, NULL);
  long timeout_ms = (long)luaL_checkinteger(L, 5);
  /* before anything is copied into the host (and held while it waits) */
  size_t url_len = strlen(url);
  if (len > HTTP_MAX_REQUEST_BODY || url_len > HTTP_MAX_URL) {
    lua_pushboolean(L, 0);
    if (len > HTTP_MAX_REQUEST_BODY)
      lua_pushfstring(L, "the body is %I bytes; the limit is %d (1 MiB)", (LUAI_UACINT)len,
                      HTTP_MAX_REQUEST_BODY);
    else
      lua_pushfstring(L, "the URL is %I bytes; the limit is %d", (LUAI_UACINT)url_len,
                      HTTP_MAX_URL);
    return 2;
  }
  if (!sandbox_can_suspend(L)) {
    lua_pushboolean(L, 0);
    lua_pushstring(L, "cannot wait for a response here: call it from the handler itself, not "
                      "inside a coroutine, a table.sort comparison or a metamethod");
    return 2;
  }
  char err[512];
  if (!sandbox_may_wait(L, err, sizeof err) ||
      ctx->host->http_start(ctx, method, url, body, len, headers, timeout_ms, err, sizeof err)) {
    lua_pushboolean(L, 0);
    lua_pushstring(L, err);
    return 2;
  }
  return sandbox_suspend(L, http_resumed);
}

/* link(url) -> short link | nil, err */
static int api_link(lua_State *L) {
  api_ctx *ctx = context(L, "c:link");
  size_t len;
  const char *url = luaL_checklstring(L, 1, &len);
  char err[256];
  char *link = ctx->host->link(ctx, url, len, err, sizeof err);
  if (!link) return fail_with(L, err);
  lua_pushstring(L, link);
  free(link);
  return 1;
}

static const luaL_Reg api_funcs[] = {{"http", api_http},{"send", api_send},
                                     {"now_ms", api_now_ms},
                                     {"timer_add", api_timer_add},
                                     {"timer_cancel", api_timer_cancel},
                                     {"drips_stop", api_drips_stop},
                                     {"zone", api_zone},
                                     {"broadcast_add", api_broadcast_add},
                                     {"contacts_page", api_contacts_page},
                                     {"broadcast_get", api_broadcast_get},
                                     {"link", api_link},
                                     {"log", api_log},
                                     {"rule", api_rule},
                                     {"no_handler", api_no_handler},
                                     {"now", api_now},
                                     {"store_json", api_store_json},
                                     {NULL, NULL}};

void lua_api_register(lua_State *L, int host) {
  host = lua_absindex(L, host);
  lua_pushvalue(L, host);
  luaL_setfuncs(L, api_funcs, 0);
  lua_pop(L, 1);
}
