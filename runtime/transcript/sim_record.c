/* sim_record: a simulator session written down as a transcript (.chat),
 * for /save. Every step the fan or the author took becomes its transcript
 * line (> for a message, ~ for /advance, @event, @contact), followed by
 * what the bot did then, as < and ! lines; /http answers become @http
 * lines, and so do the real answers to requests no /http line answered, so
 * that `parley test` replays the session without the network. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat_line.h"
#include "sim.h"

void record_init(sim_record *r, int64_t start) {
  *r = (sim_record){.start = start};
  buf_add(&r->body, "", 0);
  buf_add(&r->setup, "", 0);
}

void record_restart(sim_record *r, int64_t start) {
  r->start = start;
  r->body.len = 0;
  buf_add(&r->body, r->setup.data, r->setup.len);
  r->reloaded = 0;
}

void record_free(sim_record *r) {
  buf_free(&r->setup);
  buf_free(&r->body);
  buf_free(&r->pre);
  buf_free(&r->out);
  free(r->step);
}

void record_setup(sim_record *r, const char *line) {
  buf_printf(&r->setup, "%s\n", line);
  buf_printf(&r->body, "%s\n", line);
}

void record_comment(sim_record *r, const char *text) {
  buf_printf(&r->body, "# %s\n", text);
}

void record_step(sim_record *r, char *line) {
  free(r->step);
  r->step = line;
  r->pre.len = r->out.len = 0;
}

void record_step_end(sim_record *r) {
  if (!r->step) return;
  if (r->pre.len) buf_add(&r->body, r->pre.data, r->pre.len);
  buf_printf(&r->body, "%s\n", r->step);
  if (r->out.len) buf_add(&r->body, r->out.data, r->out.len);
  free(r->step);
  r->step = NULL;
  r->pre.len = r->out.len = 0;
}

void record_message(sim_record *r, const char *to, const char *text) {
  if (r->step) chat_line_expected(&r->out, to, text);
}

/* A handler's error names the bot's files by the folder given to `parley
 * sim`; `parley test` names them by its own, so the folder becomes ".*". */
void record_error(sim_record *r, const char *botdir, const char *error) {
  if (!r->step) return;
  char *prefix = xasprintf("%s/", botdir);
  buf_puts(&r->out, "! /");
  const char *p = error;
  for (const char *hit; (hit = strstr(p, prefix)); p = hit + strlen(prefix)) {
    chat_line_regex_literal(&r->out, p, (size_t)(hit - p));
    buf_puts(&r->out, ".*");
  }
  chat_line_regex_literal(&r->out, p, strlen(p));
  buf_puts(&r->out, "/\n");
  free(prefix);
}

void record_fetch(sim_record *r, const engine_http_request *req,
                  const engine_http_result *res) {
  if (!r->step) return;
  buf_printf(&r->pre, "@http %s %s -> ", req->method, req->url);
  if (res->status == 0 && res->error && strcmp(res->error, "timed out") == 0) {
    buf_puts(&r->pre, "timeout\n");
    return;
  }
  if (res->status == 0) {
    buf_puts(&r->pre, "error ");
    chat_line_text(&r->pre, res->error ? res->error : "no response");
    buf_puts(&r->pre, "\n");
    return;
  }
  buf_printf(&r->pre, "%ld", res->status);
  if (res->body_len) {
    buf_puts(&r->pre, " ");
    char *body = xstrndup(res->body, res->body_len); /* up to a NUL, if any */
    chat_line_text(&r->pre, body);
    free(body);
  }
  buf_puts(&r->pre, "\n");
}

/* ---------------------------------------------------------------- /save */

/* The path from folder `from` to `to`, both absolute and resolved. */
static char *relative_path(const char *from, const char *to) {
  if (strcmp(from, "/") == 0) return xstrdup(to[1] ? to + 1 : ".");
  size_t common = 0;
  for (size_t i = 0;; i++) {
    int end_from = from[i] == 0 || from[i] == '/';
    int end_to = to[i] == 0 || to[i] == '/';
    if (end_from && end_to) common = i;
    if (from[i] != to[i] || from[i] == 0) break;
  }
  buf b = {0};
  buf_add(&b, "", 0);
  for (const char *p = from + common; *p; p++)
    if (*p == '/') buf_puts(&b, b.len ? "/.." : "..");
  const char *rest = to + common;
  if (*rest == '/') rest++;
  if (*rest) {
    if (b.len) buf_puts(&b, "/");
    buf_puts(&b, rest);
  }
  if (!b.len) buf_puts(&b, ".");
  return b.data;
}

int record_save(const sim_record *r, const bot_env *env, const char *botdir, const char *path,
                char *err, size_t errlen) {
  /* the file's folder, resolved, to say where the bot is from there */
  char *dir = xstrdup(path);
  char *slash = strrchr(dir, '/');
  if (slash == dir)
    dir[1] = 0;
  else if (slash)
    *slash = 0;
  else
    strcpy(dir, ".");
  char dir_real[PATH_MAX], bot_real[PATH_MAX];
  if (!realpath(dir, dir_real)) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    free(dir);
    return -1;
  }
  free(dir);
  if (!realpath(botdir, bot_real)) {
    snprintf(err, errlen, "cannot find the bot's folder %s: %s", botdir,
             strerror(errno));
    return -1;
  }
  buf b = {0};
  buf_puts(&b, "# a session of parley sim\n");
  /* a file in <bot>/tests/ runs against <bot> without being told */
  char *parent = xasprintf("%s/..", dir_real);
  char parent_real[PATH_MAX];
  const char *base = strrchr(dir_real, '/');
  int in_tests = base && strcmp(base + 1, "tests") == 0 &&
                 realpath(parent, parent_real) && strcmp(parent_real, bot_real) == 0;
  free(parent);
  if (!in_tests) {
    char *rel = relative_path(dir_real, bot_real);
    buf_printf(&b, "@bot %s\n", rel);
    free(rel);
  }
  /* bot.env as the session had it; a value the host masks is written as its
   * mask, which the URLs, bodies and texts above were masked to as well */
  for (size_t i = 0; i < env->n; i++) {
    const char *v = env->values[i];
    int masked = strlen(v) >= BOT_ENV_MASK_MIN || strpbrk(v, "\r\n");
    buf_printf(&b, "@env %s=%s\n", env->names[i], masked ? BOT_ENV_MASK : v);
  }
  time_t secs = (time_t)(r->start / 1000);
  struct tm tm;
  char when[32];
  gmtime_r(&secs, &tm);
  strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
  buf_printf(&b, "@clock %s UTC\n", when);
  if (r->body.len) buf_add(&b, r->body.data, r->body.len);
  FILE *f = fopen(path, "w");
  int rc = 0;
  if (!f || fwrite(b.data, 1, b.len, f) != b.len) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    rc = -1;
  }
  if (f && fclose(f) && rc == 0) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    rc = -1;
  }
  buf_free(&b);
  return rc;
}
