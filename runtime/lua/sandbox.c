#include "sandbox.h"

#include <lauxlib.h>
#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "gsm.h"
#include "scheduler.h"
#include "lua_api.h"
#include "lua_date.h"
#include "lua_pattern.h"
#include "sandbox_lib.h"
#include "luadata.h"
#include "sandbox_internal.h"
#include "util.h"

const sandbox_limits sandbox_default_limits = {.instructions = 10000000,
                                               .memory = 16u << 20,
                                               .time_ms = 500,
                                               .waiting_memory = (size_t)128 << 20};
/* Limits for the bot's top level and the freeze that follows. */
static const sandbox_limits load_limits = {
    .instructions = 50000000, .memory = 64u << 20, .time_ms = 5000};

/* ---- C functions the prelude wraps into the script's libraries ---- */

static int frozen_check(lua_State *L, int idx) {
  lua_getfield(L, LUA_REGISTRYINDEX, "parley.frozen");
  lua_pushvalue(L, idx);
  int frozen = lua_rawget(L, -2) != LUA_TNIL;
  lua_pop(L, 2);
  return frozen;
}

static int has_raw_gc(lua_State *L, int idx) {
  lua_pushliteral(L, "__gc");
  int has = lua_rawget(L, idx) != LUA_TNIL;
  lua_pop(L, 1);
  return has;
}

