#include "lua_api.h"

#include <lauxlib.h>
#include <string.h>

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
  char err[512];
  const char *status =
      ctx->host->send(ctx, to, text, len, kind, transactional, err, sizeof err);
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

static int api_now(lua_State *L) {
  api_ctx *ctx = context(L, "bot.now");
  lua_pushinteger(L, (lua_Integer)(ctx->host->now_ms(ctx) / 1000));
  return 1;
}

static int api_store_json(lua_State *L) {
  api_ctx *ctx = context(L, "bot.store");
  const char *json = ctx->host->store_json(ctx);
  lua_pushstring(L, json ? json : "{}");
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

static int api_timer_cancel(lua_State *L) {
  api_ctx *ctx = context(L, "bot.cancel");
  ctx->host->timer_cancel(ctx, (int64_t)luaL_checkinteger(L, 1));
  return 0;
}

static int api_drips_stop(lua_State *L) {
  api_ctx *ctx = context(L, "c:stop_drip");
  ctx->host->drips_stop(ctx, luaL_optstring(L, 1, NULL));
  return 0;
}

static int api_zone(lua_State *L) {
  api_ctx *ctx = context(L, "bot.at");
  lua_pushstring(L, ctx->host->zone(ctx));
  return 1;
}

static const luaL_Reg api_funcs[] = {{"send", api_send},
                                     {"now_ms", api_now_ms},
                                     {"timer_add", api_timer_add},
                                     {"timer_cancel", api_timer_cancel},
                                     {"drips_stop", api_drips_stop},
                                     {"zone", api_zone},
                                     {"log", api_log},
                                     {"now", api_now},
                                     {"store_json", api_store_json},
                                     {NULL, NULL}};

void lua_api_register(lua_State *L, int host) {
  host = lua_absindex(L, host);
  lua_pushvalue(L, host);
  luaL_setfuncs(L, api_funcs, 0);
  lua_pop(L, 1);
}
