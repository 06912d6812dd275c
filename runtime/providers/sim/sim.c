/* sim: a provider that takes every message at once (id "sim-<our id>"),
 * for the simulator, tests and `make run` without a real provider. */
#include <stdio.h>

#include "provider_registry.h"

static const char *check(const provider_config *cfg) {
  (void)cfg;
  return NULL;
}

static int prepare(const provider_config *cfg, const outgoing *m, http_request *req,
                   send_result *res) {
  (void)cfg;
  (void)req;
  res->outcome = SEND_OK;
  snprintf(res->provider_id, sizeof res->provider_id, "sim-%lld", (long long)m->id);
  return 1;
}

static void answer(const provider_config *cfg, long status, const char *body, size_t len,
                   send_result *res) {
  (void)cfg;
  (void)body;
  (void)len;
  answer_by_status(status, res);
}

const provider_ops provider_sim = {"sim", check, prepare, answer};

/* No routes: nothing comes back from a provider that sends nothing. */
const provider_registration sim_registration = {
    .name = "sim",
    .about = "taken as sent at once, logged at debug",
    .ops = &provider_sim,
};
