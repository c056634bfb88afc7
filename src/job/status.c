/* status.c - store and market data errors as job outcomes. */
#include "finsim/job/status.h"

#include "finsim/market/market.h"
#include "finsim/store/store.h"

/* One case per store error that is not a plain store failure. */
int job_store_status(int store_err)
{
    switch (store_err) {
    case STORE_OK: return JOB_OK;
    case STORE_E_USAGE: return JOB_E_CONFIG;
    case STORE_E_AUTH: return JOB_E_AUTH;
    case STORE_E_TLS: return JOB_E_TLS;
    case STORE_E_TIMEOUT: return JOB_E_TIMEOUT;
    case STORE_E_IO: return JOB_E_IO;
    case STORE_E_NOMEM: return JOB_E_INTERNAL;
    default: return JOB_E_STORE;
    }
}

/* One case per market data error that is not a plain market failure. */
int job_market_status(int mkt_err)
{
    switch (mkt_err) {
    case MKT_OK: return JOB_OK;
    case MKT_E_USAGE: return JOB_E_CONFIG;
    case MKT_E_SETUP: return JOB_E_CONFIG;
    case MKT_E_TIMEOUT: return JOB_E_MARKET_TIMEOUT;
    case MKT_E_AUTH: return JOB_E_MARKET_AUTH;
    case MKT_E_NOMEM: return JOB_E_INTERNAL;
    default: return JOB_E_MARKET;
    }
}
