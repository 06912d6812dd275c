/* cli: the parley command's verbs. Each returns the process exit status. */
#ifndef PARLEY_CLI_H
#define PARLEY_CLI_H

#define PARLEY_VERSION "0.1.0"

int cli_sim(int argc, char **argv);   /* sim.c */
int cli_test(int argc, char **argv);  /* test.c */
int cli_check(int argc, char **argv); /* check.c */
int cli_segments(int argc, char **argv); /* segments.c */
int cli_serve(int argc, char **argv);    /* serve.c */
int cli_reload(int argc, char **argv);   /* reload.c */
int cli_contacts(int argc, char **argv); /* contacts.c */

#endif
