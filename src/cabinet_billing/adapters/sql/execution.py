"""The SQL store's hot statements, compiled once per dialect and run on the driver's cursor.

SQLAlchemy Core builds and checks each statement; running one through
``Connection.execute`` also looks it up in the compiled cache, builds an execution
context, processes its parameters and sets up a result, every time. The statements a
renewal runs — loading aggregates and writing what changed — are few and always the same,
so the store compiles each of them once (:class:`Prepared`: its SQL text for the
dialect, its parameters in order with their types' bind processors, its columns' result
processors) and runs it on the DBAPI cursor of the SQLAlchemy connection the unit of work
holds, in the same transaction and savepoint. DDL, migrations and rare queries stay on
SQLAlchemy.

What SQLAlchemy would do around the cursor still happens: the engine's
``before_cursor_execute`` and ``after_cursor_execute`` events fire for every statement
(with the statement's text and parameters, once for a statement run with many parameter
sets), and an error of the driver is SQLAlchemy's (``IntegrityError``,
``OperationalError`` ...), with a lost connection invalidated, as
``Connection.execute`` raises it.

Values go through the same type processors as with ``Connection.execute``, so they are
stored and read exactly as before:

>>> from datetime import date
>>> from decimal import Decimal
>>> from sqlalchemy import Column, Date, MetaData, Numeric, Table, create_engine, insert, select
>>> from sqlalchemy import bindparam
>>> table = Table("t", MetaData(), Column("day", Date), Column("rate", Numeric(12, 6)))
>>> engine = create_engine("sqlite://")
>>> table.metadata.create_all(engine)
>>> with engine.begin() as connection:
...     written = Prepared(insert(table), engine.dialect, ("day", "rate"))
...     run(connection, written, [{"day": date(2024, 3, 1), "rate": Decimal("1.5")}]).rowcount
...     read = Prepared(select(table).where(table.c.day == bindparam("day")), engine.dialect)
...     run(connection, read, {"day": date(2024, 3, 1)}).rows
1
[{'day': datetime.date(2024, 3, 1), 'rate': Decimal('1.500000')}]

A unit of work's commit sends its writes as :class:`Write` objects through
:func:`send`: on PostgreSQL with psycopg 3 in one pipeline (one round trip for all of
them), elsewhere one after the other. A write that checks a version (``UPDATE ... WHERE
version = :read`` that must match one row) and matches none, or that breaks a
constraint, raises :class:`~cabinet_billing.errors.ConflictError` naming the aggregate
of that write, whichever of the writes it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn, cast

from sqlalchemy.exc import IntegrityError

from cabinet_billing.errors import ConflictError

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.engine import Dialect
    from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["Prepared", "Ran", "Write", "run", "run_together", "send"]

Params = Mapping[str, Any]
_Processor = Callable[[Any], Any] | None


class _Plan(NamedTuple):
    """A statement's text and how to bind its parameters, for one size of each IN list."""

    text: str
    names: tuple[str, ...]
    """The names of the parameters in the order the text takes them."""
    slots: tuple[tuple[int, Any, int, _Processor], ...]
    """Per parameter: where its value comes from (0: the parameter of that name; 1: an
    element of an expanding one; 2: a value fixed in the statement), the name or value,
    the element's index and the bind processor."""
    named: tuple[tuple[str, _Processor], ...] | None
    """When every value is a parameter of its name (most statements): the names and
    bind processors, in order; None otherwise."""


_FROM_PARAM, _FROM_LIST, _FIXED = 0, 1, 2


class _Reader(NamedTuple):
    """How to read a statement's rows: the columns' names and their result processors."""

    names: tuple[str, ...]
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]
    """The columns that have a result processor (by position), with it."""


class Ran(NamedTuple):
    """What a statement gave: its rows (None: it returns none) and the rows it changed."""

    rows: list[Mapping[Any, Any]] | None
    rowcount: int


