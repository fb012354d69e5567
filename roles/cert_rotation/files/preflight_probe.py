# Pre-flight facts for cert_rotation, read in one round trip with the standard library
# only (a node may have nothing but python3): the node's clock, the free space where the
# backup goes (its nearest existing directory) and the size of what will be backed up.
import contextlib
import json
import os
import sys
import time

backup_root, source, recursive = sys.argv[1], sys.argv[2], sys.argv[3] == "recursive"
probe = backup_root
while not os.path.isdir(probe):
    probe = os.path.dirname(probe) or "/"
stat = os.statvfs(probe)
needed = 0
if os.path.isdir(source):
    for base, dirs, files in os.walk(source):
        for name in files:
            with contextlib.suppress(OSError):
                needed += os.lstat(os.path.join(base, name)).st_size
        if not recursive:
            dirs[:] = []
print(
    json.dumps(
        {
            "epoch": time.time(),
            "free": stat.f_bavail * stat.f_frsize,
            "needed": needed,
            "probe": probe,
            "source_exists": os.path.isdir(source),
        }
    )
)
