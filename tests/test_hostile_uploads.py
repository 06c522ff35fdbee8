"""Hostile zips of images (issue 19, finding 2): a directory that lists one 36-megapixel PNG many times (Python's
zipfile reads every listing), entries whose bytes overlap, a name listed twice, a zip whose images hold too many
pixels, an upload that takes too long, and uploads past the uploads' disk budget are each refused with one sentence
before any image is decoded or any file written; nothing another upload kept is touched.
"""
import io
import re
import struct
import warnings
import zipfile
import zlib

import numpy as np
import pytest
from memory import measure
from PIL import Image

from explorer.data.uploads import (
    MAX_UPLOAD_PIXELS,
    UploadBudget,
    UploadRefused,
    import_zip,
    uploads_usage,
)
from tests.test_uploads import count_decodes, digits_zip

BIG = 6000  # a side: 36 megapixels, under the 40-megapixel cap of one image, ~35 KB as a one-colour PNG


def _one_sentence(text: str) -> bool:
    return text[:1].isupper() and text.endswith(".") and "\n" not in text and not re.search(r"\.\s+[A-Z]", text)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _big_png(side: int = BIG) -> bytes:
    """A one-colour grey PNG of side x side pixels, written directly (no 36 MB image is made to encode it)."""
    pack = zlib.compressobj(9)
    row = b"\0" * (side + 1)  # filter byte 0, then one byte a pixel
    idat = b"".join(pack.compress(row) for _ in range(side)) + pack.flush()
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))


def _small_png(value: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (8, 8), value).save(buf, "PNG")
    return buf.getvalue()


def _local(name: bytes, data: bytes) -> bytes:
    """A stored entry's local header and data."""
    return struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 0, 0, 0, zlib.crc32(data), len(data), len(data),
                       len(name), 0) + name + data


def _hand_zip(members: list, directory: list) -> bytes:
    """members: [(name, data)] written in order; directory: [(name, member index, bytes it claims after that
    member's header)] written as the central directory, so records may point at one member or overlap."""
    body, offsets = b"", []
    for name, data in members:
        offsets.append(len(body))
        body += _local(name, data)
    records = b""
    for name, index, span in directory:
        start = offsets[index] + 30 + len(members[index][0])
        claimed = body[start:start + span]
        records += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, zlib.crc32(claimed), span, span,
                               len(name), 0, 0, 0, 0, 0, offsets[index]) + name
    return body + records + struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(directory), len(directory),
                                        len(records), len(body), 0)


def _probe_zip(png: bytes, copies: int) -> bytes:
    """The probe's zip: `copies` directory records of a/big.png, all pointing at its one copy, and one b/ image."""
    small = _small_png()
    return _hand_zip([(b"a/big.png", png), (b"b/small.png", small)],
                     [(b"a/big.png", 0, len(png))] * copies + [(b"b/small.png", 1, len(small))])


def _stored_zip(entries: list) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about a duplicate name, and writes it
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
            for name, data in entries:
                zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture(scope="module")
def big_png():
    return _big_png()


@pytest.fixture
def decodes(monkeypatch):
    return count_decodes(monkeypatch)


def _refused(data: bytes, root, match: str, **kwargs) -> str:
    with pytest.raises(UploadRefused, match=match) as err:
        import_zip(data, root, **kwargs)
    assert _one_sentence(str(err.value)), str(err.value)
    assert not root.exists() or not any(root.iterdir())  # nothing written, no staging folder left
    return str(err.value)


