"""`ttadmin`: the operators' CLI (typer + rich). See docs/operations.md for each command and the
runbooks that use them.

    ttadmin token --role province_admin --org 610000
    ttadmin projections [SERVICE...]
    ttadmin rebuild SERVICE PROJECTION [--source auto|store|stream|feed] [--yes]
    ttadmin dead-letters list SERVICE [PROJECTION] [--state pending|replayed|discarded|all] | show SERVICE ID
    ttadmin dead-letters replay SERVICE ID... | --stream STREAM | --all [--projection P]
    ttadmin dead-letters discard SERVICE ID... --reason TEXT [--by NAME]
    ttadmin outbox [SERVICE...]

Exit codes: 0 done; 1 failed (unreachable database, a replay still failing, a dead letter not
pending for replay or discard, ...); 2 usage
(unknown service or projection, missing option); 3 a rebuild finished but dead-lettered events.
Every listing takes --json for scripts; progress and warnings go to stderr, results to stdout.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import asyncpg
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from shared import deadletters
from shared.auth import ROLES
from shared.bus import BusNames
from shared.devstack import SERVICES
from shared.service import ServiceSpec
from shared.settings import Settings

from . import ops, targets
from .targets import TargetError

app = typer.Typer(help="Operators' tools for the teacher-training services (docs/operations.md).",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  rich_markup_mode="markdown")
dead_letters_app = typer.Typer(help="List, inspect, replay and discard dead-lettered events.", no_args_is_help=True,
                               rich_markup_mode="markdown")
app.add_typer(dead_letters_app, name="dead-letters")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
EXIT_FAILED, EXIT_USAGE, EXIT_DEAD_LETTERS = 1, 2, 3
T = TypeVar("T")

# Options shared by several commands.
DatabaseUrl = Annotated[str | None, typer.Option(
    "--database-url", envvar="TTADMIN_DATABASE_URL", show_envvar=False,
    help="The service's own database, used as given. Default: tt_<service> on DATABASE_URL's server, "
         "else on `make run`'s embedded PostgreSQL.")]
NatsUrl = Annotated[str | None, typer.Option(
    "--nats-url", help="Default: NATS_URL, else `make run`'s embedded NATS, else nats://127.0.0.1:4222.")]
Namespace = Annotated[str | None, typer.Option("--namespace", help="Bus namespace. Default: BUS_NAMESPACE or none.")]
SpecRef = Annotated[str | None, typer.Option(
    "--spec", metavar="MODULE:ATTR",
    help="Load the service's ServiceSpec from here instead of services.<service>.main.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


def _fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


def _run(coro: Awaitable[T]) -> T:
    """Run one command's coroutine; turn the failures an operator can act on into a message and an exit code."""
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except TargetError as exc:
        raise _fail(str(exc), EXIT_USAGE if exc.usage else EXIT_FAILED) from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError, TimeoutError) as exc:
        raise _fail(f"{type(exc).__name__}: {exc}") from None


def _dump(data: Any) -> None:
    out.print_json(json.dumps(data, default=str, ensure_ascii=False))


def _table(title: str, *columns: tuple[str, str]) -> Table:
    table = Table(title=title, title_justify="left")
    for col, justify in columns:
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    return table


def _exit_on(errors: list[str]) -> None:
    """Print per-service errors after the rows that could be read; exit non-zero if any."""
    for e in errors:
        err.print(f"[bold red]error:[/] {escape(e)}")
    if errors:
        raise typer.Exit(EXIT_FAILED)


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def _services(given: list[str] | None, database_url: str | None) -> list[str]:
    services = given or list(SERVICES)
    if database_url and len(services) != 1:
        raise _fail("--database-url names one service's database: give exactly one SERVICE", EXIT_USAGE)
    return services


def _spec(service: str, spec_ref: str | None) -> tuple[ServiceSpec, dict[str, targets.Entry]]:
    try:
        spec = targets.load_spec(service, spec_ref)
    except TargetError as exc:
        raise _fail(str(exc), EXIT_USAGE if exc.usage else EXIT_FAILED) from None
    return spec, targets.catalog(spec)


# ---------------------------------------------------------------- token