static int host_setmetatable(lua_State *L) {
  int t = lua_type(L, 2);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
  if (t == LUA_TTABLE && has_raw_gc(L, 2))
    return luaL_error(L, "setmetatable: __gc metamethods are not allowed in "
                         "bot scripts");
  if (frozen_check(L, 1))
    return luaL_error(L, "setmetatable: this table is frozen (shared by all "
                         "conversations)");
  if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
    return luaL_error(L, "cannot change a protected metatable");
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

static int host_rawset(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checkany(L, 2);
  luaL_checkany(L, 3);
  if (frozen_check(L, 1))
    return luaL_error(L, "rawset: this table is frozen (shared by all "
                         "conversations); keep per-conversation data in c.state");
  lua_settop(L, 3);
  lua_rawset(L, 1);
  return 1;
}

/* coroutine.resume, telling the watchdog which coroutine runs. While the
 * call runs, the coroutine is an argument on this thread's stack, so the
 * pointer stays valid; it is put back on every way out, errors included. */
static int host_resume(lua_State *L) {
  sandbox *sb = from_state(L);
  lua_State *co = lua_tothread(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  if (co && sb->active) atomic_store(&sb->running, co);
  int rc = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
  if (sb->active) atomic_store(&sb->running, L);
  if (rc != LUA_OK) return lua_error(L);
  return lua_gettop(L);
}

/* The handler's own coroutine (the root) stands for Lua's main thread: the
 * script cannot yield it (coroutine.yield raises Lua's error for the main
 * thread, which pcall can catch), coroutine.isyieldable() is false there and
 * coroutine.running() says it is the main one. */
static int is_root(lua_State *L, lua_State *co) {
  sandbox *sb = from_state(L);
  return sb->active && co == sb->root;
}

static int co_running(lua_State *L) {
  int ismain = lua_pushthread(L);
  lua_pushboolean(L, ismain || is_root(L, L));
  return 2;
}

static int co_isyieldable(lua_State *L) {
  lua_State *co = L;
  if (!lua_isnone(L, 1)) {
    co = lua_tothread(L, 1);
    luaL_argexpected(L, co, 1, "coroutine");
  }
  lua_pushboolean(L, lua_isyieldable(co) && !is_root(L, co));
  return 1;
}

static int co_yield(lua_State *L) {
  if (is_root(L, L)) {
    lua_pushliteral(L, "attempt to yield from outside a coroutine");
    return lua_error(L);
  }
  return lua_yield(L, lua_gettop(L));
}

/* coroutine.wrap's function: resumes through coroutine.resume (upvalue 2,
 * host_resume) and raises its error as Lua's wrap does, with the caller's
 * position in front of a string. Unlike 5.4.4's, a coroutine that failed is
 * not reset (that would run its __close handlers: see docs/sandbox.md). */
static int co_wrapped(lua_State *L) {
  int nargs = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_rotate(L, 1, 2);
  lua_call(L, nargs + 1, LUA_MULTRET);
  if (lua_toboolean(L, 1)) return lua_gettop(L) - 1;
  if (lua_type(L, 2) == LUA_TSTRING) {
    lua_settop(L, 2);
    luaL_where(L, 1);
    lua_insert(L, -2);
    lua_concat(L, 2);
  }
  return lua_error(L);
}

/* coroutine.wrap; upvalue 1: coroutine.resume (host_resume) */
static int co_wrap(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_State *co = lua_newthread(L);
  lua_pushvalue(L, 1);
  lua_xmove(L, co, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushcclosure(L, co_wrapped, 2);
  return 1;
}

/* coroutine.resume (the watchdog's), running, isyieldable, yield and wrap
 * in the VM's coroutine table, where the prelude copies them from. */
static void install_coroutine(lua_State *L) {
  static const luaL_Reg funcs[] = {{"running", co_running},
                                   {"isyieldable", co_isyieldable},
                                   {"yield", co_yield},
                                   {NULL, NULL}};
  lua_getglobal(L, "coroutine");
  luaL_setfuncs(L, funcs, 0);
  lua_getfield(L, -1, "resume");
  lua_pushcclosure(L, host_resume, 1);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "resume");
  lua_pushcclosure(L, co_wrap, 1);
  lua_setfield(L, -2, "wrap");
  lua_pop(L, 1);
}

/* host.loader(env): load, with env as the default environment */
static int host_loader(lua_State *L) {
  lua_settop(L, 1);
  sandbox_lib_push_load(L);
  return 1;
}

static int host_charge(lua_State *L) {
  sandbox_charge(L, (long)luaL_checkinteger(L, 1));
  return 0;
}

static int host_encode(lua_State *L) {
  const char *label = luaL_checkstring(L, 2);
  /* a persisted value's limits are luadata's, the same for every path
   * that writes it; other data (timer args, bodies) says its own */
  const luadata_limits *known = luadata_limits_of(label);
  luadata_limits lim = {.max_depth = LUADATA_FIELDS.max_depth,
                        .max_entries = (long)luaL_optinteger(L, 4, 10000),
                        .max_bytes = (size_t)luaL_optinteger(L, 3, 64 * 1024)};
  char err[512];
  char *json = luadata_encode(L, 1, label, known ? known : &lim, err, sizeof err);
  if (!json) { /* no position: the caller knows which handler it was */
    lua_pushstring(L, err);
    return lua_error(L);
  }
  sandbox_charge(L, (long)strlen(json) / 8);
  lua_pushstring(L, json);
  free(json);
  return 1;
}

/* Each value takes at least 16 bytes in Lua (a slot) and about 64 in the
 * decoder's tree, built in the host before Lua sees any: a text whose
 * values could not fit in twice their least Lua size in the memory left is
 * refused before it is parsed, so the host holds about three times that at
 * most. */
enum { JSON_VALUE_MIN_BYTES = 32 };

static int host_decode(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  sandbox_charge(L, (long)(n / 16));
  size_t values = luadata_json_values(s, n), left = sandbox_memory_left(L);
  if (values > left / JSON_VALUE_MIN_BYTES)
    return luaL_error(L, "JSON of %I bytes with up to %I values, more than the memory left "
                         "to this handler can hold (%I KiB)",
                      (LUAI_UACINT)n, (LUAI_UACINT)values, (LUAI_UACINT)(left >> 10));
  char err[512];
  if (luadata_decode(L, s, n, err, sizeof err)) return luaL_error(L, "%s", err);
  return 1;
}

static int host_stdlib_source(lua_State *L) {
  const embedded_file *f = stdlib_find(luaL_checkstring(L, 1));
  if (!f) return 0;
  lua_pushlstring(L, f->source, f->len);
  return 1;
}

/* The keyword form of a text: lowercased, trimmed, inner whitespace runs
 * collapsed to one space, trailing whitespace and punctuation dropped. */
static int host_normalize(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  luaL_Buffer b;
  char *out = luaL_buffinitsize(L, &b, n);
  size_t len = 0;
  int space = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (isspace(ch)) {
      space = len > 0;
      continue;
    }
    if (space) out[len++] = ' ';
    space = 0;
    out[len++] = (char)tolower(ch);
  }
  while (len > 0 && (isspace((unsigned char)out[len - 1]) ||
                     ispunct((unsigned char)out[len - 1])))
    len--;
  luaL_pushresultsize(&b, len);
  return 1;
}

/* host.first_word(text, words): of the whole words of text (runs of
 * [A-Za-z0-9_] and bytes >= 0x80, lowercased) that are keys of the table
 * words, the value with the lowest .order field, or nil. */
static int host_first_word(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  lua_pushnil(L); /* best, at 3 */
  lua_Integer best_order = 0;
  char word[64];
  size_t i = 0;
  while (i < n) {
    while (i < n && !(isalnum((unsigned char)s[i]) || s[i] == '_' ||
                      (unsigned char)s[i] >= 0x80))
      i++;
    size_t start = i;
    while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_' ||
                     (unsigned char)s[i] >= 0x80))
      i++;
    size_t len = i - start;
    if (len == 0 || len >= sizeof word) continue;
    for (size_t k = 0; k < len; k++) word[k] = (char)tolower((unsigned char)s[start + k]);
    lua_pushlstring(L, word, len);
    if (lua_rawget(L, 2) == LUA_TTABLE) {
      lua_pushliteral(L, "order");
      lua_rawget(L, -2);
      lua_Integer order = lua_tointeger(L, -1);
      lua_pop(L, 1);
      if (lua_isnil(L, 3) || order < best_order) {
        best_order = order;
        lua_replace(L, 3);
        continue;
      }
    }
    lua_pop(L, 1);
  }
  sandbox_charge(L, (long)n / 16);
  return 1;
}