def test_one_huge_image_listed_many_times_or_too_many_pixels_is_refused_cheaply(tmp_path, big_png):
    """The probe's zip (before, each record was decoded: 0.13 s of CPU each here, ~65 s for 500, then again by the
    preview and every worker) and 60 distinct 36-megapixel PNGs (2.2 gigapixels, past MAX_UPLOAD_PIXELS; ~8 s
    before), in a fresh interpreter: one sentence each, < 300 MB, < 10 s of CPU."""
    probe = _probe_zip(big_png, 500)  # as the probe: 500 records, ~62 KB
    with zipfile.ZipFile(io.BytesIO(probe)) as zf:  # the premise: zipfile lists and reads every record
        assert len(zf.infolist()) == 501 and zf.read(zf.infolist()[317]) == big_png
    many = _stored_zip([(f"{'ab'[i % 2]}/{i}.png", big_png) for i in range(60)])
    assert 60 * BIG * BIG > MAX_UPLOAD_PIXELS and len(many) < 3 * 2**20
    (tmp_path / "probe.zip").write_bytes(probe)
    (tmp_path / "many.zip").write_bytes(many)
    root = tmp_path / "uploads"
    setup = f"""
        import pathlib, time
        from explorer.data.uploads import UploadRefused, import_zip
        files = [pathlib.Path({str(tmp_path)!r}) / name for name in ("probe.zip", "many.zip")]
        root = pathlib.Path({str(root)!r})
    """
    body = """
        said, start = [], time.process_time()
        for f in files:
            try:
                import_zip(f.read_bytes(), root)
                said.append(None)
            except UploadRefused as exc:
                said.append(str(exc))
        outcome["value"] = {"said": said, "cpu_s": time.process_time() - start}
    """
    result = measure(setup, body)
    assert result["error"] is None, result
    probe_said, many_said = result["value"]["said"]
    assert probe_said == "Entries of the zip share their bytes (one file listed as many), so it was refused."
    assert many_said == "The zip's images hold more than 2,000 megapixels in all; upload fewer or smaller images."
    assert result["growth_mb"] < 300 and result["value"]["cpu_s"] < 10, result
    print(f"refused: {result['growth_mb']:.0f} MB, {result['value']['cpu_s']:.2f} s of CPU")
    assert not root.exists() or not any(root.iterdir())


def test_entries_that_overlap_under_different_names_are_refused(tmp_path):
    """a/0.png's record claims its bytes and b/0.png's too (a PNG decodes with bytes after its end): zipfile reads
    both; the upload is refused from the headers."""
    a, b = _small_png(0), _small_png(255)
    b_entry = len(_local(b"b/0.png", b))
    data = _hand_zip([(b"a/0.png", a), (b"b/0.png", b)], [(b"a/0.png", 0, len(a) + b_entry), (b"b/0.png", 1, len(b))])
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.read("a/0.png").startswith(a) and zf.read("b/0.png") == b
    _refused(data, tmp_path / "uploads", "share their bytes")


@pytest.mark.parametrize("names", [("a/0.png", "a/0.png"), ("a/0.png", "A//0.PNG"), ("a/0.png", "a/./0.png")])
def test_a_name_listed_twice_is_refused(tmp_path, names):
    entries = [(names[0], _small_png(0)), (names[1], _small_png(9)), ("b/0.png", _small_png(255))]
    assert _refused(_stored_zip(entries), tmp_path / "uploads", "same file name") == \
        "The zip lists the same file name more than once, so it was refused."


def test_the_pixel_budget_is_checked_from_headers_before_anything_is_decoded(tmp_path, big_png, decodes):
    data = _stored_zip([("a/0.png", big_png), ("b/0.png", big_png)])
    _refused(data, tmp_path / "uploads", "more than 50 megapixels in all", max_pixels=50_000_000)
    assert decodes == []  # refused from the two headers alone
    folder, _ = import_zip(data, tmp_path / "uploads", max_pixels=80_000_000)  # within it: each decoded once
    assert decodes == [(BIG, BIG), (BIG, BIG)] and (folder / ".decoded.npz").is_file()


def test_an_upload_past_its_time_is_refused(tmp_path):
    data = _stored_zip([("a/0.png", _small_png(0)), ("b/0.png", _small_png(255))])
    _refused(data, tmp_path / "uploads", "took more than 0 s of the server's time", max_cpu_s=0)


