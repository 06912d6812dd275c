/* history_api: a conversation's past through the admin API: GET
 * /v1/bots/BOT/contacts/NUMBER/transcript?last=N&mask=1 answers it as a
 * .chat transcript (transcript/chat_pull.c) that `parley pull` writes to a
 * file. The number may be masked; nothing is shown that the contact's
 * messages endpoint does not show to the same token. */
#include <stdlib.h>
#include <string.h>

#include "chat_pull.h"
#include "http_internal.h"

void run_transcript(server *s, job *j, bot *b) {
  const char *mask = json_string_value(json_object_get(j->query, "mask"));
  long long n;
  if (job_query_number(j, "last", 1, 10000, 50, &n) ||
      (mask && strcmp(mask, "1") != 0 && strcmp(mask, "0") != 0 && strcmp(mask, "true") != 0 &&
       strcmp(mask, "false") != 0)) {
    job_answer_error(j, 400, "last is 1 to 10000 messages (default 50), mask 1 or 0");
    return;
  }
  buf out = {0};
  char err[512];
  pull_options o = {.bot_id = bot_id(b), .bot = bot_name(b), .number = j->item, .last = (long)n,
                    .mask = mask && (strcmp(mask, "1") == 0 || strcmp(mask, "true") == 0)};
  int rc = chat_pull(engine_store(s->e), &o, &out, err, sizeof err);
  if (rc <= 0) {
    buf_free(&out);
    job_answer_error(j, rc < 0 ? 500 : 404,
                     rc < 0 ? err : "no such contact, or it has sent no message");
    return;
  }
  j->http_status = 200;
  j->http_body = out.data;
  free(j->content_type);
  j->content_type = xstrdup("text/plain; charset=utf-8");
}
