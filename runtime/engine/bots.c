/* bots: the loaded bot versions of a worker, what they say about
 * themselves (names, numbers, time zone, counts) and how a replaced version
 * goes (bot_release). Loading one is install.c's (engine_install). */
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "phone_zone.h"

/* Frees a version (its VM, its script). */
void bot_free(bot *b) {
  sandbox_close(b->sb);
  script_free(b->src);
  free(b->name);
  free(b->display);
  free(b->help);
  free(b->optout_reply);
  free(b->optin_reply);
  free(b->timezone);
  for (size_t i = 0; i < b->nnumbers; i++) free(b->numbers[i]);
  free(b->numbers);
  for (size_t i = 0; i < b->nhttp_allow; i++) free(b->http_allow[i]);
  free(b->http_allow);
  free(b);
}

/* One of b's waiting handlers ended: a retired version goes with its last. */
void bot_release(engine *e, bot *b) {
  if (--b->nwaiting > 0 || !b->retired) return;
  for (bot **p = &e->retired; *p; p = &(*p)->next) {
    if (*p == b) {
      *p = b->next;
      bot_free(b);
      return;
    }
  }
}

bot *engine_find_bot(engine *e, const char *name) {
  for (bot *b = e->bots; b; b = b->next)
    if (strcmp(b->name, name) == 0) return b;
  return NULL;
}

bot *worker_bot(engine *w, const char *name) {
  for (bot *b = w->bots; b; b = b->next)
    if (strcmp(b->name, name) == 0) return b;
  return NULL;
}

/* The bot's configured number the message went to ("15550100" and
 * "+15550100" alike), or NULL (then sends use the bot's first number): what
 * a provider posts as To is never a sender, or a rate limit's key, as is. */
const char *own_number(const bot *b, const char *to) {
  if (!to) return NULL;
  to += *to == '+';
  for (size_t i = 0; i < b->nnumbers; i++)
    if (strcmp(b->numbers[i] + (b->numbers[i][0] == '+'), to) == 0) return b->numbers[i];
  return NULL;
}

/* The recipient's time zone: their own (set by the script), else the one
 * their number's country implies (phone_zone.c), else the bot's. */
const char *zone_of(const bot *b, contact *c) {
  if (!c) return b->timezone;
  if (c->timezone) return c->timezone;
  if (!c->zone_looked_up) {
    c->zone_looked_up = 1;
    phone_zone_for(channel_id(c->number), c->inferred_zone, sizeof c->inferred_zone);
  }
  return c->inferred_zone[0] ? c->inferred_zone : b->timezone;
}

const char *bot_name(const bot *b) { return b->name; }
const script *bot_script(const bot *b) { return b->src; }
int64_t bot_version(const bot *b) { return b->version_number; }
const char *bot_display_name(const bot *b) { return b->display; }
int64_t bot_id(const bot *b) { return b->id; }
sandbox *bot_sandbox(bot *b) { return b->sb; }
const bot_env *bot_env_of(const bot *b) { return &b->src->env; }

void engine_seed_random(engine *e, bot *b, int64_t seed) {
  atomic_store(&b->store->seed_count, 0);
  for (int k = 0; k < e->group->n; k++) {
    bot *c = k == 0 ? b : worker_bot(e->group->w[k], b->name);
    if (c) sandbox_seed_random_shared(c->sb, seed, &b->store->seed_count);
  }
}

void engine_each_bot_counts(engine *e, void (*fn)(void *ud, const char *bot, const bot_counts *c),
                            void *ud) {
  for (bot *b = e->bots; b; b = b->next) {
    bot_counts sum = b->counts;
    for (int k = 1; k < e->group->n; k++) {
      const bot *c = worker_bot(e->group->w[k], b->name);
      if (!c) continue;
      sum.messages_in += c->counts.messages_in;
      sum.replies += c->counts.replies;
      sum.suppressed += c->counts.suppressed;
      sum.errors += c->counts.errors;
    }
    fn(ud, b->name, &sum);
  }
}

void engine_each_number(engine *e, void (*fn)(void *ud, const char *number, const char *bot),
                        void *ud) {
  for (bot *b = e->bots; b; b = b->next)
    for (size_t i = 0; i < b->nnumbers; i++) fn(ud, b->numbers[i], b->name);
}
