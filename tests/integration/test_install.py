# SPDX-License-Identifier: LGPL-2.1-or-later
"""Install into a staging dir; a C program builds with `pkg-config --cflags --libs vxn`
and runs against the installed library; the installed binding imports."""
import glob
import os
import subprocess

import pytest

from conftest import BUILD

PROGRAM = r"""
#include <stdio.h>
#include <string.h>
#include <vxn/vxn.h>

int main(void)
{
	vxn_ctx *ctx = NULL;
	vxn_error *err = NULL;
	if (strcmp(vxn_version(), VXN_VERSION_STRING) != 0)
		return 2;
	if (vxn_ctx_new(&ctx, "/nonexistent.conf", 0, &err) != VXN_ECONFIG)
		return 3;
	printf("%s %s\n", vxn_version(), vxn_status_name(vxn_error_code(err)));
	vxn_error_free(err);
	if (vxn_ctx_new(&ctx, NULL, VXN_CTX_NO_CONFIG_FILE, NULL) != 0)
		return 4;
	printf("%s\n", vxn_ctx_data_root(ctx));
	vxn_ctx_free(ctx);
	return 0;
}
"""


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    dest = tmp_path_factory.mktemp("destdir")
    subprocess.run(["meson", "install", "-C", BUILD, "--no-rebuild", "--quiet",
                    "--destdir", str(dest)], check=True, capture_output=True)
    return str(dest)


def test_pkgconfig_consumer_builds_and_runs(staged, tmp_path, monkeypatch, roots):
    pcs = glob.glob(staged + "/**/pkgconfig/vxn.pc", recursive=True)
    assert len(pcs) == 1, pcs
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]),
               PKG_CONFIG_SYSROOT_DIR=staged)
    version = subprocess.run(["pkg-config", "--modversion", "vxn"], env=env, check=True,
                             capture_output=True, text=True).stdout.strip()
    import vxn
    assert version == vxn.version()
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "vxn"], env=env, check=True,
                           capture_output=True, text=True).stdout.split()
    src = tmp_path / "consumer.c"
    src.write_text(PROGRAM)
    exe = tmp_path / "consumer"
    subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", str(src), "-o", str(exe)] + flags,
                   check=True)
    libdir = [f[2:] for f in flags if f.startswith("-L")][0]
    # The program must load the staged library, not one from the build tree.
    r = subprocess.run([str(exe)], env=dict(os.environ, LD_LIBRARY_PATH=libdir),
                       capture_output=True, text=True)
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert lines[0] == "%s ECONFIG" % version
    assert lines[1] == roots["data"]
    ldd = subprocess.run(["ldd", str(exe)], env=dict(os.environ, LD_LIBRARY_PATH=libdir),
                         capture_output=True, text=True).stdout
    assert libdir + "/libvxn.so.0" in ldd


def test_installed_layout(staged):
    for tool in ("vdkr", "vpdmn", "vxn-oci-runtime"):
        assert glob.glob(staged + "/**/bin/" + tool, recursive=True), tool
    for h in ("vxn.h", "common.h", "error.h", "context.h", "version.h"):
        assert glob.glob(staged + "/**/include/vxn/" + h, recursive=True), h
    so = glob.glob(staged + "/**/libvxn.so.0", recursive=True)
    assert so and os.path.islink(so[0])
    assert glob.glob(staged + "/**/vxn/_lowlevel*.so", recursive=True)
    assert glob.glob(staged + "/**/vxn/__init__.py", recursive=True)
