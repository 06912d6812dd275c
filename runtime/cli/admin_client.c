/* admin_client: finding, authenticating to and asking a running server's
 * admin API, for the CLI verbs that do (admin_client.h). */
#include "admin_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "settings.h"

int admin_client_settings(const char *config) {
  if (config && settings_read_file(config)) return -1;
  settings_read_env();
  return 0;
}

char *admin_client_url(const char *prog, const char *url_flag, const char *config) {
  if (url_flag) return xstrdup(url_flag);
  const char *env = getenv("PARLEY_URL");
  if (env && *env) return xstrdup(env);
  const char *listen = setting("listen");
  char host[64];
  int port;
  if (sscanf(listen, "%63[^:]:%d", host, &port) != 2 || port < 1 || port > 65535) {
    fprintf(stderr, "parley %s: listen = '%s'%s%s is not ADDRESS:PORT; give --url\n",
            prog, listen, config ? " in " : "", config ? config : "");
    return NULL;
  }
  if (strcmp(host, "0.0.0.0") == 0 || !*host) snprintf(host, sizeof host, "127.0.0.1");
  return xasprintf("http://%s:%d", host, port);
}

const char *admin_client_token(const char *prog) {
  const char *token = setting("admin_token");
  if (!token || !*token) {
    fprintf(stderr, "parley %s: set PARLEY_ADMIN_TOKEN to the server's admin token\n",
            prog);
    return NULL;
  }
  return token;
}

static size_t collect(char *data, size_t size, size_t n, void *ud) {
  buf_add(ud, data, size * n);
  return size * n;
}

long admin_client_request(const char *url, const char *token, const char *method,
                          const char *ctype, const char *body, size_t len,
                          long timeout_s, buf *answer, char *err, size_t errlen) {
  char *auth = xasprintf("Authorization: Bearer %s", token);
  char *type = ctype ? xasprintf("Content-Type: %s", ctype) : NULL;
  CURL *curl = curl_easy_init();
  struct curl_slist *headers = curl_slist_append(NULL, auth);
  if (type) headers = curl_slist_append(headers, type);
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  if (body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, answer);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout_s);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  if (rc == CURLE_OK)
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  else
    snprintf(err, errlen, "%s: %s", url, curl_easy_strerror(rc));
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  free(auth);
  free(type);
  return status;
}
