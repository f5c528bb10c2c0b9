"""The one-call API: screen a patient against a protocol at an as-of date."""

from __future__ import annotations

from datetime import date

from eligo.evaluate import Screener
from eligo.patient import Patient
from eligo.result import ScreeningResult
from eligo.rules import Protocol


def screen(protocol: Protocol, patient: Patient, as_of: date) -> ScreeningResult:
    """Evaluate every criterion of ``protocol`` for ``patient`` as of ``as_of``, explained.

    To screen many patients, build one :class:`~eligo.Screener` and reuse it.
    """
    return Screener(protocol).screen(patient, as_of)
