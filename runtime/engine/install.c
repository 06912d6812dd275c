/* install: a bot version loaded into every worker's VM (engine_install):
 * its bot.config read, its numbers checked against the other bots', its row
 * and (serving) its activation written, its recurring timers reconciled;
 * all workers take it, or none. A reload replaces the version of the same
 * name; one whose handlers still wait is kept until they end (bots.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance.h"
#include "engine_internal.h"

static char *cfg_string(lua_State *L, int cfg, const char *key) {
  char *v = NULL;
  if (lua_getfield(L, cfg, key) == LUA_TSTRING) v = xstrdup(lua_tostring(L, -1));
  lua_pop(L, 1);
  return v;
}

/* The limits bot.config validated (stdlib/internal/api.lua): numbers in
 * cfg.limit_instructions, cfg.limit_memory (bytes), cfg.limit_time (ms),
 * cfg.limit_waiting_memory (bytes). */
static void read_limits(lua_State *L, int cfg, sandbox_limits *lim) {
  *lim = sandbox_default_limits;
  if (lua_getfield(L, cfg, "limit_instructions") == LUA_TNUMBER)
    lim->instructions = (long)lua_tointeger(L, -1);
  if (lua_getfield(L, cfg, "limit_memory") == LUA_TNUMBER)
    lim->memory = (size_t)lua_tointeger(L, -1);
  if (lua_getfield(L, cfg, "limit_time") == LUA_TNUMBER)
    lim->time_ms = (long)lua_tointeger(L, -1);
  if (lua_getfield(L, cfg, "limit_waiting_memory") == LUA_TNUMBER)
    lim->waiting_memory = (size_t)lua_tointeger(L, -1);
  lua_pop(L, 4);
}

bot *engine_load_bot(engine *e, const char *dir, char *err, size_t errlen) {
  script *s = script_read(dir, err, errlen);
  if (!s) return NULL;
  return engine_install(e, s, NULL, err, errlen);
}

/* The other bot (not a version of b) that serves one of b's numbers. */
static const bot *number_owner(engine *e, const bot *b, const char **number) {
  for (const bot *o = e->bots; o; o = o->next) {
    if (strcmp(o->name, b->name) == 0) continue;
    for (size_t i = 0; i < b->nnumbers; i++)
      for (size_t k = 0; k < o->nnumbers; k++)
        if (strcmp(b->numbers[i], o->numbers[k]) == 0) {
          *number = b->numbers[i];
          return o;
        }
  }
  return NULL;
}

int engine_fill_bot_env(engine *e, script *s, char *err, size_t errlen) {
  if (s->env.filled || !e->bot_env) return 0;
  bot_env env = {0};
  if (e->bot_env(e->bot_env_ud, s->name, s->dir, &env, err, errlen)) {
    bot_env_clear(&env);
    return -1;
  }
  bot_env_clear(&s->env);
  s->env = env;
  s->env.filled = 1;
  return 0;
}

/* A version loaded from s (taken) into a VM of its own, its bot.config
 * read; NULL with err if it does not load. */
