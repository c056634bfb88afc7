/* result_h5.h - the HDF5 form of result_t and the scalar attributes finsim writes.
 *
 * One definition of the result record's compound type for every HDF5 file
 * finsim writes: /results of the output file (output/h5out.c) and /mirror
 * of the trade file (store/store_file.c). Field names and order are part of
 * both file formats (docs/DESIGN.md). It sits in the trade layer, beside
 * result_t, because store and output may not include each other. */
#ifndef FINSIM_RESULT_H5_H
#define FINSIM_RESULT_H5_H

#include <stdint.h>
#include <hdf5.h>

#include "finsim/trade/result.h"

/* Layouts of the compound type of result_t. */
enum result_h5_layout {
    RESULT_H5_NATIVE = 0, /* result_t in memory: native types at the struct's offsets */
    RESULT_H5_PACKED = 1, /* on disk, machine-independent: little-endian, no padding */
    RESULT_H5_TYPED = 2   /* RESULT_H5_NATIVE with status as the enum result_h5_status_type
                           * (the /results dataset of output format 2) */
};

/* Format version of the results file (attribute format_version on /).
 * 1 (no attribute): string attributes, status a plain int32. 2: numbers as
 * numbers, status an HDF5 enum, units on /results, /portfolio. */
#define RESULT_H5_FORMAT_VERSION 2

/* The HDF5 enum type (int32 based) of the per-trade status: one member per
 * fs_status code, named as fs_status_name gives it, and "unwritten" = -1
 * (a row no rank wrote). Caller closes with H5Tclose. */
hid_t result_h5_status_type(void);

/* Write the units of the columns of /results as string attributes of the
 * dataset named "<column>_units". Returns 0 or -1. */
int result_h5_write_units(hid_t dset);

/* The memory type (result_t, native) to read an existing /results dataset
 * with: RESULT_H5_TYPED when its status member is an enum, else
 * RESULT_H5_NATIVE (format 1). Returns the type or a negative id. */
hid_t result_h5_read_type(hid_t dset);

/* Create the compound type of result_t in the given layout (enum
 * result_h5_layout). Returns the type, which the caller closes with
 * H5Tclose, or a negative id when HDF5 fails (nothing to close then). */
hid_t result_h5_type(int layout);

/* Write the scalar attribute name on obj: file type ftype, value *value of
 * memory type mtype. Returns 0, or -1 with HDF5's reason on its error
 * stack. Collective under MPI-IO (same value on every rank). */
int h5_attr_scalar(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *value);

/* Write the string attribute name = value on obj: a fixed-length,
 * NUL-terminated string of strlen(value) + 1 bytes. Returns 0 or -1, as
 * h5_attr_scalar. */
int h5_attr_str(hid_t obj, const char *name, const char *value);

#endif
