"""What both domains' LightningCLI commands share."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from titans_seq.estimators._common import lightning_warnings_hidden


@contextmanager
def hide_lightning_warnings() -> Iterator[None]:
    """Hide the warnings Lightning raises about its own internals, which a user cannot act on.

    - "LightningCLI's args parameter ...": the commands pass ``args=argv`` on purpose, because the console
      script's own ``sys.argv`` also holds the domain name (``titans-seq forecast fit ...``).
    - and what :func:`~titans_seq.estimators._common.lightning_warnings_hidden` always hides; Lightning's
      advice (workers, logging interval) stays, as a command-line user sees its progress and settings.
    """
    with lightning_warnings_hidden(verbose=True), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
        yield
