/* budget: what a handler may spend, and what stops it. The VM's allocator
 * (each block charged to the invocation that made it), the count hook
 * (instructions and time), the watchdog thread (a deadline passed inside a
 * long C call), and the charges the bindings make (sandbox_charge and
 * friends, sandbox.h). Below the bindings (lua_api.c, lua_date.c,
 * sandbox_lib.c), which call it, and below sandbox.c, which makes VMs with
 * it and installs those bindings. */
#include <lauxlib.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "sandbox_internal.h"
#include "util.h"

/* ---- the watchdog ----
 *
 * Lua's count hook only runs between VM instructions, and the sandbox looks
 * at the clock every 1,000 of them. One instruction can be a C call doing
 * O(n) work (utf8.len over a big string, a long string comparison), so a
 * loop of such calls could run far past the deadline. A watchdog thread
 * wakes every few milliseconds; when the running invocation is past its
 * deadline it signals the thread running it, whose handler arms the hook to fire
 * at the very next instruction (lua_sethook is safe in a signal handler;
 * lua.c stops scripts on Ctrl-C the same way). The overshoot is then one C
 * call, not a thousand. */
enum { WATCH_PERIOD_MS = 5, WATCH_SLOTS = 256 };

static struct watch_slot slots[WATCH_SLOTS];
static _Thread_local int my_slot = -1;
static pthread_key_t slot_key; /* its destructor frees the slot at thread exit */
static int watchdog_signal;

static void on_watchdog_signal(int sig) {
  (void)sig;
  if (my_slot < 0) return;
  sandbox *sb = atomic_load(&slots[my_slot].sb);
  if (!sb) return;
  lua_State *L = atomic_load(&sb->running);
  if (L) lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
}

static void *watchdog(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "parley-watchdog");
  struct timespec nap = {0, WATCH_PERIOD_MS * 1000000L};
  for (;;) {
    nanosleep(&nap, NULL);
    int64_t now = mono_ns();
    for (int i = 0; i < WATCH_SLOTS; i++) {
      if (!atomic_load(&slots[i].used)) continue;
      sandbox *sb = atomic_load(&slots[i].sb);
      if (sb && now > atomic_load(&sb->watch_deadline))
        pthread_kill(slots[i].thread, watchdog_signal);
    }
  }
  return NULL;
}

static void slot_release(void *p) {
  struct watch_slot *slot = p;
  atomic_store(&slot->sb, NULL);
  atomic_store(&slot->used, 0);
}

void budget_watchdog_start(void) {
  pthread_key_create(&slot_key, slot_release);
  watchdog_signal = SIGRTMIN + 1;
  struct sigaction sa = {0};
  sa.sa_handler = on_watchdog_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(watchdog_signal, &sa, NULL);
  pthread_t t;
  /* the watchdog must not take the signal itself */
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, watchdog_signal);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  if (pthread_create(&t, NULL, watchdog, NULL) == 0) pthread_detach(t);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* The calling thread's slot (taken at its first invocation), or NULL
 * when every slot is taken (that thread's scripts then stop at the count
 * hook's clock checks only). */
struct watch_slot *budget_thread_slot(void) {
  if (my_slot >= 0) return &slots[my_slot];
  for (int i = 0; i < WATCH_SLOTS; i++) {
    int free_slot = 0;
    if (atomic_compare_exchange_strong(&slots[i].used, &free_slot, 1)) {
      slots[i].thread = pthread_self();
      my_slot = i;
      pthread_setspecific(slot_key, &slots[i]);
      return &slots[i];
    }
  }
  return NULL;
}

void *sandbox_context(lua_State *L) { return from_state(L)->ctx; }

/* Called when an allocation would pass the memory limit: whether it can
 * be let through because a recursion is overflowing (see OVERFLOW_DEPTH):
 * deep down, the hook raises "stack overflow" at the next instruction;
 * after such an error, until the hook has given the memory back, the
 * allocation goes through. lua_getstack only walks the CallInfo list,
 * which is consistent whenever Lua allocates. */
static int overflow_grant(sandbox *sb, size_t grow) {
  lua_State *L = atomic_load(&sb->running);
  lua_Debug ar;
  if (!L || sb->overflow_grace + grow > OVERFLOW_GRACE) return 0;
  if (lua_getstack(L, OVERFLOW_DEPTH, &ar)) {
    sb->overflow = OVERFLOW_RAISE;
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    if (L != sb->root) lua_sethook(sb->root, budget_hook, LUA_MASKCOUNT, 1);
  } else if (sb->overflow != OVERFLOW_UNWINDING) {
    return 0;
  }
  sb->overflow_grace += grow;
  return 1;
}

/* In the hook, after overflow_grant: raises "stack overflow" where the
 * call was made (as Lua does); once the recursion is unwound, collects
 * until the stack and call records it left are given back, then the
 * memory limit applies again. */
static void overflow_step(sandbox *sb, lua_State *L) {
  lua_Debug ar;
  if (sb->overflow == OVERFLOW_RAISE) {
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar) && ar.currentline > 0)
      lua_pushfstring(L, "%s:%d: stack overflow", ar.short_src, ar.currentline);
    else
      lua_pushliteral(L, "stack overflow");
    /* after the message: making it may have needed room too */
    sb->overflow = OVERFLOW_UNWINDING;
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, HOOK_PERIOD);
    if (L != sb->root) lua_sethook(sb->root, budget_hook, LUA_MASKCOUNT, HOOK_PERIOD);
    lua_error(L);
  }
  if (lua_getstack(L, OVERFLOW_DEPTH, &ar)) return; /* caught deep down: not yet */
  /* each full collection frees half of a thread's unused call records */
  for (int i = 0; i < 32; i++) {
    size_t before = sb->mem_used;
    lua_gc(L, LUA_GCCOLLECT);
    if (sb->mem_used >= before) break;
  }
  sb->overflow = OVERFLOW_NONE;
  if (sb->owners[sb->cur].own > sb->mem_limit) {
    sb->killed = 1;
    snprintf(sb->kill_msg, sizeof sb->kill_msg,
             "memory limit exceeded (%zu KiB per message); handler stopped", sb->mem_limit >> 10);
  }
}

