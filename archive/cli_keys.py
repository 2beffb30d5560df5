"""``archive keys ...``: the signing key's commands."""

from __future__ import annotations

import os
import sys

import click

from .cli import (
    _passphrase,
    cli,
    db_option,
    hold_while_writing,
    key_option,
    output_option,
    output_stream,
)
from .config import archive_db_path, default_key_path
from .db import connect
from .errors import ArchiveError, KeyFileError
from .keys import (
    change_passphrase,
    generate_key,
    key_is_encrypted,
    load_key,
    replace_key_file,
    weak_protection,
)


@cli.group()
def keys():
    """Manage the Ed25519 signing key."""


@keys.command("generate")
@key_option
@click.option(
    "--passphrase/--no-passphrase",
    default=None,
    help="Encrypt the key with a passphrase (prompted, or ARCHIVE_KEY_PASSPHRASE), or not "
    "[default: encrypted when ARCHIVE_KEY_PASSPHRASE is set].",
)
@click.option(
    "--force",
    is_flag=True,
    help="Make a new key file where one exists; the old file is kept beside it as "
    "<name>.replaced-<time>. An archive's signing key is changed with `archive keys rotate`.",
)
def keys_generate(key_path, passphrase, force):
    """Create a new signing key (PKCS#8 PEM, mode 0600).

    Example: archive keys generate --passphrase
    """
    key_path = key_path or default_key_path()
    # an explicit --no-passphrase wins over the environment
    secret = None if passphrase is False else os.environ.get("ARCHIVE_KEY_PASSPHRASE")
    if passphrase and not secret:
        secret = _prompt_new("Passphrase", "ARCHIVE_KEY_PASSPHRASE")
    kept = None
    try:
        if force:
            signer, kept = replace_key_file(key_path, secret or None)
        else:
            signer = generate_key(key_path, secret or None)
    except ArchiveError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{signer.key_id} {key_path}")
    if kept:
        click.echo(f"The old key is kept at {kept}", err=True)


def _prompt_new(label: str, variable: str, what: str = "--passphrase") -> str:
    if not sys.stdin.isatty():
        raise click.ClickException(f"{what}: no terminal to type it in; set {variable}")
    return click.prompt(label, hide_input=True, confirmation_prompt=True, err=True)


def _load(key_path) -> object:
    key_path = key_path or default_key_path()
    try:
        signer = load_key(key_path, _passphrase(key_path, prompt=True))
    except KeyFileError as e:
        raise click.ClickException(str(e)) from None
    warning = weak_protection(key_path)
    if warning:
        click.echo(f"Warning: {warning}", err=True)
    return signer


@keys.command("show")
@key_option
def keys_show(key_path):
    """Print the key id and public key.

    Example: archive keys show
    """
    signer = _load(key_path)
    click.echo(signer.key_id)
    click.echo(signer.public_key_pem, nl=False)


@keys.command("export")
@key_option
@output_option()
def keys_export(key_path, output):
    """Export the public key as PEM, for auditors.

    Example: archive keys export -o archive-key.pub
    """
    signer = _load(key_path)
    with output_stream(output) as out:
        out.write(signer.public_key_pem)


@keys.command("passphrase")
@key_option
@click.option("--remove", is_flag=True, help="Store the key without a passphrase (not encrypted).")
def keys_passphrase(key_path, remove):
    """Set, change or remove the key file's passphrase; the key stays the same.

    The current passphrase comes from ARCHIVE_KEY_PASSPHRASE or is asked for, the new one from
    ARCHIVE_NEW_KEY_PASSPHRASE or is asked for twice. The file is written again whole (PBKDF2 at
    600,000 iterations), which also strengthens a key file written by a version before that
    (2,048 iterations; `archive keys show` warns about those).

    Example: archive keys passphrase
    """
    key_path = key_path or default_key_path()
    old_secret = _passphrase(key_path, prompt=True)
    try:  # a wrong passphrase is said before the new one is asked for
        signer = load_key(key_path, old_secret)
    except KeyFileError as e:
        raise click.ClickException(str(e)) from None
    was_encrypted = key_is_encrypted(key_path)
    if remove and not was_encrypted:  # already as asked: nothing to write (said, not failed)
        click.echo(f"{signer.key_id} {key_path}: no passphrase to remove; unchanged")
        return
    secret = None
    if not remove:
        secret = os.environ.get("ARCHIVE_NEW_KEY_PASSPHRASE") or _prompt_new(
            "New passphrase", "ARCHIVE_NEW_KEY_PASSPHRASE", "the new passphrase"
        )
    try:
        signer = change_passphrase(key_path, old_secret, secret)
    except ArchiveError as e:
        raise click.ClickException(str(e)) from None
    done = "removed" if remove else "changed" if was_encrypted else "set"
    click.echo(f"{signer.key_id} {key_path}: passphrase {done}")


@keys.command("rotate")
@db_option
@key_option
@click.option(
    "--passphrase/--no-passphrase",
    default=None,
    help="Encrypt the new key with a passphrase (ARCHIVE_NEW_KEY_PASSPHRASE or prompt), or not "
    "[default: as the old key is: with ARCHIVE_NEW_KEY_PASSPHRASE if set, else the old key's "
    "passphrase; not encrypted if the old key was not, unless ARCHIVE_NEW_KEY_PASSPHRASE is set].",
)
def keys_rotate(db_path, key_path, passphrase):
    """Replace the signing key: the old key signs a ledger entry introducing the new one.

    The new key takes the old one's path; the old key file is kept beside it as
    <name>.retired-<the key id's 16 hex digits>. Only the archive's current key can be rotated,
    and a retired key signs nothing more. Everything signed by the old key stays verifiable, and
    an auditor who pins the old key follows the rotation.

    Example: archive keys rotate
    """
    from .ledger import rotate_key_file

    key_path = key_path or default_key_path()
    if key_path.is_symlink():
        # the new key goes beside the real file (in its directory), which the link still names
        key_path = key_path.resolve()
    old_secret = _passphrase(key_path, prompt=True)
    try:
        old = load_key(key_path, old_secret)
    except KeyFileError as e:
        raise click.ClickException(str(e)) from None
    # an explicit --no-passphrase wins over the environment
    secret = None if passphrase is False else os.environ.get("ARCHIVE_NEW_KEY_PASSPHRASE")
    if passphrase and not secret:
        secret = _prompt_new("New passphrase", "ARCHIVE_NEW_KEY_PASSPHRASE")
    reused = passphrase is None and not secret and key_is_encrypted(key_path)
    if reused:  # a protected key is not replaced by an unprotected one without being asked to
        secret = old_secret
    db_path = archive_db_path(db_path)  # a link followed: its checkpoint file is beside it
    try:
        hold_while_writing(db_path)
        db = connect(db_path, create=False)
        new, retired, warning = rotate_key_file(db.conn, db_path, key_path, old, secret or None)
    except ArchiveError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"Rotated {old.key_id} -> {new.key_id}; old key kept at {retired}")
    if not secret and key_is_encrypted(retired):
        click.echo(
            "Note: the new key is not passphrase-protected (the old one was; --no-passphrase)",
            err=True,
        )
    elif reused:
        click.echo("The new key is protected with the old key's passphrase", err=True)
    if warning:
        click.echo(f"Warning: {warning}", err=True)
