"""Four-eyes approvals: who approved the pull request that added an item.

With `approval:` in swamp.yaml, the runner finds the commit that added the
item's file, asks the GitHub REST API which pull request brought that commit
and who approved it, and refuses the item without enough approvals from
people other than its requester.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swamp import secrets
from swamp.definitions import Approval

if TYPE_CHECKING:
    import httpx

    from swamp.gitrepo import CommitInfo, Repo
    from swamp.items import Item
    from swamp.repo import Repository

TIMEOUT_SECONDS = 20.0
MAX_PAGES = 20


@dataclass
class Verdict:
    ok: bool
    reason: str = ""
    approvers: list[str] = field(default_factory=list)
    pull_request: str | None = None
    # The staging commit (and its pull request), as the check found it.
    requested: dict[str, str] | None = None


class Approvals:
    """Asks the forge once per pull request, however many items it added."""

    def __init__(self, policy: Approval, git: Repo, root: Path) -> None:
        self.policy = policy
        self.git = git
        self.root = root
        self._authors: dict[int, set[str]] = {}
        self._client: httpx.Client | None = None
        self._pulls: dict[str, Any] = {}
        self._reviews: dict[int, list[dict[str, Any]]] = {}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def _http(self) -> httpx.Client:
        if self._client is None:
            # start-up time: httpx loads only when used
            import httpx

            token = os.environ.get(self.policy.token_env, "")
            secrets.register(token)
            headers = {
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "swamp",
            }
            if token:
                headers["Authorization"] = f"Bearer {token}"
            self._client = httpx.Client(
                base_url=self.policy.api_url, headers=headers, timeout=TIMEOUT_SECONDS
            )
        return self._client

    def _get(self, path: str) -> Any:
        """GET a JSON resource, following `Link: rel="next"` pages for lists."""
        # start-up time: httpx loads only when used
        import httpx

        url: str | None = path
        collected: list[Any] = []
        for _ in range(MAX_PAGES):
            if url is None:
                break
            try:
                response = self._http().get(url)
            except httpx.HTTPError as e:
                raise ApprovalError(f"cannot reach {self.policy.api_url}: {e}") from None
            if response.status_code != 200:
                raise ApprovalError(
                    f"GET {self.policy.api_url}{path}: status {response.status_code}: "
                    + response.text.strip()[:200]
                )
            data = response.json()
            if not isinstance(data, list):
                return data
            collected += data
            url = response.links.get("next", {}).get("url")
        return collected

    def check(self, item: Item) -> Verdict:
        """Whether `item` may run: every commit that changed its request (or
        staged a release) or one of its pinned definitions since it was
        staged belongs to a pull request approved, on its final head, by
        enough people other than that pull request's authors and the requester."""
        if not self.policy.required:
            return Verdict(True)
        repository = self.policy.repository or os.environ.get("GITHUB_REPOSITORY")
        if not repository:
            return Verdict(
                False, "the approval policy needs approval.repository or GITHUB_REPOSITORY"
            )
        if not os.environ.get(self.policy.token_env):
            return Verdict(False, f"the approval policy needs a token in ${self.policy.token_env}")
        # start-up time: loaded only on this path
        from swamp.gitrepo import GitError

        rel = item.path.relative_to(self.root).as_posix()
        try:
            if self.git.is_shallow():
                self.git.deepen()  # never guess from a history that is cut off
            added = self.git.added_by(rel)
            if added is None:
                return Verdict(False, "its file is not committed, so no pull request approved it")
            pinned = sorted(item.request.pin)
            later = self.git.changes_since(added.sha, [rel, *pinned])
        except GitError as e:
            return Verdict(
                False,
                "the approval check needs the whole git history (a shallow clone could not "
                f"be deepened: {e}); check out with fetch-depth: 0",
            )
        reviewed = [added, *[c for c in later if self._changes_what_runs(c.sha, rel, pinned)]]
        first: Verdict | None = None
        for commit in reviewed:
            verdict = self._approved(repository, commit, item)
            if not verdict.ok:
                return verdict
            first = first or verdict
        assert first is not None
        first.requested = {
            "name": added.author,
            "email": added.email,
            "commit": added.sha,
            "at": added.date,
        }
        if first.pull_request:
            first.requested["pullRequest"] = first.pull_request
        return first

    def _changes_what_runs(self, sha: str, rel: str, pinned: list[str]) -> bool:
        """Whether commit `sha` changed the item's request or release, or a
        pinned definition (a runner's claim or result commit does neither)."""
        parent = self.git.parent(sha)
        if parent is None:
            return True
        if any(self.git.show(parent, f) != self.git.show(sha, f) for f in pinned):
            return True
        return _reviewed_part(self.git.show(parent, rel)) != _reviewed_part(self.git.show(sha, rel))

    def _approved(self, repository: str, commit: CommitInfo, item: Item) -> Verdict:
        what = f"commit {commit.sha[:10]} that changed it"
        try:
            pull = self._pull_for(repository, commit.sha)
            if pull is None:
                return Verdict(False, f"{what} is in no pull request")
            number = int(pull["number"])
            reviews = self._reviews_of(repository, number)
            authors = self._authors_of(repository, number)
        except (ApprovalError, KeyError, TypeError, ValueError) as e:
            return Verdict(False, f"the forge's answer about {what} is unusable: {e}")
        url = str(pull.get("html_url") or f"#{number}")
        head = (pull.get("head") or {}).get("sha")
        if not head:
            return Verdict(False, f"{url}: the forge did not say which commit is its head")
        latest: dict[str, dict[str, Any]] = {}
        for review in reviews:
            user = (review.get("user") or {}).get("login")
            if user and review.get("state") in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
                latest[user] = review  # reviews come oldest first: the last one counts
        approvers = sorted(
            u for u, r in latest.items() if r["state"] == "APPROVED" and r.get("commit_id") == head
        )
        stale = sorted(
            u for u, r in latest.items() if r["state"] == "APPROVED" and r.get("commit_id") != head
        )
        counted = approvers
        if self.policy.forbid_self_approval:
            selves = {(pull.get("user") or {}).get("login"), *authors}
            selves.add(item.request.requested_by or "")
            counted = [u for u in approvers if u not in selves]
        if len(counted) < self.policy.required:
            others = (
                " other than its authors and requester" if self.policy.forbid_self_approval else ""
            )
            notes = []
            if approvers:
                notes.append(", ".join(approvers))
            if stale:
                notes.append("not on its final head: " + ", ".join(stale))
            return Verdict(
                False,
                f"needs {self.policy.required} approval(s){others} on {url}; has {len(counted)}"
                + (f" ({'; '.join(notes)})" if notes else ""),
                approvers,
                url,
            )
        return Verdict(True, "", counted, url)

    def _authors_of(self, repository: str, number: int) -> set[str]:
        """The GitHub logins of everyone who authored or committed a commit of the PR."""
        if number not in self._authors:
            data = self._get(f"/repos/{repository}/pulls/{number}/commits?per_page=100")
            logins: set[str] = set()
            for c in data if isinstance(data, list) else []:
                for role in ("author", "committer"):
                    login = (c.get(role) or {}).get("login")
                    if login and login != "web-flow":
                        logins.add(login)
            self._authors[number] = logins
        return self._authors[number]

    def _pull_for(self, repository: str, sha: str) -> dict[str, Any] | None:
        if sha not in self._pulls:
            pulls = self._get(f"/repos/{repository}/commits/{sha}/pulls")
            merged = [p for p in pulls if p.get("merged_at")] if isinstance(pulls, list) else []
            self._pulls[sha] = (merged or pulls or [None])[0] if isinstance(pulls, list) else None
        pull: dict[str, Any] | None = self._pulls[sha]
        return pull

    def _reviews_of(self, repository: str, number: int) -> list[dict[str, Any]]:
        if number not in self._reviews:
            data = self._get(f"/repos/{repository}/pulls/{number}/reviews?per_page=100")
            self._reviews[number] = data if isinstance(data, list) else []
        return self._reviews[number]


class ApprovalError(Exception):
    """The forge could not answer; the item is refused, not run."""


def _reviewed_part(data: bytes | None) -> str:
    """The fields of an item file a reviewer approves (request and release),
    canonically; the runner's own fields (state, run, claim…) are left out."""
    # start-up time: loaded only on this path
    from swamp.items import REQUEST_FIELDS, canonical
    from swamp.loader import LoadError, load_yaml_text

    if data is None:
        return ""
    try:
        doc = load_yaml_text(data.decode("utf-8"), "item")
    except (LoadError, UnicodeDecodeError):
        return data.hex()
    if not isinstance(doc.data, dict):
        return data.hex()
    keep = ("id", *REQUEST_FIELDS, "release")
    return canonical({k: doc.data[k] for k in keep if k in doc.data})


def approvals_for(repo: Repository) -> Approvals | None:
    """The approval checker swamp.yaml asks for, or None without a policy."""
    policy = repo.config.approval
    if policy is None or not policy.required:
        return None
    # start-up time: loaded only on this path
    from swamp.gitrepo import Repo

    return Approvals(policy, Repo(repo.root), repo.root)
