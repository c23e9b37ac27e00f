"""The files of a server install (deploy/), checked as far as this machine allows: the environment
template against the settings, the nginx site with Debian's nginx, the systemd units with
systemd-analyze."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ENV_LINE = re.compile(r"^#?\s*(DUIJIE_[A-Z_]+)=(.*)$")


def tool(name: str) -> str:
    found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing: .ci/run installs it")
        pytest.skip(f"{name} not installed")
    return found


def active_settings() -> dict[str, str]:
    lines = (DEPLOY / "duijie.env.example").read_text(encoding="utf-8").splitlines()
    return dict(m.groups() for line in lines if not line.startswith("#") and (m := ENV_LINE.match(line)))


def test_the_environment_template_names_every_setting_and_nothing_else() -> None:
    lines = (DEPLOY / "duijie.env.example").read_text(encoding="utf-8").splitlines()
    named = [m.group(1) for line in lines if (m := ENV_LINE.match(line))]
    assert len(named) == len(set(named))
    assert set(named) == {f"DUIJIE_{name.upper()}" for name in Settings.model_fields}


def test_the_environment_template_s_values_are_valid_settings() -> None:
    values = active_settings()
    # systemd's EnvironmentFile takes everything after '=' as the value: no comment may follow it.
    assert all("#" not in v for v in values.values()), values
    settings = Settings(_env_file=None, **{k.removeprefix("DUIJIE_").lower(): v for k, v in values.items()})
    assert settings.https_only_cookies is True and settings.scheduler_in_web is False
    assert settings.database_url.startswith("postgresql://")


def test_the_nginx_site_passes_nginx_t(tmp_path: Path) -> None:
    nginx, openssl = tool("nginx"), tool("openssl")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem"), "-days", "1", "-subj", "/CN=duijie.test"],
                   check=True, capture_output=True)
    site = (DEPLOY / "nginx-duijie.conf").read_text(encoding="utf-8")
    assert "client_max_body_size 12m;" in site and Settings(_env_file=None).max_upload_mb < 12
    assert "server 127.0.0.1:8000;" in site  # where duijie-web.service listens
    site = (site.replace("/etc/ssl/duijie/fullchain.pem", str(tmp_path / "cert.pem"))
            .replace("/etc/ssl/duijie/privkey.pem", str(tmp_path / "key.pem"))
            .replace("/var/log/nginx/", f"{tmp_path}/"))
    (tmp_path / "site.conf").write_text(site, encoding="utf-8")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  include /etc/nginx/mime.types;\n  include {tmp_path}/site.conf;\n}}\n", encoding="utf-8")
    result = subprocess.run([nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.mark.parametrize("unit", ["duijie-web.service", "duijie-scheduler.service"])
def test_the_systemd_units_verify(tmp_path: Path, unit: str) -> None:
    analyze = tool("systemd-analyze")
    duijie = Path(sys.executable).parent / "duijie"
    text = (DEPLOY / unit).read_text(encoding="utf-8")
    command = re.search(r"^ExecStart=/srv/duijie/\.venv/bin/duijie (.*)$", text, re.MULTILINE)
    assert command is not None
    # The command line is one the CLI takes.
    words = command.group(1).split()
    help_text = CliRunner().invoke(app, [words[0], "--help"]).output
    assert all(w in help_text for w in words[1:] if w.startswith("--"))
    # The account and paths of a server install do not exist here: this machine's stand in for them.
    local = (text.replace("/srv/duijie/.venv/bin/duijie", str(duijie))
             .replace("User=duijie", "User=root").replace("Group=duijie", "Group=root")
             .replace("/etc/duijie/duijie.env", str(DEPLOY / "duijie.env.example")))
    (tmp_path / unit).write_text(local, encoding="utf-8")
    result = subprocess.run([analyze, "verify", str(tmp_path / unit)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr  # no ignored or unknown setting either
