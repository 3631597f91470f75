"""Deployment files that cannot run here (no container engine, no cluster, no systemd) are checked for what
can be checked: they parse, every environment variable they set is one ``Settings`` knows, env.example
documents every setting, probe paths exist on the real app, and the Dockerfile keeps its promises."""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import PROJECT_ROOT, Settings
from bot.server import create_app

DEPLOY = PROJECT_ROOT / "deploy"
K8S = sorted((DEPLOY / "k8s").glob("*.yaml"))
#: Read by bot/config.py to find the TOML file: not a field, but a variable policybot knows.
EXTRA_KNOWN = {"POLICYBOT_CONFIG"}


def setting_env_names() -> set[str]:
    """Every environment variable name Settings reads (the first alias of each field; matching is
    case-insensitive, so names are compared upper-cased)."""
    names = set(EXTRA_KNOWN)
    for field in Settings.model_fields.values():
        choices = getattr(field.validation_alias, "choices", None)
        assert choices, "every Settings field declares its environment name"
        names.add(str(choices[0]))
    return {n.upper() for n in names}


def k8s_docs() -> list[dict[str, Any]]:
    docs = []
    for path in K8S:
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def test_settings_knows_its_own_names() -> None:
    names = setting_env_names()
    assert {"DATABASE_URL", "POLICYBOT_PORT", "SLACK_BOT_TOKEN", "MICROSOFTAPPID"} <= names
    assert len(names) == len(Settings.model_fields) + len(EXTRA_KNOWN)


def test_yaml_files_parse_and_kubernetes_has_what_it_needs() -> None:
    assert K8S, "deploy/k8s/*.yaml missing"
    kinds = {d["kind"] for d in k8s_docs()}
    assert {"Deployment", "Service", "ConfigMap", "Secret", "Job"} <= kinds
    deployment = next(d for d in k8s_docs() if d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 2
    job = next(d for d in k8s_docs() if d["kind"] == "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["policybot", "db", "migrate"]
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert compose["services"]["postgres"]["image"] == "postgres:16"
    assert any(v.startswith("pgdata:") for v in compose["services"]["postgres"]["volumes"])
    assert "pgdata" in compose["volumes"]


def _k8s_env() -> set[str]:
    names: set[str] = set()
    for doc in k8s_docs():
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "policybot-config":
            names |= set(doc["data"])
        if doc["kind"] == "Secret":
            names |= set(doc.get("stringData", {})) | set(doc.get("data", {}))
        if doc["kind"] in ("Deployment", "Job"):
            for container in doc["spec"]["template"]["spec"]["containers"]:
                names |= {e["name"] for e in container.get("env", [])}
    return names


def _compose_env() -> set[str]:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    names: set[str] = set()
    for name, service in compose["services"].items():
        if name != "postgres":
            names |= set(service.get("environment", {}))
    return names


def _env_example() -> set[str]:
    pattern = re.compile(r"^#?\s*([A-Za-z_][A-Za-z0-9_]*)=", re.M)
    return set(pattern.findall((DEPLOY / "env.example").read_text()))


def _systemd_env() -> set[str]:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string((DEPLOY / "policybot.service").read_text())
    return {pair.split("=", 1)[0] for pair in unit["Service"]["Environment"].split()}


@pytest.mark.parametrize(
    ("source", "names"),
    [("k8s", _k8s_env()), ("compose", _compose_env()), ("env.example", _env_example())],
)
def test_every_variable_set_is_a_setting(source: str, names: set[str]) -> None:
    assert names, f"{source}: found no variables (parser broken?)"
    unknown = {n for n in names if n.upper() not in setting_env_names()}
    assert not unknown, f"{source} sets variables Settings does not know: {sorted(unknown)}"


def test_env_example_documents_every_setting() -> None:
    documented = {n.upper() for n in _env_example()}
    missing = setting_env_names() - documented
    assert not missing, f"deploy/env.example does not document: {sorted(missing)}"


def test_process_variables_outside_settings_are_only_the_offline_switches() -> None:
    """The Dockerfile and the unit may set the Hugging Face offline switches (read by libraries, not us)."""
    allowed = setting_env_names() | {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}
    docker_env = re.findall(r"^\s+([A-Z_]+)=", _dockerfile_env_block(), re.M)
    docker_env += re.findall(r"^ENV\s+([A-Z_]+)=", (DEPLOY / "Dockerfile").read_text(), re.M)
    python_runtime = {n for n in docker_env if n.startswith(("PYTHON", "PIP_"))}
    assert set(docker_env) - python_runtime <= allowed
    assert _systemd_env() <= allowed


def _dockerfile_env_block() -> str:
    text = (DEPLOY / "Dockerfile").read_text()
    match = re.search(r"^ENV (.*?)(?=^\S)", text, re.M | re.S)
    return match.group(1) if match else ""


def test_probe_and_healthcheck_paths_exist_on_the_app(tmp_path: Path) -> None:
    app = create_app(Settings.load(var_dir=tmp_path))
    paths = {r.canonical for r in app.router.resources()}
    deployment = next(d for d in k8s_docs() if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    probes = {k: container[k]["httpGet"]["path"] for k in ("readinessProbe", "livenessProbe", "startupProbe")}
    assert probes["readinessProbe"] == "/readyz" and probes["livenessProbe"] == "/healthz"
    assert set(probes.values()) <= paths
    docker = (DEPLOY / "Dockerfile").read_text()
    healthcheck = re.search(r"HEALTHCHECK.*?(/\w+)'", docker, re.S)
    assert healthcheck is not None and healthcheck.group(1) == "/healthz"
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] in paths


def test_dockerfile_promises() -> None:
    docker = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", docker, re.M)
    assert "torch==2.13.0" in docker and "download.pytorch.org/whl/cpu" in docker
    users = re.findall(r"^USER\s+(\S+)", docker, re.M)
    assert users and users[-1] not in ("root", "0"), "the image must run as a non-root user"
    build = docker.index("policybot index build")
    assert docker.index(f"USER {users[-1]}") < build < docker.index("CMD")
    assert re.search(r'^CMD \["policybot", "serve"\]', docker, re.M)


def test_commands_the_files_run_exist() -> None:
    """Every `policybot ...` command line in the deployment files is a real command of the CLI."""
    from typer.main import get_command

    from bot.cli import app

    cli = get_command(app)
    files = [*K8S, DEPLOY / "compose.yaml", DEPLOY / "Dockerfile", DEPLOY / "policybot.service"]
    lines = [line for p in files for line in p.read_text().splitlines() if not line.lstrip().startswith("#")]
    text = "\n".join(lines)
    # Shell form (`policybot db migrate`) and exec form (`["policybot", "db", "migrate"]`).
    words = re.findall(r"bin/policybot ([a-z]+)(?: ([a-z]+))?|policybot ([a-z]+)(?: ([a-z]+))?", text)
    words += re.findall(r'"policybot", "([a-z]+)"(?:, "([a-z]+)")?', text)
    used = {tuple(w for w in m if w)[:2] for m in words}
    assert ("db", "migrate") in used and ("serve",) in {u[:1] for u in used}
    for command in used:
        group = cli.commands.get(command[0])  # type: ignore[attr-defined]
        assert group is not None, f"unknown command policybot {command[0]}"
        subs = getattr(group, "commands", None)
        if subs is not None:
            assert len(command) == 2 and command[1] in subs, f"unknown command policybot {' '.join(command)}"
