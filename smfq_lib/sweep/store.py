"""The results store of a sweep: one SQLite database, a row per grid point.

Tables: ``points`` (a row per point: ``key``, ``status``, one column per parameter and output,
``error``, ``attempts``, ``wall_time``, ``version``, ``task``, ``finished_at``),
``smfq_columns`` (each parameter and output column: its role and the kind of values it holds)
and ``smfq_meta`` (the store's format and the task function it belongs to).

Values keep their Python type exactly: ints are SQLite integers, floats SQLite reals (bit for
bit; a NaN, which SQLite would turn into NULL, is kept as the 8 bytes of the float), strings
text, ``None`` NULL; a bool column (its kind is ``bool``) holds 0 and 1 and reads back as bools,
so a column cannot mix bools with other values. Every write is one transaction (``BEGIN
IMMEDIATE`` ... ``COMMIT``) in WAL mode: a killed process loses only what it had not committed,
and several processes can write one store at once (each waits for the other's commit, up to
:data:`BUSY_SECONDS`; several may also create the same new store at once: the first open
retries while another process holds the file). ``synchronous=NORMAL`` (no fsync per commit:
0.7 ms a point, against 5-11 ms with ``FULL``, measured here): a commit survives the process
being killed; a power cut may roll back the last commits, never damage the file, and the sweep
recomputes those points.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import os
import sqlite3
import struct
import time
from pathlib import Path

import pandas as pd

from smfq_lib import __version__
from smfq_lib.sweep.grid import META_COLUMNS, expand_grid, point_key

__all__ = ["RESULTS_DIR", "SUFFIX", "Store", "load_results", "store_path"]

RESULTS_DIR = "results"
"""Directory (relative to the working directory) of stores given by a bare name."""

SUFFIX = ".sqlite"
FORMAT = "smfq sweep store 1"
BUSY_SECONDS = 600.0
"""How long a write waits for another process's transaction on the same store."""

_SCHEMA = (
    "CREATE TABLE smfq_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE smfq_columns (name TEXT PRIMARY KEY, role TEXT NOT NULL, kind TEXT)",
    "CREATE TABLE points (key TEXT PRIMARY KEY, status TEXT NOT NULL, error TEXT, "
    "attempts INTEGER NOT NULL, wall_time REAL, version TEXT, task TEXT, finished_at TEXT)",
)
_NAN = struct.Struct(">d")
#: SQLite's default limit on the columns of a table (``SQLITE_MAX_COLUMN``).
MAX_COLUMNS = 2000


def store_path(store) -> Path:
    """Path of a results store: a bare name ``"gap"`` -> ``results/gap.sqlite``; a path ending in
    ``.sqlite`` as given (relative to the working directory)."""
    fix = "a bare name (for results/<name>.sqlite) or a path ending in .sqlite"
    if not isinstance(store, str | os.PathLike):
        raise ValueError(f"store must be {fix}; got {type(store).__name__}.")
    path = Path(store)
    if str(store) == "" or path.name in ("", ".", ".."):
        raise ValueError(f"store must be {fix}; got {str(store)!r}.")
    if path.suffix == "":
        if path.parent != Path("."):
            raise ValueError(
                f"store {str(store)!r} is a path without the .sqlite suffix; pass "
                f"{str(store) + SUFFIX!r}, or a bare name for results/<name>.sqlite."
            )
        return Path(RESULTS_DIR) / f"{path.name}{SUFFIX}"
    if path.suffix != SUFFIX:
        raise ValueError(
            f"store {str(store)!r} must be {fix} (the store is an SQLite database); got suffix "
            f"{path.suffix!r}: pass {str(path.with_suffix(SUFFIX))!r}."
        )
    return path


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _kind(value) -> str | None:
    return None if value is None else type(value).__name__  # bool, int, float or str


def _merge(kind: str | None, new: str | None, name: str) -> str | None:
    """Kind of a column after a value of kind ``new``; bools never mix with other values."""
    if new is None or kind == new:
        return kind
    if kind is None:
        return new
    if "bool" in (kind, new):
        raise ValueError(
            f"column {name!r} would hold both bools and other values ({kind}, {new}); use one "
            "type for it at every point."
        )
    return "number" if {kind, new} <= {"int", "float", "number"} else "mixed"


