"""The canonical retail model and event contracts. Pure: no I/O, no other retailhub package."""
