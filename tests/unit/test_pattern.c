/*
 * Unit test for runtime/lua/lua_pattern.c: the bounded string.find / match /
 * gmatch / gsub must return exactly what Lua 5.4's own functions return,
 * and runaway matches must be stopped by the charge function.
 *
 * Build and run:
 *   gcc -std=c11 -O2 -Wall -Wextra -Werror -I/usr/include/lua5.4 -Iruntime \
 *       tests/unit/test_pattern.c runtime/lua/lua_pattern.c -llua5.4 -lm \
 *       -o /tmp/test_pattern && /tmp/test_pattern
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "lua_pattern.h"

static int n_passed, n_failed;

static void check(int ok, const char *desc) {
  int n = n_passed + n_failed + 1;
  if (ok) n_passed++; else n_failed++;
  printf("%s %d - %s\n", ok ? "ok" : "not ok", n, desc);
}

/* ---- test charge function: a total budget over all charged steps ---- */

static long budget_limit = -1;  /* -1: unlimited */
static long total_steps, charge_calls, min_chunk;
static lua_State *last_state;

static void test_charge(lua_State *L, long steps) {
  total_steps += steps;
  charge_calls++;
  if (min_chunk == 0 || steps < min_chunk) min_chunk = steps;
  last_state = L;
  if (budget_limit >= 0 && total_steps > budget_limit)
    luaL_error(L, "match budget exceeded");
}

/* ---- helpers visible to the Lua harness ---- */

static int l_check(lua_State *L) {
  check(lua_toboolean(L, 1), luaL_checkstring(L, 2));
  return 0;
}

