/* test_h5out.c - the HDF5 results file (output/h5out.c), read back with
 * the plain HDF5 API: rows land at their offsets whatever the write order,
 * unwritten rows keep status -1, the telemetry and root attributes are
 * there, the file appears under its name only when finished, and an
 * aborted file stays as FILE.partial. One MPI process. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "fixture.h"
#include "finsim/base/util.h"
#include "finsim/output/h5out.h"
#include "finsim/trade/result_h5.h"

static char dir[256];

static int setup(void **state)
{
    (void)state;
    fx_tmpdir(dir, sizeof(dir), "h5out");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_rmdir(dir);
    return 0;
}

/* A priced result for trade id with figures derived from it. */
static result_t make_result(int64_t id)
{
    result_t r;
    memset(&r, 0, sizeof(r));
    r.trade_id = id;
    r.rank = 0;
    r.pv = 1000.0 + (double)id / 3.0;
    r.pv_stderr = 0.5 + (double)id;
    r.delta = -(double)id * 1e-3;
    r.delta_stderr = 1e-5;
    r.vega = NAN; /* pvonly: no Greeks */
    r.vega_stderr = NAN;
    r.paths = 10000 + id;
    r.compute_s = 0.25;
    r.inputs = 0x0123456789abcdefULL ^ (uint64_t)id;
    return r;
}

/* Read the string attribute name of the root of file f into buf. */
static void read_str_attr(hid_t f, const char *name, char *buf, size_t n)
{
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    assert_true(a >= 0);
    hid_t t = H5Aget_type(a);
    size_t sz = H5Tget_size(t);
    assert_true(sz <= n);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, sz);
    assert_true(H5Aread(a, mt, buf) >= 0);
    buf[n - 1] = '\0';
    H5Tclose(mt);
    H5Tclose(t);
    H5Aclose(a);
}

/* Rows written out of order, in pieces, read back at their offsets; a row
 * never written has status -1; attributes and telemetry are complete. */
