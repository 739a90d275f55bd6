"""Where the POSLog samples shipped with retailhub live, for the POSLog connector tests."""

from __future__ import annotations

from pathlib import Path

import retailhub

POSLOG_SAMPLES = Path(retailhub.__file__).parent / "samples" / "poslog"
NCR_SMALL = POSLOG_SAMPLES / "ncr-acs-small.xml"
NCR_51TX = POSLOG_SAMPLES / "ncr-acs-51tx.xml"
FUTURA = POSLOG_SAMPLES / "dialects" / "futura-roqqio-eu-store.xml"
VISMA = POSLOG_SAMPLES / "dialects" / "visma-retail-nordic.xml"
ALL_SAMPLES = (NCR_SMALL, NCR_51TX, FUTURA, VISMA)
