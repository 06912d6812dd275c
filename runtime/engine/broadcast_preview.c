/* broadcast_preview: what a broadcast to a segment would do if it started
 * at a given time, before it is created (the console's composer): how many
 * contacts it walks, and of those, how many it would skip (never opted
 * in), suppress (opted out), fail (undeliverable number) and hold for
 * quiet hours (each recipient at its turn, at the broadcast's rate, in its
 * own zone), as run_broadcast_chunk (advance.c) decides. Reads only. */
#include <stdio.h>
#include <string.h>

#include "engine_internal.h"

typedef struct preview_walk {
  engine *e;
  bot *b;
  engine_broadcast_preview *out;
  double t, step; /* the next recipient's turn (ms), and the time between two */
  int64_t last_id;
} preview_walk;

static void preview_one(void *ud, const contact_row *r) {
  preview_walk *w = ud;
  engine_broadcast_preview *out = w->out;
  out->recipients++;
  w->last_id = r->id;
  if (strcmp(r->status, "not_opted_in") == 0) { /* skipped: no turn taken */
    out->not_opted_in++;
    return;
  }
  if (strcmp(r->status, "opted_out") == 0) out->suppressed++;
  else if (r->undeliverable) out->failed++;
  else {
    contact c = {.number = r->number, .timezone = r->timezone};
    const char *zone = zone_of(w->b, &c);
    int64_t release = quiet_release(&w->b->quiet, (int64_t)w->t, zone);
    if (release > 0) {
      if (out->held < ENGINE_PREVIEW_HELD_SHOWN) { /* who, in their zone, until when */
        engine_preview_held *h = &out->held_first[out->held];
        snprintf(h->number, sizeof h->number, "%s", r->number);
        snprintf(h->zone, sizeof h->zone, "%s", zone);
        h->until_ms = release;
      }
      out->held++;
    } else {
      out->sent++;
    }
  }
  w->t += w->step;
}

int engine_broadcast_preview_of(engine *e, bot *b, const char *segment, int64_t start_ms,
                                double rate, engine_broadcast_preview *out, char *err,
                                size_t errlen) {
  enum { CHUNK = 1000 };
  *out = (engine_broadcast_preview){0};
  preview_walk w = {e, b, out, (double)start_ms, rate > 0 ? 1000.0 / rate : 0, 0};
  for (;;) {
    int64_t before = out->recipients;
    if (store_contacts_match(e->rd, b->id, segment, w.last_id, CHUNK, preview_one, &w)) {
      snprintf(err, errlen, "%s", store_error(e->rd));
      return -1;
    }
    if (out->recipients - before < CHUNK) break;
  }
  out->finish_ms = (int64_t)w.t;
  return 0;
}
