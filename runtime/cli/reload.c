/* reload: `parley reload BOT`, the bot's folder sent to a running server.
 *
 * The folder's .lua files go as PUT /v1/bots/BOT/script {"files": {...}};
 * the server compiles and loads them in the sandbox and activates them
 * between batches, or changes nothing and answers every problem. */
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
                                               {"help", no_argument, NULL, 'h'},
                                               {NULL, 0, NULL, 0}};

int cli_reload(int argc, char **argv) {
  const char *name = NULL, *dir = NULL, *url_flag = NULL, *config = NULL;
  cli_options o = {.argc = argc,
                   .argv = argv,
                   .verb = "reload",
                   .shorts = "h",
                   .longs = reload_options,
                   .known = "--dir, --url, --config"};
  for (int c; (c = cli_option(&o)) != -1;) {
    if (c == 'd') {
      dir = o.arg;
    } else if (c == 'u') {
      url_flag = o.arg;
    } else if (c == 'c') {
      config = o.arg;
    } else if (c == 'h') {
      printf(
          "usage: parley reload BOT [--dir FOLDER] [--url URL] [--config FILE]\n"
          "Sends the bot's folder (default scripts/BOT, with the shared scripts/lib/\n"
          "modules it requires) to a running parley serve, which activates it or\n"
          "answers every problem. The server: --url, else PARLEY_URL, else the listen\n"
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
    fprintf(stderr,
            "usage: parley reload BOT [--dir FOLDER] [--url URL] [--config FILE]\n");
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

  char *endpoint = xasprintf("%s/v1/bots/%s/script", url, name);
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
    if (status == 200) {
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
