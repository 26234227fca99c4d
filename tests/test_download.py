"""asdlab download: a local HTTP server on 127.0.0.1 serves small generated zip archives in the
official archives' internal layout; the records table is pointed at it. No test needs the internet.
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import soundfile as sf

from asdlab.cli import main
from asdlab.core.errors import ConfigError, DataError
from asdlab.data import build_clip_table, records
from asdlab.data import download as download_module
from asdlab.data.download import download, ground_truth_files, list_records
from asdlab.metrics.submission import load_ground_truth


# ---------------------------------------------------------------------------------------------
# the local server


class Server:
    """Files at URL paths; ``cut[path] = n``: the next ``times`` answers for ``path`` stop after
    ``n`` bytes (the header still announces the full length). Records every GET."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.cut: dict[str, tuple[int, int]] = {}
        self.requests: list[dict] = []
        self.sent: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?")[0]
                server.requests.append({"path": path, "range": self.headers.get("Range")})
                body = server.files.get(path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                rng = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if rng:
                    start = int(rng[1])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                part = body[start:]
                self.send_header("Content-Length", str(len(part)))
                self.end_headers()
                n, times = server.cut.get(path, (len(part), 0))
                if times:
                    server.cut[path] = (n, times - 1)
                    part = part[:n]
                self.wfile.write(part)
                self.wfile.flush()
                server.sent[path] = server.sent.get(path, 0) + len(part)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def gets(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch):
    srv = Server()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setattr(records, "ZENODO", f"{srv.base}/records")
    monkeypatch.setattr(records, "GITHUB_RAW", f"{srv.base}/raw")
    monkeypatch.setattr(download_module, "RETRY_WAIT", 0.0)
    yield srv
    srv.close()


def wav_bytes(seed: int, seconds: float = 0.05, sr: int = 16000) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.random.default_rng(seed).uniform(-0.5, 0.5, round(seconds * sr)), sr,
             format="WAV", subtype="PCM_16")
    return buf.getvalue()


def make_zip(members: list[str]) -> bytes:
    """A zip with a short noise WAV at each member path (``.wav``) or a small text file."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, name in enumerate(members):
            zf.writestr(name, wav_bytes(i) if name.endswith(".wav") else "file_name,d1p,d1v\n")
    return buf.getvalue()


DEV_FAN = ["fan/train/section_00_source_train_normal_0000_noAttribute.wav",
           "fan/train/section_00_target_train_normal_0000_noAttribute.wav",
           "fan/test/section_00_source_test_normal_0000_noAttribute.wav",
           "fan/test/section_00_source_test_anomaly_0000_noAttribute.wav"]


def publish(server: Server, monkeypatch, archives: list[tuple[records.Archive, bytes]],
            ground_truth: tuple = ()) -> None:
    """Serve each archive's bytes at its URL and make the table hold exactly these archives."""
    for arc, body in archives:
        server.files[f"/records/{arc.record}/files/{arc.file}"] = body
    monkeypatch.setattr(records, "ARCHIVES", tuple(a for a, _ in archives))
    monkeypatch.setattr(records, "GROUND_TRUTH", tuple(ground_truth))


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def url_path(arc: records.Archive) -> str:
    return f"/records/{arc.record}/files/{arc.file}"


# ---------------------------------------------------------------------------------------------
# the table


def test_table_covers_every_year_with_dev_additional_training_and_eval():
    table = list_records()
    for year in range(2020, 2026):
        splits = set(table.loc[table["dataset"] == f"dcase{year}", "split"])
        assert splits == {"dev", "train-add", "eval"}, year
        assert table.loc[(table["dataset"] == f"dcase{year}") & (table["split"] == "eval"),
                         "ground_truth"].all()
    assert table["url"].str.fullmatch(r"https://zenodo\.org/records/\d+/files/\S+\.zip\?download=1").all()
    assert not table.duplicated(["dataset", "split", "machine"]).any()
    published = table.dropna(subset=["md5"])
    assert published["md5"].str.fullmatch(r"[0-9a-f]{32}").all()
    # the two years whose md5s were found (soundata) are complete, the others have none
    assert set(published["dataset"]) == {"dcase2020", "dcase2023"}
    assert len(published) == 18 + 21
    row = table[(table["dataset"] == "dcase2024") & (table["machine"] == "RoboticArm")
                & (table["split"] == "train-add")].iloc[0]
    assert row["file"] == "eval_data_RoboticArm_train_r2.zip"
    assert row["url"] == "https://zenodo.org/records/11259435/files/eval_data_RoboticArm_train_r2.zip?download=1"


