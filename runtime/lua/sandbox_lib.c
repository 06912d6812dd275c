#include "sandbox_lib.h"

#include <lauxlib.h>
#include <ctype.h>
#include <limits.h>
#include <string.h>
#include <time.h>

#include "lua_pattern.h"
#include "sandbox.h"

/* ---- tables ----
 *
 * One unit of the instruction budget per element read or written and per
 * comparison, charged as the loops go: a C metamethod (__index = rawlen)
 * or a length invented by __len then costs what it makes the loop do. */

enum { NEED_READ = 1, NEED_WRITE = 2, NEED_LEN = 4 };

static int has_metafield(lua_State *L, const char *key, int mt) {
  lua_pushstring(L, key);
  int has = lua_rawget(L, mt) != LUA_TNIL;
  lua_pop(L, 1);
  return has;
}

/* Argument arg is a table, or something with the metamethods that let it
 * act as one for what the function needs. */
static void check_tablelike(lua_State *L, int arg, int need) {
  if (lua_type(L, arg) == LUA_TTABLE) return;
  if (lua_getmetatable(L, arg)) {
    int mt = lua_gettop(L);
    int ok = (!(need & NEED_READ) || has_metafield(L, "__index", mt)) &&
             (!(need & NEED_WRITE) || has_metafield(L, "__newindex", mt)) &&
             (!(need & NEED_LEN) || has_metafield(L, "__len", mt));
    lua_pop(L, 1);
    if (ok) return;
  }
  luaL_checktype(L, arg, LUA_TTABLE); /* raises "table expected, got ..." */
}

static lua_Integer checked_length(lua_State *L, int arg, int need) {
  check_tablelike(L, arg, need | NEED_LEN);
  return luaL_len(L, arg);
}

static void charge1(lua_State *L) {
  sandbox_charge(L, 1);
}

static void copy_element(lua_State *L, int from, lua_Integer i, int to, lua_Integer j) {
  charge1(L);
  lua_geti(L, from, i);
  lua_seti(L, to, j);
}

static int tab_insert(lua_State *L) {
  lua_Integer e = checked_length(L, 1, NEED_READ | NEED_WRITE);
  e = (lua_Integer)((lua_Unsigned)e + 1u); /* the first empty slot */
  lua_Integer pos;
  switch (lua_gettop(L)) {
    case 2:
      pos = e;
      break;
    case 3:
      pos = luaL_checkinteger(L, 2);
      /* 1 <= pos <= e, without overflowing at math.mininteger */
      luaL_argcheck(L, (lua_Unsigned)pos - 1u < (lua_Unsigned)e, 2,
                    "position out of bounds");
      for (lua_Integer i = e; i > pos; i--) copy_element(L, 1, i - 1, 1, i);
      break;
    default:
      return luaL_error(L, "wrong number of arguments to 'insert'");
  }
  lua_seti(L, 1, pos);
  return 0;
}

static int tab_remove(lua_State *L) {
  lua_Integer size = checked_length(L, 1, NEED_READ | NEED_WRITE);
  lua_Integer pos = luaL_optinteger(L, 2, size);
  if (pos != size) /* Lua 5.4.4 names argument #1 here */
    luaL_argcheck(L, (lua_Unsigned)pos - 1u <= (lua_Unsigned)size, 1,
                  "position out of bounds");
  lua_geti(L, 1, pos);
  for (; pos < size; pos++) copy_element(L, 1, pos + 1, 1, pos);
  lua_pushnil(L);
  lua_seti(L, 1, pos);
  return 1;
}

