/* events: what the observers are told (outgoing messages, actions, events
 * that failed), kept with the batch that made them and delivered once it is
 * durable (events_flush), or dropped with it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

static event event_of(engine *e, int is_message, const char *botname, const char *number,
                      const char *text, const char *status, int64_t id) {
  return (event){.is_message = is_message, .bot = xstrdup(botname),
                 .number = xstrdup(number ? number : ""), .text = xstrdup(text),
                 .status = status ? xstrdup(status) : NULL, .tag = e->run ? e->run->tag : NULL,
                 .id = id, .at = engine_now(e), .key = e->run ? e->run->event_key : 0};
}

void emit(engine *e, int is_message, const char *botname,
                 const char *number, const char *text, const char *status, int64_t id) {
  if (!e->has_obs) return;
  event_push(e->sink, event_of(e, is_message, botname, number, text, status, id));
}

void emit_message(engine *e, const char *botname, const char *number, const char *text,
                  const char *status, int64_t id, engine_reply reply) {
  if (!e->has_obs) return;
  event ev = event_of(e, 1, botname, number, text, status, id);
  ev.reply = reply;
  event_push(e->sink, ev);
}

void event_push(engine *e, event ev) {
  if (e->nevents == e->cap_events) {
    e->cap_events = e->cap_events ? e->cap_events * 2 : 64;
    e->events = xrealloc(e->events, e->cap_events * sizeof *e->events);
  }
  e->events[e->nevents++] = ev;
}

/* Delivers (or drops) the first n events: those of a batch now durable. */
void events_flush(engine *e, int deliver, size_t n) {
  for (size_t i = 0; i < n; i++) {
    event *ev = &e->events[i];
    e->observed_at = ev->at;
    if (deliver) {
      if (ev->is_message == EMIT_EVENT_FAILED) {
        if (e->obs.event_failed) e->obs.event_failed(e->obs.ud, ev->tag, ev->status, ev->text);
      } else if (ev->is_message && e->obs.message) {
        e->obs.message(e->obs.ud, &(engine_message){ev->bot, ev->number, ev->text, ev->status,
                                                    ev->tag, ev->id, ev->reply});
      } else if (!ev->is_message && e->obs.action) {
        e->obs.action(e->obs.ud,
                      &(engine_action){ev->bot, ev->number, ev->text, ev->kind, ev->detail});
      }
    }
    free(ev->bot);
    free(ev->number);
    free(ev->text);
    free(ev->status);
    free(ev->detail);
  }
  if (n) memmove(e->events, e->events + n, (e->nevents - n) * sizeof *e->events);
  e->nevents -= n;
}

/* s (taken), with what it quotes of bot.env masked. */
static char *masked(bot *b, char *s) {
  if (s && b->src->env.n) { /* errors, logs, requests may quote bot.env */
    char *m = bot_env_mask(&b->src->env, s);
    free(s);
    s = m;
  }
  return s;
}

static void action_v(engine *e, bot *b, const char *number, engine_action_kind kind,
                     const char *detail, const char *fmt, va_list ap) {
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) s = NULL;
  s = masked(b, s);
  if (s) {
    event ev = event_of(e, 0, b->name, number, s, NULL, 0);
    ev.kind = kind;
    ev.detail = detail ? masked(b, xstrdup(detail)) : NULL;
    event_push(e->sink, ev);
  }
  free(s);
}

int shows(const engine *e) { return e->has_obs && !e->obs.quiet; }

void action(engine *e, bot *b, const char *number, const char *fmt, ...) {
  if (!shows(e)) return;
  va_list ap;
  va_start(ap, fmt);
  action_v(e, b, number, ENGINE_ACTION_SHOWN, NULL, fmt, ap);
  va_end(ap);
}

void action_logged(engine *e, bot *b, const char *number, engine_action_kind kind,
                   const char *detail, const char *fmt, ...) {
  if (!e->has_obs) return;
  va_list ap;
  va_start(ap, fmt);
  action_v(e, b, number, kind, detail, fmt, ap);
  va_end(ap);
}

int64_t engine_observed_at(engine *e) { return e->observed_at; }

void engine_set_observer(engine *e, const engine_observer *obs) {
  for (int k = 0; k < e->group->n; k++) {
    engine *w = e->group->w[k];
    w->has_obs = obs != NULL;
    if (obs) w->obs = *obs;
  }
}
