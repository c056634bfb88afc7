/* fuzz_stubs.c - the HDF5 file backend, stubbed for the libFuzzer builds.
 *
 * store.c lists every backend in its registry; the fuzz harnesses exercise
 * URL parsing and redaction only, so the file backend (parallel HDF5 and
 * MPI) is replaced by one that accepts nothing. Not used by the replay
 * drivers, which link the real library. */
#include "finsim/store/store.h"

static int stub_accepts(const char *url)
{
    (void)url;
    return 0;
}

const store_backend_t store_backend_file = {
    .name = "file (not in fuzz builds)",
    .accepts = stub_accepts,
};
