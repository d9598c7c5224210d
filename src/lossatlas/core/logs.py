"""Logging for workflow scripts: everything a job prints goes to its Snakemake ``log:`` file."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import Iterator


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def log_to(path: str | Path) -> Iterator[None]:
    """Sends stdout and stderr (tracebacks included) to ``path`` for the duration of the block.

    A SIGTERM (Snakemake or a scheduler stopping the job) becomes ``SystemExit``, so that the
    block's clean-up runs: an atomic write in progress removes its temporary file.
    """
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            yield
        except BaseException:
            import traceback

            traceback.print_exc(file=log)
            raise
