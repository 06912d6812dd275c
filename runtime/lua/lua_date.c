#include "lua_date.h"

#include <lauxlib.h>
#include <string.h>

#include "date.h"
#include "sandbox.h"

/* What each call costs, in instructions of the budget, charged before the
 * work: about 100 a microsecond of ICU's CPU time per call on the 2-core
 * development machine. */
enum {
  CHARGE_PARSE = 1000,        /* about 8 us */
  CHARGE_FORMAT_NEW = 8000,   /* 35 to 75 us: a formatter is built */
  CHARGE_FORMAT_KEPT = 300,   /* about 2 us with a kept formatter */
  CHARGE_ADD = 1200,          /* 7 to 10 us */
  CHARGE_PARTS = 600,         /* about 4 us */
  CHARGE_START_OF_DAY = 1200, /* about 8 us */
  CHARGE_AGE = 3000           /* about 27 us */
};

/* The VM's kept formatters (date.h), in the registry under this address's
 * key, freed when the VM is closed. */
static const char KEPT_KEY = 0;

static int kept_free(lua_State *L) {
  date_formatters **kept = lua_touserdata(L, 1);
  if (kept && *kept) date_formatters_free(*kept);
  if (kept) *kept = NULL;
  return 0;
}

static date_formatters *kept_formatters(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEPT_KEY);
  date_formatters **kept = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return kept ? *kept : NULL;
}

/* Charges a call before its work; a limit it reaches is raised with the
 * script's line (the first frame outside the prelude, which wraps these). */
static void charge(lua_State *L, long units) {
  if (sandbox_charge_nothrow(L, units)) sandbox_charge(L, 0);
}

static int fail(lua_State *L, const char *err) {
  lua_pushnil(L);
  lua_pushstring(L, err);
  return 2;
}

/* A string argument of at most max bytes without NULs, or NULL with the
 * refusal pushed (nil, err). */
static const char *bounded(lua_State *L, int arg, size_t max, const char *what,
                           size_t *len) {
  size_t n;
  const char *s = luaL_checklstring(L, arg, &n);
  if (n > max || memchr(s, 0, n)) {
    lua_pushnil(L);
    if (n > max)
      lua_pushfstring(L, "%s is %I bytes; the limit is %d", what, (LUAI_UACINT)n,
                      (int)max);
    else
      lua_pushfstring(L, "%s contains a NUL byte", what);
    return NULL;
  }
  if (len) *len = n;
  return s;
}

#define BOUNDED(var, arg, max, what, len)            \
  const char *var = bounded(L, arg, max, what, len); \
  if (!var) return 2

/* date_parse(text, zone) -> seconds | nil, err */
static int date_parse_fn(lua_State *L) {
  size_t len;
  BOUNDED(text, 1, DATE_MAX_TEXT, "the date", &len);
  BOUNDED(zone, 2, DATE_MAX_ZONE, "the zone", NULL);
  charge(L, CHARGE_PARSE);
  char err[256];
  int64_t t;
  if (date_parse(text, len, zone, &t, err, sizeof err)) return fail(L, err);
  lua_pushinteger(L, (lua_Integer)t);
  return 1;
}

/* date_format(t, pattern, zone, locale) -> text | nil, err */
static int date_format_fn(lua_State *L) {
  lua_Integer t = luaL_checkinteger(L, 1);
  size_t plen;
  BOUNDED(pattern, 2, DATE_MAX_PATTERN, "the pattern", &plen);
  BOUNDED(zone, 3, DATE_MAX_ZONE, "the zone", NULL);
  BOUNDED(locale, 4, DATE_MAX_LOCALE, "the locale", NULL);
  date_formatters *kept = kept_formatters(L);
  charge(L, date_format_is_kept(kept, (int64_t)t, pattern, plen, zone, locale)
                ? CHARGE_FORMAT_KEPT
                : CHARGE_FORMAT_NEW);
  char out[DATE_MAX_OUTPUT], err[256];
  if (date_format(kept, (int64_t)t, pattern, plen, zone, locale, out, sizeof out, err,
                  sizeof err))
    return fail(L, err);
  lua_pushstring(L, out);
  return 1;
}

