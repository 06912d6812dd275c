/* sandbox_internal: what the VM's life cycle (sandbox.c) and its budget
 * (budget.c: the allocator, the count hook, the watchdog, the charges the
 * bindings make) share. Nothing else in lua/ includes it: the bindings see
 * sandbox.h only. */
#ifndef PARLEY_SANDBOX_INTERNAL_H
#define PARLEY_SANDBOX_INTERNAL_H

#include <lua.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox.h"

enum {
  HOOK_PERIOD = 1000,        /* instructions between two hook calls */
  POOL_MAX = 16,             /* idle threads kept for reuse */
};
/* Once a handler is stopped, Lua itself still needs a little memory to
 * unwind (error messages built outside any protected call, where a failed
 * allocation would abort the process); the script cannot use it, the hook
 * stops it at every instruction. */
static const size_t KILL_GRACE = 1u << 20;
static const size_t VM_HARD_CAP = (size_t)1 << 30; /* whole VM, all calls */
/* A runaway recursion: when memory runs out with OVERFLOW_DEPTH Lua calls
 * or more on the stack, the script gets Lua's catchable "stack overflow"
 * (Lua raises it itself at 1,000,000 stack slots, 40 to 80 MB, past most
 * memory limits) instead of the memory limit. The allocations that ran out
 * are let through (OVERFLOW_GRACE per invocation at most) until the error
 * has unwound the recursion; then full collections give back the stack
 * and call records it left, and the memory limit holds again. */
enum { OVERFLOW_DEPTH = 1000 };
enum { OVERFLOW_NONE, OVERFLOW_RAISE, OVERFLOW_UNWINDING };
static const size_t OVERFLOW_GRACE = (size_t)24 << 20;

/* Who allocated a block, so that its bytes count against that invocation
 * only (docs/sandbox.md, "Memory"). Every block the VM allocates starts with
 * this header: the owner's slot and generation, and how many of the block's
 * bytes were charged to it. Slot 0 is the host (no limit). */
typedef struct block_head {
  uint32_t slot, gen;
  size_t charged;
} block_head;
_Static_assert(sizeof(block_head) == 16, "keeps the blocks 16-byte aligned");

/* An invocation's account: the bytes of the blocks it allocated that are
 * still live. Kept while it runs and while it waits for a response. */
typedef struct owner {
  uint32_t gen;
  int in_use, suspended;
  size_t own;
  lua_State *co; /* while suspended: its thread */
} owner;

struct sandbox {
  lua_State *L;
  size_t mem_used, mem_peak;
  sandbox_limits limits;
  int rt_ref;

  owner *owners; /* [0] is the host's, never charged */
  uint32_t nowners;
  uint32_t cur; /* the running invocation's slot (0: the host) */
  size_t nsuspended;
  /* an allocation refused at the limit, which Lua retries once after an
   * emergency collection: the retry (same block and sizes) decides */
  int refusal_pending;
  int refused_cap; /* the refusal was the VM's hard cap, not the limit */
  int host_collected; /* sandbox_memory_left_collected/sandbox_may_wait collected once */
  void *refused_ptr;
  size_t refused_osize, refused_nsize;

  /* the running invocation */
  int active;
  lua_State *root;
  void *ctx;
  size_t mem_limit;
  long instr_used, instr_limit;
  int64_t deadline_ns;
  long next_clock_check; /* instr_used at which charge looks at the clock */
  int killed;
  int overflow;          /* OVERFLOW_*: a deep recursion ran out of memory */
  size_t overflow_grace; /* memory allowed past the limit for it, so far */
  int suspending;        /* sandbox_suspend yielded the root */
  int64_t started_ns;    /* when the invocation (or its resumption) started */
  int64_t time_before_ns; /* run time before its last resumption */
  sandbox_budget used;   /* after a suspension */
  char kill_msg[512];

  int pool[POOL_MAX];
  int npool;

  /* math.random: each invocation reseeds it (sandbox_seed_random) */
  int randomseed_ref; /* Lua's own math.randomseed, kept from the bots */
  int seeded;
  int64_t seed, seed_count;
  _Atomic int64_t *shared_count; /* the count, when VMs share one (see below) */
  int64_t entropy[64]; /* from getrandom, two per invocation */
  int nentropy;        /* still unused, at the end of entropy */

  /* for the watchdog: the coroutine running now (the root, or one the script
   * resumed) and the deadline of the running invocation */
  lua_State *_Atomic running;
  _Atomic int64_t watch_deadline;
};

/* Each thread that runs invocations (the engine's workers) has a slot:
 * the sandbox running an invocation there now, and the thread to signal. */
struct watch_slot {
  sandbox *_Atomic sb;
  pthread_t thread;
  _Atomic int used;
};

static inline sandbox *from_state(lua_State *L) { return *(sandbox **)lua_getextraspace(L); }

/* budget.c */
/* Starts the watchdog thread (once per process). */
void budget_watchdog_start(void);
/* The calling thread's watchdog slot (taken at its first invocation), or
 * NULL when every slot is taken. */
struct watch_slot *budget_thread_slot(void);
/* The VM's allocator: every block charged to the invocation that made it. */
void *budget_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
/* The count hook: instructions, time, memory refusals, kills. */
void budget_hook(lua_State *L, lua_Debug *ar);
/* A new account for an invocation / the end of one. */
uint32_t budget_owner_new(sandbox *sb);
void budget_owner_end(sandbox *sb, uint32_t slot);
/* Stops the running handler for memory (a refusal Lua did not retry). */
void budget_memory_kill(sandbox *sb);
/* The pattern matcher's charge function (lua_pattern.h). */
void budget_pattern_charge(lua_State *L, long steps);

#endif