static int tab_move(lua_State *L) {
  lua_Integer f = luaL_checkinteger(L, 2);
  lua_Integer e = luaL_checkinteger(L, 3);
  lua_Integer t = luaL_checkinteger(L, 4);
  int tt = !lua_isnoneornil(L, 5) ? 5 : 1;
  check_tablelike(L, 1, NEED_READ);
  check_tablelike(L, tt, NEED_WRITE);
  if (e >= f) {
    luaL_argcheck(L, f > 0 || e < LUA_MAXINTEGER + f, 3, "too many elements to move");
    lua_Integer n = e - f + 1;
    luaL_argcheck(L, t <= LUA_MAXINTEGER - n + 1, 4, "destination wrap around");
    /* forwards unless the ranges overlap in a way that needs backwards */
    if (t > e || t <= f || (tt != 1 && !lua_compare(L, 1, tt, LUA_OPEQ))) {
      for (lua_Integer i = 0; i < n; i++) copy_element(L, 1, f + i, tt, t + i);
    } else {
      for (lua_Integer i = n - 1; i >= 0; i--) copy_element(L, 1, f + i, tt, t + i);
    }
  }
  lua_pushvalue(L, tt);
  return 1;
}

static void concat_element(lua_State *L, luaL_Buffer *b, lua_Integer i) {
  lua_geti(L, 1, i);
  if (!lua_isstring(L, -1))
    luaL_error(L, "invalid value (%s) at index %I in table for 'concat'",
               luaL_typename(L, -1), (LUAI_UACINT)i);
  size_t len;
  lua_tolstring(L, -1, &len);
  sandbox_charge(L, 1 + (long)(len / 512));
  luaL_addvalue(b);
}

static int tab_concat(lua_State *L) {
  lua_Integer last = checked_length(L, 1, NEED_READ);
  size_t lsep;
  const char *sep = luaL_optlstring(L, 2, "", &lsep);
  lua_Integer i = luaL_optinteger(L, 3, 1);
  last = luaL_optinteger(L, 4, last);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (; i < last; i++) {
    concat_element(L, &b, i);
    luaL_addlstring(&b, sep, lsep);
  }
  if (i == last) concat_element(L, &b, i);
  luaL_pushresult(&b);
  return 1;
}

static int tab_unpack(lua_State *L) {
  lua_Integer i = luaL_optinteger(L, 2, 1);
  lua_Integer e = luaL_opt(L, luaL_checkinteger, 3, luaL_len(L, 1));
  if (i > e) return 0;
  lua_Unsigned n = (lua_Unsigned)e - (lua_Unsigned)i; /* elements - 1, no overflow */
  if (n >= (unsigned int)INT_MAX || !lua_checkstack(L, (int)(++n)))
    return luaL_error(L, "too many results to unpack");
  for (; i < e; i++) {
    charge1(L);
    lua_geti(L, 1, i);
  }
  lua_geti(L, 1, e);
  return (int)n;
}

/* ---- table.sort: Lua 5.4.4's quicksort (median of three, a randomized
 * pivot once partitions turn out unbalanced), so equal elements end up in
 * the same order as in Lua; every comparison is charged. */

typedef unsigned int sort_index;
enum { SORT_RANDOM_LIMIT = 100 };

static unsigned int sort_random_seed(void) {
  clock_t c = clock();
  time_t t = time(NULL);
  unsigned int words[(sizeof c + sizeof t) / sizeof(unsigned int)];
  unsigned int seed = 0;
  memcpy(words, &c, sizeof c);
  memcpy((char *)words + sizeof c, &t, sizeof t);
  for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) seed += words[k];
  return seed;
}

/* a < b for the values at stack indices a and b (negative) */
static int sort_less(lua_State *L, int a, int b) {
  charge1(L);
  if (lua_isnil(L, 2)) return lua_compare(L, a, b, LUA_OPLT);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, a - 1);
  lua_pushvalue(L, b - 2);
  lua_call(L, 2, 1);
  int less = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return less;
}

/* t[i] = top, t[j] = the value below it */
static void sort_set2(lua_State *L, sort_index i, sort_index j) {
  lua_seti(L, 1, i);
  lua_seti(L, 1, j);
}

static void sort_get(lua_State *L, sort_index i) {
  charge1(L);
  lua_geti(L, 1, i);
}

