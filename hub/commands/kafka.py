"""``hub kafka start|stop|status|fetch``, ``hub kafka users`` and ``hub kafka acls``: the local broker, secured."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from hub import credentials, kafka_users, local_kafka
from hub.commandline import make_console, settings_of, stopped_line
from hub.commands import acls
from hub.errors import ConfigError
from hub.principals import ADMIN, CONTROLLER, SUPER_USERS

app = typer.Typer(help="Run the local Apache Kafka broker (KRaft, single node).", no_args_is_help=True)
app.add_typer(acls.app, name="acls")
console = make_console()

CLUSTER_OPTION = typer.Option(None, "--cluster", help="A cluster of the topology (cn, hk, mo); default: the hub's.")


@app.command()
def start(
    ctx: typer.Context,
    insecure: bool = typer.Option(
        False, "--insecure", help="Format a plaintext broker without logins or ACLs (quick experiments only)."
    ),
    cluster: str | None = CLUSTER_OPTION,
) -> None:
    """Start the broker (formats storage on first run). A running broker is left as is.

    Secured by default: SASL/SCRAM logins, the StandardAuthorizer and the ACLs the declarations call for
    (of that cluster alone, with ``--cluster``).
    """
    settings = settings_of(ctx, cluster=cluster)
    with console.status(f"starting Apache Kafka {local_kafka.kafka_version()} on 127.0.0.1:{settings.kafka_port}…"):
        result = local_kafka.start(settings, insecure=insecure)
    if result.started:
        console.print(f"Kafka {local_kafka.kafka_version()} started (pid {result.pid}) at {result.bootstrap}")
    else:
        console.print(f"Kafka already running (pid {result.pid}) at {result.bootstrap}")
    if not result.secured:
        console.print("[yellow]insecure:[/] plaintext, no logins, no ACLs - anyone who reaches the port is admin")
        return
    console.print(
        f"secured: SASL/SCRAM-SHA-512, StandardAuthorizer; logins in {credentials.credentials_path(settings)} "
        "(mode 600)"
    )
    if settings.kafka_tls_port is not None:
        ca = credentials.secrets_dir(settings) / "ca" / "ca.pem"
        console.print(f"TLS: SASL_SSL on localhost:{settings.kafka_tls_port}, CA {ca}")
    if result.users_created:
        console.print(f"users created: {', '.join(result.users_created)}")
    if result.acls is not None:
        console.print(f"ACLs: {len(result.acls.added)} added, {len(result.acls.removed)} removed")


@app.command()
def stop(ctx: typer.Context, cluster: str | None = CLUSTER_OPTION) -> None:
    """Stop the broker started from this data directory."""
    outcome = local_kafka.stop(settings_of(ctx, cluster=cluster))
    console.print(stopped_line("Kafka", outcome))


@app.command()
def status(ctx: typer.Context, cluster: str | None = CLUSTER_OPTION) -> None:
    """Say whether the broker runs and answers; exit 1 if it does not answer."""
    st = local_kafka.status(settings_of(ctx, cluster=cluster))
    pid = f"pid {st.pid}" if st.pid else "no local process"
    if st.answering:
        console.print(f"Kafka answering at {st.bootstrap} ({pid}, {st.detail})")
    else:
        console.print(f"Kafka not answering at {st.bootstrap} ({pid}): {st.detail}")
        raise typer.Exit(1)


@app.command("fetch")
def fetch(ctx: typer.Context) -> None:
    """Resolve the Kafka jars with Maven (done automatically by start)."""
    settings = settings_of(ctx)
    local_kafka.check_java()
    with console.status("resolving Kafka jars with Maven…"):
        cp = local_kafka.resolve_classpath(settings)
    console.print(f"Kafka {local_kafka.kafka_version()}: {len(cp.split(':'))} jars resolved")


users = typer.Typer(help="Manage the cluster's SCRAM users through the Admin API.", no_args_is_help=True)
app.add_typer(users, name="users")


@users.command("list")
def users_list(ctx: typer.Context) -> None:
    """List the cluster's SCRAM users, marking the declared ones and those with a local login."""
    settings = settings_of(ctx)
    found = kafka_users.list_users(settings_of(ctx, login=ADMIN))
    declared = set(kafka_users.declared_names(settings))
    local = credentials.read(settings)
    table = Table("user", "mechanisms", "declared", "local login")
    for name, mechanisms in found.items():
        has_local = "yes" if local is not None and name in local.passwords else "-"
        table.add_row(name, ", ".join(mechanisms), "yes" if name in declared else "[yellow]no[/]", has_local)
    console.print(table)
    missing = sorted(declared - set(found) - {CONTROLLER})
    if missing:
        console.print(
            f"[yellow]declared but not on the cluster:[/] {', '.join(missing)} (add them: hub kafka users add)"
        )


@users.command("add")
def users_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The user (principal) name, e.g. district.gd.shenzhen-nanshan."),
    password_file: Path | None = typer.Option(
        None, "--password-file", help="Read the password from this file instead of generating one."
    ),
) -> None:
    """Create a SCRAM-SHA-512 user, or give an existing one a new password (rotation).

    Without --password-file a password is generated and kept in the local logins file (mode 600); it is
    never printed. Apply the ACLs afterwards (hub kafka acls apply) if the user is new to the declarations.
    """
    if name == CONTROLLER:
        console.print(
            f"[red]error:[/] {CONTROLLER} logs in with PLAIN on the controller listener only; a SCRAM login would "
            "make this super user reachable on the client listener"
        )
        raise typer.Exit(1)
    settings = settings_of(ctx)
    password = _read_password(password_file) if password_file is not None else credentials.new_password()
    kafka_users.upsert(settings_of(ctx, login=ADMIN), {name: password})
    local = credentials.read(settings)
    if password_file is None or local is not None:
        current = local or credentials.Credentials({})
        path = credentials.write(settings, credentials.Credentials({**current.passwords, name: password}))
        console.print(f"user {name}: SCRAM-SHA-512 set, password {credentials.masked(password)} kept in {path}")
    else:
        console.print(f"user {name}: SCRAM-SHA-512 set from {password_file}")


@users.command("remove")
def users_remove(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The user to remove."),
) -> None:
    """Delete a user's SCRAM credential (it can no longer log in) and its local login.

    Its ACLs stay until the next `hub kafka acls apply`, which removes those of undeclared principals.
    """
    if name in SUPER_USERS:
        console.print(f"[red]error:[/] {name} is a super user the broker itself needs; it cannot be removed")
        raise typer.Exit(1)
    settings = settings_of(ctx)
    kafka_users.remove(settings_of(ctx, login=ADMIN), [name])
    local = credentials.read(settings)
    if local is not None and name in local.passwords:
        credentials.write(settings, local.without(name))
    console.print(f"user {name} removed")


def _read_password(path: Path) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"--password-file {path}: {exc.strerror}") from exc
    if len(value) < 12:
        raise ConfigError(f"--password-file {path}: a password needs at least 12 characters")
    return value
