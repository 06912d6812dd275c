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

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "sim") == 0) return cli_sim(argc - 1, argv + 1);
  if (strcmp(cmd, "test") == 0) return cli_test(argc - 1, argv + 1);
  if (strcmp(cmd, "check") == 0) return cli_check(argc - 1, argv + 1);
  if (strcmp(cmd, "segments") == 0) return cli_segments(argc - 1, argv + 1);
  if (strcmp(cmd, "serve") == 0) return cli_serve(argc - 1, argv + 1);
  if (strcmp(cmd, "reload") == 0) return cli_reload(argc - 1, argv + 1);
  if (strcmp(cmd, "contacts") == 0) return cli_contacts(argc - 1, argv + 1);
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    printf("parley %s\n", PARLEY_VERSION);
    return 0;
  }
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
      strcmp(cmd, "-h") == 0) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "parley: unknown command '%s'\n\n", cmd);
  usage(stderr);
  return 2;
}
