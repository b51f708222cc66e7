"""The main screen's widgets, one module per region: header, accounts, queue, detail."""
