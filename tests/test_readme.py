"""The README's short session is true: each command, run as written on the sample captures,
prints what the README shows (the key id, the ledger root and the home directory aside)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from archive.docs import ROOT

KEY_ID = re.compile(r"ed25519:[0-9a-f]{16}")
ROOT_HASH = re.compile(r"root [0-9a-f]{64}")


def _session() -> list[tuple[str, list[str]]]:
    """The commands of the README's first console block after "A short session", each with
    the lines it prints."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## A short session.*?```console\n(.*?)```", readme, re.S).group(1)
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


def _same(expected: list[str], got: list[str]) -> bool:
    """Line by line; a line "..." in the README stands for any lines."""
    if "..." in expected:
        cut = expected.index("...")
        head, tail = expected[:cut], expected[cut + 1 :]
        return got[:cut] == head and (not tail or got[-len(tail) :] == tail)
    return got == expected


def test_the_readme_session_prints_what_the_readme_shows(tmp_path):
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARCHIVE_", "XDG_"))}
    env["HOME"] = str(home)  # a new key, made where the README says
    subprocess.run(
        [sys.executable, ROOT / "examples" / "build_samples.py", "--out",
         tmp_path / "examples" / "captures"],
        check=True, capture_output=True,
    )  # fmt: skip
    steps = _session()
    assert steps[-1][0] == "archive serve"  # (it serves until stopped: not run here)
    key_id = None
    for command, expected in steps[:-1]:
        argv = [sys.executable, "-m", "archive", *command.split()[1:]]
        done = subprocess.run(
            argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        got = (done.stderr + done.stdout).splitlines()
        assert done.returncode == 0, (command, got)
        key_id = key_id or next((m.group() for line in got if (m := KEY_ID.search(line))), None)
        expected = [
            ROOT_HASH.sub("root R", KEY_ID.sub(key_id or "K", line)).replace("/home/me", str(home))
            for line in expected
        ]
        got = [ROOT_HASH.sub("root R", line) for line in got]
        assert _same(expected, got), (command, expected, got)
