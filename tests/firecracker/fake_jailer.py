#!/usr/bin/python3
"""Stands in for Firecracker's jailer in pyro's backend tests.

Records its argv to $FAKE_JAILER_RECORD (one JSON array), checks the flags
the real jailer requires, and execs --exec-file in the same process (as the
real one does without --daemonize and --new-pid-ns) with --id, the arguments
after "--", and --fake-chroot <chroot_base>/<exec file name>/<id>/root so
that the fake firecracker maps its paths into the jail instead of chrooting.
"""

import json
import os
import sys

argv = sys.argv[1:]
if "--" in argv:
    own, extra = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
else:
    own, extra = argv, []
flags = dict(zip(own[0::2], own[1::2]))
if os.environ.get("FAKE_JAILER_RECORD"):
    with open(os.environ["FAKE_JAILER_RECORD"], "w") as f:
        json.dump(argv, f)
for required in ("--id", "--exec-file", "--uid", "--gid"):
    if required not in flags:
        print("fake-jailer: missing " + required, file=sys.stderr)
        sys.exit(1)
exec_file = flags["--exec-file"]
base = flags.get("--chroot-base-dir", "/srv/jailer")
root = os.path.join(base, os.path.basename(exec_file), flags["--id"], "root")
os.makedirs(root, exist_ok=True)
os.execv(exec_file, [exec_file, "--id", flags["--id"], "--fake-chroot", root] + extra)
