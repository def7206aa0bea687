"""``plimsoll db init``: the folders of a database project and its configuration section.

Scaffolds ``db/schema/{00_common,10_tables,20_views}/``, ``db/migrations/`` and ``db/seeds/``
(each with a README.md saying what goes there), then adds a ``db`` section to the project's
configuration: to ``plimsoll.toml`` or ``plimsoll.yaml`` when one exists, else appended to
``pyproject.toml`` as ``[tool.plimsoll.db]``, else in a new ``plimsoll.toml``. Existing text is
never rewritten (the section is appended), an existing folder is left as it is, and a
configuration that already has a ``db`` section is left alone, so running it twice changes nothing.

The environment written is ``url = "${DATABASE_URL:-}"``: with DATABASE_URL unset the URL is
empty, and an empty URL means the embedded server (``plimsoll.db.connection.resolve``).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from plimsoll.core.config import DbConfig
from plimsoll.core.errors import ConfigError

_SCHEMA_PARTS = (
    (
        "00_common",
        "Built first: extensions, schemas, types, sequences and functions the tables use.",
    ),
    ("10_tables", "Built second: tables, their constraints, indexes and comments."),
    ("20_views", "Built last: views, materialized views and anything reading the tables."),
)

_SCHEMA_ORDER = """\
The schema in `{schema_dir}/` is built in name order: the folders `00_common`, `10_tables`,
`20_views`, and the `.sql` files inside each folder sorted by name. Add a numbered folder
(for example `15_indexes`) to place a step between two others.
"""

_MIGRATIONS_README = """\
# Migrations

One change per migration, applied in version order and recorded in the `{tracking_table}`
table of each database:

- `<version>_<name>.up.sql`, with an optional `<version>_<name>.down.sql` that reverts it, or
- `<version>_<name>.py` defining `up(conn)` and optionally `down(conn)`.

Versions are numbers (`0001`, `20240501120000`) ordered numerically; each migration runs in
its own transaction with `lock_timeout` and `statement_timeout` set.
"""

_SEEDS_README = """\
# Seeds

Data for development and test databases (reference rows, sample accounts), as `.sql` files
loaded in name order after the schema or the migrations (`plimsoll db build --apply --seeds`):
INSERT statements, or pg_dump's data format, `COPY table (columns) FROM stdin;` followed by
tab-separated rows and a `\\.` line. Never needed by production.
"""


@dataclass(frozen=True)
class InitResult:
    """What ``init_project`` did: the paths it created and the files it appended to."""

    root: Path
    config_file: Path
    created: tuple[Path, ...] = field(default_factory=tuple)
    updated: tuple[Path, ...] = field(default_factory=tuple)

    @property
    def changed(self) -> bool:
        """Whether anything was created or appended."""
        return bool(self.created or self.updated)

    @property
    def paths(self) -> list[Path]:
        """Every path created or updated, in the order it happened."""
        return [*self.created, *self.updated]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping with paths relative to the root."""
        return {
            "root": str(self.root),
            "config_file": self._rel(self.config_file),
            "created": [self._rel(p) for p in self.created],
            "updated": [self._rel(p) for p in self.updated],
            "changed": self.changed,
        }

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


def _readmes(config: DbConfig) -> list[tuple[Path, str]]:
    """The scaffold: each folder (relative to the root) and the README it gets."""
    order = _SCHEMA_ORDER.format(schema_dir=config.schema_dir)
    schema = Path(config.schema_dir)
    items = [(schema / name, f"# {name}\n\n{what}\n\n{order}") for name, what in _SCHEMA_PARTS]
    items.append(
        (
            Path(config.migrations_dir),
            _MIGRATIONS_README.format(tracking_table=config.tracking_table),
        )
    )
    items.append((Path(config.seeds_dir), _SEEDS_README))
    return items


def _toml_str(value: str) -> str:
    # A JSON string is a valid TOML basic string for everything json.dumps emits.
    return json.dumps(value, ensure_ascii=False)


def db_section_toml(config: DbConfig, prefix: str) -> str:
    """The ``db`` section as TOML under ``prefix`` (``db`` or ``tool.plimsoll.db``)."""
    env = config.default_environment
    return (
        f"# Databases for `plimsoll db` (added by `plimsoll db init`). An environment whose url\n"
        f"# is missing or empty uses the PostgreSQL plimsoll runs itself in "
        f"{config.embedded.data_dir};\n"
        f"# set DATABASE_URL (or write a url) to use another server.\n"
        f"[{prefix}]\n"
        f"schema_dir = {_toml_str(config.schema_dir)}\n"
        f"migrations_dir = {_toml_str(config.migrations_dir)}\n"
        f"seeds_dir = {_toml_str(config.seeds_dir)}\n"
        f"default_environment = {_toml_str(env)}\n"
        f"tracking_table = {_toml_str(config.tracking_table)}\n"
        f"lock_timeout = {_toml_str(config.lock_timeout)}\n"
        f"statement_timeout = {_toml_str(config.statement_timeout)}\n"
        f"\n"
        f"[{prefix}.environments.{_toml_key(env)}]\n"
        f'url = "${{DATABASE_URL:-}}"\n'
    )


