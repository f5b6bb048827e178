"""A stop asked for by a signal: SIGTERM (a scheduler, ``kill``, the end of a session) or a
first Ctrl-C lets the training loop finish its optimisation step, write a checkpoint and
leave, so that ``--resume`` loses nothing; a second Ctrl-C interrupts at once.

Handlers are installed only in the main thread (Python allows no other) and the previous
ones are restored on exit. Under DDP every rank learns of a stop at the same step
(:meth:`StopRequest.agreed`), since ranks may receive the signal a step apart.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Optional

import torch
import torch.distributed as dist

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class TrainingStopped(KeyboardInterrupt):
    """Training left after a checkpoint because of ``signal_name``."""

    def __init__(self, signal_name: str, step: int) -> None:
        super().__init__(f"{signal_name} at step {step}")
        self.signal_name, self.step = signal_name, step
        self.exit_code = 128 + signal.Signals[signal_name].value


class StopRequest:
    def __init__(self) -> None:
        self.signal_name: Optional[str] = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame) -> None:
        if signum == signal.SIGINT and self.signal_name is not None:
            raise KeyboardInterrupt  # asked twice: do not wait for the step
        if self.signal_name is None:
            self.signal_name = signal.Signals(signum).name
            # os.write, not print or logging: a handler may run while their locks are held
            os.write(2, f"edg: {self.signal_name}: stopping after this step with a checkpoint "
                        f"(Ctrl-C again to stop at once)\n".encode())

    def agreed(self, distributed: bool, device: torch.device) -> Optional[str]:
        """The signal that asked for a stop, on any rank (``None``: keep training)."""
        if not distributed:
            return self.signal_name
        code = torch.tensor([signal.Signals[self.signal_name].value if self.signal_name else 0], device=device)
        dist.all_reduce(code, op=dist.ReduceOp.MAX)
        return signal.Signals(int(code)).name if int(code) else None
