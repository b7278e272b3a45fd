"""Ingest: landing exports in, pseudonymised silver Delta tables out. Raw identifiers stop here."""

from __future__ import annotations

from footfall.ingest.checks import ReconciliationError
from footfall.ingest.contract import InputContractError, check_events_contract
from footfall.ingest.forget import ForgetReport, clear_pending, dates_to_republish, run_forget
from footfall.ingest.job import IngestReport, date_range, run_ingest
from footfall.ingest.pseudonym import MasterKey, PseudonymKeyError, create_dev_key, load_master_key

__all__ = [
    "ForgetReport",
    "IngestReport",
    "InputContractError",
    "MasterKey",
    "PseudonymKeyError",
    "ReconciliationError",
    "check_events_contract",
    "clear_pending",
    "create_dev_key",
    "date_range",
    "dates_to_republish",
    "load_master_key",
    "run_forget",
    "run_ingest",
]
