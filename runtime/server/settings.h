/* settings: `parley serve`'s configuration.
 *
 * Built-in defaults, then a config file (--config FILE: lines of
 * key = value, # comments), then environment variables (PARLEY_*), then
 * flags (--key value or --key=value); later ones win. Secrets (tokens,
 * passwords) come only from the environment or a file named by
 * PARLEY_<NAME>_FILE, never from the config file or a flag, and are never
 * printed.
 *
 * Settings marked per-bot (credentials, the provider and its rates) can be
 * given for one bot: in the config file under a [bot NAME] line, or in the
 * environment as PARLEY_<NAME>_<BOT> (the bot's name in capitals, other
 * characters than letters and digits as _): PARLEY_PROVIDER_SHOP_EU. */
#ifndef PARLEY_SETTINGS_H
#define PARLEY_SETTINGS_H

#include <stdio.h>

/* Reads a config file; problems go to stderr, each as file:line. -1 if any. */
int settings_read_file(const char *path);
/* Reads PARLEY_* (server-wide and per bot). */
void settings_read_env(void);
/* --key value: 0, or -1 with the problem on stderr (unknown, a secret, a
 * missing value: value NULL). A key's '_' may be written '-' in flag. A
 * flag wins over the file and the environment whether it is set before or
 * after they are read. */
int settings_set_flag(const char *flag, const char *value);
/* The i-th setting's key (i from 0), or NULL past the last: the flags
 * `parley serve` takes. */
const char *settings_key(int i);

/* The server-wide value (NULL: unset). */
const char *setting(const char *key);
/* The bot's own value if it has one, else the server-wide one. */
const char *setting_for(const char *bot, const char *key);
/* Only the bot's own value, or NULL. */
const char *setting_own(const char *bot, const char *key);

/* What bot's script reads as bot.env (bot_env.h): the config file's
 * `env.NAME = value` lines under [bot BOT], read again at each call (a new
 * version, a reload, sees the file as it is now), then the environment's
 * PARLEY_BOT_<BOT>_<NAME> over them. 0, or -1 with a sentence in err (the
 * file cannot be read, a bad name) that never holds a value. */
struct bot_env;
int settings_bot_env(const char *bot, struct bot_env *out, char *err, size_t errlen);

/* Every setting, its value (secrets masked) and where it came from. */
void settings_print(FILE *f);
/* One line per setting: key, help, environment variable. */
void settings_usage(FILE *f);

#endif
