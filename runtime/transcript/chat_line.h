/* chat_line: texts written as .chat lines read them back, for what writes
 * transcripts (the simulator's /save, `parley pull`): a text with its \n
 * and \\ escapes, a text as a regex of itself, a bot's message as a '<'
 * line, a handler's error without the place it names. */
#ifndef PARLEY_CHAT_LINE_H
#define PARLEY_CHAT_LINE_H

#include <stddef.h>

#include "util.h"

/* A text as a .chat line writes it: "\n" a newline, "\\" a backslash. */
void chat_line_text(buf *b, const char *s);
/* Literal text in a POSIX extended regex (a newline as any character: a
 * .chat line cannot hold one). */
void chat_line_regex_literal(buf *b, const char *s, size_t n);
/* "< TO TEXT\n" (without TO when it is not an address), as a regex of the
 * text where the text as written would be read as something else. */
void chat_line_expected(buf *b, const char *to, const char *text);
/* An error without the file and line it starts with ("bot.lua:12: "): what
 * stays the same when the bot's lines move. */
const char *chat_error_tail(const char *error);

#endif
