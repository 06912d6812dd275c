/* parley: the command line. Each verb lives in its own file in runtime/cli/. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
  fputs(
      "usage: parley <command> [options]\n"
      "\n"
      "commands:\n"
      "  serve [--config FILE] [--listen ADDR:PORT] [--db FILE] [--print-config]\n"
      "                      serve the bots in scripts/ over HTTP (webhooks)\n"
      "  reload BOT [--dir FOLDER] [--url URL]\n"
      "                      send a bot's folder to a running server (hot reload)\n"
      "  contacts import BOT FILE | contacts export BOT [--output FILE]\n"
      "                      load contacts (CSV, JSON lines) into a running server, or save them\n"
      "  pull BOT NUMBER [--last N] [--mask] [--output FILE]\n"
      "                      write a live conversation as a transcript that plays it again\n"
      "  sim BOTDIR [--db FILE] [--as NUMBER] [--env NAME=value]...\n"
      "                      chat with a bot as a fan (a REPL; /help inside)\n"
      "  test [--update] [PATH...]\n"
      "                      run .chat transcripts (default: scripts/ and examples/)\n"
      "  check BOTDIR...     load bots without running them; report every problem\n"
      "  segments            count the SMS segments of each line on stdin (JSON)\n"
      "  version             print the version\n"
      "  help                this text\n"
      "\n"
      "See README.md for a tutorial and docs/ for the Lua API.\n",
      f);
}

static int version(int argc, char **argv) {
  (void)argc, (void)argv;
  printf("parley %s\n", PARLEY_VERSION);
  return 0;
}

static int help(int argc, char **argv) {
  (void)argc, (void)argv;
  usage(stdout);
  return 0;
}

/* The verbs, by the name the command line gives them; each gets the
 * arguments from its own name on (argv[0] is the verb). */
static const struct verb {
  const char *name;
  int (*run)(int argc, char **argv);
} verbs[] = {
    {"sim", cli_sim},           {"test", cli_test},
    {"check", cli_check},       {"segments", cli_segments},
    {"serve", cli_serve},       {"reload", cli_reload},
    {"contacts", cli_contacts}, {"pull", cli_pull},
    {"version", version},
    {"--version", version},     {"help", help},
    {"--help", help},           {"-h", help},
};

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
    if (strcmp(argv[1], verbs[i].name) == 0) return verbs[i].run(argc - 1, argv + 1);
  fprintf(stderr, "parley: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
