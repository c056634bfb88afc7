/* fixture.c - throwaway redis-server instances (plain, unix socket, TLS) and
 * temp dirs for the test suite. Servers run on ports the OS picks, never on
 * a fixed port, so tests can run in parallel with each other and with a
 * real redis on 6379. */
#include "fixture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>

#define FX_START_TRIES 20      /* fresh ports to try when redis cannot bind */
#define FX_START_TIMEOUT_S 60  /* ceiling for a server to answer (a loaded machine) */
#define FX_STOP_TIMEOUT_S 5    /* how long SIGTERM may take before SIGKILL */
#define FX_SUN_PATH_MAX 107    /* usable bytes of sockaddr_un.sun_path */

/* Monotonic seconds. */
static double fx_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Sleep ms milliseconds. */
static void fx_msleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- temp dirs --------------------------------------------------------------- */

/* Make "<base>/finsim-<tag>-XXXXXX" with mkdtemp. base is $TMPDIR or /tmp;
 * /tmp is used instead when $TMPDIR would make a unix socket path in the
 * dir too long. Aborts when no directory can be made (tests cannot go on). */
void fx_tmpdir(char *buf, size_t len, const char *tag)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base || strlen(base) + 40 > FX_SUN_PATH_MAX)
        base = "/tmp";
    int n = snprintf(buf, len, "%s/finsim-%s-XXXXXX", base, tag ? tag : "test");
    if (n < 0 || (size_t)n >= len || !mkdtemp(buf)) {
        fprintf(stderr, "fixture: cannot make a temp dir under %s: %s\n", base, strerror(errno));
        abort();
    }
}

/* Remove path and everything below it (like rm -rf, not following links). */
static void fx_rm_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                char sub[4096];
                if (snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) < (int)sizeof(sub))
                    fx_rm_tree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* rm -rf dir, but only for dirs fx_tmpdir made (the name holds "/finsim-"),
 * so a zeroed or corrupted path can never remove anything else. */
void fx_rmdir(const char *dir)
{
    if (!dir || !*dir || !strstr(dir, "/finsim-"))
        return;
    fx_rm_tree(dir);
}

/* ---- processes --------------------------------------------------------------- */

/* Has pid exited? True when it does not exist, is a zombie (a daemonized
 * server is not our child, and PID 1 may be slow to reap), or was our child
 * and has been reaped now. */
static int fx_pid_gone(pid_t pid)
{
    if (pid <= 0)
        return 1;
    if (waitpid(pid, NULL, WNOHANG) == pid)
        return 1;
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return 1;
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *rp = strrchr(buf, ')'); /* "pid (comm) S ..." */
    return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

/* Send sig to pid and wait up to timeout_s for it to go. Returns 1 when gone. */
static int fx_kill_wait(pid_t pid, int sig, double timeout_s)
{
    if (fx_pid_gone(pid))
        return 1;
    kill(pid, sig);
    double end = fx_now() + timeout_s;
    while (fx_now() < end) {
        if (fx_pid_gone(pid))
            return 1;
        fx_msleep(10);
    }
    return fx_pid_gone(pid);
}

/* A random port below the kernel's ephemeral range (where OS-picked ports of
 * other tests and clients land), for redis-server, which cannot bind port 0
 * and report it: fx_start retries with another on a bind failure. */
static int fx_random_port(void)
{
    static unsigned seed;
    if (!seed)
        seed = (unsigned)getpid() ^ (unsigned)(fx_now() * 1e6);
    int lo = 10000, hi = 32767;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        int a = 0;
        if (fscanf(f, "%d", &a) == 1 && a > lo + 1000)
            hi = a;
        fclose(f);
    }
    return lo + (int)(rand_r(&seed) % (unsigned)(hi - lo));
}


/* Run argv (execvp) with stdout into out[outlen] when out is given (else
 * /dev/null), stderr inherited, env "NAME=value" added when env is given.
 * Returns the exit status, or -1 when it could not run / was killed. */
