/* segments: `parley segments` reads texts on stdin, one per line, and
 * prints for each how it is sent as SMS, one JSON object per line:
 *   {"encoding":"GSM-7","segments":1,"units":5}
 * The line's ending is not part of the text: "\n", or "\r\n" (a file from
 * Windows should count as the text its author typed, and a lone CR ending
 * a text is rarer than a CRLF file). A CR anywhere else stays and counts;
 * a last line without a newline still counts. */
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

int cli_segments(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      segments_usage(stdout);
      return 0;
    }
    if (argv[i][0] == '-')
      fprintf(stderr, "parley segments: unknown option '%s' (known: --help)\n",
              argv[i]);
    else
      fprintf(stderr,
              "parley segments: unexpected argument '%s' (texts are "
              "read from stdin, one per line)\n",
              argv[i]);
    return 2;
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