static void write_and_read_back(h5_write_mode_t mode)
{
    char path[320], partial[340], err[512];
    snprintf(path, sizeof(path), "%s/out.h5", dir);
    snprintf(partial, sizeof(partial), "%s.partial", path);
    const int64_t nrows = 10;
    h5out_t *h = h5out_create(path, MPI_COMM_WORLD, nrows, mode, err, sizeof(err));
    if (!h)
        fail_msg("h5out_create: %s", err);
    assert_int_equal(access(partial, F_OK), 0);
    assert_int_not_equal(access(path, F_OK), 0); /* not under its name until finished */
    result_t rows[10];
    for (int64_t i = 0; i < nrows; i++)
        rows[i] = make_result(100 + i);
    /* rows 6..8, then 0..2, then 4; rows 3, 5 and 9 never written */
    assert_int_equal(h5out_write_rows(h, 6, rows + 6, 3, err, sizeof(err)), 0);
    assert_int_equal(h5out_write_rows(h, 0, rows, 3, err, sizeof(err)), 0);
    assert_int_equal(h5out_write_rows(h, 4, rows + 4, 1, err, sizeof(err)), 0);
    h5out_telemetry_t tel;
    memset(&tel, 0, sizeof(tel));
    snprintf(tel.host, sizeof(tel.host), "node-a");
    tel.trades = 7;
    tel.priced = 7;
    tel.compute_s = 1.5;
    h5out_attr_t attrs[] = {{"algorithm", "pvonly", 0, 0}, {"command_line", "finsim run --test", 0, 0},
                            {"trades", NULL, 42, 0}, {"seed", NULL, UINT64_MAX, 1}};
    uint64_t checksum = 0xfeedfacecafebeefULL;
    if (h5out_finish(h, &tel, 1, attrs, 4, checksum, err, sizeof(err)) != 0)
        fail_msg("h5out_finish: %s", err);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_not_equal(access(partial, F_OK), 0);

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t ds = H5Dopen2(f, "results", H5P_DEFAULT);
    assert_true(ds >= 0);
    hid_t sp = H5Dget_space(ds);
    hsize_t dims[1];
    assert_int_equal(H5Sget_simple_extent_ndims(sp), 1);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    assert_int_equal(dims[0], (hsize_t)nrows);
    result_t back[10];
    hid_t mt = result_h5_read_type(ds);
    assert_true(H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) >= 0);
    for (int64_t i = 0; i < nrows; i++) {
        int written = (i >= 6 && i <= 8) || i <= 2 || i == 4;
        if (written) {
            assert_int_equal(back[i].trade_id, rows[i].trade_id);
            assert_int_equal(back[i].status, 0);
            assert_memory_equal(&back[i].pv, &rows[i].pv, 6 * sizeof(double)); /* bits, NaNs included */
            assert_int_equal(back[i].paths, rows[i].paths);
            assert_true(back[i].inputs == rows[i].inputs);
        } else {
            assert_int_equal(back[i].status, -1);
        }
    }
    H5Tclose(mt);
    H5Sclose(sp);
    H5Dclose(ds);

    char buf[256];
    read_str_attr(f, "algorithm", buf, sizeof(buf));
    assert_string_equal(buf, "pvonly");
    read_str_attr(f, "command_line", buf, sizeof(buf));
    assert_string_equal(buf, "finsim run --test");
    uint64_t ck = 0;
    hid_t a = H5Aopen(f, "checksum_u64", H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Aread(a, H5T_NATIVE_UINT64, &ck) >= 0);
    H5Aclose(a);
    assert_true(ck == checksum);
    /* numbers are numbers: int64 and uint64 attributes */
    int64_t ntr = 0;
    uint64_t seed = 0;
    a = H5Aopen(f, "trades", H5P_DEFAULT);
    hid_t at = H5Aget_type(a);
    assert_int_equal(H5Tget_class(at), H5T_INTEGER);
    assert_int_equal(H5Tget_sign(at), H5T_SGN_2);
    H5Tclose(at);
    assert_true(H5Aread(a, H5T_NATIVE_INT64, &ntr) >= 0);
    H5Aclose(a);
    assert_int_equal(ntr, 42);
    a = H5Aopen(f, "seed", H5P_DEFAULT);
    assert_true(H5Aread(a, H5T_NATIVE_UINT64, &seed) >= 0);
    H5Aclose(a);
    assert_true(seed == UINT64_MAX);

    hid_t td = H5Dopen2(f, "telemetry", H5P_DEFAULT);
    assert_true(td >= 0);
    h5out_telemetry_t tb;
    hid_t tt = h5out_telemetry_type();
    assert_true(H5Dread(td, tt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &tb) >= 0);
    assert_string_equal(tb.host, "node-a");
    assert_int_equal(tb.trades, 7);
    assert_true(tb.compute_s == 1.5);
    H5Tclose(tt);
    H5Dclose(td);
    H5Fclose(f);
}

/* Independent MPI-IO writes, and rank 0 alone with the serial driver
 * (gather): the same file. */
static void t_write_and_read_back(void **state)
{
    (void)state;
    write_and_read_back(H5W_INDEPENDENT);
}

static void t_write_and_read_back_gather(void **state)
{
    (void)state;
    write_and_read_back(H5W_GATHER);
}

/* The on-disk layout of /results is the packed little-endian one of
 * result_h5.h, whatever the machine, but for status: an enum named by
 * fs_status_name, with "unwritten" = -1. */
