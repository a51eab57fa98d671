#ifndef AUDITHOUND_CZLIB_SHIM_H
#define AUDITHOUND_CZLIB_SHIM_H
#include <zlib.h>
#endif
