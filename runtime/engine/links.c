/* links: tracked links made. A {{link "URL"}} in a message's text (a
 * reply, a drip step, a broadcast, a person's reply) becomes a short link
 * when the message is recorded (links_expand): BASE/l/CODE, BASE the bot's
 * link_base (`parley serve`'s link_url setting), CODE unique to the contact
 * and the message. c:link(url) makes one in a handler (links_make), bound
 * to the first of the handler's messages that carries it. A visit to a
 * short link comes back as a click (clicks.c).
 *
 * `parley serve`'s codes are 12 random letters and digits (71 bits: not
 * guessed, nor found by trying); the simulator's and transcripts' are made
 * from the message's id, so that a transcript's output is the same at each
 * run. */
#include <ctype.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "store_links.h"

static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* splitmix64's finaliser: a bijection of 64-bit numbers */
static uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* A code (LINK_CODE_LEN characters) into out: random for `parley serve`,
 * else made from unique, a number no other link of the store was made from. */
static int make_code(engine *e, uint64_t unique, char out[LINK_CODE_LEN + 1]) {
  if (e->serving) {
    unsigned char raw[32];
    size_t n = 0;
    while (n < LINK_CODE_LEN) {
      if (RAND_bytes(raw, sizeof raw) != 1) return -1;
      for (size_t i = 0; i < sizeof raw && n < LINK_CODE_LEN; i++)
        if (raw[i] < 248) out[n++] = base62[raw[i] % 62]; /* 248 = 4 * 62: no bias */
    }
  } else {
    uint64_t v = mix(unique), w = mix(~unique); /* 62^6 < 2^36: half from each */
    for (int i = 0; i < LINK_CODE_LEN; i++) {
      uint64_t *from = i % 2 ? &w : &v;
      out[i] = base62[*from % 62];
      *from /= 62;
    }
  }
  out[LINK_CODE_LEN] = '\0';
  return 0;
}

int link_code_ok(const char *code) {
  size_t n = strlen(code);
  if (n != LINK_CODE_LEN) return 0;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)code[i])) return 0;
  return 1;
}

int link_url_ok(const char *url, size_t len) {
  if (len > LINK_URL_MAX) return 0;
  size_t scheme = strncmp(url, "https://", 8) == 0 ? 8 : strncmp(url, "http://", 7) == 0 ? 7 : 0;
  if (!scheme || len == scheme) return 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)url[i];
    if (ch <= ' ' || ch == 0x7f || strchr("\"<>\\{}|^`", ch)) return 0;
  }
  return 1;
}

/* The short link of code for b: its base (no trailing /), /l/, the code. */
char *links_short(engine *e, const bot *b, const char *code) {
  const char *base = e->link_base ? e->link_base(e->link_ud, b->name) : NULL;
  if (!base || !*base) base = ENGINE_LINK_BASE_DEFAULT;
  size_t n = strlen(base);
  while (n && base[n - 1] == '/') n--;
  return xasprintf("%.*s/l/%s", (int)n, base, code);
}

/* The next {{link "URL"}} at or after p: its start, its end (after the
 * "}}") and the URL's bounds; NULL if none. Spaces are allowed inside the
 * braces, as in the other {{...}}. */
static const char *next_placeholder(const char *p, const char **end, const char **url,
                                    size_t *url_len) {
  for (const char *s = strstr(p, "{{"); s; s = strstr(s + 2, "{{")) {
    const char *q = s + 2;
    while (*q == ' ') q++;
    if (strncmp(q, "link", 4) != 0) continue;
    q += 4;
    if (*q != ' ') continue;
    while (*q == ' ') q++;
    if (*q != '"') continue;
    const char *u = ++q;
    const char *close = strchr(u, '"');
    if (!close) return NULL;
    q = close + 1;
    while (*q == ' ') q++;
    if (strncmp(q, "}}", 2) != 0) continue;
    *end = q + 2;
    *url = u;
    *url_len = (size_t)(close - u);
    return s;
  }
  return NULL;
}

enum { LINKS_PER_MESSAGE = 16 };

char *links_expand(engine *e, bot *b, contact *c, const char *text, int64_t message_id,
                   int track) {
  if (!strstr(text, "{{")) return NULL;
  const char *p = text, *start, *end, *url;
  size_t url_len;
  buf out = {0};
  struct made {
    const char *url;
    size_t len;
    char *link;
  } made[LINKS_PER_MESSAGE];
  int nmade = 0, any = 0;
  while ((start = next_placeholder(p, &end, &url, &url_len))) {
    buf_add(&out, p, (size_t)(start - p));
    p = end;
    if (!link_url_ok(url, url_len)) { /* not ours to read: left as written */
      buf_add(&out, start, (size_t)(end - start));
      continue;
    }
    any = 1;
    const char *link = NULL;
    for (int i = 0; i < nmade && !link; i++) /* the same URL twice: one link */
      if (made[i].len == url_len && memcmp(made[i].url, url, url_len) == 0) link = made[i].link;
    char code[LINK_CODE_LEN + 1];
    if (!link && track && nmade < LINKS_PER_MESSAGE &&
        make_code(e, (uint64_t)message_id * 64 + (uint64_t)nmade, code) == 0) {
      char *target = xstrndup(url, url_len);
      journal_link_add(e->jr, &(link_row){.bot_id = b->id, .contact_id = c->id,
                                          .message_id = message_id, .code = code,
                                          .url = target, .created_at = engine_now(e)});
      free(target);
      made[nmade] = (struct made){url, url_len, links_short(e, b, code)};
      link = made[nmade++].link;
    }
    if (link) buf_puts(&out, link);
    else buf_add(&out, url, url_len); /* not sent, or too many: the URL itself */
  }
  for (int i = 0; i < nmade; i++) free(made[i].link);
  if (!any) {
    buf_free(&out);
    return NULL;
  }
  buf_puts(&out, p);
  return out.data;
}

char *links_make(engine *e, bot *b, char code[LINK_CODE_LEN + 1]) {
  /* the simulator's code from an id no message takes */
  if (make_code(e, e->serving ? 0 : (uint64_t)next_message_id(e) * 64 + 63, code)) return NULL;
  return links_short(e, b, code);
}

void links_bind(engine *e, invocation *inv, const char *text) {
  for (int i = 0; i < inv->nlinks; i++)
    if (!inv->links[i].message && strstr(text, inv->links[i].code))
      inv->links[i].message = e->last_out_id;
}

void links_journal(engine *e, invocation *inv) {
  for (int i = 0; i < inv->nlinks; i++)
    journal_link_add(e->jr, &(link_row){.bot_id = inv->b->id, .contact_id = inv->c->id,
                                        .message_id = inv->links[i].message,
                                        .code = inv->links[i].code, .url = inv->links[i].url,
                                        .created_at = engine_now(e)});
}
