# SPDX-License-Identifier: LGPL-2.1-or-later
"""The core module through `import vxn`: version, features, context, errors."""
import re

import pytest

import vxn


def test_version_matches_build():
    meson_build = open(__file__.rsplit("/tests/", 1)[0] + "/meson.build").read()
    want = re.search(r"version: '([0-9.]+)'", meson_build).group(1)
    assert vxn.version() == want
    major, minor, micro = (int(x) for x in want.split("."))
    assert vxn.version_number() == major * 10000 + minor * 100 + micro


def test_features_are_real():
    feats = vxn.features()
    assert isinstance(feats, list)
    for f in feats:
        assert vxn.has_feature(f)
    assert not vxn.has_feature("backend:none-such")
    # exactly the backends compiled in: qemu always, xen with libxenlight (-Dxen)
    assert vxn.has_feature("backend:qemu")
    assert sorted(f for f in feats if f.startswith("backend:")) == sorted(
        ["backend:qemu"] + (["backend:xen"] if _built_with_xen() else []))


def _built_with_xen():
    import os
    from conftest import BUILD
    with open(os.path.join(BUILD, "libvxn", "config.h")) as f:
        return "#define VXN_HAVE_XEN 1" in f.read()


def test_context_roots_from_env(roots):
    ctx = vxn.Context()
    assert ctx.state_root == roots["state"]
    assert ctx.data_root == roots["data"]
    assert ctx.log_root == roots["log"]
    assert ctx.origin("state_root") == "env"


def test_context_settings_and_keys(roots):
    ctx = vxn.Context(log_level="debug", state_root="/x/state")
    assert ctx.log_level == "debug"
    assert ctx.state_root == "/x/state"
    assert ctx.origin("state_root") == "set"
    assert set(vxn.Context.keys()) >= {"state_root", "data_root", "log_root", "log_level"}


def test_bad_config_raises_config_error_with_file_and_line(tmp_path, roots):
    conf = tmp_path / "vxn.conf"
    conf.write_text("state_root = /a\nlog_level = chatty\n")
    with pytest.raises(vxn.ConfigError) as ei:
        vxn.Context(config=str(conf))
    e = ei.value
    assert e.code == -13 and vxn.status_name(e.code) == "ECONFIG"
    assert e.message == "%s:2: log_level: 'chatty' must be error, warning, info or debug" % conf
    assert isinstance(e, vxn.Error)


def test_missing_config_carries_errno(roots):
    with pytest.raises(vxn.ConfigError) as ei:
        vxn.Context(config="/nonexistent/vxn.conf")
    assert ei.value.errno == 2


def test_invalid_set_raises_invalid_argument(roots):
    ctx = vxn.Context()
    with pytest.raises(vxn.InvalidArgument) as ei:
        ctx.set("data_root", "relative")
    assert isinstance(ei.value, ValueError)
    assert "absolute path" in ei.value.message
    # The failed set changed nothing.
    assert ctx.data_root == roots["data"]
