#include "deploy.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chat_test.h"
#include "log.h"
#include "store.h"
#include "util.h"

static int ships_tests(const script *sc) {
  for (size_t i = 0; i < sc->nfiles; i++)
    if (strncmp(sc->files[i].path, "tests/", 6) == 0) return 1;
  return 0;
}

/* The replay of real messages on the running version and on sc (replay.h):
 * 0 with r->replay and r->counts, or -1 with err. */
static int replay_versions(engine *e, const bot *running, const script *sc, long messages,
                           deploy_result *r, char *err, size_t errlen) {
  replay_options ro = {.bot_id = bot_id(running), .messages = messages,
                       .old_version = bot_script(running), .new_version = sc};
  r->replay = replay_run(engine_store(e), &ro, &r->counts, err, errlen);
  return r->replay ? 0 : -1;
}

deploy_result deploy_version(engine *e, script *sc, const deploy_options *o, char *err,
                             size_t errlen) {
  deploy_result r = {DEPLOY_ERROR, NULL, 0, NULL, {0}};
  /* its settings as it will run with them (its transcripts use their @env) */
  if (engine_fill_bot_env(e, sc, err, errlen)) {
    script_free(sc);
    r.status = DEPLOY_INVALID;
    return r;
  }
  sandbox *sb = sandbox_open(sc, err, errlen); /* its own errors first, as file:line */
  if (!sb) {
    script_free(sc);
    r.status = DEPLOY_INVALID;
    return r;
  }
  sandbox_close(sb);
  /* an upload without transcripts is held to the running version's */
  bot *running = engine_find_bot(e, sc->name);
  if (running && !ships_tests(sc)) {
    const script *cur = bot_script(running);
    for (size_t i = 0; i < cur->nfiles; i++)
      if (strncmp(cur->files[i].path, "tests/", 6) == 0)
        script_add_file(sc, cur->files[i].path, cur->files[i].source,
                        cur->files[i].len);
  }
  int failed = chat_test_script(sc, err, errlen);
  if (failed) {
    script_free(sc);
    r.status = failed < 0 ? DEPLOY_ERROR : DEPLOY_TESTS_FAILED;
    r.failed = failed;
    return r;
  }
  if (running && o->replay > 0 && replay_versions(e, running, sc, o->replay, &r, err, errlen)) {
    script_free(sc);
    return r; /* DEPLOY_ERROR */
  }
  if (r.replay && (r.counts.errors || r.counts.limits) && !o->accept_errors && !o->dry_run) {
    snprintf(err, errlen, "%ld of %ld real messages replayed on it fail%s, %ld hit a limit: "
             "see the report (or force it: accept_errors)", r.counts.errors, r.counts.messages,
             r.counts.errors == 1 ? "s" : "", r.counts.limits);
    script_free(sc);
    r.status = DEPLOY_REPLAY_ERRORS;
    return r;
  }
  if (o->dry_run) {
    script_free(sc);
    r.status = DEPLOY_OK;
    return r;
  }
  int why;
  bot *b = engine_install(e, sc, &why, err, errlen);
  if (!b) {
    r.status = why == INSTALL_INVALID        ? DEPLOY_INVALID
               : why == INSTALL_NUMBER_TAKEN ? DEPLOY_NUMBER_TAKEN
                                             : DEPLOY_ERROR;
    return r;
  }
  if (engine_bot_served(e, b, o->folder_sha, err, errlen)) return r;
  r.status = DEPLOY_OK;
  r.bot = b;
  return r;
}

/* ------------------------------------------------------------------ start */

/* One bot to bring up at start. */
typedef struct start_item {
  char *name;
  char *folder;       /* its folder in the scripts folder, or NULL */
  char *folder_sha;   /* the folder's files (script_sha), or NULL */
  char *folder_files; /* the folder as a new version to pass the gate; NULL: none */
  char *active_files; /* the version active before the restart; NULL: none */
  char *sha;          /* of active_files */
  int done;
  char *problem; /* why the last try did not install it */
} start_item;

typedef struct start_plan {
  start_item *items;
  size_t n;
} start_plan;

static start_item *plan_find(start_plan *p, const char *name) {
  for (size_t i = 0; i < p->n; i++)
    if (strcmp(p->items[i].name, name) == 0) return &p->items[i];
  return NULL;
}

