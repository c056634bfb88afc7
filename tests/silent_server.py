#!/usr/bin/python3
"""A TCP server on 127.0.0.1 that accepts connections and never answers
(for store timeouts). The port is chosen by the OS and written to PORTFILE
atomically (a temp file renamed into place).

    silent_server.py PORTFILE [refuse]

With "refuse" the port is bound and held but not listened on: every
connection is refused, and no other process can take the port meanwhile.
"""
import os
import signal
import socket
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
refuse = len(sys.argv) > 2 and sys.argv[2] == "refuse"
if not refuse:
    s.listen(64)
tmp = sys.argv[1] + ".tmp"
with open(tmp, "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(tmp, sys.argv[1])
held = []
while refuse:
    signal.pause()
while True:
    c, _ = s.accept()
    held.append(c)  # keep it open, say nothing
