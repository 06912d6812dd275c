/* clicks: visits to tracked links (links.c makes them). `parley serve`
 * finds a code's link (engine_link_find) and hands the visit to the
 * contact's conversation as an event (engine_click_event), on the node that
 * holds it; there it is recorded and bot.on_click runs (handle_click),
 * unless a program made it (a link preview, a crawler: link_agent_is_bot). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "store_links.h"

/* Programs that fetch a link without a person: link previews (iMessage
 * says it is facebookexternalhit and Twitterbot), crawlers, HTTP
 * libraries, uptime checkers. Matched without case. */
static const char *const program_agents[] = {
    "bot",           "crawler",      "spider",        "preview",     "facebookexternalhit",
    "facebot",       "whatsapp/",    "skypeuripreview", "iframely",  "embedly",
    "vkshare",       "google-read-aloud", "headless", "curl/",       "wget/",
    "python-requests",
    "python-urllib", "go-http-client", "okhttp",      "java/",       "libwww-perl",
    "httpclient",    "axios/",       "node-fetch",    "scrapy",      "phantomjs",
    "lighthouse",    "pingdom",      "uptimerobot",   "monitor",     "validator",
    "proofpoint",    "mimecast",     "barracuda",     "safelinks",   "urlscan"};

int link_agent_is_bot(const char *user_agent) {
  if (!user_agent || !*user_agent) return 1; /* browsers always say who they are */
  for (size_t i = 0; i < sizeof program_agents / sizeof *program_agents; i++)
    if (strcasestr(user_agent, program_agents[i])) return 1;
  return 0;
}

int handle_click(engine *e, bot *b, const inbound *m) {
  json_t *d = json_loads(m->event_data ? m->event_data : "{}", 0, NULL);
  int64_t link = json_integer_value(json_object_get(d, "link"));
  int64_t message = json_integer_value(json_object_get(d, "message"));
  const char *url = json_string_value(json_object_get(d, "url"));
  const char *agent = json_string_value(json_object_get(d, "user_agent"));
  int is_bot = json_is_true(json_object_get(d, "bot"));
  contact *c = link > 0 && url ? contact_get(e, b, m->from, CONTACT_FIND, NULL) : NULL;
  int rc = 0;
  if (c) { /* else erased since, or not a click the server made: nothing to record */
    journal_click_add(e->jr, &(click_row){.bot_id = b->id, .link_id = link,
                                          .contact_id = c->id, .at = engine_now(e),
                                          .user_agent = agent ? agent : "", .is_bot = is_bot});
    if (is_bot) {
      action(e, b, c->number, "link %s fetched by a program (%s)", url,
             agent && *agent ? agent : "no user agent");
    } else {
      action(e, b, c->number, "clicked %s", url);
      json_t *info = json_pack("{s:s, s:I, s:s}", "url", url, "message", (json_int_t)message,
                               "user_agent", agent ? agent : "");
      char *args = json_dumps(info, JSON_COMPACT);
      json_decref(info);
      inbound ev = {.text = "click", .len = 5};
      char err[1024];
      run_failure why = RUN_FAILED_ERROR;
      rc = run_script(e, b, c, RUN_CLICK, &ev, 0, args, &why, err, sizeof err) < 0 ? -1 : 0;
      free(args);
    }
  }
  json_decref(d);
  return rc;
}

/* The link a store read found (1), or none (0), or the store's error (-1). */
static int link_found(engine *e, int found, link_row *r, engine_link *out, char *err,
                      size_t errlen) {
  if (found < 0) {
    snprintf(err, errlen, "%s", store_error(e->rd));
    return -1;
  }
  if (!found) return 0;
  *out = (engine_link){.id = r->id, .message_id = r->message_id, .url = r->url, .bot = r->bot,
                       .number = r->number};
  r->url = r->bot = r->number = NULL;
  link_row_free(r);
  return 1;
}

int engine_link_find(engine *e, const char *code, engine_link *out, char *err, size_t errlen) {
  *out = (engine_link){0};
  if (!link_code_ok(code)) return 0;
  link_row r;
  return link_found(e, store_link_find(e->rd, code, &r), &r, out, err, errlen);
}

int link_latest(engine *e, bot *b, const char *number, const char *url, engine_link *out,
                char *err, size_t errlen) {
  *out = (engine_link){0};
  link_row r;
  return link_found(e, store_link_latest(e->rd, b->id, number, url, &r), &r, out, err, errlen);
}

int engine_link_url_ok(const char *url) { return url && link_url_ok(url, strlen(url)); }

void engine_link_free(engine_link *l) {
  free(l->url);
  free(l->bot);
  free(l->number);
  *l = (engine_link){0};
}

char *engine_click_event(const engine_link *l, const char *user_agent, int head) {
  int is_bot = head || link_agent_is_bot(user_agent);
  /* kept as printable ASCII, as user agents are written, 512 bytes at most */
  char agent[ENGINE_USER_AGENT_MAX + 1];
  size_t n = 0;
  for (const char *p = user_agent ? user_agent : ""; *p && n < ENGINE_USER_AGENT_MAX; p++)
    agent[n++] = *p >= ' ' && *p <= '~' ? *p : '?';
  agent[n] = '\0';
  json_t *o = json_pack("{s:I, s:s, s:I, s:s, s:b}", "link", (json_int_t)l->id, "url", l->url,
                        "message", (json_int_t)l->message_id, "user_agent", agent, "bot",
                        is_bot);
  char *out = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return out;
}