def plan_columns(columns: dict, role: str, values: dict) -> dict:
    """``columns`` ({name: (role, kind)}) updated with one point's values of ``role``.

    Raises ValueError when a name is a column of the other role, differs from a column only in
    case (SQLite column names ignore case), or would mix bools with other values.
    """
    out = dict(columns)
    folded = {n.lower(): n for n in out}
    for name, value in values.items():
        existing = folded.get(name.lower())
        if existing is not None and existing != name:
            raise ValueError(
                f"{role} {name!r} and the store's column {existing!r} differ only in case, "
                "which SQLite column names ignore; rename it."
            )
        old_role, kind = out.get(name, (role, None))
        if old_role != role:
            raise ValueError(f"{role} {name!r} is a {old_role} in this store; rename it.")
        out[name] = (role, _merge(kind, _kind(value), name))
        folded[name.lower()] = name
    if len(out) + len(META_COLUMNS) > MAX_COLUMNS:
        raise ValueError(
            f"the store would need {len(out)} parameter and output columns (with "
            f"{len(META_COLUMNS)} of its own), over SQLite's limit of {MAX_COLUMNS} columns; "
            "return fewer outputs (e.g. summaries), or save large ones to a file and return its "
            "path."
        )
    return out


def _decode(value, kind: str | None):
    if isinstance(value, bytes):  # a float SQLite cannot hold as a real (NaN)
        if len(value) != _NAN.size:
            raise ValueError("a stored value is a blob that is not a float")
        return _NAN.unpack(value)[0]
    if kind == "bool" and value is not None:
        return bool(value)
    return value


def _encode(value):
    if isinstance(value, float) and math.isnan(value):
        return _NAN.pack(value)
    return value


