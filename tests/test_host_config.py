"""Host configuration: Gestalt's shape, selection rules, env substitution, every error with its path."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from pyidb.host import ConfigError, Host, load_config

EXAMPLE = """
[server.providers]
indexeddb = "main"

[providers.indexeddb.main]
url = "sqlite:///gestalt.db"

[providers.indexeddb.workplaceHub]
url = "${APP_DATABASE_URL}"          # environment variables are substituted

[plugins.workplace_hub.indexeddb]
provider = "workplaceHub"            # default: the host's selected provider
db = "workplace_hub"                 # default: the plugin key
object_stores = ["tasks"]            # default: no restriction
"""

ENV = {"APP_DATABASE_URL": "memory:"}


def problems(source: Any, env: dict[str, str] | None = None) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        load_config(source, ENV if env is None else env)
    return caught.value.problems


def paths(source: Any, env: dict[str, str] | None = None) -> list[str]:
    return [p for p, _ in problems(source, env)]


def providers(**entries: dict[str, Any]) -> dict[str, Any]:
    return {"providers": {"indexeddb": entries}}


def test_the_issue_example_reads_as_written(tmp_path: Path) -> None:
    path = tmp_path / "host.toml"
    path.write_text(EXAMPLE)
    config = load_config(path, ENV)
    assert config.selected == "main"
    assert config.providers["main"].url == "sqlite:///gestalt.db"
    assert config.providers["workplaceHub"].url == "memory:"
    plugin = config.plugins["workplace_hub"]
    assert (plugin.provider, plugin.db, plugin.object_stores) == ("workplaceHub", "workplace_hub", ("tasks",))


def test_yaml_reads_the_same(tmp_path: Path) -> None:
    pytest.importorskip("yaml", reason="YAML configs need PyYAML (in the test extra)")
    path = tmp_path / "host.yaml"
    path.write_text(textwrap.dedent("""
        server: {providers: {indexeddb: main}}
        providers:
          indexeddb:
            main: {url: "sqlite:///gestalt.db"}
            workplaceHub: {url: "${APP_DATABASE_URL}"}
        plugins:
          workplace_hub:
            indexeddb: {provider: workplaceHub, db: workplace_hub, object_stores: [tasks]}
    """))
    toml = tmp_path / "host.toml"
    toml.write_text(EXAMPLE)
    assert load_config(path, ENV).plugins == load_config(toml, ENV).plugins
    bad = tmp_path / "bad.yaml"
    bad.write_text("providers: [unclosed")
    assert "not valid YAML" in problems(bad)[0][1]


def test_yaml_cannot_construct_objects(tmp_path: Path) -> None:
    pytest.importorskip("yaml", reason="YAML configs need PyYAML (in the test extra)")
    path = tmp_path / "evil.yaml"
    path.write_text("providers: !!python/object/apply:os.system ['echo pwned']\n")
    assert "not valid YAML" in problems(path)[0][1]


def test_defaults_provider_db_and_no_restriction() -> None:
    config = load_config({**providers(main={"url": "memory:"}), "plugins": {"notes": {}}}, {})
    assert config.selected == "main"
    plugin = config.plugins["notes"]
    assert (plugin.provider, plugin.db, plugin.object_stores, plugin.token) == ("main", "notes", None, None)


def test_selection_explicit_then_default_then_only() -> None:
    two = providers(a={"url": "memory:"}, b={"url": "memory:", "default": True})
    assert load_config(two, {}).selected == "b"
    assert load_config({**two, "server": {"providers": {"indexeddb": "a"}}}, {}).selected == "a"
    assert load_config(providers(only={"url": "memory:"}), {}).selected == "only"


def test_several_providers_without_a_choice() -> None:
    [(path, message)] = problems(providers(a={"url": "memory:"}, b={"url": "memory:"}))
    assert path == "server.providers.indexeddb" and "name one" in message


def test_two_defaults() -> None:
    [(path, message)] = problems(providers(a={"url": "memory:", "default": True},
                                           b={"url": "memory:", "default": True}))
    assert path == "providers.indexeddb"
    assert "providers.indexeddb.a" in message and "providers.indexeddb.b" in message


def test_unknown_provider_named_by_server_or_plugin() -> None:
    raw = {**providers(main={"url": "memory:"}), "server": {"providers": {"indexeddb": "mian"}},
           "plugins": {"p": {"indexeddb": {"provider": "nope"}}}}
    got = problems(raw)
    assert [p for p, _ in got] == ["server.providers.indexeddb", "plugins.p.indexeddb.provider"]
    assert "unknown provider 'mian'" in got[0][1] and "main" in got[0][1]


@pytest.mark.parametrize("url", ["mysql://x/y", "sqlite:///", "sqlite:///:memory:", "", 42,
                                 "postgresql://h/db?schema=public", "postgresql://"])
def test_bad_urls(url: Any) -> None:
    assert paths(providers(main={"url": url})) == ["providers.indexeddb.main.url"]


def test_missing_url_and_no_providers() -> None:
    assert paths(providers(main={})) == ["providers.indexeddb.main.url"]
    assert paths({}) == ["providers.indexeddb"]
    assert paths(providers()) == ["providers.indexeddb"]


def test_password_never_in_an_error() -> None:
    [(_, message)] = problems(providers(main={"url": "postgresql://app:s3cret@db/x?schema=public"}))
    assert "s3cret" not in message
    [(_, message)] = problems(providers(main={"url": "mysql://app:s3cret@db/x"}))
    assert "s3cret" not in message and "***" in message


@pytest.mark.parametrize(
    ("stores", "path"),
    [
        ([], "plugins.p.indexeddb.object_stores"),
        (["tasks", ""], "plugins.p.indexeddb.object_stores[1]"),
        (["tasks", "notes", "tasks"], "plugins.p.indexeddb.object_stores[2]"),
        ("tasks", "plugins.p.indexeddb.object_stores"),
        (["tasks", 3], "plugins.p.indexeddb.object_stores[1]"),
    ],
)
def test_store_lists(stores: Any, path: str) -> None:
    raw = {**providers(main={"url": "memory:"}), "plugins": {"p": {"indexeddb": {"object_stores": stores}}}}
    assert paths(raw) == [path]


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({"extra": 1}, "extra"),
        ({"server": {"port": 1}}, "server.port"),
        ({"server": {"providers": {"indexedDB": "main"}}}, "server.providers.indexedDB"),
        ({"providers": {"indexeddb": {"main": {"url": "memory:"}}, "secrets": {}}}, "providers.secrets"),
        ({"providers": {"indexeddb": {"main": {"url": "memory:", "schema": "x"}}}},
         "providers.indexeddb.main.schema"),
        ({"plugins": {"p": {"command": "x"}}}, "plugins.p.command"),
        ({"plugins": {"p": {"indexeddb": {"objectStores": ["a"]}}}}, "plugins.p.indexeddb.objectStores"),
    ],
)
def test_unknown_keys(raw: dict[str, Any], path: str) -> None:
    base = providers(main={"url": "memory:"})
    merged = {**base, **raw} if "providers" not in raw else raw
    got = problems(merged)
    assert [p for p, _ in got] == [path]
    assert "unknown key" in got[0][1]


@pytest.mark.parametrize(
    ("db", "why"),
    [("public", "reserved"), ("pg_catalog", "reserved"), ("information_schema", "reserved"),
     ("pyidb", "reserved"), ("Hub", "a-z"), ("a-b", "a-z"), ("a" * 49, "1-48"), ("", "1-48"),
     ("_x", "letter"), ("a\0b", "a-z")],
)
def test_db_names_are_checked(db: str, why: str) -> None:
    raw = {**providers(main={"url": "memory:"}), "plugins": {"p": {"indexeddb": {"db": db}}}}
    [(path, message)] = problems(raw)
    assert path == "plugins.p.indexeddb.db" and why in message


def test_the_plugin_key_as_default_db_is_checked_with_a_hint() -> None:
    raw = {**providers(main={"url": "memory:"}), "plugins": {"workplace-hub": {}}}
    [(path, message)] = problems(raw)
    assert path == "plugins.workplace-hub.indexeddb.db" and "set db" in message
    raw["plugins"]["workplace-hub"] = {"indexeddb": {"db": "workplace_hub"}}
    assert load_config(raw, {}).plugins["workplace-hub"].db == "workplace_hub"


def test_two_plugins_may_not_share_a_db() -> None:
    raw = {**providers(main={"url": "memory:"}),
           "plugins": {"a": {"indexeddb": {"db": "shared"}}, "b": {"indexeddb": {"db": "shared"}}}}
    [(path, message)] = problems(raw)
    assert path == "plugins.b.indexeddb.db" and "plugins.a.indexeddb" in message


def test_tokens() -> None:
    token = "t" * 20
    raw = {**providers(main={"url": "memory:"}),
           "plugins": {"a": {"indexeddb": {"token": token}}, "b": {"indexeddb": {"token": token}},
                       "c": {"indexeddb": {"token": "short"}}}}
    got = problems(raw)
    assert [p for p, _ in got] == ["plugins.b.indexeddb.token", "plugins.c.indexeddb.token"]
    host = Host.from_config({**providers(main={"url": "memory:"}),
                             "plugins": {"a": {"indexeddb": {"token": "${A_TOKEN}"}}}}, {"A_TOKEN": token})
    assert host.plugin_for_token(token) == "a"
    assert host.plugin_for_token(token + "x") is None and host.plugin_for_token("") is None


def test_environment_substitution() -> None:
    def url(text: str, env: dict[str, str]) -> str:
        return load_config(providers(main={"url": text}), env).providers["main"].url

    assert url("sqlite:///${DIR}/h.db", {"DIR": "/data"}) == "sqlite:////data/h.db"
    assert url("${URL:-memory:}", {}) == "memory:"
    assert url("${URL:-memory:}", {"URL": "sqlite:///x.db"}) == "sqlite:///x.db"
    assert url("sqlite:///a$$b.db", {}) == "sqlite:///a$b.db"
    assert url("sqlite:///a$b.db", {}) == "sqlite:///a$b.db"  # a lone $ is kept
    for text, expect in [("${MISSING}", "MISSING is not set"), ("${bad name}", "not a variable"),
                         ("sqlite:///${OPEN", "unterminated")]:
        [(path, message)] = problems(providers(main={"url": text}), {})
        assert path == "providers.indexeddb.main.url" and expect in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "host.toml"
    path.write_text(textwrap.dedent("""
        [providers.indexeddb.main]
        url = "nope://"
        [plugins.a.indexeddb]
        db = "public"
        object_stores = ["x", "x"]
        colour = "red"
    """))
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert [p for p, _ in caught.value.problems] == [
        "providers.indexeddb.main.url", "plugins.a.indexeddb.colour",
        "plugins.a.indexeddb.db", "plugins.a.indexeddb.object_stores[1]",
    ]
    text = str(caught.value)
    assert text.count(str(path)) == 4 and caught.value.name == "ConfigError"


def test_file_errors(tmp_path: Path) -> None:
    assert "cannot read" in problems(tmp_path / "missing.toml")[0][1]
    bad = tmp_path / "bad.toml"
    bad.write_text("[providers\n")
    assert "not valid TOML" in problems(bad)[0][1]


def test_nothing_opens_before_the_config_is_checked(tmp_path: Path) -> None:
    db_file = tmp_path / "host.db"
    raw = {**providers(main={"url": f"sqlite:///{db_file}"}),
           "plugins": {"p": {"indexeddb": {"db": "public"}}}}
    with pytest.raises(ConfigError):
        Host.from_config(raw, {})
    assert not db_file.exists()
    raw["plugins"]["p"]["indexeddb"]["db"] = "p"
    host = Host.from_config(raw, {})
    assert not db_file.exists()  # checked, not opened: factories come on first use
    host.factory()
    assert db_file.exists()
    host.close()