@app.command()
def token(
    role: Annotated[str, typer.Option("--role", help="One of: " + ", ".join(ROLES))],
    org: Annotated[str | None, typer.Option("--org", help="Org code (GB/T 2260); required for admins, auditors, hosts")]
    = None,
    sub: Annotated[str | None, typer.Option("--sub", help="Subject; default dev-<role>-<org>")] = None,
    ttl: Annotated[int, typer.Option("--ttl", help="Lifetime in seconds")] = 8 * 3600,
    keys_dir: Annotated[Path | None, typer.Option("--keys-dir", help="Default: the folder of JWT_PUBLIC_KEYS")] = None,
) -> None:
    """Mint a dev JWT signed with the local dev key (prints the token and nothing else).

    Production tokens come from the identity provider; services trust only the keys in their
    JWT_PUBLIC_KEYS, so a dev token works only where the dev JWKS is mounted."""
    from shared.devkeys import _ORG_ROLES, ensure_dev_keys, mint_token

    if role not in ROLES:
        raise _fail(f"unknown role {role!r}; expected one of: {', '.join(ROLES)}", EXIT_USAGE)
    if role in _ORG_ROLES and not org:
        raise _fail(f"role {role} needs --org", EXIT_USAGE)
    keys = keys_dir or Settings().jwt_public_keys.parent
    try:
        ensure_dev_keys(keys)
        minted = mint_token(keys, role, org=org or None, sub=sub or None, ttl_s=ttl)
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot sign with the dev key in {keys}: {exc}") from None
    typer.echo(minted)


# ---------------------------------------------------------------- projections


@app.command()
def projections(
    services: Annotated[list[str] | None, typer.Argument(help="Default: all four services.")] = None,
    database_url: DatabaseUrl = None, nats_url: NatsUrl = None, namespace: Namespace = None,
    spec: SpecRef = None, as_json: AsJson = False,
) -> None:
    """Each projection: where its checkpoint is, how far it trails (JetStream lag), dead letters.

    Lag is the durable consumer's pending plus unacknowledged messages, read from NATS, so it is
    right even when the service is down; state and dead letters come from the service's database."""
    names_ = _services(services, database_url)
    loaded = {s: _spec(s, spec) for s in names_}

    async def collect() -> tuple[list[dict[str, Any]], list[str]]:
        names = BusNames(targets.namespace(namespace))
        async with ops.open_bus(targets.nats_url(nats_url), timeout=5) as bus:
            if bus is None:
                err.print("[yellow]warning:[/] NATS did not answer: lag unknown")
            return await _per_service(list(loaded), database_url, lambda pool, service: ops.projection_status(
                pool, bus, names, service, loaded[service][1]))

    rows, errors = _run(collect())
    if as_json:
        _dump({"projections": rows, "errors": errors})
    elif rows:
        table = _table("Projections", ("service", "left"), ("projection", "left"), ("source", "left"),
                       ("last pos", "right"), ("applied", "right"), ("idle", "right"), ("lag", "right"),
                       ("dead", "right"), ("note", "left"))
        for r in rows:
            lag = "-" if r["lag"] is None else (f"[yellow]{r['lag']}[/]" if r["lag"] else "0")
            dead = f"[bold red]{r['dead_letters']}[/]" if r["dead_letters"] else "0"
            table.add_row(r["service"], r["projection"], r["source"], str(r["last_position"]), str(r["applied"]),
                          _ago(r["idle_seconds"]), lag, dead, escape(r.get("lag_note") or ""))
        out.print(table)
    _exit_on(errors)


async def _per_service(services: list[str], database_url: str | None,
                       read: Callable[[asyncpg.Pool, str], Awaitable[list[dict[str, Any]]]]
                       ) -> tuple[list[dict[str, Any]], list[str]]:
    """`read` each service's database in turn: the rows of those that answered, and an error line
    for each that did not (the listing shows what it can, then exits 1)."""
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    for service in services:
        try:
            async with ops.open_pool(targets.database_url(service, database_url)) as pool:
                rows += await read(pool, service)
        except TargetError as exc:
            errors.append(f"{service}: {exc}")
    return rows, errors


# ---------------------------------------------------------------- outbox


