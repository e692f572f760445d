# SPDX-License-Identifier: LGPL-2.1-or-later
"""Golden files for spec translation (doc/spec-translation.md).

tests/golden/NAME.in.json holds an image config (merged over the test busybox
image's) and run options (vxn.spec() keywords, the flags of `vdkr run`);
NAME.out.json the OCI runtime spec vxn_spec_generate() must produce, or
{"error": {"class": ..., "message": ...}} for input it must refuse. The
image ID, which depends on the busybox binary of the host, reads "<image id>".

Regenerate after an intended change, then review the diff:
    VXN_GOLDEN_UPDATE=1 python3 -m pytest tests/integration/test_golden.py
"""
import glob
import json
import os

import pytest

import imagebuild as ib
import vxn
from conftest import ROOT

GOLDEN = os.path.join(ROOT, "tests", "golden")
CASES = sorted(os.path.basename(p)[:-len(".in.json")]
               for p in glob.glob(os.path.join(GOLDEN, "*.in.json")))
UPDATE = os.environ.get("VXN_GOLDEN_UPDATE") == "1"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    top = tmp_path_factory.mktemp("golden")
    ctx = vxn.Context(state_root=str(top / "state"), data_root=str(top / "data"),
                      log_root=str(top / "log"))
    return vxn.ImageStore(ctx), top


def translate(store, name):
    st, top = store
    with open(os.path.join(GOLDEN, name + ".in.json")) as f:
        case = json.load(f)
    archive = str(top / (name + ".tar"))
    ib.busybox_image(config=case["image_config"]).write_docker_archive(archive, [name + ":g"])
    st.load(archive)
    image = st.lookup(name + ":g")
    try:
        spec = vxn.spec(image, **case["options"])
    except vxn.Error as e:
        return {"error": {"class": type(e).__name__, "message": e.message}}
    ann = spec.get("annotations", {})
    assert ann.get("io.vxn.image.id") == image.id
    ann["io.vxn.image.id"] = "<image id>"
    return spec


def test_cases_exist():
    assert len(CASES) >= 15, CASES
    for name in CASES:
        assert os.path.exists(os.path.join(GOLDEN, name + ".out.json")) or UPDATE, name


@pytest.mark.parametrize("name", CASES)
def test_golden(store, name):
    got = translate(store, name)
    out = os.path.join(GOLDEN, name + ".out.json")
    if UPDATE:
        with open(out, "w") as f:
            json.dump(got, f, indent=2, ensure_ascii=False, sort_keys=True)
            f.write("\n")
    with open(out) as f:
        want = json.load(f)
    assert got == want, "spec for %s differs from %s:\n%s" % (
        name, out, json.dumps(got, indent=2, ensure_ascii=False, sort_keys=True))
    # the spec is valid JSON text in the OCI shape vxn-oci-runtime and the guest expect
    if "error" not in want:
        assert want["ociVersion"].startswith("1.") and want["root"]["path"] == "rootfs"
        assert want["process"]["args"], name
