"""eligo: clinical-trial eligibility screening with explained, three-valued results."""

from eligo._version import __version__
from eligo.errors import EligoError, PatientDataError, ProtocolError, UsageError
from eligo.evaluate import Screener
from eligo.library import load_protocol
from eligo.patient import Patient
from eligo.result import ScreeningResult, Status, Verdict
from eligo.rules import Protocol
from eligo.screening import screen

__all__ = [
    "EligoError",
    "Patient",
    "PatientDataError",
    "Protocol",
    "ProtocolError",
    "Screener",
    "ScreeningResult",
    "Status",
    "UsageError",
    "Verdict",
    "__version__",
    "load_protocol",
    "screen",
]
