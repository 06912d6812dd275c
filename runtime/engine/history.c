/* history: what the store keeps of a conversation's past so that it can be
 * played again (store_history.h): `parley pull` writes a transcript of it,
 * a reload replays real messages on the old and the new version.
 *
 * Before an inbound message the contact is written as it is then
 * (history_snapshot), unless it is as it was when written last: a
 * conversation whose contact does not change costs nothing more, one that
 * changes at each message one row a message. The answers its handlers'
 * requests get are written as they come (history_http_answer), up to
 * HTTP_ANSWER_KEPT bytes of UTF-8 text each. */
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

/* FNV-1a, 64 bits, over the strings (a NULL and "" apart) */
static uint64_t hash_strings(const char *const *v, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) {
    const unsigned char *p = (const unsigned char *)(v[i] ? v[i] : "");
    for (; *p; p++) h = (h ^ *p) * 1099511628211ULL;
    h = (h ^ (v[i] ? 0x1f : 0x1e)) * 1099511628211ULL; /* a separator, NULL its own */
  }
  return h ? h : 1; /* 0: nothing written yet */
}

static const char *status_of(const contact *c) {
  return c->opted_out ? "opted_out" : c->not_opted_in ? "not_opted_in" : "subscribed";
}

void history_snapshot(engine *e, contact *c, int64_t message_id) {
  const char *joined = c->joined ? "1" : "0";
  const char *v[] = {status_of(c), c->fields, c->tags, c->state, c->expect, c->timezone, joined};
  uint64_t h = hash_strings(v, sizeof v / sizeof *v);
  if (h == c->snapshot_hash) return;
  c->snapshot_hash = h;
  journal_snapshot(e->jr, &(snapshot_row){.message_id = message_id, .contact_id = c->id,
                                          .status = (char *)status_of(c),
                                          .fields = c->fields ? c->fields : "{}",
                                          .tags = c->tags ? c->tags : "[]", .state = c->state,
                                          .expect = c->expect, .timezone = c->timezone,
                                          .joined = c->joined});
}

void history_http_answer(engine *e, bot *b, int64_t contact_id, int64_t message_id,
                         const char *method, const char *url, const engine_http_result *r) {
  const char *body = r->status > 0 ? (r->body ? r->body : "") : NULL;
  size_t len = body ? r->body_len : 0;
  int kept = body && len <= HTTP_ANSWER_KEPT && memchr(body, 0, len) == NULL &&
             utf8_valid(body, len);
  char *copy = kept ? xstrndup(body, len) : NULL;
  journal_http_answer(e->jr, &(http_answer_row){
                                 .bot_id = b->id, .contact_id = contact_id,
                                 .message_id = message_id, .at = engine_now(e),
                                 .method = method, .url = url, .status = r->status,
                                 .error = r->status > 0 ? NULL
                                          : r->error    ? r->error
                                                        : "no response",
                                 .body = copy, .truncated = body && !kept});
  free(copy);
}