static int host_duration(lua_State *L) {
  int64_t ms = clock_parse_duration(luaL_checkstring(L, 1));
  if (ms < 0) return 0;
  lua_pushinteger(L, (lua_Integer)ms);
  return 1;
}

/* local_ms("2026-03-02 10:00", zone[, lenient]) -> ms | nil, err. Lenient:
 * a time a DST change skips moves on by the gap, as the clocks do. */
static int host_local_ms(lua_State *L) {
  int64_t ms;
  char err[256];
  if (clock_parse_local_ex(luaL_checkstring(L, 1), luaL_checkstring(L, 2),
                           lua_toboolean(L, 3), &ms, err, sizeof err)) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushinteger(L, (lua_Integer)ms);
  return 1;
}

static int host_schedule_check(lua_State *L) {
  schedule sc;
  char err[256];
  if (schedule_parse(luaL_checkstring(L, 1), &sc, err, sizeof err)) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* quiet_minutes("21:00", "09:00") -> 1260, 540 | nil, err */
static int host_quiet_minutes(lua_State *L) {
  quiet_hours q;
  char err[256];
  if (quiet_parse(luaL_checkstring(L, 1), luaL_checkstring(L, 2), &q, err, sizeof err)) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushinteger(L, q.start);
  lua_pushinteger(L, q.end);
  return 2;
}

/* local_date(ms, zone) -> "2026-03-02" as the zone's calendar shows it */
static int host_local_date(lua_State *L) {
  local_time t = clock_to_local((int64_t)luaL_checkinteger(L, 1), luaL_checkstring(L, 2));
  lua_pushfstring(L, "%d-%s%d-%s%d", t.year, t.month < 10 ? "0" : "", t.month,
                  t.day < 10 ? "0" : "", t.day);
  return 1;
}

/* segments(text) -> count, "GSM-7" | "UCS-2" */
static int host_segments(lua_State *L) {
  size_t n;
  const char *text = luaL_checklstring(L, 1, &n);
  gsm_count c = gsm_count_text(text, n);
  lua_pushinteger(L, c.segments);
  lua_pushstring(L, gsm_encoding_name(c.encoding));
  return 2;
}

static int host_valid_zone(lua_State *L) {
  lua_pushboolean(L, clock_valid_zone(luaL_checkstring(L, 1)));
  return 1;
}

static const luaL_Reg host_funcs[] = {
    {"valid_zone", host_valid_zone},
    {"duration", host_duration},
    {"segments", host_segments},
    {"local_date", host_local_date},
    {"local_ms", host_local_ms},
    {"schedule_check", host_schedule_check},
    {"quiet_minutes", host_quiet_minutes},
    {"normalize", host_normalize},
    {"first_word", host_first_word},
    {"match_cased", pattern_match_cased},
    {"setmetatable", host_setmetatable},
    {"rawset", host_rawset},
    {"charge", host_charge},
    {"loader", host_loader},
    {"encode", host_encode},
    {"decode", host_decode},
    {"stdlib_source", host_stdlib_source},
    {NULL, NULL}};

static void build_host(lua_State *L) {
  lua_newtable(L);
  int host = lua_gettop(L);
  luaL_setfuncs(L, host_funcs, 0);
  lua_api_register(L, host);
  lua_date_register(L, host);
}

/* ---- shared data: snapshot after load, check after every invocation ---- */

/* rt.shared = { {kind="upvalue", f=fn, i=n, v=value, what=...},
 *               {kind="field", t=table, k=key, v=value, what=...}, ... }
 * Any difference is restored and reported. */
/* ---- the host's own calls into the VM ----
 *
 * Every Lua API call of the host that can allocate runs inside a protected
 * call on the VM's main thread, so that the allocator refusing (the VM's
 * hard cap) is an error the host handles, never a panic. Pushing the C
 * function and a light userdata allocates nothing; lua_checkstack is
 * protected by Lua itself. */
static int host_protected(sandbox *sb, lua_CFunction f, void *ud) {
  lua_State *L = sb->L;
  if (!lua_checkstack(L, 3)) return LUA_ERRMEM;
  lua_pushcfunction(L, f);
  lua_pushlightuserdata(L, ud);
  int rc = lua_pcall(L, 1, 0, 0);
  if (rc != LUA_OK) lua_pop(L, 1); /* the error object ("not enough memory" is preallocated) */
  return rc;
}

struct shared_check {
  sandbox *sb;
  char *err;
  size_t errlen;
  int changed;
};

static int check_shared_protected(lua_State *L) {
  struct shared_check *sc = lua_touserdata(L, 1);
  sandbox *sb = sc->sb;
  char *err = sc->err;
  size_t errlen = sc->errlen;
  int changed = 0;
  sandbox_push_runtime(sb);
  if (lua_getfield(L, -1, "shared") != LUA_TTABLE) return 0;
  lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, i);
    int e = lua_gettop(L);
    lua_getfield(L, e, "v");
    int same;
    if (lua_getfield(L, e, "f") == LUA_TFUNCTION) {
      lua_getfield(L, e, "i");
      int up = (int)lua_tointeger(L, -1);
      lua_pop(L, 1);
      lua_getupvalue(L, -1, up);
      same = lua_rawequal(L, -1, e + 1);
      lua_pop(L, 1);
      if (!same) {
        lua_pushvalue(L, e + 1);
        lua_setupvalue(L, -2, up);
      }
    } else {
      lua_getfield(L, e, "t");
      lua_getfield(L, e, "k");
      lua_rawget(L, -2);
      same = lua_rawequal(L, -1, e + 1);
      lua_pop(L, 1);
      if (!same) {
        lua_getfield(L, e, "k");
        lua_pushvalue(L, e + 1);
        lua_rawset(L, -3);
      }
      lua_pop(L, 1);
    }
    if (!same && !changed) {
      changed = 1;
      lua_getfield(L, e, "what");
      snprintf(err, errlen, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
      lua_pop(L, 1);
    }
    lua_settop(L, e - 1);
  }
  sc->changed = changed;
  return 0;
}

