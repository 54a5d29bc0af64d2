"""What both domains' LightningCLI commands share."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def hide_lightning_warnings() -> Iterator[None]:
    """Hide the warnings Lightning raises about its own internals, which a user cannot act on.

    - "LightningCLI's args parameter ...": the commands pass ``args=argv`` on purpose, because the console
      script's own ``sys.argv`` also holds the domain name (``titans-seq forecast fit ...``).
    - "... LeafSpec ...": Lightning 2.6 on torch 2.13 calls a deprecated torch pytree API.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
        warnings.filterwarnings("ignore", message=r".*LeafSpec.*")
        yield
