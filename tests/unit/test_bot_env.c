/* Unit tests for runtime/core/bot_env.h (the names and values a script reads as
 * bot.env) and the config file's env.NAME lines (runtime/server/settings.h). */
#include "bot_env.h"
#include "settings.h"
#include "test.h"
#include "util.h"

static void test_names_are_normalized_like_bot_names(void) {
  char out[BOT_ENV_NAME_MAX + 1];
  CHECK_INT(bot_env_name("api-key", 7, out), 0, "api-key is a name");
  CHECK_STR(out, "API_KEY", "... normalized to API_KEY");
  CHECK_INT(bot_env_name(" staff.number ", 14, out), 0,
            "surrounding blanks are left out");
  CHECK_STR(out, "STAFF_NUMBER", "... and a dot is _");
  CHECK_INT(bot_env_name("", 0, out), -1, "an empty name is not one");
  char long_name[BOT_ENV_NAME_MAX + 2];
  memset(long_name, 'A', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = 0;
  CHECK_INT(bot_env_name(long_name, strlen(long_name), out), -1,
            "65 characters is too long");
}

static void test_set_and_get_share_one_spelling(void) {
  bot_env env = {0};
  CHECK_INT(bot_env_set(&env, "api_key", "k1"), 0, "set api_key");
  CHECK_STR(bot_env_get(&env, "API-KEY"), "k1", "read back as API-KEY");
  bot_env_set(&env, "API_KEY", "k2");
  CHECK_INT(env.n, 1, "a second spelling replaces, not adds");
  CHECK_STR(bot_env_get(&env, "api_key"), "k2", "the later value wins");
  CHECK(bot_env_get(&env, "OTHER") == NULL, "a missing name is NULL");
  bot_env_clear(&env);
  CHECK_INT(env.n, 0, "cleared");
}

static void test_assignments(void) {
  bot_env env = {0};
  char err[256] = "";
  CHECK_INT(bot_env_assign(&env, "STAFF=+15550199", err, sizeof err), 0, "NAME=value");
  CHECK_STR(bot_env_get(&env, "STAFF"), "+15550199", "... sets it");
  CHECK_INT(bot_env_assign(&env, "URL=https://x.example/?a=b", err, sizeof err), 0,
            "the value may hold '='");
  CHECK_STR(bot_env_get(&env, "URL"), "https://x.example/?a=b",
            "... split at the first one");
  CHECK_INT(bot_env_assign(&env, "EMPTY=", err, sizeof err), 0, "an empty value");
  CHECK_STR(bot_env_get(&env, "EMPTY"), "", "... is the empty string");
  CHECK_INT(bot_env_assign(&env, "sk_live_secret", err, sizeof err), -1,
            "no '=' is refused");
  CHECK(strstr(err, "sk_live_secret") == NULL,
        "... without repeating what may be a secret");
  CHECK_HAS(err, "NAME=value", "... saying what is expected");
  CHECK_INT(bot_env_assign(&env, "=v", err, sizeof err), -1,
            "an empty name is refused");
  bot_env_clear(&env);
}

static void test_environment_variables_by_bot(void) {
  char *envp[] = {"PARLEY_BOT_SHOP_API_KEY=shop-key",
                  "PARLEY_BOT_SHOP_EU_API_KEY=eu-key",
                  "parley_bot_shop_region=us",
                  "PARLEY_BOT_SHOP_=nothing",
                  "PARLEY_PROVIDER_SHOP=twilio",
                  "HOME=/root",
                  NULL};
  const char *bots[] = {"shop", "shop-eu"};
  bot_env shop = {0}, eu = {0};
  bot_env_from_environ(&shop, envp, "shop", bots, 2);
  bot_env_from_environ(&eu, envp, "shop-eu", bots, 2);
  CHECK_STR(bot_env_get(&shop, "API_KEY"), "shop-key", "shop's API_KEY");
  CHECK(bot_env_get(&shop, "EU_API_KEY") == NULL,
        "shop_eu's variable is not shop's EU_API_KEY (the longer bot name takes it)");
  CHECK_STR(bot_env_get(&shop, "REGION"), "us",
            "lowercase variable names count, uppercased");
  CHECK_INT(shop.n, 2, "nothing else (no empty name, no server setting)");
  CHECK_STR(bot_env_get(&eu, "API_KEY"), "eu-key",
            "shop-eu reads PARLEY_BOT_SHOP_EU_...");
  CHECK_INT(eu.n, 1, "... and only its own");
  bot_env lone = {0};
  bot_env_from_environ(&lone, envp, "shop", NULL, 0);
  CHECK_STR(bot_env_get(&lone, "EU_API_KEY"), "eu-key",
            "without knowing of shop-eu, the variable is shop's");
  bot_env_clear(&shop);
  bot_env_clear(&eu);
  bot_env_clear(&lone);
}

static void test_masking(void) {
  bot_env env = {0};
  bot_env_set(&env, "KEY", "sk_live_123");
  bot_env_set(&env, "LONGER", "sk_live_123456");
  bot_env_set(&env, "FLAG", "on");
  char *m =
      bot_env_mask(&env, "bot.lua:3: bad key sk_live_123 and sk_live_123456, flag on");
  CHECK_STR(m, "bot.lua:3: bad key ******** and ********, flag on",
            "values are masked, the longest first; short values are not");
  free(m);
  char buf[64];
  snprintf(buf, sizeof buf, "to sk_live_12");
  bot_env_mask_into(&env, buf, sizeof buf);
  CHECK_STR(buf, "to ********", "a message cut inside a value is masked too");
  bot_env_clear(&env);
}

static void test_config_file_sections(const char *dir) {
  char *path = xasprintf("%s/parley.conf", dir);
  FILE *f = fopen(path, "w");
  fputs(
      "scripts = /nowhere\n[bot shop-eu]\nprovider = sim\nenv.api-key = file-key\n"
      "env.STAFF = +15550199\n",
      f);
  fclose(f);
  CHECK_INT(settings_read_file(path), 0, "a [bot] section with env.NAME lines reads");
  setenv("PARLEY_BOT_SHOP_EU_STAFF", "+15550111", 1);
  bot_env env = {0};
  char err[256] = "";
  CHECK_INT(settings_bot_env("shop-eu", &env, err, sizeof err), 0,
            "the bot's settings");
  CHECK_STR(bot_env_get(&env, "API_KEY"), "file-key", "API_KEY from the file");
  CHECK_STR(bot_env_get(&env, "STAFF"), "+15550111",
            "the environment wins over the file");
  bot_env_clear(&env);
  CHECK_INT(settings_bot_env("other", &env, err, sizeof err), 0, "another bot");
  CHECK_INT(env.n, 0, "... has none of them");
  bot_env_clear(&env);

  /* the file is read again for each version: a changed value is seen */
  f = fopen(path, "w");
  fputs("scripts = /nowhere\n[bot shop-eu]\nenv.API_KEY = rotated-key\n", f);
  fclose(f);
  CHECK_INT(settings_bot_env("shop-eu", &env, err, sizeof err), 0, "read again");
  CHECK_STR(bot_env_get(&env, "API_KEY"), "rotated-key", "the new value");
  bot_env_clear(&env);

  /* --print-config shows the names, never the values */
  char *out = NULL;
  size_t outlen = 0;
  FILE *mem = open_memstream(&out, &outlen);
  settings_print(mem);
  fclose(mem);
  CHECK_HAS(out, "env.API_KEY", "the printed config names env.API_KEY");
  CHECK_HAS(out, "PARLEY_BOT_SHOP_EU_STAFF", "... and the environment's variable");
  CHECK(strstr(out, "file-key") == NULL && strstr(out, "+15550111") == NULL,
        "... without a value");
  free(out);
  unsetenv("PARLEY_BOT_SHOP_EU_STAFF");

  /* a bad line names the file, the line and the name, never the value */
  f = fopen(path, "w");
  fputs("[bot shop]\n\n# blank lines and comments count as lines\nenv. = hidden-value\n"
        "API_KEY = other-hidden\nenv.TOKEN: colon-hidden\n",
        f);
  fclose(f);
  char *errout = NULL;
  size_t errlen = 0;
  FILE *saved = stderr;
  stderr = open_memstream(&errout, &errlen);
  int rc = settings_read_file(path);
  fclose(stderr);
  stderr = saved;
  CHECK_INT(rc, -1, "a bad env line is refused");
  CHECK_HAS(errout, "parley.conf:4:", "... naming file:line (blank lines counted)");
  CHECK_HAS(errout, "parley.conf:5:", "an unknown key in a [bot] section is refused");
  CHECK_HAS(errout, "env.API_KEY", "... suggesting env.NAME");
  CHECK_HAS(errout, "parley.conf:6:", "a line of a [bot] section without = is refused");
  CHECK(strstr(errout, "hidden-value") == NULL && strstr(errout, "other-hidden") == NULL &&
            strstr(errout, "colon-hidden") == NULL,
        "... without the values (nor the line: it may hold one)");
  free(errout);

  /* a config file that is gone refuses the version */
  remove(path);
  CHECK_INT(settings_bot_env("shop-eu", &env, err, sizeof err), -1,
            "a config file that cannot be read refuses the bot's settings");
  CHECK_HAS(err, "parley.conf", "... naming it");
  bot_env_clear(&env);
  free(path);
}

int main(void) {
  char dir[] = "/tmp/parley-test-bot-env-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  test_names_are_normalized_like_bot_names();
  test_set_and_get_share_one_spelling();
  test_assignments();
  test_environment_variables_by_bot();
  test_masking();
  test_config_file_sections(dir);
  test_rmtree(dir);
  return test_done();
}