def test_ground_truth_sources_are_pinned_with_sha256():
    for src in records.GROUND_TRUTH:
        assert re.fullmatch(r"[0-9a-f]{40}", src.commit)
        assert all(re.fullmatch(r"[0-9a-f]{64}", sha) for _, sha in src.files)
        assert src.url(src.files[0][0]).startswith(f"https://raw.githubusercontent.com/{src.repo}/{src.commit}/")
    assert [g.dataset for g in records.GROUND_TRUTH] == [f"dcase{y}" for y in range(2020, 2026)]


def test_list_cli_prints_every_archive_with_its_size(capsys):
    assert main(["download", "--list"]) == 0
    out = capsys.readouterr().out
    for year in range(2020, 2026):
        assert f"dcase{year}" in out
    line = next(ln for ln in out.splitlines() if "dev_data_fan.zip" in ln)
    assert line.split()[:3] == ["dcase2020", "dev", "fan"] and "1.35 GB" in line and "md5" in line
    assert "dev_bearing.zip unknown none published" in " ".join(
        next(ln for ln in out.splitlines() if "dcase2024" in ln and "dev_bearing" in ln).split())
    assert f"{len(records.ARCHIVES)} archives" in out


# ---------------------------------------------------------------------------------------------
# checksums, cache, resume


def test_checksum_match_unpacks_into_the_layout_and_caches(server, monkeypatch, tmp_path):
    body = make_zip(DEV_FAN + ["fan/attributes_00.csv"])
    arc = records.Archive("dcase2024", "dev", "fan", "dev_fan.zip", 101, md5(body))
    publish(server, monkeypatch, [(arc, body)])
    lines = []
    out = download("dcase2024", "dev", root=tmp_path, progress=False, log=lines.append)
    assert out == tmp_path / "dcase2024"
    machine = out / "dev_data" / "raw" / "fan"
    assert sorted(p.name for p in machine.iterdir()) == ["attributes_00.csv", "test", "train"]
    table = build_clip_table(out)
    assert len(table) == 4 and set(table["machine"]) == {"fan"}
    assert sorted(table["label"]) == ["anomaly", "normal", "normal", "normal"]
    assert (tmp_path / "archives" / "dcase2024" / "dev_fan.zip").read_bytes() == body
    assert len(server.gets(url_path(arc))) == 1
    assert not list(tmp_path.glob(".asdlab-unpack-*"))

    # again: already unpacked, nothing downloaded
    download("dcase2024", "dev", root=tmp_path, progress=False, log=lines.append)
    assert len(server.gets(url_path(arc))) == 1
    assert lines[-1].startswith("dev_fan.zip: already unpacked")

    # unpacked folder removed: unpacked again from the verified cached archive, no request
    import shutil
    shutil.rmtree(out)
    download("dcase2024", "dev", root=tmp_path, progress=False, log=lines.append)
    assert len(server.gets(url_path(arc))) == 1
    assert len(build_clip_table(out)) == 4


def test_checksum_mismatch_is_fetched_once_more_then_reported(server, monkeypatch, tmp_path):
    body = make_zip(DEV_FAN)
    arc = records.Archive("dcase2024", "dev", "fan", "dev_fan.zip", 102, md5(b"something else"))
    publish(server, monkeypatch, [(arc, body)])
    with pytest.raises(DataError) as err:
        download("dcase2024", "dev", root=tmp_path, progress=False, log=None)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("dev_fan.zip: checksum mismatch again")
    assert f"md5:{arc.md5}" in msg
    assert len(server.gets(url_path(arc))) == 2
    assert not (tmp_path / "dcase2024" / "dev_data").exists()
    assert not list((tmp_path / "archives" / "dcase2024").iterdir())  # nothing bad kept