static bot *bot_build(script *s, char *err, size_t errlen) {
  sandbox *sb = sandbox_open(s, err, errlen);
  if (!sb) {
    script_free(s);
    return NULL;
  }
  bot *b = xcalloc(1, sizeof *b);
  b->src = s;
  b->sb = sb;
  b->name = xstrdup(s->name);
  lua_State *L = sandbox_main(sb);
  sandbox_push_runtime(sb);
  lua_getfield(L, -1, "cfg");
  int cfg = lua_gettop(L);
  b->display = cfg_string(L, cfg, "name");
  if (!b->display) b->display = xstrdup(b->name);
  b->help = cfg_string(L, cfg, "help");
  if (!b->help) b->help = compliance_default_help(b->display);
  b->optout_reply = cfg_string(L, cfg, "optout_reply");
  if (!b->optout_reply) b->optout_reply = compliance_default_optout(b->display);
  b->optin_reply = cfg_string(L, cfg, "optin_reply");
  if (!b->optin_reply) b->optin_reply = compliance_default_optin(b->display);
  lua_getfield(L, cfg, "max_message_chars");
  b->max_chars = (int)lua_tointeger(L, -1);
  if (b->max_chars <= 0) b->max_chars = 1600;
  lua_pop(L, 1);
  b->timezone = cfg_string(L, cfg, "timezone");
  if (!b->timezone) b->timezone = xstrdup("UTC");
  b->quiet = (quiet_hours){21 * 60, 9 * 60};
  if (lua_getfield(L, cfg, "quiet_start") == LUA_TNUMBER) {
    b->quiet.start = (int)lua_tointeger(L, -1);
    lua_getfield(L, cfg, "quiet_end");
    b->quiet.end = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  if (lua_getfield(L, cfg, "late_ms") == LUA_TNUMBER) b->late_ms = lua_tointeger(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, cfg - 1, "router"); /* the runtime table is below cfg */
  b->on_status = lua_getfield(L, -1, "status") == LUA_TTABLE;
  lua_pop(L, 2);
  if (lua_getfield(L, cfg, "numbers") == LUA_TTABLE) { /* checked E.164 by bot.config */
    for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
      b->numbers = xrealloc(b->numbers, (b->nnumbers + 1) * sizeof *b->numbers);
      b->numbers[b->nnumbers++] = xstrdup(lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    lua_pop(L, 1); /* what ended the list */
  }
  lua_pop(L, 1);
  if (lua_getfield(L, cfg, "http_allow") == LUA_TTABLE) { /* checked by bot.config */
    for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
      b->http_allow = xrealloc(b->http_allow, (b->nhttp_allow + 1) * sizeof *b->http_allow);
      b->http_allow[b->nhttp_allow++] = xstrdup(lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  b->http_max_bytes = 1u << 20;
  if (lua_getfield(L, cfg, "http_max_bytes") == LUA_TNUMBER)
    b->http_max_bytes = (size_t)lua_tointeger(L, -1);
  lua_pop(L, 1);
  sandbox_limits lim;
  read_limits(L, cfg, &lim);
  lua_pop(L, 2);
  sandbox_set_limits(sb, &lim);
  return b;
}

/* Puts b in w's bots, replacing the version of the same name. */
static void bot_put(engine *w, bot *b) {
  for (bot **p = &w->bots; *p; p = &(*p)->next) {
    if (strcmp((*p)->name, b->name) == 0) {
      bot *old = *p;
      b->counts = old->counts;
      b->next = old->next;
      *p = b;
      if (old->nwaiting) { /* kept until its waiting handlers end */
        old->retired = 1;
        old->next = w->retired;
        w->retired = old;
      } else {
        bot_free(old);
      }
      return;
    }
  }
  b->next = w->bots;
  w->bots = b;
}

/* engine_install, or (follow) engine_follow_version: the version another
 * node made active, which this one only loads. */
static bot *install(engine *e, script *s, int follow, int *why, char *err, size_t errlen) {
  int why_local;
  if (!why) why = &why_local;
  *why = INSTALL_INVALID;
  if (engine_fill_bot_env(e, s, err, errlen)) {
    script_free(s);
    return NULL;
  }
  engine_group *g = e->group;
  /* every worker runs the version in a VM of its own: all load, or none */
  bot *copies[MAX_ENGINE_THREADS] = {0};
  for (int k = 1; k < g->n; k++) {
    if (!(copies[k] = bot_build(script_copy(s), err, errlen))) {
      for (int i = 1; i < k; i++) bot_free(copies[i]);
      script_free(s);
      return NULL;
    }
  }
  bot *b = copies[0] = bot_build(s, err, errlen);
  if (!b) {
    for (int i = 1; i < g->n; i++) bot_free(copies[i]);
    return NULL;
  }
  const char *taken;
  const bot *owner = number_owner(e, b, &taken);
  if (owner) {
    snprintf(err, errlen,
             "%s: bot.config{numbers}: %s is served by bot '%s'; a number has one bot (release "
             "it there first)",
             b->name, taken, owner->name);
    *why = INSTALL_NUMBER_TAKEN;
    for (int i = 0; i < g->n; i++) bot_free(copies[i]);
    return NULL;
  }

  *why = INSTALL_STORE;
  int64_t now = engine_now(e);
  char *files_json = NULL;
  char *sha = script_sha(s, &files_json);
  journal j = {0};
  journal_bot_version(&j, b->name, sha, files_json, now);
  free(sha);
  free(files_json);
  int failed = write_now(e, &j, err, errlen) != 0;
  if (!failed) {
    b->id = j.ops[0].u.bot_version.bot_id;
    b->version_id = j.ops[0].u.bot_version.version_id;
    b->version_number = j.ops[0].u.bot_version.version_number;
  }
  if (!failed && e->serving && !follow) {
    journal_clear(&j);
    journal_bot_active(&j, b->id, b->version_id);
    failed = writer_apply(e->w, &j, err, errlen) != 0;
  }
  journal_free(&j);
  if (!failed) b->store = store_cell_for(e, b->id);
  /* the node that made it active matched the recurring timers to it */
  if (!failed && !follow && reconcile_every(e, b, err, errlen)) failed = 1;
  if (failed) {
    for (int i = 0; i < g->n; i++) bot_free(copies[i]);
    return NULL;
  }
  *why = INSTALL_OK;
  /* a reload replaces the bot of the same name, in every worker */
  for (int k = 0; k < g->n; k++) {
    bot *c = copies[k];
    c->id = b->id;
    c->version_id = b->version_id;
    c->version_number = b->version_number;
    c->store = b->store;
    bot_put(g->w[k], c);
  }
  return b;
}

bot *engine_install(engine *e, script *s, int *why, char *err, size_t errlen) {
  return install(e, s, 0, why, err, errlen);
}

bot *engine_follow_version(engine *e, script *s, int *why, char *err, size_t errlen) {
  return install(e, s, 1, why, err, errlen);
}

int engine_bot_served(engine *e, bot *b, const char *folder_sha, char *err, size_t errlen) {
  journal j = {0};
  journal_bot_served(&j, b->id, folder_sha);
  int rc = write_now(e, &j, err, errlen);
  journal_free(&j);
  return rc;
}
