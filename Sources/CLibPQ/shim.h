#ifndef PUSHDOC_CLIBPQ_SHIM_H
#define PUSHDOC_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