static int fx_run(char *const *argv, char *out, size_t outlen, const char *env, const char *cwd)
{
    int pfd[2] = {-1, -1};
    if (out && pipe(pfd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        if (out) {
            close(pfd[0]);
            close(pfd[1]);
        }
        return -1;
    }
    if (pid == 0) {
        if (out) {
            dup2(pfd[1], STDOUT_FILENO);
            close(pfd[0]);
            close(pfd[1]);
        } else {
            int dn = open("/dev/null", O_WRONLY);
            if (dn >= 0) {
                dup2(dn, STDOUT_FILENO);
                close(dn);
            }
        }
        int dn = open("/dev/null", O_RDONLY);
        if (dn >= 0) {
            dup2(dn, STDIN_FILENO);
            close(dn);
        }
        if (env) {
            char name[64];
            const char *eq = strchr(env, '=');
            size_t nl = eq ? (size_t)(eq - env) : 0;
            if (nl > 0 && nl < sizeof(name)) {
                memcpy(name, env, nl);
                name[nl] = 0;
                setenv(name, eq + 1, 1);
            }
        }
        if (cwd && chdir(cwd) != 0)
            _exit(126);
        execvp(argv[0], argv);
        fprintf(stderr, "fixture: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    size_t used = 0;
    if (out) {
        close(pfd[1]);
        char sink[4096];
        for (;;) {
            char *dst = used + 1 < outlen ? out + used : sink;
            size_t room = used + 1 < outlen ? outlen - 1 - used : sizeof(sink);
            ssize_t k = read(pfd[0], dst, room);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                break;
            if (dst != sink)
                used += (size_t)k;
        }
        close(pfd[0]);
        if (outlen)
            out[used] = 0;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- servers left behind ---------------------------------------------------- */

/* Every server started and not yet stopped, by copy (a failed cmocka test
 * longjmps out of its function, so the fx_redis_t on its stack is gone and
 * its fx_redis_stop never runs). At exit these are killed and their dirs
 * removed, so a failing test leaves no redis-server behind. */
#define FX_MAX_LIVE 64
static struct {
    pid_t pid;      /* server pid, 0 while not running */
    char dir[256];  /* temp dir, "" for a free entry */
} fx_live[FX_MAX_LIVE];

/* atexit handler: kill and remove what is still registered. */
static void fx_live_cleanup(void)
{
    for (int i = 0; i < FX_MAX_LIVE; i++) {
        if (!fx_live[i].dir[0])
            continue;
        if (fx_live[i].pid > 0)
            fx_kill_wait(fx_live[i].pid, SIGKILL, 2);
        fx_rmdir(fx_live[i].dir);
        fx_live[i].dir[0] = 0;
    }
}

/* Record (or update) the server of dir with pid. */
static void fx_live_set(const char *dir, pid_t pid)
{
    static int registered;
    int free_slot = -1;
    if (!registered) {
        atexit(fx_live_cleanup);
        registered = 1;
    }
    for (int i = 0; i < FX_MAX_LIVE; i++) {
        if (fx_live[i].dir[0] && strcmp(fx_live[i].dir, dir) == 0) {
            fx_live[i].pid = pid;
            return;
        }
        if (!fx_live[i].dir[0] && free_slot < 0)
            free_slot = i;
    }
    if (free_slot >= 0) {
        snprintf(fx_live[free_slot].dir, sizeof(fx_live[free_slot].dir), "%s", dir);
        fx_live[free_slot].pid = pid;
    }
}

/* Forget the server of dir (it was stopped and its dir removed). */
static void fx_live_del(const char *dir)
{
    for (int i = 0; i < FX_MAX_LIVE; i++)
        if (fx_live[i].dir[0] && strcmp(fx_live[i].dir, dir) == 0)
            fx_live[i].dir[0] = 0;
}

/* ---- redis-server ------------------------------------------------------------ */

/* Append a copy of s to r->argv. */
static void fx_argv_add(fx_redis_t *r, const char *s)
{
    char **a = realloc(r->argv, (size_t)(r->argc + 2) * sizeof(*a));
    if (!a)
        abort();
    r->argv = a;
    r->argv[r->argc] = strdup(s);
    if (!r->argv[r->argc])
        abort();
    r->argc++;
    r->argv[r->argc] = NULL;
}

/* Free r->argv. */
static void fx_argv_free(fx_redis_t *r)
{
    for (int i = 0; i < r->argc; i++)
        free(r->argv[i]);
    free(r->argv);
    r->argv = NULL;
    r->argc = 0;
}

/* Print the last lines of the server log to stderr (start failures). */
static void fx_log_tail(const fx_redis_t *r)
{
    char path[400], buf[2048];
    snprintf(path, sizeof(path), "%s/redis.log", r->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, sz > (long)sizeof(buf) - 1 ? sz - (long)sizeof(buf) + 1 : 0, SEEK_SET);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    fprintf(stderr, "fixture: --- %s (tail) ---\n%s\nfixture: ---\n", path, buf);
}

/* Does the server log say the port was taken? */
static int fx_log_says_bind_failed(const fx_redis_t *r)
{
    char path[400], buf[65536];
    snprintf(path, sizeof(path), "%s/redis.log", r->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, "Address already in use") != NULL;
}

/* Read the pid file; 0 when not there yet. */
static pid_t fx_read_pid(const fx_redis_t *r)
{
    char path[400];
    long v = 0;
    snprintf(path, sizeof(path), "%s/redis.pid", r->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    if (fscanf(f, "%ld", &v) != 1)
        v = 0;
    fclose(f);
    return (pid_t)v;
}

/* Does the server answer on its plain port (any reply, NOAUTH included)? */
static int fx_ping(const fx_redis_t *r)
{
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    int ok = 0;
    if (c && !c->err) {
        redisSetTimeout(c, tv);
        /* the server on the port must be ours (its process id), not another
         * test's that holds the port; a password-protected one answers
         * NOAUTH before AUTH, so ask with the password when there is one */
        redisReply *rep = NULL;
        if (r->password[0]) {
            rep = redisCommand(c, "AUTH %s", r->password);
            if (rep)
                freeReplyObject(rep);
        }
        rep = redisCommand(c, "INFO server");
        if (rep && rep->type == REDIS_REPLY_STRING) {
            char want[64];
            snprintf(want, sizeof(want), "process_id:%ld\r", (long)r->pid);
            ok = strstr(rep->str, want) != NULL;
        }
        if (rep)
            freeReplyObject(rep);
    }
    if (c)
        redisFree(c);
    return ok;
}

/* Launch r->argv (daemonizing) and wait until it answers PING.
 * Returns 0, 1 when the port was taken (caller picks new ports), -1 on any
 * other failure. Leaves no process behind on failure. */
static int fx_launch(fx_redis_t *r)
{
    char pidfile[400];
    snprintf(pidfile, sizeof(pidfile), "%s/redis.pid", r->dir);
    unlink(pidfile);
    r->pid = 0;
    int st = fx_run(r->argv, NULL, 0, NULL, r->dir);
    if (st != 0) {
        fprintf(stderr, "fixture: redis-server exited with status %d before daemonizing\n", st);
        fx_log_tail(r);
        return -1;
    }
    double end = fx_now() + FX_START_TIMEOUT_S;
    while (fx_now() < end) {
        if (!r->pid && (r->pid = fx_read_pid(r)) > 0)
            fx_live_set(r->dir, r->pid);
        if (r->pid && fx_ping(r))
            return 0;
        if (fx_log_says_bind_failed(r)) {
            if (r->pid)
                fx_kill_wait(r->pid, SIGKILL, FX_STOP_TIMEOUT_S);
            r->pid = 0;
            fx_live_set(r->dir, 0);
            return 1;
        }
        if (r->pid && fx_pid_gone(r->pid))
            break;
        fx_msleep(10);
    }
    fprintf(stderr, "fixture: redis-server on port %d did not come up\n", r->port);
    fx_log_tail(r);
    if (r->pid)
        fx_kill_wait(r->pid, SIGKILL, FX_STOP_TIMEOUT_S);
    r->pid = 0;
    fx_live_set(r->dir, 0);
    return -1;
}

/* Build the command line for the current ports and TLS settings. */
static void fx_build_argv(fx_redis_t *r, int tls_mode, const char *const *extra)
{
    char num[32], path[400];
    fx_argv_free(r);
    fx_argv_add(r, "redis-server");
    fx_argv_add(r, "--port");
    snprintf(num, sizeof(num), "%d", r->port);
    fx_argv_add(r, num);
    fx_argv_add(r, "--bind");
    fx_argv_add(r, "127.0.0.1");
    fx_argv_add(r, "--unixsocket");
    fx_argv_add(r, r->sock);
    fx_argv_add(r, "--unixsocketperm");
    fx_argv_add(r, "700");
    fx_argv_add(r, "--dir");
    fx_argv_add(r, r->dir);
    fx_argv_add(r, "--save");
    fx_argv_add(r, "");
    fx_argv_add(r, "--appendonly");
    fx_argv_add(r, "no");
    fx_argv_add(r, "--daemonize");
    fx_argv_add(r, "yes");
    fx_argv_add(r, "--pidfile");
    snprintf(path, sizeof(path), "%s/redis.pid", r->dir);
    fx_argv_add(r, path);
    fx_argv_add(r, "--logfile");
    snprintf(path, sizeof(path), "%s/redis.log", r->dir);
    fx_argv_add(r, path);
    if (r->tls_port) {
        fx_argv_add(r, "--tls-port");
        snprintf(num, sizeof(num), "%d", r->tls_port);
        fx_argv_add(r, num);
        fx_argv_add(r, "--tls-cert-file");
        fx_argv_add(r, r->server_cert);
        fx_argv_add(r, "--tls-key-file");
        fx_argv_add(r, r->server_key);
        fx_argv_add(r, "--tls-ca-cert-file");
        fx_argv_add(r, r->ca_file);
        fx_argv_add(r, "--tls-auth-clients");
        fx_argv_add(r, tls_mode == FX_TLS_CLIENT_REQUIRED ? "yes" : "optional");
    }
    for (int i = 0; extra && extra[i]; i++)
        fx_argv_add(r, extra[i]);
}

/* Make the TLS material in r->dir with openssl (EC P-256 keys, 2 days). */
static int fx_make_certs(fx_redis_t *r)
{
    static const char script[] =
        "set -e\n"
        "K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
        "openssl req -x509 $K -days 2 -subj '/CN=finsim test CA' -keyout ca.key -out ca.crt\n"
        "openssl req -x509 $K -days 2 -subj '/CN=finsim other CA' -keyout other-ca.key -out other-ca.crt\n"
        "openssl req $K -subj '/CN=localhost' -keyout server.key -out server.csr\n"
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext\n"
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.crt\n"
        "openssl req $K -subj '/CN=finsim test client' -keyout client.key -out client.csr\n"
        "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out client.crt\n";
    char log[400], cmd[sizeof(script) + 512];
    snprintf(log, sizeof(log), "%s/openssl.log", r->dir);
    snprintf(cmd, sizeof(cmd), "exec >'%s' 2>&1\n%s", log, script);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    if (fx_run(argv, NULL, 0, NULL, r->dir) != 0) {
        fprintf(stderr, "fixture: openssl failed making test certificates; see %s\n", log);
        return -1;
    }
    snprintf(r->ca_file, sizeof(r->ca_file), "%s/ca.crt", r->dir);
    snprintf(r->other_ca_file, sizeof(r->other_ca_file), "%s/other-ca.crt", r->dir);
    snprintf(r->server_cert, sizeof(r->server_cert), "%s/server.crt", r->dir);
    snprintf(r->server_key, sizeof(r->server_key), "%s/server.key", r->dir);
    snprintf(r->client_cert, sizeof(r->client_cert), "%s/client.crt", r->dir);
    snprintf(r->client_key, sizeof(r->client_key), "%s/client.key", r->dir);
    return 0;
}

/* Common start: temp dir, optional certificates, ports, launch with retries
 * on port collisions, URLs. */
static int fx_start(fx_redis_t *r, int tls, int tls_mode, const char *const *extra)
{
    memset(r, 0, sizeof(*r));
    fx_tmpdir(r->dir, sizeof(r->dir), "redis");
    fx_live_set(r->dir, 0);
    snprintf(r->sock, sizeof(r->sock), "%s/redis.sock", r->dir);
    for (int i = 0; extra && extra[i]; i++)
        if (strcmp(extra[i], "--requirepass") == 0 && extra[i + 1])
            snprintf(r->password, sizeof(r->password), "%s", extra[i + 1]);
    if (tls && fx_make_certs(r) != 0)
        goto out_fail;
    for (int attempt = 0; attempt < FX_START_TRIES; attempt++) {
        r->port = fx_random_port();
        if (tls)
            do
                r->tls_port = fx_random_port();
            while (r->tls_port == r->port);
        fx_build_argv(r, tls_mode, extra);
        int rc = fx_launch(r);
        if (rc == 0) {
            snprintf(r->url, sizeof(r->url), "redis://127.0.0.1:%d", r->port);
            snprintf(r->unix_url, sizeof(r->unix_url), "unix://%s", r->sock);
            if (tls)
                snprintf(r->tls_url, sizeof(r->tls_url), "rediss://localhost:%d", r->tls_port);
            return 0;
        }
        if (rc < 0)
            goto out_fail;
        fprintf(stderr, "fixture: port %d was taken, trying another\n", r->port);
        unlink(r->sock);
        char log[400];
        snprintf(log, sizeof(log), "%s/redis.log", r->dir);
        unlink(log);
    }
    fprintf(stderr, "fixture: could not start redis-server on a free port\n");
out_fail:
    fx_redis_stop(r);
    return -1;
}

int fx_redis_start(fx_redis_t *r, const char *const *extra_args)
{
    return fx_start(r, 0, 0, extra_args);
}

int fx_redis_start_tls(fx_redis_t *r, int mode, const char *const *extra_args)
{
    return fx_start(r, 1, mode, extra_args);
}

int fx_redis_kill(fx_redis_t *r, int sig)
{
    if (r->pid <= 0)
        return 0;
    int gone = fx_kill_wait(r->pid, sig, FX_STOP_TIMEOUT_S);
    if (!gone)
        gone = fx_kill_wait(r->pid, SIGKILL, FX_STOP_TIMEOUT_S);
    if (gone) {
        r->pid = 0;
        fx_live_set(r->dir, 0);
    }
    return gone ? 0 : -1;
}

int fx_redis_restart(fx_redis_t *r)
{
    if (!r->argv || fx_redis_kill(r, SIGTERM) != 0)
        return -1;
    return fx_launch(r) == 0 ? 0 : -1;
}

void fx_redis_stop(fx_redis_t *r)
{
    if (r->pid > 0)
        fx_redis_kill(r, SIGTERM);
    r->pid = 0;
    fx_argv_free(r);
    if (r->dir[0]) {
        fx_rmdir(r->dir);
        fx_live_del(r->dir);
    }
    r->dir[0] = 0;
}

int fx_redis_cli(const fx_redis_t *r, char *out, size_t outlen, const char *const *args)
{
    char port[16], env[160];
    const char *argv[64];
    int n = 0;
    snprintf(port, sizeof(port), "%d", r->port);
    argv[n++] = "redis-cli";
    argv[n++] = "-h";
    argv[n++] = "127.0.0.1";
    argv[n++] = "-p";
    argv[n++] = port;
    for (int i = 0; args && args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    if (r->password[0])
        snprintf(env, sizeof(env), "REDISCLI_AUTH=%s", r->password);
    char dummy[1];
    int rc = fx_run((char *const *)argv, out ? out : dummy, out ? outlen : sizeof(dummy),
                    r->password[0] ? env : NULL, NULL);
    if (out && outlen) {
        size_t l = strlen(out);
        if (l > 0 && out[l - 1] == '\n')
            out[l - 1] = 0;
    }
    return rc;
}

uint64_t fx_next64(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}