class Prepared:
    """A statement compiled once for a dialect, run on a connection's cursor with :func:`run`.

    Args:
        statement: a SQLAlchemy Core statement (with bound parameters, ``bindparam``).
        dialect: the dialect of the connections it runs on.
        keys: for an ``INSERT`` or ``UPDATE`` without values of its own, the columns
            that its parameters give (as ``Connection.execute`` takes them from the
            first parameter set).

    A statement that SQLAlchemy must render anew for each execution (literal values
    rendered into its text) or that computes defaults in Python is run through
    ``Connection.execute`` instead (:attr:`through_sqlalchemy`).
    """

    __slots__ = (
        "_compiled",
        "_dialect",
        "_expanding",
        "_plans",
        "_processors",
        "_readers",
        "_types",
        "_untyped",
        "positional",
        "statement",
        "through_sqlalchemy",
    )

    def __init__(
        self,
        statement: Any,  # noqa: ANN401 - any executable Core statement
        dialect: Dialect,
        keys: Sequence[str] | None = None,
    ) -> None:
        self.statement = statement
        self._dialect = dialect
        compiled: SQLCompiler = statement.compile(
            dialect=dialect, column_keys=list(keys) if keys is not None else None
        )
        self._compiled = compiled
        self.positional = bool(compiled.positional)
        self.through_sqlalchemy = bool(
            compiled.literal_execute_params
            or compiled.escaped_bind_names
            or compiled.insert_prefetch
            or compiled.update_prefetch
        )
        binds = compiled.binds
        self._expanding = tuple(
            name for name, bind in binds.items() if bind.expanding and bind in compiled.bind_names
        )
        self._processors: dict[str, _Processor] = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in binds.items()
        }
        self._types = [c.type for c in getattr(statement, "exported_columns", ())]
        self._plans: dict[tuple[int, ...], _Plan] = {}
        self._readers: dict[object, _Reader] = {}
        # pysqlite gives no type codes: a statement's columns are known by their number.
        self._untyped = dialect.name == "sqlite"

    def plan(self, params: Params) -> _Plan:
        """The text and parameter slots for parameters like these (the sizes of their lists)."""
        expanding = self._expanding
        sizes = tuple(len(params[name]) for name in expanding) if expanding else ()
        found = self._plans.get(sizes)
        if found is None:
            found = self._plans[sizes] = self._make_plan(params)
        return found

    def _make_plan(self, params: Params) -> _Plan:
        compiled = self._compiled
        state = compiled.construct_expanded_state(dict(params))
        names = tuple(state.positiontup or ()) if self.positional else tuple(state.parameters)
        elements = {
            element: (name, index)
            for name, expanded in state.parameter_expansion.items()
            for index, element in enumerate(expanded)
        }
        processors = self._processors
        slots: list[tuple[int, Any, int, _Processor]] = []
        for name in names:
            if name in elements:
                of, index = elements[name]
                slots.append((_FROM_LIST, of, index, processors.get(of)))
            elif name in params:
                slots.append((_FROM_PARAM, name, 0, processors.get(name)))
            else:
                value = state.parameters[name]
                processor = processors.get(name)
                fixed = value if processor is None else processor(value)
                slots.append((_FIXED, fixed, 0, None))
        named = None
        if all(source == _FROM_PARAM for source, *_ in slots):
            named = tuple((name, processor) for _, name, _, processor in slots)
        return _Plan(state.statement, names, tuple(slots), named)

    def bind(self, plan: _Plan, params: Params) -> tuple[Any, ...] | dict[str, Any]:
        """The parameters as the driver takes them: processed, in order or by name."""
        if plan.named is not None:
            values = [
                params[name] if processor is None else processor(params[name])
                for name, processor in plan.named
            ]
            if self.positional:
                return tuple(values)
            return dict(zip(plan.names, values, strict=True))
        values = []
        for source, name, index, processor in plan.slots:
            if source == _FROM_PARAM:
                value = params[name]
            elif source == _FROM_LIST:
                value = params[name][index]
            else:
                values.append(name)
                continue
            values.append(value if processor is None else processor(value))
        if self.positional:
            return tuple(values)
        return dict(zip(plan.names, values, strict=True))

    def reader(self, description: Sequence[Sequence[Any]]) -> _Reader:
        """The names of the result's columns and their result processors (by column type)."""
        key: object = len(description) if self._untyped else tuple([c[1] for c in description])
        found = self._readers.get(key)
        if found is None:
            codes = tuple(column[1] for column in description)
            names = tuple(str(column[0]) for column in description)
            types = self._types
            dialect = self._dialect
            if len(types) == len(names):
                processors = tuple(
                    t.dialect_impl(dialect).result_processor(dialect, code)
                    for t, code in zip(types, codes, strict=True)
                )
            else:
                processors = (None,) * len(names)
            processed = tuple((i, p) for i, p in enumerate(processors) if p is not None)
            found = self._readers[key] = _Reader(names, processed)
        return found


def run(
    connection: Connection, prepared: Prepared, params: Params | Sequence[Params] | None = None
) -> Ran:
    """Run a prepared statement on a connection's cursor, in the connection's transaction.

    Args:
        connection: the SQLAlchemy connection (its DBAPI connection runs it).
        prepared: the statement.
        params: its parameters; a list of them runs it once per parameter set.

    Returns:
        Its rows (with the columns' result processors applied), or None when it returns
        none, and its row count.
    """
    if prepared.through_sqlalchemy:
        return _through_sqlalchemy(connection, prepared, params)
    sets: Sequence[Params] = params if isinstance(params, list) else [cast("Params", params or {})]
    if not sets:
        return Ran(None, 0)
    plan = prepared.plan(sets[0])
    bound = [prepared.bind(plan, p) for p in sets]
    many = len(bound) > 1
    cursor = connection.connection.cursor()
    try:
        _execute(connection, cursor, plan.text, bound if many else bound[0], many=many)
        return _ran(prepared, cursor)
    finally:
        cursor.close()


