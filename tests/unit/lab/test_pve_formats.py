"""PVE's value formats (lab/pve_formats.py), against what the Perl originals give."""

from __future__ import annotations

import pytest

from lab.pve_formats import ceph_version_short, format_size, parse_size, resized, split_list

GIB = 1024**3


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("4096", 4096),  # bytes without a unit
        ("32G", 32 * GIB),
        ("1.5T", int(1.5 * 1024**4)),
        ("512M", 512 * 1024**2),
        ("2GiB", 2 * GIB),  # parse_size also takes the IEC spelling
        ("0", 0),
        ("12X", None),  # not a size
        ("", None),
    ],
)
def test_parse_size(text: str, size: int | None) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (2 * GIB, "2G"),
        (2560 * 1024**2, "2560M"),  # not a whole number of GiB
        (4 * 1024**4, "4T"),
        (1536, "1536"),  # not a whole number of KiB: plain bytes
    ],
)
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text


@pytest.mark.parametrize(
    ("current", "text", "new"),
    [
        (2 * GIB, "+1G", 3 * GIB),  # grow by
        (2 * GIB, "4G", 4 * GIB),  # grow to
        (2 * GIB, "+512M", 2 * GIB + 512 * 1024**2),
        (2 * GIB, "1G", GIB),  # a shrink is the caller's to refuse
        (2 * GIB, "-1G", None),  # not a resize size
    ],
)
def test_resized(current: int, text: str, new: int | None) -> None:
    assert resized(current, text) == new


def test_split_list_takes_commas_semicolons_and_white_space() -> None:
    assert split_list("pve1, pve2;pve3  pve4") == ["pve1", "pve2", "pve3", "pve4"]
    assert split_list("") == []


def test_ceph_version_short() -> None:
    assert ceph_version_short("ceph version 16.2.15 (618f440892089921c3e944a991122ddc44e60516) pacific (stable)") == (
        "16.2.15"
    )