/* The pivot P is on top and at t[up - 1]; t[lo] <= P <= t[up]. Leaves
 * t[lo .. i-1] <= t[i] == P <= t[i+1 .. up] and returns i. */
static sort_index sort_partition(lua_State *L, sort_index lo, sort_index up) {
  sort_index i = lo, j = up - 1;
  for (;;) {
    while (sort_get(L, ++i), sort_less(L, -1, -2)) {
      if (i == up - 1) luaL_error(L, "invalid order function for sorting");
      lua_pop(L, 1);
    }
    while (sort_get(L, --j), sort_less(L, -3, -1)) {
      if (j < i) luaL_error(L, "invalid order function for sorting");
      lua_pop(L, 1);
    }
    if (j < i) {
      lua_pop(L, 1);
      sort_set2(L, up - 1, i);
      return i;
    }
    sort_set2(L, i, j);
  }
}

static sort_index sort_pivot(sort_index lo, sort_index up, unsigned int seed) {
  sort_index quarter = (up - lo) / 4;
  return seed % (quarter * 2) + (lo + quarter);
}

static void sort_range(lua_State *L, sort_index lo, sort_index up, unsigned int seed) {
  while (lo < up) {
    sort_get(L, lo);
    sort_get(L, up);
    if (sort_less(L, -1, -2))
      sort_set2(L, lo, up);
    else
      lua_pop(L, 2);
    if (up - lo == 1) return;
    sort_index p = (up - lo < SORT_RANDOM_LIMIT || seed == 0)
                       ? (lo + up) / 2
                       : sort_pivot(lo, up, seed);
    sort_get(L, p);
    sort_get(L, lo);
    if (sort_less(L, -2, -1)) {
      sort_set2(L, p, lo);
    } else {
      lua_pop(L, 1);
      sort_get(L, up);
      if (sort_less(L, -1, -2))
        sort_set2(L, p, up);
      else
        lua_pop(L, 2);
    }
    if (up - lo == 2) return;
    sort_get(L, p);
    lua_pushvalue(L, -1);
    sort_get(L, up - 1);
    sort_set2(L, p, up - 1);
    p = sort_partition(L, lo, up);
    sort_index smaller;
    if (p - lo < up - p) { /* recurse into the smaller half, loop on the other */
      sort_range(L, lo, p - 1, seed);
      smaller = p - lo;
      lo = p + 1;
    } else {
      sort_range(L, p + 1, up, seed);
      smaller = up - p;
      up = p - 1;
    }
    if ((up - lo) / 128 > smaller) seed = sort_random_seed(); /* unbalanced */
  }
}

static int tab_sort(lua_State *L) {
  lua_Integer n = checked_length(L, 1, NEED_READ | NEED_WRITE);
  if (n > 1) {
    luaL_argcheck(L, n < INT_MAX, 1, "array too big");
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    sort_range(L, 1, (sort_index)n, 0);
  }
  return 0;
}

/* ---- string.rep ---- */

/* Lua's limit on a string.rep result (lstrlib.c's MAXSIZE) */
static const size_t REP_MAX =
    sizeof(size_t) < sizeof(int) ? (size_t)-1 : (size_t)INT_MAX;

static int str_rep(lua_State *L) {
  size_t l, lsep;
  const char *s = luaL_checklstring(L, 1, &l);
  lua_Integer n = luaL_checkinteger(L, 2);
  const char *sep = luaL_optlstring(L, 3, "", &lsep);
  if (n <= 0 || l + lsep == 0) { /* "" 3e8 times is "", at once */
    lua_pushliteral(L, "");
    return 1;
  }
  if (l + lsep < l || l + lsep > REP_MAX / (lua_Unsigned)n)
    return luaL_error(L, "resulting string too large");
  size_t total = (size_t)n * l + (size_t)(n - 1) * lsep;
  /* built in a buffer, then copied into the string: twice the size. A
   * result that cannot be built is Lua's catchable error; but a small one
   * (an eighth of the limit or less) that does not fit means the handler
   * is at its memory limit: the allocator stops it, as for any allocation */
  size_t left = sandbox_memory_left_collected(L, 2 * total);
  if (total > left / 2 && 2 * total > sandbox_memory_limit(L) / 8)
    return luaL_error(
        L,
        "string.rep: result of about %I bytes needs twice that while it is "
        "built, more than the memory left to this handler (%I KiB)",
        (LUAI_UACINT)total, (LUAI_UACINT)(left >> 10));
  sandbox_charge(L, (long)(n / 8 + (lua_Integer)(total / 512)));
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, total);
  for (lua_Integer i = 0; i < n; i++) {
    memcpy(p, s, l);
    p += l;
    if (lsep > 0 && i < n - 1) {
      memcpy(p, sep, lsep);
      p += lsep;
    }
  }
  luaL_pushresultsize(&b, total);
  return 1;
}

