"""A Python host that hands IndexedDB databases to its plugins, each in a scope of its own.

    host = Host.from_config("host.toml")      # checks everything, opens nothing yet
    own = host.factory()                       # the host's own databases
    hub = host.factory_for("workplace_hub")    # the plugin's scoped factory

Plugins in other processes reach their scope through the host socket
(``python -m pyidb.host serve --config host.toml --socket PATH``, see :mod:`pyidb.host.server`).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from typing import Any

from .. import api
from ..errors import NotFoundError
from ..factories import factory as open_factory
from .config import ConfigError, HostConfig, PluginConfig, ProviderConfig, load_config

__all__ = ["ConfigError", "Host", "HostConfig", "PluginConfig", "ProviderConfig", "load_config"]


class Host:
    """Factories for the host and its plugins, made on first use from a checked config."""

    def __init__(self, config: HostConfig) -> None:
        self.config = config
        self._factories: dict[str, api.Factory] = {}
        self._scoped: dict[str, api.Factory] = {}

    @classmethod
    def from_config(cls, source: str | os.PathLike[str] | Mapping[str, Any],
                    env: Mapping[str, str] | None = None) -> Host:
        """``Host.from_config("host.toml")``; raises ConfigError listing every problem."""
        return cls(load_config(source, env))

    def provider_factory(self, provider: str) -> api.Factory:
        """The unscoped factory of a configured provider (one per provider)."""
        made = self._factories.get(provider)
        if made is None:
            made = self._factories[provider] = open_factory(self.config.providers[provider].url)
        return made

    def factory(self) -> api.Factory:
        """The host's own factory: the selected provider, unscoped."""
        return self.provider_factory(self.config.selected)

    def factory_for(self, plugin: str) -> api.Factory:
        """Plugin ``plugin``'s scoped factory (its db namespace and store allowlist)."""
        made = self._scoped.get(plugin)
        if made is None:
            conf = self.config.plugins.get(plugin)
            if conf is None:
                raise NotFoundError(
                    f"no plugin {plugin!r} in {self.config.source} "
                    f"(configured: {', '.join(sorted(self.config.plugins)) or 'none'})"
                )
            base = self.provider_factory(conf.provider)
            made = self._scoped[plugin] = base.scoped(db=conf.db, object_stores=conf.object_stores)
        return made

    def plugin_for_token(self, token: str) -> str | None:
        """The plugin a socket token belongs to, or None (compared in constant time)."""
        found = None
        for key, conf in self.config.plugins.items():
            if conf.token is not None and hmac.compare_digest(conf.token.encode(), token.encode()):
                found = key
        return found

    def close(self) -> None:
        """Close every factory this host opened."""
        for made in self._factories.values():
            close = getattr(made, "close", None)
            if close is not None:
                close()
        self._factories.clear()
        self._scoped.clear()
