#!/usr/bin/env python3
"""evict.py FILE|DIR... - drop the files' pages from the page cache
(POSIX_FADV_DONTNEED after fsync), so the next read comes from the disk:
for cold-read benchmarks without root's drop_caches."""
import os
import sys

for arg in sys.argv[1:]:
    paths = [arg] if os.path.isfile(arg) else [
        os.path.join(d, f) for d, _, fs in os.walk(arg) for f in fs]
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