class Store:
    """An open results store (``create=True``: made if missing, for a sweep; else it must exist).

    ``path`` is the real file: symlinks and ``..`` are resolved, so one store reached by two
    spellings is one database. ``writable``: opened for writing (``create=True`` and the file and
    its folder writable by this process); otherwise read-only (``mode=ro``), so that reading
    results never needs write access.
    """

    def __init__(self, store, *, create: bool):
        given = store_path(store)
        self.path = given.resolve()
        if self.path.exists() and not self.path.is_file():
            raise ValueError(f"store {given} is not a file; pass another store.")
        if not create and not self.path.exists():
            raise ValueError(f"store {given} does not exist; run the sweep first (run_sweep).")
        if create and not self.path.exists():
            self._make_folder()
        self.writable = create and all(
            os.access(p, os.W_OK) for p in (self.path.parent, self.path) if p.exists()
        )
        uri = self.path.as_uri() + ("?mode=rwc" if self.writable else self._read_only_query())
        self.db = sqlite3.connect(uri, uri=True, timeout=BUSY_SECONDS, isolation_level=None)
        try:
            with self._errors():
                self._open_waiting(self.writable)
        except BaseException:
            self.db.close()
            raise

    def _make_folder(self) -> None:
        """The folder of a new store, made if missing; ValueError if the store cannot be made."""
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(
                f"cannot create store {self.path}: its folder cannot be made ({exc.strerror}); "
                "pass a store in a folder you can write."
            ) from None
        if not os.access(folder, os.W_OK):
            raise ValueError(
                f"cannot create store {self.path}: its folder {folder} is not writable; pass a "
                "store in a folder you can write (a finished store can be read from a read-only "
                "folder)."
            )

    def _read_only_query(self) -> str:
        """The URI query that opens this store for reading only.

        ``mode=ro`` needs the WAL index (``-shm``) beside the file, or a folder where SQLite can
        create it. In a read-only folder without one, no process has the store open (SQLite
        removes both files when the last connection closes), so the file is read as it is
        (``immutable=1``: no locks, no index). A non-empty ``-wal`` there holds commits that are
        not in the file yet, which cannot be read without write access: ValueError.
        """
        folder = self.path.parent
        shm, wal = (folder / f"{self.path.name}-{x}" for x in ("shm", "wal"))
        if os.access(folder, os.W_OK) or shm.exists():
            return "?mode=ro"
        if wal.exists() and wal.stat().st_size > 0:
            raise ValueError(
                f"store {self.path} cannot be read in its read-only folder: {wal.name} holds "
                "commits not yet in the file (a sweep on it is running or was killed). Open it "
                "once with write access (e.g. load_results as its owner), or copy the folder."
            )
        return "?mode=ro&immutable=1"

    def read_only_error(self, what: str) -> ValueError:
        """The error of a write this process cannot make; ``what`` says what needed it."""
        return ValueError(
            f"store {self.path} is read-only to this process (the file or its folder is not "
            f"writable) and {what}; make both writable (chmod u+w), or copy the store to a "
            "folder you can write and pass that. A complete store is read without write access."
        )

    def _open_waiting(self, create: bool) -> None:
        """:meth:`_open`, retried while another process holds the file (up to
        :data:`BUSY_SECONDS` in all). Needed on first open: SQLite's busy timeout does not cover
        the switch to WAL mode, which fails at once while another process creates the same new
        store (issue 22: 5 of 160 calls when four sweeps started together)."""
        deadline = time.monotonic() + BUSY_SECONDS
        pause = 0.001
        while True:
            try:
                return self._open(create)
            except sqlite3.OperationalError as exc:
                busy = getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(2 * pause, 0.05)

    def _open(self, create: bool) -> None:
        if create:
            self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        with self.transaction(write=create):
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master")}
            if not tables and create:
                for statement in _SCHEMA:
                    self.db.execute(statement)
                self.db.execute("INSERT INTO smfq_meta VALUES ('format', ?)", (FORMAT,))
                return
            row = None
            if "smfq_meta" in tables:
                row = self.db.execute("SELECT value FROM smfq_meta WHERE name='format'").fetchone()
            if row is None or row[0] != FORMAT:
                raise ValueError(
                    f"{self.path} is an SQLite database but not an smfq results store "
                    f"(format {row[0] if row else 'unknown'!r}, expected {FORMAT!r}); move it "
                    "away or pass another store."
                )
            problem = self._schema_problem()
            if problem:
                raise ValueError(
                    f"{self.path} has the format tag of an smfq results store but not its schema "
                    f"({problem}); it was written by another program or damaged: move it away or "
                    "pass another store."
                )

    def _schema_problem(self) -> str | None:
        """What differs from the schema this module writes (tables and their columns), or None."""
        kinds = dict(self.db.execute("SELECT name, type FROM sqlite_master"))
        for statement in _SCHEMA:
            table = statement.split()[2]
            if kinds.get(table) != "table":
                return f"{table!r} is {'missing' if table not in kinds else 'a ' + kinds[table]}"
            have = {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}
            want = [c.split()[0] for c in statement.split("(", 1)[1].split(", ")]
            if table == "points":
                want += list(self.columns())
            missing = [c for c in want if c not in have]
            if missing:
                return f"table {table!r} lacks columns {missing}"
        return None

    @contextlib.contextmanager
    def _errors(self):
        """SQLite's errors about the file itself, as ValueErrors that say what to do."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            name = getattr(exc, "sqlite_errorname", "")
            if name.startswith("SQLITE_READONLY"):
                raise self.read_only_error(f"SQLite refused a write ({exc})") from None
            if name.startswith("SQLITE_CANTOPEN"):
                raise ValueError(
                    f"store {self.path} cannot be opened ({exc}); check that it and its folder "
                    "are readable (and writable, to add points)."
                ) from None
            if name in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
                raise ValueError(
                    f"{self.path} is not an smfq results store ({exc}: not an SQLite database, "
                    "or a damaged one); move it away or pass another store."
                ) from None
            if "decode to UTF-8" in str(exc):
                raise ValueError(
                    f"store {self.path} holds a text that is not valid UTF-8 ({exc}); it was "
                    "written by another program or damaged: fix or delete that row."
                ) from None
            raise

    @contextlib.contextmanager
    def transaction(self, *, write: bool = True):
        """One transaction; ``write`` takes the write lock at once (waiting for other writers)."""
        self.db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def columns(self) -> dict:
        """``{name: (role, kind)}`` of the parameter and output columns, in the order added."""
        rows = self.db.execute("SELECT name, role, kind FROM smfq_columns ORDER BY rowid")
        return {name: (role, kind) for name, role, kind in rows}

    def claim(self, task: str) -> None:
        """Bind the store to ``task`` (one store holds the results of one task function)."""
        query = "SELECT value FROM smfq_meta WHERE name='task'"
        with self._errors(), self.transaction(write=self.writable):
            row = self.db.execute(query).fetchone()
            if row is None and not self.writable:
                raise self.read_only_error(f"holds no results of {task} yet")
            if row is None:
                self.db.execute("INSERT INTO smfq_meta VALUES ('task', ?)", (task,))
            owner = task if row is None else row[0]
        if owner != task:
            raise ValueError(
                f"store {self.path} holds results of {owner}, not of {task}; give this sweep its "
                "own store (one store per task function)."
            )

    def statuses(self) -> dict[str, str]:
        """``{key: status}`` of every stored point."""
        with self._errors():
            return dict(self.db.execute("SELECT key, status FROM points"))

    def status(self, key: str) -> str | None:
        with self._errors():
            row = self.db.execute("SELECT status FROM points WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def record(self, key: str, params: dict, result: dict, task: str) -> tuple[str, str | None]:
        """Store one finished point in its own transaction; return its status and error.

        ``result`` is ``{"status": "ok", "outputs": {...}, "wall_time": s}`` or ``{"status":
        "failed", "error": text, "wall_time": s}``. Outputs that do not fit the store's columns
        make the point ``failed`` with that error. A point already stored ``ok`` (by another
        sweep on this store) is kept as it is and ``("kept", None)`` is returned.
        """
        with self._errors(), self.transaction():
            before = self.columns()
            columns = plan_columns(before, "parameter", params)
            outputs = result.get("outputs", {})
            status, error = result["status"], result.get("error")
            try:
                columns = plan_columns(columns, "output", outputs)
            except ValueError as exc:
                status, error, outputs = "failed", f"ValueError: {exc}", {}
            old = self.db.execute(
                "SELECT status, attempts FROM points WHERE key = ?", (key,)
            ).fetchone()
            if old is not None and old[0] == "ok":
                return "kept", None
            for name, (role, kind) in columns.items():
                if name not in before:
                    self.db.execute(f"ALTER TABLE points ADD COLUMN {_quote(name)}")
                    self.db.execute("INSERT INTO smfq_columns VALUES (?, ?, ?)", (name, role, kind))
                elif before[name][1] != kind:
                    update = "UPDATE smfq_columns SET kind = ? WHERE name = ?"
                    self.db.execute(update, (kind, name))
            wall = result.get("wall_time")
            row = {
                "key": key,
                "status": status,
                **{name: _encode(v) for name, v in {**params, **outputs}.items()},
                "error": error,
                "attempts": 1 + (old[1] if old else 0),
                "wall_time": None if wall is None or math.isnan(wall) else float(wall),
                "version": __version__,
                "task": task,
                "finished_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            }
            names = ", ".join(_quote(n) for n in row)
            marks = ", ".join("?" * len(row))
            insert = f"INSERT OR REPLACE INTO points ({names}) VALUES ({marks})"
            self.db.execute(insert, [*row.values()])
        return status, error

    def read(self, *, include_failed: bool) -> tuple[dict, list[str], list[tuple]]:
        """Columns (``{name: (role, kind)}``), the names of the row fields, and the rows (in the
        order they were last written), values decoded."""
        with self._errors(), self.transaction(write=False):
            columns = self.columns()
            params = [n for n, (role, _) in columns.items() if role == "parameter"]
            outputs = [n for n, (role, _) in columns.items() if role == "output"]
            names = ["key", "status", *params, *outputs, *META_COLUMNS[2:]]
            where = "" if include_failed else " WHERE status = 'ok'"
            select = f"SELECT {', '.join(map(_quote, names))} FROM points{where} ORDER BY rowid"
            raw = self.db.execute(select).fetchall()
        kinds = [columns.get(n, (None, None))[1] for n in names]
        try:
            rows = [tuple(map(_decode, row, kinds)) for row in raw]
        except ValueError as exc:
            raise ValueError(
                f"store {self.path}: {exc}; the file was edited by another program."
            ) from None
        return columns, names, rows


_META_DTYPES = {"attempts": "int64", "wall_time": "float64"}


def _column(values: list, kind: str | None) -> pd.Series:
    """One column with the dtype of its kind (nullable Int64/boolean where a value is None)."""
    missing = any(v is None for v in values)
    if kind == "bool":
        return pd.Series(values, dtype="boolean" if missing else bool)
    if kind == "int":
        return pd.Series(values, dtype="Int64" if missing else "int64")
    if kind == "float" or (
        kind == "number"
        and all(isinstance(v, float) or v is None or abs(v) <= 2**53 for v in values)
    ):
        return pd.Series([math.nan if v is None else v for v in values], dtype="float64")
    if kind == "str":
        return pd.Series(values, dtype="str")
    return pd.Series(values, dtype=object)


def load_results(store, *, grid=None, include_failed: bool = False) -> pd.DataFrame:
    """The results of a store as a DataFrame: one row per grid point, columns typed.

    Columns: ``key``, ``status``, the parameters, the outputs, then ``error``, ``attempts``
    (times the point was run), ``wall_time`` (seconds of the task), ``version``
    (``smfq_lib.__version__``), ``task`` and ``finished_at`` (UTC). A column's dtype follows the
    values it holds: ``int64``, ``float64`` (every float bit for bit), ``bool`` or ``str``;
    ``Int64`` / ``boolean`` (pandas' nullable types) for ints or bools with a ``None`` among them
    (a ``None`` float or str is NaN); ``float64`` for ints mixed with floats; ``object`` otherwise.
    With ``grid`` (as for :func:`run_sweep`): that grid's points only, in its order (points not
    stored yet are left out); without: every point, in the order they were stored. Failed points
    are left out unless ``include_failed``.
    """
    with Store(store, create=False) as st:
        columns, names, rows = st.read(include_failed=include_failed)
    if grid is not None:
        by_key = {row[0]: row for row in rows}
        rows = [by_key[k] for k in map(point_key, expand_grid(grid)) if k in by_key]
    data = {}
    for j, name in enumerate(names):
        values = [row[j] for row in rows]
        if name in _META_DTYPES:
            data[name] = pd.Series(values, dtype=_META_DTYPES[name])
        elif name in META_COLUMNS:
            data[name] = pd.Series(values, dtype="str")
        else:
            data[name] = _column(values, columns[name][1])
    return pd.DataFrame(data)
