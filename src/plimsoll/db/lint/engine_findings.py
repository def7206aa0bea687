"""The findings the lint engine makes itself, documented like rules.

``syntax-error`` (a file PostgreSQL's parser rejects), ``encoding-error`` (a file that is not
UTF-8) and ``psql-meta-command`` (a psql backslash line, which is not SQL) come from reading
and parsing, not from a rule's check; they have pages
(``--explain``, ``docs/rules``), SARIF descriptors and ids that ``--select``/``--ignore`` and
inline ignores take, like rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from plimsoll.db.lint.findings import ENCODING_ERROR, PSQL_META_COMMAND, SYNTAX_ERROR


@dataclass(frozen=True)
class EngineFinding:
    """One engine finding's documentation: its id, SARIF name, severity and texts."""

    id: str
    name: str
    severity: str
    summary: str
    help: str
    body: str

    def markdown(self) -> str:
        """Its page, in the layout of the rules' pages."""
        return (
            f"# {self.id}\n\n{self.summary}\n\n| | |\n| --- | --- |\n"
            f"| Default severity | {self.severity} |\n| PostgreSQL versions | all |\n"
            "| Kind | engine (reported while parsing each file) |\n\n"
            f"{self.body}\n\n**Remedy.** {self.help}\n"
        )


SYNTAX = EngineFinding(
    id=SYNTAX_ERROR,
    name="SyntaxError",
    severity="error",
    summary="The file does not parse as PostgreSQL SQL.",
    help="Fix the statement: PostgreSQL's own parser rejects it.",
    body="""\
**Problem.** PostgreSQL's own parser (through pglast) rejects a statement of the file, so
nothing in that file can be checked.

**Why.** The migration would fail when it runs, and every rule is blind to the file until it
parses. The other files are still linted.

**Fix.** Correct the statement at the reported line and column. A dialect PostgreSQL does not
speak (MySQL backticks, SQL Server brackets) or a template placeholder left unrendered are the
usual causes.

**Example.**

```sql
-- a missing comma: syntax error at or near "name"
CREATE TABLE users (id bigint PRIMARY KEY name text);
```""",
)

ENCODING = EngineFinding(
    id=ENCODING_ERROR,
    name="EncodingError",
    severity="error",
    summary="The file is not UTF-8.",
    help="Save the file as UTF-8 (iconv -f LATIN1 -t UTF-8, from its real encoding):"
    " plimsoll reads, builds and migrates UTF-8 only.",
    body="""\
**Problem.** A byte of the file does not decode as UTF-8 (a file saved as Latin-1 or
Windows-1252, a binary file with a `.sql` name), so nothing in that file can be checked. The
finding points at the line and column of the first such byte.

**Why.** plimsoll's build and migrator read SQL files as UTF-8 and refuse this one, so the
migration would not run; every rule is blind to the file. The other files are still linted.

**Fix.** Convert the file to UTF-8 from the encoding it was written in (`iconv -f LATIN1 -t
UTF-8 old.sql > new.sql`), or remove it if it is not SQL.

**Example.**

```sql
-- saved as Latin-1: the é is the single byte 0xe9
CREATE TABLE café (id bigint PRIMARY KEY);
```""",
)

META_COMMAND = EngineFinding(
    id=PSQL_META_COMMAND,
    name="PsqlMetaCommand",
    severity="info",
    summary="A psql meta-command line: not SQL, so not linted.",
    help="Nothing to do for the harmless ones; remove the others (\\i, \\c, ...): plimsoll's "
    "build and migrator refuse a file that holds them.",
    body="""\
**Problem.** A line starting with a backslash (outside strings, quoted names, dollar-quoted
bodies and comments) is a command of psql, not SQL: PostgreSQL's parser cannot read it, so the
line is left out and the rest of the file is linted.

**Why.** Scripts keep `\\set ON_ERROR_STOP on` and `\\echo` lines: plimsoll's build and
migrator skip these (and `\\qecho`, `\\warn`), so they are a note (severity info). The
`\\restrict KEY` / `\\unrestrict KEY` lines that `pg_dump` writes (since PostgreSQL 17.6,
16.10, 15.14, 14.19 and 13.22) are its own security markers, in every dump: they are skipped
without a finding. Any other meta-command (`\\i`, `\\c`, `\\gset`,
...) changes what the script does in ways plimsoll does not follow: its build and migrator
refuse the file, so it is an error.

**Fix.** Keep the harmless ones if psql runs the file too; move what `\\i` includes into the
file (or into its own migration), and connect with the environment's URL instead of `\\c`.

**Example.**

```sql
\\set ON_ERROR_STOP on
\\i tables.sql
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
```""",
)

ENGINE_DOCS = {finding.id: finding for finding in (SYNTAX, ENCODING, META_COMMAND)}
