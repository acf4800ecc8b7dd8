import pandas as pd
import pytest

from marlinflow.errors import InputError
from marlinflow.manifest import read_manifest, validate_manifest, write_manifest

HEADER = "id\tsource\tsplit\tstart\tend\tsha256\tlabel\n"
SHA = "a" * 64


def write(tmp_path, body, header=HEADER):
    path = tmp_path / "manifest.tsv"
    path.write_text(header + body)
    return path


def test_valid_manifest_is_typed(tmp_path):
    path = write(tmp_path, f"a\tx.mp4\ttrain\t\t\t\t1\nb\tdQw4w9WgXcQ\tval\t1.5\t3\t{SHA}\t0\n")
    table = read_manifest(path)
    assert list(table["id"]) == ["a", "b"]
    assert table["start"].isna()[0] and table["start"][1] == 1.5
    assert table["label"].tolist() == ["1", "0"]  # label columns are kept as they are


@pytest.mark.parametrize(
    ("bad_id", "why"),
    [("../../etc/x", "id"), ("a b", "id"), ("a'b", "id"), ('a"b', "id"), (".hidden", "id")],
)
def test_unsafe_ids_are_rejected_with_row_number(tmp_path, bad_id, why):
    path = write(tmp_path, f"ok\tx.mp4\ttrain\t\t\t\t1\n{bad_id}\ty.mp4\ttrain\t\t\t\t1\n")
    with pytest.raises(InputError) as err:
        read_manifest(path)
    message = str(err.value)
    assert str(path) in message and "row 3" in message and f"{why}:" in message


def test_youtube_style_ids_are_allowed(tmp_path):
    assert (
        read_manifest(write(tmp_path, "-0SqUd4M4Dg_0\tx\ttrain\t\t\t\t1\n"))["id"][0]
        == "-0SqUd4M4Dg_0"
    )


def test_every_problem_is_reported_at_once(tmp_path):
    body = "a\tx\ttrain\t\t\t\t1\na\tx\tfoo\t\t\t\t1\nb\t\ttest\t3\t2\tXYZ\t1\nc\tx\ttrain\tsoon\t\t\t1\n"
    with pytest.raises(InputError) as err:
        read_manifest(write(tmp_path, body))
    message = str(err.value)
    assert "row 3: id 'a' repeats row 2" in message
    assert "row 3 (id='a'): split: 'foo' is not one of" in message
    assert "row 4 (id='b'): end 2.0 <= start 3.0" in message
    assert "row 4 (id='b'): sha256" in message
    assert "row 4 (id='b'): source" in message
    assert "row 5: start: not a number: 'soon'" in message


def test_missing_columns_and_empty_files(tmp_path):
    with pytest.raises(InputError, match="missing column"):
        read_manifest(write(tmp_path, "a\tx\n", header="id\tsource\n"))
    with pytest.raises(InputError, match="no rows"):
        read_manifest(write(tmp_path, ""))
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    with pytest.raises(InputError, match="not a readable TSV"):
        read_manifest(empty)
    with pytest.raises(InputError, match="not found"):
        read_manifest(tmp_path / "absent.tsv")


def test_write_round_trip_and_refuses_bad_tables(tmp_path):
    table = pd.DataFrame({"id": ["a", "b"], "source": ["x", "y"], "split": ["train", "test"]})
    write_manifest(table, tmp_path / "m.tsv")
    assert read_manifest(tmp_path / "m.tsv")["id"].tolist() == ["a", "b"]
    with pytest.raises(InputError):
        write_manifest(table.assign(id=["a", "a"]), tmp_path / "bad.tsv")
    assert not (tmp_path / "bad.tsv").exists()
    assert validate_manifest(table).equals(table)


def test_a_group_shares_one_split(tmp_path):
    header = "id\tsource\tsplit\tgroup\n"
    body = "a\ta.mp4\ttrain\tann\nb\tb.mp4\ttrain\tann\nc\tc.mp4\ttest\tbob\nd\td.mp4\ttest\t\n"
    table = read_manifest(write(tmp_path, body, header))
    assert table["group"].tolist() == ["ann", "ann", "bob", ""]  # empty: a group of its own
    path = write(tmp_path, body + "e\te.mp4\ttest\tann\nf\tf.mp4\tval\t\n", header)
    with pytest.raises(InputError, match=r"group 'ann' is in several splits \(test, train\)"):
        read_manifest(path)


def test_the_column_screen_misses_no_row_the_schema_refuses(monkeypatch):
    """Only the rows the column-wise screen flags are validated one by one: the problems found
    must be those of validating every row."""
    import numpy as np

    from marlinflow import manifest

    table = pd.DataFrame(
        {
            "id": ["ok", "a b", ".x", 7, "ok2", "ok3", "ok4", "ok5", "ok6", "ok7", None, "ok8"],
            "source": ["x", "", "y", "y", float("nan"), "y", "y", "y", "y", "y", "y", "y"],
            "split": [
                "train",
                "val",
                "TEST",
                "test",
                "train",
                None,
                "val",
                "val",
                "val",
                "val",
                "val",
                "test",
            ],  # fmt: skip
            "start": ["", "1", "-1", "x", "", 2.0, "3", "", "0", None, "", ""],
            "end": ["", "2", "", "", "0", 1.0, "3", "", "0.5", "1e9", "", "inf"],
            "sha256": ["", "", "A" * 64, "a" * 63, "", "", None, "a" * 64, 5, "", "", ""],
            "group": ["", "g", None, float("nan"), "", "", "", "", "", "", "", 3],
        }
    )
    screened = manifest._row_problems(table)
    monkeypatch.setattr(manifest, "_suspect_rows", lambda t: np.ones(len(t), dtype=bool))
    every_row = manifest._row_problems(table)
    assert screened == every_row
    assert len(every_row) >= 10  # the table above is mostly bad
    good = pd.DataFrame({"id": ["a", "b"], "source": ["x", "y"], "split": ["train", "val"]})
    monkeypatch.undo()
    assert not manifest._suspect_rows(good).any()
