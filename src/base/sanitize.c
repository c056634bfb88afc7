/* sanitize.c - defaults for sanitizer builds (-DFINSIM_SANITIZE=ON), built
 * into finsim and the test programs so that every process gets them, however
 * it was launched (mpirun, srun under Slurm, a batch task's clean
 * environment). ASAN_OPTIONS, LSAN_OPTIONS and UBSAN_OPTIONS still override.
 * Compiles to nothing in other builds. */
#if defined(__SANITIZE_ADDRESS__)

/* Allocation stacks must reach through Open MPI's libraries (built without
 * frame pointers) for the suppressions below to match them. Weak: a test
 * program may define its own (tests/test_mc.c). */
const char *__asan_default_options(void);
__attribute__((weak)) const char *__asan_default_options(void)
{
    return "detect_leaks=1:fast_unwind_on_malloc=0";
}

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "print_stacktrace=1:halt_on_error=1";
}

const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
    return "print_suppressions=0";
}

/* LeakSanitizer: only what libraries allocate for themselves and keep until
 * exit. Open MPI (MPI_Init/MPI_Finalize, its runtime, the components it
 * loads and unloads, PMIx, hwloc, libevent, UCX) and HDF5's one-time
 * initialisation. A leak whose stack passes through finsim's code only, or
 * through expat, GSL, hiredis, OpenSSL or inih, is reported. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libmpi.so\n"
           "leak:libopen-pal.so\n"
           "leak:libopen-rte.so\n"
           "leak:libpmix.so\n"
           "leak:libhwloc.so\n"
           "leak:libevent\n"
           "leak:libucp.so\n"
           "leak:libucs.so\n"
           "leak:libuct.so\n"
           "leak:libucm.so\n"
           "leak:H5_init_library\n"
           "leak:H5open\n";
}

/* Libraries stay loaded until exit. LeakSanitizer matches the suppressions
 * above by the module of each frame of a leak's allocation stack, and Open
 * MPI unloads its components (dlclose) in MPI_Finalize: a frame in an
 * unloaded component belongs to no module, and for each such frame LSan
 * reads the process's memory map again. That took seconds per process at
 * exit (4.2 s against 1.4 s for a 2-rank run of 20 trades), most of the
 * sanitizer pass's time. This definition in the executable (exported by
 * the link, CMakeLists.txt) takes the place of the C library's for every
 * library the process loads; unloading is only a saving of address space,
 * which a sanitizer run does not need. */
int dlclose(void *handle);
int dlclose(void *handle)
{
    (void)handle;
    return 0;
}

#else
typedef int finsim_sanitize_unused; /* ISO C: a translation unit declares something */
#endif
