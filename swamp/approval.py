"""Four-eyes approvals: who approved the pull request that added an item.

With `approval:` in swamp.yaml, the runner finds the commit that added the
item's file, asks the GitHub REST API which pull request brought that commit
and who approved it, and refuses the item without enough approvals from
people other than its requester.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from swamp import secrets
from swamp.definitions import Approval

if TYPE_CHECKING:
    import httpx

    from swamp.gitrepo import Repo

TIMEOUT_SECONDS = 20.0
MAX_PAGES = 20


@dataclass
class Verdict:
    ok: bool
    reason: str = ""
    approvers: list[str] = field(default_factory=list)
    pull_request: str | None = None


class Approvals:
    """Asks the forge once per pull request, however many items it added."""

    def __init__(self, policy: Approval, git: Repo) -> None:
        self.policy = policy
        self.git = git
        self._client: httpx.Client | None = None
        self._pulls: dict[str, Any] = {}
        self._reviews: dict[int, list[dict[str, Any]]] = {}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def _http(self) -> httpx.Client:
        if self._client is None:
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

    def check(self, item_file: str, requested_by: str) -> Verdict:
        """Whether the item at `item_file` (relative to the repository) may run."""
        if not self.policy.required:
            return Verdict(True)
        repository = self.policy.repository or os.environ.get("GITHUB_REPOSITORY")
        if not repository:
            return Verdict(
                False, "the approval policy needs approval.repository or GITHUB_REPOSITORY"
            )
        if not os.environ.get(self.policy.token_env):
            return Verdict(False, f"the approval policy needs a token in ${self.policy.token_env}")
        added = self.git.added_by(item_file)
        if added is None:
            return Verdict(False, "its file is not committed, so no pull request approved it")
        try:
            pull = self._pull_for(repository, added.sha)
            if pull is None:
                return Verdict(
                    False, f"commit {added.sha[:10]} that added it is in no pull request"
                )
            reviews = self._reviews_of(repository, int(pull["number"]))
        except ApprovalError as e:
            return Verdict(False, str(e))
        url = str(pull.get("html_url") or f"#{pull['number']}")
        latest: dict[str, str] = {}
        for review in reviews:
            user = (review.get("user") or {}).get("login")
            state = review.get("state")
            if user and state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
                latest[user] = state  # reviews come oldest first: the last one counts
        approvers = sorted(u for u, s in latest.items() if s == "APPROVED")
        counted = approvers
        if self.policy.forbid_self_approval:
            author = (pull.get("user") or {}).get("login")
            selves = {author, requested_by, added.author}
            counted = [u for u in approvers if u not in selves]
        if len(counted) < self.policy.required:
            others = " other than its requester" if self.policy.forbid_self_approval else ""
            return Verdict(
                False,
                f"needs {self.policy.required} approval(s){others} on {url}; has {len(counted)}"
                + (f" ({', '.join(approvers)})" if approvers else ""),
                approvers,
                url,
            )
        return Verdict(True, "", counted, url)

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
