/* job_answer: a job's answer, as the engine thread writes it for the HTTP
 * thread to send (http_internal.h). Apart from the rest so that the files
 * that answer jobs (admin_api, forward, upload_worker) need nothing of each
 * other for it. */
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
