/* admin: what the admin API and the command line do to a bot's data from
 * outside a script: a contact set, imported or erased, messages requeued, a
 * broadcast created or cancelled. Each commits before it returns. */
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contacts_file.h"
#include "engine_internal.h"
#include "luadata.h"

static int set_contact(engine *e, bot *b, const char *number, const char *status,
                       const char *fields, const char *tags, const char *timezone, char *err,
                       size_t errlen) {
  run_ctx run = {.now = e->clock(e->clock_ud)};
  e->run = &run;
  contact *c = contact_get(e, b, number, 1, NULL);
  e->run = NULL;
  if (!c) {
    snprintf(err, errlen, "%s", store_error(e->rd));
    return -1;
  }
  journal_contact_update(e->jr, c->id, status, fields, tags, timezone);
  if (fields) replace(&c->fields, fields);
  if (tags) replace(&c->tags, tags);
  if (timezone) replace(&c->timezone, timezone);
  if (status) {
    /* the ledger records an opt-out and an opt-in; not_opted_in is neither */
    int opt_out = strcmp(status, "opted_out") == 0;
    int opt_in = strcmp(status, "subscribed") == 0 && (c->opted_out || c->not_opted_in);
    if ((opt_out && !c->opted_out) || opt_in)
      journal_consent(e->jr, b->id, c->id, c->number, opt_out ? "optout" : "optin",
                      "setup", NULL, engine_now(e));
    if (opt_out && !c->opted_out && c->expect) { /* as an opt-out by keyword does */
      journal_conversation(e->jr, c->id, c->state, NULL, engine_now(e));
      replace(&c->expect, NULL);
    }
    c->opted_out = opt_out;
    c->not_opted_in = strcmp(status, "not_opted_in") == 0;
  }
  if (submit_journal(e, err, errlen)) return -1;
  return engine_flush(e, err, errlen);
}

/* A contact's fields or tags from outside a script, held to the rules and
 * limits a script's are (luadata): 0 with *out canonical (NULL if json is
 * NULL), or 1 with err. */
static int check_contact_data(const char *json, const char *label, const luadata_limits *lim,
                              char **out, char *err, size_t errlen) {
  *out = NULL;
  if (!json) return 0;
  *out = luadata_check_json(json, strlen(json), label, lim, err, errlen);
  return *out ? 0 : 1;
}

int engine_set_contact(engine *e, bot *b, const char *number, const char *status,
                       const char *fields_in, const char *tags_in, const char *timezone,
                       char *err, size_t errlen) {
  char *fields, *tags;
  if (check_contact_data(fields_in, "c.fields", &LUADATA_FIELDS, &fields, err, errlen))
    return 1;
  if (check_contact_data(tags_in, "c.tags", &LUADATA_TAGS, &tags, err, errlen)) {
    free(fields);
    return 1;
  }
  if (tags && strcmp(tags, "{}") == 0) replace(&tags, "[]"); /* no tags, as a script writes it */
  int rc = set_contact(e, b, number, status, fields, tags, timezone, err, errlen);
  free(fields);
  free(tags);
  return rc;
}

