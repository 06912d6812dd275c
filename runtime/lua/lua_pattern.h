#ifndef LUA_PATTERN_H
#define LUA_PATTERN_H

#include <lua.h>

/* Bounded Lua pattern matching: string.find, string.match, string.gmatch and
 * string.gsub with the exact semantics of Lua 5.4.4, except that matching
 * reports its work to a charge function that can abort it with a Lua error. */
typedef void (*pattern_charge_fn)(lua_State *L, long steps);
/* Sets the function every match reports to (process-wide; NULL = no budget). */
void pattern_set_charge(pattern_charge_fn fn);
/* Stores find, match, gmatch and gsub into the table at stack index idx. */
void pattern_register(lua_State *L, int idx);
/* match_cased(s, p, init, original): string.match(s, p, init) whose string
 * captures are the same bytes of `original` (as long as s): bot.match
 * matches the lowercased text and passes the captures as the fan typed. */
int pattern_match_cased(lua_State *L);

#endif
