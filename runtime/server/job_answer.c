/* job_answer: a job's answer, as the engine thread writes it for the HTTP
 * thread to send (http_internal.h), and what it asked in its query. Apart
 * from the rest so that the files that answer jobs (admin_api, forward,
 * upload_worker, link_visits, history_api) need nothing of each other for
 * it. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>

#include "http_internal.h"
#include "util.h"

void job_answer(job *j, unsigned status, json_t *body) {
  j->http_status = status;
  j->http_body = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if (!j->http_body) { /* never an answer without a body */
    j->http_status = 500;
    j->http_body = xstrdup("{\"error\":\"the answer could not be written as JSON\"}");
  }
}

void job_answer_error(job *j, unsigned status, const char *message) {
  char *text = xstrdup(message);
  utf8_repair(text); /* a message may quote input cut at a byte count */
  job_answer(j, status, json_pack("{s:s}", "error", text));
  free(text);
}

int job_query_number(const job *j, const char *name, long long lo, long long hi,
                     long long def, long long *out) {
  const char *v = json_string_value(json_object_get(j->query, name));
  *out = def;
  if (!v) return 0;
  char *end;
  errno = 0;
  long long n = *v >= '0' && *v <= '9' ? strtoll(v, &end, 10) : -1;
  if (n < 0 || *end || errno || n < lo || n > hi) return -1;
  *out = n;
  return 0;
}
