"""The runners' fixtures (site server with web_demo/ overlaid live, Chromium, logged contexts)."""

from runners.fixtures import browser_context, built_site, chromium, site_server  # noqa: F401
