#include "CCurl.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

// Loaded with dlopen at the first transfer: libcurl and the 30 libraries it needs (GnuTLS,
// Kerberos, LDAP, SSH, ...) kept 4.5 MB resident in an engine that had not sent anything yet.
static struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    CURLcode (*easy_perform)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    curl_mime *(*mime_init)(CURL *);
    void (*mime_free)(curl_mime *);
    curl_mimepart *(*mime_addpart)(curl_mime *);
    CURLcode (*mime_name)(curl_mimepart *, const char *);
    CURLcode (*mime_filename)(curl_mimepart *, const char *);
    CURLcode (*mime_type)(curl_mimepart *, const char *);
    CURLcode (*mime_filedata)(curl_mimepart *, const char *);
    CURLcode (*mime_data)(curl_mimepart *, const char *, size_t);
} curl;

static pthread_once_t loading = PTHREAD_ONCE_INIT;
static int loaded;
static char loadError[512];

static void load(void) {
    const char *const library = "libcurl.so.4";
    void *handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(loadError, sizeof loadError, "libcurl cannot be loaded: %s", dlerror());
        return;
    }
    const struct { const char *name; void **slot; } symbols[] = {
        {"curl_global_init", (void **)&curl.global_init},
        {"curl_easy_init", (void **)&curl.easy_init},
        {"curl_easy_cleanup", (void **)&curl.easy_cleanup},
        {"curl_easy_reset", (void **)&curl.easy_reset},
        {"curl_easy_perform", (void **)&curl.easy_perform},
        {"curl_easy_strerror", (void **)&curl.easy_strerror},
        {"curl_easy_setopt", (void **)&curl.easy_setopt},
        {"curl_easy_getinfo", (void **)&curl.easy_getinfo},
        {"curl_slist_append", (void **)&curl.slist_append},
        {"curl_slist_free_all", (void **)&curl.slist_free_all},
        {"curl_mime_init", (void **)&curl.mime_init},
        {"curl_mime_free", (void **)&curl.mime_free},
        {"curl_mime_addpart", (void **)&curl.mime_addpart},
        {"curl_mime_name", (void **)&curl.mime_name},
        {"curl_mime_filename", (void **)&curl.mime_filename},
        {"curl_mime_type", (void **)&curl.mime_type},
        {"curl_mime_filedata", (void **)&curl.mime_filedata},
        {"curl_mime_data", (void **)&curl.mime_data},
    };
    for (size_t index = 0; index < sizeof symbols / sizeof symbols[0]; index++) {
        *symbols[index].slot = dlsym(handle, symbols[index].name);
        if (!*symbols[index].slot) {
            snprintf(loadError, sizeof loadError, "libcurl cannot be loaded: %s has no %s", library, symbols[index].name);
            return;
        }
    }
    // Once, before any handle exists: curl_global_init is not thread-safe.
    CURLcode code = curl.global_init(CURL_GLOBAL_ALL);
    if (code != CURLE_OK) {
        snprintf(loadError, sizeof loadError, "libcurl cannot start: curl_global_init failed: %s", curl.easy_strerror(code));
        return;
    }
    loaded = 1;
}

CURL *pushdoc_curl_easy_init(void) {
    pthread_once(&loading, load);
    return loaded ? curl.easy_init() : NULL;
}

const char *pushdoc_curl_load_error(void) {
    pthread_once(&loading, load);
    return loaded ? NULL : loadError;
}

void pushdoc_curl_easy_cleanup(CURL *handle) { curl.easy_cleanup(handle); }
void pushdoc_curl_easy_reset(CURL *handle) { curl.easy_reset(handle); }
CURLcode pushdoc_curl_easy_perform(CURL *handle) { return curl.easy_perform(handle); }
const char *pushdoc_curl_easy_strerror(CURLcode code) { return curl.easy_strerror(code); }

CURLcode pushdoc_setopt_long(CURL *handle, CURLoption option, long value) { return curl.easy_setopt(handle, option, value); }
CURLcode pushdoc_setopt_off(CURL *handle, CURLoption option, curl_off_t value) { return curl.easy_setopt(handle, option, value); }
CURLcode pushdoc_setopt_string(CURL *handle, CURLoption option, const char *value) { return curl.easy_setopt(handle, option, value); }
CURLcode pushdoc_setopt_pointer(CURL *handle, CURLoption option, void *value) { return curl.easy_setopt(handle, option, value); }
CURLcode pushdoc_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl.easy_setopt(handle, option, value);
}
CURLcode pushdoc_setopt_mime(CURL *handle, curl_mime *value) { return curl.easy_setopt(handle, CURLOPT_MIMEPOST, value); }
CURLcode pushdoc_setopt_data_callback(CURL *handle, CURLoption option, pushdoc_data_callback value) {
    return curl.easy_setopt(handle, option, value);
}
CURLcode pushdoc_setopt_progress_callback(CURL *handle, pushdoc_progress_callback value) {
    return curl.easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, value);
}
CURLcode pushdoc_getinfo_long(CURL *handle, CURLINFO info, long *value) { return curl.easy_getinfo(handle, info, value); }

struct curl_slist *pushdoc_curl_slist_append(struct curl_slist *list, const char *text) { return curl.slist_append(list, text); }
void pushdoc_curl_slist_free_all(struct curl_slist *list) { curl.slist_free_all(list); }

curl_mime *pushdoc_curl_mime_init(CURL *handle) { return curl.mime_init(handle); }
void pushdoc_curl_mime_free(curl_mime *mime) { curl.mime_free(mime); }
curl_mimepart *pushdoc_curl_mime_addpart(curl_mime *mime) { return curl.mime_addpart(mime); }
CURLcode pushdoc_curl_mime_name(curl_mimepart *part, const char *name) { return curl.mime_name(part, name); }
CURLcode pushdoc_curl_mime_filename(curl_mimepart *part, const char *fileName) { return curl.mime_filename(part, fileName); }
CURLcode pushdoc_curl_mime_type(curl_mimepart *part, const char *type) { return curl.mime_type(part, type); }
CURLcode pushdoc_curl_mime_filedata(curl_mimepart *part, const char *path) { return curl.mime_filedata(part, path); }
CURLcode pushdoc_mime_text(curl_mimepart *part, const char *text) { return curl.mime_data(part, text, CURL_ZERO_TERMINATED); }
