/* registry: the table of providers. What their inbound code shares is in
 * inbound.c. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "provider_registry.h"
#include "util.h"

extern const provider_registration sim_registration, twilio_registration,
    kannel_registration, webhook_registration, whatsapp_registration, messenger_registration,
    instagram_registration;

/* One line per provider: its folder holds the rest. */
const provider_registration *const provider_registrations[] = {
    &sim_registration, &twilio_registration, &kannel_registration,
    &webhook_registration, &whatsapp_registration, &messenger_registration,
    &instagram_registration, NULL};

const provider_registration *provider_registration_find(const char *name) {
  for (size_t i = 0; name && provider_registrations[i]; i++)
    if (strcmp(provider_registrations[i]->name, name) == 0)
      return provider_registrations[i];
  return NULL;
}

const provider_registration *provider_sms_find(const char *name) {
  const provider_registration *p = provider_registration_find(name);
  return p && p->channel == CHANNEL_SMS ? p : NULL;
}

const provider_ops *provider_find(const char *kind) {
  const provider_registration *p = provider_registration_find(kind);
  return p ? p->ops : NULL;
}

/* The registration that checks the events' credentials, or NULL. */
static const provider_registration *events_checker(void) {
  for (size_t i = 0; provider_registrations[i]; i++)
    if (provider_registrations[i]->events_authentic) return provider_registrations[i];
  return NULL;
}

static int no_events(provider_answer *a) {
  a->status = 404;
  a->error = "no provider takes events";
  return -1;
}

int provider_events_refused_early(const provider_request *rq, provider_answer *a) {
  const provider_registration *p = events_checker();
  if (!p) return no_events(a);
  return p->events_refused_early ? p->events_refused_early(rq, a) : 0;
}

int provider_events_authentic(const provider_request *rq, provider_answer *a) {
  const provider_registration *p = events_checker();
  return p ? p->events_authentic(rq, a) : no_events(a);
}

static char names_problem[256];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void names_make(void) {
  const char *names[16];
  size_t n = 0;
  for (size_t i = 0; provider_registrations[i] && n < 16; i++)
    if (provider_registrations[i]->channel == CHANNEL_SMS)
      names[n++] = provider_registrations[i]->name;
  buf b = {0};
  buf_puts(&b, "provider must be ");
  for (size_t i = 0; i < n; i++) {
    if (i) buf_puts(&b, i + 1 == n ? " or " : ", ");
    buf_puts(&b, names[i]);
  }
  snprintf(names_problem, sizeof names_problem, "%s", b.data ? b.data : "");
  buf_free(&b);
}

const char *provider_names_problem(void) {
  pthread_once(&names_once, names_make);
  return names_problem;
}