static start_item *plan_add(start_plan *p, const char *name) {
  p->items = xrealloc(p->items, (p->n + 1) * sizeof *p->items);
  start_item *it = &p->items[p->n++];
  *it = (start_item){.name = xstrdup(name)};
  return it;
}

static void add_served(void *ud, const char *name, const char *sha,
                       const char *folder_sha, const char *files_json) {
  start_item *it = plan_add(ud, name);
  it->sha = xstrdup(sha);
  it->folder_sha = folder_sha ? xstrdup(folder_sha) : NULL;
  it->active_files = xstrdup(files_json);
}

/* Reads a bot folder into the plan: unchanged, it only confirms the folder's
 * files; new or changed, it is a version to pass the gate. */
static int plan_folder(start_plan *p, const char *path, const char *name, char *err,
                       size_t errlen) {
  script *sc = script_read(path, err, errlen);
  if (!sc) return -1;
  if (script_read_tests(sc, err, errlen)) {
    script_free(sc);
    return -1;
  }
  char *files = NULL;
  char *sha = script_sha(sc, &files);
  script_free(sc);
  start_item *it = plan_find(p, name);
  if (!it) it = plan_add(p, name);
  it->folder = xstrdup(path);
  int unchanged = (it->folder_sha && strcmp(it->folder_sha, sha) == 0) ||
                  (it->sha && strcmp(it->sha, sha) == 0);
  free(it->folder_sha);
  it->folder_sha = sha;
  if (unchanged)
    free(files);
  else
    it->folder_files = files;
  return 0;
}

/* Not hidden, and not lib/ (the modules the bots share, script.h). */
static int is_bot_folder(const struct dirent *d) {
  return d->d_name[0] != '.' && strcmp(d->d_name, "lib") != 0;
}

static int plan_folders(start_plan *p, const char *dir, char *err, size_t errlen) {
  struct dirent **names;
  int n = scandir(dir, &names, is_bot_folder, alphasort);
  if (n < 0) {
    snprintf(err, errlen, "%s: cannot open the scripts folder: %m", dir);
    return -1;
  }
  int rc = 0;
  for (int i = 0; i < n; i++) {
    char *path = xasprintf("%s/%s", dir, names[i]->d_name);
    char *lua = xasprintf("%s/bot.lua", path);
    struct stat st;
    if (rc == 0 && stat(lua, &st) == 0)
      rc = plan_folder(p, path, names[i]->d_name, err, errlen);
    free(path);
    free(lua);
    free(names[i]);
  }
  free(names);
  return rc;
}

/* One try at an item: 1 installed, 0 to try again (a number another bot
 * still holds), -1 the start fails (err). */
static int start_one(engine *e, start_item *it, char *err, size_t errlen) {
  char *label = it->folder_files
                    ? xstrdup(it->folder)
                    : xasprintf("%s (the version active before)", it->name);
  script *sc = script_from_json(it->name, label,
                                it->folder_files ? it->folder_files : it->active_files,
                                err, errlen);
  free(label);
  if (!sc) return -1;
  free(it->problem);
  it->problem = NULL;
  if (it->folder_files) {
    deploy_options o = {.folder_sha = it->folder_sha}; /* no replay at a start */
    deploy_result r = deploy_version(e, sc, &o, err, errlen);
    json_decref(r.replay);
    if (r.status == DEPLOY_OK) {
      fprintf(stderr, "parley serve: loaded %s (version %lld)\n", it->folder,
              (long long)bot_version(r.bot));
      return 1;
    }
    if (r.status == DEPLOY_NUMBER_TAKEN) {
      it->problem = xstrdup(err);
      return 0;
    }
    if (r.status == DEPLOY_ERROR || !it->active_files) return -1;
    /* a changed folder that fails the gate: the active version stays */
    log_event(LOG_WARN, "reload_refused", "source", "start", "dir", it->folder, "error",
              err, NULL);
    fprintf(stderr,
            "parley serve: %s changed but was not loaded; %s keeps its active "
            "version:\n%s\n",
            it->folder, it->name, err);
    free(it->folder_files);
    it->folder_files = NULL;
    return start_one(e, it, err, errlen);
  }
  int why;
  bot *b = engine_install(e, sc, &why, err, errlen);
  if (!b && why == INSTALL_NUMBER_TAKEN) {
    it->problem = xstrdup(err);
    return 0;
  }
  if (!b || engine_bot_served(e, b, it->folder_sha, err, errlen)) return -1;
  fprintf(stderr, "parley serve: %s: version %lld, active before the restart%s\n",
          it->name, (long long)bot_version(b),
          it->folder ? " (its folder is unchanged)" : "");
  return 1;
}

