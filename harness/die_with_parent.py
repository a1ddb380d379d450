"""Exec wrapper that makes a launcher's child process die with the launcher (Linux), safe in a threaded launcher.

    python -I -S die_with_parent.py PARENT_PID COMMAND [ARG...]

The launcher runs heartbeat and progress threads, so no Python code may run in the child between fork and exec
(subprocess's ``preexec_fn`` is unsafe while threads run). This script is the child's first program instead: it
asks the kernel for SIGKILL when its parent goes away (prctl PR_SET_PDEATHSIG), then replaces itself with COMMAND,
which keeps the process id and the setting. If the parent died before the setting took effect, the parent is no
longer PARENT_PID and the script kills itself instead of running COMMAND orphaned.

The signal fires when the *thread* that started the child ends, not only the process. The launcher starts each
child from the thread that then waits for it to exit (harness/executors.py), so a child outlives that thread only
when the whole launcher dies, kill -9 included.

Standard library only, nothing from harness: it runs as a file in the launcher's interpreter with -I -S.
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
CANNOT_EXECUTE = 127


def main(argv: list[str]) -> None:
    parent, command = int(argv[1]), argv[2:]
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass   # no glibc (not Linux): the launcher's own clean-up is all there is
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)
    try:
        os.execvp(command[0], command)
    except OSError as error:
        sys.stdout.write(f"ERROR: cannot start {command[0]}: {error.strerror}\n")
        sys.stdout.flush()
        os._exit(CANNOT_EXECUTE)


if __name__ == "__main__":
    main(sys.argv)
