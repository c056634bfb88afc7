/* exit.c - the maps from the lower layers' error codes to exit codes. */
#include "finsim/cmd/exit.h"

#include "finsim/base/util.h"
#include "finsim/market/market.h"
#include "finsim/output/h5out.h"
#include "finsim/store/store.h"

/* h5out ends the job by itself when it cannot create /results (HDF5 cannot
 * close such a file); the status it ends it with must be the I/O exit code. */
_Static_assert(H5OUT_ABORT_STATUS == FS_EXIT_IO, "h5out aborts with the I/O exit code");
/* and the allocators end the process with the internal-error code */
_Static_assert(FS_OOM_EXIT_STATUS == FS_EXIT_INTERNAL, "out of memory ends with the internal-error code");

/* Store errors to exit codes; see exit.h. */
int fs_exit_for_store_err(int store_err)
{
    switch (store_err) {
    case STORE_OK: return FS_EXIT_OK;
    case STORE_E_USAGE: return FS_EXIT_USAGE;
    case STORE_E_AUTH: return FS_EXIT_AUTH;
    case STORE_E_TLS: return FS_EXIT_TLS;
    case STORE_E_TIMEOUT: return FS_EXIT_TIMEOUT;
    case STORE_E_IO: return FS_EXIT_IO;
    case STORE_E_NOMEM: return FS_EXIT_INTERNAL;
    default: return FS_EXIT_STORE;
    }
}

/* Market data errors to exit codes; see exit.h. */
int fs_exit_for_market_err(int mkt_err)
{
    switch (mkt_err) {
    case MKT_OK: return FS_EXIT_OK;
    case MKT_E_USAGE: return FS_EXIT_USAGE;
    case MKT_E_SETUP: return FS_EXIT_USAGE; /* libcurl missing: the installation, not the endpoint */
    case MKT_E_TIMEOUT: return FS_EXIT_MARKET_TIMEOUT;
    case MKT_E_AUTH: return FS_EXIT_MARKET_AUTH;
    case MKT_E_NOMEM: return FS_EXIT_INTERNAL;
    default: return FS_EXIT_MARKET;
    }
}
