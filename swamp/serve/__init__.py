"""`swamp serve`: one long-running process that exposes an HTTP API (native
and Mender-compatible), executes what it accepted, pulls and executes the
queue (`--pull`), and shows its work in a read-only web view.

Starlette and uvicorn are imported only here, by the `serve` command, so
every other command starts as fast as before.
"""
