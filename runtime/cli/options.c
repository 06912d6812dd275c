/* options: the verbs' argument parsing, getopt_long with the verbs' own
 * messages (cli.h). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* 1 if argv's element at holds the long option longs[index] as written in
 * full ("--name" or "--name=value"), not an abbreviation getopt_long
 * accepts: the verbs know their options by their whole names only. */
static int whole_name(const char *element, const struct option *opt) {
  size_t n = strlen(opt->name);
  return strncmp(element, "--", 2) != 0 ||
         (strncmp(element + 2, opt->name, n) == 0 &&
          (element[2 + n] == 0 || element[2 + n] == '='));
}

int cli_option(cli_options *o) {
  if (!o->started) {
    o->started = 1;
    optind = 0; /* glibc: start over, whatever parsed before */
    opterr = 0; /* the messages are ours */
  }
  if (o->rest) { /* after "--": every element is an argument */
    if (o->rest >= o->argc) return -1;
    o->arg = o->argv[o->rest++];
    return 1;
  }
  /* "-": the arguments come back in their place (as 1), so they may stand
   * before, between or after the options, POSIXLY_CORRECT or not; ":": a
   * missing value is told apart from an unknown option */
  char spec[64];
  snprintf(spec, sizeof spec, "-:%s", o->shorts);
  int at = optind > 0 ? optind : 1, index = -1;
  int c = getopt_long(o->argc, o->argv, spec, o->longs, &index);
  o->arg = optarg;
  if (c == -1) {
    if (optind < o->argc) { /* stopped at "--" */
      o->rest = optind;
      return cli_option(o);
    }
    return -1;
  }
  int abbreviated = index >= 0 && !whole_name(o->argv[at], &o->longs[index]);
  if (o->quiet && (c == '?' || c == ':' || abbreviated)) {
    o->arg = o->argv[at];
    return c == ':' ? ':' : '?';
  }
  if (c == '?' || c == ':' || abbreviated) {
    fprintf(stderr, "parley %s: unknown option '%s' (known: %s)\n", o->verb,
            o->argv[at], o->known);
    return '?';
  }
  return c;
}
