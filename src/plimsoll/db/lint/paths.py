"""Where the files of a report are, for readers that resolve them against a repository.

GitHub resolves an annotation's ``file=`` and a SARIF result's URI against the root of the
checked-out repository, whatever folder the lint ran from; a project in a monorepo
(``mono/services/api``) names its files relative to itself (``db/migrations/1_a.up.sql``),
which lands on no file there. :func:`report_base` finds the git work tree the project lies
in (the nearest folder up from it holding ``.git``, a folder or, in a worktree or
submodule, a file; git itself is not run), or the current folder outside one, and
:func:`relative_to_base` names a file from there.
"""

from __future__ import annotations

from pathlib import Path


def work_tree_root(start: Path) -> Path | None:
    """The root of the git work tree holding ``start`` (a folder), or None outside one."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return None


def report_base(project_root: Path) -> Path:
    """The folder a report's paths are relative to: the git work tree's root holding the
    project, else the current folder."""
    return work_tree_root(project_root) or Path.cwd().resolve()


def relative_to_base(file: str, absolute: str | None, base: Path) -> str:
    """``file`` (as the report shows it, relative to the project), named from ``base``.

    ``absolute`` is the file's absolute path when known (a report lists it for every file
    linted); else ``file`` is taken relative to the current folder. A file outside ``base``
    keeps its absolute path.
    """
    path = Path(absolute) if absolute else Path(file).resolve()
    try:
        return path.relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
