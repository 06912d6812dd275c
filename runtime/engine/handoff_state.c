/* handoff_state: whether a person has a conversation (contact.handoff),
 * as a handler's c:handoff sets it and the console's actions change it
 * (handoff.c), and what it means for the contact's messages. */
#include <jansson.h>
#include <stdlib.h>

#include "engine_internal.h"

/* {"reason", "since", "by", "taken_at"}: the old one's reason and since
 * kept (if any); by NULL: nobody has taken it yet. */
char *handoff_json(const char *old, const char *reason, int64_t now, const char *by) {
  json_t *o = old ? json_loads(old, 0, NULL) : NULL;
  if (!json_is_object(o)) {
    json_decref(o);
    o = json_pack("{s:s, s:I}", "reason", reason ? reason : "", "since", (json_int_t)now);
  } else if (reason && *reason) {
    json_object_set_new(o, "reason", json_string(reason));
  }
  if (by) {
    json_object_set_new(o, "by", json_string(by));
    json_object_set_new(o, "taken_at", json_integer(now));
  }
  char *json = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(o);
  return json;
}

void handoff_set(engine *e, contact *c, char *json /* taken; NULL: the bot's again */) {
  journal_handoff(e->jr, c->id, json);
  free(c->handoff);
  c->handoff = json;
}

void handoff_from_handler(engine *e, bot *b, contact *c, const char *reason) {
  handoff_set(e, c, handoff_json(c->handoff, reason, engine_now(e), NULL));
  action(e, b, c->number, "handed to a person%s%s", *reason ? ": " : "", reason);
}

int handoff_rule(engine *e, bot *b, contact *c) {
  if (!c->handoff) return 0;
  if (e->show_rules) action(e, b, c->number, "rule: none (a person has the conversation)");
  return 1;
}

