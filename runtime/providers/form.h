/* form: decoding application/x-www-form-urlencoded bodies (Twilio's
 * webhooks, Kannel's post-url, URL paths), and reading UTF-8. */
#ifndef PARLEY_FORM_H
#define PARLEY_FORM_H

#include <stddef.h>
#include <stdint.h>

/* One name=value field of an application/x-www-form-urlencoded body. */
typedef struct form_param {
  const char *name, *value;
} form_param;

/* Decodes an application/x-www-form-urlencoded body of len bytes (WHATWG URL
 * standard, "application/x-www-form-urlencoded parsing"): fields separated
 * by '&' (empty fields skipped), name and value split at the first '=' ("c"
 * alone is name "c", value ""), '+' is a space, %XX a byte. Repeated names
 * are all kept, in body order. Refused, as errors: a '%' not followed by two
 * hex digits, a NUL byte (%00 or raw: C strings could not carry it), and a
 * name or value that is not valid UTF-8.
 * Returns 0 with *out (n entries, each name and value a NUL-terminated copy;
 * NULL when n is 0) for form_free, or -1 with *out NULL and *n 0. */
int form_decode(const char *body, size_t len, form_param **out, size_t *n);

/* The same, with a sentence naming the offending field in err on failure:
 * form field "a=%zz": "%zz" is not a %XX escape */
int form_decode_ex(const char *body, size_t len, form_param **out, size_t *n, char *err,
                   size_t errlen);

/* The checks of form_decode_ex without keeping the fields: 0, or -1 with
 * the same sentence in err. With as_path, text is one field whose '&', '='
 * and '+' are plain characters (a URL's path). */
int form_check(const char *text, size_t len, int as_path, char *err, size_t errlen);

/* Frees what form_decode returned (NULL is fine). */
void form_free(form_param *params, size_t n);

/* The UTF-8 sequence at s (len bytes left, len > 0): its length (1-4) with
 * the code point in *cp, or minus the length of the maximal ill-formed
 * prefix (the bytes one U+FFFD stands for) when it is not well formed. */
int utf8_next(const unsigned char *s, size_t len, uint32_t *cp);

#endif
