/* handoff: a person in the loop. A handler hands a conversation to a
 * person (c:handoff{reason = ...}); from then on the contact's messages
 * are stored but reach no handler (compliance keywords still work, and
 * bot.on_optout / on_optin still run), until a person hands it back
 * (bot.on_handback runs then). Timers, drips and events of the contact go
 * on as before: a script that wants them to wait stops them itself.
 *
 * What people do in the console (take, reply, note, hand back) comes in as
 * an event of a reserved type (ENGINE_CONSOLE_EVENT_PREFIX: "parley:take",
 * ...) with {"who", "text"}: it runs in the conversation's own worker, on
 * the node holding it, in order with the contact's messages, and its
 * refusals are answered as an event's are (422 with a status). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

static void record_action(engine *e, bot *b, contact *c, const char *who, const char *what,
                          const char *text) {
  operator_action a = {.bot_id = b->id, .contact_id = c->id, .who = who, .action = what,
                       .text = text, .at = engine_now(e)};
  journal_operator_action(e->jr, &a);
}

/* The console's refusal of an action: told as a failed event (422). */
static int refuse(engine *e, bot *b, const char *number, const char *status, const char *why) {
  emit(e, EMIT_EVENT_FAILED, b->name, number, why, status, 0);
  return 0;
}

/* What a person's reply carries: on Messenger and Instagram, HUMAN_AGENT,
 * Meta's tag for a person's answer (up to 7 days after the fan's last
 * message); elsewhere nothing. */
static const char *person_tag(const contact *c) {
  channel ch = channel_of(c->number);
  return ch == CHANNEL_MESSENGER || ch == CHANNEL_INSTAGRAM ? "{\"tag\":\"HUMAN_AGENT\"}" : NULL;
}

int handle_console_action(engine *e, bot *b, const inbound *m) {
  const char *what = m->event_type + strlen(ENGINE_CONSOLE_EVENT_PREFIX);
  json_t *data = json_loads(m->event_data ? m->event_data : "{}", 0, NULL);
  const char *who = json_string_value(json_object_get(data, "who"));
  const char *text = json_string_value(json_object_get(data, "text"));
  int rc = 0;
  char why[400];
  contact *c = contact_get(e, b, m->from, CONTACT_FIND, NULL);
  if (!who || !*who) {
    rc = refuse(e, b, m->from, "bad_request", "the action names no person (who)");
  } else if (!c) {
    rc = refuse(e, b, m->from, "no_contact", "no such contact");
  } else if (strcmp(what, "take") == 0) {
    handoff_set(e, c, handoff_json(c->handoff, NULL, engine_now(e), who));
    record_action(e, b, c, who, "take", "");
    action(e, b, c->number, "taken by %s", who);
  } else if (strcmp(what, "note") == 0) {
    if (!text || !*text) rc = refuse(e, b, c->number, "bad_request", "a note needs a text");
    else record_action(e, b, c, who, "note", text);
  } else if (strcmp(what, "reply") == 0) {
    if (!text || !*text) {
      rc = refuse(e, b, c->number, "bad_request", "a reply needs a text");
    } else if (c->opted_out) {
      rc = refuse(e, b, c->number, "opted_out",
                  "the contact opted out: nothing can be sent to it until it texts START");
    } else if (window_closed(e, c, person_tag(c), why, sizeof why)) {
      rc = refuse(e, b, c->number, "window_closed", why);
    } else {
      if (!c->handoff) { /* answering by hand takes the conversation: the bot stops */
        handoff_set(e, c, handoff_json(NULL, "", engine_now(e), who));
        record_action(e, b, c, who, "take", "");
      }
      record_action(e, b, c, who, "reply", text);
      /* a person's answer to the fan: never held by quiet hours */
      rc = record_out(e, b, c, text, "sent", 0, 0, person_tag(c)) < 0 ? -1 : 0;
    }
  } else if (strcmp(what, "handback") == 0) {
    if (!c->handoff) {
      rc = refuse(e, b, c->number, "not_handed_off", "the bot has this conversation already");
    } else {
      handoff_set(e, c, NULL);
      record_action(e, b, c, who, "handback", text ? text : "");
      action(e, b, c->number, "handed back by %s", who);
      json_t *info = json_pack("{s:s, s:s}", "by", who, "note", text ? text : "");
      char *args = json_dumps(info, JSON_COMPACT);
      json_decref(info);
      inbound ev = {.text = "handback", .len = 8};
      char err[1024];
      run_failure why = RUN_FAILED_ERROR;
      rc = run_script(e, b, c, RUN_HANDBACK, &ev, 0, args, &why, err, sizeof err) < 0 ? -1 : 0;
      free(args);
    }
  } else {
    rc = refuse(e, b, m->from, "bad_request", "no such action of the console");
  }
  json_decref(data);
  return rc;
}
