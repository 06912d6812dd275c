/* lua_date: the C side of the scripts' `date` library (date.c's calendar).
 *
 * The Lua side (stdlib/internal/date.lua) checks the arguments'
 * types, picks the default zone (the contact's, else the bot's) and raises
 * the errors these return at the script's line. */
#ifndef PARLEY_LUA_DATE_H
#define PARLEY_LUA_DATE_H

#include <lua.h>

/* Stores date_parse, date_format, date_add, date_parts, date_start_of_day
 * and date_age into the table at index host. */
void lua_date_register(lua_State *L, int host);

#endif