def test_the_uploads_disk_budget_refuses_a_new_upload_and_keeps_what_was_kept(tmp_path, monkeypatch, decodes):
    from explorer.data.config import DataConfig
    from explorer.store.runstore import RunStore
    from explorer.store.uploaded import keep_upload, load_store_dataset
    store = RunStore(tmp_path / "runs")
    uploads = store.root / "uploads"
    first, _ = keep_upload(store, digits_zip(per_class=4), owner="alice")
    used = uploads_usage(uploads)
    assert set(used) == {"alice"} and used["alice"] > 12 * 3 * 32 * 32  # its images and their arrays
    owner_budget = used["alice"] * 3 // 2
    monkeypatch.setenv("EXPLORER_OWNER_UPLOADS_BUDGET_MB", str(owner_budget / 2**20))
    with pytest.raises(UploadRefused, match=r"would take your uploaded datasets past \d+ KB \(\d+ KB used\)") as err:
        keep_upload(store, digits_zip(per_class=6), owner="alice")
    assert _one_sentence(str(err.value)) and "ask your teacher" in str(err.value)
    assert [p.name for p in uploads.iterdir()] == [first.name]  # nothing written, nothing of hers removed
    keep_upload(store, digits_zip(per_class=4), owner="alice")  # the same zip again is already kept: no new disk
    second, _ = keep_upload(store, digits_zip(per_class=4, classes=(2, 3, 5)), owner="bob")  # bob has room
    monkeypatch.setenv("EXPLORER_UPLOADS_BUDGET_MB", str(sum(uploads_usage(uploads).values()) / 2**20))
    with pytest.raises(UploadRefused, match="space for uploaded datasets is full") as err:
        keep_upload(store, digits_zip(per_class=5), owner="carol")
    assert _one_sentence(str(err.value))
    assert sorted(p.name for p in uploads.iterdir()) == sorted([first.name, second.name])
    seen = len(decodes)
    ds = load_store_dataset(store, DataConfig("folder", path=str(first)))  # her upload is intact and reads its arrays
    assert len(ds.y_train) + len(ds.y_test) == 12 and len(decodes) == seen
    assert UploadBudget.from_env() == UploadBudget(sum(uploads_usage(uploads).values()), owner_budget)
    monkeypatch.setenv("EXPLORER_UPLOADS_BUDGET_MB", "none")
    monkeypatch.setenv("EXPLORER_OWNER_UPLOADS_BUDGET_MB", "")
    assert UploadBudget.from_env() == UploadBudget(None, UploadBudget().owner_bytes)


def test_an_upload_folder_from_before_the_arrays_were_kept_builds_them_once(tmp_path, decodes):
    """An uploads/ folder made by an older version holds only the images: its first load decodes them and keeps
    the arrays; later loads read the arrays; the images are the same either way."""
    from explorer.data.config import DataConfig
    from explorer.data.datasets import load_dataset
    folder, _ = import_zip(digits_zip(per_class=5), tmp_path / "uploads")
    assert len(decodes) == 15
    kept = load_dataset(DataConfig("folder", path=str(folder)))
    assert len(decodes) == 15  # read from the arrays kept at upload
    (folder / ".decoded.npz").unlink()
    rebuilt = load_dataset(DataConfig("folder", path=str(folder)))
    assert len(decodes) == 30 and (folder / ".decoded.npz").is_file()
    again = load_dataset(DataConfig("folder", path=str(folder)))
    assert len(decodes) == 30
    for ds in (rebuilt, again):
        assert np.array_equal(ds.x_train.numpy(), kept.x_train.numpy())
        assert np.array_equal(ds.y_test.numpy(), kept.y_test.numpy())
    header = io.BytesIO()  # an array that says it holds 3 TB in a member of a few bytes: never allocated
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (10**9, 3, 32, 32)})
    lying = _stored_zip([("x.npy", header.getvalue()), ("y.npy", b""), ("meta.npy", b"")])
    for damaged in (b"PK\x03\x04 damaged", lying):  # a damaged file is decoded around, never trusted
        (folder / ".decoded.npz").write_bytes(damaged)
        ds = load_dataset(DataConfig("folder", path=str(folder)))
        assert np.array_equal(ds.x_train.numpy(), kept.x_train.numpy())
    assert len(decodes) == 60  # each time decoded again, and kept again