/* In a protected call: restoring a value may need memory (a table whose
 * key was removed). 1: something was changed (restored, err says what);
 * 0: nothing; -1: no memory to check (err says so). */
static int check_shared(sandbox *sb, char *err, size_t errlen) {
  struct shared_check sc = {sb, err, errlen, 0};
  if (host_protected(sb, check_shared_protected, &sc) != LUA_OK) {
    snprintf(err, errlen, "not enough memory left in the bot's VM to check the data shared by "
                          "all conversations; handler stopped");
    return -1;
  }
  return sc.changed;
}

/* ---- life cycle ---- */

static int panic(lua_State *L) {
  fprintf(stderr, "parley: unprotected Lua error: %s\n",
          lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
  abort();
}

static void copy_error(lua_State *co, char *err, size_t errlen) {
  if (lua_type(co, -1) == LUA_TSTRING)
    snprintf(err, errlen, "%s", lua_tostring(co, -1));
  else
    snprintf(err, errlen, "error object is a %s value (raise strings with error())",
             lua_typename(co, lua_type(co, -1)));
}

static sandbox_status run_protected(sandbox *sb, lua_State *co, int nargs,
                                    int *nres, void *ctx, const sandbox_budget *used,
                                    char *err, size_t errlen) {
  sb->active = 1;
  sb->root = co;
  sb->ctx = ctx;
  sb->killed = 0;
  sb->overflow = OVERFLOW_NONE;
  sb->overflow_grace = 0;
  sb->suspending = 0;
  sb->instr_used = used ? used->instructions : 0;
  sb->next_clock_check = sb->instr_used + HOOK_PERIOD;
  sb->instr_limit = sb->limits.instructions;
  sb->mem_limit = sb->limits.memory;
  sb->refusal_pending = 0;
  sb->refused_cap = 0;
  sb->host_collected = 0;
  if (used && used->owner && used->owner < sb->nowners && sb->owners[used->owner].in_use &&
      sb->owners[used->owner].suspended && sb->owners[used->owner].gen == used->owner_gen) {
    sb->cur = used->owner; /* its account goes on */
    sb->owners[sb->cur].suspended = 0;
    sb->owners[sb->cur].co = NULL;
    sb->nsuspended--;
  } else {
    sb->cur = budget_owner_new(sb);
  }
  sb->started_ns = mono_ns();
  sb->time_before_ns = used ? used->time_ns : 0;
  sb->deadline_ns = sb->started_ns - sb->time_before_ns + (int64_t)sb->limits.time_ms * 1000000;
  /* a late watchdog signal may have armed this pooled thread's hook */
  lua_sethook(co, budget_hook, LUA_MASKCOUNT, HOOK_PERIOD);
  atomic_store(&sb->running, co);
  atomic_store(&sb->watch_deadline, sb->deadline_ns);
  struct watch_slot *watch = budget_thread_slot();
  if (watch) atomic_store(&watch->sb, sb);
  int st = lua_resume(co, sb->L, nargs, nres);
  if (sb->refusal_pending && !sb->killed) budget_memory_kill(sb); /* refused, and not retried */
  if (watch) atomic_store(&watch->sb, NULL);
  atomic_store(&sb->running, NULL);
  sb->active = 0;
  sb->ctx = NULL;
  sb->refusal_pending = 0;
  uint32_t slot = sb->cur;
  sb->cur = 0;
  sandbox_status out;
  if (sb->killed) {
    snprintf(err, errlen, "%s", sb->kill_msg);
    out = SANDBOX_LIMIT;
  } else if (st == LUA_OK) {
    out = SANDBOX_OK;
  } else if (st == LUA_YIELD && sb->suspending) {
    sb->used = (sandbox_budget){.instructions = sb->instr_used,
                                .time_ns = sb->time_before_ns + (mono_ns() - sb->started_ns),
                                .memory = sb->owners[slot].own,
                                .owner = slot,
                                .owner_gen = sb->owners[slot].gen};
    sb->owners[slot].suspended = 1;
    sb->owners[slot].co = co;
    sb->nsuspended++;
    lua_settop(co, 0); /* what the suspending function yielded: nothing */
    out = SANDBOX_SUSPENDED;
  } else if (st == LUA_YIELD) {
    snprintf(err, errlen, "coroutine.yield called outside a coroutine");
    out = SANDBOX_ERROR;
  } else {
    copy_error(co, err, errlen);
    out = SANDBOX_ERROR;
  }
  sb->suspending = 0;
  char shared_err[512];
  int changed = check_shared(sb, shared_err, sizeof shared_err);
  if (changed && (out == SANDBOX_OK || out == SANDBOX_SUSPENDED)) {
    snprintf(err, errlen, "%s", shared_err);
    out = SANDBOX_ERROR;
  } else if (changed < 0 && out != SANDBOX_LIMIT) {
    snprintf(err, errlen, "%s", shared_err);
    out = SANDBOX_LIMIT;
  }
  if (out != SANDBOX_SUSPENDED) budget_owner_end(sb, slot);
  return out;
}

struct preparation {
  sandbox *sb;
  const char *entry;
  sandbox_push_fn push;
  void *ud;
  lua_State *co; /* once anchored */
  int nargs;
};

/* On the main thread, protected: takes a pooled thread (or makes one),
 * anchors it, pushes rt[entry] and the arguments, moves them to it. */
static int prepare_protected(lua_State *L) {
  struct preparation *p = lua_touserdata(L, 1);
  sandbox *sb = p->sb;
  lua_State *co;
  if (sb->npool > 0) {
    int ref = sb->pool[sb->npool - 1];
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    co = lua_tothread(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, co); /* anchored while in use */
    sb->npool--;
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
    lua_settop(co, 0);
  } else {
    co = lua_newthread(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, co); /* keep alive while in use */
  }
  p->co = co;
  lua_rawgeti(L, LUA_REGISTRYINDEX, sb->rt_ref);
  lua_getfield(L, -1, p->entry);
  lua_remove(L, -2);
  int n = p->push ? p->push(L, p->ud) : 0;
  if (!lua_checkstack(co, n + 1 + LUA_MINSTACK)) return luaL_error(L, "not enough memory");
  lua_xmove(L, co, n + 1);
  p->nargs = n;
  return 0;
}

void sandbox_push_rt_field(lua_State *L, const char *name) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, from_state(L)->rt_ref);
  lua_pushstring(L, name);
  lua_rawget(L, -2);
  lua_remove(L, -2);
}

