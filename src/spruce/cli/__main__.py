"""`python -m spruce.cli ...` runs the `spruce` command (the tests start servers this way)."""

from spruce.cli import main

main()
