/* sandbox_lib: the library functions bot scripts get in place of Lua's own
 * where Lua's would run unbounded work in C (the table functions,
 * string.rep) or reach what the sandbox removes (load: binary chunks;
 * xpcall: a message handler running inside the error machinery).
 *
 * Each behaves as Lua 5.4.4's does: the same results, argument checks in
 * the same order, the same error messages. What differs is only that the
 * work is charged to the invocation's budget as it is done (sandbox_charge),
 * after the arguments were checked, so a hostile length or range stops at
 * the instruction limit and a bad argument gets Lua's own error. */
#ifndef PARLEY_SANDBOX_LIB_H
#define PARLEY_SANDBOX_LIB_H

#include <lua.h>

/* Replaces string.rep, the pattern functions (lua_pattern.c) and
 * table.concat, insert, remove, move, unpack and sort in the VM's own
 * library tables (so an error raised through pcall names them as Lua does,
 * "table.concat"), and puts xpcall in the global table. Call before the
 * prelude copies the libraries. */
void sandbox_lib_install(lua_State *L);

/* Pushes load(chunk [, chunkname [, mode [, env]]]) as Lua's, except that
 * binary chunks are refused and the default environment is the value on
 * top of the stack (popped). */
void sandbox_lib_push_load(lua_State *L);

#endif