/* upper, lower, reverse: Lua 5.4.4's, charging one instruction per
 * BYTES_PER_UNIT bytes as they go, a piece at a time, so the clock is looked
 * at every few hundred microseconds of work (they take about 6 ns a byte:
 * 0.6 s for 100 MB in one call). */
enum { BYTES_PER_UNIT = 64, BYTES_PIECE = 16 * 1024 };

typedef enum { TO_UPPER, TO_LOWER, REVERSED } byte_map;

static int str_map(lua_State *L, byte_map how) {
  size_t l;
  const char *s = luaL_checklstring(L, 1, &l);
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, l);
  for (size_t done = 0; done < l;) {
    size_t end = l - done > BYTES_PIECE ? done + BYTES_PIECE : l;
    sandbox_charge(L, (long)((end - done) / BYTES_PER_UNIT) + 1);
    for (size_t i = done; i < end; i++)
      p[i] = how == TO_UPPER   ? (char)toupper((unsigned char)s[i])
             : how == TO_LOWER ? (char)tolower((unsigned char)s[i])
                               : s[l - i - 1];
    done = end;
  }
  luaL_pushresultsize(&b, l);
  return 1;
}

static int str_upper(lua_State *L) { return str_map(L, TO_UPPER); }
static int str_lower(lua_State *L) { return str_map(L, TO_LOWER); }
static int str_reverse(lua_State *L) { return str_map(L, REVERSED); }

/* ---- Lua's own functions, charged before they run ----
 *
 * Stock functions whose work is in proportion to a string they are given
 * (string.format copies or quotes its string arguments, about 50 ns a byte
 * for %q of control characters; tonumber scans its string several times;
 * utf8.len reads its range; string.pack copies its strings). Each is
 * replaced by a closure that charges the work before calling Lua's C
 * function directly, in the same call frame, so argument errors name the
 * function exactly as Lua does. A charge past the budget stops the handler
 * before the work starts; the watchdog bounds the rest to one call. */

typedef struct precharged {
  lua_CFunction stock;
  long (*cost)(lua_State *L); /* instructions, from the arguments */
} precharged;

static size_t string_bytes(lua_State *L, int from) {
  size_t n = 0;
  for (int i = from; i <= lua_gettop(L); i++)
    if (lua_type(L, i) == LUA_TSTRING) n += lua_rawlen(L, i);
  return n;
}

static long units_of(size_t bytes, size_t per_unit) {
  size_t u = bytes / per_unit;
  return u > (size_t)LONG_MAX ? LONG_MAX : (long)u;
}

static long format_cost(lua_State *L) { return units_of(string_bytes(L, 1), 16); }
static long pack_cost(lua_State *L) { return units_of(string_bytes(L, 1), 16); }

static long tonumber_cost(lua_State *L) {
  return lua_type(L, 1) == LUA_TSTRING ? units_of(lua_rawlen(L, 1), 16) : 0;
}

