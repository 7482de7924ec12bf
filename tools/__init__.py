"""Maintainer tools for td3her's repository (not installed with the package)."""
