import pytest

from marlinflow import cli
from marlinflow.errors import CATEGORIES, Category, InputError, VideoError
from marlinflow.report.stage_summary import summary_table
from marlinflow.stages import StageRecord, reason_category, run_stage, sibling, video_id_of


def test_ok_failed_and_skipped_records(tmp_path):
    def fetch(inputs):
        (tmp_path / "a.mp4").write_bytes(b"x")
        return {"video": tmp_path / "a.mp4"}, {"bytes": 1}

    first = run_stage("download", None, tmp_path / "a.status.json", fetch)
    assert first.ok and first.outputs == {"video": str(tmp_path / "a.mp4")}
    assert StageRecord.load(tmp_path / "a.status.json") == first

    def broken(inputs):
        raise VideoError(inputs.get("video", "b.mp4"), "no frames")

    failed = run_stage("download", None, tmp_path / "b.status.json", broken)
    assert not failed.ok and failed.reason == "b.mp4: no frames"

    def never(inputs):
        raise AssertionError("a step must not run on an unusable video")

    skipped = run_stage("track", tmp_path / "b.status.json", tmp_path / "t/b.status.json", never)
    assert not skipped.ok and skipped.reason == "skipped: download: b.mp4: no frames"
    assert (tmp_path / "t/b.status.json").is_file()
    later = run_stage("parse", tmp_path / "t/b.status.json", tmp_path / "p/b.status.json", never)
    assert later.reason == "skipped: download: b.mp4: no frames"  # the stage that dropped it


def test_bugs_are_not_swallowed(tmp_path):
    def bug(inputs):
        raise KeyError("oops")

    with pytest.raises(KeyError):
        run_stage("track", None, tmp_path / "a.status.json", bug)
    assert not (tmp_path / "a.status.json").exists()  # no record: the job fails and reruns


def test_paths_and_bad_records(tmp_path):
    assert video_id_of("data/raw/x/a.b.status.json") == "a.b"
    assert sibling("faces/abc.status.json", ".mp4").as_posix() == "faces/abc.mp4"
    with pytest.raises(InputError, match="ends in .status.json"):
        video_id_of("abc.json")
    (tmp_path / "bad.status.json").write_text("{")
    with pytest.raises(InputError, match="bad.status.json"):
        StageRecord.load(tmp_path / "bad.status.json")


def test_summary_lists_unusable_first(tmp_path, capsys):
    good = StageRecord("b", "download", True)
    bad = StageRecord("a", "download", False, "404 Not Found")
    assert summary_table([good, bad])["id"].tolist() == ["a", "b"]
    for record in (good, bad):
        record.save(tmp_path / f"{record.id}.status.json")
    out = tmp_path / "summary.tsv"
    assert cli.main(["summary", *map(str, sorted(tmp_path.glob("*.json"))), "--out", str(out)]) == 0
    assert out.read_text().splitlines()[1].startswith("a\tdownload\tFalse\tother\t404 Not Found")
    assert "a: 404 Not Found" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("reason", "category"),
    [
        ("http://x/a.mp4: HTTP 404 Not Found", "not_found"),
        ("yt-dlp: Unable to download webpage: HTTP Error 403: Forbidden", "refused"),
        ("yt-dlp: Video unavailable. This video has been removed by the uploader", "unavailable"),
        ("x: not a video: the body is an HTML page", "not_a_video"),
        ("x: sha256 mismatch: expected a, got b", "checksum_mismatch"),
        ("x: gave up after 5 attempts: HTTP 503 Service Unavailable", "network"),
        (
            "/d/dev/mp4: VoxCeleb2 not found: request access (see https://x)",
            "not_downloaded",
        ),
        ("x.mp4: too short: 10 frames < 16 (min_frames)", "too_short"),
        ("x.mp4: face too small: 36 px median < 64 px (min_face_size)", "face_too_small"),
        ("skipped: download: HTTP 404", "skipped"),
        ("x.mp4: corrupt or truncated video (Invalid data)", "corrupt"),
        ("something new", "other"),
        ("", ""),
    ],
)
def test_reason_category(reason, category):
    assert reason_category(reason) == category


def test_summary_of_an_unreadable_record_is_a_user_error(tmp_path, capsys):
    (tmp_path / "bad.status.json").write_text("{")
    out = tmp_path / "summary.tsv"
    assert cli.main(["summary", str(tmp_path / "bad.status.json"), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"marlinflow summary: error: {tmp_path / 'bad.status.json'}: ")
    assert "not a readable stage record" in error and not out.exists()


def test_the_class_an_error_names_is_recorded_and_summarized(tmp_path):
    def silent(inputs):
        raise InputError("a.mp4", "the speech of the lip-sync task is missing", Category.NO_AUDIO)

    record = run_stage("track", None, tmp_path / "a.status.json", silent)
    assert StageRecord.load(tmp_path / "a.status.json").category == "no_audio"
    skipped = run_stage("parse", tmp_path / "a.status.json", tmp_path / "p/a.status.json", silent)
    assert skipped.category == "skipped"
    table = summary_table([record, skipped, StageRecord("c", "track", True)])
    assert table["category"].tolist() == ["no_audio", "skipped", ""]
    assert set(table["category"]) - {""} <= set(CATEGORIES)


def test_a_record_older_than_its_class_is_classed_by_its_reason(tmp_path):
    path = tmp_path / "a.status.json"
    path.write_text('{"id": "a", "stage": "track", "ok": false, "reason": "a.mp4: too short"}')
    record = StageRecord.load(path)
    assert record.category == "" and record.failure_class == "too_short"
