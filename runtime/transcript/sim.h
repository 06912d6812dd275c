/* sim: `parley sim BOTDIR`, shared by its three parts: the session loop
 * (sim.c), the /commands (sim_commands.c) and the session written down as a
 * transcript for /save (sim_record.c). */
#ifndef PARLEY_SIM_H
#define PARLEY_SIM_H

#include <stdint.h>
#include <stdio.h>

#include "engine.h"
#include "http_client.h"
#include "http_mock.h"
#include "util.h"

/* The session as a .chat transcript: what /save writes. */
typedef struct sim_record {
  int64_t start; /* the clock when the session (or the last /reset) began */
  buf setup;     /* lines a /reset keeps: @http answers, @seed */
  buf body;      /* the steps so far */
  buf pre;       /* the step being run: @http lines for the real answers it got */
  buf out;       /* ... and what the bot did, as < and ! lines */
  char *step;    /* ... and the step's own line (NULL: none runs) */
  int reloaded;  /* a /reload happened: earlier steps ran another version */
} sim_record;

typedef struct sim {
  engine *e;
  bot *b;
  const char *dir;
  const char *db;
  int64_t now;
  char fan[32];
  int tty;
  int errors;
  char *zone;
  http_mocks *http;      /* /http answers; other requests really go out */
  http_fetched *fetched; /* the last real answer */
  sim_record rec;
  int seeded; /* /seed: kept across /reset and /reload */
  int64_t seed;
  int lineno;  /* of the input line being run */
  FILE *out, *err; /* what it shows, and its complaints (stdout, stderr) */
  /* the console's simulator: the bot is a version's files (JSON), named
   * name, instead of the folder dir */
  const char *files_json, *name;
  bot_env env; /* --env NAME=value: over PARLEY_BOT_<BOT>_<NAME> */
} sim;

/* sim.c */
int sim_start(sim *s, const char *db);
/* The current fan sends text. */
void sim_send(sim *s, const char *text);
/* The fallback of the /http mocks: a request no /http line answers goes out
 * for real, and is recorded for /save. */
int sim_fetch(void *ud, const engine_http_request *r, engine_http_result *res);
void sim_answer_http(sim *s);
const char *sim_dim_on(const sim *s);
const char *sim_dim_off(const sim *s);
/* An error in the input: "stdin:LINE: " (piped) and the sentence; piped
 * input then exits 1. */
void sim_complain(sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An E.164 number like +15550002. */
int sim_valid_number(const char *n);

/* sim_commands.c: runs "/name args" (line without the slash's leading
 * spaces); returns 1 to quit. */
int sim_command(sim *s, char *line);

/* sim_record.c */
void record_init(sim_record *r, int64_t start);
/* After /reset: an empty store from now on; the setup lines stay. */
void record_restart(sim_record *r, int64_t start);
void record_free(sim_record *r);
/* A line that stays in force (@http, @seed): written now and after a reset. */
void record_setup(sim_record *r, const char *line);
void record_comment(sim_record *r, const char *text);
/* A step: its line (taken), then what it produced, then record_step_end. */
void record_step(sim_record *r, char *line);
void record_message(sim_record *r, const char *to, const char *text);
void record_error(sim_record *r, const char *botdir, const char *error);
void record_fetch(sim_record *r, const engine_http_request *req,
                  const engine_http_result *res);
void record_step_end(sim_record *r);
/* Writes the session to path (a .chat file) for the bot in botdir; 0, or
 * -1 with a sentence in err. */
int record_save(const sim_record *r, const bot_env *env, const char *botdir,
                const char *path, char *err, size_t errlen);

#endif
