#ifndef PUSHDOC_BYTE_SEARCH_H
#define PUSHDOC_BYTE_SEARCH_H
#include <stddef.h>

// glibc's memmem (two-way search), which Swift's Glibc module leaves out:
// it is declared only under _GNU_SOURCE.
const void *pushdoc_memmem(const void *haystack, size_t haystack_length, const void *needle, size_t needle_length);

#endif
