"""Price series: next month of real stocks and of a seasonal series, beside persistence."""
