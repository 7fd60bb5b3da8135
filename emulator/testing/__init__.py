"""Run an emulator from tests, scripts or notebooks: `EmulatorThread` (sync) or `emulator.app.Emulator` (async)."""

from .runner import EmulatorThread

__all__ = ["EmulatorThread"]
