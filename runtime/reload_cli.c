/* reload: `parley reload BOT`, the bot's folder sent to a running server.
 *
 * The folder's .lua files go as PUT /v1/bots/BOT/script {"files": {...}};
 * the server compiles and loads them in the sandbox and activates them
 * between batches, or changes nothing and answers every problem. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "script.h"
#include "settings.h"
#include "util.h"

static size_t collect(char *data, size_t size, size_t n, void *ud) {
  buf_add(ud, data, size * n);
  return size * n;
}

/* The server's address when --url is not given: PARLEY_URL, else the
 * listen setting as `parley serve` reads it (the config file of --config,
 * then PARLEY_LISTEN), an address that listens everywhere reached on this
 * machine. */
static char *server_url(const char *config) {
  const char *env = getenv("PARLEY_URL");
  if (env && *env) return xstrdup(env);
  const char *listen = setting("listen");
  char host[64];
  int port;
  if (sscanf(listen, "%63[^:]:%d", host, &port) != 2 || port < 1 || port > 65535) {
    fprintf(stderr,
            "parley reload: listen = '%s'%s%s is not ADDRESS:PORT; give --url\n",
            listen, config ? " in " : "", config ? config : "");
    return NULL;
  }
  if (strcmp(host, "0.0.0.0") == 0 || !*host) snprintf(host, sizeof host, "127.0.0.1");
  return xasprintf("http://%s:%d", host, port);
}

int cli_reload(int argc, char **argv) {
  const char *name = NULL, *dir = NULL, *url_flag = NULL, *config = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) dir = argv[++i];
    else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
      url_flag = argv[++i];
    else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
      config = argv[++i];
    else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      printf(
          "usage: parley reload BOT [--dir FOLDER] [--url URL] [--config FILE]\n"
          "Sends the bot's folder (default scripts/BOT, with the shared scripts/lib/\n"
          "modules it requires) to a running parley serve, which activates it or\n"
          "answers every problem. The server: --url, else PARLEY_URL, else the listen\n"
          "setting of --config FILE and PARLEY_LISTEN as parley serve reads them\n"
          "(default http://127.0.0.1:8080). The admin token: PARLEY_ADMIN_TOKEN (or\n"
          "PARLEY_ADMIN_TOKEN_FILE).\n");
      return 0;
    } else if (argv[i][0] == '-') {
      fprintf(stderr,
              "parley reload: unknown option '%s' (known: --dir, --url, --config)\n",
              argv[i]);
      return 2;
    } else if (!name) {
      name = argv[i];
    } else {
      fprintf(stderr, "parley reload: one bot at a time ('%s' and '%s')\n", name, argv[i]);
      return 2;
    }
  }
  if (!name) {
    fprintf(stderr,
            "usage: parley reload BOT [--dir FOLDER] [--url URL] [--config FILE]\n");
    return 2;
  }
  if (config && settings_read_file(config)) return 2;
  settings_read_env();
  const char *token = setting("admin_token");
  if (!token || !*token) {
    fprintf(stderr, "parley reload: set PARLEY_ADMIN_TOKEN to the server's admin token\n");
    return 2;
  }
  char *url = url_flag ? xstrdup(url_flag) : server_url(config);
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
  char *auth = xasprintf("Authorization: Bearer %s", token);
  buf answer = {0};
  CURL *curl = curl_easy_init();
  struct curl_slist *headers = curl_slist_append(NULL, auth);
  headers = curl_slist_append(headers, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, endpoint);
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, text);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  free(endpoint);
  free(auth);
  free(text);
  int exit_code = 0;
  if (rc != CURLE_OK) {
    fprintf(
        stderr,
        "parley reload: %s: %s (is parley serve running there? give its address with "
        "--url, PARLEY_URL or --config)\n",
        url, curl_easy_strerror(rc));
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