static void t_disk_type_is_packed(void **state)
{
    (void)state;
    char path[320], err[512];
    snprintf(path, sizeof(path), "%s/type.h5", dir);
    h5out_t *h = h5out_create(path, MPI_COMM_WORLD, 1, H5W_INDEPENDENT, err, sizeof(err));
    assert_non_null(h);
    result_t r = make_result(1);
    assert_int_equal(h5out_write_rows(h, 0, &r, 1, err, sizeof(err)), 0);
    h5out_telemetry_t tel;
    memset(&tel, 0, sizeof(tel));
    assert_int_equal(h5out_finish(h, &tel, 1, NULL, 0, 0, err, sizeof(err)), 0);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "results", H5P_DEFAULT);
    hid_t ft = H5Dget_type(ds);
    int si = H5Tget_member_index(ft, "status");
    assert_true(si >= 0);
    hid_t st = H5Tget_member_type(ft, (unsigned)si);
    assert_int_equal(H5Tget_class(st), H5T_ENUM);
    assert_int_equal(H5Tget_nmembers(st), FS_STATUS_COUNT + 1);
    char name[64];
    int32_t v = FS_E_INJECTED;
    assert_true(H5Tenum_nameof(st, &v, name, sizeof(name)) >= 0);
    assert_string_equal(name, fs_status_name(FS_E_INJECTED));
    v = -1;
    assert_true(H5Tenum_nameof(st, &v, name, sizeof(name)) >= 0);
    assert_string_equal(name, "unwritten");
    H5Tclose(st);
    /* every other member as in the packed layout */
    hid_t packed = result_h5_type(RESULT_H5_PACKED);
    assert_int_equal(H5Tget_nmembers(ft), H5Tget_nmembers(packed));
    for (int m = 0; m < H5Tget_nmembers(packed); m++) {
        char *pn = H5Tget_member_name(packed, (unsigned)m), *fn = H5Tget_member_name(ft, (unsigned)m);
        assert_string_equal(pn, fn);
        assert_int_equal(H5Tget_member_offset(packed, (unsigned)m), H5Tget_member_offset(ft, (unsigned)m));
        if (m != si) {
            hid_t a = H5Tget_member_type(packed, (unsigned)m), b = H5Tget_member_type(ft, (unsigned)m);
            assert_true(H5Tequal(a, b) > 0);
            H5Tclose(a);
            H5Tclose(b);
        }
        H5free_memory(pn);
        H5free_memory(fn);
    }
    H5Tclose(packed);
    H5Tclose(ft);
    H5Dclose(ds);
    H5Fclose(f);
}

/* An aborted file is left as FILE.partial, never under the final name. */
static void t_abort_keeps_partial(void **state)
{
    (void)state;
    char path[320], partial[340], err[512];
    snprintf(path, sizeof(path), "%s/aborted.h5", dir);
    snprintf(partial, sizeof(partial), "%s.partial", path);
    h5out_t *h = h5out_create(path, MPI_COMM_WORLD, 4, H5W_INDEPENDENT, err, sizeof(err));
    assert_non_null(h);
    result_t r = make_result(0);
    assert_int_equal(h5out_write_rows(h, 0, &r, 1, err, sizeof(err)), 0);
    h5out_abort(h);
    assert_int_equal(access(partial, F_OK), 0);
    assert_int_not_equal(access(path, F_OK), 0);
    h5out_abort(NULL);
}

/* A directory that does not exist: a clear error, no file. */
static void t_missing_directory(void **state)
{
    (void)state;
    char path[320], err[512] = "";
    snprintf(path, sizeof(path), "%s/no/such/dir/out.h5", dir);
    h5out_t *h = h5out_create(path, MPI_COMM_WORLD, 4, H5W_INDEPENDENT, err, sizeof(err));
    assert_null(h);
    assert_true(strlen(err) > 0);
    assert_non_null(strstr(err, "out.h5"));
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* the failure case prints no HDF5 stack */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_write_and_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(t_write_and_read_back_gather, setup, teardown),
        cmocka_unit_test_setup_teardown(t_disk_type_is_packed, setup, teardown),
        cmocka_unit_test_setup_teardown(t_abort_keeps_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(t_missing_directory, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return rc;
}
