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

static const luaL_Reg api_funcs[] = {{"send", api_send},
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
