/* result_h5.c - the HDF5 compound type of result_t and scalar attributes. */
#include "finsim/trade/result_h5.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "finsim/base/util.h"

/* Kinds of the result record's fields, with their two HDF5 types. */
enum rh_kind { RH_I64, RH_U64, RH_I32, RH_F64 };

/* The fields of result_t in file order; the names are those of /results. */
static const struct {
    const char *name;
    size_t off;
    int kind;
} rh_fields[] = {
    {"trade_id", offsetof(result_t, trade_id), RH_I64},
    {"status", offsetof(result_t, status), RH_I32},
    {"rank", offsetof(result_t, rank), RH_I32},
    {"pv", offsetof(result_t, pv), RH_F64},
    {"pv_stderr", offsetof(result_t, pv_stderr), RH_F64},
    {"delta", offsetof(result_t, delta), RH_F64},
    {"delta_stderr", offsetof(result_t, delta_stderr), RH_F64},
    {"vega", offsetof(result_t, vega), RH_F64},
    {"vega_stderr", offsetof(result_t, vega_stderr), RH_F64},
    {"paths", offsetof(result_t, paths), RH_I64},
    {"compute_seconds", offsetof(result_t, compute_s), RH_F64},
    {"inputs", offsetof(result_t, inputs), RH_U64},
    {"digest", offsetof(result_t, digest), RH_U64},
};
#define RH_NFIELDS (sizeof(rh_fields) / sizeof(rh_fields[0]))

/* Bytes of a field of the given kind. */
static size_t rh_size(int kind)
{
    return kind == RH_I32 ? 4 : 8;
}

hid_t result_h5_status_type(void)
{
    hid_t t = H5Tenum_create(H5T_NATIVE_INT32);
    if (t < 0)
        return t;
    int32_t v = -1;
    int ok = H5Tenum_insert(t, "unwritten", &v) >= 0;
    for (v = 0; v < FS_STATUS_COUNT; v++)
        ok &= H5Tenum_insert(t, fs_status_name(v), &v) >= 0;
    if (!ok) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

/* Units of the columns of /results (docs/OUTPUT-FORMAT.md). */
static const struct {
    const char *column, *units;
} rh_units[] = {
    {"pv", "currency of the notional"},
    {"pv_stderr", "currency of the notional"},
    {"delta", "currency of the notional per 1e-4 of fx1"},
    {"delta_stderr", "currency of the notional per 1e-4 of fx1"},
    {"vega", "currency of the notional per 1e-4 of sigma1"},
    {"vega_stderr", "currency of the notional per 1e-4 of sigma1"},
    {"paths", "Monte Carlo paths"},
    {"compute_seconds", "seconds"},
};

int result_h5_write_units(hid_t dset)
{
    for (size_t i = 0; i < sizeof(rh_units) / sizeof(rh_units[0]); i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s_units", rh_units[i].column);
        if (h5_attr_str(dset, name, rh_units[i].units) != 0)
            return -1;
    }
    return 0;
}

hid_t result_h5_read_type(hid_t dset)
{
    hid_t ft = H5Dget_type(dset);
    if (ft < 0)
        return ft;
    int idx = H5Tget_member_index(ft, "status");
    int typed = idx >= 0 && H5Tget_member_class(ft, (unsigned)idx) == H5T_ENUM;
    H5Tclose(ft);
    return result_h5_type(typed ? RESULT_H5_TYPED : RESULT_H5_NATIVE);
}

/* The HDF5 type of a field of the given kind in the given layout. */
static hid_t rh_type(int kind, int layout)
{
    int packed = layout == RESULT_H5_PACKED;
    switch (kind) {
    case RH_I64: return packed ? H5T_STD_I64LE : H5T_NATIVE_INT64;
    case RH_U64: return packed ? H5T_STD_U64LE : H5T_NATIVE_UINT64;
    case RH_I32: return packed ? H5T_STD_I32LE : H5T_NATIVE_INT32;
    default: return packed ? H5T_IEEE_F64LE : H5T_NATIVE_DOUBLE;
    }
}

/* Build the compound type field by field; see result_h5.h. */
hid_t result_h5_type(int layout)
{
    int packed = layout == RESULT_H5_PACKED;
    size_t size = 0;
    for (size_t i = 0; i < RH_NFIELDS; i++)
        size += rh_size(rh_fields[i].kind);
    hid_t t = H5Tcreate(H5T_COMPOUND, packed ? size : sizeof(result_t));
    if (t < 0)
        return t;
    size_t off = 0;
    hid_t st = layout == RESULT_H5_TYPED ? result_h5_status_type() : H5I_INVALID_HID;
    int ok = layout != RESULT_H5_TYPED || st >= 0;
    for (size_t i = 0; ok && i < RH_NFIELDS; i++) {
        hid_t ft = st >= 0 && rh_fields[i].off == offsetof(result_t, status) ? st : rh_type(rh_fields[i].kind, layout);
        ok = H5Tinsert(t, rh_fields[i].name, packed ? off : rh_fields[i].off, ft) >= 0;
        off += rh_size(rh_fields[i].kind);
    }
    if (st >= 0)
        H5Tclose(st);
    if (!ok) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

/* Create, write and close one scalar attribute; see result_h5.h. */
int h5_attr_scalar(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *value)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = sp >= 0 ? H5Acreate2(obj, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int ok = a >= 0 && H5Awrite(a, mtype, value) >= 0;
    if (a >= 0)
        H5Aclose(a);
    if (sp >= 0)
        H5Sclose(sp);
    return ok ? 0 : -1;
}

/* A string type that fits value exactly, then h5_attr_scalar; see
 * result_h5.h. */
int h5_attr_str(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    int ok = t >= 0 && H5Tset_size(t, strlen(value) + 1) >= 0 && H5Tset_strpad(t, H5T_STR_NULLTERM) >= 0 &&
             h5_attr_scalar(obj, name, t, t, value) == 0;
    if (t >= 0)
        H5Tclose(t);
    return ok ? 0 : -1;
}
