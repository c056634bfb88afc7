/* bench_h5write.c - how to write /results from several ranks: each rank's
 * batches as independent hyperslab writes (what finsim does), the same
 * batches as collective writes (every rank calls for every batch index,
 * empty selections where a rank has no batch), or gathered to rank 0 which
 * writes alone. Same compound type and dataset settings as h5out.c.
 *
 *   mpirun -np R bench_h5write DIR [ROWS [BATCH [REPEATS]]]
 *
 * Prints, per method, the seconds from the first write to the flushed file
 * (max over ranks; best and median of the repeats). Figures only. */
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finsim/output/h5out.h"
#include "finsim/trade/result.h"
#include "finsim/trade/result_h5.h"

enum { M_INDEPENDENT, M_COLLECTIVE, M_GATHER, M_COUNT };
static const char *const mname[M_COUNT] = {"independent", "collective", "gather to rank 0"};

static void fill_rows(result_t *r, int64_t row0, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        r[i].trade_id = row0 + (int64_t)i;
        r[i].pv = 1000.0 + (double)(row0 + (int64_t)i) * 1e-3;
        r[i].pv_stderr = 0.5;
        r[i].paths = 10000;
        r[i].inputs = (uint64_t)(row0 + (int64_t)i) * 0x9e3779b97f4a7c15ULL;
    }
}

static hid_t create(const char *path, MPI_Comm comm, int64_t rows, hid_t rtype, hid_t *dset)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (comm != MPI_COMM_NULL)
        H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    hsize_t dims[1] = {(hsize_t)rows};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    result_t fillv;
    result_fail(&fillv, -1, -1, -1);
    H5Pset_fill_value(dcpl, rtype, &fillv);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC);
    *dset = H5Dcreate2(f, "results", rtype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(space);
    return f;
}

static int write_rows(hid_t dset, hid_t rtype, hid_t dxpl, int64_t row0, size_t n, const result_t *buf)
{
    hid_t fs = H5Dget_space(dset);
    hsize_t m[1] = {n ? n : 1};
    hid_t ms = H5Screate_simple(1, m, NULL);
    if (n) {
        hsize_t start[1] = {(hsize_t)row0}, count[1] = {n};
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    } else {
        H5Sselect_none(fs);
        H5Sselect_none(ms);
    }
    herr_t rc = H5Dwrite(dset, rtype, ms, fs, dxpl, buf);
    H5Sclose(ms);
    H5Sclose(fs);
    return rc < 0 ? -1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, nranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    if (argc < 2) {
        if (rank == 0)
            fprintf(stderr, "usage: mpirun -np R %s DIR [ROWS [BATCH [REPEATS]]]\n", argv[0]);
        MPI_Finalize();
        return 2;
    }
    const char *dir = argv[1];
    const int64_t rows = argc > 2 ? atoll(argv[2]) : 1000000;
    const int64_t batch = argc > 3 ? atoll(argv[3]) : 2000;
    const int reps = argc > 4 ? atoi(argv[4]) : 3;
    if (rows < 1 || batch < 1 || reps < 1) {
        if (rank == 0)
            fprintf(stderr, "bench_h5write: ROWS, BATCH and REPEATS must be positive\n");
        MPI_Finalize();
        return 2;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t rtype = result_h5_type(RESULT_H5_NATIVE);
    /* contiguous windows by count, as the static schedule makes them */
    const int64_t lo = rows * rank / nranks, hi = rows * (rank + 1) / nranks;
    const int64_t mybatches = (hi - lo + batch - 1) / batch;
    int64_t maxbatches = 0;
    MPI_Allreduce(&mybatches, &maxbatches, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
    result_t *buf = malloc(sizeof(result_t) * (size_t)batch);
    result_t *all = rank == 0 ? malloc(sizeof(result_t) * (size_t)batch * (size_t)nranks) : NULL;
    int *counts = malloc(sizeof(int) * (size_t)nranks), *displs = malloc(sizeof(int) * (size_t)nranks);
    double *t = malloc(sizeof(double) * (size_t)reps);
    char path[4096];
    if (rank == 0)
        printf("# bench_h5write: %lld rows of %zu bytes, batch %lld, %d ranks, %d repeats, dir %s\n",
               (long long)rows, sizeof(result_t), (long long)batch, nranks, reps, dir);
    for (int m = 0; m < M_COUNT; m++) {
        int bad = 0;
        for (int r = 0; r < reps; r++) {
            snprintf(path, sizeof(path), "%s/bench_h5write.%d.h5", dir, m);
            hid_t dset = H5I_INVALID_HID, f = H5I_INVALID_HID;
            if (m != M_GATHER)
                f = create(path, MPI_COMM_WORLD, rows, rtype, &dset);
            else if (rank == 0)
                f = create(path, MPI_COMM_NULL, rows, rtype, &dset);
            hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
            if (m == M_COLLECTIVE)
                H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            const int64_t nb = m == M_INDEPENDENT ? mybatches : maxbatches;
            for (int64_t b = 0; b < nb; b++) {
                int64_t row0 = lo + b * batch;
                size_t n = row0 < hi ? (size_t)(hi - row0 < batch ? hi - row0 : batch) : 0;
                fill_rows(buf, row0, n);
                if (m != M_GATHER) {
                    bad |= write_rows(dset, rtype, dxpl, row0, n, buf);
                    continue;
                }
                /* rank 0 receives batch b of every rank; the rows of one
                 * batch index are not contiguous across ranks: write each */
                int cnt = (int)(n * sizeof(result_t));
                MPI_Gather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD);
                if (rank == 0)
                    for (int q = 0, off = 0; q < nranks; q++) {
                        displs[q] = off;
                        off += counts[q];
                    }
                MPI_Gatherv(buf, cnt, MPI_BYTE, all, counts, displs, MPI_BYTE, 0, MPI_COMM_WORLD);
                if (rank == 0)
                    for (int q = 0; q < nranks; q++) {
                        int64_t qlo = rows * q / nranks + b * batch;
                        size_t qn = (size_t)counts[q] / sizeof(result_t);
                        bad |= write_rows(dset, rtype, H5P_DEFAULT, qlo, qn, (const result_t *)((char *)all + displs[q]));
                    }
            }
            if (f >= 0 && H5Fflush(f, H5F_SCOPE_GLOBAL) < 0)
                bad = 1;
            double dt = MPI_Wtime() - t0, worst = 0;
            MPI_Allreduce(&dt, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            t[r] = worst;
            H5Pclose(dxpl);
            if (dset >= 0)
                H5Dclose(dset);
            if (f >= 0)
                H5Fclose(f);
            MPI_Barrier(MPI_COMM_WORLD);
            if (rank == 0)
                remove(path);
        }
        int anybad = 0;
        MPI_Allreduce(&bad, &anybad, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
        qsort(t, (size_t)reps, sizeof(double), cmp_double);
        if (rank == 0)
            printf("%-18s best %8.4f s   median %8.4f s%s\n", mname[m], t[0], t[reps / 2],
                   anybad ? "   (HDF5 reported an error)" : "");
    }
    free(buf);
    free(all);
    free(counts);
    free(displs);
    free(t);
    H5Tclose(rtype);
    MPI_Finalize();
    return 0;
}