@app.command()
def outbox(
    services: Annotated[list[str] | None, typer.Argument(help="Default: all four services.")] = None,
    database_url: DatabaseUrl = None, as_json: AsJson = False,
) -> None:
    """Outbox depth, age of the oldest unpublished event, and which connection leads the relay."""
    names_ = _services(services, database_url)
    for s in names_:
        if s not in SERVICES and not database_url:
            raise _fail(f"unknown service {s!r}; expected one of: {', '.join(SERVICES)}", EXIT_USAGE)

    async def collect() -> tuple[list[dict[str, Any]], list[str]]:
        async def status(pool: asyncpg.Pool, service: str) -> list[dict[str, Any]]:
            return [await ops.outbox_status(pool, service)]
        return await _per_service(names_, database_url, status)

    rows, errors = _run(collect())
    if as_json:
        _dump({"outbox": rows, "errors": errors})
    elif rows:
        table = _table("Outbox", ("service", "left"), ("depth", "right"), ("oldest age", "right"),
                       ("oldest position", "right"), ("relay leader", "left"))
        for r in rows:
            leader = r["relay_leader"]
            who = (f"pid {leader['pid']} {leader['client'] or 'local socket'}" if leader
                   else "[yellow]none (is the service running?)[/]")
            depth = f"[yellow]{r['depth']}[/]" if r["depth"] else "0"
            table.add_row(r["service"], depth, _ago(r["oldest_age_seconds"]), str(r["oldest_position"] or "-"), who)
        out.print(table)
    _exit_on(errors)


# ---------------------------------------------------------------- rebuild


class _Progress:
    """A rich progress bar on a terminal; on a pipe or a log, a plain line every few seconds."""

    def __init__(self, projection: str, total: int | None, every_s: float = 2.0) -> None:
        self.projection, self.total, self.every_s = projection, total, every_s
        self.done, self.source = 0, ""
        self._last, self._printed = time.monotonic(), -1
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> _Progress:
        if err.is_terminal:
            self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("events"), TimeElapsedColumn(), TimeRemainingColumn(), console=err)
            self._bar.start()
            self._task = self._bar.add_task(self.projection, total=self.total)
        return self

    def on_source(self, plan: ops.SourcePlan) -> None:
        self.source = plan.label
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=f"{self.projection} ← {plan.label}")

    def on_batch(self, n: int) -> None:
        self.done += n
        if self._bar is not None and self._task is not None:
            if self.total is not None and self.done > self.total:  # events recorded meanwhile
                self.total = self.done
                self._bar.update(self._task, total=self.total)
            self._bar.advance(self._task, n)
        elif time.monotonic() - self._last >= self.every_s:
            self._last = time.monotonic()
            self._line()

    def _line(self) -> None:
        if self._printed == self.done:
            return
        self._printed = self.done
        total = "?" if self.total is None else str(max(self.total, self.done))
        err.print(f"rebuild {self.projection} ← {self.source}: {self.done}/{total} events")

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            if self._task is not None and self.total is None:
                self._bar.update(self._task, total=self.done)  # the count is known now
            self._bar.stop()
        else:
            self._line()


