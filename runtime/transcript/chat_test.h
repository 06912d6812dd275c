/* chat_test: transcript tests (.chat files), for `parley test` (cli/test.c)
 * and for the server before it activates a version. */
#ifndef PARLEY_CHAT_TEST_H
#define PARLEY_CHAT_TEST_H

#include <stddef.h>

#include "script.h"

/* Runs the transcripts a version ships (its files named tests/...chat)
 * against that version, in a scratch folder. Returns how many failed (0 also
 * when it ships none), each failure a line "tests/x.chat:LINE: message" in
 * report; -1 with a sentence in report when they could not be run. */
int chat_test_script(const script *sc, char *report, size_t len);

/* Runs one transcript. Returns 0 when it passed, 1 when it passed after
 * update rewrote its expected lines, -1 with a sentence in failure when it
 * failed. */
int chat_test_file(const char *path, int update, char *failure, size_t flen);

/* From now on each transcript runs on a new database of the PostgreSQL
 * server url names (made before, dropped after), not in memory; NULL:
 * in memory again. */
void chat_test_use_postgres(const char *url);

#endif