def _toml_key(key: str) -> str:
    if key and all(ch.isalnum() or ch in "_-" for ch in key):
        return key
    return _toml_str(key)


def db_section_yaml(config: DbConfig) -> str:
    """The ``db`` section as YAML (for ``plimsoll.yaml``)."""
    env = config.default_environment
    return (
        "# Databases for `plimsoll db` (added by `plimsoll db init`). An environment whose url\n"
        f"# is missing or empty uses the PostgreSQL plimsoll runs itself in "
        f"{config.embedded.data_dir};\n"
        "# set DATABASE_URL (or write a url) to use another server.\n"
        "db:\n"
        f"  schema_dir: {_toml_str(config.schema_dir)}\n"
        f"  migrations_dir: {_toml_str(config.migrations_dir)}\n"
        f"  seeds_dir: {_toml_str(config.seeds_dir)}\n"
        f"  default_environment: {_toml_str(env)}\n"
        f"  tracking_table: {_toml_str(config.tracking_table)}\n"
        f"  lock_timeout: {_toml_str(config.lock_timeout)}\n"
        f"  statement_timeout: {_toml_str(config.statement_timeout)}\n"
        "  environments:\n"
        f"    {_toml_str(env)}:\n"
        '      url: "${DATABASE_URL:-}"\n'
    )


def config_file_for(root: Path) -> Path:
    """The file ``db init`` writes to: the first of plimsoll.toml/.yaml/.yml, pyproject.toml.

    The same order the loader reads them in, so the section lands where it will be read;
    ``plimsoll.toml`` (to be created) when there is none of them.
    """
    for name in ("plimsoll.toml", "plimsoll.yaml", "plimsoll.yml", "pyproject.toml"):
        candidate = root / name
        if candidate.is_file():
            return candidate
    return root / "plimsoll.toml"


def _parse(path: Path, text: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot be parsed: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of settings at the top level")
    return data


def _db_section(path: Path, data: dict[str, Any]) -> Any:
    if path.name == "pyproject.toml":
        tool = data.get("tool")
        plimsoll = tool.get("plimsoll") if isinstance(tool, dict) else None
        return plimsoll.get("db") if isinstance(plimsoll, dict) else None
    return data.get("db")


def _section_for(path: Path, config: DbConfig) -> str:
    if path.suffix in (".yaml", ".yml"):
        return db_section_yaml(config)
    return db_section_toml(config, "tool.plimsoll.db" if path.name == "pyproject.toml" else "db")


def _add_config(path: Path, config: DbConfig) -> bool:
    """Append the db section to ``path`` unless it has one; True when the file changed."""
    existing = ""
    if path.exists():
        try:
            existing = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from None
        if _db_section(path, _parse(path, existing)) is not None:
            return False
    section = _section_for(path, config)
    addition = section
    if existing:
        addition = ("" if existing.endswith("\n") else "\n") + "\n" + section
    combined = existing + addition
    # Appending must keep the file readable and give it the section: a document that cannot
    # take it (an inline [tool.plimsoll] table, a YAML list) is refused, not damaged.
    try:
        ok = _db_section(path, _parse(path, combined)) is not None
    except ConfigError:
        ok = False
    if not ok:
        raise ConfigError(
            f"{path}: cannot append the db section without rewriting the file; add it by "
            f"hand:\n{section}"
        )
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(addition)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror}") from None
    return True


def init_project(root: Path, config: DbConfig | None = None) -> InitResult:
    """Scaffold the database folders under ``root`` and add the db configuration section.

    Returns what was created and updated; a second run finds everything in place and returns
    an InitResult whose ``changed`` is false.
    """
    config = config or DbConfig()
    root = root.resolve()
    created: list[Path] = []
    # A schema folder the user already has is theirs: no numbered parts are added to it.
    schema_existed = (root / config.schema_dir).exists()
    schema = Path(config.schema_dir)
    for folder, readme in _readmes(config):
        target = root / folder
        if target.exists() or (schema_existed and folder.parent == schema):
            continue
        target.mkdir(parents=True)
        created.append(target)
        (target / "README.md").write_text(readme, encoding="utf-8")
        created.append(target / "README.md")
    config_file = config_file_for(root)
    is_new = not config_file.exists()
    updated: list[Path] = []
    if _add_config(config_file, config):
        (created if is_new else updated).append(config_file)
    return InitResult(root, config_file, tuple(created), tuple(updated))
