"""The host's configuration: which IndexedDB provider the host uses and which scope each plugin gets.

Read from a TOML file (``tomllib``), a YAML file (when PyYAML is installed) or a dict, shaped
like Gestalt's::

    [server.providers]
    indexeddb = "main"                  # the host's provider (else: default = true, else the only one)

    [providers.indexeddb.main]
    url = "sqlite:///gestalt.db"

    [plugins.workplace_hub.indexeddb]
    provider = "main"                   # default: the host's provider
    db = "workplace_hub"                # default: the plugin key
    object_stores = ["tasks"]           # default: every store
    token = "${WORKPLACE_HUB_TOKEN}"    # for the host socket; default: none (not served)

``${NAME}`` in any string is replaced by the environment variable (``${NAME:-fallback}`` when
unset, ``$$`` for a literal ``$``). Everything is checked before anything opens, and every
problem is reported at once, each with its path in the file: ``load_config("host.toml")``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import Error
from ..factories import check_url
from ..scope_names import check_scope_name

__all__ = ["ConfigError", "HostConfig", "PluginConfig", "ProviderConfig", "load_config"]

_MIN_TOKEN = 16
_TOP = ("server", "providers", "plugins")
_PLUGIN_KEYS = ("provider", "db", "object_stores", "token")


class ConfigError(Error, ValueError):
    """The host configuration is wrong; ``problems`` lists ``(path, message)`` pairs.

    >>> str(err)
    "host.toml: providers.indexeddb.main.url: unknown factory URL 'mysql://...'"
    """

    name = "ConfigError"

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: {path}: {message}" if path else f"{source}: {message}"
                 for path, message in problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class ProviderConfig:
    """One ``[providers.indexeddb.NAME]`` entry."""

    name: str
    url: str
    default: bool = False


@dataclass(frozen=True)
class PluginConfig:
    """One plugin's scope: ``[plugins.KEY.indexeddb]``."""

    key: str
    provider: str
    db: str
    object_stores: tuple[str, ...] | None = None
    token: str | None = None


@dataclass(frozen=True)
class HostConfig:
    """A checked configuration: ``config.providers[config.selected].url``."""

    source: str
    providers: dict[str, ProviderConfig]
    selected: str
    plugins: dict[str, PluginConfig]


def load_config(source: str | os.PathLike[str] | Mapping[str, Any], env: Mapping[str, str] | None = None
                ) -> HostConfig:
    """Read and check a host configuration (a TOML/YAML path or a dict); ConfigError if wrong."""
    env = os.environ if env is None else env
    if isinstance(source, Mapping):
        return _Checker("<config>", env).check(source)
    path = Path(source)
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(name, [("", f"cannot read the file: {exc.strerror or exc}")]) from None
    return _Checker(name, env).check(_parse(name, path.suffix.lower(), raw))


