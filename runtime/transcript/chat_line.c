/* chat_line: texts as .chat lines (chat_line.h). */
#include "chat_line.h"

#include <string.h>

#include "channel.h"

void chat_line_text(buf *b, const char *s) {
  for (; *s; s++) {
    if (*s == '\n')
      buf_puts(b, "\\n");
    else if (*s == '\\')
      buf_puts(b, "\\\\");
    else
      buf_add(b, s, 1);
  }
}

void chat_line_regex_literal(buf *b, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\n')
      buf_puts(b, ".");
    else {
      if (strchr(".[]{}()\\*+?^$|", s[i])) buf_puts(b, "\\");
      buf_add(b, s + i, 1);
    }
  }
}

/* What a < line could not give exactly: a text read as something else
 * ("(nothing)", "/.../", a {{capture}}), or one whose leading or trailing
 * blanks the reader would drop. */
static int needs_regex(const char *text) {
  size_t len = strlen(text);
  if (len == 0 || strcmp(text, "(nothing)") == 0 || strstr(text, "{{")) return 1;
  if (len >= 2 && text[0] == '/' && text[len - 1] == '/') return 1;
  return strchr(" \t\r", text[0]) || strchr(" \t\r", text[len - 1]) ||
         strchr(text, '\r');
}

/* A number as a .chat line reads one: +, then 4 to 15 digits (or another
 * channel's address, channel.h). */
static int is_number(const char *s) { return channel_address_ok(s, 4); }

void chat_line_expected(buf *b, const char *to, const char *text) {
  /* with its recipient, so a text that starts with a number stays text */
  if (is_number(to))
    buf_printf(b, "< %s ", to);
  else
    buf_puts(b, "< ");
  if (needs_regex(text) || (!is_number(to) && text[0] == '+')) {
    buf_puts(b, "/^");
    chat_line_regex_literal(b, text, strlen(text));
    buf_puts(b, "$/\n");
  } else {
    chat_line_text(b, text);
    buf_puts(b, "\n");
  }
}

const char *chat_error_tail(const char *error) {
  const char *lua = strstr(error, ".lua:");
  if (!lua) return error;
  const char *colon = strchr(lua + 5, ':');
  return colon && colon[1] == ' ' ? colon + 2 : error;
}
