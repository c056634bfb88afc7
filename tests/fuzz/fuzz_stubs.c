/* fuzz_stubs.c - the HDF5 file backend, stubbed for the libFuzzer builds.
 *
 * store.c lists every backend in its registry; the fuzz harnesses exercise
 * URL parsing and redaction only, so the file backend (parallel HDF5 and
 * MPI) is replaced by one that accepts nothing. Not used by the replay
 * drivers, which link the real library.
 *
 * It stands in for a backend, so it includes the backends' private header
 * (src/store/backend.h, on this target's include path) to define the table
 * store.c's registry names. */
#include "finsim/store/store.h"

#include "backend.h"

static int stub_accepts(const char *url)
{
    (void)url;
    return 0;
}

const store_backend_t store_backend_file = {
    .name = "file (not in fuzz builds)",
    .accepts = stub_accepts,
};
