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

/* Who a message to c goes from: on SMS, the number the fan wrote to (the
 * bot's first without one); on another channel, the channel (its prefix:
 * the bot has one account there, its settings say which). */
static const char *sender_for(engine *e, const bot *b, const contact *c) {
  channel ch = channel_of(c->number);
  if (ch != CHANNEL_SMS) return channel_prefix(ch);
  return e->run && e->run->reply_from ? e->run->reply_from : bot_sender(b);
}

/* Meta's tags that let a Messenger or Instagram message go outside the
 * 24-hour window, and for how long after the contact last wrote (0: any
 * time), as its Send API documents them (Instagram takes HUMAN_AGENT
 * only). */
static const struct {
  const char *tag;
  int64_t within_ms;
} message_tags[] = {{"HUMAN_AGENT", 7 * CHANNEL_WINDOW_MS},
                    {"CONFIRMED_EVENT_UPDATE", 0},
                    {"POST_PURCHASE_UPDATE", 0},
                    {"ACCOUNT_UPDATE", 0}};

/* How long after the contact last wrote a message with these contents
 * may go on a channel with a window: the window itself for free-form
 * messages, any time for a WhatsApp template (-1), as its tag allows on
 * Messenger. */
static int64_t allowed_for(channel ch, const char *content) {
  if (!content || content[0] != '{') return CHANNEL_WINDOW_MS;
  json_t *o = json_loads(content, 0, NULL);
  int64_t ms = CHANNEL_WINDOW_MS;
  const char *tag = json_string_value(json_object_get(o, "tag"));
  if (ch == CHANNEL_WHATSAPP && json_object_get(o, "template")) ms = -1;
  size_t ntags = ch != CHANNEL_WHATSAPP && tag ? sizeof message_tags / sizeof *message_tags : 0;
  for (size_t i = 0; i < ntags; i++)
    if (strcmp(message_tags[i].tag, tag) == 0 &&
        (ch != CHANNEL_INSTAGRAM || message_tags[i].within_ms)) /* Instagram: HUMAN_AGENT */
      ms = message_tags[i].within_ms ? message_tags[i].within_ms : -1;
  json_decref(o);
  return ms;
}

const char *window_closed(engine *e, const contact *c, const char *content, char *why,
                          size_t n) {
  channel ch = channel_of(c->number);
  if (!channel_has_window(ch)) return NULL;
  int64_t allowed = allowed_for(ch, content), ago = engine_now(e) - c->last_in;
  if (allowed < 0 || (c->last_in && ago < allowed)) return NULL;
  char since[64];
  if (c->last_in)
    snprintf(since, sizeof since, "its last message was %lld hours ago",
             (long long)(ago / 3600000));
  else
    snprintf(since, sizeof since, "it has not written yet");
  if (ch == CHANNEL_WHATSAPP)
    snprintf(why, n, "outside WhatsApp's 24-hour customer service window (%s): only a "
             "template may go (c:send{template = ...})", since);
  else
    snprintf(why, n, "outside %s's 24-hour messaging window (%s): only a message with a "
             "tag may go (c:send(text, {tag = \"POST_PURCHASE_UPDATE\"}); HUMAN_AGENT for 7 "
             "days)", ch == CHANNEL_MESSENGER ? "Messenger" : "Instagram", since);
  return why;
}

/* For the simulator and transcripts: what a message carries beside its
 * text, as a line ("buttons: [Yes] [No]"), or NULL. */
static char *content_line(const char *content) {
  if (!content || content[0] != '{') return NULL;
  json_t *o = json_loads(content, 0, NULL), *list = json_object_get(o, "list");
  json_t *choices = list ? json_object_get(list, "items") : json_object_get(o, "buttons"), *c;
  const char *tag = json_string_value(json_object_get(o, "tag"));
  buf b = {0};
  if (choices) {
    buf_puts(&b, list ? "list: " : "buttons:");
    if (list) buf_puts(&b, json_string_value(json_object_get(list, "button")));
    size_t i;
    json_array_foreach(choices, i, c)
        buf_printf(&b, " [%s]", json_string_value(json_object_get(c, "title")));
  }
  if (tag) buf_printf(&b, "%stag %s", b.len ? "; " : "", tag);
  json_decref(o);
  return b.data;
}

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
  char window[400];
  if (!error && strcmp(status, "suppressed") != 0 &&
      window_closed(e, c, media, window, sizeof window)) {
    status = "failed";
    error = window;
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
  /* its {{link "URL"}}s become short links, made only for a message that
   * may go out (the others show the URL); counted as sent, segments too */
  int64_t id = next_message_id(e);
  char *linked = links_expand(e, b, c, text, id,
                              strcmp(status, "suppressed") != 0 && strcmp(status, "failed") != 0);
  if (linked) text = linked;
  e->last_out_id = id;
  /* segments: SMS's; a message on another channel is one */
  gsm_count count = {.segments = 1};
  if (channel_counts_segments(channel_of(c->number))) count = gsm_count_text(text, strlen(text));
  message_row m = {.id = id, .bot_id = b->id,
                   .contact_id = c->id, .direction = "out", .number = c->number,
                   .text = text, .status = status, .transactional = transactional,
                   .segments = count.segments, .at = engine_now(e), .send_at = send_at,
                   .sender = sender_for(e, b, c),
                   .media = media,
                   .priority = transactional || !may_hold || (e->run && e->run->answering) ? 0 : 1,
                   .error = error,
                   .broadcast_id = e->run ? e->run->broadcast : 0,
                   .reply_to = reply != ENGINE_REPLY_NONE ? e->run->inbound
                               : e->run && e->run->resumed_from &&
                                       strcmp(c->number, e->run->resumed_from) == 0
                                   ? e->run->resumed
                                   : 0};
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
    free(linked);
    return 1;
  } else if (strcmp(status, "suppressed") == 0) {
    e->stats.suppressed++, b->counts.suppressed++;
    action(e, b, c->number, "suppressed (opted out): %s", text);
  } else if (error == window) {
    action(e, b, c->number, "not sent (%s): %s", window, text);
  } else if (error) {
    action(e, b, c->number, "not sent (the number is undeliverable): %s", text);
  } else {
    e->stats.replies++, b->counts.replies++;
    emit_message(e, b->name, c->number, text, status, m.id, reply);
    char *carries = shows(e) ? content_line(media) : NULL;
    if (carries) action(e, b, c->number, "%s", carries);
    free(carries);
  }
  free(linked);
  return 0;
}
