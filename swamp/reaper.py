"""No step process outlives swamp, even after `kill -9` of swamp itself.

Each step runs in its own process group, which swamp kills when the step
ends, is stopped or times out. That needs swamp alive. For the case where it
is not (kill -9, OOM killer, a crash of the interpreter), a small watchdog
process is started once per swamp process. It holds the read end of a pipe
whose write end only swamp has, and is told each step's process group as it
starts and ends. When swamp is gone, for any reason, the pipe reads EOF and
the watchdog SIGKILLs every group still registered.

Why a watchdog rather than the alternatives:
- PR_SET_PDEATHSIG (Linux only) reaches the one child that set it, not the
  grandchildren in its group (`sh -c 'sleep 100 & wait'` leaves the sleep),
  and needs a preexec_fn, which is unsafe in a threaded process and costs the
  fast posix_spawn path of every step.
- PR_SET_CHILD_SUBREAPER (Linux only) makes swamp adopt orphans; once swamp
  is killed there is nobody left to reap or kill them.
- A watchdog works on Linux and macOS alike. Its blind spots: a step that
  leaves its process group (setsid) and one killed in the microseconds
  between its fork and its registration. On Linux both are covered too:
  every step's environment carries a token, and the watchdog also kills every
  process whose /proc/<pid>/environ holds it. macOS has no /proc, so there the
  registered groups are what it kills.

Cost: one watchdog start per swamp process (a bare interpreter, ~15 ms), and
two small pipe writes per step, which do not wake the watchdog while steps
follow each other (it reads every 0.1 s then, so it acts at most 0.1 s after
swamp's end).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import threading

TOKEN_VARIABLE = "SWAMP_REAPER_TOKEN"  # noqa: S105 - a variable name, not a secret

# Runs in a bare interpreter (-I -S): no site, no swamp import, quick to start.
_WATCHDOG = r"""
import os, select, signal, sys, time
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
    signal.signal(s, signal.SIG_IGN)
token = sys.argv[1].encode()
groups, rest, quiet = set(), b"", 0
os.set_blocking(0, False)
while True:
    try:
        data = os.read(0, 65536)
    except BlockingIOError:
        # While steps come and go, read every 0.1 s: a blocked reader would
        # be woken (and scheduled) by each of swamp's writes, which cost a
        # step more than its fsync. After a quiet second, block until the
        # next write (or swamp's end).
        if quiet < 10:
            quiet += 1
            time.sleep(0.1)
        else:
            quiet = 0
            select.select([0], [], [])
        continue
    except InterruptedError:
        continue
    except OSError:
        break
    if not data:
        break
    quiet = 0
    *lines, rest = (rest + data).split(b"\n")
    for line in lines:
        if line[:1] == b"+":
            groups.add(int(line[1:]))
        elif line[:1] == b"-":
            groups.discard(int(line[1:]))
for g in groups:
    try:
        os.killpg(g, signal.SIGKILL)
    except OSError:
        pass
if os.path.isdir("/proc"):
    needle = b"\0" + b"SWAMP_REAPER_TOKEN=" + token + b"\0"
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open("/proc/" + name + "/environ", "rb") as f:
                env = b"\0" + f.read() + b"\0"
        except OSError:
            continue
        if needle in env:
            try:
                os.kill(int(name), signal.SIGKILL)
            except OSError:
                pass
"""


class Reaper:
    """The process's watchdog, started on the first step that needs it."""

    def __init__(self) -> None:
        self.token = secrets.token_hex(8)
        self._lock = threading.Lock()
        self._fd = -1
        self._pid = 0

    def _ensure(self) -> int:
        if self._pid == os.getpid():  # the common case, without the lock
            return self._fd
        with self._lock:
            if self._pid == os.getpid():  # started, or failed to, in this process
                return self._fd
            read, write = os.pipe()  # both ends close-on-exec: steps never hold them
            try:
                # posix_spawn, not Popen: the watchdog is meant to outlive
                # every object of this process, and is never waited for.
                os.posix_spawn(
                    sys.executable,
                    [sys.executable, "-I", "-S", "-c", _WATCHDOG, self.token],
                    dict(os.environ),
                    file_actions=[
                        (os.POSIX_SPAWN_DUP2, read, 0),
                        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
                    ],
                    # Its own session: a Ctrl-C or a kill of swamp's process
                    # group does not take the watchdog with it.
                    setsid=True,
                )
            except (OSError, NotImplementedError) as e:  # e.g. no setsid in posix_spawn
                os.close(write)
                self._fd, self._pid = -1, os.getpid()  # tried once, for this process
                self._warn(e)
                return -1
            finally:
                os.close(read)
            self._fd, self._pid = write, os.getpid()
            return write

    @staticmethod
    def _warn(e: BaseException) -> None:
        # start-up time: loaded only on this path
        from swamp import output

        output.err(
            f"swamp: warning: no watchdog for step processes ({e or type(e).__name__}); "
            "if swamp itself is killed with -9, a running step may outlive it"
        )

    def environment(self) -> dict[str, str]:
        """What a step's environment must carry so that the watchdog finds it.
        Asked before the step starts, so the watchdog is up before any step is."""
        self._ensure()
        return {TOKEN_VARIABLE: self.token}

    def started(self, pgid: int) -> None:
        self._send(f"+{pgid}\n")

    def ended(self, pgid: int) -> None:
        self._send(f"-{pgid}\n")

    def _send(self, line: str) -> None:
        fd = self._ensure()
        if fd < 0:
            return
        # Shorter than PIPE_BUF: atomic, even from several threads at once.
        with contextlib.suppress(OSError):
            os.write(fd, line.encode())


REAPER = Reaper()