lua_State *sandbox_prepare(sandbox *sb, const char *entry, sandbox_push_fn push, void *ud,
                           int *nargs, char *err, size_t errlen) {
  struct preparation p = {sb, entry, push, ud, NULL, 0};
  if (host_protected(sb, prepare_protected, &p) != LUA_OK) {
    if (p.co) { /* unanchored: removing a key allocates nothing */
      lua_pushnil(sb->L);
      lua_rawsetp(sb->L, LUA_REGISTRYINDEX, p.co);
    }
    snprintf(err, errlen, "not enough memory left in the bot's VM (%zu MiB in use, of at most "
                          "%zu MiB) to start this handler; handler not run",
             sb->mem_used >> 20, VM_HARD_CAP >> 20);
    return NULL;
  }
  *nargs = p.nargs;
  return p.co;
}

/* ---- math.random ----
 *
 * The generator's state belongs to the VM, which all conversations share.
 * Each invocation starts it afresh (Lua's math.randomseed(a, b)): from the
 * system's random source, so no conversation can predict another's
 * numbers; after sandbox_seed_random, from (seed, n) for the invocation's
 * number n since then, so a transcript's numbers do not depend on what ran
 * before in the VM. A resumed invocation carries on where it was. */
void sandbox_seed_random(sandbox *sb, int64_t seed) {
  sandbox_seed_random_shared(sb, seed, NULL);
}

