/* stop.c - record SIGTERM and SIGINT in a flag (see stop.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "finsim/base/stop.h"

static volatile sig_atomic_t stop_sig;

/* Only the first signal counts; no other work here (async-signal-safe). */
static void on_stop(int sig)
{
    if (!stop_sig)
        stop_sig = sig;
}

int fs_stop_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return -1;
    return 0;
}

int fs_stop_requested(void)
{
    return (int)stop_sig;
}

const char *fs_stop_name(int sig)
{
    static char buf[32];
    if (sig == SIGTERM)
        return "SIGTERM";
    if (sig == SIGINT)
        return "SIGINT";
    snprintf(buf, sizeof(buf), "signal %d", sig);
    return buf;
}
