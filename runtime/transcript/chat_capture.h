/* chat_capture: a transcript's captures, text the bot sent that later lines
 * reuse (docs/transcripts.md, "Captures").
 *
 *   < Your code is {{code:[0-9]+}}.    captures what [0-9]+ matched as code
 *   > {{code}}                         sends it back
 *   < /Code {{code}} confirmed/        expects it again (in a regex: escaped)
 *   ? contact("+15550001").state.code == {{code}}   a Lua string ("{{code}}" too)
 *
 * A name is letters, digits and _ (not starting with a digit); {{fields.x}}
 * and other {{...}} that are not a name stay as written, and \{{ is a
 * literal {{. The regexes are POSIX extended ones, as in '<' lines. */
#ifndef PARLEY_CHAT_CAPTURE_H
#define PARLEY_CHAT_CAPTURE_H

#include <stddef.h>

typedef struct chat_captures chat_captures;

chat_captures *captures_new(void);
void captures_free(chat_captures *c);

/* Whether an expectation's text (after the recipient, as written) defines
 * or uses a capture: it is then matched with captures_match. */
int captures_in(const char *written);

/* Matches text against an expectation as written (is_regex: /.../ without
 * the slashes; else an exact text with \n and \\ escapes). 1 on a match
 * (its captures are kept for later lines), 0 if it does not match, -1 with
 * a sentence in err (an unknown name, a bad regex). */
int captures_match(chat_captures *c, const char *written, int is_regex,
                   const char *text, char *err, size_t errlen);

/* A '>' text as written: \n, \\ and \{{ unescaped, {{name}} replaced by
 * what it captured. NULL with a sentence in err for an unknown name. */
char *captures_expand_text(const chat_captures *c, const char *written, char *err,
                           size_t errlen);

/* A '?' line: {{name}} replaced by a Lua string literal of its text, or,
 * inside a string literal, by the text. */
char *captures_expand_lua(const chat_captures *c, const char *expr, char *err,
                          size_t errlen);

/* "code = 123456, name = Sam" for failure messages; "" without any. */
char *captures_describe(const chat_captures *c, const char *written);

#endif
