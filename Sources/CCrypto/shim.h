#ifndef PUSHDOC_CCRYPTO_SHIM_H
#define PUSHDOC_CCRYPTO_SHIM_H
#include <openssl/evp.h>
#include <openssl/rand.h>

// AES-256-GCM through OpenSSL's EVP interface; 12-byte nonce, 16-byte tag.
// Returns 1 on success, 0 on any failure (for open: a wrong key or altered data).
static inline int pushdoc_aes256gcm_seal(const unsigned char *key, const unsigned char *nonce,
                                         const unsigned char *plain, int plain_len,
                                         unsigned char *cipher, unsigned char *tag) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, ok = ctx != NULL
        && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1
        && EVP_EncryptUpdate(ctx, cipher, &len, plain, plain_len) == 1
        && EVP_EncryptFinal_ex(ctx, cipher + len, &len) == 1
        && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

static inline int pushdoc_aes256gcm_open(const unsigned char *key, const unsigned char *nonce,
                                         const unsigned char *cipher, int cipher_len,
                                         const unsigned char *tag, unsigned char *plain) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, ok = ctx != NULL
        && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1
        && EVP_DecryptUpdate(ctx, plain, &len, cipher, cipher_len) == 1
        && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *)tag) == 1
        && EVP_DecryptFinal_ex(ctx, plain + len, &len) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

// Incremental SHA-256.
static inline EVP_MD_CTX *pushdoc_sha256_new(void) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) { EVP_MD_CTX_free(ctx); return NULL; }
    return ctx;
}
static inline int pushdoc_sha256_update(EVP_MD_CTX *ctx, const void *data, size_t count) { return EVP_DigestUpdate(ctx, data, count); }
static inline int pushdoc_sha256_final(EVP_MD_CTX *ctx, unsigned char *digest) { unsigned int n = 0; return EVP_DigestFinal_ex(ctx, digest, &n); }
static inline void pushdoc_sha256_free(EVP_MD_CTX *ctx) { EVP_MD_CTX_free(ctx); }

static inline int pushdoc_random_bytes(unsigned char *buffer, int count) { return RAND_bytes(buffer, count); }
#endif
