#include "compliance.h"

#include <ctype.h>
#include <string.h>

#include "util.h"

static const struct {
  const char *word;
  compliance_kind kind;
} keywords[] = {
    {"STOP", COMPLIANCE_OPTOUT},   {"STOPALL", COMPLIANCE_OPTOUT},
    {"UNSUBSCRIBE", COMPLIANCE_OPTOUT}, {"CANCEL", COMPLIANCE_OPTOUT},
    {"END", COMPLIANCE_OPTOUT},    {"QUIT", COMPLIANCE_OPTOUT},
    {"REVOKE", COMPLIANCE_OPTOUT}, {"OPTOUT", COMPLIANCE_OPTOUT},
    {"START", COMPLIANCE_OPTIN},   {"UNSTOP", COMPLIANCE_OPTIN},
    {"YES", COMPLIANCE_OPTIN},     {"HELP", COMPLIANCE_HELP},
    {"INFO", COMPLIANCE_HELP},
};

compliance_kind compliance_classify(const char *text, size_t len,
                                    char keyword[16]) {
  size_t a = 0, b = len;
  while (a < b && isspace((unsigned char)text[a])) a++;
  while (b > a && (isspace((unsigned char)text[b - 1]) ||
                   ispunct((unsigned char)text[b - 1])))
    b--;
  if (b - a == 0 || b - a > 11) return COMPLIANCE_NONE;
  char word[16];
  for (size_t i = a; i < b; i++) {
    unsigned char ch = (unsigned char)text[i];
    if (!isalpha(ch)) return COMPLIANCE_NONE;
    word[i - a] = (char)toupper(ch);
  }
  word[b - a] = 0;
  for (size_t i = 0; i < sizeof keywords / sizeof *keywords; i++) {
    if (strcmp(word, keywords[i].word) == 0) {
      memcpy(keyword, word, b - a + 1);
      return keywords[i].kind;
    }
  }
  return COMPLIANCE_NONE;
}

char *compliance_default_help(const char *bot_name) {
  return xasprintf("%s: reply STOP to unsubscribe, START to resubscribe. "
                   "Msg&data rates may apply.",
                   bot_name);
}

char *compliance_default_optout(const char *bot_name) {
  return xasprintf("%s: you are unsubscribed and will get no more messages. "
                   "Reply START to resubscribe.",
                   bot_name);
}

char *compliance_default_optin(const char *bot_name) {
  return xasprintf("%s: you are subscribed again. Reply STOP to unsubscribe, "
                   "HELP for help.",
                   bot_name);
}
