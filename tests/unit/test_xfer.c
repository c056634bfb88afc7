/* test_xfer.c - finsim export / import, called in-process (cmd_export,
 * cmd_import): generate -> trade file -> eyxml -> another store gives the
 * same trades bit for bit, and eyxml output is byte-identical to
 * trade_format / generate --eyxml. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "fixture.h"

#include <fcntl.h>
#include <stdarg.h>
#include <ftw.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "finsim/cmd/cli.h"
#include "finsim/trade/gen.h"
#include "finsim/store/store.h"
#include "finsim/trade/trade.h"
#include "finsim/base/util.h"

#define SEED 11
#define FIRST 40
#define COUNT 150

static char tmp[256];  /* temp dir of this run */
static char src[512];  /* trade file made by generate */

/* Run a command function with a NULL-terminated argument list. */
static int run_cmd(int (*fn)(int, char **), ...)
{
    char *argv[64];
    int argc = 0;
    va_list ap;
    va_start(ap, fn);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < 63)
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    return fn(argc, argv);
}

/* Redirect fd (1 or 2) into file path until capture_end. */
static int capture_begin(int fd, const char *path)
{
    fflush(fd == 1 ? stdout : stderr);
    int saved = dup(fd);
    int f = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && f >= 0);
    dup2(f, fd);
    close(f);
    return saved;
}

static void capture_end(int fd, int saved)
{
    fflush(fd == 1 ? stdout : stderr);
    dup2(saved, fd);
    close(saved);
}

/* Whole file into a malloc'ed NUL-terminated buffer; *len its size. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* Make the temp dir and the source trade file (generate --store). */
static int setup(void **state)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmp, sizeof(tmp), "%s/finsim-xfer-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(tmp));
    snprintf(src, sizeof(src), "%s/src.h5", tmp);
    char n[16], k[16];
    snprintf(n, sizeof(n), "%d", COUNT);
    snprintf(k, sizeof(k), "%d", FIRST);
    assert_int_equal(run_cmd(cmd_generate, "generate", "--trades", n, "--start-trade", k, "--seed", "11",
                             "--store", src, NULL),
                     FS_EXIT_OK);
    return 0;
}

