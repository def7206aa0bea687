#!/usr/bin/env python3
"""Benchmark: ``plimsoll db migrate up`` against psql, and ``migrate status`` at 10,000 migrations.

Server: a throwaway PostgreSQL made by this script with the system's ``initdb`` (run as the
``postgres`` user through ``runuser`` when we are root) in a ``/tmp`` folder of mode 0755,
listening on a unix socket in that folder only, with the same settings as the test fixture
(``fsync``, ``synchronous_commit`` and ``full_page_writes`` off): commits cost the same for
both sides, and the numbers measure the tools rather than the disk. Everyone connects through
that socket. The server is stopped and its folder removed at the end.

(a) ``up``: 500 migrations, each ``CREATE TABLE t_<i>`` plus an ``INSERT`` of one row, applied
to a fresh database (``CREATE DATABASE ... TEMPLATE template0``) by:

* ``plimsoll db migrate up`` (the CLI: process start, config, advisory lock, the tracking
  table, parsing, a transaction per migration, the run history in the SQLite store);
* psql, one session: one script of ``BEGIN; \\i <file> COMMIT;`` per file with
  ``ON_ERROR_STOP`` (one transaction per file, one process, one connection);
* psql, one process per file: ``psql -X -v ON_ERROR_STOP=1 --single-transaction -f <file>``.

The target compares plimsoll with the faster psql way (the one session), which does strictly
less work (no tracking rows, no lock, no history): **plimsoll <= 1.5x psql**.

(b) ``status``: 10,000 small migration files on disk and 10,000 matching rows written straight
into ``plimsoll_migrations`` (same checksums, so nothing is pending or changed). Timed: the CLI
``plimsoll db migrate status`` in ``--format json`` and in text (the default, a rich table of
10,000 rows), the process start alone (``import plimsoll.cli.main``), and ``Migrator.status()``
in this process. Target: **<= 0.5 s** (the CLI in JSON, and in process; text is shown too).

Each measurement is the best of ``--repeat`` runs (fresh database per ``up`` run). A missed target
prints MISS, never fails; exit code 3 only when something could not run. ``--profile`` prints
where the time goes (cProfile of ``up`` and ``status`` in process).

Usage: ``.venv/bin/python bench/bench_migrate.py [--migrations 500] [--applied 10000]
[--repeat 3] [--profile] [--keep]``
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _benchlib import (  # noqa: E402
    CannotRun,
    Verdicts,
    main_guard,
    main_python,
    say,
    table,
    timed,
)

UP_TARGET = 1.5
STATUS_TARGET_SECONDS = 0.5
PORT = 5432  # the socket lives in the server's own folder, so the number cannot clash


# --- the throwaway server --------------------------------------------------------------------


def _bindir() -> Path:
    """The folder of initdb, pg_ctl, postgres and psql."""
    tools = ("initdb", "pg_ctl", "postgres", "psql")
    candidates = []
    if os.environ.get("PLIMSOLL_PG_BINDIR"):
        candidates.append(Path(os.environ["PLIMSOLL_PG_BINDIR"]))
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for folder in candidates:
        if all(os.access(folder / tool, os.X_OK) for tool in tools):
            return folder
    raise CannotRun("PostgreSQL binaries (initdb, pg_ctl, postgres, psql) not found")


class Server:
    """A PostgreSQL cluster in a 0755 folder under /tmp, on a unix socket only."""

    def __init__(self) -> None:
        self.bindir = _bindir()
        self.root = Path(tempfile.mkdtemp(prefix="plimsoll-bench-pg-", dir="/tmp"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("postgres")
            except KeyError:
                raise CannotRun("running as root, but there is no 'postgres' user") from None
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)

    def _run(self, *argv: str) -> None:
        cmd = [str(self.bindir / argv[0]), *argv[1:]]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user.pw_name, "--", *cmd]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", TZ="UTC")
        done = subprocess.run(
            cmd, cwd=self.root, env=env, capture_output=True, text=True, check=False, timeout=180
        )
        if done.returncode != 0:
            raise CannotRun(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")

    def start(self) -> None:
        """initdb, configure (as the test fixture does) and start."""
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
            "--locale=C", "--no-sync",
        )  # fmt: skip
        settings = {
            "listen_addresses": "''",
            "unix_socket_directories": f"'{self.root}'",
            "port": str(PORT),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "50",
            "shared_buffers": "128MB",
            "log_min_messages": "warning",
            "timezone": "'UTC'",
            # Segments in the data folder (removed with it), not left in /dev/shm by the
            # immediate stop.
            "dynamic_shared_memory_type": "mmap",
        }
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as handle:
            handle.write("".join(f"{k} = {v}\n" for k, v in settings.items()))
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "start"
        )

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        if (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except CannotRun as exc:
                say(f"could not stop the server: {exc}")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, dbname: str) -> str:
        """A libpq URL to ``dbname`` over the socket."""
        return f"postgresql://postgres@/{dbname}?host={self.root}&port={PORT}"

    def fresh(self, dbname: str) -> str:
        """Drop and create ``dbname``; its URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url("postgres"), autocommit=True) as admin:
            name = sql.Identifier(dbname)
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(name))
        return self.url(dbname)


