#ifndef PUSHDOC_CCURL_H
#define PUSHDOC_CCURL_H
#include <curl/curl.h>

// libcurl, loaded at the first call of pushdoc_curl_easy_init rather than at start. Its types and
// constants come from <curl/curl.h>; its functions only through these wrappers, so that a direct
// call fails at link time instead of loading libcurl with the engine.

/// The first call loads libcurl and runs curl_global_init; NULL when libcurl cannot be loaded
/// (pushdoc_curl_load_error says why). Every other function takes what a handle gave.
CURL *pushdoc_curl_easy_init(void);
const char *pushdoc_curl_load_error(void);

void pushdoc_curl_easy_cleanup(CURL *handle);
void pushdoc_curl_easy_reset(CURL *handle);
CURLcode pushdoc_curl_easy_perform(CURL *handle);
const char *pushdoc_curl_easy_strerror(CURLcode code);

// curl_easy_setopt and curl_easy_getinfo are variadic: Swift cannot call them. One typed wrapper
// per kind of argument.
typedef size_t (*pushdoc_data_callback)(char *, size_t, size_t, void *);
typedef int (*pushdoc_progress_callback)(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t);
CURLcode pushdoc_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode pushdoc_setopt_off(CURL *handle, CURLoption option, curl_off_t value);
CURLcode pushdoc_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode pushdoc_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode pushdoc_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode pushdoc_setopt_mime(CURL *handle, curl_mime *value);
CURLcode pushdoc_setopt_data_callback(CURL *handle, CURLoption option, pushdoc_data_callback value);
CURLcode pushdoc_setopt_progress_callback(CURL *handle, pushdoc_progress_callback value);
CURLcode pushdoc_getinfo_long(CURL *handle, CURLINFO info, long *value);

struct curl_slist *pushdoc_curl_slist_append(struct curl_slist *list, const char *text);
void pushdoc_curl_slist_free_all(struct curl_slist *list);

curl_mime *pushdoc_curl_mime_init(CURL *handle);
void pushdoc_curl_mime_free(curl_mime *mime);
curl_mimepart *pushdoc_curl_mime_addpart(curl_mime *mime);
CURLcode pushdoc_curl_mime_name(curl_mimepart *part, const char *name);
CURLcode pushdoc_curl_mime_filename(curl_mimepart *part, const char *fileName);
CURLcode pushdoc_curl_mime_type(curl_mimepart *part, const char *type);
CURLcode pushdoc_curl_mime_filedata(curl_mimepart *part, const char *path);
/// A zero-terminated text part (CURL_ZERO_TERMINATED is a cast macro that does not import).
CURLcode pushdoc_mime_text(curl_mimepart *part, const char *text);
#endif
