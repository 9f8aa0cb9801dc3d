"""`python -m shared.admin ...` is `ttadmin ...` (no reinstall needed for the console script)."""

from shared.admin.cli import main

main()
