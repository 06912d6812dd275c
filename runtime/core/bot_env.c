#include "bot_env.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "util.h"

int bot_env_name(const char *in, size_t len, char *out) {
  while (len && (*in == ' ' || *in == '\t')) in++, len--;
  while (len && (in[len - 1] == ' ' || in[len - 1] == '\t')) len--;
  if (len == 0 || len > BOT_ENV_NAME_MAX) return -1;
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)in[i];
    out[i] = isalnum(ch) && ch < 128 ? (char)toupper(ch) : '_';
  }
  out[len] = 0;
  return 0;
}

static long find(const bot_env *env, const char *name) {
  for (size_t i = 0; i < env->n; i++)
    if (strcmp(env->names[i], name) == 0) return (long)i;
  return -1;
}

int bot_env_set(bot_env *env, const char *name, const char *value) {
  char norm[BOT_ENV_NAME_MAX + 1];
  if (bot_env_name(name, strlen(name), norm)) return -1;
  long i = find(env, norm);
  if (i >= 0) {
    free(env->values[i]);
    env->values[i] = xstrdup(value);
    return 0;
  }
  env->names = xrealloc(env->names, (env->n + 1) * sizeof *env->names);
  env->values = xrealloc(env->values, (env->n + 1) * sizeof *env->values);
  env->names[env->n] = xstrdup(norm);
  env->values[env->n] = xstrdup(value);
  env->n++;
  return 0;
}

const char *bot_env_get(const bot_env *env, const char *name) {
  char norm[BOT_ENV_NAME_MAX + 1];
  if (bot_env_name(name, strlen(name), norm)) return NULL;
  long i = find(env, norm);
  return i >= 0 ? env->values[i] : NULL;
}

void bot_env_clear(bot_env *env) {
  for (size_t i = 0; i < env->n; i++) {
    free(env->names[i]);
    /* a secret: not left behind in freed memory */
    explicit_bzero(env->values[i], strlen(env->values[i]));
    free(env->values[i]);
  }
  free(env->names);
  free(env->values);
  *env = (bot_env){0};
}

void bot_env_merge(bot_env *to, const bot_env *from) {
  for (size_t i = 0; i < from->n; i++) bot_env_set(to, from->names[i], from->values[i]);
}

int bot_env_assign(bot_env *env, const char *arg, char *err, size_t errlen) {
  const char *eq = strchr(arg, '=');
  char norm[BOT_ENV_NAME_MAX + 1];
  if (!eq) {
    /* no '=': the whole argument may be a value, so it is not repeated */
    snprintf(err, errlen, "expected NAME=value (like API_KEY=abc123), got no '='");
    return -1;
  }
  if (bot_env_name(arg, (size_t)(eq - arg), norm)) {
    snprintf(err, errlen, "'%.*s' is not a name: 1 to %d characters before the '='",
             (int)(eq - arg > 80 ? 80 : eq - arg), arg, BOT_ENV_NAME_MAX);
    return -1;
  }
  bot_env_set(env, norm, eq + 1);
  return 0;
}

/* "SHOP_EU_" when the variable's rest starts with it (any case). */
static size_t bot_prefix(const char *rest, const char *bot) {
  char norm[256];
  size_t n = strlen(bot);
  if (n == 0 || n >= sizeof norm - 1) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)bot[i];
    norm[i] = isalnum(ch) && ch < 128 ? (char)toupper(ch) : '_';
  }
  norm[n] = '_';
  norm[n + 1] = 0;
  return strncasecmp(rest, norm, n + 1) == 0 ? n + 1 : 0;
}

void bot_env_from_environ(bot_env *env, char *const *envp, const char *bot,
                          const char *const *others, size_t nothers) {
  static const char prefix[] = "PARLEY_BOT_";
  const size_t plen = sizeof prefix - 1;
  for (char *const *ev = envp; ev && *ev; ev++) {
    const char *eq = strchr(*ev, '=');
    if (!eq || strncasecmp(*ev, prefix, plen) != 0) continue;
    char *var = xstrndup(*ev, (size_t)(eq - *ev));
    const char *rest = var + plen;
    size_t mine = bot_prefix(rest, bot);
    int taken = 0;
    for (size_t i = 0; mine && i < nothers && !taken; i++)
      taken = strcasecmp(others[i], bot) != 0 && bot_prefix(rest, others[i]) > mine;
    if (mine && !taken && rest[mine]) bot_env_set(env, rest + mine, eq + 1);
    free(var);
  }
}

char **bot_env_bot_folders(const char *dir, size_t *n) {
  *n = 0;
  char **names = NULL;
  DIR *d = opendir(dir);
  if (!d) return NULL;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char *path = xasprintf("%s/%s/bot.lua", dir, de->d_name);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
      names = xrealloc(names, (*n + 1) * sizeof *names);
      names[(*n)++] = xstrdup(de->d_name);
    }
    free(path);
  }
  closedir(d);
  return names;
}

void bot_env_free_names(char **names, size_t n) {
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
}

/* The length of the longest value found at p, or 0. A text cut short (an
 * error message that filled its buffer) may end inside a value: that rest
 * counts too, if it is BOT_ENV_MASK_MIN bytes or more. */
static size_t value_at(const bot_env *env, const char *p) {
  size_t best = 0, left = strlen(p);
  for (size_t i = 0; i < env->n; i++) {
    size_t len = strlen(env->values[i]);
    if (len < BOT_ENV_MASK_MIN) continue;
    size_t cmp = len <= left ? len : left;
    if (cmp >= BOT_ENV_MASK_MIN && cmp > best && strncmp(p, env->values[i], cmp) == 0)
      best = cmp;
  }
  return best;
}

char *bot_env_mask(const bot_env *env, const char *text) {
  if (!env || env->n == 0) return xstrdup(text);
  buf out = {0};
  for (const char *p = text; *p;) {
    size_t len = value_at(env, p);
    if (len) {
      buf_puts(&out, BOT_ENV_MASK);
      p += len;
    } else {
      buf_add(&out, p, 1);
      p++;
    }
  }
  buf_add(&out, "", 1);
  return out.data;
}

void bot_env_mask_into(const bot_env *env, char *text, size_t size) {
  if (!env || env->n == 0 || size == 0) return;
  char *masked = bot_env_mask(env, text);
  snprintf(text, size, "%s", masked);
  free(masked);
}

int bot_env_from_process(void *ud, const char *bot, const char *dir, bot_env *out,
                         char *err, size_t errlen) {
  (void)err, (void)errlen;
  extern char **environ;
  /* the folder the bot folder is in: its other bots may share a prefix */
  char *parent = xstrdup(dir && *dir ? dir : ".");
  size_t n = strlen(parent);
  while (n > 1 && parent[n - 1] == '/') parent[--n] = 0;
  char *slash = strrchr(parent, '/');
  if (!slash) {
    free(parent);
    parent = xstrdup(".");
  } else if (slash == parent) {
    parent[1] = 0;
  } else {
    *slash = 0;
  }
  size_t nfolders;
  char **folders = bot_env_bot_folders(parent, &nfolders);
  bot_env_from_environ(out, environ, bot, (const char *const *)folders, nfolders);
  bot_env_free_names(folders, nfolders);
  free(parent);
  if (ud) bot_env_merge(out, ud);
  return 0;
}