void budget_memory_kill(sandbox *sb) {
  sb->killed = 1;
  if (sb->refused_cap)
    snprintf(sb->kill_msg, sizeof sb->kill_msg,
             "not enough memory left in the bot's VM (at its %zu MiB cap); handler stopped",
             VM_HARD_CAP >> 20);
  else
    snprintf(sb->kill_msg, sizeof sb->kill_msg,
             "memory limit exceeded (%zu KiB per message); handler stopped", sb->mem_limit >> 10);
}

/* The block's owner, if it is still running or waiting; NULL otherwise. */
static owner *owner_of(sandbox *sb, const block_head *h) {
  if (h->slot == 0 || h->slot >= sb->nowners) return NULL;
  owner *o = &sb->owners[h->slot];
  return o->in_use && o->gen == h->gen ? o : NULL;
}

static void refund(sandbox *sb, block_head *h, size_t n) {
  if (n > h->charged) n = h->charged;
  h->charged -= n;
  owner *o = owner_of(sb, h);
  if (o) o->own -= n < o->own ? n : o->own;
}

/* Whether the running invocation may be charged `charge` more bytes for the
 * allocation (ptr, osize, nsize). Past its limit the allocation is refused
 * once: Lua then runs an emergency full collection (which gives back the
 * invocation's own garbage) and asks again with the same arguments; only if
 * that retry is still over the limit is the handler stopped. A refusal Lua
 * does not retry (it cannot collect at that moment) stops the handler at the
 * next instruction (the hook). */
static int may_charge(sandbox *sb, void *ptr, size_t osize, size_t nsize, size_t charge,
                      int over_cap) {
  size_t own = sb->owners[sb->cur].own;
  int retry = sb->refusal_pending && ptr == sb->refused_ptr && osize == sb->refused_osize &&
              nsize == sb->refused_nsize;
  if (sb->killed) return !over_cap && own + charge <= sb->mem_limit + KILL_GRACE;
  if (!over_cap && own + charge <= sb->mem_limit) {
    /* only Lua's retry of the refused allocation settles a refusal: another
     * allocation between (a stack growing while the error unwinds) must not
     * spare the handler the kill */
    if (retry) sb->refusal_pending = 0;
    return 1;
  }
  if (!over_cap && overflow_grant(sb, charge)) return 1;
  if (retry || sb->refusal_pending) { /* still over after the collection */
    sb->refusal_pending = 0;
    sb->refused_cap = over_cap;
    budget_memory_kill(sb);
    return 0;
  }
  sb->refusal_pending = 1;
  sb->refused_cap = over_cap;
  sb->refused_ptr = ptr;
  sb->refused_osize = osize;
  sb->refused_nsize = nsize;
  lua_State *L = atomic_load(&sb->running);
  if (L) lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
  if (sb->root && L != sb->root) lua_sethook(sb->root, budget_hook, LUA_MASKCOUNT, 1);
  return 0;
}