void sandbox_seed_random_shared(sandbox *sb, int64_t seed, _Atomic int64_t *count) {
  sb->seeded = 1;
  sb->seed = seed;
  sb->seed_count = 0;
  sb->shared_count = count;
}

static int reseed_protected(lua_State *L) {
  sandbox *sb = lua_touserdata(L, 1);
  int64_t pair[2];
  if (sb->seeded) {
    pair[0] = sb->seed;
    pair[1] = sb->shared_count ? atomic_fetch_add(sb->shared_count, 1) + 1 : ++sb->seed_count;
  } else {
    /* one system call per 32 invocations (one costs about 1-3 us) */
    if (sb->nentropy < 2 && getrandom(sb->entropy, sizeof sb->entropy, GRND_NONBLOCK) ==
                                (ssize_t)sizeof sb->entropy)
      sb->nentropy = 64;
    if (sb->nentropy >= 2) {
      pair[0] = sb->entropy[--sb->nentropy];
      pair[1] = sb->entropy[--sb->nentropy];
    } else { /* no entropy yet (early boot): still varies */
      pair[0] = mono_ns();
      pair[1] = (int64_t)(intptr_t)L ^ time(NULL);
    }
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, sb->randomseed_ref);
  lua_pushinteger(L, (lua_Integer)pair[0]);
  lua_pushinteger(L, (lua_Integer)pair[1]);
  lua_call(L, 2, 0);
  return 0;
}

