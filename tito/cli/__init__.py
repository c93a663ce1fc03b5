"""The command line: Typer apps and rich rendering only; the work is done in tito.course."""
