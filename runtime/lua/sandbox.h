/* sandbox: one Lua VM per loaded bot version, and the limits every call into
 * it runs under.
 *
 * The VM is created with an accounting allocator and a count hook, the
 * trusted prelude (stdlib/internal/sandbox.lua and its parts) builds the bot's frozen
 * environment, and each invocation runs in a pooled coroutine with its own
 * instruction, memory and wall-clock budget. A limit hit is sticky: every
 * later hook call raises again, so pcall/xpcall cannot swallow it. After every
 * invocation, data shared by all conversations (top-level locals, metamethods
 * of frozen tables) is checked and restored if a handler changed it. See
 * docs/sandbox.md for the threat model and the measurements. */
#ifndef PARLEY_SANDBOX_H
#define PARLEY_SANDBOX_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "script.h"

typedef struct sandbox_limits {
  long instructions; /* Lua VM instructions per invocation */
  size_t memory;     /* bytes of live memory the invocation itself allocated */
  long time_ms;      /* wall clock per invocation */
  size_t waiting_memory; /* bytes all the bot's handlers waiting for a response may hold */
} sandbox_limits;

extern const sandbox_limits sandbox_default_limits;

/* SANDBOX_SUSPENDED: the handler waits for something the host started for it
 * (an HTTP request: sandbox_suspend); its thread stays alive until
 * sandbox_resume carries on with the answer. */
typedef enum { SANDBOX_OK = 0, SANDBOX_ERROR, SANDBOX_LIMIT, SANDBOX_SUSPENDED } sandbox_status;

/* What a suspended invocation has used of its limits: a resumed one goes on
 * from there (the time spent waiting does not count). */
typedef struct sandbox_budget {
  long instructions;
  int64_t time_ns;
  size_t memory;  /* the live bytes it allocated */
  uint32_t owner, owner_gen; /* its memory account */
} sandbox_budget;

typedef struct sandbox sandbox;

/* Creates the VM, runs the prelude and the bot's top level under limits,
 * then freezes the environment. On failure returns NULL with every problem
 * as "file:line: message" lines in err. */
sandbox *sandbox_open(const script *s, char *err, size_t errlen);
void sandbox_close(sandbox *sb);

void sandbox_set_limits(sandbox *sb, const sandbox_limits *lim);
const sandbox_limits *sandbox_limits_of(sandbox *sb);

/* The prelude's table of entry points (rt), pushed on the main thread. */
void sandbox_push_runtime(sandbox *sb);
lua_State *sandbox_main(sandbox *sb);

/* Pushes the arguments of an invocation on L (inside a protected call:
 * running out of the VM's memory raises there); returns their count. */
typedef int (*sandbox_push_fn)(lua_State *L, void *ud);
/* Inside a push function: pushes the prelude's rt[name] (raw), a table the
 * host fills for each call and the prelude reads, out of scripts' reach:
 * reused, so a call allocates nothing for its arguments. */
void sandbox_push_rt_field(lua_State *L, const char *name);

/* An invocation: take a thread with rt[entry] and the arguments push(ud)
 * pushed (*nargs of them), call, read results from the thread's stack,
 * release. NULL with a sentence in err when the VM has no memory left for
 * it (nothing to release then). ctx is what the host API functions see
 * through sandbox_context() during the call. */
lua_State *sandbox_prepare(sandbox *sb, const char *entry, sandbox_push_fn push, void *ud,
                           int *nargs, char *err, size_t errlen);
sandbox_status sandbox_call(sandbox *sb, lua_State *co, int nargs, int *nres,
                            void *ctx, char *err, size_t errlen);
void sandbox_release(sandbox *sb, lua_State *co, sandbox_status st);
/* After SANDBOX_SUSPENDED: what the invocation used so far. */
sandbox_budget sandbox_budget_used(sandbox *sb);
/* Carries on with a suspended invocation (its continuation runs first);
 * the budget is the one sandbox_budget_used gave. The same results as
 * sandbox_call. */
sandbox_status sandbox_resume(sandbox *sb, lua_State *co, int *nres, void *ctx,
                              const sandbox_budget *used, char *err, size_t errlen);

/* Makes math.random repeatable: from now on, the n-th invocation that
 * sandbox_call starts reseeds it with Lua's math.randomseed(seed, n)
 * (n = 1, 2, ...; calling it again starts n over). Without it, each
 * invocation is seeded from the system's random source. For transcripts
 * (@seed) and the simulator (/seed). */
void sandbox_seed_random(sandbox *sb, int64_t seed);
/* The same for VMs that run one bot's version side by side (the engine's
 * workers): the invocations are counted in *count (set to 0 by the caller),
 * so the numbers are those one VM would draw. */
void sandbox_seed_random_shared(sandbox *sb, int64_t seed, _Atomic int64_t *count);

/* For C functions called by scripts. */
void *sandbox_context(lua_State *L);
/* Adds work done inside a C function to the invocation's instruction budget;
 * raises the limit error when the budget or the deadline is exceeded. */
void sandbox_charge(lua_State *L, long units);
/* The same, for code that must not raise (a callback inside a library):
 * returns nonzero when a limit is hit; the next sandbox_charge or hook call
 * raises it. */
int sandbox_charge_nothrow(lua_State *L, long units);
/* Whether the running C function may suspend the invocation: it runs on
 * the handler's own thread (not in a coroutine the script made) and no C
 * function (table.sort, a metamethod called from C) is below it. */
int sandbox_can_suspend(lua_State *L);
/* Suspends the invocation: `return sandbox_suspend(L, k);` from a C
 * function. sandbox_call returns SANDBOX_SUSPENDED; sandbox_resume calls k
 * (inside the invocation, under its limits), whose results are the C
 * function's. */
int sandbox_suspend(lua_State *L, lua_KFunction k);
/* The running invocation's memory limit (the VM's hard cap outside one). */
size_t sandbox_memory_limit(lua_State *L);
/* Heap bytes the running invocation may still allocate. */
size_t sandbox_memory_left(lua_State *L);
/* The same, after a full collection if less than need is left (from a C
 * function called by the script). */
size_t sandbox_memory_left_collected(lua_State *L, size_t need);
/* Whether the running invocation may wait for a response: the memory of
 * the bot's waiting handlers and its own stays within
 * limits.waiting_memory (after a collection). 0 with a sentence in err. */
int sandbox_may_wait(lua_State *L, char *err, size_t errlen);

typedef struct sandbox_stats {
  size_t memory;      /* bytes in use by the VM */
  size_t peak_memory;
} sandbox_stats;
sandbox_stats sandbox_stats_of(sandbox *sb);

#endif