sandbox_status sandbox_call(sandbox *sb, lua_State *co, int nargs, int *nres,
                            void *ctx, char *err, size_t errlen) {
  *nres = 0;
  if (host_protected(sb, reseed_protected, sb) != LUA_OK) {
    snprintf(err, errlen, "not enough memory left in the bot's VM to start this handler");
    return SANDBOX_ERROR;
  }
  return run_protected(sb, co, nargs, nres, ctx, NULL, err, errlen);
}

sandbox_status sandbox_resume(sandbox *sb, lua_State *co, int *nres, void *ctx,
                              const sandbox_budget *used, char *err, size_t errlen) {
  *nres = 0;
  return run_protected(sb, co, 0, nres, ctx, used, err, errlen);
}

sandbox_budget sandbox_budget_used(sandbox *sb) { return sb->used; }

struct pooling {
  sandbox *sb;
  lua_State *co;
};

static int pool_protected(lua_State *L) {
  struct pooling *p = lua_touserdata(L, 1);
  lua_pushthread(p->co);
  lua_xmove(p->co, L, 1);
  p->sb->pool[p->sb->npool] = luaL_ref(L, LUA_REGISTRYINDEX);
  p->sb->npool++;
  return 0;
}

void sandbox_release(sandbox *sb, lua_State *co, sandbox_status st) {
  lua_State *L = sb->L;
  for (uint32_t i = 1; sb->nsuspended && i < sb->nowners; i++)
    if (sb->owners[i].in_use && sb->owners[i].suspended && sb->owners[i].co == co)
      budget_owner_end(sb, i); /* a waiting handler dropped */
  if (st == SANDBOX_OK && lua_status(co) == LUA_OK && sb->npool < POOL_MAX) {
    lua_settop(co, 0);
    /* pushthread needs one slot: a thread that just returned has them */
    struct pooling p = {sb, co};
    if (lua_checkstack(co, 1)) host_protected(sb, pool_protected, &p);
  }
  /* A killed or failed thread is dropped, never reset: resetting would run
   * the script's __close handlers outside any limit. */
  lua_pushnil(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, co);
}

/* The prelude's parts: load_part(name) compiles stdlib/internal/NAME.lua
 * (embedded; text only) and returns it. Given to the prelude only. */
static int load_part(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  char path[128], chunkname[160];
  snprintf(path, sizeof path, "internal/%s.lua", name);
  snprintf(chunkname, sizeof chunkname, "@stdlib/%s", path);
  const embedded_file *f = stdlib_find(path);
  if (!f) return luaL_error(L, "internal error: %s missing from the binary", path);
  if (luaL_loadbufferx(L, f->source, f->len, chunkname, "t") != LUA_OK) return lua_error(L);
  return 1;
}

static int load_prelude(sandbox *sb, char *err, size_t errlen) {
  lua_State *L = sb->L;
  lua_pushcfunction(L, load_part);
  lua_pushstring(L, "sandbox");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    copy_error(L, err, errlen);
    return -1;
  }
  build_host(L);
  lua_getglobal(L, "debug");
  lua_pushcfunction(L, load_part);
  if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
    copy_error(L, err, errlen);
    return -1;
  }
  sb->rt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  /* the frozen-table set the rawset/setmetatable guards consult */
  sandbox_push_runtime(sb);
  lua_getfield(L, -1, "frozen");
  lua_setfield(L, LUA_REGISTRYINDEX, "parley.frozen");
  lua_pop(L, 1);
  return 0;
}

/* Runs rt.load(files) (the bot's top level) and rt.freeze() under the load
 * limits. */
static int push_files(lua_State *L, void *ud) {
  const script *s = ud;
  lua_createtable(L, 0, (int)s->nfiles);
  for (size_t i = 0; i < s->nfiles; i++) {
    lua_pushlstring(L, s->files[i].source, s->files[i].len);
    lua_setfield(L, -2, s->files[i].path);
  }
  lua_pushstring(L, s->dir);
  lua_createtable(L, 0, (int)s->env.n); /* bot.env */
  for (size_t i = 0; i < s->env.n; i++) {
    lua_pushstring(L, s->env.values[i]);
    lua_setfield(L, -2, s->env.names[i]);
  }
  lua_newtable(L); /* where files not read from the bot's folder were read */
  for (size_t i = 0; i < s->nfiles; i++)
    if (s->files[i].label) {
      lua_pushstring(L, s->files[i].label);
      lua_setfield(L, -2, s->files[i].path);
    }
  return 4;
}