void *budget_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  sandbox *sb = ud;
  block_head *h = ptr ? (block_head *)ptr - 1 : NULL;
  if (!ptr) osize = 0;
  if (nsize == 0) {
    if (h) {
      refund(sb, h, h->charged);
      free(h);
    }
    sb->mem_used -= osize;
    return NULL;
  }
  uint32_t cur = sb->active ? sb->cur : 0;
  int mine = h && cur && h->slot == cur && h->gen == sb->owners[cur].gen;
  /* what the running invocation is charged: a block of its own changes by
   * its growth; a new block, or another's it makes grow, by the growth
   * (the rest stays charged to whoever allocated it) */
  size_t charge = nsize > osize && cur ? nsize - osize : 0;
  /* the VM's hard cap: for a handler, refused the same way (retried after
   * a collection, then a kill), so pcall cannot catch it either */
  int over_cap = nsize > osize && sb->mem_used + (nsize - osize) > VM_HARD_CAP;
  if (over_cap && !cur) return NULL;
  if (charge && !may_charge(sb, ptr, osize, nsize, charge, over_cap)) return NULL;
  block_head *n = realloc(h, sizeof *n + nsize);
  if (!n) return NULL;
  sb->mem_used += nsize - osize;
  if (sb->mem_used > sb->mem_peak) sb->mem_peak = sb->mem_used;
  if (!h) {
    *n = (block_head){cur, sb->owners[cur].gen, charge};
  } else if (mine || !cur) {
    if (nsize < osize) refund(sb, n, osize - nsize);
    else n->charged += charge;
  } else if (nsize <= osize) {
    refund(sb, n, osize - nsize); /* to its owner */
  } else { /* another's block grown by this invocation: the growth is its */
    refund(sb, n, n->charged);
    *n = (block_head){cur, sb->owners[cur].gen, charge};
  }
  sb->owners[cur].own += charge;
  return n + 1;
}

/* A new account for an invocation. */
uint32_t budget_owner_new(sandbox *sb) {
  uint32_t i = 1;
  while (i < sb->nowners && sb->owners[i].in_use) i++;
  if (i == sb->nowners) {
    sb->owners = xrealloc(sb->owners, (sb->nowners + 1) * sizeof *sb->owners);
    sb->owners[sb->nowners++] = (owner){0};
  }
  owner *o = &sb->owners[i];
  o->gen++;
  o->in_use = 1;
  o->suspended = 0;
  o->own = 0;
  o->co = NULL;
  return i;
}

/* Ends an account: its blocks still alive are no one's from now on. */
void budget_owner_end(sandbox *sb, uint32_t slot) {
  owner *o = &sb->owners[slot];
  if (!slot || !o->in_use) return;
  if (o->suspended) sb->nsuspended--;
  o->in_use = o->suspended = 0;
  o->own = 0;
  o->co = NULL;
}

/* Prefixes the kill message with where the script was when it was stopped. */
static void kill_at(sandbox *sb, const char *where, const char *what) {
  sb->killed = 1;
  snprintf(sb->kill_msg, sizeof sb->kill_msg, "%s%s; handler stopped", where,
           what);
}

static void check_budget(sandbox *sb, const char *where) {
  char what[128];
  if (mono_ns() > sb->deadline_ns) {
    snprintf(what, sizeof what, "time limit exceeded (%ld ms)", sb->limits.time_ms);
    kill_at(sb, where, what);
  } else if (sb->instr_used > sb->instr_limit) {
    snprintf(what, sizeof what, "instruction limit exceeded (%ld instructions)",
             sb->instr_limit);
    kill_at(sb, where, what);
  }
}

/* Once killed, every hook call stops the script again: yielding out of the
 * root coroutine where possible (pcall cannot intercept a yield), raising an
 * error elsewhere (caught errors are raised again one instruction later). */
void budget_hook(lua_State *L, lua_Debug *ar) {
  sandbox *sb = from_state(L);
  if (!sb->active) return;
  atomic_store(&sb->running, L);
  if (sb->overflow != OVERFLOW_NONE && !sb->killed) overflow_step(sb, L);
  if (sb->refusal_pending && !sb->killed) { /* Lua could not collect and retry */
    sb->refusal_pending = 0;
    budget_memory_kill(sb);
  }
  if (!sb->killed) {
    /* armed to fire at the next instruction (a refusal of memory, the
     * watchdog): back to the usual period, and this call counts one */
    int armed = lua_gethookcount(L) == 1;
    if (armed) {
      lua_sethook(L, budget_hook, LUA_MASKCOUNT, HOOK_PERIOD);
      if (L != sb->root) lua_sethook(sb->root, budget_hook, LUA_MASKCOUNT, HOOK_PERIOD);
    }
    sb->instr_used += armed ? 1 : HOOK_PERIOD;
    char where[300] = "";
    if (sb->instr_used > sb->instr_limit || mono_ns() > sb->deadline_ns) {
      if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
        snprintf(where, sizeof where, "%s:%d: ", ar->short_src, ar->currentline);
      check_budget(sb, where);
    }
    if (!sb->killed) return;
  }
  lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
  if (L != sb->root) lua_sethook(sb->root, budget_hook, LUA_MASKCOUNT, 1);
  if (L == sb->root && lua_isyieldable(L)) {
    lua_yield(L, 0);
    return;
  }
  lua_pushstring(L, sb->kill_msg);
  lua_error(L);
}

