"""``hub audit verify``: check a cluster's transfer log (``hub.transfers``) and the data it describes.

Prints, per flow, how many records were checked and OK, or each problem on
one line (``cn->hk seq 5: gap: seq 4 missing (seq 3 is followed by seq 5)``);
``--json`` prints the report as one JSON document instead. Exit 0 when the log
holds no problem, 1 when it holds any (or it could not be read). The public
keys are those the sending jurisdictions publish beside their data folders
(``<data_dir>/transfer-signing.pub.pem`` of each cluster of the topology), and
any given with ``--public-key NAME=PATH`` (``docs/transfers.md``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import typer

from hub import naming
from hub.commandline import make_console, settings_of
from hub.errors import ConfigError
from hub.jurisdictions import load_topology
from hub.principals import ADMIN
from hub.transfers.log import verify_cluster
from hub.transfers.signing import PublicKey, load_public
from hub.transfers.verify import Report, Verifier

app = typer.Typer(help="Check the signed, hash-chained transfer log of replicated data.", no_args_is_help=True)
console = make_console()


@app.command("verify")
def verify_command(
    ctx: typer.Context,
    cluster: str | None = typer.Option(
        None, "--cluster", help="The cluster whose log to verify (default: the root's `hub --cluster`)."
    ),
    topic: str = typer.Option(naming.TRANSFERS_TOPIC, "--topic", help="The transfer log topic (or a copy of it)."),
    public_keys: list[str] = typer.Option(
        [], "--public-key", help="NAME=PATH: a public key of jurisdiction NAME (repeatable; adds to the topology's)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Verify every record of the transfer log: signatures, the chain of each flow, and the data that landed."""
    base = settings_of(ctx)
    name = cluster or base.cluster
    if not name:
        raise ConfigError("name the cluster whose transfer log to verify: `hub audit verify --cluster NAME`")
    settings_of(ctx, login=ADMIN, cluster=name)  # an unknown cluster stops here, naming the topology's
    extra: dict[str, list[Verifier]] = defaultdict(list)
    for jurisdiction, key in _given_keys(public_keys):
        extra[jurisdiction].append(key)
    report = verify_cluster(base, load_topology(base), name, topic=topic, extra_keys=extra)
    if as_json:
        console.print_json(json.dumps({"topic": topic, **report.as_json()}))
    else:
        _print(report, topic)
    if not report.ok:
        raise typer.Exit(1)


def _given_keys(values: list[str]) -> list[tuple[str, PublicKey]]:
    out = []
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--public-key {value!r}: expected NAME=PATH (e.g. cn=peers/cn.pub.pem)")
        out.append((name, load_public(Path(path))))
    return out


def _print(report: Report, topic: str) -> None:
    console.print(f"{topic} on cluster {report.cluster}", highlight=False, markup=False)
    for problem in report.malformed:
        console.print(problem.message, highlight=False, markup=False)
    for flow in report.flows:
        if flow.ok:
            line = f"{flow.flow}: {flow.records} records checked, OK (last seq {flow.last_seq})"
            console.print(line, highlight=False, markup=False)
            continue
        console.print(
            f"{flow.flow}: {flow.records} records checked, {len(flow.problems)} problems", highlight=False, markup=False
        )
        for problem in flow.problems:
            console.print(problem.message, highlight=False, markup=False)
    if not report.flows and not report.malformed:
        console.print("no transfer records", highlight=False, markup=False)
    if not report.landed_checked:
        console.print("landed data not checked", highlight=False, markup=False)
    verdict = "OK" if report.ok else f"{len(report.problems)} problems"
    console.print(verdict, highlight=False, markup=False)


__all__ = ["app"]
