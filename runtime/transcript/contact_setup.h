/* contact_setup: the `key=value ...` words that set up a contact, as a
 * transcript's `@contact NUMBER ...` and the simulator's `/contact NUMBER
 * ...` give them (tz=ZONE, status=..., tags=a,b, any other key a field),
 * read into what engine_set_contact takes. */
#ifndef PARLEY_CONTACT_SETUP_H
#define PARLEY_CONTACT_SETUP_H

#include <stddef.h>

typedef struct contact_setup {
  const char *status, *tz; /* NULL: unchanged; point into the words read */
  char *fields_json;       /* NULL: no field given */
  char *tags_json;         /* NULL: tags unchanged */
} contact_setup;

/* Reads the words of `words` (separated by blanks; modified in place).
 * 0, or -1 with err naming the bad word: "'city' is not key=value (...)". */
int contact_setup_read(char *words, contact_setup *out, char *err, size_t errlen);

void contact_setup_free(contact_setup *cs);

#endif
