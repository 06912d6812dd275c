/* segments: `parley segments` reads texts on stdin, one per line, and
 * prints for each how it is sent as SMS, one JSON object per line:
 *   {"encoding":"GSM-7","segments":1,"units":5}
 * The line's ending is not part of the text: "\n", or "\r\n" (a file from
 * Windows should count as the text its author typed, and a lone CR ending
 * a text is rarer than a CRLF file). A CR anywhere else stays and counts;
 * a last line without a newline still counts. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cli.h"
#include "gsm.h"

static void segments_usage(FILE *f) {
  fputs(
      "usage: parley segments [--help]\n"
      "Reads texts on stdin, one per line, and prints for each how it is\n"
      "sent as SMS: {\"encoding\":\"GSM-7\",\"segments\":1,\"units\":5}.\n"
      "units are septets for GSM-7 (^ { } \\ [ ~ ] | and the euro sign take\n"
      "two) and UTF-16 code units for UCS-2 (an emoji takes two). A line's\n"
      "\\n or \\r\\n ending is not part of the text.\n",
      f);
}

/* Length of the text in a line that getline returned, without its ending. */
static size_t text_length(const char *line, size_t n) {
  if (n > 0 && line[n - 1] == '\n') {
    n--;
    if (n > 0 && line[n - 1] == '\r') n--;
  }
  return n;
}

static void print_count(gsm_count c) {
  printf("{\"encoding\":\"%s\",\"segments\":%d,\"units\":%ld}\n",
         gsm_encoding_name(c.encoding), c.segments, c.units);
}

static const struct option segments_options[] = {{"help", no_argument, NULL, 'h'},
                                                 {NULL, 0, NULL, 0}};

int cli_segments(int argc, char **argv) {
  cli_options o = {.argc = argc,
                   .argv = argv,
                   .verb = "segments",
                   .shorts = "h",
                   .longs = segments_options,
                   .known = "--help"};
  for (int c; (c = cli_option(&o)) != -1;) {
    switch (c) {
      case 'h':
        segments_usage(stdout);
        return 0;
      case 1:
        fprintf(stderr,
                "parley segments: unexpected argument '%s' (texts are "
                "read from stdin, one per line)\n",
                o.arg);
        return 2;
      default:
        return 2;
    }
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, stdin)) >= 0)
    print_count(gsm_count_text(line, text_length(line, (size_t)n)));
  free(line);
  if (ferror(stdin)) {
    perror("parley segments: cannot read stdin");
    return 1;
  }
  if (fflush(stdout) != 0 || ferror(stdout)) {
    perror("parley segments: cannot write the counts");
    return 1;
  }
  return 0;
}
