"""tito/course/files.py: the one way tito reads and writes course files."""

from __future__ import annotations

import zipfile

import pytest

from tito.course import files
from tito.course.errors import TitoError


def test_read_text_keeps_line_ends_and_drops_a_byte_order_mark(tmp_path):
    path = tmp_path / "a.py"
    path.write_bytes(b"\xef\xbb\xbfx = 1\r\ny = 2\n")
    assert files.read_text(path) == "x = 1\r\ny = 2\n"


def test_read_text_says_what_went_wrong_in_one_sentence(tmp_path):
    with pytest.raises(TitoError, match=r"^The module file .*nope\.py does not exist\.$"):
        files.read_text(tmp_path / "nope.py", what="The module file")
    bad = tmp_path / "bad.py"
    bad.write_bytes(b"caf\xe9")
    with pytest.raises(TitoError, match=r"is not UTF-8 text \(byte 3"):
        files.read_text(bad)
    # A caller's own sentence replaces the standard one; a missing file still says so.
    with pytest.raises(TitoError, match=r"^bad\.py cannot be read as UTF-8 text \(.*\)\.$"):
        files.read_text(bad, failure="bad.py cannot be read as UTF-8 text")
    with pytest.raises(TitoError, match="does not exist"):
        files.read_text(tmp_path / "nope.py", failure="never used")


def test_read_json(tmp_path):
    path = tmp_path / "release.json"
    path.write_text('{"modules": {}}')
    assert files.read_json(path) == {"modules": {}}
    path.write_text("{not json")
    with pytest.raises(TitoError, match=r"^The manifest .* cannot be read \(Expecting"):
        files.read_json(path, what="The manifest")
    with pytest.raises(TitoError, match=r"^Mine \(Expecting"):
        files.read_json(path, failure="Mine")


def test_write_text_writes_exactly_the_text(tmp_path):
    path = tmp_path / "run_autograder"
    files.write_text(path, "#!/usr/bin/env bash\necho é\n")
    assert path.read_bytes() == "#!/usr/bin/env bash\necho é\n".encode()


def test_replacing_swaps_in_a_finished_file_and_leaves_the_old_one_on_error(tmp_path):
    out = tmp_path / "sub" / "out.zip"
    with files.replacing(out) as temporary:
        assert temporary.parent == out.parent and files.TEMP_MARK in temporary.name
        with zipfile.ZipFile(temporary, "w") as archive:
            archive.writestr("a.txt", "first")
    assert zipfile.ZipFile(out).read("a.txt") == b"first"
    with pytest.raises(RuntimeError), files.replacing(out) as temporary:
        temporary.write_text("half a zip")
        raise RuntimeError("the writer failed")
    assert zipfile.ZipFile(out).read("a.txt") == b"first"
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.zip"]
