/* bot_env: the settings a bot's script reads as bot.env.NAME.
 *
 * A bot's settings (API keys, a staff number) come from outside its code:
 * the config file's `env.NAME = value` lines under [bot BOT], the
 * environment as PARLEY_BOT_<BOT>_<NAME>, `parley sim --env NAME=value`, a
 * transcript's `@env NAME=value`. Names are normalized as bot names are:
 * letters in capitals, every character other than a letter or a digit as _
 * (api-key, api_key and API_KEY are one name, API_KEY). Every value is
 * treated as a secret: the host never prints, logs or stores one, and masks
 * any it finds in an error or a log line (bot_env_mask). */
#ifndef PARLEY_BOT_ENV_H
#define PARLEY_BOT_ENV_H

#include <stddef.h>

typedef struct bot_env {
  char **names; /* normalized */
  char **values;
  size_t n;
  int filled; /* set by its source (the engine does not fill it again) */
} bot_env;

enum { BOT_ENV_NAME_MAX = 64 };
/* Values at least this long are masked in messages (shorter ones would mask
 * unrelated text, and are not secrets). */
enum { BOT_ENV_MASK_MIN = 4 };
#define BOT_ENV_MASK "********"

/* The normalized name (API_KEY for "api-key") into out (BOT_ENV_NAME_MAX + 1
 * bytes): 0, or -1 if it is empty or longer than BOT_ENV_NAME_MAX. */
int bot_env_name(const char *in, size_t len, char *out);
/* Sets (or replaces) name's value; name is normalized here. 0, or -1 when
 * the name is not one (see bot_env_name). */
int bot_env_set(bot_env *env, const char *name, const char *value);
const char *bot_env_get(const bot_env *env, const char *name);
void bot_env_clear(bot_env *env);
/* Copies every entry of from into to (from's win). */
void bot_env_merge(bot_env *to, const bot_env *from);

/* "NAME=value" (as --env and @env take it): 0, or -1 with a sentence in err
 * that names the input's name, never its value. */
int bot_env_assign(bot_env *env, const char *arg, char *err, size_t errlen);

/* The bot's PARLEY_BOT_<BOT>_<NAME> variables of envp (NAME=value strings)
 * into env. BOT is the bot's name normalized (shop-eu: SHOP_EU) and matched
 * without regard to case; when the name of another bot of others (shop_eu
 * for the bot shop) also starts the variable, the longer name takes it. */
void bot_env_from_environ(bot_env *env, char *const *envp, const char *bot,
                          const char *const *others, size_t nothers);
/* The names of the bot folders (with a bot.lua) in dir, for others above;
 * *n of them (free with bot_env_free_names). */
char **bot_env_bot_folders(const char *dir, size_t *n);
void bot_env_free_names(char **names, size_t n);

/* An engine_options.bot_env source for parley sim and check: the bot's
 * PARLEY_BOT_<BOT>_* variables (the bot folders beside dir are the others
 * above), then the entries of ud (a bot_env, --env; may be NULL) over them. */
int bot_env_from_process(void *ud, const char *bot, const char *dir, bot_env *out,
                         char *err, size_t errlen);

/* text with every value of env (of BOT_ENV_MASK_MIN bytes or more) replaced
 * by ********; a new string. */
char *bot_env_mask(const bot_env *env, const char *text);
/* The same in place, in a buffer of size bytes (cut to fit). */
void bot_env_mask_into(const bot_env *env, char *text, size_t size);

#endif
