/* log: the server's structured log, one line per event on stderr.
 *
 *   logfmt: time=2026-11-22T17:15:00Z level=warn event=rejected provider=twilio bot=fanclub
 *   json:   {"time":"2026-11-22T17:15:00Z","level":"warn","event":"rejected",...}
 *
 * Values are quoted and escaped as each format needs (a Lua error message
 * with quotes or newlines stays one line). Lines below the level are not
 * written. Secrets must never be passed here. */
#ifndef PARLEY_LOG_H
#define PARLEY_LOG_H

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* level: debug, info, warn or error; format: logfmt or json. 0, or -1 if
 * either is not one of those (nothing changes). */
int log_setup(const char *level, const char *format);
int log_enabled(log_level level);
/* log_event(LOG_WARN, "rejected", "provider", "twilio", "bot", name, NULL):
 * the event, then key, value pairs (a NULL value is left out). */
void log_event(log_level level, const char *event, ...) __attribute__((sentinel));

#endif
