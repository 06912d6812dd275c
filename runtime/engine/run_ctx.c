/* run_ctx: what runs now on a worker (engine_internal.h, run_ctx): the time
 * everything it causes carries (engine_now), and the names of what a
 * handler runs for (run_kind). The lowest of the engine's files: every
 * other one may use it. */
#include <string.h>

#include "engine_internal.h"

/* One reading per message: everything a message causes carries its time. */
int64_t engine_now(engine *e) {
  return e->run ? e->run->now : e->clock(e->clock_ud);
}

static const char *const run_kind_names[] = {"message", "optout",     "optin",
                                             "event",   "status",     "timer",
                                             "late_timer", "handback", "click"};

const char *run_kind_name(run_kind k) { return run_kind_names[k]; }

int run_kind_of(const char *name) {
  for (size_t k = 0; k < sizeof run_kind_names / sizeof *run_kind_names; k++)
    if (strcmp(name, run_kind_names[k]) == 0) return (int)k;
  return -1;
}