def _ran(prepared: Prepared, cursor: Any) -> Ran:  # noqa: ANN401 - the DBAPI cursor
    """What a statement's execution on a cursor gave: its processed rows, its row count."""
    description: Sequence[Sequence[Any]] | None = cursor.description
    if description is None:
        return Ran(None, cursor.rowcount)
    names, processed = prepared.reader(description)
    fetched = cursor.fetchall()
    rows: list[Mapping[Any, Any]]
    if processed:
        rows = []
        for row in fetched:
            values = list(row)
            for index, processor in processed:
                values[index] = processor(values[index])
            rows.append(dict(zip(names, values, strict=True)))
    else:
        rows = [dict(zip(names, row, strict=True)) for row in fetched]
    return Ran(rows, cursor.rowcount)


def run_together(
    connection: Connection, reads: Sequence[tuple[Prepared, Params]]
) -> list[list[Mapping[Any, Any]]]:
    """Run queries in one psycopg 3 pipeline: sent together, their rows read at one sync.

    Each query runs as :func:`run` would run it, in the connection's transaction, in
    order; the rows of each come back in that order.

    Raises:
        sqlalchemy.exc.DBAPIError: the driver's error of the first query that failed,
            as :func:`run` raises it.
    """
    driver = connection.connection.driver_connection
    bound = []
    for prepared, params in reads:
        plan = prepared.plan(params)
        bound.append((prepared, plan.text, [prepared.bind(plan, params)]))
    sent: list[tuple[Prepared, str, list[Any]]] = []
    refused = connection.dialect.loaded_dbapi.Error
    try:
        try:
            with driver.pipeline():  # type: ignore[union-attr]
                for prepared, text, values in bound:
                    cursors: list[Any] = []
                    sent.append((prepared, text, cursors))
                    _pipeline_execute(connection, driver, text, values, cursors)
        except refused as error:
            failed = next((t for _, t, c in sent if not c or c[0].pgresult is None), None)
            _as_sqlalchemy(connection, error, failed)
        found = []
        for prepared, _, cursors in sent:
            rows = _ran(prepared, cursors[0]).rows
            found.append([] if rows is None else rows)
        return found
    finally:
        for _, _, cursors in sent:
            for cursor in cursors:
                cursor.close()


def _execute(
    connection: Connection,
    cursor: Any,  # noqa: ANN401 - the DBAPI cursor
    text: str,
    parameters: Any,  # noqa: ANN401 - one parameter set or a list of them
    *,
    many: bool,
) -> None:
    """Execute on a cursor as ``Connection.execute`` would: events, logging, errors."""
    events = connection._has_events or connection.engine._has_events  # noqa: SLF001
    try:
        if events:
            for fn in connection.dispatch.before_cursor_execute:
                text, parameters = fn(connection, cursor, text, parameters, None, many)
        if connection._echo:  # noqa: SLF001
            connection._log_info(text)  # noqa: SLF001
        if many:
            cursor.executemany(text, parameters)
        else:
            cursor.execute(text, parameters)
        if events:
            connection.dispatch.after_cursor_execute(
                connection, cursor, text, parameters, None, many
            )
    except BaseException as error:  # noqa: BLE001 - SQLAlchemy's own handling raises it
        connection._handle_dbapi_exception(error, text, parameters, cursor, None)  # noqa: SLF001


def _through_sqlalchemy(
    connection: Connection, prepared: Prepared, params: Params | Sequence[Params] | None
) -> Ran:
    result = connection.execute(prepared.statement, params)
    if not result.returns_rows:
        return Ran(None, result.rowcount)
    return Ran([dict(row) for row in result.mappings()], result.rowcount)


class Write(NamedTuple):
    """A write of a commit, and the aggregate a conflict in it is about.

    Attributes:
        prepared: the statement.
        params: its parameter sets (one or more).
        what: the aggregate it writes (``"service 'ser-1'"``), named by the
            :class:`~cabinet_billing.errors.ConflictError` of a broken constraint;
            None: such an error is left as it is.
        done: what the commit did to the aggregate (``"stored"``, ``"changed"``).
        version: the version read, when the write must match exactly one row (its
            version check); None: no check.
    """

    prepared: Prepared
    params: list[Params]
    what: str | None = None
    done: str = "changed"
    version: int | None = None

    def conflict(self) -> ConflictError:
        """The error of a version check that matched no row."""
        return ConflictError(
            str(self.what),
            f"was changed by another unit of work after version {self.version} "
            "was read; nothing was stored, load it again and retry",
        )

    def clash(self) -> ConflictError:
        """The error of a write that broke a constraint (another unit of work's row)."""
        return ConflictError(
            str(self.what),
            f"was {self.done} by another unit of work at the same time; nothing was stored",
        )


