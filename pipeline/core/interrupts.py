"""Stopping a stage on SIGTERM (``kill``, ``dvc queue kill``) or Ctrl-C: a KeyboardInterrupt in
the main thread, so the stage's outputs are dropped and its MLflow runs end KILLED instead of
staying RUNNING.

The signals are kept away from every other thread. A signal that lands in one of
TensorFlow's worker threads can leave tf.data waiting forever (seen: ``fit`` blocked for good
after a SIGTERM, in about one stop of three), so the main thread blocks them before any
worker starts, every thread started later inherits the block, and one thread of ours waits
for them and hands them to the main thread.
"""

from __future__ import annotations

import _thread
import signal
import threading
from types import FrameType

SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


def stop_on_signals() -> None:
    """From now on SIGTERM and SIGINT raise KeyboardInterrupt in the main thread, and only
    there, as soon as it runs Python code again (as with any Python signal handler; a long
    call into C, one training step, ends first). Call it from the main thread before the
    work starts its threads."""
    for signum in SIGNALS:
        signal.signal(signum, _raise_interrupt)
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    threading.Thread(target=_hand_to_main_thread, name="stop-signals", daemon=True).start()


def _hand_to_main_thread() -> None:
    while True:
        _thread.interrupt_main(signal.sigwait(SIGNALS))


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signal.Signals(signum).name}")
