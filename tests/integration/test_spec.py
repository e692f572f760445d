# SPDX-License-Identifier: LGPL-2.1-or-later
"""vxn.spec(): OCI runtime spec generation from an image config and run options
(doc/spec-translation.md). What the guest then does with the spec is tested
with real VMs in test_run.py."""
import pytest

import imagebuild as ib
import vxn

PATH = ib.PATH_ENV.split("=", 1)[1]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    import os
    top = tmp_path_factory.mktemp("spec")
    old = {k: os.environ.get(k) for k in ("VXN_STATE_ROOT", "VXN_DATA_ROOT", "VXN_LOG_ROOT")}
    for k in old:
        os.environ[k] = str(top / k)
    store = vxn.ImageStore(vxn.Context())
    defs = {
        "plain": {},
        "ep": {"Entrypoint": ["/ep", "a"], "Cmd": ["c1"], "Env": ["A=1", "B=2"],
               "WorkingDir": "/w", "User": "app:staff"},
        "noenv": {"Env": None, "Cmd": ["/bin/true"]},
        "nocmd": {"Cmd": None},
    }
    out = {}
    for name, cfg in defs.items():
        path = str(top / (name + ".tar"))
        ib.busybox_image(config=cfg).write_docker_archive(path, [name + ":latest"])
        store.load(path)
        out[name] = store.lookup(name)
    yield out
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def test_defaults(images):
    s = vxn.spec(images["plain"])
    p = s["process"]
    assert p["args"] == ["/bin/sh"]
    assert p["env"] == ["PATH=" + PATH]
    assert p["cwd"] == "/"
    assert p["user"] == {"uid": 0, "gid": 0}
    assert p["terminal"] is False
    assert s["root"] == {"path": "rootfs", "readonly": False}
    assert s["annotations"]["io.vxn.user.gid"] == "passwd"
    assert "io.vxn.stdin" not in s["annotations"]
    assert s["annotations"]["io.vxn.image.id"] == images["plain"].id
    assert "hostname" not in s


@pytest.mark.parametrize("kw,args", [
    ({}, ["/ep", "a", "c1"]),
    ({"args": ["x", "y"]}, ["/ep", "a", "x", "y"]),
    ({"entrypoint": ["/other"]}, ["/other"]),
    ({"entrypoint": ["/other"], "args": ["z"]}, ["/other", "z"]),
    ({"entrypoint": [], "args": ["/bin/ls", "-l"]}, ["/bin/ls", "-l"]),
])
def test_entrypoint_and_cmd(images, kw, args):
    assert vxn.spec(images["ep"], **kw)["process"]["args"] == args


def test_no_command(images):
    with pytest.raises(vxn.InvalidArgument, match="no command specified"):
        vxn.spec(images["nocmd"])
    with pytest.raises(vxn.InvalidArgument, match="no command specified"):
        vxn.spec(images["ep"], entrypoint=[])


def test_env_merge(images):
    s = vxn.spec(images["ep"], env=["B=cli", "C=3", "A=x=y"], hostname="h1", tty=True)
    assert s["process"]["env"] == ["A=x=y", "B=cli", "PATH=" + PATH, "HOSTNAME=h1",
                                   "TERM=xterm", "C=3"]
    assert s["hostname"] == "h1"
    assert s["process"]["terminal"] is True
    assert s["process"]["consoleSize"] == {"height": 24, "width": 80}
    # an image without Env still gets PATH
    assert vxn.spec(images["noenv"])["process"]["env"] == ["PATH=" + PATH]


@pytest.mark.parametrize("entry", ["NOEQUALS", "=value", ""])
def test_bad_env(images, entry):
    with pytest.raises(vxn.InvalidArgument, match="environment entry"):
        vxn.spec(images["plain"], env=[entry])


def test_workdir(images):
    assert vxn.spec(images["ep"])["process"]["cwd"] == "/w"
    assert vxn.spec(images["ep"], workdir="/x")["process"]["cwd"] == "/x"
    with pytest.raises(vxn.InvalidArgument, match="absolute path"):
        vxn.spec(images["plain"], workdir="rel")


@pytest.mark.parametrize("user,uid,gid,ann", [
    ("app", 0, 0, {"io.vxn.user.name": "app"}),
    ("1000", 1000, 0, {"io.vxn.user.gid": "passwd"}),
    ("1000:1001", 1000, 1001, {}),
    ("app:staff", 0, 0, {"io.vxn.user.name": "app", "io.vxn.user.group": "staff"}),
    ("app:1001", 0, 0, {"io.vxn.user.name": "app", "io.vxn.user.gid": "1001"}),
    ("1000:staff", 1000, 0, {"io.vxn.user.gid": "passwd", "io.vxn.user.group": "staff"}),
])
def test_user(images, user, uid, gid, ann):
    s = vxn.spec(images["plain"], user=user)
    assert s["process"]["user"] == {"uid": uid, "gid": gid}
    got = {k: v for k, v in s["annotations"].items() if k.startswith("io.vxn.user.")}
    assert got == ann


def test_image_user(images):
    s = vxn.spec(images["ep"])
    assert s["annotations"]["io.vxn.user.name"] == "app"
    assert s["annotations"]["io.vxn.user.group"] == "staff"


@pytest.mark.parametrize("user", [":", "app:", ":grp", "a:b:c"])
def test_bad_user(images, user):
    with pytest.raises(vxn.InvalidArgument, match="invalid user"):
        vxn.spec(images["plain"], user=user)


def test_stdin_and_read_only(images):
    s = vxn.spec(images["plain"], stdin=True, read_only=True)
    assert s["annotations"]["io.vxn.stdin"] == "true"
    assert s["root"]["readonly"] is True
