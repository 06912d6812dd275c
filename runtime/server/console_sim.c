/* console_sim: the simulator in the console (docs/console.md). Each
 * signed-in person (the admin token counts as one) has a simulator a bot,
 * the engine `parley sim` runs: the bot's active version on an in-memory
 * store of its own, its own clock (starting at the server's time), nothing
 * sent, no request to other services going out (only those a /http line
 * answers). A line is a fan's message or one of the simulator's commands;
 * the answer is what the simulator shows. Kept between lines, on the engine
 * thread, at most SIMS at once; one idle for IDLE_MS goes. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "http_mock.h"
#include "sim.h"
#include "store_console.h"
#include "util.h"

enum { SIMS = 32, IDLE_MS = 30 * 60 * 1000, LINE_MAX_BYTES = 2000 };

typedef struct console_sim {
  char *owner; /* the session's id, or "" for the admin token */
  char *bot;
  int64_t version; /* the bot's version it runs */
  char *files;     /* that version's files (JSON): a /reset starts from them */
  int64_t used_ms;
  sim s;
} console_sim;

static console_sim *sims[SIMS];

static void sim_drop(console_sim *cs) {
  if (cs->s.e) engine_close(cs->s.e);
  http_mocks_free(cs->s.http);
  record_free(&cs->s.rec);
  bot_env_clear(&cs->s.env);
  free(cs->s.zone);
  free(cs->owner);
  free(cs->bot);
  free(cs->files);
  free(cs);
}

void console_sims_free(void) {
  for (int i = 0; i < SIMS; i++) {
    if (sims[i]) sim_drop(sims[i]);
    sims[i] = NULL;
  }
}

/* The owner's simulator of bot b (running b's active version), made if
 * there is none; NULL with err if it cannot start. */
static console_sim *sim_of(server *s, const char *owner, bot *b, char *err, size_t errlen) {
  int64_t now = wall_ms();
  int free_slot = -1, oldest = 0;
  for (int i = 0; i < SIMS; i++) {
    console_sim *cs = sims[i];
    if (cs && now - cs->used_ms > IDLE_MS) { /* idle too long */
      sim_drop(cs);
      sims[i] = cs = NULL;
    }
    if (!cs) {
      if (free_slot < 0) free_slot = i;
      continue;
    }
    if (strcmp(cs->owner, owner) == 0 && strcmp(cs->bot, bot_name(b)) == 0) {
      if (cs->version == bot_version(b)) return cs;
      sim_drop(cs); /* the bot has another version now: a new simulator */
      sims[i] = NULL;
      free_slot = i;
      break;
    }
    if (sims[oldest] && cs->used_ms < sims[oldest]->used_ms) oldest = i;
  }
  if (free_slot < 0) { /* the one used least recently goes */
    sim_drop(sims[oldest]);
    sims[oldest] = NULL;
    free_slot = oldest;
  }
  char *files = store_version_files(engine_store(s->e), bot_id(b), bot_version(b));
  if (!files) {
    snprintf(err, errlen, "the bot's active version is not in the store");
    return NULL;
  }
  console_sim *cs = xcalloc(1, sizeof *cs);
  cs->owner = xstrdup(owner);
  cs->bot = xstrdup(bot_name(b));
  cs->version = bot_version(b);
  cs->files = files;
  sim *m = &cs->s;
  m->name = cs->bot;
  m->files_json = cs->files;
  m->db = ":memory:";
  m->now = engine_now(s->e) / 1000 * 1000;
  m->zone = xstrdup("UTC");
  snprintf(m->fan, sizeof m->fan, "+15550001");
  m->http = http_mocks_new(); /* no fallback: nothing goes out */
  record_init(&m->rec, m->now);
  m->out = m->err = stderr; /* while it starts; each line has its own */
  char *said = NULL;
  size_t len = 0;
  FILE *errs = open_memstream(&said, &len);
  m->err = errs;
  int rc = sim_start(m, m->db);
  fclose(errs);
  if (rc) {
    snprintf(err, errlen, "the simulator did not start: %s", said ? said : "");
    free(said);
    sim_drop(cs);
    return NULL;
  }
  free(said);
  sims[free_slot] = cs;
  return cs;
}

/* Commands a session in a browser has no use for, or must not run: the
 * bot's folder is not the browser's, nor the server's files. */
static int refused_command(const char *line) {
  static const char *const refused[] = {"/reload", "/save", "/quit"};
  for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
    size_t n = strlen(refused[i]);
    if (strncmp(line, refused[i], n) == 0 && (line[n] == 0 || line[n] == ' ')) return 1;
  }
  return 0;
}

/* text's lines as a JSON array (a last empty one left out) */
static json_t *lines(const char *text) {
  json_t *a = json_array();
  for (const char *p = text; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    json_array_append_new(a, json_stringn(p, n));
    p += n + (nl ? 1 : 0);
  }
  return a;
}

void console_sim_run(server *s, job *j, bot *b) {
  json_t *body = json_loadb(j->body.data ? j->body.data : "", j->body.len, 0, NULL);
  const char *line = json_string_value(json_object_get(body, "line"));
  if (!line || !*line || strlen(line) > LINE_MAX_BYTES || strchr(line, '\n')) {
    job_answer_error(j, 400, "the body must be {\"line\": \"...\"}: a fan's message, or a "
                             "/command (one line, at most 2000 bytes)");
    json_decref(body);
    return;
  }
  if (refused_command(line)) {
    job_answer_error(j, 400, "/reload, /save and /quit are parley sim's, not the console's: "
                             "the simulator runs the bot's active version");
    json_decref(body);
    return;
  }
  char err[1024];
  console_sim *cs = sim_of(s, j->signed_in ? j->signed_in->id : "", b, err, sizeof err);
  if (!cs) {
    job_answer_error(j, 500, err);
    json_decref(body);
    return;
  }
  cs->used_ms = wall_ms();
  char *out = NULL, *errs = NULL;
  size_t out_len = 0, errs_len = 0;
  cs->s.out = open_memstream(&out, &out_len);
  cs->s.err = open_memstream(&errs, &errs_len);
  char *copy = xstrdup(line);
  int quit = *copy == '/' ? sim_command(&cs->s, copy) : (sim_send(&cs->s, copy), 0);
  free(copy);
  fclose(cs->s.out);
  fclose(cs->s.err);
  cs->s.out = cs->s.err = stderr;
  int64_t now = cs->s.now;
  const char *fan = cs->s.fan;
  job_answer(j, 200,
             json_pack("{s:s, s:I, s:o, s:o}", "fan", fan, "clock", (json_int_t)(now / 1000),
                       "lines", lines(out), "errors", lines(errs)));
  if (quit) { /* a /reset that could not start again */
    for (int i = 0; i < SIMS; i++)
      if (sims[i] == cs) sims[i] = NULL;
    sim_drop(cs);
  }
  free(out);
  free(errs);
  json_decref(body);
}