/* utf8.len(s [, i [, j]]): the bytes from i to j (Lua's defaults 1 and -1) */
static long utf8_len_cost(lua_State *L) {
  if (lua_type(L, 1) != LUA_TSTRING) return 0;
  lua_Integer len = (lua_Integer)lua_rawlen(L, 1), i = 1, j = -1;
  int isnum;
  lua_Integer v = lua_tointegerx(L, 2, &isnum);
  if (isnum) i = v;
  v = lua_tointegerx(L, 3, &isnum);
  if (isnum) j = v;
  if (i < 0) i = -i > len ? 0 : len + i + 1;
  if (j < 0) j = -j > len ? 0 : len + j + 1;
  if (j > len) j = len;
  return j >= i ? units_of((size_t)(j - i + 1), 64) : 0;
}

static int precharged_call(lua_State *L) {
  const precharged *p = lua_touserdata(L, lua_upvalueindex(1));
  sandbox_charge(L, p->cost(L));
  return p->stock(L); /* Lua's, in this frame: its errors name it as Lua's do */
}

/* Replaces lib.name (lib NULL: the global) with a charged closure. */
static void precharge(lua_State *L, const char *lib, const char *name,
                      long (*cost)(lua_State *L)) {
  if (lib) lua_getglobal(L, lib);
  else lua_pushglobaltable(L);
  lua_getfield(L, -1, name);
  lua_CFunction stock = lua_tocfunction(L, -1);
  lua_pop(L, 1);
  if (stock) {
    precharged *p = lua_newuserdatauv(L, sizeof *p, 0);
    *p = (precharged){stock, cost};
    lua_pushcclosure(L, precharged_call, 1);
    lua_setfield(L, -2, name);
  }
  lua_pop(L, 1);
}

/* ---- xpcall ----
 *
 * Lua calls the message handler inside the error machinery, before the
 * stack unwinds, where a looping handler would run with the limits unable
 * to stop it. Here it runs after unwinding, as ordinary code; otherwise as
 * Lua: one value from the handler, and an error inside the handler is
 * handled by the handler again, up to C's call depth limit, then "error in
 * error handling". */

enum { XPCALL_HANDLER_TRIES = 200 }; /* LUAI_MAXCCALLS */

static int xpcall_finish(lua_State *L, int status, lua_KContext extra) {
  if (status == LUA_OK || status == LUA_YIELD) return lua_gettop(L) - (int)extra;
  /* stack: f?, handler (2), true (3), error object */
  for (int tries = 0;; tries++) {
    if (tries == XPCALL_HANDLER_TRIES) {
      lua_pushboolean(L, 0);
      lua_pushliteral(L, "error in error handling");
      return 2;
    }
    lua_pushvalue(L, 2);
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) break;
  }
  lua_pushboolean(L, 0);
  lua_insert(L, -2);
  return 2;
}

static int base_xpcall(lua_State *L) {
  int n = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushboolean(L, 1); /* the first result */
  lua_pushvalue(L, 1);   /* the function */
  lua_rotate(L, 3, 2);   /* both below the function's arguments */
  int status = lua_pcallk(L, n - 2, LUA_MULTRET, 0, 2, xpcall_finish);
  return xpcall_finish(L, status, 2);
}

/* ---- load ---- */

enum { LOAD_READER_SLOT = 5 }; /* where a reader function's piece is kept */

/* The parser is C: the count hook never runs while it reads a chunk (Lua
 * 5.4.4 takes about 30 ns a byte of source, a second for 40 MB). So a
 * string chunk is handed to it in pieces of LOAD_PIECE bytes, and every
 * piece, a string's or a reader function's, is charged LOAD_UNITS_PER_BYTE
 * instructions a byte before the parser sees it: the budget and the clock
 * are looked at every piece (about a millisecond of parsing). A limit hit
 * there makes load return nil and the message, and the next instruction
 * stops the handler (the kill is sticky). */
enum { LOAD_PIECE = 32 * 1024, LOAD_UNITS_PER_BYTE = 1 };

typedef struct load_source {
  const char *s; /* what is left of the string chunk or of the function's last piece */
  size_t len;
  int from_function; /* the chunk is the reader function at index 1 */
  int refuse_binary; /* the mode allows binary chunks: refuse them here */
  int first;         /* no byte read yet */
} load_source;

