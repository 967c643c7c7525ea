"""lab/models/logfile.py: PVE::Tools::dump_logfile's paging (pve-common src/PVE/Tools.pm)."""

from __future__ import annotations

from pathlib import Path

from lab.models.logfile import dump_logfile


def _file(tmp_path: Path, lines: int) -> Path:
    path = tmp_path / "ceph.log"
    path.write_text("".join(f"line {i}\n" for i in range(1, lines + 1)))
    return path


def test_default_limit_is_50_lines_counted_to_the_end(tmp_path: Path) -> None:
    count, lines = dump_logfile(_file(tmp_path, 120))
    assert count == 120 and len(lines) == 50
    assert lines[0] == {"n": 1, "t": "line 1"} and lines[-1] == {"n": 50, "t": "line 50"}


def test_start_skips_lines_and_limit_zero_reads_to_the_end(tmp_path: Path) -> None:
    path = _file(tmp_path, 120)
    assert [line["n"] for line in dump_logfile(path, start=100, limit=3)[1]] == [101, 102, 103]
    count, lines = dump_logfile(path, start=110, limit=0)
    assert count == 120 and [line["t"] for line in lines] == [f"line {i}" for i in range(111, 121)]


def test_empty_and_missing_files_answer_one_line(tmp_path: Path) -> None:
    assert dump_logfile(_file(tmp_path, 0)) == (1, [{"n": 1, "t": "no content"}])
    assert dump_logfile(tmp_path / "absent.log") == (
        1,
        [{"n": 1, "t": "unable to open file - No such file or directory"}],
    )