static int teardown(void **state)
{
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* Every trade of url equals gen_trade(SEED, id) field by field for ids
 * first..first+n-1, and the store holds exactly those. */
static void assert_store_holds(const char *url, int64_t first, size_t n)
{
    store_opts_t so;
    memset(&so, 0, sizeof(so));
    so.readonly = 1;
    char err[256];
    int code;
    store_t *st = store_open(url, &so, NULL, err, sizeof(err), &code);
    if (!st)
        fail_msg("open %s: %s", url, err);
    int64_t *ids = NULL;
    size_t m = 0;
    assert_int_equal(store_list_trades(st, &ids, &m), STORE_OK);
    assert_int_equal(m, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ids[i], first + (int64_t)i);
    trade_slot_t *s = calloc(n ? n : 1, sizeof(*s));
    assert_int_equal(store_get_trades(st, ids, n, s), STORE_OK);
    for (size_t i = 0; i < n; i++) {
        trade_t w;
        gen_trade(SEED, ids[i], &w);
        assert_int_equal(s[i].status, FS_OK);
        const trade_t *g = &s[i].trade;
        assert_memory_equal(&g->id, &w.id, sizeof(w.id));
        assert_memory_equal(&g->fx1, &w.fx1, sizeof(w.fx1));
        assert_memory_equal(&g->drift, &w.drift, sizeof(w.drift));
        assert_memory_equal(&g->maturity, &w.maturity, sizeof(w.maturity));
        assert_memory_equal(&g->t_steps, &w.t_steps, sizeof(w.t_steps));
        assert_memory_equal(&g->trials, &w.trials, sizeof(w.trials));
        assert_memory_equal(&g->ro, &w.ro, sizeof(w.ro));
        assert_memory_equal(&g->v, &w.v, sizeof(w.v));
        assert_memory_equal(&g->sigma1, &w.sigma1, sizeof(w.sigma1));
        assert_memory_equal(&g->warrants_no, &w.warrants_no, sizeof(w.warrants_no));
        assert_memory_equal(&g->notional_per_warr, &w.notional_per_warr, sizeof(w.notional_per_warr));
        assert_memory_equal(&g->strike, &w.strike, sizeof(w.strike));
        assert_memory_equal(g->start_date, w.start_date, sizeof(w.start_date));
        assert_memory_equal(g->end_date, w.end_date, sizeof(w.end_date));
    }
    free(s);
    free(ids);
    store_close(st);
}

/* export --eyxml-dir writes one file per trade with trade_format's exact
 * bytes; import --eyxml-dir into a new trade file gives identical trades. */
static void t_dir_roundtrip(void **state)
{
    char dir[512], dst[512];
    snprintf(dir, sizeof(dir), "%s/docs", tmp);
    snprintf(dst, sizeof(dst), "%s/from_dir.h5", tmp);
    assert_int_equal(run_cmd(cmd_export, "export", "--store", src, "--eyxml-dir", dir, NULL), FS_EXIT_OK);
    for (int64_t id = FIRST; id < FIRST + COUNT; id++) {
        char key[64], path[700], want[1024];
        trade_key(key, sizeof(key), NULL, id);
        snprintf(path, sizeof(path), "%s/%s", dir, key);
        trade_t t;
        gen_trade(SEED, id, &t);
        int len = trade_format(&t, want, sizeof(want));
        size_t got_len;
        char *got = slurp(path, &got_len);
        assert_int_equal(got_len, (size_t)len);
        assert_memory_equal(got, want, (size_t)len);
        free(got);
    }
    char extra[700];
    snprintf(extra, sizeof(extra), "%s/ey%07d.xml", dir, FIRST + COUNT);
    assert_int_equal(access(extra, F_OK), -1);
    assert_int_equal(run_cmd(cmd_import, "import", "--eyxml-dir", dir, "--store", dst, NULL), FS_EXIT_OK);
    assert_store_holds(dst, FIRST, COUNT);
}

/* export --eyxml FILE and to stdout equal generate --eyxml byte for byte;
 * importing that document into mem:// gives identical trades. */
static void t_doc_bytes(void **state)
{
    char doc[512], gen[512], out[512];
    snprintf(doc, sizeof(doc), "%s/all.xml", tmp);
    snprintf(gen, sizeof(gen), "%s/gen.xml", tmp);
    snprintf(out, sizeof(out), "%s/stdout.xml", tmp);
    assert_int_equal(run_cmd(cmd_export, "export", "--store", src, "--all", "--eyxml", doc, NULL), FS_EXIT_OK);
    assert_int_equal(run_cmd(cmd_generate, "generate", "--trades", "150", "--start-trade", "40", "--seed", "11",
                             "--eyxml", gen, NULL),
                     FS_EXIT_OK);
    size_t a_len, b_len, c_len;
    char *a = slurp(doc, &a_len), *b = slurp(gen, &b_len);
    assert_int_equal(a_len, b_len);
    assert_memory_equal(a, b, a_len);
    int saved = capture_begin(1, out);
    int rc = run_cmd(cmd_export, "export", "--store", src, "--eyxml", "-", NULL);
    capture_end(1, saved);
    assert_int_equal(rc, FS_EXIT_OK);
    char *c = slurp(out, &c_len);
    assert_int_equal(c_len, a_len);
    assert_memory_equal(c, a, a_len);
    /* the first <trade> line is trade_format's, between its head and tail */
    trade_t t;
    char one[1024];
    gen_trade(SEED, FIRST, &t);
    int len = trade_format(&t, one, sizeof(one));
    assert_memory_equal(a, one, (size_t)len - strlen("\n</AZFINSIM>"));
    free(a);
    free(b);
    free(c);
    assert_int_equal(run_cmd(cmd_import, "import", "--eyxml", doc, "--store", "mem://imported", NULL), FS_EXIT_OK);
    assert_store_holds("mem://imported", FIRST, COUNT);
    store_memory_drop("imported");
}

/* export --to copies a window, or everything, into another store. */
static void t_to_store(void **state)
{
    char dst[512];
    snprintf(dst, sizeof(dst), "%s/copy.h5", tmp);
    assert_int_equal(run_cmd(cmd_export, "export", "--store", src, "--start-trade", "50", "--trade-window", "20",
                             "--to", dst, "--batch", "7", NULL),
                     FS_EXIT_OK);
    assert_store_holds(dst, 50, 20);
    assert_int_equal(run_cmd(cmd_export, "export", "--store", src, "--to", "mem://copy", NULL), FS_EXIT_OK);
    assert_store_holds("mem://copy", FIRST, COUNT);
    /* a second export into the existing file adds, it does not truncate */
    assert_int_equal(run_cmd(cmd_export, "export", "--store", "mem://copy", "--start-trade", "70", "--to", dst, NULL),
                     FS_EXIT_OK);
    assert_store_holds(dst, 50, COUNT - 10);
    store_memory_drop("copy");
}

/* Ids the store lacks are reported with their id, skipped, and make the
 * exit status 1; the others are still exported. */
static void t_window_missing(void **state)
{
    char dir[512], errf[512];
    snprintf(dir, sizeof(dir), "%s/partial", tmp);
    snprintf(errf, sizeof(errf), "%s/stderr.txt", tmp);
    int saved = capture_begin(2, errf);
    int rc = run_cmd(cmd_export, "export", "--store", src, "--start-trade", "180", "--trade-window", "20",
                     "--eyxml-dir", dir, NULL);
    capture_end(2, saved);
    assert_int_equal(rc, FS_EXIT_TRADES_FAILED);
    char *log = slurp(errf, NULL);
    assert_non_null(strstr(log, "trade 0000000190"));
    assert_non_null(strstr(log, "trade 0000000199"));
    assert_null(strstr(log, "trade 0000000189"));
    assert_non_null(strstr(log, "10 skipped"));
    free(log);
    char f189[700], f190[700];
    snprintf(f189, sizeof(f189), "%s/ey0000189.xml", dir);
    snprintf(f190, sizeof(f190), "%s/ey0000190.xml", dir);
    assert_int_equal(access(f189, F_OK), 0);
    assert_int_equal(access(f190, F_OK), -1);
}

/* import skips (and reports by id) trades that fail validation and repeats,
 * imports the rest, exits 1. */
static void t_import_bad(void **state)
{
    char doc[512], errf[512], good[1024];
    snprintf(doc, sizeof(doc), "%s/bad.xml", tmp);
    snprintf(errf, sizeof(errf), "%s/stderr2.txt", tmp);
    trade_t t;
    gen_trade(SEED, 5, &t);
    trade_format(&t, good, sizeof(good));
    /* the document: trade 5, a bad trade 6 (fx1 < 0), trade 5 again */
    char *line = strstr(good, "  <trade");
    char *end = strstr(good, "</trade>") + strlen("</trade>");
    *end = '\0';
    FILE *f = fopen(doc, "w");
    fprintf(f, "<AZFINSIM>\n%s\n", line);
    fprintf(f, "  <trade fx1=\"-0.5\" drift=\"0.01\" maturity=\"0.20\" t_steps=\"172\" trials=\"10000\" "
               "ro=\"0.0\" v=\"0.001\" sigma1=\"0.08\" warrantsNo=\"40000\" notionalPerWarr=\"1000\" "
               "strike=\"0.75\">0000000006</trade>\n");
    fprintf(f, "%s\n</AZFINSIM>\n", line);
    fclose(f);
    int saved = capture_begin(2, errf);
    int rc = run_cmd(cmd_import, "import", "--eyxml", doc, "--store", "mem://bad", NULL);
    capture_end(2, saved);
    assert_int_equal(rc, FS_EXIT_TRADES_FAILED);
    char *log = slurp(errf, NULL);
    assert_non_null(strstr(log, "trade 0000000006"));
    assert_non_null(strstr(log, "fx1"));
    assert_non_null(strstr(log, "duplicate"));
    assert_non_null(strstr(log, "2 skipped"));
    free(log);
    assert_store_holds("mem://bad", 5, 1);
    store_memory_drop("bad");
}

/* A document over the parser's 1 MiB limit (what export --eyxml makes of a
 * big portfolio) is imported whole. */
static void t_import_large(void **state)
{
    char doc[512], dst[512];
    snprintf(doc, sizeof(doc), "%s/large.xml", tmp);
    snprintf(dst, sizeof(dst), "%s/large.h5", tmp);
    assert_int_equal(run_cmd(cmd_generate, "generate", "--trades", "4000", "--start-trade", "0", "--seed", "11",
                             "--eyxml", doc, NULL),
                     FS_EXIT_OK);
    struct stat sb;
    assert_int_equal(stat(doc, &sb), 0);
    assert_true(sb.st_size > TRADE_DOC_MAX);
    assert_int_equal(run_cmd(cmd_import, "import", "--store", dst, "--eyxml", doc, NULL), FS_EXIT_OK);
    assert_store_holds(dst, 0, 4000);
}

/* Usage errors exit 2; --help exits 0; a missing source store 3; an
 * unreadable input document 6. */
static void t_usage(void **state)
{
    char errf[512], missing[512], none[512];
    snprintf(errf, sizeof(errf), "%s/stderr3.txt", tmp);
    snprintf(missing, sizeof(missing), "%s/missing.h5", tmp);
    snprintf(none, sizeof(none), "%s/none.xml", tmp);
    int saved = capture_begin(2, errf);
    int out = capture_begin(1, "/dev/null");
    int r1 = run_cmd(cmd_export, "export", "--eyxml", "-", NULL);
    int r2 = run_cmd(cmd_export, "export", "--store", src, "--eyxml", "-", "--to", "mem://x", NULL);
    int r3 = run_cmd(cmd_export, "export", "--store", src, "--all", "--trade-window", "3", "--eyxml", "-", NULL);
    int r4 = run_cmd(cmd_import, "import", "--eyxml", none, NULL);
    int r5 = run_cmd(cmd_import, "import", "--store", "mem://x", NULL);
    int r6 = run_cmd(cmd_export, "export", "--help", NULL);
    int r7 = run_cmd(cmd_import, "import", "--help", NULL);
    int r8 = run_cmd(cmd_export, "export", "--store", missing, "--eyxml", "-", NULL);
    int r9 = run_cmd(cmd_import, "import", "--eyxml", none, "--store", "mem://x", NULL);
    int r10 = run_cmd(cmd_export, "export", "--store", src, "--to", src, NULL);
    int r11 = run_cmd(cmd_export, "export", "--store", src, "--batch", "0", "--eyxml", "-", NULL);
    capture_end(1, out);
    capture_end(2, saved);
    assert_int_equal(r1, FS_EXIT_USAGE);
    assert_int_equal(r2, FS_EXIT_USAGE);
    assert_int_equal(r3, FS_EXIT_USAGE);
    assert_int_equal(r4, FS_EXIT_USAGE);
    assert_int_equal(r5, FS_EXIT_USAGE);
    assert_int_equal(r6, FS_EXIT_OK);
    assert_int_equal(r7, FS_EXIT_OK);
    assert_int_equal(r8, FS_EXIT_STORE);
    assert_int_equal(r9, FS_EXIT_IO);
    assert_int_equal(r10, FS_EXIT_USAGE);
    assert_int_equal(r11, FS_EXIT_USAGE);
    char *log = slurp(errf, NULL);
    assert_non_null(strstr(log, "--store URL is required"));
    assert_non_null(strstr(log, "does not exist"));
    assert_non_null(strstr(log, "none.xml"));
    free(log);
    store_memory_drop("x");
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_dir_roundtrip),
        cmocka_unit_test(t_doc_bytes),
        cmocka_unit_test(t_to_store),
        cmocka_unit_test(t_window_missing),
        cmocka_unit_test(t_import_bad),
        cmocka_unit_test(t_import_large),
        cmocka_unit_test(t_usage),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    MPI_Finalize();
    return rc;
}
