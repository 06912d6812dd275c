/* reload: `parley reload BOT`, the bot's folder sent to a running server.
 *
 * The folder's .lua files go as PUT /v1/bots/BOT/script {"files": {...}};
 * the server compiles and loads them in the sandbox, runs their
 * transcripts, replays real messages on them and on the running version
 * (transcript/replay.h), and activates them between batches, or changes
 * nothing and answers every problem. The replay's report is printed:
 * --dry-run asks for it alone, --accept-errors activates a version whose
 * replay found new handler errors. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_client.h"
#include "cli.h"
#include "script.h"
#include "util.h"

static const struct option reload_options[] = {{"dir", required_argument, NULL, 'd'},
                                               {"url", required_argument, NULL, 'u'},
                                               {"config", required_argument, NULL, 'c'},
                                               {"dry-run", no_argument, NULL, 'n'},
                                               {"accept-errors", no_argument, NULL, 'a'},
                                               {"help", no_argument, NULL, 'h'},
                                               {NULL, 0, NULL, 0}};

#define RELOAD_USAGE \
  "usage: parley reload BOT [--dir FOLDER] [--dry-run] [--accept-errors] [--url URL]\n" \
  "                         [--config FILE]\n"

/* One example of the replay's report: the fan's message, then what each
 * version sent. */
static void print_example(FILE *f, json_t *x) {
  fprintf(f, "  %s (message %lld): > %s\n", json_string_value(json_object_get(x, "number")),
          (long long)json_integer_value(json_object_get(x, "message")),
          json_string_value(json_object_get(x, "text")));
  static const char *const sides[] = {"old", "new"};
  for (int k = 0; k < 2; k++) {
    json_t *list = json_object_get(x, sides[k]);
    if (!json_array_size(list)) fprintf(f, "    %s: (nothing)\n", sides[k]);
    for (size_t i = 0; i < json_array_size(list); i++)
      fprintf(f, "    %s: %s\n", i ? "   " : sides[k],
              json_string_value(json_array_get(list, i)));
  }
}

/* The replay's report, as people read it. */
static void print_replay(FILE *f, json_t *r) {
  if (!json_is_object(r)) return;
  long long n = json_integer_value(json_object_get(r, "messages"));
  if (!n && !json_integer_value(json_object_get(r, "skipped"))) return; /* none to replay */
  fprintf(f, "replayed %lld real message%s of %lld conversation%s in %lld ms: %lld the same, "
          "%lld changed, %lld now fail, %lld hit a limit, %lld now get no reply, "
          "%lld unanswerable",
          n, n == 1 ? "" : "s", (long long)json_integer_value(json_object_get(r, "conversations")),
          json_integer_value(json_object_get(r, "conversations")) == 1 ? "" : "s",
          (long long)json_integer_value(json_object_get(r, "ms")),
          (long long)json_integer_value(json_object_get(r, "identical")),
          (long long)json_integer_value(json_object_get(r, "changed")),
          (long long)json_integer_value(json_object_get(r, "errors")),
          (long long)json_integer_value(json_object_get(r, "limits")),
          (long long)json_integer_value(json_object_get(r, "silent")),
          (long long)json_integer_value(json_object_get(r, "unanswerable")));
  long long skipped = json_integer_value(json_object_get(r, "skipped"));
  if (skipped) fprintf(f, " (%lld older than the records, skipped)", skipped);
  if (json_is_true(json_object_get(r, "stopped")))
    fprintf(f, "; stopped there: the replay's time budget (10 s) ran out");
  fprintf(f, "\n");
  static const struct {
    const char *key, *title;
  } kinds[] = {{"errors", "now fail"}, {"limits", "now hit a limit"},
               {"silent", "now get no reply"}, {"changed", "replies changed"},
               {"unanswerable", "unanswerable (a request with no recorded answer)"}};
  json_t *examples = json_object_get(r, "examples");
  for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
    json_t *list = json_object_get(examples, kinds[k].key);
    if (!json_array_size(list)) continue;
    fprintf(f, "%s:\n", kinds[k].title);
    for (size_t i = 0; i < json_array_size(list); i++) print_example(f, json_array_get(list, i));
  }
}

