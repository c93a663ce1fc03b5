"""The toolchain's pure logic: no Typer, no rich. Usable from notebooks, graders and tests."""