/* date_add(t, years, months, weeks, days, hours, minutes, seconds, zone)
 * -> seconds | nil, err */
static int date_add_fn(lua_State *L) {
  lua_Integer t = luaL_checkinteger(L, 1);
  date_amounts a = {
      .years = (int64_t)luaL_checkinteger(L, 2),
      .months = (int64_t)luaL_checkinteger(L, 3),
      .weeks = (int64_t)luaL_checkinteger(L, 4),
      .days = (int64_t)luaL_checkinteger(L, 5),
      .hours = (int64_t)luaL_checkinteger(L, 6),
      .minutes = (int64_t)luaL_checkinteger(L, 7),
      .seconds = (int64_t)luaL_checkinteger(L, 8),
  };
  BOUNDED(zone, 9, DATE_MAX_ZONE, "the zone", NULL);
  charge(L, CHARGE_ADD);
  char err[256];
  int64_t out;
  if (date_add((int64_t)t, &a, zone, &out, err, sizeof err)) return fail(L, err);
  lua_pushinteger(L, (lua_Integer)out);
  return 1;
}

static void set_int(lua_State *L, const char *k, int v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

/* date_parts(t, zone) -> { year, month, day, hour, min, sec, wday, yday,
 * isdst } | nil, err */
static int date_parts_fn(lua_State *L) {
  lua_Integer t = luaL_checkinteger(L, 1);
  BOUNDED(zone, 2, DATE_MAX_ZONE, "the zone", NULL);
  charge(L, CHARGE_PARTS);
  char err[256];
  date_parts p;
  if (date_to_parts((int64_t)t, zone, &p, err, sizeof err)) return fail(L, err);
  lua_createtable(L, 0, 9);
  set_int(L, "year", p.year);
  set_int(L, "month", p.month);
  set_int(L, "day", p.day);
  set_int(L, "hour", p.hour);
  set_int(L, "min", p.min);
  set_int(L, "sec", p.sec);
  set_int(L, "wday", p.wday);
  set_int(L, "yday", p.yday);
  lua_pushboolean(L, p.isdst);
  lua_setfield(L, -2, "isdst");
  return 1;
}

/* date_start_of_day(t, zone) -> seconds | nil, err */
static int date_start_of_day_fn(lua_State *L) {
  lua_Integer t = luaL_checkinteger(L, 1);
  BOUNDED(zone, 2, DATE_MAX_ZONE, "the zone", NULL);
  charge(L, CHARGE_START_OF_DAY);
  char err[256];
  int64_t out;
  if (date_start_of_day((int64_t)t, zone, &out, err, sizeof err)) return fail(L, err);
  lua_pushinteger(L, (lua_Integer)out);
  return 1;
}

/* date_age(birthday, at, zone) -> years | nil, err */
static int date_age_fn(lua_State *L) {
  size_t len;
  BOUNDED(birthday, 1, DATE_MAX_TEXT, "the birthday", &len);
  lua_Integer at = luaL_checkinteger(L, 2);
  BOUNDED(zone, 3, DATE_MAX_ZONE, "the zone", NULL);
  charge(L, CHARGE_AGE);
  char err[256];
  int years;
  if (date_age(birthday, len, (int64_t)at, zone, &years, err, sizeof err))
    return fail(L, err);
  lua_pushinteger(L, years);
  return 1;
}

static const luaL_Reg date_funcs[] = {{"date_parse", date_parse_fn},
                                      {"date_format", date_format_fn},
                                      {"date_add", date_add_fn},
                                      {"date_parts", date_parts_fn},
                                      {"date_start_of_day", date_start_of_day_fn},
                                      {"date_age", date_age_fn},
                                      {NULL, NULL}};

void lua_date_register(lua_State *L, int host) {
  host = lua_absindex(L, host);
  lua_pushvalue(L, host);
  luaL_setfuncs(L, date_funcs, 0);
  lua_pop(L, 1);
  /* without them (no memory), every format builds its formatter */
  date_formatters **kept = lua_newuserdatauv(L, sizeof *kept, 0);
  *kept = date_formatters_new();
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, kept_free);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &KEPT_KEY);
}