@app.command()
def rebuild(
    service: Annotated[str, typer.Argument(help="enrollment, credits, funding or reporting")],
    projection: Annotated[str, typer.Argument(help="Projection name, as `ttadmin projections` lists it")],
    source: Annotated[str, typer.Option(
        "--source", help="auto: the service's own events from its store, other services' from their "
                         "/v1/events feeds (as POST /v1/admin/rebuild does); or store, stream, feed.")] = "auto",
    batch: Annotated[int, typer.Option("--batch", min=1, max=5000, help="Events per batch (one transaction)")] = 500,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    token_: Annotated[str | None, typer.Option("--token", help="Service token for feeds. Default: SERVICE_TOKEN, "
                                                               "else minted with the dev key.")] = None,
    database_url: DatabaseUrl = None, nats_url: NatsUrl = None, namespace: Namespace = None,
    spec: SpecRef = None, as_json: AsJson = False,
) -> None:
    """Empty a read model and re-apply its sources' events from the first, with a progress bar.

    Runs here, against the service's database, while the service keeps running: the projection's
    advisory lock serialises this with the live consumer batch by batch, and checkpoints drop
    whatever both apply. An `<service>_inline` rebuild holds the service's commands back until it
    is done (shared/inline.py). Readers see the tables empty and fill up again meanwhile."""
    spec_, entries = _spec(service, spec)
    entry = entries.get(projection)
    if entry is None:
        raise _fail(f"{service} has no projection {projection!r}; it has: {', '.join(entries) or 'none'}", EXIT_USAGE)
    try:
        plans = ops.plan_sources(spec_, entry, source)
    except TargetError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    if not yes:
        try:
            where = targets.describe(targets.database_url(service, database_url))
        except TargetError as exc:
            raise _fail(str(exc)) from None
        err.print(f"Rebuild [bold]{projection}[/] of {service} ({escape(where)}) from "
                  f"{', '.join(p.label for p in plans)}: its tables are emptied first and fill up again; "
                  f"its dead letters are cleared (events that still fail are dead-lettered again).")
        if not typer.confirm("Continue?", err=True):
            raise typer.Exit(EXIT_FAILED)
    settings = Settings()

    async def go() -> ops.RebuildResult:
        async with ops.open_pool(targets.database_url(service, database_url)) as pool:
            need_bus = any(p.kind == "stream" for p in plans)
            bus_cm = ops.open_bus(targets.nats_url(nats_url)) if need_bus else _no_bus()
            async with bus_cm as bus:
                if need_bus and bus is None:
                    raise TargetError("NATS did not answer: cannot read the stream (try --source feed)")
                ctx = ops.RebuildContext(
                    spec_, pool, BusNames(targets.namespace(namespace)), bus,
                    feed_urls={p.service: targets.feed_url(p.service) for p in plans if p.kind == "feed"},
                    token=targets.feed_token(token_) if any(p.kind == "feed" for p in plans) else None,
                    batch=batch)
                await ops.count_totals(ctx, plans)
                totals = [p.total for p in plans]
                total = None if None in totals else sum(t or 0 for t in totals)
                with _Progress(projection, total) as progress:
                    return await ops.run_rebuild(ctx, entry, plans, settings.projection_max_deliveries,
                                                 progress.on_source, progress.on_batch)

    try:
        result = _run(go())
    except typer.Exit:
        raise
    except Exception as exc:  # httpx errors from a feed, a handler bug outside the applier, ...
        raise _fail(f"rebuild of {projection} failed: {type(exc).__name__}: {exc}") from None
    rate = result.events / result.seconds if result.seconds else 0.0
    if as_json:
        _dump({"service": service, **result.__dict__})
    else:
        read = ", ".join(f"{s['read']} from {s['service']} {s['kind']}" for s in result.sources)
        out.print(f"Rebuilt [bold]{projection}[/]: {result.events} events read ({read}) in {result.seconds:.1f}s "
                  f"({rate:.0f}/s); applied: {result.applied}; dead letters: {result.dead_letters}.")
    if result.dead_letters:
        err.print(f"[bold red]{result.dead_letters} event(s) failed and were dead-lettered:[/] "
                  f"ttadmin dead-letters list {service} {projection}")
        raise typer.Exit(EXIT_DEAD_LETTERS)


class _no_bus:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


# ---------------------------------------------------------------- dead letters


