"""The command line: ``python -m medupload {user add|disable|enable, seed-demo, migrate, worker}``."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError
from sqlmodel import Session, select

from medupload.fsmodes import restrict_process
from medupload.settings import PROJECT_ROOT, get_settings

DEMO_PROGRAM = "diabetes-annual"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str
    name: str


# Fixed, printed credentials: seed-demo refuses to run outside the embedded SQLite set-up.
DEMO_ACCOUNTS = (
    DemoAccount("alice", "alice-demo-pass", "patient", "Alice Demo"),
    DemoAccount("bob", "bob-demo-pass", "patient", "Bob Demo"),
    DemoAccount("staff", "staff-demo-pass", "staff", "Clinic Staff"),
)


class CliError(Exception):
    """A refusal the user can act on: printed without a traceback, exit status 1."""


def alembic_config(url: str | None = None):  # type: ignore[no-untyped-def]  (alembic imported lazily)
    """The project's Alembic configuration; ``url`` overrides MEDUPLOAD_DATABASE_URL."""
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["configure_logging"] = False
    if url:
        config.attributes["url"] = url
    return config


def migrate(url: str | None = None, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def add_user(session: Session, *, username: str, password: str, role: str, name: str | None = None,
             programs: Sequence[str] = (), date_of_birth: str | None = None,
             mrn: str | None = None) -> tuple[str, str | None]:
    """Create a user (for a patient also the patient record and enrolments); returns (user id, patient id)."""
    from medupload.auth import ROLES, hash_password
    from medupload.models import Patient, ProgramEnrollment, User

    if role not in ROLES:
        raise CliError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise CliError("password must be at least 8 characters")
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise CliError(f"username {username!r} is taken")
    if programs and role != "patient":
        raise CliError("only patients are enrolled in programs")
    if (date_of_birth or mrn) and role != "patient":
        raise CliError("only patients have a date of birth or an MRN")
    dob = None
    if date_of_birth:
        try:
            dob = dt.date.fromisoformat(date_of_birth)
        except ValueError:
            raise CliError("--dob must be a date as YYYY-MM-DD") from None
        if dob > dt.date.today() or dob.year < 1900:
            raise CliError("--dob must be a past date after 1900")
    mrn = (mrn or "").strip() or None
    if mrn is not None and len(mrn) > 64:
        raise CliError("--mrn must be at most 64 characters")
    if programs:
        from medupload.pipeline.matching import available_programs

        known = available_programs()
        if unknown := sorted(set(programs) - set(known)):
            raise CliError(f"unknown program {', '.join(unknown)}; known: {', '.join(known)}")
    patient_id = None
    if role == "patient":
        patient = Patient(display_name=name or username, date_of_birth=dob, mrn=mrn)
        session.add(patient)
        session.flush()
        patient_id = patient.id
        for program in dict.fromkeys(programs):  # de-duplicated, order kept
            session.add(ProgramEnrollment(patient_id=patient_id, program=program))
    user = User(username=username, password_hash=hash_password(password), role=role, patient_id=patient_id)
    session.add(user)
    session.flush()
    return user.id, patient_id


def seed_demo(session: Session) -> list[tuple[DemoAccount, str | None]]:
    """Create the demo accounts that are missing; existing ones get their demo password back."""
    from medupload.auth import hash_password, verify_password
    from medupload.models import User

    seeded = []
    for account in DEMO_ACCOUNTS:
        user = session.exec(select(User).where(User.username == account.username)).first()
        if user is None:
            programs = (DEMO_PROGRAM,) if account.role == "patient" else ()
            _, patient_id = add_user(session, username=account.username, password=account.password,
                                     role=account.role, name=account.name, programs=programs)
        else:
            # The printed login must work, whatever happened to the account since.
            if not verify_password(user.password_hash, account.password) or user.disabled:
                user.password_hash = hash_password(account.password)
                user.disabled = False
                session.add(user)
            patient_id = user.patient_id
        seeded.append((account, patient_id))
    return seeded


def _cmd_user_add(args: argparse.Namespace) -> int:
    from medupload.db import session_scope

    with session_scope() as session:
        user_id, patient_id = add_user(session, username=args.username, password=args.password,
                                       role=args.role, name=args.name, programs=args.program or (),
                                       date_of_birth=args.dob, mrn=args.mrn)
    # Scripts capture stdout: the patient id for a patient, the user id for staff.
    print(patient_id or user_id)
    return 0


def set_disabled(username: str, disabled: bool) -> str:
    """``user disable``: refuse sign-in and void every token of the account (every process sees
    it within seconds); ``user enable``: allow sign-in again — old tokens stay void."""
    import redis as redis_lib

    from medupload.db import session_scope
    from medupload.models import User
    from medupload.redis_client import sync_redis
    from medupload.sessions import revoke_user_tokens

    with session_scope() as session:
        user = session.exec(select(User).where(User.username == username)).first()
        if user is None:
            raise CliError(f"no user {username!r}")
        user.disabled = disabled
        session.add(user)
        user_id = user.id
    if disabled:
        try:
            revoke_user_tokens(sync_redis(), user_id)
        except (redis_lib.RedisError, OSError) as exc:
            raise CliError(f"{username!r} is disabled in the database, but its open sessions could not "
                           f"be ended: Redis is unreachable ({type(exc).__name__}). Run the command again."
                           ) from exc
    return user_id


def _cmd_user_disable(args: argparse.Namespace) -> int:
    set_disabled(args.username, True)
    print(f"{args.username} disabled; every session of this account is ended.")
    return 0


def _cmd_user_enable(args: argparse.Namespace) -> int:
    set_disabled(args.username, False)
    print(f"{args.username} enabled; they can sign in again.")
    return 0


def _cmd_seed_demo(_args: argparse.Namespace) -> int:
    from medupload.db import session_scope

    if not get_settings().is_embedded:
        raise CliError("seed-demo only runs on the default embedded SQLite database, "
                       "never with MEDUPLOAD_DATABASE_URL pointing at a real database")
    with session_scope() as session:
        seeded = seed_demo(session)
    print(f"Demo logins (program {DEMO_PROGRAM}):")
    for account, patient_id in seeded:
        who = f"patient {patient_id}" if patient_id else "staff"
        print(f"  {account.username:<8} password {account.password:<18} ({who})")
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    migrate(args.url, args.revision)
    print(f"Database schema upgraded to {args.revision}.")
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    # Imported here: the pipeline pulls in spaCy and friends, which the other commands don't need.
    from medupload.pipeline.worker import run_workers

    return run_workers(args.processes, args.threads) or 0  # type: ignore[no-any-return]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m medupload", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    user = commands.add_parser("user", help="manage accounts")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser("add", help="create a patient or staff account; prints the patient id")
    add.add_argument("--role", choices=("patient", "staff"), required=True)
    add.add_argument("--username", required=True)
    add.add_argument("--password", required=True)
    add.add_argument("--name", help="display name (patients; defaults to the username)")
    add.add_argument("--dob", help="date of birth, YYYY-MM-DD (patients; optional)")
    add.add_argument("--mrn", help="the clinic's medical record number (patients; optional)")
    add.add_argument("--program", action="append", metavar="PROGRAM",
                     help="enrol the patient in a care program (repeatable), e.g. diabetes-annual")
    add.set_defaults(func=_cmd_user_add)
    disable = user_commands.add_parser("disable", help="refuse sign-in and end every session of an account")
    disable.add_argument("--username", required=True)
    disable.set_defaults(func=_cmd_user_disable)
    enable = user_commands.add_parser("enable", help="allow a disabled account to sign in again")
    enable.add_argument("--username", required=True)
    enable.set_defaults(func=_cmd_user_enable)

    seed = commands.add_parser("seed-demo", help="create the demo accounts (embedded set-up only)")
    seed.set_defaults(func=_cmd_seed_demo)

    mig = commands.add_parser("migrate", help="bring the database schema up to date (alembic upgrade)")
    mig.add_argument("--revision", default="head")
    mig.add_argument("--url", help="database URL (default: MEDUPLOAD_DATABASE_URL)")
    mig.set_defaults(func=_cmd_migrate)

    worker = commands.add_parser("worker", help="run pipeline workers (MEDUPLOAD_PIPELINE_MODE=queue)")
    worker.add_argument("--processes", type=int, default=1)
    worker.add_argument("--threads", type=int, default=2)
    worker.set_defaults(func=_cmd_worker)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    restrict_process()  # the database, uploads and keys this command writes: owner-only
    args = build_parser().parse_args(argv)
    try:
        get_settings()  # bad settings fail here, naming the setting, before any work
    except ValidationError as exc:
        print(settings_error_message(exc), file=sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def settings_error_message(exc: ValidationError) -> str:
    """One line per bad setting, named as its environment variable; the values are not echoed
    (they may be secrets)."""
    lines = ["error: invalid settings"]
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        name = f"MEDUPLOAD_{field.upper()} ({field})" if field else "settings"
        lines.append(f"  {name}: {error['msg']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

