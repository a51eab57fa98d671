#ifndef AUDITHOUND_CFUZZERDRIVER_H
#define AUDITHOUND_CFUZZERDRIVER_H
#include <stddef.h>
#include <stdint.h>
/* libFuzzer's driver entry point (compiler-rt, LLVM 11+). SwiftPM names an executable's entry
   point `<target>_main`, so the fuzz targets define that and hand control to libFuzzer here. */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
