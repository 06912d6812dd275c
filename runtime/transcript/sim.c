/* sim: the simulator behind `parley sim` (cli/sim.c, the REPL): its engine,
 * its HTTP answers and its complaints. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "clock.h"
#include "sim.h"

/* A request no /http line answers goes out for real (private addresses
 * allowed: the simulator runs on the author's own machine). */
int sim_fetch(void *ud, const engine_http_request *r, engine_http_result *res) {
  sim *s = ud;
  http_fetch_free(s->fetched);
  s->fetched = http_fetch(r, 1, res);
  /* written down with the bot.env values masked, as /save writes @env */
  const bot_env *env = bot_env_of(s->b);
  char *url = bot_env_mask(env, r->url);
  char *body = res->body ? xstrndup(res->body, res->body_len) : NULL;
  char *masked_body = body ? bot_env_mask(env, body) : NULL;
  engine_http_request mr = *r;
  engine_http_result mres = *res;
  mr.url = url;
  mres.body = masked_body;
  mres.body_len = masked_body ? strlen(masked_body) : 0;
  record_fetch(&s->rec, &mr, &mres);
  free(url);
  free(body);
  free(masked_body);
  return 0;
}

/* Answers the requests handlers made, then runs what waited for them. */
void sim_answer_http(sim *s) {
  char err[1024];
  if (engine_http_waiting(s->e) && http_mocks_answer(s->http, s->e, err, sizeof err))
    fprintf(s->err, "parley sim: %s\n", err);
}

static int64_t sim_clock(void *ud) { return ((sim *)ud)->now; }

const char *sim_dim_on(const sim *s) { return s->tty ? "\033[2m" : ""; }
const char *sim_dim_off(const sim *s) { return s->tty ? "\033[0m" : ""; }

static void on_message(void *ud, const engine_message *m) {
  sim *s = ud;
  const char *to = m->to, *text = m->text;
  const char *name = bot_display_name(s->b);
  char *masked = bot_env_mask(bot_env_of(s->b), text);
  record_message(&s->rec, to, masked);
  free(masked);
  if (strcmp(to, s->fan) == 0)
    fprintf(s->out, "%s: %s\n", name, text);
  else
    fprintf(s->out, "%s -> %s: %s\n", name, to, text);
}

static void on_action(void *ud, const engine_action *a) {
  sim *s = ud;
  const char *number = a->number, *what = a->text;
  if (a->kind == ENGINE_ACTION_ERROR) record_error(&s->rec, s->dir, a->detail);
  if (strcmp(number, s->fan) == 0 || !*number)
    fprintf(s->out, "%s  . %s%s\n", sim_dim_on(s), what, sim_dim_off(s));
  else
    fprintf(s->out, "%s  . [%s] %s%s\n", sim_dim_on(s), number, what, sim_dim_off(s));
}

void sim_send(sim *s, const char *text) {
  buf step = {0};
  buf_printf(&step, "> %s ", s->fan);
  for (const char *p = text; *p; p++) { /* a backslash is written \\, {{ as \{{ */
    if (*p == '\\' || (p[0] == '{' && p[1] == '{')) buf_puts(&step, "\\");
    buf_add(&step, p, 1);
    if (p[0] == '{' && p[1] == '{') buf_add(&step, ++p, 1);
  }
  record_step(&s->rec, step.data);
  inbound in = {.from = s->fan, .text = text, .len = strlen(text)};
  char err[1024];
  if (engine_handle(s->e, s->b, &in, 1, err, sizeof err)) {
    fprintf(s->err, "parley sim: %s\n", err);
    s->errors++;
  }
  sim_answer_http(s);
  record_step_end(&s->rec);
}

int sim_start(sim *s, const char *db) {
  engine_observer obs = {on_message, on_action, s, NULL, 0};
  engine_options opt = {.db_path = db, .clock = sim_clock, .clock_ud = s,
                        .observer = &obs, .show_rules = 1, .bot_env = bot_env_from_process,
                        .bot_env_ud = &s->env};
  char err[4096];
  s->e = engine_open(&opt, err, sizeof err);
  if (!s->e) {
    fprintf(s->err, "parley sim: %s\n", err);
    return -1;
  }
  if (s->files_json) { /* the console's: a version's files, no folder */
    char *label = xasprintf("%s (simulated)", s->name);
    script *sc = script_from_json(s->name, label, s->files_json, err, sizeof err);
    free(label);
    if (sc && engine_fill_bot_env(s->e, sc, err, sizeof err)) {
      script_free(sc);
      sc = NULL;
    }
    s->b = sc ? engine_install(s->e, sc, NULL, err, sizeof err) : NULL; /* takes sc */
  } else {
    s->b = engine_load_bot(s->e, s->dir, err, sizeof err);
  }
  if (!s->b) {
    fprintf(s->err, "%s\n", err);
    engine_close(s->e);
    s->e = NULL;
    return -1;
  }
  engine_on_http(s->e, http_mocks_start, s->http);
  if (s->seeded) engine_seed_random(s->e, s->b, s->seed);
  return 0;
}

void sim_complain(sim *s, const char *fmt, ...) {
  if (!s->tty) fprintf(s->err, "stdin:%d: ", s->lineno);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(s->err, fmt, ap);
  va_end(ap);
  fputc('\n', s->err);
  s->errors++;
}

int sim_valid_number(const char *n) { return channel_address_ok(n, 4); }
