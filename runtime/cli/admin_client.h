/* admin_client: the CLI verbs that talk to a running server's admin API
 * (`parley reload`, `parley contacts`) find it, authenticate and ask the
 * same way. */
#ifndef PARLEY_ADMIN_CLIENT_H
#define PARLEY_ADMIN_CLIENT_H

#include <stddef.h>

#include "util.h"

/* Reads --config FILE (if given) and the environment into the settings, as
 * `parley serve` does. 0, or -1 with the problem printed. */
int admin_client_settings(const char *config);

/* The server's address: url_flag (--url), else PARLEY_URL, else the listen
 * setting (an address listening everywhere is reached on this machine).
 * Allocated; NULL with the problem printed. */
char *admin_client_url(const char *prog, const char *url_flag, const char *config);

/* The admin token (PARLEY_ADMIN_TOKEN or its _FILE), or NULL with the
 * problem printed. */
const char *admin_client_token(const char *prog);

/* One request: the HTTP status (0: no answer, err says why), the answer's
 * body appended to *answer. ctype and body may be NULL. */
long admin_client_request(const char *url, const char *token, const char *method,
                          const char *ctype, const char *body, size_t len,
                          long timeout_s, buf *answer, char *err, size_t errlen);

#endif