@contextmanager
def server(keep: bool) -> Iterator[Server]:
    """A started server, stopped and removed afterwards (unless ``keep``)."""
    pg = Server()
    say(f"initdb + start in {pg.root}")
    try:
        pg.start()
        yield pg
    finally:
        if keep:
            say(f"kept {pg.root} (server still running)")
        else:
            pg.stop()


# --- projects --------------------------------------------------------------------------------


def make_project(root: Path, count: int, width: int) -> Path:
    """A project folder whose migrations are ``count`` CREATE TABLE + INSERT files."""
    folder = root / "db" / "migrations"
    folder.mkdir(parents=True)
    (root / "plimsoll.toml").write_text(
        '[db]\ndefault_environment = "bench"\nmigrations_dir = "db/migrations"\n'
        '[db.environments.bench]\nurl = "${PLIMSOLL_BENCH_URL}"\n',
        encoding="utf-8",
    )
    for i in range(1, count + 1):
        (folder / f"{i:0{width}d}_t{i}.up.sql").write_text(
            f"CREATE TABLE t_{i} (id integer PRIMARY KEY, note text NOT NULL);\n"
            f"INSERT INTO t_{i} (id, note) VALUES (1, 'row of migration {i}');\n",
            encoding="utf-8",
        )
    return folder


def psql_session_script(folder: Path) -> str:
    """One psql script running every file in its own transaction."""
    lines = ["\\set ON_ERROR_STOP 1"]
    for path in sorted(folder.glob("*.up.sql")):
        lines += ["BEGIN;", f"\\i {path}", "COMMIT;"]
    return "\n".join(lines) + "\n"


def _count_tables(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 't\\_%'"
        ).fetchone()
    return int(row[0]) if row else 0


def best(runs: int, once: Callable[[int], float]) -> float:
    """The best of ``runs`` calls of ``once(run_number)``."""
    return min(once(n) for n in range(runs))


def best_interleaved(runs: int, *contenders: Callable[[int], float]) -> list[float]:
    """The best time of each contender, running them in turn, ``runs`` rounds.

    Taking turns keeps a slow spell of the machine (another process, a checkpoint) from
    landing on one contender's runs only, which made the ratio swing between runs.
    """
    times: list[list[float]] = [[] for _ in contenders]
    for n in range(runs):
        for i, once in enumerate(contenders):
            times[i].append(once(n))
    return [min(t) for t in times]


