"""A stop signal raises KeyboardInterrupt in the main thread, and reaches no other thread."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import os, signal, threading, time
    from pipeline.core.interrupts import SIGNALS, stop_on_signals

    stop_on_signals()
    worker_mask = []
    worker = threading.Thread(target=lambda: worker_mask.extend(
        signal.pthread_sigmask(signal.SIG_BLOCK, [])))
    worker.start()
    worker.join()
    assert SIGNALS <= set(worker_mask), worker_mask   # threads started later inherit the block
    try:
        os.kill(os.getpid(), signal.{name})  # the interrupt may come at once, or a call later
        for _ in range(300):  # the interrupt comes between two calls, like two batches
            time.sleep(0.1)
    except KeyboardInterrupt as error:
        print("interrupted:", error, "in", threading.current_thread().name)
""")


def run(signal_name: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SCRIPT.format(name=signal_name)],
                          capture_output=True, text=True, timeout=20)


def test_sigterm_interrupts_the_main_thread_and_is_blocked_in_the_others() -> None:
    result = run("SIGTERM")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "interrupted: stopped by signal SIGTERM in MainThread"


def test_ctrl_c_does_the_same() -> None:
    result = run("SIGINT")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "interrupted: stopped by signal SIGINT in MainThread"
