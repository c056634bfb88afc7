/* mpi.c - the MPI helpers every command and the job share. */
#include "finsim/base/mpi.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "finsim/base/util.h"

/* Rank and size of MPI_COMM_WORLD when MPI runs, else 0 and 1; starts
 * nothing. */
void fs_mpi_peek(int *rank, int *nranks)
{
    int up = 0, down = 0;
    *rank = 0;
    *nranks = 1;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    if (up && !down) {
        MPI_Comm_rank(MPI_COMM_WORLD, rank);
        MPI_Comm_size(MPI_COMM_WORLD, nranks);
        fs_log_set_rank(*rank, *nranks); /* messages about the options name the rank and host */
    }
}

/* Was this process started by an MPI launcher? Open MPI's mpirun sets
 * OMPI_COMM_WORLD_SIZE, a PMIx server (prterun, srun --mpi=pmix) PMIX_RANK,
 * MPICH's hydra and srun --mpi=pmi2 PMI_RANK / PMI_SIZE. */
int fs_mpi_launched(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

void fs_mpi_init(int *argc, char ***argv)
{
    int provided;
    if (!fs_mpi_launched())
        setenv("OMPI_MCA_ess_singleton_isolated", "1", 0);
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
}

/* fs_mpi_world under a launcher; outside one, fs_mpi_peek: a process that
 * runs alone does not pay for MPI_Init (a singleton start costs a third of
 * a second and more). Only for commands whose every MPI call is skipped
 * when MPI is not running. */
void fs_mpi_world_if_launched(int *rank, int *nranks)
{
    if (fs_mpi_launched())
        fs_mpi_world(rank, nranks);
    else
        fs_mpi_peek(rank, nranks);
}

/* Rank and size of MPI_COMM_WORLD, starting MPI when main did not (it skips
 * MPI_Init when the arguments look like a help request, and "-h" may well
 * be an option's value: --key-prefix -h); sets the log prefix. */
void fs_mpi_world(int *rank, int *nranks)
{
    int up = 0, down = 0;
    *rank = 0;
    *nranks = 1;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    if (!up && !down) {
        fs_mpi_init(NULL, NULL);
        up = 1;
    }
    if (up && !down) {
        MPI_Comm_rank(MPI_COMM_WORLD, rank);
        MPI_Comm_size(MPI_COMM_WORLD, nranks);
    }
    fs_log_set_rank(*rank, *nranks);
}

/* The largest code over all ranks (the worst outcome wins). */
int fs_mpi_agree(int code)
{
    int up = 0, worst = code;
    MPI_Initialized(&up);
    if (up)
        MPI_Allreduce(&code, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return worst;
}

/* Every rank's code, agreed; the message of the first failing rank is
 * printed once, by rank 0, with that rank's number and host unless every
 * rank failed. */
int fs_mpi_agree_err(int code, const char *msg)
{
    int up = 0;
    MPI_Initialized(&up);
    if (!up) {
        if (code)
            fs_error("%s", msg ? msg : "failed");
        return code;
    }
    int rank, nranks, worst = code, first, failing = code != 0, nfail = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    MPI_Allreduce(&code, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (!worst)
        return 0;
    int mine = failing ? rank : nranks;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&failing, &nfail, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    char buf[1024 + MPI_MAX_PROCESSOR_NAME] = "";
    if (rank == first) {
        char host[MPI_MAX_PROCESSOR_NAME] = "";
        int len = 0;
        MPI_Get_processor_name(host, &len);
        if (nfail < nranks) /* not everyone's failure: say whose */
            snprintf(buf, sizeof(buf), "%s (rank %d on host %s%s)", msg && *msg ? msg : "failed", rank, host,
                     nfail > 1 ? ", and more ranks" : "");
        else
            snprintf(buf, sizeof(buf), "%s", msg && *msg ? msg : "failed");
    }
    MPI_Bcast(buf, (int)sizeof(buf), MPI_CHAR, first, MPI_COMM_WORLD);
    if (rank == 0)
        fs_error("%s", buf);
    return worst;
}

/* Rank 0: create the probe file in dir with a fresh random token. Returns
 * 0 with its path and token, or an errno value. */
static int probe_create(const char *dir, char *path, size_t plen, char *token, size_t tlen)
{
    unsigned char rnd[8] = {0};
    FILE *u = fopen("/dev/urandom", "rb");
    if (!u || fread(rnd, 1, sizeof(rnd), u) != sizeof(rnd)) {
        struct timespec ts; /* no /dev/urandom: time and pid are unique enough */
        clock_gettime(CLOCK_REALTIME, &ts);
        memcpy(rnd, &ts.tv_nsec, sizeof(ts.tv_nsec) < sizeof(rnd) ? sizeof(ts.tv_nsec) : sizeof(rnd));
    }
    if (u)
        fclose(u);
    snprintf(token, tlen, "%02x%02x%02x%02x%02x%02x%02x%02x-%ld", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5],
             rnd[6], rnd[7], (long)getpid());
    snprintf(path, plen, "%s/.finsim-probe-%s", dir, token);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return errno;
    size_t n = strlen(token);
    int e = write(fd, token, n) == (ssize_t)n ? 0 : errno ? errno : EIO;
    if (close(fd) != 0 && !e)
        e = errno;
    if (e)
        unlink(path);
    return e;
}

/* This rank: does it read token from path? FS_DIR_SHARED if so,
 * FS_DIR_MISSING when dir is not a directory here, else FS_DIR_LOCAL. A
 * network file system may show a new file late: a missing one is looked
 * for again (directory re-read) for up to a second. */
static int probe_read(const char *dir, const char *path, const char *token)
{
    for (int attempt = 0; attempt < 10; attempt++) {
        char got[128] = "";
        int fd = open(path, O_RDONLY);
        if (fd >= 0) {
            ssize_t n = read(fd, got, sizeof(got) - 1);
            close(fd);
            got[n > 0 ? n : 0] = '\0';
            return strcmp(got, token) == 0 ? FS_DIR_SHARED : FS_DIR_LOCAL;
        }
        struct stat sb;
        if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
            return FS_DIR_MISSING;
        DIR *d = opendir(dir); /* makes NFS revalidate its cached listing */
        if (d) {
            while (readdir(d))
                ;
            closedir(d);
        }
        struct timespec pause = {0, 100000000};
        nanosleep(&pause, NULL);
    }
    return FS_DIR_LOCAL;
}

/* Rank 0 gets every rank's probe outcome and host, and lists the hosts
 * whose outcome is not FS_DIR_SHARED (each once, with the reason) into
 * hosts; broadcast to every rank. */
static void probe_hosts(int seen, char *hosts, size_t hostslen)
{
    int rank, nranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    char me[MPI_MAX_PROCESSOR_NAME + 1] = "";
    int len = 0;
    MPI_Get_processor_name(me + 1, &len);
    me[0] = (char)seen;
    char *all = rank == 0 ? xmalloc((size_t)nranks * sizeof(me)) : NULL;
    MPI_Gather(me, (int)sizeof(me), MPI_CHAR, all, (int)sizeof(me), MPI_CHAR, 0, MPI_COMM_WORLD);
    char list[4096] = "";
    for (int r = 0; rank == 0 && r < nranks; r++) {
        const char *rec = all + (size_t)r * sizeof(me), *dup = NULL;
        for (int q = 0; q < r && !dup; q++)
            if (!strcmp(all + (size_t)q * sizeof(me) + 1, rec + 1))
                dup = rec;
        if (rec[0] == FS_DIR_SHARED || dup || strlen(list) + strlen(rec + 1) + 40 > sizeof(list))
            continue;
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s%s", list[0] ? ", " : "", rec + 1,
                 rec[0] == FS_DIR_MISSING ? " (no such directory)" : "");
    }
    free(all);
    MPI_Bcast(list, (int)sizeof(list), MPI_CHAR, 0, MPI_COMM_WORLD);
    snprintf(hosts, hostslen, "%s", list);
}

/* Collective: is dir the same directory on every rank's host? See mpi.h. */
int fs_mpi_dir_probe(const char *dir, char *hosts, size_t hostslen, char *err, size_t errlen)
{
    int rank = 0, nranks = 1, up = 0;
    MPI_Initialized(&up);
    if (up) {
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    }
    if (hostslen)
        hosts[0] = '\0';
    char path[4096 + 64] = "", token[64] = "", host[MPI_MAX_PROCESSOR_NAME] = "";
    int e = 0, len = 0;
    if (rank == 0)
        e = probe_create(dir, path, sizeof(path), token, sizeof(token));
    if (up)
        MPI_Bcast(&e, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (e) {
        if (up)
            MPI_Get_processor_name(host, &len);
        if (up && nranks > 1)
            MPI_Bcast(host, (int)sizeof(host), MPI_CHAR, 0, MPI_COMM_WORLD);
        return fs_seterr(err, errlen, "cannot create output files in %s on host %s (rank 0): %s", dir,
                         host[0] ? host : "?", strerror(e));
    }
    if (nranks == 1) {
        unlink(path);
        return FS_DIR_SHARED;
    }
    MPI_Bcast(path, (int)sizeof(path), MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Bcast(token, (int)sizeof(token), MPI_CHAR, 0, MPI_COMM_WORLD);
    int seen = rank == 0 ? FS_DIR_SHARED : probe_read(dir, path, token), worst = seen;
    MPI_Allreduce(&seen, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0) /* every rank has looked: the reduction is over */
        unlink(path);
    if (worst != FS_DIR_SHARED)
        probe_hosts(seen, hosts, hostslen);
    return worst;
}
