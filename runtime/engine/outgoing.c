/* outgoing: one outgoing message stored (record_out): suppressed for an
 * opted-out contact, failed for an undeliverable number, held by quiet hours
 * where it does not answer the fan, queued for the sender with an outbox or
 * back inline in the webhook's answer, and told to the observers. */
#include <jansson.h>
#include <string.h>

#include "clock.h"
#include "engine_internal.h"
#include "gsm.h"

/* The number a bot's messages go from when they answer nothing: its first
 * configured number ("" without one: the provider's default). */
static const char *bot_sender(const bot *b) { return b->nnumbers ? b->numbers[0] : ""; }

/* Stores one outgoing message. status "sent": it goes out (at once with
 * the simulator; queued for the sender with an outbox), "suppressed": the
 * contact opted out. Returns 1 if quiet hours hold it, 0, or -1. */
int record_out(engine *e, bot *b, contact *c, const char *text,
                      const char *status, int transactional, int may_hold, const char *media) {
  int64_t send_at = 0;
  /* a number the provider refused as invalid or not mobile is not tried
   * again until it texts in */
  const char *error = NULL;
  if (c->undeliverable && strcmp(status, "suppressed") != 0) {
    status = "failed";
    error = "undeliverable: the provider refused this number (invalid or not mobile)";
  }
  if (may_hold && strcmp(status, "sent") == 0 &&
      (send_at = quiet_release(&b->quiet, engine_now(e), zone_of(b, c))) > 0)
    status = "held";
  /* with an outbox, what goes out waits there, unless it answers the
   * webhook being handled inline */
  inline_reply *inl = e->run ? &e->run->inl : NULL;
  /* what it is to the inbound being handled: decided here, once */
  engine_reply reply = e->run && e->run->from && strcmp(c->number, e->run->from) == 0
                           ? ENGINE_REPLY_TO_SENDER
                           : ENGINE_REPLY_NONE;
  if (e->outbox && strcmp(status, "sent") == 0) {
    if (!media && inl && inl->number && inl->left > 0 && /* answers carry text only */
        strcmp(c->number, inl->number) == 0 &&
        (!inl->until_ns || mono_ns() < inl->until_ns)) { /* not too late */
      inl->left--;
      reply = ENGINE_REPLY_INLINE;
    } else {
      status = "queued";
    }
  }
  gsm_count count = gsm_count_text(text, strlen(text));
  message_row m = {.id = next_message_id(e), .bot_id = b->id,
                   .contact_id = c->id, .direction = "out", .number = c->number,
                   .text = text, .status = status, .transactional = transactional,
                   .segments = count.segments, .at = engine_now(e), .send_at = send_at,
                   .sender = e->run && e->run->reply_from ? e->run->reply_from : bot_sender(b),
                   .media = media,
                   .priority = transactional || !may_hold || (e->run && e->run->answering) ? 0 : 1,
                   .error = error,
                   .broadcast_id = e->run ? e->run->broadcast : 0,
                   .reply_to = reply != ENGINE_REPLY_NONE ? e->run->inbound : 0};
  journal_message(e->jr, &m);
  if (reply == ENGINE_REPLY_INLINE && inl->inbox_texts) {
    json_array_append_new(inl->inbox_texts, json_string(text));
    json_array_append_new(inl->inbox_ids, json_integer(m.id));
  }
  if (send_at && send_at < e->next_new_due) e->next_new_due = send_at;
  if (send_at) {
    if (shows(e)) {
      char when[64];
      clock_format_local(send_at, zone_of(b, c), when, sizeof when);
      action(e, b, c->number, "held until %s %s (quiet hours): %s", when,
             zone_of(b, c), text);
    }
    return 1;
  } else if (strcmp(status, "suppressed") == 0) {
    e->stats.suppressed++, b->counts.suppressed++;
    action(e, b, c->number, "suppressed (opted out): %s", text);
  } else if (error) {
    action(e, b, c->number, "not sent (the number is undeliverable): %s", text);
  } else {
    e->stats.replies++, b->counts.replies++;
    emit_message(e, b->name, c->number, text, status, m.id, reply);
  }
  return 0;
}