def _parse(name: str, suffix: str, raw: bytes) -> Any:
    if suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            missing = "a YAML config needs PyYAML: pip install pyyaml (or use TOML)"
            raise ConfigError(name, [("", missing)]) from None
        try:
            # safe_load: plain data only, a config file can never construct Python objects.
            return yaml.safe_load(raw.decode("utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(name, [("", f"not valid YAML: {exc}")]) from None
    import tomllib

    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(name, [("", f"not valid TOML: {exc}")]) from None


_VAR = re.compile(r"\$(?:\$|\{([^}]*)\}|\{)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


class _Checker:
    """Walks the raw config, collecting every problem with its path."""

    def __init__(self, source: str, env: Mapping[str, str]) -> None:
        self.source = source
        self.env = env
        self.problems: list[tuple[str, str]] = []
        self._declared: set[str] = set()  # provider names written in the file, valid or not

    def problem(self, path: str, message: str) -> None:
        self.problems.append((path, _PASSWORD.sub(r"\1***@", message)))

    # -- shapes ---------------------------------------------------------------------------
    def table(self, value: Any, path: str, allowed: tuple[str, ...] | None = None) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            self.problem(path, f"must be a table, not {_kind(value)}")
            return {}
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                self.problem(path, f"keys must be strings, not {key!r}")
            elif allowed is not None and key not in allowed:
                self.problem(_join(path, key), f"unknown key (allowed here: {', '.join(allowed)})")
            else:
                out[key] = item
        return out

    def string(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str):
            self.problem(path, f"must be a string, not {_kind(value)}")
            return None
        return self.substitute(value, path)

    def substitute(self, text: str, path: str) -> str | None:
        missing: list[str] = []

        def one(m: re.Match[str]) -> str:
            whole = m.group(0)
            if whole == "$$":
                return "$"
            inner = m.group(1)
            if inner is None:
                missing.append("an unterminated ${ (write $$ for a literal $)")
                return ""
            var, sep, fallback = inner.partition(":-")
            if not _NAME.fullmatch(var):
                missing.append(f"${{{inner}}} is not a variable reference (write $$ for a literal $)")
                return ""
            if var in self.env:
                return self.env[var]
            if sep:
                return fallback
            missing.append(f"the environment variable {var} is not set (or give ${{{var}:-fallback}})")
            return ""

        result = _VAR.sub(one, text)
        for message in missing:
            self.problem(path, message)
        return None if missing else result

    # -- sections -------------------------------------------------------------------------
    def check(self, raw: Any) -> HostConfig:
        top = self.table(raw, "", _TOP)
        providers = self.providers(top.get("providers"))
        selected = self.selected(top.get("server"), providers)
        plugins = self.plugins(top.get("plugins"), providers, selected)
        if self.problems:
            raise ConfigError(self.source, self.problems)
        return HostConfig(self.source, providers, selected or "", plugins)

    def providers(self, raw: Any) -> dict[str, ProviderConfig]:
        if raw is None:
            self.problem("providers.indexeddb", "no IndexedDB provider is configured: add "
                         "[providers.indexeddb.main] with url = \"sqlite:///host.db\"")
            return {}
        kinds = self.table(raw, "providers", ("indexeddb",))
        entries = self.table(kinds.get("indexeddb", {}), "providers.indexeddb")
        if not entries and "indexeddb" in kinds:
            self.problem("providers.indexeddb", "is empty: configure at least one provider")
        out: dict[str, ProviderConfig] = {}
        for name, body in entries.items():
            path = _join("providers.indexeddb", name)
            if not name:
                self.problem(path, "a provider name must not be empty")
                continue
            fields = self.table(body, path, ("url", "default"))
            url = None
            if "url" not in fields:
                self.problem(_join(path, "url"), "is missing (every provider needs a url)")
            else:
                url = self.string(fields["url"], _join(path, "url"))
                if url is not None:
                    try:
                        check_url(url)
                    except Error as exc:
                        self.problem(_join(path, "url"), exc.message)
                        url = None
            default = fields.get("default", False)
            if not isinstance(default, bool):
                self.problem(_join(path, "default"), f"must be true or false, not {_kind(default)}")
                default = False
            if url is not None:
                out[name] = ProviderConfig(name, url, default)
        defaults = [n for n, p in out.items() if p.default]
        if len(defaults) > 1:
            self.problem("providers.indexeddb", "more than one provider has default = true: "
                         + ", ".join(_join("providers.indexeddb", n) for n in defaults))
        self._declared = set(entries)
        return out

    def selected(self, raw: Any, providers: dict[str, ProviderConfig]) -> str | None:
        """Gestalt's rule: the explicit choice, else the one marked default, else the only one."""
        server = self.table(raw, "server", ("providers",)) if raw is not None else {}
        chosen = self.table(server.get("providers", {}), "server.providers", ("indexeddb",))
        if "indexeddb" in chosen:
            name = self.string(chosen["indexeddb"], "server.providers.indexeddb")
            return None if name is None else self.known(name, "server.providers.indexeddb")
        defaults = [n for n, p in providers.items() if p.default]
        if len(defaults) == 1:
            return defaults[0]
        if len(providers) == 1:
            return next(iter(providers))
        if len(providers) > 1 and not defaults:
            self.problem("server.providers.indexeddb", "several providers are configured ("
                         + ", ".join(providers) + "): name one here or mark one default = true")
        return None

    def known(self, name: str, path: str) -> str | None:
        if name in self._declared:
            return name  # declared (its own problems, if any, are reported at its entry)
        known = ", ".join(sorted(self._declared)) or "none"
        self.problem(path, f"unknown provider {name!r} (configured: {known})")
        return None

    def plugins(self, raw: Any, providers: dict[str, ProviderConfig], selected: str | None
                ) -> dict[str, PluginConfig]:
        out: dict[str, PluginConfig] = {}
        owners: dict[tuple[str, str], str] = {}
        tokens: dict[str, str] = {}
        for key, body in self.table(raw if raw is not None else {}, "plugins").items():
            path = _join(_join("plugins", key), "indexeddb")
            section = self.table(body, _join("plugins", key), ("indexeddb",))
            fields = self.table(section.get("indexeddb", {}), path, _PLUGIN_KEYS)
            provider = selected
            if "provider" in fields:
                name = self.string(fields["provider"], _join(path, "provider"))
                provider = None if name is None else self.known(name, _join(path, "provider"))
            db = self.scope(fields, key, path)
            stores = self.stores(fields.get("object_stores"), _join(path, "object_stores"))
            token = self.token(fields.get("token"), _join(path, "token"), tokens)
            if provider is None or db is None or (stores is None and "object_stores" in fields):
                continue
            other = owners.setdefault((provider, db), path)
            if other != path:
                self.problem(_join(path, "db"), f"{other} already uses db {db!r} on provider {provider!r}: "
                             "two plugins would share one namespace; give each its own db")
                continue
            if token is not None:
                tokens[token] = path
            out[key] = PluginConfig(key, provider, db, stores, token)
        return out

    def scope(self, fields: dict[str, Any], key: str, path: str) -> str | None:
        if "db" in fields:
            db = self.string(fields["db"], _join(path, "db"))
            where = _join(path, "db")
        else:
            db, where = key, _join(path, "db")
        if db is None:
            return None
        try:
            return check_scope_name(db)
        except Error as exc:
            hint = "" if "db" in fields else f" (the plugin key {key!r} is the default db: set db = \"...\")"
            self.problem(where, exc.message + hint)
            return None

    def stores(self, raw: Any, path: str) -> tuple[str, ...] | None:
        if raw is None:
            return None
        if not isinstance(raw, list):
            self.problem(path, f"must be a list of store names, not {_kind(raw)}")
            return None
        if not raw:
            self.problem(path, "is empty: list the stores the plugin may use, or remove the key to allow all")
            return None
        seen: list[str] = []
        ok = True
        for i, item in enumerate(raw):
            where = f"{path}[{i}]"
            name = self.string(item, where)
            if name is None:
                ok = False
            elif not name:
                self.problem(where, "a store name must not be empty")
                ok = False
            elif name in seen:
                self.problem(where, f"the store {name!r} is listed twice")
                ok = False
            else:
                seen.append(name)
        return tuple(seen) if ok else None

    def token(self, raw: Any, path: str, taken: dict[str, str]) -> str | None:
        if raw is None:
            return None
        token = self.string(raw, path)
        if token is None:
            return None
        if len(token) < _MIN_TOKEN:
            self.problem(path, f"a token must be at least {_MIN_TOKEN} characters (use a random secret)")
            return None
        if token in taken:
            self.problem(path, f"the same token as {taken[token]}: each plugin needs its own")
            return None
        return token


def _join(path: str, key: str) -> str:
    """``providers.indexeddb`` + ``main`` -> ``providers.indexeddb.main`` (TOML's dotted keys;
    a key that is not a bare word is quoted: ``plugins."my plugin"``)."""
    part = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else '"' + key.replace('"', '\\"') + '"'
    return f"{path}.{part}" if path else part


def _kind(value: Any) -> str:
    return {dict: "a table", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "nothing"}.get(type(value), type(value).__name__)
