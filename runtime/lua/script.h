/* script: the files of one bot version, read into memory.
 *
 * A bot is a folder (scripts/<bot>/) with bot.lua and optional modules beside
 * it. Everything the sandbox may `require` is read here once, so a running
 * version never touches the disk again and a reload can swap whole sets. */
#ifndef PARLEY_SCRIPT_H
#define PARLEY_SCRIPT_H

#include <stddef.h>

#include "bot_env.h"

typedef struct script_file {
  char *path;   /* relative to the bot folder, e.g. "bot.lua", "lib/util.lua" */
  char *source;
  size_t len;
  char *label; /* where it was read, for messages, when not dir/path (a shared
                * module: "scripts/lib/util.lua"); else NULL */
} script_file;

typedef struct script {
  char *name;   /* the bot's name: the folder's base name */
  char *dir;    /* the folder it was read from */
  script_file *files;
  size_t nfiles;
  /* what its script reads as bot.env: given when it is loaded, never part
   * of the version (not in script_sha, not stored) */
  bot_env env;
} script;

/* Reads every .lua file under dir (except tests/), and the shared modules
 * it requires: the lib/ folder beside the bot folders (scripts/lib/ for
 * scripts/fanclub) holds modules any bot may require as "lib.NAME"; those a
 * file of the bot requires by a literal name (require("lib.dates"),
 * require 'lib.dates'), and those they require, become the version's
 * "lib/dates.lua" as if the bot had them, so they are part of its sha and a
 * change to one is a new version of each bot that requires it. Returns NULL
 * and writes a sentence to err when the folder or its bot.lua cannot be
 * read, or when the bot's own lib/NAME.lua is also a shared module. */
script *script_read(const char *dir, char *err, size_t errlen);
/* Adds the folder's transcripts (every .chat under tests/) to s, as files named
 * "tests/..."; 0, or -1 with a sentence in err. */
int script_read_tests(script *s, char *err, size_t errlen);
/* A bot from files in memory: JSON {"bot.lua": "...", "lib/x.lua": "..."}
 * (what script_versions keeps and PUT /v1/bots/BOT/script takes), with its
 * transcripts as "tests/x.chat" if it ships any. dir is a
 * label for messages. NULL with a sentence in err when it is not that. */
script *script_from_json(const char *name, const char *dir, const char *json,
                         char *err, size_t errlen);
/* What an archive may unpack to: its bytes as unpacked (every entry's
 * headers and data, kept or not) and its entries. */
#define SCRIPT_TAR_MAX_BYTES (16 << 20)
#define SCRIPT_TAR_MAX_ENTRIES 1000

/* The same from a tar archive of the bot folder (plain or compressed; its
 * entries may be "bot.lua", "./bot.lua" or "fanclub/bot.lua"); files other
 * than .lua and tests/ transcripts are left out. Decompression stops at the
 * caps above: then NULL with *over_cap set to 1 and a sentence naming them
 * (*over_cap is 0 for the other problems). */
script *script_from_tar(const char *name, const char *dir, const void *data, size_t len,
                        int *over_cap, char *err, size_t errlen);
void script_free(script *s);
/* A copy of s (files and bot.env): another worker's version loads from it. */
script *script_copy(const script *s);
/* The version's identity: SHA-256 (hex) over its files' paths and contents
 * in path order, so the same files are the same version however they came;
 * with files_json, also the files as JSON {"path": "source"}. */
char *script_sha(const script *s, char **files_json);
const script_file *script_find(const script *s, const char *path);
/* Adds a copy of a file (path relative to the bot folder). */
void script_add_file(script *s, const char *path, const char *source, size_t len);

/* Modules shipped with the runtime (stdlib/), compiled into the binary. */
typedef struct embedded_file {
  const char *path;   /* e.g. "internal/sandbox.lua", "text.lua" */
  const char *source;
  size_t len;
} embedded_file;
const embedded_file *stdlib_find(const char *path);

#endif