static int l_now(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

/* budget(limit): resets the counters and sets the limit (-1 = none) */
static int l_budget(lua_State *L) {
  budget_limit = (long)luaL_checkinteger(L, 1);
  total_steps = charge_calls = min_chunk = 0;
  return 0;
}

/* stats() -> total steps, number of charge calls, smallest report */
static int l_stats(lua_State *L) {
  lua_pushinteger(L, total_steps);
  lua_pushinteger(L, charge_calls);
  lua_pushinteger(L, min_chunk);
  return 3;
}

static int l_thread_ptr(lua_State *L) {
  lua_pushlightuserdata(L, (void *)L);
  return 1;
}

static int l_last_thread(lua_State *L) {
  lua_pushlightuserdata(L, (void *)last_state);
  return 1;
}

static int l_set_charge(lua_State *L) {
  pattern_set_charge(lua_toboolean(L, 1) ? test_charge : NULL);
  return 0;
}

static const char harness[] =
  "-- Compares bstring.X(...) with string.X(...) for a list of cases, then\n"
  "-- checks the step budget. 'check', 'now', 'budget', 'stats', 'thread_ptr'\n"
  "-- and 'last_thread' are provided by the C side.\n"
  "local bstring, check, now = bstring, check, now\n"
  "\n"
  "local function ser(v)\n"
  "  local t = type(v)\n"
  "  if t == 'string' then return (string.format('%q', v))\n"
  "  elseif t == 'number' then return math.type(v) .. ':' .. tostring(v)\n"
  "  elseif t == 'table' then\n"
  "    local parts = {}\n"
  "    local n = v.n or #v\n"
  "    for i = 1, n do parts[i] = ser(v[i]) end\n"
  "    return '{n=' .. n .. ':' .. table.concat(parts, ',') .. '}'\n"
  "  else return tostring(v) end\n"
  "end\n"
  "\n"
  "local templates = {\n"
  "  call = [[\n"
  "local X = ...\n"
  "return function() return table.pack(X.%s(%s)) end\n"
  "]],\n"
  "  gmatch = [[\n"
  "local X = ...\n"
  "return function()\n"
  "  local it = X.gmatch(%s)\n"
  "  local out = {n = 0}\n"
  "  while out.n < 1000 do\n"
  "    local r = table.pack(it())\n"
  "    if r[1] == nil then break end\n"
  "    out.n = out.n + 1; out[out.n] = r\n"
  "  end\n"
  "  return out\n"
  "end\n"
  "]],\n"
  "}\n"
  "\n"
  "local function run(fname, args, lib)\n"
  "  local code\n"
  "  if fname == 'gmatch' then code = string.format(templates.gmatch, args)\n"
  "  else code = string.format(templates.call, fname, args) end\n"
  "  local chunk = assert(load(code, '=case', 't'))\n"
  "  local f = chunk(lib)\n"
  "  return ser(table.pack(pcall(f)))\n"
  "end\n"
  "\n"
  "local cases = {\n"
  "  -- find: plain, init, anchors, captures\n"
  "  {'find', [['hello world', 'o w']]},\n"
  "  {'find', [['hello world', 'o', 6]]},\n"
  "  {'find', [['hello world', 'l+']]},\n"
  "  {'find', [['hello world', '(h)(e)(l+)']]},\n"
  "  {'find', [['hello', '()ll()']]},\n"
  "  {'find', [['hello', '', 10]]},\n"
  "  {'find', [['hello', '', 6]]},\n"
  "  {'find', [['hello', 'l', 7]]},\n"
  "  {'find', [['hello', 'l', -2]]},\n"
  "  {'find', [['hello', 'l', -100]]},\n"
  "  {'find', [['hello', 'h', 0]]},\n"
  "  {'find', [['hello', 'l', math.mininteger]]},\n"
  "  {'find', [['hello', 'l', math.maxinteger]]},\n"
  "  {'find', [['a.b', '.', 1, true]]},\n"
  "  {'find', [['a+b', '+', 1, true]]},\n"
  "  {'find', [['a+b', 'x', 1, true]]},\n"
  "  {'find', [['aaab', 'aab', 1, true]]},\n"
  "  {'find', [['hello', '^h']]},\n"
  "  {'find', [['hello', '^e']]},\n"
  "  {'find', [['hello', '^l', 3]]},\n"
  "  {'find', [['hello', 'o$']]},\n"
  "  {'find', [['hello$', '$']]},\n"
  "  {'find', [['a$b', 'a$b']]},\n"
  "  {'find', [['THE (quick) fox', '%((%a+)%)']]},\n"
  "  {'find', [['f(a(b)c)d', '%b()']]},\n"
  "  {'find', [['f(a(b)c d', '%b()']]},\n"
  "  {'find', [['THE (quick) fox', '%f[%a]%a+', 5]]},\n"
  "  {'find', [['hello world from lua', '%f[%w]%w+$']]},\n"
  "  {'find', [['THE (quick) fox', '%f[%l]']]},\n"
  "  {'find', [['a\\0b\\0c', '%z']]},\n"
  "  {'find', [['a\\0b', '\\0b']]},\n"
  "  {'find', [['a\\0b', '[\\0]']]},\n"
  "  {'find', [['key = value', '(%w+)%s*=%s*(%w+)']]},\n"
  "  {'find', [['aaa', 'a-b']]},\n"
  "  {'find', [['aaab', 'a-b']]},\n"
  "  {'find', [['abc', '[a-c]+']]},\n"
  "  {'find', [==['a]b', '[]]']==]},\n"
  "  {'find', [['a-b', '[a%-]+']]},\n"
  "  {'find', [['x^y', '[%^x]+']]},\n"
  "  {'find', [['x^y', '[x^]+']]},\n"
  "  {'find', [['abc123', '[^%d]+']]},\n"
  "  {'find', [['hello hello', '(h%w+) %1']]},\n"
  "  {'find', [['abcabc', '(a)(b)(c)%1']]},\n"
  "  {'find', [['\\255\\128abc', '[\\128-\\255]+']]},\n"
  "  {'find', [[12345, 3]]},\n"
  "  {'find', [['abc', '.-', 4]]},\n"
  "  -- match\n"
  "  {'match', [['  trim me  ', '^%s*(.-)%s*$']]},\n"
  "  {'match', [['2024-01-15', '(%d+)-(%d+)-(%d+)']]},\n"
  "  {'match', [['hello', '()']]},\n"
  "  {'match', [['hello', '.-(l*)()']]},\n"
  "  {'match', [['hello', 'x']]},\n"
  "  {'match', [['abc', '((a)(b))']]},\n"
  "  {'match', [['hello', 'h?e?l*o?']]},\n"
  "  {'match', [==['[[x]]', '%[(%b[])%]']==]},\n"
  "  {'match', [['abc def', '%g+']]},\n"
  "  {'match', [['a.b', '%.(.)']]},\n"
  "  {'match', [['hello', 'l', -2]]},\n"
  "  {'match', [['hello', '()', 100]]},\n"
  "  {'match', [['hello', '()', 6]]},\n"
  "  {'match', [['  x', '^%s*()']]},\n"
  "  {'match', [['AbC', '%u%l%u']]},\n"
  "  {'match', [['a,b;c', '[%p]']]},\n"
  "  {'match', [['\\t\\n x', '%S']]},\n"
  "  {'match', [['0x1F', '0x(%x+)']]},\n"
  "  {'match', [['abc', '%A*']]},\n"
  "  {'match', [[('a'):rep(32), ('(a)'):rep(32)]]},\n"
  "  -- gmatch (including 5.4 init argument and empty matches)\n"
  "  {'gmatch', [['one two three', '%a+']]},\n"
  "  {'gmatch', [['k1=v1, k2=v2', '(%w+)=(%w+)']]},\n"
  "  {'gmatch', [['abc', '']]},\n"
  "  {'gmatch', [['abc', '%w*']]},\n"
  "  {'gmatch', [['ab  cd', '%w*']]},\n"
  "  {'gmatch', [['hello world', '%a+', 7]]},\n"
  "  {'gmatch', [['hello', '.', -2]]},\n"
  "  {'gmatch', [['hello', '.', 100]]},\n"
  "  {'gmatch', [['hello', '', 6]]},\n"
  "  {'gmatch', [['hello', '', -100]]},\n"
  "  {'gmatch', [['^a^a', '^a']]},\n"
  "  {'gmatch', [['abc', '()']]},\n"
  "  {'gmatch', [['(a)(b(c))', '%b()']]},\n"
  "  {'gmatch', [['THE (quick) fox', '%f[%a]%a']]},\n"
  "  {'gmatch', [['abc', '[a']]},\n"
  "  -- gsub\n"
  "  {'gsub', [['hello world', 'o', '0']]},\n"
  "  {'gsub', [['hello world', '(%w+)', '<%1>']]},\n"
  "  {'gsub', [['hello world', '%w+', '%0 %0']]},\n"
  "  {'gsub', [['abc', '%w*', '-']]},\n"
  "  {'gsub', [['abc', '', '-']]},\n"
  "  {'gsub', [['ab  cd', '%w*', '-']]},\n"
  "  {'gsub', [['hello', 'l', 'L', 1]]},\n"
  "  {'gsub', [['hello', 'l', 'L', 0]]},\n"
  "  {'gsub', [['hello', 'l', 'L', -1]]},\n"
  "  {'gsub', [['abc', '', '-', 2]]},\n"
  "  {'gsub', [['hello world', '%w+', {hello = 'HI'}]]},\n"
  "  {'gsub', [['hello world', '%w+', function(w) return w:upper() end]]},\n"
  "  {'gsub', [['hello world', '%w+', function(w) return nil end]]},\n"
  "  {'gsub', [['hello world', '%w+', function(w) return false end]]},\n"
  "  {'gsub', [['hello world', '(%w)(%w*)', function(a, b) return b .. a end]]},\n"
  "  {'gsub', [['abc', '%w', function(c) return c:byte() end]]},\n"
  "  {'gsub', [['abc', '%w', 5]]},\n"
  "  {'gsub', [['abc', '%w', 2.5]]},\n"
  "  {'gsub', [['a,b', ',', '%%']]},\n"
  "  {'gsub', [['hello', '(l)(l)', '%2%1']]},\n"
  "  {'gsub', [['hello', '()l', '%1']]},\n"
  "  {'gsub', [['hello', '()l', '[%0]']]},\n"
  "  {'gsub', [['abc', '()', {[1] = 'x', [3] = 'y'}]]},\n"
  "  {'gsub', [['hello', '^h', 'H']]},\n"
  "  {'gsub', [['hello', '^x', 'H']]},\n"
  "  {'gsub', [['hello world', '(%w+) (%w+)', '%2 %1']]},\n"
  "  {'gsub', [['x = 1, y = 2', '(%w+) = (%w+)', '%2 = %1']]},\n"
  "  {'gsub', [['hello world', '%f[%w]%w', '%0%0']]},\n"
  "  {'gsub', [['abc', 'b', '%9']]},\n"
  "  {'gsub', [['abc', 'b', '%x']]},\n"
  "  {'gsub', [['abc', 'b', 'x%']]},\n"
  "  {'gsub', [['abc', '(b)', '%2']]},\n"
  "  {'gsub', [['abc', '(b', '%1']]},\n"
  "  {'gsub', [['abc', '%w', {a = 1, b = true}]]},\n"
  "  {'gsub', [['abc', '%w', {a = {}}]]},\n"
  "  {'gsub', [['abc', '%w', function() return {} end]]},\n"
  "  {'gsub', [['abc', '%w', function() error('boom') end]]},\n"
  "  {'gsub', [['hello', 'l', nil]]},\n"
  "  {'gsub', [['hello', 'l', true]]},\n"
  "  {'gsub', [['hello', 'l', 'L', 'x']]},\n"
  "  {'gsub', [[123, 2, 9]]},\n"
  "  {'gsub', [['a\\0b\\0', '%z', '<%0>']]},\n"
  "  -- errors\n"
  "  {'find', [['abc', '[a']]},\n"
  "  {'find', [['abc', '[a', 1, true]]},\n"
  "  {'find', [['abc', '%']]},\n"
  "  {'find', [['abc', 'a%']]},\n"
  "  {'find', [['abc', '(%1)']]},\n"
  "  {'find', [['abc', '%1']]},\n"
  "  {'find', [['abc', 'a)']]},\n"
  "  {'find', [['abc', '%fa']]},\n"
  "  {'find', [['abc', ('()'):rep(33)]]},\n"
  "  {'match', [[('a'):rep(33), ('(a)'):rep(33)]]},\n"
  "  {'find', [['abc', '%b']]},\n"
  "  {'find', [['abc', '%b(']]},\n"
  "  {'find', [['abc', '[%']]},\n"
  "  {'find', [['abc', '[]']]},\n"
  "  {'find', [['abc', '[^]']]},\n"
  "  {'match', [['abc', '(a']]},\n"
  "  {'find', [['abc', '(a']]},\n"
  "  {'find', [[nil, 'a']]},\n"
  "  {'find', [['abc']]},\n"
  "  {'find', [['abc', 'a', 'x']]},\n"
  "  {'find', [['abc', 'a', 1.5]]},\n"
  "  {'match', [[{}, 'a']]},\n"
  "  {'gmatch', [['abc', '%']]},\n"
  "  {'gmatch', [[nil, 'a']]},\n"
  "  {'find', [[('a'):rep(300), ('a?'):rep(300)]]},\n"
  "  {'gsub', [[('a'):rep(300), ('a?'):rep(300), '']]},\n"
  "}\n"
  "\n"
  "for _, c in ipairs(cases) do\n"
  "  local fname, args = c[1], c[2]\n"
  "  local want = run(fname, args, string)\n"
  "  local got = run(fname, args, bstring)\n"
  "  local desc = fname .. '(' .. args .. ')'\n"
  "  if #desc > 70 then desc = desc:sub(1, 67) .. '...' end\n"
  "  if want == got then\n"
  "    check(true, desc .. ' => ' .. (#want > 60 and want:sub(1, 57) .. '...' or want))\n"
  "  else\n"
  "    check(false, desc .. '\\n#   want: ' .. want .. '\\n#   got:  ' .. got)\n"
  "  end\n"
  "end\n"
  "\n"
  "-- results must also be identical with no charge function at all\n"
  "do\n"
  "  set_charge(false)\n"
  "  local ok = true\n"
  "  for _, c in ipairs(cases) do\n"
  "    if run(c[1], c[2], string) ~= run(c[1], c[2], bstring) then ok = false end\n"
  "  end\n"
  "  set_charge(true)\n"
  "  check(ok, 'all ' .. #cases .. ' cases also identical with no charge function')\n"
  "end\n"
  "\n"
  "---------------------------------------------------------------------------\n"
  "-- budget\n"
  "---------------------------------------------------------------------------\n"
  "\n"
  "local BUDGET_MSG = 'match budget exceeded'\n"
  "-- luaL_error prefixes the position of the Lua code that called the string\n"
  "-- function, so compare the end of the message\n"
  "local function is_budget_error(r)\n"
  "  return r[1] == false and type(r[2]) == 'string' and\n"
  "         r[2]:sub(-#BUDGET_MSG) == BUDGET_MSG\n"
  "end\n"
  "\n"
  "-- runs f under a total budget of 'limit' steps; returns pcall results,\n"
  "-- elapsed seconds and the charged steps\n"
  "local function budgeted(limit, f)\n"
  "  budget(limit)\n"
  "  local t0 = now()\n"
  "  local r = table.pack(pcall(f))\n"
  "  local dt = now() - t0\n"
  "  local total, calls, minchunk = stats()\n"
  "  budget(-1)\n"
  "  return r, dt, total, calls, minchunk\n"
  "end\n"
  "\n"
  "do\n"
  "  local s, p = ('a'):rep(100), ('.-'):rep(6) .. 'b'\n"
  "  local r, dt = budgeted(10000000, function() return bstring.find(s, p) end)\n"
  "  check(is_budget_error(r),\n"
  "        string.format('runaway find raises %q (got %s)', BUDGET_MSG, tostring(r[2])))\n"
  "  check(dt < 1.0, string.format('runaway find aborted in %.3f s (< 1 s)', dt))\n"
  "  r, dt = budgeted(10000000, function() return bstring.match(s, p) end)\n"
  "  check(is_budget_error(r) and dt < 1.0,\n"
  "        string.format('runaway match aborted in %.3f s', dt))\n"
  "  r, dt = budgeted(10000000, function()\n"
  "    for x in bstring.gmatch(s, p) do end end)\n"
  "  check(is_budget_error(r) and dt < 1.0,\n"
  "        string.format('runaway gmatch aborted in %.3f s', dt))\n"
  "  r, dt = budgeted(10000000, function() return bstring.gsub(s, p, '') end)\n"
  "  check(is_budget_error(r) and dt < 1.0,\n"
  "        string.format('runaway gsub aborted in %.3f s', dt))\n"
  "end\n"
  "\n"
  "do  -- gsub with a huge number of matches gets charged\n"
  "  local n = 1000000\n"
  "  local s = ('a'):rep(n)\n"
  "  local r, _, total, calls, minchunk = budgeted(-1, function()\n"
  "    return bstring.gsub(s, 'a', 'b') end)\n"
  "  check(r[1] == true and r[2] == ('b'):rep(n) and r[3] == n,\n"
  "        'gsub with 1e6 matches returns the right result')\n"
  "  check(total >= 2 * n, string.format('gsub with 1e6 matches charged %d steps (>= %d)', total, 2 * n))\n"
  "  check(calls >= (2 * n) // 1024 and minchunk >= 1,\n"
  "        string.format('charged in %d calls, smallest report %d', calls, minchunk))\n"
  "  r = budgeted(100000, function() return bstring.gsub(s, 'a', 'b') end)\n"
  "  check(is_budget_error(r), 'gsub with 1e6 matches stopped by a 1e5 budget')\n"
  "  r = budgeted(100000, function() return bstring.gsub(s, 'x', 'b') end)\n"
  "  check(is_budget_error(r), 'gsub with no match over 1e6 chars stopped by a 1e5 budget')\n"
  "  r = budgeted(100000, function() local c = 0 for _ in bstring.gmatch(s, 'a') do c = c + 1 end return c end)\n"
  "  check(is_budget_error(r), 'gmatch over 1e6 matches stopped by a 1e5 budget')\n"
  "end\n"
  "\n"
  "do  -- reports come in chunks of 1024 and the remainder at the end\n"
  "  local r, _, total, calls = budgeted(-1, function() return bstring.find('hello', 'l') end)\n"
  "  check(r[2] == 3 and calls == 1 and total > 0 and total < 1024,\n"
  "        string.format('small find reports its %d steps once at the end (%d calls)', total, calls))\n"
  "  r, _, total, calls = budgeted(-1, function() return bstring.find(('a'):rep(5000), 'ab', 1, true) end)\n"
  "  check(r[2] == nil and total >= 4999, string.format('plain find with 4999 candidate positions charged %d steps', total))\n"
  "end\n"
  "\n"
  "do  -- the charge function gets the state the function was called in\n"
  "  local co = coroutine.create(function()\n"
  "    local me = thread_ptr()\n"
  "    bstring.find(('a'):rep(3000), '.-b')\n"
  "    local a = last_thread()\n"
  "    bstring.gsub(('a'):rep(3000), 'a', 'b')\n"
  "    local b = last_thread()\n"
  "    return me, a, b\n"
  "  end)\n"
  "  local ok, me, a, b = coroutine.resume(co)\n"
  "  check(ok and me ~= thread_ptr() and a == me and b == me,\n"
  "        'find/gsub in a coroutine charge the coroutine state')\n"
  "  local it = bstring.gmatch(('a'):rep(5000), 'a')\n"
  "  it()\n"
  "  check(last_thread() == thread_ptr(), 'gmatch iterator in main thread charges main state')\n"
  "  co = coroutine.create(function()\n"
  "    local me = thread_ptr()\n"
  "    for _ = 1, 2000 do it() end\n"
  "    return me, last_thread()\n"
  "  end)\n"
  "  local me2, lt\n"
  "  ok, me2, lt = coroutine.resume(co)\n"
  "  check(ok and lt == me2 and me2 ~= thread_ptr(),\n"
  "        'gmatch iterator called in a coroutine charges the coroutine state')\n"
  "end\n"
  "\n"
  "do  -- work hidden inside one step is charged too\n"
  "  local s = ('a'):rep(200000)\n"
  "  local r, dt = budgeted(10000000, function() return bstring.find(s, '(.*)%1x') end)\n"
  "  check(is_budget_error(r) and dt < 1.0,\n"
  "        string.format('long back-reference comparisons aborted in %.3f s', dt))\n"
  "  local p = '[' .. ('b'):rep(100000) .. ']*c'\n"
  "  r, dt = budgeted(10000000, function() return bstring.find(s, p) end)\n"
  "  check(is_budget_error(r) and dt < 1.0,\n"
  "        string.format('long bracket class aborted in %.3f s', dt))\n"
  "  local big = ('a'):rep(1000000)\n"
  "  p = ('a'):rep(500000) .. 'b'\n"
  "  r, dt = budgeted(10000000, function() return bstring.find(big, p, 1, true) end)\n"
  "  check(is_budget_error(r) and dt < 1.0,\n"
  "        string.format('quadratic plain find aborted in %.3f s', dt))\n"
  "end\n"
  "\n"
  "do  -- an error inside a gmatch iterator does not disable the depth guard\n"
  "  local s = ('a'):rep(300000)\n"
  "  local it = bstring.gmatch(s, ('a?'):rep(300000))\n"
  "  local ok1, e1 = pcall(it)\n"
  "  local ok2, e2 = pcall(it)\n"
  "  check(not ok1 and e1 == 'pattern too complex' and not ok2 and e2 == 'pattern too complex',\n"
  "        'gmatch: pattern too complex again on the second call (' .. tostring(e2) .. ')')\n"
  "  local it2 = bstring.gmatch(('ab'):rep(3000), '(a)(b)')\n"
  "  budget(1000)\n"
  "  local ok3, e3 = pcall(function() for _ in it2 do end end)\n"
  "  budget(-1)\n"
  "  local rest = 0\n"
  "  for _ in it2 do rest = rest + 1 end\n"
  "  check(is_budget_error({ok3, e3}) and rest > 0 and rest < 3000,\n"
  "        'gmatch iterator usable after a budget error (' .. rest .. ' more matches)')\n"
  "end\n";

static double seconds_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static int ends_with(const char *s, const char *suffix) {
  size_t ls = strlen(s), lx = strlen(suffix);
  return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

int main(void) {
  lua_State *L = luaL_newstate();
  static const luaL_Reg helpers[] = {
    {"check", l_check}, {"now", l_now}, {"budget", l_budget},
    {"stats", l_stats}, {"thread_ptr", l_thread_ptr},
    {"last_thread", l_last_thread}, {"set_charge", l_set_charge},
    {NULL, NULL}
  };
  const luaL_Reg *h;
  if (L == NULL) {
    printf("not ok 1 - luaL_newstate\n");
    return 1;
  }
  luaL_openlibs(L);
  lua_newtable(L);
  pattern_register(L, -1);
  lua_setglobal(L, "bstring");
  for (h = helpers; h->name != NULL; h++) {
    lua_pushcfunction(L, h->func);
    lua_setglobal(L, h->name);
  }
  pattern_set_charge(test_charge);

  /* the headline case, driven from C: must raise the budget error < 1 s */
  {
    struct timespec t0;
    double dt;
    int st;
    char desc[160];
    budget_limit = 10000000;
    total_steps = charge_calls = min_chunk = 0;
    luaL_loadstring(L, "return bstring.find(('a'):rep(100), ('.-'):rep(6) .. 'b')");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = lua_pcall(L, 0, LUA_MULTRET, 0);
    dt = seconds_since(&t0);
    snprintf(desc, sizeof desc,
             "C: bstring.find(('a'):rep(100), ('.-'):rep(6)..'b') raises "
             "'match budget exceeded' (%ld steps charged)", total_steps);
    /* luaL_error prefixes the position of the calling Lua code */
    check(st == LUA_ERRRUN && ends_with(lua_tostring(L, -1), "match budget exceeded"),
          desc);
    printf("# error message: %s\n", lua_tostring(L, -1));
    snprintf(desc, sizeof desc, "C: ... within 1 second (took %.3f s)", dt);
    check(dt < 1.0, desc);
    lua_settop(L, 0);
    budget_limit = -1;
  }

  /* match_cased: the match is the lowercased text's, the captures the same
   * bytes of the original; positions and failures as string.match's */
  lua_pushcfunction(L, pattern_match_cased);
  lua_setglobal(L, "match_cased");
  {
    static const char cased[] =
        "local t = 'NAME Grace HOPPER'\n"
        "local a, b = match_cased(t:lower(), '^name (%a+) (%a+)$', 1, t)\n"
        "check(a == 'Grace' and b == 'HOPPER', 'match_cased: captures in the original case')\n"
        "local p, w = match_cased(t:lower(), '()grace', 1, t)\n"
        "check(p == 6 and w == nil, 'match_cased: a position capture is a number')\n"
        "check(match_cased(t:lower(), 'hopper', 1, t) == 'HOPPER', "
        "'match_cased: without captures, the whole match from the original')\n"
        "check(match_cased(t:lower(), '^x', 1, t) == nil, 'match_cased: no match is nil')\n"
        "local ok, err = pcall(match_cased, 'abc', 'a', 1, 'ab')\n"
        "check(not ok and err:find('same length', 1, true), "
        "'match_cased: an original of another length is refused')\n"
        "check(bstring.match('xYz', '(y)') == nil and bstring.match('xYz', '(Y)') == 'Y', "
        "'string.match still captures from its own subject')\n";
    if (luaL_loadbuffer(L, cased, sizeof cased - 1, "=cased") != LUA_OK ||
        lua_pcall(L, 0, 0, 0) != LUA_OK) {
      char desc[512];
      snprintf(desc, sizeof desc, "match_cased cases ran: %s", lua_tostring(L, -1));
      check(0, desc);
      lua_settop(L, 0);
    }
  }

  if (luaL_loadbuffer(L, harness, sizeof harness - 1, "=harness") != LUA_OK ||
      lua_pcall(L, 0, 0, 0) != LUA_OK) {
    char desc[512];
    snprintf(desc, sizeof desc, "harness ran to completion: %s",
             lua_tostring(L, -1));
    check(0, desc);
  }
  lua_close(L);
  printf("%d passed, %d failed\n", n_passed, n_failed);
  return n_failed ? 1 : 0;
}
