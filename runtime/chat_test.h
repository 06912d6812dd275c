/* chat_test: transcript tests (.chat files). `parley test` is cli_test
 * (cli.h); this is the part the server uses before it activates a version. */
#ifndef PARLEY_CHAT_TEST_H
#define PARLEY_CHAT_TEST_H

#include <stddef.h>

#include "script.h"

/* Runs the transcripts a version ships (its files named tests/...chat)
 * against that version, in a scratch folder. Returns how many failed (0 also
 * when it ships none), each failure a line "tests/x.chat:LINE: message" in
 * report; -1 with a sentence in report when they could not be run. */
int chat_test_script(const script *sc, char *report, size_t len);

#endif