void sandbox_charge(lua_State *L, long units) {
  sandbox *sb = from_state(L);
  if (!sb->active) return;
  if (!sb->killed) {
    sb->instr_used += units < 0 ? 0 : units;
    if (sb->instr_used > sb->instr_limit ||
        (sb->instr_used >= sb->next_clock_check &&
         (sb->next_clock_check = sb->instr_used + HOOK_PERIOD,
          mono_ns() > sb->deadline_ns))) {
      luaL_where(L, 1);
      char where[300];
      snprintf(where, sizeof where, "%s", lua_tostring(L, -1));
      lua_pop(L, 1);
      check_budget(sb, where);
    }
    if (!sb->killed) return;
  }
  lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
  if (L != sb->root) lua_sethook(sb->root, budget_hook, LUA_MASKCOUNT, 1);
  lua_pushstring(L, sb->kill_msg);
  lua_error(L);
}

int sandbox_charge_nothrow(lua_State *L, long units) {
  sandbox *sb = from_state(L);
  if (!sb->active) return 0;
  if (!sb->killed) {
    sb->instr_used += units < 0 ? 0 : units;
    if (sb->instr_used > sb->instr_limit || mono_ns() > sb->deadline_ns) {
      /* the script's line: the first Lua frame outside the prelude */
      lua_Debug ar;
      char where[300] = "";
      for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0 &&
            strncmp(ar.source, "@stdlib/internal/", 17) != 0) {
          snprintf(where, sizeof where, "%s:%d: ", ar.short_src, ar.currentline);
          break;
        }
      }
      check_budget(sb, where);
    }
  }
  return sb->killed;
}

int sandbox_can_suspend(lua_State *L) {
  sandbox *sb = from_state(L);
  return sb->active && !sb->killed && L == sb->root && lua_isyieldable(L);
}

int sandbox_suspend(lua_State *L, lua_KFunction k) {
  from_state(L)->suspending = 1;
  return lua_yieldk(L, 0, 0, k);
}

size_t sandbox_memory_limit(lua_State *L) {
  sandbox *sb = from_state(L);
  return sb->active ? sb->mem_limit : VM_HARD_CAP;
}

size_t sandbox_memory_left(lua_State *L) {
  sandbox *sb = from_state(L);
  if (!sb->active) return VM_HARD_CAP - sb->mem_used;
  size_t own = sb->owners[sb->cur].own;
  return own >= sb->mem_limit ? 0 : sb->mem_limit - own;
}

/* Full collections on behalf of a C function, at most one per invocation
 * (each one walks the whole VM: a loop of refused calls must not repeat
 * it). */
static int collect_once(sandbox *sb, lua_State *L) {
  if (sb->host_collected) return 0;
  sb->host_collected = 1;
  lua_gc(L, LUA_GCCOLLECT);
  return 1;
}

size_t sandbox_memory_left_collected(lua_State *L, size_t need) {
  sandbox *sb = from_state(L);
  size_t left = sandbox_memory_left(L);
  if (left >= need || !sb->active || need > sb->mem_limit || !collect_once(sb, L)) return left;
  return sandbox_memory_left(L);
}

/* The bytes held by the invocations waiting for a response. */
static size_t waiting_bytes(sandbox *sb) {
  size_t sum = 0;
  for (uint32_t i = 1; i < sb->nowners && sb->nsuspended; i++)
    if (sb->owners[i].in_use && sb->owners[i].suspended) sum += sb->owners[i].own;
  return sum;
}

int sandbox_may_wait(lua_State *L, char *err, size_t errlen) {
  sandbox *sb = from_state(L);
  if (!sb->active) return 1;
  size_t cap = sb->limits.waiting_memory;
  if (waiting_bytes(sb) + sb->owners[sb->cur].own <= cap) return 1;
  collect_once(sb, L); /* garbage is given back to its owners */
  size_t waiting = waiting_bytes(sb), own = sb->owners[sb->cur].own;
  if (waiting + own <= cap) return 1;
  snprintf(err, errlen,
           "the handlers of this bot waiting for responses hold %zu KiB; with this one's %zu KiB "
           "that would pass limits.waiting_memory (%zu KiB); try again later",
           waiting >> 10, own >> 10, cap >> 10);
  return 0;
}

void budget_pattern_charge(lua_State *L, long steps) {
  sandbox_charge(L, steps / 4);
}
