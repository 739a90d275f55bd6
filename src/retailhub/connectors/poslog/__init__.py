"""NRF/ARTS POSLog 6.0: read any vendor's dialect into canonical Orders and Returns, and write back."""

from retailhub.connectors.poslog.ids import PosDocumentKey, parse_pos_document_id, pos_document_id
from retailhub.connectors.poslog.mapping import (
    PoslogTranslation,
    poslog_to_canonical,
    transaction_to_canonical,
)
from retailhub.connectors.poslog.records import TransactionFailure
from retailhub.connectors.poslog.render import canonical_to_poslog
from retailhub.connectors.poslog.safe_xml import PoslogSyntaxError

__all__ = [
    "PosDocumentKey",
    "PoslogSyntaxError",
    "PoslogTranslation",
    "TransactionFailure",
    "canonical_to_poslog",
    "parse_pos_document_id",
    "pos_document_id",
    "poslog_to_canonical",
    "transaction_to_canonical",
]
