#ifndef PUSHDOC_CCURL_SHIM_H
#define PUSHDOC_CCURL_SHIM_H
#include <curl/curl.h>

// curl_easy_setopt and curl_easy_getinfo are variadic: Swift cannot call
// them. One typed wrapper per kind of argument.
static inline CURLcode pushdoc_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode pushdoc_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode pushdoc_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode pushdoc_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode pushdoc_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode pushdoc_setopt_mime(CURL *h, curl_mime *v) { return curl_easy_setopt(h, CURLOPT_MIMEPOST, v); }

typedef size_t (*pushdoc_data_callback)(char *, size_t, size_t, void *);
typedef int (*pushdoc_progress_callback)(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t);
static inline CURLcode pushdoc_setopt_data_callback(CURL *h, CURLoption o, pushdoc_data_callback v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode pushdoc_setopt_progress_callback(CURL *h, pushdoc_progress_callback v) { return curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, v); }

static inline CURLcode pushdoc_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }

// CURL_ZERO_TERMINATED is a cast macro that does not import.
static inline CURLcode pushdoc_mime_text(curl_mimepart *part, const char *text) { return curl_mime_data(part, text, CURL_ZERO_TERMINATED); }
#endif