def send(connection: Connection, writes: Sequence[Write], *, pipeline: bool) -> None:
    """Run a commit's writes in order, in one psycopg pipeline when ``pipeline`` is set.

    Raises:
        ConflictError: for the first write (in their order) whose version check matched
            no row or that broke a constraint, naming its aggregate.
    """
    if not writes:
        return
    if pipeline and not any(w.prepared.through_sqlalchemy for w in writes):
        _pipelined(connection, writes)
        return
    for write in writes:
        try:
            ran = run(connection, write.prepared, write.params)
        except IntegrityError as error:
            if write.what is None:
                raise
            raise write.clash() from error
        if write.version is not None and ran.rowcount != 1:
            raise write.conflict()


def _pipelined(connection: Connection, writes: Sequence[Write]) -> None:
    """The writes in one pipeline: sent together, their results read at one sync.

    Each execution has a cursor of its own, so that each version check reads its own row
    count, and the statement that failed is the first whose cursor got no result.
    """
    driver = connection.connection.driver_connection
    planned = []
    for write in writes:
        prepared = write.prepared
        plan = prepared.plan(write.params[0])
        planned.append((write, plan.text, [prepared.bind(plan, p) for p in write.params]))
    sent: list[tuple[Write, str, list[Any]]] = []
    failed: Exception | None = None
    refused = connection.dialect.loaded_dbapi.Error
    try:
        try:
            with driver.pipeline():  # type: ignore[union-attr]
                for write, text, bound in planned:
                    cursors: list[Any] = []
                    sent.append((write, text, cursors))
                    try:
                        _pipeline_execute(connection, driver, text, bound, cursors)
                    except refused as error:
                        # A statement sent before failed: the rest would be refused.
                        failed = error
                        break
        except refused as error:
            failed = failed or error
        if failed is not None:
            _failure(connection, sent, failed)
        for write, _, cursors in sent:
            if write.version is not None and cursors[0].rowcount != 1:
                raise write.conflict()
    finally:
        for _, _, cursors in sent:
            for cursor in cursors:
                cursor.close()


def _failure(
    connection: Connection, sent: Sequence[tuple[Write, str, list[Any]]], error: Exception
) -> NoReturn:
    """Raise the error of a pipeline that failed, for the write that failed.

    The statements ran in order up to the one that failed (the first whose cursors did
    not all get a result); the others were not run. A version check of an earlier write
    that matched no row is the first conflict; otherwise the driver's error is
    SQLAlchemy's, and a broken constraint the conflict of the failed write's aggregate.
    """
    failed, text = None, None
    for write, statement, cursors in sent:
        if not cursors or any(c.pgresult is None for c in cursors):
            failed, text = write, statement
            break
        if write.version is not None and cursors[0].rowcount != 1:
            raise write.conflict() from error
    try:
        _as_sqlalchemy(connection, error, text)
    except IntegrityError as wrapped:
        if failed is None or failed.what is None:
            raise
        raise failed.clash() from wrapped


def _pipeline_execute(
    connection: Connection,
    driver: Any,  # noqa: ANN401 - psycopg's connection
    text: str,
    bound: list[Any],
    cursors: list[Any],
) -> None:
    events = connection._has_events or connection.engine._has_events  # noqa: SLF001
    many = len(bound) > 1
    parameters: Any = bound if many else bound[0]
    if events:
        cursor = driver.cursor()
        cursors.append(cursor)
        for fn in connection.dispatch.before_cursor_execute:
            text, parameters = fn(connection, cursor, text, parameters, None, many)
        bound = list(parameters) if many else [parameters]
    if connection._echo:  # noqa: SLF001
        connection._log_info(text)  # noqa: SLF001
    for index, values in enumerate(bound):
        if index >= len(cursors):
            cursors.append(driver.cursor())
        cursors[index].execute(text, values)


def _as_sqlalchemy(connection: Connection, error: Exception, text: str | None) -> NoReturn:
    """Raise a driver's error as ``Connection.execute`` would (a lost connection invalidated)."""
    try:
        raise error  # noqa: TRY301 - SQLAlchemy's handling reads the exception being handled
    except Exception as raised:  # noqa: BLE001 - SQLAlchemy's handling raises it again
        connection._handle_dbapi_exception(raised, text, None, None, None)  # noqa: SLF001
