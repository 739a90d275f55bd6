"""The POS estate emulator: the head-office store server's feed API and the till simulator."""

from retailhub.sandbox.poslog.emulator import PoslogEmulator
from retailhub.sandbox.poslog.tills import TillRun, TillSimulator, TillState

__all__ = ["PoslogEmulator", "TillRun", "TillSimulator", "TillState"]
