# SPDX-License-Identifier: LGPL-2.1-or-later
"""The three tools as a user types them: --version, --help, info, errors, exit codes."""
import json

import pytest

import vxn


@pytest.mark.parametrize("tool", ["vdkr", "vpdmn", "vxn-oci-runtime"])
def test_version_and_help(tool, roots):
    from conftest import Tool
    t = Tool(tool)
    p = t("--version", check=0)
    assert p.stdout.splitlines()[0].startswith("%s version %s" % (tool, vxn.version()))
    p = t("--help", check=0)
    assert p.stdout.startswith("Usage:  %s " % tool)
    assert p.stderr == ""


@pytest.mark.parametrize("tool,code", [("vdkr", 125), ("vpdmn", 125), ("vxn-oci-runtime", 1)])
def test_unknown_flag_is_one_clear_error(tool, code, roots):
    from conftest import Tool
    p = Tool(tool)("--no-such-flag", check=code)
    assert p.stderr.splitlines()[0] == "%s: unknown flag: --no-such-flag" % tool
    assert p.stdout == ""


def test_unknown_command(vdkr, vpdmn):
    p = vdkr("frobnicate", check=1)
    assert p.stderr.splitlines()[0] == "vdkr: 'frobnicate' is not a vdkr command."
    vpdmn("frobnicate", check=125)


@pytest.mark.parametrize("name", ["vdkr", "vpdmn"])
def test_info_prints_real_roots_and_backends(name, roots):
    from conftest import Tool
    t = Tool(name)
    p = t("info", check=0)
    assert " State root:     %s (env)" % roots["state"] in p.stdout
    assert " Data root:      %s (env)" % roots["data"] in p.stdout
    assert " Library:        libvxn %s" % vxn.version() in p.stdout
    backends = [f.split(":", 1)[1] for f in vxn.features() if f.startswith("backend:")]
    want = ", ".join(backends) if backends else "none compiled in"
    assert " Backends:       %s" % want in p.stdout
    j = json.loads(t("info", "--format", "json", check=0).stdout)
    assert j["StateRoot"] == roots["state"]
    assert j["Backends"] == backends
    assert j["Version"] == vxn.version()


def test_global_flags_override_env(vdkr, tmp_path):
    p = vdkr("--state-root", str(tmp_path / "s"), "--data-root", str(tmp_path / "d"),
             "info", "--format", "json", check=0)
    j = json.loads(p.stdout)
    assert j["StateRoot"] == str(tmp_path / "s")
    assert j["DataRoot"] == str(tmp_path / "d")


def test_podman_style_root_flags(vpdmn, tmp_path):
    p = vpdmn("--root", str(tmp_path / "d"), "--runroot", str(tmp_path / "s"),
              "info", "--format", "json", check=0)
    j = json.loads(p.stdout)
    assert (j["DataRoot"], j["StateRoot"]) == (str(tmp_path / "d"), str(tmp_path / "s"))


def test_bad_config_line_one_error_names_file_and_line(vdkr, tmp_path):
    conf = tmp_path / "vxn.conf"
    conf.write_text("# vxn\ndata_root = /srv/vxn\nthis line is wrong\n")
    p = vdkr("--config", str(conf), "info", check=1)
    assert p.stderr == ("vdkr: info: %s:3: expected 'key = value', got 'this line is wrong'\n"
                        % conf)
    assert p.stdout == ""


def test_bad_config_via_env(vpdmn, tmp_path, monkeypatch):
    conf = tmp_path / "vxn.conf"
    conf.write_text("colour = blue\n")
    monkeypatch.setenv("VXN_CONFIG", str(conf))
    p = vpdmn("info", check=125)
    assert p.stderr == "vpdmn: info: %s:1: unknown key 'colour'\n" % conf


def test_bad_flag_value_and_debug_logging(vdkr):
    p = vdkr("--log-level", "loud", "info", check=1)
    assert p.stderr.strip() == ("vdkr: info: log_level: 'loud' must be error, warning, "
                                "info or debug")


def test_runtime_accepts_runc_global_flags(runtime, tmp_path):
    # The globals containerd's shim passes; no command yet is a usage error, not a crash.
    p = runtime("--root", str(tmp_path), "--log", str(tmp_path / "log.json"),
                "--log-format", "json", "--version", check=0)
    assert p.stdout.startswith("vxn-oci-runtime version")
    runtime("--log-format", "xml", "--version", check=1)
