/* chat_explain: why a transcript's '?' expression was false, in words. */
#ifndef PARLEY_CHAT_EXPLAIN_H
#define PARLEY_CHAT_EXPLAIN_H

#include <lua.h>

/* For an expression that evaluated false in L (the assertion's state, its
 * globals in place): "compared: 2 == 3", "the value: nil", or for a chain
 * of `and`s the first false part, "false: PART, which compared: ...".
 * Evaluates parts of expr again (they only read copies). NULL when there is
 * nothing more to say. The caller frees it. */
char *chat_explain(lua_State *L, const char *expr);

#endif