static int load_bot(sandbox *sb, const script *s, char *err, size_t errlen) {
  sb->limits = load_limits;
  int nargs, nres;
  lua_State *co = sandbox_prepare(sb, "load", push_files, (void *)s, &nargs, err, errlen);
  if (!co) return -1;
  sandbox_status st = sandbox_call(sb, co, nargs, &nres, NULL, err, errlen);
  sandbox_release(sb, co, st);
  if (st != SANDBOX_OK) return -1;
  co = sandbox_prepare(sb, "freeze", NULL, NULL, &nargs, err, errlen);
  if (!co) return -1;
  st = sandbox_call(sb, co, 0, &nres, NULL, err, errlen);
  sandbox_release(sb, co, st);
  return st == SANDBOX_OK ? 0 : -1;
}

/* lua_resume builds these messages on a thread with no error handler: if
 * that allocation failed the process would abort. Kept alive, they are
 * interned already and cost nothing to "create". */
static void keep_resume_messages(lua_State *L) {
  static const char *const msgs[] = {
      "cannot resume dead coroutine", "cannot resume non-suspended coroutine",
      "C stack overflow", "attempt to yield across a C-call boundary",
      "attempt to yield from outside a coroutine", "error in error handling"};
  lua_createtable(L, 6, 0);
  for (int i = 0; i < 6; i++) {
    lua_pushstring(L, msgs[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, LUA_REGISTRYINDEX, "parley.messages");
}

static void sandbox_start(void) {
  pattern_set_charge(budget_pattern_charge);
  budget_watchdog_start();
}

sandbox *sandbox_open(const script *s, char *err, size_t errlen) {
  static pthread_once_t ready = PTHREAD_ONCE_INIT;
  pthread_once(&ready, sandbox_start);
  sandbox *sb = xcalloc(1, sizeof *sb);
  sb->limits = sandbox_default_limits;
  sb->owners = xcalloc(1, sizeof *sb->owners); /* the host's */
  sb->owners[0].in_use = 1;
  sb->nowners = 1;
  sb->L = lua_newstate(budget_alloc, sb);
  if (!sb->L) {
    free(sb->owners);
    free(sb);
    snprintf(err, errlen, "cannot create a Lua state");
    return NULL;
  }
  *(sandbox **)lua_getextraspace(sb->L) = sb;
  lua_atpanic(sb->L, panic);
  /* before any thread exists: threads inherit the hook when created */
  lua_sethook(sb->L, budget_hook, LUA_MASKCOUNT, HOOK_PERIOD);
  luaL_openlibs(sb->L);
  lua_getglobal(sb->L, "math");
  lua_getfield(sb->L, -1, "randomseed");
  sb->randomseed_ref = luaL_ref(sb->L, LUA_REGISTRYINDEX);
  lua_pop(sb->L, 1);
  sandbox_lib_install(sb->L);
  install_coroutine(sb->L);
  keep_resume_messages(sb->L);
  if (load_prelude(sb, err, errlen) != 0 || load_bot(sb, s, err, errlen) != 0) {
    bot_env_mask_into(&s->env, err, errlen); /* its top level may quote bot.env */
    sandbox_close(sb);
    return NULL;
  }
  sb->limits = sandbox_default_limits;
  lua_gc(sb->L, LUA_GCCOLLECT);
  return sb;
}

void sandbox_close(sandbox *sb) {
  if (!sb) return;
  lua_close(sb->L);
  free(sb->owners);
  free(sb);
}

void sandbox_set_limits(sandbox *sb, const sandbox_limits *lim) {
  sb->limits = *lim;
}

const sandbox_limits *sandbox_limits_of(sandbox *sb) { return &sb->limits; }

void sandbox_push_runtime(sandbox *sb) {
  lua_rawgeti(sb->L, LUA_REGISTRYINDEX, sb->rt_ref);
}

lua_State *sandbox_main(sandbox *sb) { return sb->L; }

sandbox_stats sandbox_stats_of(sandbox *sb) {
  return (sandbox_stats){.memory = sb->mem_used, .peak_memory = sb->mem_peak};
}
