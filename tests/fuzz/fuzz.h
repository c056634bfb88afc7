/* fuzz.h - shared by the fuzz harnesses (tests/fuzz/fuzz_*.c).
 *
 * Each harness defines LLVMFuzzerTestOneInput. Built with clang and
 * -fsanitize=fuzzer (FINSIM_FUZZ=ON) it is a libFuzzer binary; linked with
 * replay_main.c it replays corpus and regression files under ctest. A broken
 * property is reported with FUZZ_CHECK, which aborts: libFuzzer saves the
 * input as a crash file, the replay driver fails its test. */
#ifndef FINSIM_FUZZ_H
#define FINSIM_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                  \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: property violated: %s: ", __FILE__,        \
                    __LINE__, #cond);                                          \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* Is s[0..n) NUL-terminated within n bytes? */
static inline int fuzz_terminated(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0')
            return 1;
    return 0;
}

#endif