int cli_reload(int argc, char **argv) {
  const char *name = NULL, *dir = NULL, *url_flag = NULL, *config = NULL;
  int dry_run = 0, accept_errors = 0;
  cli_options o = {.argc = argc,
                   .argv = argv,
                   .verb = "reload",
                   .shorts = "h",
                   .longs = reload_options,
                   .known = "--dir, --dry-run, --accept-errors, --url, --config"};
  for (int c; (c = cli_option(&o)) != -1;) {
    if (c == 'n') {
      dry_run = 1;
    } else if (c == 'a') {
      accept_errors = 1;
    } else if (c == 'd') {
      dir = o.arg;
    } else if (c == 'u') {
      url_flag = o.arg;
    } else if (c == 'c') {
      config = o.arg;
    } else if (c == 'h') {
      printf(
          RELOAD_USAGE
          "Sends the bot's folder (default scripts/BOT, with the shared scripts/lib/\n"
          "modules it requires) to a running parley serve, which runs its transcripts,\n"
          "replays the last real messages (the replay setting, default 1000) on it and\n"
          "on the running version, prints what changed, and activates it; a version on\n"
          "which real messages now fail is refused unless --accept-errors. --dry-run:\n"
          "everything but the activation. The server: --url, else PARLEY_URL, else the listen\n"
          "setting of --config FILE and PARLEY_LISTEN as parley serve reads them\n"
          "(default http://127.0.0.1:8080). The admin token: PARLEY_ADMIN_TOKEN (or\n"
          "PARLEY_ADMIN_TOKEN_FILE).\n");
      return 0;
    } else if (c != 1) {
      return 2;
    } else if (!name) {
      name = o.arg;
    } else {
      fprintf(stderr, "parley reload: one bot at a time ('%s' and '%s')\n", name,
              o.arg);
      return 2;
    }
  }
  if (!name) {
    fprintf(stderr, RELOAD_USAGE);
    return 2;
  }
  if (admin_client_settings(config)) return 2;
  const char *token = admin_client_token("reload");
  if (!token) return 2;
  char *url = admin_client_url("reload", url_flag, config);
  if (!url) return 2;
  char *folder = dir ? xstrdup(dir) : xasprintf("scripts/%s", name);
  char err[1024];
  script *s = script_read(folder, err, sizeof err);
  free(folder);
  if (s && script_read_tests(s, err, sizeof err)) { /* the server runs them first */
    script_free(s);
    s = NULL;
  }
  if (!s) {
    fprintf(stderr, "%s\n", err);
    free(url);
    return 1;
  }
  json_t *files = json_object();
  for (size_t i = 0; i < s->nfiles; i++)
    json_object_set_new(files, s->files[i].path,
                        json_stringn(s->files[i].source, s->files[i].len));
  json_t *body = json_pack("{s:o}", "files", files);
  char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  script_free(s);

  char *endpoint = xasprintf("%s/v1/bots/%s/script%s%s", url, name,
                             dry_run ? "?dry_run=1" : accept_errors ? "?accept_errors=1" : "",
                             dry_run && accept_errors ? "&accept_errors=1" : "");
  buf answer = {0};
  long status = admin_client_request(endpoint, token, "PUT", "application/json", text,
                                     strlen(text), 60, &answer, err, sizeof err);
  free(endpoint);
  free(text);
  int exit_code = 0;
  if (!status) {
    fprintf(stderr,
            "parley reload: %s (is parley serve running there? give its address with "
            "--url, PARLEY_URL or --config)\n",
            err);
    exit_code = 1;
  } else {
    json_error_t jerr;
    json_t *o = json_loadb(answer.data ? answer.data : "", answer.len, 0, &jerr);
    print_replay(status == 200 ? stdout : stderr, json_object_get(o, "replay"));
    if (status == 200 && dry_run) {
      printf("%s: a dry run: the new version passed, nothing was activated\n", name);
    } else if (status == 200) {
      printf("%s: version %lld is active\n", name,
             (long long)json_integer_value(json_object_get(o, "version")));
    } else {
      json_t *errors = json_object_get(o, "errors");
      const char *msg = json_string_value(json_object_get(o, "error"));
      fprintf(stderr, "parley reload: %s (HTTP %ld)\n", msg ? msg : "refused", status);
      for (size_t i = 0; i < json_array_size(errors); i++)
        fprintf(stderr, "%s\n", json_string_value(json_array_get(errors, i)));
      exit_code = 1;
    }
    json_decref(o);
  }
  buf_free(&answer);
  free(url);
  return exit_code;
}