/* Installs every item; one whose number another still holds waits for the
 * others (which may release it). */
static int start_all(engine *e, start_plan *p, char *err, size_t errlen) {
  for (;;) {
    int progress = 0, pending = 0;
    for (size_t i = 0; i < p->n; i++) {
      start_item *it = &p->items[i];
      if (it->done) continue;
      int rc = start_one(e, it, err, errlen);
      if (rc < 0) return -1;
      if (rc)
        it->done = progress = 1;
      else
        pending++;
    }
    if (!pending) return 0;
    if (!progress) {
      buf b = {0};
      for (size_t i = 0; i < p->n; i++)
        if (!p->items[i].done)
          buf_printf(&b, "%s%s", b.len ? "\n" : "", p->items[i].problem);
      snprintf(err, errlen, "%s", b.data);
      buf_free(&b);
      return -1;
    }
  }
}

int deploy_start(engine *e, const char *dir, char *err, size_t errlen) {
  start_plan p = {0};
  int rc = store_served_each(engine_store(e), add_served, &p);
  if (rc) snprintf(err, errlen, "%s", store_error(engine_store(e)));
  if (rc == 0) rc = plan_folders(&p, dir, err, errlen);
  if (rc == 0 && p.n == 0) {
    char *lua = xasprintf("%s/bot.lua", dir);
    struct stat st;
    if (stat(lua, &st) == 0) /* the bot folder itself, not the folder of bots */
      snprintf(
          err, errlen,
          "%s is a bot folder (it has a bot.lua); the scripts folder is the one that "
          "holds bot folders, such as its parent",
          dir);
    else
      snprintf(err, errlen, "%s has no bot folders (a folder with a bot.lua)", dir);
    free(lua);
    rc = -1;
  }
  if (rc == 0) rc = start_all(e, &p, err, errlen);
  for (size_t i = 0; i < p.n; i++) {
    start_item *it = &p.items[i];
    free(it->name);
    free(it->folder);
    free(it->folder_sha);
    free(it->folder_files);
    free(it->active_files);
    free(it->sha);
    free(it->problem);
  }
  free(p.items);
  return rc;
}

/* The bots served in the store, with their active version's files. */
typedef struct served_list {
  struct served_row {
    char *name, *sha, *files;
  } *v;
  size_t n;
} served_list;

static void add_row(void *ud, const char *name, const char *sha, const char *folder_sha,
                    const char *files_json) {
  (void)folder_sha;
  served_list *l = ud;
  l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
  l->v[l->n++] = (struct served_row){xstrdup(name), xstrdup(sha), xstrdup(files_json)};
}

int deploy_follow(engine *e, char *err, size_t errlen) {
  served_list l = {0};
  if (store_served_each(engine_store(e), add_row, &l)) {
    snprintf(err, errlen, "%s", store_error(engine_store(e)));
    return -1;
  }
  int changed = 0;
  for (size_t i = 0; i < l.n; i++) {
    struct served_row *r = &l.v[i];
    bot *running = engine_find_bot(e, r->name);
    char *sha = running ? script_sha(bot_script(running), NULL) : NULL;
    int same = sha && strcmp(sha, r->sha) == 0;
    free(sha);
    if (same) continue;
    char problem[4096];
    char *label = xasprintf("%s (the version another node made active)", r->name);
    script *sc = script_from_json(r->name, label, r->files, problem, sizeof problem);
    free(label);
    bot *b = sc ? engine_follow_version(e, sc, NULL, problem, sizeof problem) : NULL;
    if (b) {
      changed++;
      char version[32];
      snprintf(version, sizeof version, "%lld", (long long)bot_version(b));
      log_event(LOG_INFO, "version_followed", "bot", r->name, "version", version, NULL);
    } else {
      log_event(LOG_WARN, "version_not_followed", "bot", r->name, "error", problem, NULL);
    }
  }
  for (size_t i = 0; i < l.n; i++) free(l.v[i].name), free(l.v[i].sha), free(l.v[i].files);
  free(l.v);
  return changed;
}
