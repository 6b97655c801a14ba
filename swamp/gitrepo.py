"""The git layer: the only module that imports GitPython.

swamp commits the files a command changed (one commit per command, with
`Swamp-…` trailers) and pushes them, fetching and rebasing when another
runner pushed first. Paths given to and returned by this module are relative
to the swamp repository's root, which may be a folder inside the git work tree.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swamp.errors import SwampError

# The files swamp owns in a repository: refused when dirty, committed by commands.
OWNED = ("swamp.yaml", "models", "workflows", "queue", "done", "runs", "freeze.yaml")
PUSH_ATTEMPTS = 10
# Used when neither git config nor the environment names who commits.
FALLBACK_NAME = "swamp"
FALLBACK_EMAIL = "swamp@localhost"


class GitError(SwampError):
    """A git operation swamp needed did not work; the message says which and why."""


class RebaseConflict(GitError):
    """Local commits conflict with the upstream (the rebase was aborted)."""


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author: str
    email: str
    date: str  # ISO 8601


class Repo:
    """A swamp repository inside a git work tree."""

    def __init__(self, root: Path) -> None:
        # start-up time: git loads only when used
        import git

        self.root = root.resolve()
        try:
            self.repo = git.Repo(self.root, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise GitError(
                f"{self.root} is not in a git repository; --commit and --push need one "
                "(run `git init`, or drop those options)"
            ) from None
        top = Path(self.repo.working_tree_dir or self.root).resolve()
        self.prefix = self.root.relative_to(top).as_posix() if self.root != top else ""
        # Untracked files under runs/ when the command started (see require_clean).
        self.local_runs: dict[str, tuple[int, int] | None] = {}
        self.configured: tuple[str, str] | None = None  # user.name, user.email
        _OPEN.add(self)

    def __del__(self) -> None:
        # A Repo dropped before its command ends: its helpers end with it.
        with contextlib.suppress(Exception):
            self.close()

    def close(self) -> None:
        """End GitPython's helper processes (`git cat-file --batch`) now, and
        wait for them: GitPython itself only signals them, leaving zombies
        and open pipes to the garbage collector."""
        import subprocess  # start-up time: only closing GitPython's helpers uses it

        for name in ("cat_file_all", "cat_file_header"):
            cmd = getattr(self.repo.git, name, None)
            proc = getattr(cmd, "proc", None)
            if proc is None:
                continue
            cmd.proc = None  # type: ignore[union-attr]  # its __del__ then does nothing
            with contextlib.suppress(OSError):
                if proc.stdin:
                    proc.stdin.close()  # cat-file --batch ends at end of input
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    stream.close()
        self.repo.close()

    def __enter__(self) -> Repo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- paths -----------------------------------------------------------------

    def _top(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    def _local(self, path: str) -> str:
        if self.prefix and path.startswith(self.prefix + "/"):
            return path[len(self.prefix) + 1 :]
        return path

    def _git(self, *args: str, env: dict[str, str] | None = None) -> str:
        # start-up time: git loads only when used
        import git

        try:
            out: str = self.repo.git.execute(
                ["git", *args], env=env, with_extended_output=False, strip_newline_in_stdout=True
            )
        except git.GitCommandError as e:
            raise GitError(f"git {args[0]} failed: {_stderr(e)}") from None
        return out

    # -- state -----------------------------------------------------------------

    def head(self) -> str | None:
        try:
            return str(self.repo.head.commit.hexsha)
        except ValueError:  # no commit yet
            return None

    def dirty(self, paths: Sequence[str] = OWNED) -> list[str]:
        """Uncommitted changes (staged, unstaged or untracked) under `paths`."""
        out = self._git(
            "status", "--porcelain", "--untracked-files=all", "--", *[self._top(p) for p in paths]
        )
        return [self._local(line[3:].strip().strip('"')) for line in out.splitlines() if line]

    def require_clean(self) -> None:
        self._refuse_ignored()
        # Untracked runs/ are the journals of local runs made without --commit:
        # this machine's history, not a change to review. They do not block a
        # commit and stay out of it, unless the command changes them (a resume).
        self.local_runs = {p: _stat(self.root / p) for p in self._untracked("runs")}
        dirty = [p for p in self.dirty() if p not in self.local_runs]
        if dirty:
            shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
            raise GitError(
                f"uncommitted changes to swamp's files ({shown}); commit or stash them first, "
                "so that what swamp commits is only its own work"
            )

    def _untracked(self, path: str) -> list[str]:
        out = self._git("status", "--porcelain", "--untracked-files=all", "--", self._top(path))
        return [
            self._local(line[3:].strip().strip('"'))
            for line in out.splitlines()
            if line[:2] == "??"
        ]

    def _refuse_ignored(self) -> None:
        """A .gitignore that hides swamp's files would make --commit silently
        leave results out of git; refuse before anything is done."""
        probes = {self._top(p if "." in p else f"{p}/x.yaml"): p for p in OWNED}
        ignored = set(self._not_ignored(list(probes))) ^ set(probes)
        if ignored:
            names = ", ".join(
                sorted(probes[i] + ("" if "." in probes[i] else "/") for i in ignored)
            )
            raise GitError(
                f".gitignore hides {names}, so --commit would leave swamp's records out of "
                "git; remove those lines from .gitignore"
            )

    def branch(self) -> str:
        try:
            return str(self.repo.active_branch.name)
        except TypeError:
            raise GitError("HEAD is detached; check out a branch to commit and push") from None

    def upstream(self) -> tuple[str, str]:
        """(remote, branch) the current branch pushes to: its upstream, else origin/<branch>."""
        branch = self.branch()
        tracking = self.repo.active_branch.tracking_branch()
        if tracking is not None:
            return str(tracking.remote_name), str(tracking.remote_head)
        if "origin" in [r.name for r in self.repo.remotes]:
            return "origin", branch
        raise GitError(
            f"branch {branch} has no upstream and there is no remote 'origin'; "
            "set one with `git push -u <remote> <branch>`"
        )

    # -- reading history -------------------------------------------------------

    def show(self, ref: str, path: str) -> bytes | None:
        """The content of `path` at `ref`, or None if it is not there."""
        # start-up time: git loads only when used
        import git

        try:
            blob = self.repo.commit(ref).tree / self._top(path)
        except (KeyError, ValueError, git.BadName):
            return None
        data: bytes = blob.data_stream.read()
        return data

    def files_at(self, ref: str, folder: str) -> list[str]:
        # start-up time: git loads only when used
        import git

        try:
            tree = self.repo.commit(ref).tree
        except (ValueError, git.BadName):
            raise GitError(f"unknown revision {ref!r}") from None
        try:
            sub: Any = tree / self._top(folder) if folder else tree
        except KeyError:
            return []
        return sorted(self._local(str(b.path)) for b in sub.traverse() if b.type == "blob")

    def resolve(self, ref: str) -> str | None:
        # start-up time: git loads only when used
        import git

        try:
            return str(self.repo.commit(ref).hexsha)
        except (ValueError, git.BadName):
            return None

    def merge_base(self, a: str, b: str = "HEAD") -> str:
        # start-up time: git loads only when used
        import git

        try:
            out: str = self.repo.git.merge_base(a, b)
        except git.GitCommandError:
            if self.is_shallow():
                raise GitError(
                    f"{a} and {b} have no common commit in this shallow clone; swamp needs "
                    "the history (actions/checkout: fetch-depth: 0, or `git fetch --unshallow`)"
                ) from None
            raise GitError(f"{a} and {b} have no common commit") from None
        return out

    def is_shallow(self) -> bool:
        return self._git("rev-parse", "--is-shallow-repository") == "true"

    def shallow_boundary(self) -> set[str]:
        """Commits whose parents a shallow clone lacks: git cannot tell what
        they changed, so nothing is concluded from them."""
        if not self.is_shallow():
            return set()
        path = Path(self._git("rev-parse", "--git-path", "shallow"))
        path = path if path.is_absolute() else Path(self.repo.working_tree_dir or self.root) / path
        try:
            return set(path.read_text("ascii").split())
        except OSError:
            return set()

    def deepen(self) -> None:
        """Fetch the whole history of a shallow clone (approvals need it)."""
        self._git("fetch", "--quiet", "--unshallow")

    def changes_since(self, sha: str, paths: Sequence[str]) -> list[CommitInfo]:
        """Commits after `sha` (not merges) on HEAD that changed any of `paths`, oldest first."""
        out = self._git(
            "log",
            "--reverse",
            "--no-merges",
            "--format=%H%x00%an%x00%ae%x00%aI",
            f"{sha}..HEAD",
            "--",
            *[self._top(p) for p in paths],
        )
        return [CommitInfo(*line.split("\x00")) for line in out.splitlines() if line]

    def history(self, path: str) -> list[CommitInfo]:
        """The commits (not merges) on HEAD that changed `path`, newest first."""
        out = self._git(
            "log", "--no-merges", "--format=%H%x00%an%x00%ae%x00%aI", "--", self._top(path)
        )
        return [CommitInfo(*line.split("\x00")) for line in out.splitlines() if line]

    def parent(self, sha: str) -> str | None:
        return self.resolve(f"{sha}^")

    def added_by(self, path: str) -> CommitInfo | None:
        """The commit that last added `path` (where the item was requested);
        None when a shallow clone cannot know it."""
        out = self._git(
            "log",
            "--diff-filter=A",
            "-n",
            "1",
            "--format=%H%x00%an%x00%ae%x00%aI",
            "--",
            self._top(path),
        )
        if not out:
            return None
        sha, author, email, date = out.split("\x00")
        if sha in self.shallow_boundary():
            return None  # its parents are missing: the file may be older
        return CommitInfo(sha, author, email, date)

    # -- writing ---------------------------------------------------------------

    def commit(
        self,
        paths: Iterable[str],
        subject: str,
        trailers: Sequence[tuple[str, str]] = (),
        body: str = "",
    ) -> str | None:
        """Stage `paths` (additions, changes and deletions) and commit them.

        Returns the new commit, or None if nothing changed under `paths`.
        """
        top = Path(self.repo.working_tree_dir or self.root)
        wanted = sorted({self._top(p) for p in paths})
        if not wanted:
            return None
        tracked = self._git("ls-files", "--", *wanted).splitlines()
        # `git add` refuses a path that neither exists nor is tracked, or is ignored.
        present = [
            s
            for s in wanted
            if (top / s).exists() or any(f == s or f.startswith(s + "/") for f in tracked)
        ]
        specs = self._not_ignored(present) if present else []
        if specs:
            self._git("add", "-A", "--", *specs)
        untouched = [
            self._top(p) for p, before in self.local_runs.items() if _stat(self.root / p) == before
        ]
        if untouched:
            self._git("reset", "--quiet", "--", *untouched)
        # Every staged change under `paths`, not only what was just added: a
        # deletion that a runner killed before its commit had staged is in
        # neither the index nor the work tree, so `git add` cannot name it.
        specs = self._git("diff", "--cached", "--name-only", "--", *wanted).splitlines()
        if not specs:
            return None
        # start-up time: loaded only on this path
        from swamp import secrets
        from swamp.paths import one_line

        # Free text (ids, --by, names) cannot add lines or trailers, nor carry a secret.
        message = secrets.mask_text(one_line(subject))
        if body:
            message += "\n\n" + secrets.mask_text(body.strip())
        if trailers:
            message += "\n\n" + "\n".join(
                f"{k}: {secrets.mask_text(one_line(v))}" for k, v in trailers
            )
        self._git(
            "commit", "--quiet", "--no-verify", "-m", message, "--", *specs, env=_identity(self)
        )
        return self.head()

    def _not_ignored(self, specs: list[str]) -> list[str]:
        """Git refuses to add a path .gitignore names; leave those out."""
        # start-up time: git loads only when used
        import git

        try:
            out = self.repo.git.execute(["git", "check-ignore", "--", *specs])
        except git.GitCommandError:  # exit 1: none of them is ignored
            return specs
        ignored = set(str(out).splitlines())
        return [s for s in specs if s not in ignored]

    def fetch(self) -> None:
        remote, _ = self.upstream()
        self._git("fetch", "--quiet", remote)

    def rebase(self) -> bool:
        """Rebase onto the upstream; False (rebase aborted) on a conflict."""
        # start-up time: git loads only when used
        import git

        remote, branch = self.upstream()
        try:
            self.repo.git.execute(
                ["git", "rebase", "--quiet", f"{remote}/{branch}"], env=_identity(self)
            )
        except git.GitCommandError as e:
            if (Path(self.repo.git_dir) / "rebase-merge").exists() or (
                Path(self.repo.git_dir) / "rebase-apply"
            ).exists():
                self._git("rebase", "--abort")
                return False
            # It never started (say, changes staged by hand): say why, as git did.
            raise GitError(f"git rebase onto {remote}/{branch} failed: {_stderr(e)}") from None
        return True

    def sync(self) -> None:
        """Fetch and rebase onto the upstream, before reading the queue."""
        self.fetch()
        remote, branch = self.upstream()
        if self.resolve(f"{remote}/{branch}") is None:
            return  # the branch is not on the remote yet
        if not self.rebase():
            raise RebaseConflict(
                f"cannot rebase onto {remote}/{branch}: local commits conflict with it; "
                "resolve that by hand"
            )

    def drop_unpushed(self) -> None:
        """Forget local commits the upstream does not have (a refused claim)."""
        remote, branch = self.upstream()
        self._git("reset", "--quiet", "--keep", f"{remote}/{branch}")

    def try_push(self, rev: str = "HEAD") -> bool:
        """Push `rev` to the branch; False if refused as not a fast-forward."""
        # start-up time: git loads only when used
        import git

        remote, branch = self.upstream()
        try:
            self.repo.git.execute(["git", "push", "--quiet", remote, f"{rev}:refs/heads/{branch}"])
        except git.GitCommandError as e:
            full = str(getattr(e, "stderr", "") or e)
            refused = (
                "non-fast-forward",
                "fetch first",
                "[rejected]",
                "stale info",
                "Updates were rejected",
                # Another push held the ref's lock at that moment: retried too.
                "failed to update ref",
                "cannot lock ref",
            )
            if any(w in full for w in refused):
                return False
            raise GitError(f"git push failed: {_stderr(e)}") from None
        return True

    def push(self, attempts: int = PUSH_ATTEMPTS) -> None:
        """Push; on a refusal fetch, rebase and try again, a bounded number of times."""
        if not self.push_rebasing(attempts):
            raise GitError(
                "cannot push: the remote changed the same files meanwhile and the rebase "
                "conflicts; nothing was lost locally — resolve it by hand and push"
            )

    def push_rebasing(self, attempts: int = PUSH_ATTEMPTS) -> bool:
        """Push; on a refusal fetch, rebase and try again, a bounded number of
        times. False when the rebase conflicts: the caller decides what then."""
        for attempt in range(1, attempts + 1):
            if self.try_push():
                return True
            if attempt == attempts:
                break
            backoff(attempt)
            self.fetch()
            if not self.rebase():
                return False
        raise GitError(f"git push refused {attempts} times (others keep pushing); try again later")

    # -- side refs (refs/swamp/…): leases, journal checkpoints, stranded results --

    def remote(self) -> str:
        return self.upstream()[0]

    def unpushed(self) -> int:
        """Local commits the upstream does not have (0 if it has no such branch yet)."""
        remote, branch = self.upstream()
        if self.resolve(f"{remote}/{branch}") is None:
            return 0
        return int(self._git("rev-list", "--count", f"{remote}/{branch}..HEAD") or 0)

    def snapshot(self, paths: Sequence[str], message: str, parent: str | None = None) -> str:
        """A commit of `paths` as they are on disk, made through a private
        index so that neither the branch nor the work tree's index moves."""
        import tempfile  # start-up time: only a snapshot needs it

        with tempfile.TemporaryDirectory(prefix="swamp-index-") as tmp:
            env = {**_identity(self), "GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if parent:
                self._git("read-tree", parent, env=env)
            present = [
                self._top(p)
                for p in paths
                if (self.root / p).exists() or (parent and self.has(parent, p))
            ]
            if present:
                self._git("add", "-f", "-A", "--", *present, env=env)
            tree = self._git("write-tree", env=env)
            args = ["commit-tree", tree, "-m", message]
            if parent:
                args += ["-p", parent]
            return self._git(*args, env=env)

    def has(self, rev: str, path: str) -> bool:
        """True if `path` (a file or a folder) exists in `rev`."""
        try:
            self._git("cat-file", "-e", f"{rev}:{self._top(path)}")
        except GitError:
            return False
        return True

    def differ(self, a: str, b: str, paths: Sequence[str]) -> list[str]:
        """Which of `paths` differ between the commits `a` and `b`."""
        if not paths:
            return []
        out = self._git("diff", "--name-only", a, b, "--", *[self._top(p) for p in paths])
        return [self._local(line) for line in out.splitlines() if line]

    def discard(self, paths: Sequence[str]) -> None:
        """Put `paths` back as HEAD has them: changes undone, new files removed."""
        specs = [self._top(p) for p in paths]
        tracked = self._git("ls-files", "--", *specs).splitlines() if specs else []
        if tracked:
            self._git("checkout", "--quiet", "HEAD", "--", *tracked)
        if specs:
            self._git("clean", "--quiet", "-f", "-d", "-x", "--", *specs)

    def refs(self, prefix: str) -> dict[str, str]:
        """{ref name: commit} for the local refs under `prefix` (refs/swamp/…)."""
        out = self._git("for-each-ref", "--format=%(refname) %(objectname)", prefix)
        return dict(line.split(" ", 1) for line in out.splitlines() if line)

    def update_ref(self, ref: str, sha: str) -> None:
        self._git("update-ref", ref, sha)

    def delete_ref(self, ref: str) -> None:
        if self.resolve(ref) is not None:
            self._git("update-ref", "-d", ref)

    def push_ref(self, sha: str, ref: str) -> None:
        """Point `ref` on the remote at `sha` (forced: side refs are not history)."""
        self._git("push", "--quiet", "--force", "--no-verify", self.remote(), f"{sha}:{ref}")

    def delete_remote_ref(self, ref: str) -> None:
        with contextlib.suppress(GitError):  # already gone
            self._git("push", "--quiet", "--no-verify", self.remote(), f":{ref}")

    def delete_remote_ref_at(self, ref: str, sha: str) -> None:
        """Delete `ref` on the remote only while it still points at `sha`
        (GitError otherwise, or when the remote refuses)."""
        self._git(
            "push",
            "--quiet",
            "--no-verify",
            f"--force-with-lease={ref}:{sha}",
            self.remote(),
            f":{ref}",
        )

    def fetch_side_refs(self, namespace: str) -> None:
        """Mirror the remote's refs/swamp/<namespace>/* under
        refs/swamp/origin/<namespace>/* (pruned), apart from local-only refs."""
        self._git(
            "fetch",
            "--quiet",
            "--no-write-fetch-head",
            "--refmap=",  # leave refs/remotes/ alone: another thread may be fetching them
            "--prune",
            self.remote(),
            f"+refs/swamp/{namespace}/*:refs/swamp/origin/{namespace}/*",
        )

    def observe_branch(self, watcher: str = "results") -> str | None:
        """Fetch the upstream branch into a private ref, one per `watcher` (so
        that neither a rebase in progress nor another thread is disturbed), and
        return its commit."""
        remote, branch = self.upstream()
        ref = f"refs/swamp/observed/{watcher}/{branch}"
        self._git(
            "fetch",
            "--quiet",
            "--no-write-fetch-head",
            "--refmap=",
            remote,
            f"+refs/heads/{branch}:{ref}",
        )
        return self.resolve(ref)

    def message(self, rev: str) -> str:
        return self._git("log", "-1", "--format=%B", rev)

    def changes(self, base: str, rev: str) -> list[tuple[str, str]]:
        """(status letter, path) of the files that differ from `base` to `rev`."""
        out = self._git("diff", "--no-renames", "--name-status", base, rev, "--", self._top("."))
        rows = []
        for line in out.splitlines():
            letter, _, path = line.partition("\t")
            rows.append((letter[:1], self._local(path)))
        return rows

    def reset_keep(self, rev: str) -> None:
        """Move the branch to `rev`, keeping uncommitted changes (refused if they
        would be overwritten)."""
        self._git("reset", "--quiet", "--keep", rev)


# Every Repo of this process, closed when a command ends (close_all).
_OPEN: weakref.WeakSet[Repo] = weakref.WeakSet()


def close_all() -> None:
    """Close every Repo this process opened: a command's git helper processes
    end with the command (in a test run or `swamp serve`, not at exit)."""
    for repo in list(_OPEN):
        repo.close()


def backoff(attempt: int) -> None:
    # Jitter keeps racing runners from retrying in lockstep.
    time.sleep(min(2.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.5))


def _identity(repo: Repo) -> dict[str, str]:
    """The environment for commits: git's identity, else a fallback, so that a
    runner without `user.name` still records its work."""
    env = dict(os.environ)
    if repo.configured is None:
        # Asked of git itself: GitPython's config reader is kept alive by a
        # reference cycle, and the repository (with its cat-file processes) with it.
        repo.configured = (
            repo._git("config", "--default", "", "--get", "user.name"),
            repo._git("config", "--default", "", "--get", "user.email"),
        )
    name = env.get("GIT_AUTHOR_NAME") or repo.configured[0]
    email = env.get("GIT_AUTHOR_EMAIL") or repo.configured[1]
    if not name:
        env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = FALLBACK_NAME
    if not email:
        env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = FALLBACK_EMAIL
    return env


def _stderr(e: Any) -> str:
    text = str(getattr(e, "stderr", "") or e).strip()
    text = text.removeprefix("stderr:").strip().strip("'").strip()
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("hint:")
    ]
    return "; ".join(lines[-3:]) if lines else "unknown error"


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size
