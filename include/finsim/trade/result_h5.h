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
    RESULT_H5_PACKED = 1  /* on disk, machine-independent: little-endian, no padding */
};

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