int engine_set_conversation(engine *e, bot *b, const char *number, const char *state_in,
                            const char *expect, int joined, char *err, size_t errlen) {
  char *state = NULL;
  if (check_contact_data(state_in, "c.state", &LUADATA_STATE, &state, err, errlen)) return 1;
  if (expect && (!*expect || strlen(expect) > 128 || strspn(expect,
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(expect))) {
    snprintf(err, errlen, "expect must be a handler's name (letters, digits, _ . -)");
    free(state);
    return 1;
  }
  run_ctx run = {.now = e->clock(e->clock_ud)};
  e->run = &run;
  contact *c = contact_get(e, b, number, 1, NULL);
  e->run = NULL;
  if (!c) {
    free(state);
    snprintf(err, errlen, "%s", store_error(e->rd));
    return -1;
  }
  if (state) replace(&c->state, state);
  replace(&c->expect, expect);
  journal_conversation(e->jr, c->id, c->state, c->expect, run.now);
  if (joined && !c->joined) {
    journal_contact_joined(e->jr, c->id);
    c->joined = 1;
  }
  free(state);
  if (submit_journal(e, err, errlen)) return -1;
  return engine_flush(e, err, errlen);
}

typedef struct engine_import {
  engine *e;
  int64_t bot_id;
} engine_import;

/* An imported contact that is cached takes what the import wrote. */
static void import_changed(void *ud, const char *number, const char *status,
                           const char *fields, const char *tags) {
  engine_import *im = ud;
  engine *o = engine_owner(im->e, im->bot_id, number);
  contact *c = contacts_find(&o->cache, im->bot_id, number);
  if (!c) return;
  int opted_out = strcmp(status, "opted_out") == 0;
  if (opted_out && !c->opted_out) replace(&c->expect, NULL); /* as the import did */
  c->opted_out = opted_out;
  c->not_opted_in = strcmp(status, "not_opted_in") == 0;
  replace(&c->fields, fields);
  replace(&c->tags, tags);
}

/* A batch of the import's writes, committed before the import reads on. */
static int import_commit(void *ud, journal *j, char *err, size_t errlen) {
  engine_import *im = ud;
  if (group_ids_check(im->e, err, errlen)) return -1;
  return writer_apply(im->e->w, j, err, errlen);
}

static int64_t import_new_id(void *ud) {
  engine_import *im = ud;
  return next_contact_id(im->e);
}

int engine_import_contacts(engine *e, bot *b, const char *data, size_t len,
                           import_options *opt, import_report *rep, char *err, size_t errlen) {
  if (engine_flush(e, err, errlen)) return -1; /* it reads what the batches wrote */
  engine_import im = {.e = e, .bot_id = b->id};
  opt->now = engine_now(e);
  opt->changed = import_changed;
  opt->commit = import_commit;
  opt->ud = &im;
  opt->new_id = import_new_id;
  int rc = contacts_import(e->rd, b->id, data, len, opt, rep, err, errlen);
  if (rc < 0) engine_reset(e); /* the cache may hold what a failed batch wrote */
  return rc;
}

int engine_erase_contact(engine *e, bot *b, const char *number, char *err, size_t errlen) {
  if (engine_flush(e, err, errlen)) return -1;
  contact_row r = {0};
  int found = store_contact_get(e->rd, b->id, number, &r);
  if (found <= 0) {
    snprintf(err, errlen, found < 0 ? "%s" : "no such contact",
             found < 0 ? store_error(e->rd) : "");
    return found < 0 ? -1 : 0;
  }
  engine *o = engine_owner(e, b->id, number);
  contact *c = contacts_find(&o->cache, b->id, number);
  int opted_out = c ? c->opted_out : strcmp(r.status, "opted_out") == 0;
  if (c) contacts_remove(&o->cache, c);
  journal_contact_erase(e->jr, b->id, r.id, number, opted_out, engine_now(e));
  waiting_forget_contact(o, b->id, r.id);
  contact_row_free(&r);
  if (submit_journal(e, err, errlen) || engine_flush(e, err, errlen)) return -1;
  return 1;
}

int engine_inbox_add(engine *e, bot *b, const char *ticket, const char *number,
                     const char *item, int64_t reply_ms, char *err, size_t errlen) {
  journal_inbox_add(e->jr, ticket, partition_of(b->id, number), b->id, item, reply_ms, 0);
  return submit_journal(e, err, errlen) || engine_flush(e, err, errlen) ? -1 : 0;
}

int engine_session_add(engine *e, const console_session *s, char *err, size_t errlen) {
  journal_session_add(e->jr, s);
  return submit_journal(e, err, errlen) || engine_flush(e, err, errlen) ? -1 : 0;
}

int engine_session_end(engine *e, const char *id, char *err, size_t errlen) {
  journal_session_end(e->jr, id);
  return submit_journal(e, err, errlen) || engine_flush(e, err, errlen) ? -1 : 0;
}

int engine_inbox_read(engine *e, bot *b, const char *number, char *err, size_t errlen) {
  if (engine_flush(e, err, errlen)) return -1; /* its newest message is in the store */
  contact_row r = {0};
  int found = store_contact_get(e->rd, b->id, number, &r);
  int64_t newest = found > 0 ? store_newest_message_at(e->rd, r.id) : 0;
  if (found < 0 || newest < 0) {
    snprintf(err, errlen, "%s", store_error(e->rd));
    contact_row_free(&r);
    return -1;
  }
  if (found) journal_inbox_read(e->jr, r.id, newest);
  contact_row_free(&r);
  if (found && (submit_journal(e, err, errlen) || engine_flush(e, err, errlen))) return -1;
  return found;
}

int engine_inbox_done(engine *e, int64_t inbox_id, const char *answer, char *err, size_t errlen) {
  journal_inbox_done(e->jr, inbox_id, 1, answer, "[]");
  return submit_journal(e, err, errlen) || engine_flush(e, err, errlen) ? -1 : 0;
}

int engine_requeue(engine *e, const int64_t *ids, size_t n, char *err, size_t errlen) {
  for (size_t i = 0; i < n; i++) journal_message_release(e->jr, ids[i], "queued", engine_now(e), 0);
  return submit_journal(e, err, errlen);
}

int64_t engine_broadcast(engine *e, bot *b, const char *segment, const char *text,
                         const char *content, int64_t start_ms, double rate, char *err,
                         size_t errlen) {
  broadcast_row row = {.id = next_broadcast_id(e), .bot_id = b->id,
                       .segment = (char *)segment, .text = (char *)text, .rate = rate,
                       .next_at = start_ms, .content = (char *)content};
  journal_broadcast_add(e->jr, &row, engine_now(e));
  if (submit_journal(e, err, errlen) || engine_flush(e, err, errlen)) return -1;
  return row.id;
}

/* As stdlib/internal/channels.lua checks a template: Meta's rules for a
 * name, a language code, and at most 100 parameters of 1 to 1,024
 * characters. */
char *engine_broadcast_template(const char *template_json, char *err, size_t errlen) {
  json_t *t = json_loads(template_json, 0, NULL);
  const char *name = json_string_value(json_object_get(t, "name"));
  json_t *lang = json_object_get(t, "language"), *params = json_object_get(t, "params");
  const char *language = lang ? json_string_value(lang) : "en_US";
  size_t i, nlang = language ? strlen(language) : 0;
  json_t *p;
  const char *bad =
      !json_is_object(t) ? "template must be an object {\"name\", \"language\", \"params\"}"
      : !name || !*name || strlen(name) > 512 ||
              strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name)
          ? "template.name must be an approved template's name (lowercase letters, digits and _)"
      : !language || nlang < 2 || nlang > 16 ||
              strspn(language, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-") != nlang
          ? "template.language must be a language code like en_US"
      : params && (!json_is_array(params) || json_array_size(params) > 100)
          ? "template.params must be a list of at most 100 strings"
          : NULL;
  json_array_foreach(bad ? NULL : params, i, p) {
    const char *v = json_string_value(p);
    size_t chars = v ? utf8_chars(v) : 0;
    if (!v || chars < 1 || chars > 1024) bad = "template.params: each is 1 to 1,024 characters";
  }
  char *out = NULL;
  if (bad) {
    snprintf(err, errlen, "%s", bad);
  } else {
    json_t *o = json_pack("{s:{s:s, s:s, s:o}}", "template", "name", name, "language", language,
                          "params", params ? json_incref(params) : json_array());
    out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
  }
  json_decref(t);
  return out;
}

int engine_broadcast_cancel(engine *e, bot *b, int64_t id, char *err, size_t errlen) {
  journal j = {0};
  journal_broadcast_cancel(&j, b->id, id);
  /* after its last chunk is in the store */
  int rc =
      write_now(e, &j, err, errlen) ? -1 : (int)j.ops[0].u.broadcast_cancel.cancelled;
  journal_free(&j);
  return rc;
}
