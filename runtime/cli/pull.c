/* parley pull: a live conversation becomes a transcript. Asks a running
 * server for one contact's recent conversation as a .chat file (GET
 * /v1/bots/BOT/contacts/NUMBER/transcript, server/history_api.c) and writes
 * it where `parley test` finds it: the bot folder's tests/. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "admin_client.h"
#include "cli.h"
#include "util.h"

static int usage(FILE *f) {
  fputs(
      "usage: parley pull BOT NUMBER [--last N] [--mask] [--output FILE] [--bot-dir DIR]\n"
      "                   [--url URL] [--config FILE]\n"
      "Writes a running server's conversation with NUMBER as a transcript that plays it\n"
      "again (parley test): its last N messages (default 50), the contact as it was\n"
      "before the first, the answers its handlers' requests got. --mask writes the\n"
      "number as " "+15550100" " everywhere, so the test can be shared. The file:\n"
      "--output (- for stdout), else BOT-DIR/tests/pulled_DIGITS.chat (BOT-DIR:\n"
      "--bot-dir, default scripts/BOT). The server and its admin token are found as\n"
      "parley reload finds them (--url, PARLEY_URL, the listen setting;\n"
      "PARLEY_ADMIN_TOKEN).\n",
      f);
  return f == stdout ? 0 : 2;
}

/* The path from folder `from` to folder `to` (both existing), or NULL. */
static char *relative_to(const char *from, const char *to) {
  char a[PATH_MAX], b[PATH_MAX];
  if (!realpath(from, a) || !realpath(to, b)) return NULL;
  size_t common = 0, i = 0;
  for (; a[i] && a[i] == b[i]; i++)
    if (a[i] == '/') common = i;
  if (!a[i] && (b[i] == '/' || !b[i])) common = i;
  else if (!b[i] && a[i] == '/') common = i;
  buf r = {0};
  for (const char *p = a + common; *p; p++)
    if (*p == '/') buf_puts(&r, r.len ? "/.." : "..");
  const char *rest = b + common;
  if (*rest == '/') rest++;
  if (*rest) buf_printf(&r, "%s%s", r.len ? "/" : "", rest);
  if (!r.len) buf_puts(&r, ".");
  return r.data;
}

static char *url_escaped(const char *s) {
  buf b = {0};
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
        strchr("-._~", *p))
      buf_add(&b, (const char *)p, 1);
    else
      buf_printf(&b, "%%%02X", *p);
  if (!b.data) buf_puts(&b, "");
  return b.data;
}

static const struct option pull_options[] = {
    {"last", required_argument, NULL, 'n'},    {"mask", no_argument, NULL, 'm'},
    {"output", required_argument, NULL, 'o'},  {"bot-dir", required_argument, NULL, 'b'},
    {"url", required_argument, NULL, 'u'},     {"config", required_argument, NULL, 'c'},
    {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};

int cli_pull(int argc, char **argv) {
  const char *url_flag = NULL, *config = NULL, *output = NULL, *bot_dir = NULL;
  const char *args[2] = {0};
  long last = 50;
  int mask = 0, nargs = 0;
  cli_options o = {.argc = argc, .argv = argv, .verb = "pull", .shorts = "ho:",
                   .longs = pull_options,
                   .known = "--last, --mask, --output, --bot-dir, --url, --config"};
  for (int c; (c = cli_option(&o)) != -1;) {
    char *end;
    switch (c) {
      case 'n':
        errno = 0;
        last = strtol(o.arg, &end, 10);
        if (errno || *end || last < 1 || last > 10000) {
          fprintf(stderr, "parley pull: --last is 1 to 10000 messages, not '%s'\n", o.arg);
          return 2;
        }
        break;
      case 'm': mask = 1; break;
      case 'o': output = o.arg; break;
      case 'b': bot_dir = o.arg; break;
      case 'u': url_flag = o.arg; break;
      case 'c': config = o.arg; break;
      case 'h': return usage(stdout);
      case 1:
        if (nargs == 2) return usage(stderr);
        args[nargs++] = o.arg;
        break;
      default: return 2;
    }
  }
  if (nargs != 2) return usage(stderr);
  if (admin_client_settings(config)) return 2;
  const char *token = admin_client_token("pull");
  if (!token) return 2;
  char *url = admin_client_url("pull", url_flag, config);
  if (!url) return 2;
  char *number = url_escaped(args[1]), *bot = url_escaped(args[0]);
  char *endpoint = xasprintf("%s/v1/bots/%s/contacts/%s/transcript?last=%ld&mask=%d", url, bot,
                             number, last, mask);
  free(number);
  free(bot);
  free(url);
  buf answer = {0};
  char err[512];
  long status = admin_client_request(endpoint, token, "GET", NULL, NULL, 0, 120, &answer, err,
                                     sizeof err);
  free(endpoint);
  if (status != 200) {
    json_t *j = status ? json_loadb(answer.data ? answer.data : "", answer.len, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(j, "error"));
    if (status) fprintf(stderr, "parley pull: %s (HTTP %ld)\n", msg ? msg : "refused", status);
    else fprintf(stderr, "parley pull: %s\n", err);
    json_decref(j);
    buf_free(&answer);
    return 1;
  }
  /* where it goes, and the @bot line that finds the bot from there */
  char *default_dir = xasprintf("scripts/%s", args[0]);
  const char *dir = bot_dir ? bot_dir : default_dir;
  char *path = NULL, *at_bot = NULL;
  struct stat sb;
  if (!output) {
    char digits[32] = "";
    size_t k = 0;
    for (const char *p = mask ? "+15550100" : args[1]; *p && k + 1 < sizeof digits; p++)
      if (*p >= '0' && *p <= '9') digits[k++] = *p;
    digits[k] = 0;
    if (stat(dir, &sb) || !S_ISDIR(sb.st_mode)) {
      fprintf(stderr, "parley pull: no bot folder %s (give --bot-dir, or --output FILE)\n", dir);
      free(default_dir);
      buf_free(&answer);
      return 2;
    }
    char *tests = xasprintf("%s/tests", dir);
    mkdir(tests, 0755);
    path = xasprintf("%s/pulled_%s.chat", tests, k ? digits : "contact");
    free(tests);
    at_bot = xstrdup(".."); /* BOT-DIR/tests/x.chat: the bot is its folder's parent */
  } else if (strcmp(output, "-") != 0) {
    path = xstrdup(output);
    char *copy = xstrdup(output), *slash = strrchr(copy, '/');
    const char *folder = slash ? (*slash = 0, *copy ? copy : "/") : ".";
    at_bot = stat(dir, &sb) == 0 ? relative_to(folder, dir) : NULL;
    free(copy);
  } else {
    at_bot = stat(dir, &sb) == 0 ? xstrdup(dir) : NULL; /* as seen from here */
  }
  FILE *f = path ? fopen(path, "w") : stdout;
  int rc = 0;
  if (!f) {
    fprintf(stderr, "parley pull: cannot write %s: %s\n", path, strerror(errno));
    rc = 1;
  } else {
    if (at_bot) fprintf(f, "@bot %s\n", at_bot);
    if (fwrite(answer.data, 1, answer.len, f) != answer.len || (path && fclose(f))) {
      fprintf(stderr, "parley pull: cannot write %s\n", path ? path : "stdout");
      rc = 1;
    } else if (path) {
      fprintf(stderr, "parley pull: wrote %s (parley test %s plays it again)\n", path, path);
    }
  }
  free(default_dir);
  free(path);
  free(at_bot);
  buf_free(&answer);
  return rc;
}
