"""h5_format1.py NEW.h5 OLD.h5: write OLD.h5 in the format 1 layout of a
results file (docs/OUTPUT-FORMAT.md) from the format 2 file NEW.h5, as the
previous finsim wrote it: every root attribute but checksum_u64 a
fixed-length string, status a plain int32, no units, no format_version, no
/portfolio. For the tests that older files still read."""
import sys

import h5py
import numpy as np

with h5py.File(sys.argv[1], "r") as f, h5py.File(sys.argv[2], "w") as g:
    src = f["results"]
    dt = np.dtype([(n, np.int32 if n == "status" else src.dtype[n]) for n in src.dtype.names])
    g.create_dataset("results", data=src[()].astype(dt))
    g.create_dataset("telemetry", data=f["telemetry"][()])
    for k, v in f.attrs.items():
        if k == "format_version":
            continue
        g.attrs[k] = v if k == "checksum_u64" else np.bytes_(v if isinstance(v, bytes) else str(v))
