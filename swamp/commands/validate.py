from __future__ import annotations

from pathlib import Path

from swamp import github, output
from swamp.validate import load_repository
from swamp.validate.files import validate_paths


def validate(repo_path: Path | None, paths: list[Path], *, as_json: bool) -> int:
    repo = load_repository(repo_path)
    problems = validate_paths(repo, paths)
    errors = [p for p in problems if p.severity == "error"]
    if as_json:
        output.as_json([p.as_dict() for p in problems])
        return 1 if errors else 0
    for p in problems:
        if p.severity == "warning":
            output.out(
                str(p).replace(": warning: ", ": " + output.paint("warning", "yellow") + ": ", 1)
            )
        else:
            output.out(f"{p.file}:{p.line}:{p.column}: " + output.paint(p.message, "red"))
    if github.in_actions():
        # Shown by GitHub on the pull request's files, at the line.
        for line in github.annotation_lines(problems):
            output.out(line)
    if errors:
        output.err(f"swamp: {len(errors)} problem{'s' if len(errors) != 1 else ''} found")
        return 1
    files = len(repo.docs) if not paths else len(paths)
    output.out(
        f"ok: {files} file{'s' if files != 1 else ''} valid "
        f"({len(repo.models)} models, {len(repo.workflows)} workflows)"
    )
    return 0
