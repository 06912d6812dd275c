/* contact_setup: `key=value` words that set up a contact (contact_setup.h). */
#include "contact_setup.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "util.h"

/* One word into fields/tags/cs: NULL, or why it is refused. */
static const char *read_word(char *kv, contact_setup *cs, json_t *fields,
                             json_t **tags) {
  char *eq = strchr(kv, '=');
  if (!eq)
    return "is not key=value (e.g. tz=America/Chicago, city=Austin, tags=vip,early, "
           "status=opted_out)";
  *eq = 0;
  const char *v = eq + 1, *bad = NULL;
  if (strcmp(kv, "tz") == 0) {
    if (!clock_valid_zone(v)) bad = "is not a time zone";
    cs->tz = v;
  } else if (strcmp(kv, "status") == 0) {
    if (strcmp(v, "opted_out") && strcmp(v, "subscribed") && strcmp(v, "not_opted_in"))
      bad = "is not a status (subscribed, not_opted_in or opted_out)";
    cs->status = v;
  } else if (strcmp(kv, "tags") == 0) {
    json_decref(*tags);
    *tags = json_array();
    char *save = NULL, *copy = xstrdup(v);
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
      json_array_append_new(*tags, json_string(t));
    free(copy);
  } else {
    json_object_set_new(fields, kv, json_string(v));
  }
  if (bad) *eq = '='; /* the word as given, in the message */
  return bad;
}

int contact_setup_read(char *words, contact_setup *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  json_t *fields = json_object(), *tags = NULL;
  char *save = NULL;
  int rc = 0;
  for (char *kv = strtok_r(words, " \t", &save); kv;
       kv = strtok_r(NULL, " \t", &save)) {
    const char *bad = read_word(kv, out, fields, &tags);
    if (bad) {
      snprintf(err, errlen, "'%.300s' %s", kv, bad);
      rc = -1;
      break;
    }
  }
  if (rc == 0) {
    if (json_object_size(fields))
      out->fields_json = json_dumps(fields, JSON_COMPACT | JSON_SORT_KEYS);
    if (tags) out->tags_json = json_dumps(tags, JSON_COMPACT);
  } else {
    out->status = out->tz = NULL;
  }
  json_decref(fields);
  json_decref(tags);
  return rc;
}

void contact_setup_free(contact_setup *cs) {
  free(cs->fields_json);
  free(cs->tags_json);
  cs->fields_json = cs->tags_json = NULL;
}