/* Lua's own reader (a string, or a function returning pieces), refusing a
 * binary chunk where the mode would have let it in, handing the parser at
 * most LOAD_PIECE bytes at a time, each charged before it is parsed. */
static const char *load_read(lua_State *L, void *ud, size_t *size) {
  load_source *src = ud;
  if (src->len == 0 && src->from_function) { /* the next piece of the function's */
    luaL_checkstack(L, 2, "too many nested functions");
    lua_pushvalue(L, 1);
    lua_call(L, 0, 1);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      *size = 0;
      return NULL;
    }
    if (!lua_isstring(L, -1)) luaL_error(L, "reader function must return a string");
    lua_replace(L, LOAD_READER_SLOT); /* kept there while its slices are parsed */
    src->s = lua_tolstring(L, LOAD_READER_SLOT, &src->len);
  }
  const char *piece = src->s;
  *size = src->len < LOAD_PIECE ? src->len : LOAD_PIECE;
  if (*size == 0) return NULL; /* a string's end (an empty piece of a function's ends too) */
  src->s += *size;
  src->len -= *size;
  if (src->first) {
    src->first = 0;
    if (src->refuse_binary && piece[0] == LUA_SIGNATURE[0]) {
      lua_pushliteral(
          L, "attempt to load a binary chunk (bot scripts can load text chunks only)");
      lua_error(L);
    }
  }
  sandbox_charge(L, (long)(*size * LOAD_UNITS_PER_BYTE));
  return piece;
}

static int base_load(lua_State *L) {
  size_t len;
  const char *s = lua_tolstring(L, 1, &len);
  const char *mode = luaL_optstring(L, 3, "bt");
  int env = !lua_isnone(L, 4) ? 4 : 0;
  load_source src = {.s = s,
                     .len = len,
                     .from_function = s == NULL,
                     .refuse_binary = strchr(mode, 'b') != NULL,
                     .first = 1};
  const char *name;
  if (s != NULL) {
    name = luaL_optstring(L, 2, s);
  } else {
    name = luaL_optstring(L, 2, "=(load)");
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, LOAD_READER_SLOT);
  }
  int status = lua_load(L, load_read, &src, name, mode);
  if (status != LUA_OK) {
    luaL_pushfail(L);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushvalue(L, env ? env : lua_upvalueindex(1)); /* nil if given: as Lua */
  if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
  return 1;
}

void sandbox_lib_push_load(lua_State *L) {
  lua_pushcclosure(L, base_load, 1);
}

/* ---- installing ---- */

static void set_functions(lua_State *L, const char *lib, const luaL_Reg *funcs) {
  lua_getglobal(L, lib);
  luaL_setfuncs(L, funcs, 0);
  lua_pop(L, 1);
}

void sandbox_lib_install(lua_State *L) {
  static const luaL_Reg table_funcs[] = {{"concat", tab_concat},
                                         {"insert", tab_insert},
                                         {"remove", tab_remove},
                                         {"move", tab_move},
                                         {"unpack", tab_unpack},
                                         {"sort", tab_sort},
                                         {NULL, NULL}};
  static const luaL_Reg string_funcs[] = {{"rep", str_rep},
                                          {"upper", str_upper},
                                          {"lower", str_lower},
                                          {"reverse", str_reverse},
                                          {NULL, NULL}};
  set_functions(L, "table", table_funcs);
  set_functions(L, "string", string_funcs);
  lua_getglobal(L, "string");
  pattern_register(L, lua_gettop(L));
  lua_pop(L, 1);
  lua_pushcfunction(L, base_xpcall);
  lua_setglobal(L, "xpcall");
  precharge(L, "string", "format", format_cost);
  precharge(L, "string", "pack", pack_cost);
  precharge(L, "utf8", "len", utf8_len_cost);
  precharge(L, NULL, "tonumber", tonumber_cost);
}