def test_corrupted_cached_archive_is_detected_and_fetched_again(server, monkeypatch, tmp_path):
    body = make_zip(DEV_FAN)
    arc = records.Archive("dcase2024", "dev", "fan", "dev_fan.zip", 103, md5(body))
    publish(server, monkeypatch, [(arc, body)])
    cached = tmp_path / "archives" / "dcase2024" / "dev_fan.zip"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(body[: len(body) // 2])  # a truncated archive from an earlier run
    lines = []
    download("dcase2024", "dev", root=tmp_path, progress=False, log=lines.append)
    assert cached.read_bytes() == body
    assert len(server.gets(url_path(arc))) == 1
    assert len(build_clip_table(tmp_path / "dcase2024")) == 4


def test_interruption_within_a_call_resumes_with_range(server, monkeypatch, tmp_path):
    body = make_zip(DEV_FAN)
    arc = records.Archive("dcase2024", "dev", "fan", "dev_fan.zip", 104, md5(body))
    publish(server, monkeypatch, [(arc, body)])
    server.cut[url_path(arc)] = (1000, 1)  # the first answer stops after 1000 bytes
    download("dcase2024", "dev", root=tmp_path, progress=False, log=None)
    gets = server.gets(url_path(arc))
    assert [g["range"] for g in gets] == [None, "bytes=1000-"]
    assert server.sent[url_path(arc)] == len(body)  # no byte was sent twice
    assert len(build_clip_table(tmp_path / "dcase2024")) == 4


def test_interrupted_download_is_reported_then_resumed_by_the_next_call(server, monkeypatch, tmp_path):
    body = make_zip(DEV_FAN)
    arc = records.Archive("dcase2024", "dev", "fan", "dev_fan.zip", 105, md5(body))
    publish(server, monkeypatch, [(arc, body)])
    server.cut[url_path(arc)] = (500, 2)
    with pytest.raises(DataError) as err:
        download("dcase2024", "dev", root=tmp_path, progress=False, log=None, attempts=2)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("dev_fan.zip: download interrupted at 1000 of "
                                              f"{len(body)} bytes") and "run again to resume" in msg
    part = tmp_path / "archives" / "dcase2024" / "dev_fan.zip.part"
    assert part.read_bytes() == body[:1000]
    assert not (tmp_path / "dcase2024" / "dev_data").exists()

    download("dcase2024", "dev", root=tmp_path, progress=False, log=None)
    assert [g["range"] for g in server.gets(url_path(arc))] == [None, "bytes=500-", "bytes=1000-"]
    assert server.sent[url_path(arc)] == len(body)
    assert not part.exists()
    assert len(build_clip_table(tmp_path / "dcase2024")) == 4


def test_without_published_checksum_the_first_sha256_is_recorded_and_enforced(server, monkeypatch,
                                                                              tmp_path):
    body = make_zip(DEV_FAN)
    arc = records.Archive("dcase2022", "dev", "fan", "dev_fan.zip", 106, None)
    publish(server, monkeypatch, [(arc, body)])
    lines = []
    download("dcase2022", "dev", root=tmp_path, progress=False, log=lines.append)
    sidecar = tmp_path / "archives" / "dcase2022" / "dev_fan.zip.sha256"
    assert sidecar.read_text() == f"{hashlib.sha256(body).hexdigest()}  dev_fan.zip\n"
    note = [ln for ln in lines if "no published checksum" in ln]
    assert len(note) == 1 and note[0].startswith("dev_fan.zip:") and str(sidecar) in note[0]

    # the server now sends other bytes: the recorded sha256 catches it
    (tmp_path / "archives" / "dcase2022" / "dev_fan.zip").unlink()
    (tmp_path / "dcase2022" / ".asdlab-download.json").unlink()
    server.files[url_path(arc)] = make_zip(DEV_FAN[:2])
    with pytest.raises(DataError, match=r"^dev_fan\.zip: checksum mismatch again .*sha256:"):
        download("dcase2022", "dev", root=tmp_path, progress=False, log=None)


# ---------------------------------------------------------------------------------------------
# unpacking


def test_2021_source_and_target_test_folders_are_kept(server, monkeypatch, tmp_path):
    members = ["gearbox/train/section_00_source_train_normal_0000.wav",
               "gearbox/source_test/section_00_source_test_normal_0000.wav",
               "gearbox/source_test/section_00_source_test_anomaly_0000.wav",
               "gearbox/target_test/section_00_target_test_normal_0000.wav"]
    body = make_zip(members)
    arc = records.Archive("dcase2021", "dev", "gearbox", "dev_data_gearbox.zip", 107, md5(body))
    publish(server, monkeypatch, [(arc, body)])
    out = download("dcase2021", "dev", root=tmp_path, progress=False, log=None)
    machine = out / "dev_data" / "raw" / "gearbox"
    assert sorted(p.name for p in machine.iterdir()) == ["source_test", "target_test", "train"]
    table = build_clip_table(out)
    test = table[table["split"] == "test"]
    assert sorted(test["domain"]) == ["source", "source", "target"]
    if "folder" in table.columns:  # the data layer marks the 2021 layout
        assert sorted(test["folder"]) == ["source_test", "source_test", "target_test"]


def test_train_add_and_eval_fill_one_machine_folder(server, monkeypatch, tmp_path):
    train = make_zip(["valve/train/normal_id_01_00000000.wav", "valve/train/normal_id_01_00000001.wav"])
    test = make_zip(["valve/test/id_01_00000000.wav", "valve/test/id_01_00000001.wav"])
    add = records.Archive("dcase2020", "train-add", "valve", "eval_data_train_valve.zip", 108, md5(train))
    ev = records.Archive("dcase2020", "eval", "valve", "eval_data_test_valve.zip", 109, md5(test))
    publish(server, monkeypatch, [(add, train), (ev, test)])
    download("dcase2020", "train-add", root=tmp_path, progress=False, log=None)
    lines = []
    out = download("dcase2020", "eval", root=tmp_path, progress=False, log=lines.append)
    assert sorted(p.name for p in (out / "eval_data" / "raw" / "valve").iterdir()) == ["test", "train"]
    table = build_clip_table(out)
    assert table.groupby("split").size().to_dict() == {"test": 2, "train": 2}
    assert any("ground truth is not in asdlab's table" in ln for ln in lines)


@pytest.mark.parametrize("members, expected", [
    (["readme.txt"], "unexpected layout inside the archive: no folder with train/ or test/"),
    (["fan/train/a.wav", "pump/train/b.wav"], "unexpected layout inside the archive: 2 folders"),
])
def test_a_failed_unpack_leaves_nothing_in_the_dataset_folder(server, monkeypatch, tmp_path,
                                                              members, expected):
    body = make_zip(members)
    arc = records.Archive("dcase2024", "dev", "fan", "dev_fan.zip", 110, md5(body))
    publish(server, monkeypatch, [(arc, body)])
    with pytest.raises(DataError) as err:
        download("dcase2024", "dev", root=tmp_path, progress=False, log=None)
    assert str(err.value).startswith(f"dev_fan.zip: {expected}")
    assert not (tmp_path / "dcase2024").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["archives"]  # no temporary folder left


def test_an_archive_that_is_not_a_zip_is_reported_and_nothing_unpacked(server, monkeypatch, tmp_path):
    body = b"<html>not a zip</html>"
    arc = records.Archive("dcase2024", "dev", "fan", "dev_fan.zip", 111, md5(body))
    publish(server, monkeypatch, [(arc, body)])
    with pytest.raises(DataError, match=r"^dev_fan\.zip: cannot unpack .*delete it"):
        download("dcase2024", "dev", root=tmp_path, progress=False, log=None)
    assert not (tmp_path / "dcase2024").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["archives"]


def test_existing_foreign_folder_is_not_overwritten_nor_half_filled(server, monkeypatch, tmp_path):
    body = make_zip(DEV_FAN)
    arc = records.Archive("dcase2024", "dev", "fan", "dev_fan.zip", 112, md5(body))
    publish(server, monkeypatch, [(arc, body)])
    mine = tmp_path / "dcase2024" / "dev_data" / "raw" / "fan" / "test"
    mine.mkdir(parents=True)
    (mine / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match=r"fan/test: already exists and was not unpacked from dev_fan\.zip"):
        download("dcase2024", "dev", root=tmp_path, progress=False, log=None)
    assert sorted(p.name for p in mine.parent.iterdir()) == ["test"]  # train/ was not moved in
    assert [p.name for p in mine.iterdir()] == ["keep.txt"]
    assert not list(tmp_path.glob(".asdlab-unpack-*"))


# ---------------------------------------------------------------------------------------------
# evaluation ground truth


def test_ground_truth_conversion_keeps_evaluator_files_of_the_machines_asked_for():
    texts = {"ground_truth_data/ground_truth_fan_section_03_source_test.csv":
             "section_03_source_test_0000.wav,1\r\nsection_03_source_test_0001.wav,0\r\n",
             "ground_truth_data/ground_truth_fan_section_03_target_test.csv":
             "section_03_target_test_0000.wav,0\n",
             "ground_truth_data/ground_truth_pump_section_03_source_test.csv": "x.wav,1\n",
             "ground_truth_domain/ground_truth_ToyTank_section_00_test.csv": "section_00_0000.wav,1\n"}
    assert ground_truth_files("evaluator", texts, ["fan", "ToyTank"]) == {
        "ground_truth_data/ground_truth_fan_section_03_source_test.csv":
            "section_03_source_test_0000.wav,1\nsection_03_source_test_0001.wav,0\n",
        "ground_truth_data/ground_truth_fan_section_03_target_test.csv":
            "section_03_target_test_0000.wav,0\n",
        "ground_truth_domain/ground_truth_ToyTank_section_00_test.csv": "section_00_0000.wav,1\n"}


def test_ground_truth_conversion_from_the_evaluation_lists():
    list2020 = ("fan\nid_01_00000000.wav,normal_id_01_00000098.wav,0\n"
                "id_01_00000001.wav,anomaly_id_01_00000064.wav,1\n"
                "id_03_00000000.wav,anomaly_id_03_00000002.wav,1\nvalve\nid_04_00000000.wav,normal_id_04_00000001.wav,0\n")
    assert ground_truth_files("eval_data_list", {"l.csv": list2020}, ["fan"]) == {
        "ground_truth_data/ground_truth_fan_section_01_test.csv":
            "id_01_00000000.wav,0\nid_01_00000001.wav,1\n",
        "ground_truth_data/ground_truth_fan_section_03_test.csv": "id_03_00000000.wav,1\n"}
    list2025 = ("AutoTrash\nsection_00_0000.wav,section_00_target_test_anomaly_0012_id_C1.wav\n"
                "section_00_0001.wav,section_00_source_test_normal_0031_id_C1.wav\n")
    assert ground_truth_files("eval_data_list", {"l.csv": list2025}, ["AutoTrash"]) == {
        "ground_truth_data/ground_truth_AutoTrash_section_00_test.csv":
            "section_00_0000.wav,1\nsection_00_0001.wav,0\n",
        "ground_truth_domain/ground_truth_AutoTrash_section_00_test.csv":
            "section_00_0000.wav,1\nsection_00_0001.wav,0\n"}


def test_eval_download_attaches_ground_truth_where_evaluate_finds_it(server, monkeypatch, tmp_path):
    test = make_zip(["fan/source_test/section_03_source_test_0000.wav",
                     "fan/source_test/section_03_source_test_0001.wav",
                     "fan/target_test/section_03_target_test_0000.wav"])
    ev = records.Archive("dcase2021", "eval", "fan", "eval_data_fan_test.zip", 113, md5(test))
    gt_files = {
        "ground_truth_data/ground_truth_fan_section_03_source_test.csv":
            b"section_03_source_test_0000.wav,1\nsection_03_source_test_0001.wav,0\n",
        "ground_truth_data/ground_truth_fan_section_03_target_test.csv":
            b"section_03_target_test_0000.wav,1\n",
        "ground_truth_data/ground_truth_pump_section_03_source_test.csv": b"unused.wav,1\n"}
    source = records.GroundTruthSource(
        "dcase2021", "org/evaluator", "0" * 40, "evaluator",
        tuple((p, hashlib.sha256(b).hexdigest()) for p, b in gt_files.items()))
    for path, data in gt_files.items():
        server.files[f"/raw/org/evaluator/{'0' * 40}/{path}"] = data
    publish(server, monkeypatch, [(ev, test)], ground_truth=[source])
    out = download("dcase2021", "eval", root=tmp_path, progress=False, log=None)
    gt = load_ground_truth(out / "ground_truth")
    assert gt[["file", "machine", "section", "label", "domain"]].to_dict("records") == [
        {"file": "section_03_source_test_0000.wav", "machine": "fan", "section": "03",
         "label": "anomaly", "domain": "source"},
        {"file": "section_03_source_test_0001.wav", "machine": "fan", "section": "03",
         "label": "normal", "domain": "source"},
        {"file": "section_03_target_test_0000.wav", "machine": "fan", "section": "03",
         "label": "anomaly", "domain": "target"}]
    if "folder" in gt.columns:  # the 2021 per-domain files mark the 2021 protocol
        assert sorted(gt["folder"]) == ["source_test", "source_test", "target_test"]
    assert not any("pump" in r["path"] for r in server.requests)  # only the machines asked for
    machine = out / "eval_data" / "raw" / "fan"
    assert sorted(p.name for p in machine.glob("*_test/*.wav")) == sorted(gt["file"])


def test_corrupted_ground_truth_file_is_reported(server, monkeypatch, tmp_path):
    test = make_zip(["fan/test/section_00_0000.wav"])
    ev = records.Archive("dcase2023", "eval", "fan", "eval_data_fan_test.zip", 114, md5(test))
    path = "ground_truth_data/ground_truth_fan_section_00_test.csv"
    source = records.GroundTruthSource("dcase2023", "org/ev", "1" * 40, "evaluator",
                                       ((path, hashlib.sha256(b"section_00_0000.wav,1\n").hexdigest()),))
    server.files[f"/raw/org/ev/{'1' * 40}/{path}"] = b"section_00_0000.wav,0\n"
    publish(server, monkeypatch, [(ev, test)], ground_truth=[source])
    with pytest.raises(DataError, match=r"^dcase2023 ground truth ground_truth_fan_section_00_test\.csv: "
                                        r"checksum mismatch again"):
        download("dcase2023", "eval", root=tmp_path, progress=False, log=None)
    assert not (tmp_path / "dcase2023" / "ground_truth").exists()


# ---------------------------------------------------------------------------------------------
# command line


def test_cli_download_and_its_one_line_errors(server, monkeypatch, tmp_path, capsys):
    body = make_zip(DEV_FAN)
    arc = records.Archive("dcase2024", "dev", "fan", "dev_fan.zip", 115, md5(body))
    publish(server, monkeypatch, [(arc, body)])
    assert main(["download", "dcase2024", "--root", str(tmp_path), "--quiet"]) == 0
    assert f"dataset ready: {tmp_path / 'dcase2024'}" in capsys.readouterr().out

    for argv, msg in [
        (["download", "dcase1999", "--root", str(tmp_path)], "unknown dataset 'dcase1999'; known: dcase2024"),
        (["download", "dcase2024", "--machines", "car", "--root", str(tmp_path)],
         "dcase2024 dev: unknown machine type(s) car; available: fan"),
        (["download", "dcase2024", "--split", "eval", "--root", str(tmp_path)],
         "dcase2024 has no eval archives in the table (it has: dev)"),
        (["download", "dcase2024"], "give DATASET and --root DIR"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"asdlab download: error: {msg}") and err.count("\n") == 1


def test_select_errors_are_config_errors():
    with pytest.raises(ConfigError, match="unknown split 'test' for dcase2020"):
        download("dcase2020", "test", root=".")
