/* exit.h - the process exit codes of the finsim command, and the maps from
 * the lower layers' error codes to them.
 *
 * Exit codes are a command-level concern: the layers below cmd/ return their
 * own error codes (STORE_E_*, MKT_E_*) and the commands map them here. */
#ifndef FINSIM_CMD_EXIT_H
#define FINSIM_CMD_EXIT_H

/* Process exit codes of the finsim command. Stable; documented in --help. */
enum fs_exit {
    FS_EXIT_OK = 0,
    FS_EXIT_TRADES_FAILED = 1, /* ran to the end but some trades have status != 0 */
    FS_EXIT_USAGE = 2,         /* bad command line or configuration */
    FS_EXIT_STORE = 3,         /* store unreachable / protocol error */
    FS_EXIT_AUTH = 4,          /* store refused the credentials */
    FS_EXIT_TLS = 5,           /* TLS handshake / verification failed, or no TLS support */
    FS_EXIT_IO = 6,            /* output file could not be written */
    FS_EXIT_CHECKSUM = 7,      /* --expect-checksum did not match */
    FS_EXIT_INTERNAL = 8,      /* a bug or an out-of-memory condition */
    FS_EXIT_TIMEOUT = 9,       /* store did not answer in time */
    FS_EXIT_INJECTED = 10,     /* --failure ended this rank, as AzFinSim tasks did */
    /* market data failures; documented in 'finsim screen --help' */
    FS_EXIT_MARKET = 11,         /* market data unreadable, malformed, or the endpoint failed */
    FS_EXIT_MARKET_TIMEOUT = 12, /* the endpoint did not answer in time (after retries) */
    FS_EXIT_MARKET_AUTH = 13,    /* the endpoint refused the API key (HTTP 401/403) */
    FS_EXIT_STOPPED = 14         /* SIGTERM/SIGINT: stopped after a batch, rerun with --resume */
};

/* Map a store error (enum store_err, 0 or negative) to the exit code of a
 * command that stops on it. Never fails: unknown codes give FS_EXIT_STORE. */
int fs_exit_for_store_err(int store_err);

/* Map a market data error (enum mkt_err, 0 or negative) to the exit code of
 * a command that stops on it. Unknown codes give FS_EXIT_MARKET. */
int fs_exit_for_market_err(int mkt_err);

#endif