@dead_letters_app.command("list")
def dead_letters_list(
    service: Annotated[str, typer.Argument()],
    projection: Annotated[str | None, typer.Argument(help="Only this projection's")] = None,
    state: Annotated[str, typer.Option("--state", help="pending, replayed, discarded or all")] = "pending",
    every: Annotated[bool, typer.Option("--all", help="Every state (same as --state all).")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 100,
    database_url: DatabaseUrl = None, as_json: AsJson = False,
) -> None:
    """Dead-lettered events, oldest first: pending ones unless --state or --all says otherwise."""
    if service not in SERVICES and not database_url:
        raise _fail(f"unknown service {service!r}; expected one of: {', '.join(SERVICES)}", EXIT_USAGE)
    state = "all" if every else state
    if state not in ops.STATES:
        raise _fail(f"unknown state {state!r}; expected one of: {', '.join(ops.STATES)}", EXIT_USAGE)

    async def collect() -> list[dict[str, Any]]:
        async with ops.open_pool(targets.database_url(service, database_url)) as pool:
            return await ops.dead_letters(pool, projection, state, limit)

    rows = _run(collect())
    if as_json:
        _dump({"dead_letters": rows})
        return
    if not rows:
        out.print(f"No {'' if state == 'all' else state + ' '}dead letters in {service}"
                  f"{' for ' + projection if projection else ''}.")
        return
    table = Table(title=f"Dead letters: {service}", title_justify="left")
    for col in ("id", "projection", "type", "stream", "ver", "failures", "recorded", "state", "error / reason"):
        table.add_column(col, overflow="fold")
    for r in rows:
        if r["state"] == "replayed":
            settled = f"replayed ({r['replay_result']}) {r['replayed_at']:%Y-%m-%d %H:%M:%S}"
        elif r["state"] == "discarded":
            settled = f"discarded by {r['discarded_by']} {r['discarded_at']:%Y-%m-%d %H:%M:%S}"
        else:
            settled = "[yellow]pending[/]"
        why = r["discard_reason"] if r["state"] == "discarded" else r["error"]
        table.add_row(str(r["id"]), r["projection"], r["type"], r["stream_id"], str(r["version"]),
                      str(r["failures"]), f"{r['recorded_at']:%Y-%m-%d %H:%M:%S}", escape(settled) if
                      r["state"] != "pending" else settled, escape(why[:160]))
    out.print(table)
    out.print(f"Details: ttadmin dead-letters show {service} ID   Replay: ttadmin dead-letters replay {service} ID   "
              f"Discard: ttadmin dead-letters discard {service} ID --reason TEXT")


@dead_letters_app.command("show")
def dead_letters_show(
    service: Annotated[str, typer.Argument()],
    dead_letter_id: Annotated[int, typer.Argument(metavar="ID")],
    database_url: DatabaseUrl = None,
) -> None:
    """One dead letter in full: the error, its state (replayed, discarded: by whom and why) and the
    event (CloudEvents JSON), as JSON."""
    if service not in SERVICES and not database_url:
        raise _fail(f"unknown service {service!r}; expected one of: {', '.join(SERVICES)}", EXIT_USAGE)

    async def fetch() -> dict[str, Any] | None:
        async with ops.open_pool(targets.database_url(service, database_url)) as pool:
            return await ops.dead_letter(pool, dead_letter_id)

    row = _run(fetch())
    if row is None:
        raise _fail(f"no dead letter {dead_letter_id} in {service}")
    _dump(row)


_MARKS = {"applied": "[green]applied[/]", "already_applied": "[green]already applied[/]",
          "still_failing": "[bold red]still failing[/]", "not_pending": "[bold red]not pending[/]"}


def _replay_line(r: ops.ReplayResult) -> str:
    where = f" (stream {escape(r.stream_id)} version {r.version})" if r.stream_id else ""
    detail = "" if r.outcome == "applied" else " - " + escape(r.detail)
    return f"dead letter {r.id} ({r.projection or '?'}): {_MARKS[r.outcome]}{detail}{where}"


@dead_letters_app.command("replay")
def dead_letters_replay(
    service: Annotated[str, typer.Argument()],
    ids: Annotated[list[int] | None, typer.Argument(metavar="ID", help="Dead letter ids")] = None,
    stream: Annotated[str | None, typer.Option(
        "--stream", help="Every pending dead letter of this stream (as listed: <source>:<stream id>), "
                         "in version order.")] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="Every pending dead letter, stream by stream.")] = False,
    projection: Annotated[str | None, typer.Option("--projection", help="With --stream or --all: only this "
                                                                        "projection's")] = None,
    database_url: DatabaseUrl = None, spec: SpecRef = None, as_json: AsJson = False,
) -> None:
    """Apply dead-lettered events again, with the projection's current (fixed) code.

    Each replay applies the stored event under the projection's lock and marks the dead letter
    replayed, in one transaction. Each dead letter is reported `applied` (the read model changed),
    `already applied` (the handler ran and changed nothing: its own version guard covers it) or
    `still failing` (the handler failed again, or an earlier dead letter of the same stream is
    still pending and this one waits for it: nothing changed). A stream's dead letters replay in
    version order. Exit 0 if every one was applied or already applied, 1 if any still fails or was
    not pending (replayed or discarded already, unknown), 2 on usage errors.
    Deploy the fix first: this runs the handler code installed where ttadmin runs."""
    if sum((bool(ids), stream is not None, replay_all)) != 1:
        raise _fail("give dead letter IDs, --stream STREAM or --all (one of them)", EXIT_USAGE)
    if projection and ids:
        raise _fail("--projection goes with --stream or --all, not with IDs", EXIT_USAGE)
    _, entries = _spec(service, spec)
    if projection and projection not in entries:
        raise _fail(f"unknown projection {projection!r} for {service}; expected one of: {', '.join(entries)}",
                    EXIT_USAGE)

    async def go() -> list[ops.ReplayResult]:
        async with ops.open_pool(targets.database_url(service, database_url)) as pool:
            if ids:
                return await ops.replay(pool, entries, ids, None if as_json else _print_replay)
            total = await ops.pending_count(pool, projection, stream)
            with _ReplayProgress(total, quiet=as_json) as progress:
                return await ops.replay_streams(pool, entries, projection, stream, progress.on_result)

    results = _run(go())
    if as_json:
        _dump({"replayed": [r.__dict__ for r in results]})
    elif not results:
        out.print("Nothing to replay.")
    else:
        counts = {k: sum(r.outcome == k for r in results) for k in _MARKS}
        out.print(", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items() if n) + ".")
    if any(not r.ok for r in results):
        raise typer.Exit(EXIT_FAILED)


def _print_replay(r: ops.ReplayResult) -> None:
    out.print(_replay_line(r))


class _ReplayProgress:
    """Each result as it comes on stdout; on a terminal, a progress bar on stderr as well."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.quiet = total, quiet
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> _ReplayProgress:
        if err.is_terminal and not self.quiet and self.total:
            self._bar = Progress(TextColumn("[bold]replay"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("dead letters"), TimeElapsedColumn(), console=err)
            self._bar.start()
            self._task = self._bar.add_task("replay", total=self.total)
        return self

    def on_result(self, r: ops.ReplayResult) -> None:
        if self.quiet:
            return
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task)
            self._bar.console.print(_replay_line(r))  # above the bar, not through it
        else:
            out.print(_replay_line(r))

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def _operator() -> str:
    """Who runs ttadmin: the login name and host, for the discard record when --by is not given."""
    try:
        return f"{getpass.getuser()}@{socket.gethostname()}"
    except (OSError, KeyError):  # no login name (a container without USER): --by is required
        return ""


@dead_letters_app.command("discard")
def dead_letters_discard(
    service: Annotated[str, typer.Argument()],
    ids: Annotated[list[int], typer.Argument(metavar="ID", help="Dead letter ids")],
    reason: Annotated[str, typer.Option("--reason", help="Why the event must never apply (kept with it).")],
    by: Annotated[str | None, typer.Option(
        "--by", help="Who discards. Default: your login name, @, this host's name.")] = None,
    database_url: DatabaseUrl = None, as_json: AsJson = False,
) -> None:
    """Settle pending dead letters without applying them, saying why.

    The dead letter stays, marked discarded with the time, the operator and the reason; it is never
    deleted. Exit 0 if every one was discarded, 1 if any was not pending (replayed or discarded
    already, unknown), 2 on usage errors (a blank reason, no operator identity)."""
    if service not in SERVICES and not database_url:
        raise _fail(f"unknown service {service!r}; expected one of: {', '.join(SERVICES)}", EXIT_USAGE)
    who = (by if by is not None else _operator()).strip()
    if not reason.strip():
        raise _fail("--reason must say why (it is kept with the dead letter)", EXIT_USAGE)
    if not who:
        raise _fail("cannot tell who you are: give --by NAME", EXIT_USAGE)

    async def go() -> list[dict[str, Any]]:
        done: list[dict[str, Any]] = []
        async with ops.open_pool(targets.database_url(service, database_url)) as pool:
            for dl_id in ids:
                try:
                    done.append({**await deadletters.discard(pool, dl_id, reason, who), "ok": True})
                except deadletters.NotPending as exc:
                    done.append({"id": dl_id, "ok": False, "detail": str(exc)})
        return done

    results = _run(go())
    if as_json:
        _dump({"discarded": results})
    else:
        for r in results:
            if r["ok"]:
                out.print(f"dead letter {r['id']} ({r['projection']}): [yellow]discarded[/] by {escape(who)}")
            else:
                out.print(f"dead letter {r['id']}: [bold red]not discarded[/] - {escape(r['detail'])}")
    if any(not r["ok"] for r in results):
        raise typer.Exit(EXIT_FAILED)


@app.callback()
def _setup() -> None:
    # The kernel logs what the CLI reports itself (dead-lettered events, NATS connects and
    # disconnects); keep stderr for warnings that are news.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("shared.bus", "shared.projection", "nats"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def main() -> None:  # `python -m shared.admin`
    app(prog_name="ttadmin")


if __name__ == "__main__":
    main()
