/* cli: the parley command's verbs. Each returns the process exit status. */
#ifndef PARLEY_CLI_H
#define PARLEY_CLI_H

#define PARLEY_VERSION "0.1.0"

struct option; /* <getopt.h> */

/* A verb's arguments (argv[0] is the verb's name) read by getopt_long
 * (options.c): set the first six fields, then call cli_option until it
 * returns -1. It returns an option's val (its value, if it takes one, in
 * arg); 1 for an argument that is not an option (in arg), in its place
 * among the options, so a bot folder may come before or after them; '?'
 * for an unknown option, or one without its value, after printing
 *   parley VERB: unknown option 'ARG' (known: KNOWN)
 * Long options are known by their whole names only (no abbreviations);
 * "--" ends the options. With quiet set nothing is printed: '?' comes back
 * for an unknown option and ':' for one without its value, the element as
 * written in arg (a verb with messages of its own: serve). */
typedef struct cli_options {
  int argc;
  char **argv;
  const char *verb;           /* "sim" */
  const char *shorts;         /* getopt's short options: "h", "ho:" */
  const struct option *longs; /* ended by a zeroed entry */
  const char *known;          /* the options as the message lists them */
  int quiet;                  /* 1: '?' and ':' unprinted (above) */
  const char *arg;            /* out: the value or the argument */
  int started, rest;          /* internal */
} cli_options;
int cli_option(cli_options *o);

int cli_sim(int argc, char **argv);   /* sim.c */
int cli_test(int argc, char **argv);  /* test.c */
int cli_check(int argc, char **argv); /* check.c */
int cli_segments(int argc, char **argv); /* segments.c */
int cli_serve(int argc, char **argv);    /* serve.c */
int cli_reload(int argc, char **argv);   /* reload.c */
int cli_contacts(int argc, char **argv); /* contacts.c */
int cli_pull(int argc, char **argv);     /* pull.c */

#endif
