"""`python -m td3her_cli` runs the CLI."""

from td3her_cli.cli.app import main

main()