def settle(url: str) -> None:
    """Checkpoint, so the new database's files are written before the timed run starts."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


# --- (a) up ----------------------------------------------------------------------------------


def bench_up(
    pg: Server, work: Path, count: int, repeat: int, profile: bool
) -> tuple[list[list[object]], float, float, float]:
    """Time ``migrate up`` and both psql ways; the table rows and the three best times."""
    python = main_python()
    project = work / "up"
    folder = make_project(project, count, 4)
    psql = pg.bindir / "psql"
    script = work / "session.sql"
    script.write_text(psql_session_script(folder), encoding="utf-8")
    files = sorted(folder.glob("*.up.sql"))

    def plimsoll_once(n: int) -> float:
        url = pg.fresh(f"up_plimsoll_{n}")
        settle(url)
        shutil.rmtree(project / ".plimsoll", ignore_errors=True)
        run = timed(
            [python, "-m", "plimsoll", "db", "migrate", "up", "-f", "json"],
            cwd=project,
            env={"PLIMSOLL_BENCH_URL": url, "CI": "true"},
        )
        if _count_tables(url) != count:
            raise CannotRun("plimsoll did not create every table")
        return run.seconds

    def session_once(n: int) -> float:
        url = pg.fresh(f"up_psql_session_{n}")
        settle(url)
        run = timed([psql, "-X", "-q", "-d", url, "-f", script])
        if _count_tables(url) != count:
            raise CannotRun("psql (one session) did not create every table")
        return run.seconds

    def per_file_once(n: int) -> float:
        url = pg.fresh(f"up_psql_files_{n}")
        started = time.perf_counter()
        for path in files:
            done = subprocess.run(
                [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction"]
                + ["-d", url, "-f", str(path)],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise CannotRun(f"psql -f {path.name} failed: {done.stderr.strip()}")
        took = time.perf_counter() - started
        if _count_tables(url) != count:
            raise CannotRun("psql (one process per file) did not create every table")
        return took

    # A new cluster's first runs also create its WAL segment files (measured: 3-5x slower for
    # both sides): one untimed round of each first, so the numbers are the tools'.
    say("(a) warm-up: one untimed run of each")
    plimsoll_once(repeat)
    session_once(repeat)
    say(
        f"(a) {count} migrations: plimsoll db migrate up and psql in one session, in turn x{repeat}"
    )
    ours, session = best_interleaved(repeat, plimsoll_once, session_once)
    say(f"(a) psql, one process per file x{repeat}")
    per_file = best(repeat, per_file_once)
    start_up = best(
        repeat, lambda _n: timed([python, "-c", "import plimsoll.cli.main"], cwd=project).seconds
    )

    if profile:
        from plimsoll.db.migrator import Migrator

        url = pg.fresh("up_profile")
        _profiled("Migrator.up() in process", lambda: Migrator(url, folder).up())

    rows: list[list[object]] = [
        ["plimsoll db migrate up (CLI)", ours, ours / count * 1000, "1.00x"],
        ["  of which process start", start_up, "", ""],
        ["psql, one session, BEGIN/\\i/COMMIT", session, session / count * 1000, f"{ours / session:.2f}x"],
        ["psql -f per file --single-transaction", per_file, per_file / count * 1000, f"{ours / per_file:.2f}x"],
    ]  # fmt: skip
    return rows, ours, session, per_file


# --- (b) status ------------------------------------------------------------------------------


def fill_tracking_table(url: str, folder: Path) -> int:
    """Create ``plimsoll_migrations`` as the migrator does and copy one row per file into it."""
    import psycopg

    from plimsoll.db import migrations as files

    found = files.discover(folder)
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE plimsoll_migrations ("
            " version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now(), execution_ms integer NOT NULL,"
            " applied_by text NOT NULL DEFAULT current_user,"
            " applied_rank bigint GENERATED BY DEFAULT AS IDENTITY)"
        )
        with conn.cursor().copy(
            "COPY plimsoll_migrations (version, name, checksum, execution_ms) FROM STDIN"
        ) as copy:
            for m in found:
                copy.write_row((m.version, m.name, m.checksum, 3))
    return len(found)


def bench_status(
    pg: Server, work: Path, count: int, repeat: int, profile: bool
) -> tuple[list[list[object]], dict[str, float]]:
    """Time ``migrate status`` (CLI and in process); the table rows and the best times."""
    python = main_python()
    project = work / "status"
    folder = project / "db" / "migrations"
    folder.mkdir(parents=True)
    (project / "plimsoll.toml").write_text(
        '[db]\ndefault_environment = "bench"\n'
        '[db.environments.bench]\nurl = "${PLIMSOLL_BENCH_URL}"\n',
        encoding="utf-8",
    )
    width = len(str(count))
    for i in range(1, count + 1):
        (folder / f"{i:0{width}d}_m{i}.up.sql").write_text(
            f"CREATE TABLE m_{i} (id integer);\n", encoding="utf-8"
        )
    url = pg.fresh("status")
    rows_in = fill_tracking_table(url, folder)
    if rows_in != count:
        raise CannotRun(f"expected {count} migrations on disk, found {rows_in}")
    env = {"PLIMSOLL_BENCH_URL": url, "CI": "true", "NO_COLOR": "1"}

    def cli(fmt: str) -> float:
        run = timed(
            [python, "-m", "plimsoll", "db", "migrate", "status", "-f", fmt], cwd=project, env=env
        )
        if fmt == "json" and '"pending": []' not in run.stdout:
            raise CannotRun("status reported pending migrations: the setup is wrong")
        return run.seconds

    say(f"(b) status with {count} applied: CLI json, text x{repeat}")
    json_s = best(repeat, lambda _n: cli("json"))
    text_s = best(repeat, lambda _n: cli("text"))
    start_up = best(
        repeat, lambda _n: timed([python, "-c", "import plimsoll.cli.main"], cwd=project).seconds
    )

    from plimsoll.db import migrations as files
    from plimsoll.db.migrator import Migrator

    def in_process(_n: int) -> float:
        started = time.perf_counter()
        status = Migrator(url, folder).status()
        took = time.perf_counter() - started
        if len(status.applied) != count or status.pending or status.drift:
            raise CannotRun("Migrator.status() does not see every migration applied")
        return took

    say(f"(b) Migrator.status() in process x{repeat}")
    inproc = best(repeat, in_process)
    discover = best(repeat, lambda _n: _timed_call(lambda: files.discover(folder)))
    if profile:
        _profiled("Migrator.status() in process", lambda: Migrator(url, folder).status())

    rows: list[list[object]] = [
        ["plimsoll db migrate status -f json (CLI)", json_s],
        ["plimsoll db migrate status (CLI, text table)", text_s],
        ["  process start (import plimsoll.cli.main)", start_up],
        ["Migrator.status() in process", inproc],
        [f"  of which discover() (read + hash {count} files)", discover],
    ]
    return rows, {"json": json_s, "text": text_s, "inproc": inproc}


def _timed_call(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _profiled(label: str, fn: Callable[[], object]) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(25)
    print(f"\n== profile: {label} (top 25 by cumulative time)\n{out.getvalue()}")


# --- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--migrations", type=int, default=500)
    parser.add_argument("--applied", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print cProfile of up and status")
    parser.add_argument("--keep", action="store_true", help="keep the server and project folders")
    args = parser.parse_args()

    verdicts = Verdicts("bench_migrate")
    work = Path(tempfile.mkdtemp(prefix="plimsoll-bench-migrate-", dir="/tmp"))
    try:
        with server(args.keep) as pg:
            up_rows, ours, session, per_file = bench_up(
                pg, work, args.migrations, args.repeat, args.profile
            )
            status_rows, status = bench_status(pg, work, args.applied, args.repeat, args.profile)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print(f"\n== (a) {args.migrations} migrations on a fresh database (best of {args.repeat})")
    print(table(["run", "seconds", "ms/migration", "plimsoll / this"], up_rows))
    print(f"\n== (b) status with {args.applied} applied migrations (best of {args.repeat})")
    print(table(["run", "seconds"], status_rows))
    print()
    faster = min(session, per_file)
    peer = "one session" if faster == session else "one process per file"
    verdicts.target(
        f"migrate up x{args.migrations} vs psql ({peer}, the faster)",
        f"{ours:.2f} s / {faster:.2f} s = {ours / faster:.2f}x",
        f"<= {UP_TARGET}x",
        ours / faster <= UP_TARGET,
    )
    verdicts.target(
        f"migrate status, {args.applied} applied, CLI json",
        f"{status['json']:.3f} s",
        f"<= {STATUS_TARGET_SECONDS} s",
        status["json"] <= STATUS_TARGET_SECONDS,
    )
    verdicts.target(
        f"migrate status, {args.applied} applied, CLI text table",
        f"{status['text']:.3f} s",
        f"<= {STATUS_TARGET_SECONDS} s",
        status["text"] <= STATUS_TARGET_SECONDS,
    )
    verdicts.target(
        f"Migrator.status(), {args.applied} applied, in process",
        f"{status['inproc']:.3f} s",
        f"<= {STATUS_TARGET_SECONDS} s",
        status["inproc"] <= STATUS_TARGET_SECONDS,
    )
    verdicts.summary()


if __name__ == "__main__":
    main_guard(main)
