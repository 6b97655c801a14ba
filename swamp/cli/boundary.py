"""The one boundary that turns exceptions into messages and exit codes.

Every command calls its plain function (swamp/commands/) through `call`:
a user's mistake becomes one clear line and exit 1, Ctrl-C exit 130, a full
disk or a read-only folder one line and exit 1, and anything else (a bug) a
crash log and exit 3.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from typing import Any

import typer


def call(func: Callable[..., int], *args: Any, **kwargs: Any) -> None:
    """The one boundary that turns exceptions into messages and exit codes."""
    # start-up time: a command loads only what it runs
    from swamp.errors import InvalidFiles, SwampError
    from swamp.interrupts import Interrupted, handled

    try:
        with handled():
            code = func(*args, **kwargs)
    except Interrupted as e:
        sys.stderr.write(f"swamp: {e}\n")
        code = e.exit_code
    except InvalidFiles as e:
        # start-up time: a command loads only what it runs
        from swamp import output

        for p in e.problems:
            output.err(str(p))
        output.error(f"{len(e.problems)} problem(s) in the definitions; nothing was run")
        code = e.exit_code
    except SwampError as e:
        # start-up time: a command loads only what it runs
        from swamp import output

        output.error(str(e))
        code = e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("swamp: interrupted\n")
        code = 130
    except BrokenPipeError:
        # The reader stopped reading (`| head -1`): not an error of swamp. What
        # is still buffered goes nowhere, so that the exit does not fail again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    except OSError as e:
        code = _os_error(e)
    except Exception as e:  # the last resort: no traceback on the terminal
        code = _crash(e)
    finally:
        if "swamp.gitrepo" in sys.modules:  # only if the command used git
            sys.modules["swamp.gitrepo"].close_all()
    raise typer.Exit(code)


# Errors of the machine, not of swamp: a full disk, a read-only folder.
_ENVIRONMENT_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM}
)


def _os_error(e: OSError) -> int:
    """One clear line for what the machine refused; a crash log for the rest."""
    if e.errno not in _ENVIRONMENT_ERRNOS:
        return _crash(e)
    # start-up time: a command loads only what it runs
    from swamp import output

    where = f"{e.filename}: " if e.filename else ""
    output.error(
        f"{where}{e.strerror or e}; stopped there (free space or fix the permissions, "
        "then run the command again; a run continues with `swamp run resume`)"
    )
    return 1


def _crash(e: Exception) -> int:
    # start-up time: only a crash needs these
    import tempfile
    import traceback

    from swamp import output

    with tempfile.NamedTemporaryFile("w", prefix="swamp-crash-", suffix=".log", delete=False) as f:
        traceback.print_exc(file=f)
    output.error(f"unexpected {type(e).__name__}: {e} (details in {f.name}); please report it")
    return 3
