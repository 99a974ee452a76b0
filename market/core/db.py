"""Database engine, the one session scope, and the column types every model shares.

PostgreSQL is the reference; SQLite is the embedded default. Every place where the
two differ lives in this module: money is stored as integer fen (exact SUM on both),
timestamps come back timezone-aware, SQLite gets foreign keys and a busy timeout.

Units of work are either writing or read-only (`session_scope(write=False)`; the API makes GET/HEAD
requests read-only). SQLite runs in WAL: a read-only unit begins a deferred transaction (plain BEGIN), so
readers never wait for each other or for the one writer; a writing unit takes the write lock up front
(BEGIN IMMEDIATE), so two read-then-write transactions can never deadlock on the lock upgrade. Because a
deferred transaction that later wrote could fail that way, a read-only unit cannot write at all: its
flushes and DML raise `ReadOnlyUnitOfWork`, and the database refuses raw writes too (SQLite
`PRAGMA query_only`, PostgreSQL `SET TRANSACTION READ ONLY`), on both databases alike.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from market.core.config import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CENT = Decimal("0.01")


def to_money(value: Decimal | int | str) -> Decimal:
    """Quantize to yuan with 2 places; floats are refused, they are never money."""
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


class Money(sa.types.TypeDecorator[Decimal]):
    """Yuan as Decimal in Python, integer fen in the database (exact on SQLite and PostgreSQL)."""

    impl = sa.BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> int | None:
        if value is None:
            return None
        return int(to_money(value) * 100)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(int(value)) / 100).quantize(CENT)

    @property
    def python_type(self) -> type:
        return Decimal


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite keeps no offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use market.core.db.utcnow()")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)

    @property
    def python_type(self) -> type:
        return dt.datetime


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY.
BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


M = TypeVar("M", bound=Base)


class IdMixin:
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)


def is_sqlite(bind: Engine | sa.Connection | Session) -> bool:
    return bind.get_bind().dialect.name == "sqlite" if isinstance(bind, Session) else bind.dialect.name == "sqlite"


# Execution option that marks a connection's transactions read-only (set by the read-only sessionmaker).
READ_ONLY = "market_read_only"


class ReadOnlyUnitOfWork(RuntimeError):
    """A write was attempted in a read-only unit of work (a GET/HEAD request, or `session_scope(write=False)`)."""


def _is_read_only(conn: sa.Connection) -> bool:
    return bool(conn.get_execution_options().get(READ_ONLY))


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        if "poolclass" not in kwargs and ":memory:" not in url and url.rstrip("/") != "sqlite:":
            # As many pooled connections as requests in flight (the default kept 5 and opened and closed the
            # rest per request, each with its PRAGMAs); a SQLite connection is a file handle and some cache.
            kwargs.setdefault("pool_size", 32)
            kwargs.setdefault("max_overflow", 32)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, decide when transactions begin (BEGIN IMMEDIATE below).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        writers = _WriterQueue(engine.dialect)

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: sa.Connection) -> None:
            read_only = _is_read_only(conn)
            info = conn.connection.info
            if info.get("query_only", False) != read_only:
                conn.exec_driver_sql(f"PRAGMA query_only={'ON' if read_only else 'OFF'}")
                info["query_only"] = read_only
            # Readers: deferred, on a WAL snapshot, waiting for nobody. Writers: one at a time, the
            # lock taken up front, so no two read-then-write transactions deadlock upgrading it.
            if read_only:
                conn.exec_driver_sql("BEGIN")
                return
            writers.enter(conn.connection)
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                writers.leave(conn.connection)
                raise

        return engine
    if "poolclass" not in kwargs:
        # Kept open: 20 (10 made every request beyond the tenth open and close a server connection); at most
        # 30 per process as before, so two API workers and the Celery worker stay under max_connections=100.
        kwargs.setdefault("pool_size", 20)
        kwargs.setdefault("max_overflow", 10)
    engine = sa.create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)

    @event.listens_for(engine, "begin")
    def _pg_begin(conn: sa.Connection) -> None:
        # psycopg begins READ ONLY itself (postgresql_readonly, see set_engine): no extra round trip.
        if _is_read_only(conn) and not conn.get_execution_options().get("postgresql_readonly"):
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")

    return engine


class _WriterQueue:
    """This process's SQLite writers wait their turn on a lock, not in SQLite's busy handler.

    The busy handler polls: a writer that finds the database locked sleeps 1, 2, 5, 10 … up to 100 ms between
    tries, so under a few concurrent writers one in ten waited hundreds of milliseconds for a lock that had
    been free most of that time (bench/load.py: create p99 above 1 s at 8 connections). Here a writer waits
    on a lock held from its `BEGIN IMMEDIATE` to the end of its COMMIT or ROLLBACK (wrapped around the
    dialect's own, so every path out of a transaction, pool resets included, hands the turn on) and is woken
    the moment it is free. Other processes (a second uvicorn worker, Celery) still meet in the busy handler.
    After the busy timeout a writer stops waiting here and tries `BEGIN IMMEDIATE` anyway, as before.
    """

    def __init__(self, dialect: sa.Dialect) -> None:
        self._lock = threading.Lock()
        self._holder: Any = None
        self._timeout = 30.0
        commit, rollback = dialect.do_commit, dialect.do_rollback

        def do_commit(dbapi_connection: Any) -> None:
            try:
                commit(dbapi_connection)
            finally:
                self.leave(dbapi_connection)

        def do_rollback(dbapi_connection: Any) -> None:
            try:
                rollback(dbapi_connection)
            finally:
                self.leave(dbapi_connection)

        dialect.do_commit = do_commit  # type: ignore[method-assign]  # this engine's dialect instance only
        dialect.do_rollback = do_rollback  # type: ignore[method-assign]

    @staticmethod
    def _raw(connection: Any) -> Any:
        # The dialect is handed the pool's proxy or the driver's connection, depending on the path.
        return getattr(connection, "dbapi_connection", connection)

    def enter(self, connection: Any) -> None:
        if self._lock.acquire(timeout=self._timeout):
            self._holder = self._raw(connection)

    def leave(self, connection: Any) -> None:
        if self._holder is not None and self._holder is self._raw(connection):
            self._holder = None
            self._lock.release()


# A pooled PostgreSQL connection is pinged before it is handed out only when it sat idle this long. A
# connection used a moment ago is alive; `pool_pre_ping` pinged before every checkout, a round trip to the
# server per request (a PostgreSQL restart is noticed the same way, on each connection's next use after it).
PING_WHEN_IDLE_FOR = 2.0  # seconds


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _note_idle(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_WHEN_IDLE_FOR:
            return  # just opened, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as err:
            # The pool drops this connection and hands out a new one (up to three attempts).
            raise sa.exc.DisconnectionError(f"pooled connection failed its ping: {err}") from err


_engine: Engine | None = None
_sessionmaker: sessionmaker[Session] | None = None
_read_sessionmaker: sessionmaker[Session] | None = None


def get_engine() -> Engine:
    if _engine is None:
        set_engine(create_db_engine(get_settings().sqlalchemy_url))
    assert _engine is not None
    return _engine


def set_engine(engine: Engine) -> None:
    """Point the application at another engine (tests, benchmarks)."""
    global _engine, _sessionmaker, _read_sessionmaker
    _engine = engine
    _sessionmaker = sessionmaker(engine, expire_on_commit=False)
    # Same pool and events; its connections carry READ_ONLY, which the "begin" listeners act on.
    options: dict[str, Any] = {READ_ONLY: True}
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        options["postgresql_readonly"] = True  # the driver sends BEGIN READ ONLY; reset when pooled again
    _read_sessionmaker = sessionmaker(
        engine.execution_options(**options), expire_on_commit=False, info={READ_ONLY: True}
    )


def new_session(*, write: bool = True) -> Session:
    get_engine()
    maker = _sessionmaker if write else _read_sessionmaker
    assert maker is not None
    return maker()


@event.listens_for(Session, "before_flush")
def _refuse_flush_when_read_only(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(READ_ONLY) and (session.new or session.dirty or session.deleted):
        raise ReadOnlyUnitOfWork("a read-only unit of work (GET/HEAD request) tried to write")


@event.listens_for(Session, "do_orm_execute")
def _refuse_dml_when_read_only(state: Any) -> None:
    if state.session.info.get(READ_ONLY) and (state.is_insert or state.is_update or state.is_delete):
        raise ReadOnlyUnitOfWork("a read-only unit of work (GET/HEAD request) tried to write")


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run callback once the surrounding transaction has committed (never on rollback)."""
    session.info.setdefault("after_commit", []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    callbacks = session.info.pop("after_commit", [])
    for callback in callbacks:
        try:
            callback()
        except Exception:  # noqa: BLE001 - a post-commit nudge must never undo a commit
            import logging

            logging.getLogger(__name__).exception("after-commit callback failed")


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    session.info.pop("after_commit", None)


@contextmanager
def session_scope(*, write: bool = True) -> Iterator[Session]:
    """The one unit of work: services flush, this commits (or rolls back).

    `write=False`: a read-only unit (never waits for other readers or the writer; cannot write).
    """
    session = new_session(write=write)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def json_array_contains(column: Any, value: str) -> sa.ColumnElement[bool]:
    """`value` is an element of the JSON array in `column` (JSONB containment on PostgreSQL)."""
    return _JsonContains(column, value)


class _JsonContains(sa.sql.expression.ColumnElement[bool]):
    inherit_cache = True
    type = sa.Boolean()

    def __init__(self, column: Any, value: str) -> None:
        self.column = column
        self.value = value


@compiles(_JsonContains, "postgresql")
def _json_contains_pg(element: _JsonContains, compiler: Any, **kw: Any) -> str:
    import json

    rhs = sa.cast(sa.literal(json.dumps([element.value])), JSONB)
    return compiler.process(element.column.op("@>")(rhs), **kw)


@compiles(_JsonContains)
def _json_contains_default(element: _JsonContains, compiler: Any, **kw: Any) -> str:
    each = sa.func.json_each(element.column).table_valued("value")
    stmt = sa.exists(sa.select(1).select_from(each).where(each.c.value == element.value))
    return compiler.process(stmt, **kw)


def _bind(col_type: sa.types.TypeDecorator[Any], value: Any, *, dialect: sa.Dialect) -> Any:
    return col_type.process_bind_param(value, dialect)


def get_existing(session: Session, model: type[M], ident: Any) -> M:
    """The row of `model` with primary key `ident` that a foreign key guarantees; LookupError (a bug) if missing.

    For rows reached from another row (a project's bid, a bid's call); a row a client names is looked up with
    `session.get` and answered with a 404 when missing.
    """
    row = session.get(model, ident)
    if row is None:
        raise LookupError(f"{model.__name__} {ident!r} is missing")
    return row


def bulk_insert(session: Session, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows in the session's transaction: COPY on PostgreSQL (fast), executemany elsewhere.

    Column types still apply (Money → fen, JSON → text); every row must have the same keys.
    """
    if not rows:
        return
    if is_sqlite(session) or session.get_bind().dialect.driver != "psycopg":
        session.execute(table.insert(), rows)
        return
    import json

    dialect = session.get_bind().dialect

    names = list(rows[0])
    converters: list[Callable[[Any], Any] | None] = []
    for name in names:
        col_type = table.c[name].type
        if isinstance(col_type, sa.types.TypeDecorator):
            converters.append(partial(_bind, col_type, dialect=dialect))
        elif isinstance(col_type, sa.JSON):
            converters.append(lambda v: None if v is None else json.dumps(v, ensure_ascii=False))
        else:
            converters.append(None)
    pairs = list(zip(names, converters, strict=True))
    columns = ", ".join(f'"{n}"' for n in names)
    driver = session.connection().connection.driver_connection
    assert driver is not None  # a live psycopg connection: the session just checked it out
    with driver.cursor() as cursor:
        with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([row[n] if conv is None else conv(row[n]) for n, conv in pairs])


def upsert_adding(
    session: Session,
    table: sa.Table,
    rows: list[dict[str, Any]],
    *,
    keys: list[str],
    add: list[str],
    keep_greatest: Sequence[str] = (),
) -> None:
    """INSERT rows; where a row with the same `keys` exists, add the `add` columns to it instead.

    One statement (INSERT … ON CONFLICT DO UPDATE on both databases); `keep_greatest` columns keep
    the larger of the stored and the new value. No two rows may share the same keys.
    """
    if not rows:
        return
    from sqlalchemy.dialects import postgresql, sqlite

    # Both dialects' INSERT … ON CONFLICT take the same arguments; SQLite's two-argument max() is scalar.
    stmt: sqlite.Insert | postgresql.Insert
    greatest: Callable[..., Any]
    if is_sqlite(session):
        stmt, greatest = sqlite.insert(table).values(rows), sa.func.max
    else:
        stmt, greatest = postgresql.insert(table).values(rows), sa.func.greatest
    updates: dict[str, Any] = {name: table.c[name] + stmt.excluded[name] for name in add}
    updates.update({name: greatest(table.c[name], stmt.excluded[name]) for name in keep_greatest})
    session.execute(stmt.on_conflict_do_update(index_elements=[table.c[k] for k in keys], set_=updates))


def lock_against_writes(session: Session, table: sa.Table) -> None:
    """Block writers of `table` until the transaction ends (SQLite: its one writer already holds the lock)."""
    if not is_sqlite(session):
        session.execute(sa.text(f'LOCK TABLE "{table.name}" IN SHARE MODE'))
