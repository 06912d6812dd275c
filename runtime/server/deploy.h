/* deploy: which version of each bot `parley serve` runs.
 *
 * A new version passes one gate however it comes (PUT /v1/bots/BOT/script,
 * `parley reload`, --watch, or a bot folder changed while the server was
 * down): it loads in the sandbox, its transcripts pass (the running
 * version's transcripts when it ships none), and none of its numbers is
 * another bot's. The active version of every served bot is in the store, so
 * a restart (clean or a crash) comes back to it. */
#ifndef PARLEY_DEPLOY_H
#define PARLEY_DEPLOY_H

#include <stddef.h>

#include "engine.h"
#include "replay.h"
#include "script.h"

typedef enum deploy_status {
  DEPLOY_OK,
  DEPLOY_INVALID,      /* the version does not load */
  DEPLOY_TESTS_FAILED, /* one of its transcripts fails */
  DEPLOY_NUMBER_TAKEN, /* one of its numbers is another bot's */
  DEPLOY_REPLAY_ERRORS, /* real messages replayed on it fail or hit a limit (replay.h) */
  DEPLOY_ERROR,        /* the store failed, or the transcripts could not run */
} deploy_status;

typedef struct deploy_options {
  /* sc was read from the bot's folder and these are its files (script_sha),
   * remembered so that an unchanged folder changes nothing at the next
   * start; NULL for uploads */
  const char *folder_sha;
  /* real messages replayed on the running version and on sc before it is
   * activated (replay.h); 0: none */
  long replay;
  int accept_errors; /* activated although the replay found new errors */
  int dry_run;       /* the gate and the replay, not the activation */
} deploy_options;

typedef struct deploy_result {
  deploy_status status;
  bot *bot;   /* the new active version (DEPLOY_OK, not a dry run) */
  int failed; /* transcripts that failed (DEPLOY_TESTS_FAILED) */
  json_t *replay; /* the replay's report, or NULL (none ran); the caller frees it */
  replay_counts counts;
} deploy_result;

/* Passes sc (taken) through the gate and, unless o->dry_run, makes it the
 * bot's active version. Problems go to err, one per line. */
deploy_result deploy_version(engine *e, script *sc, const deploy_options *o, char *err,
                             size_t errlen);

/* At `parley serve`'s start: every bot served before comes back with the
 * version that was active, and each folder in dir (one with a bot.lua):
 * - a folder whose files are the ones last read from it, or the active
 *   version's, changes nothing;
 * - a new or changed folder becomes a version through the gate; if that
 *   fails, a bot served before keeps its active version (logged as
 *   reload_refused, source=start), a new bot stops the start.
 * Numbers are checked over the whole set (a number may move from one bot to
 * another in the same start). 0, or -1 with the problems in err. */
int deploy_start(engine *e, const char *dir, char *err, size_t errlen);

/* Nodes sharing one PostgreSQL: loads the active version of every bot
 * served in the store that this engine does not run (another node
 * activated or rolled it back, or deployed a new bot). Between batches.
 * The number of bots changed, or -1 with err. */
int deploy_follow(engine *e, char *err, size_t errlen);

#endif
