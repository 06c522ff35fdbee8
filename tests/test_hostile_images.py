"""Hostile images (issue 11, items 18 and 20): extreme aspect ratios get one sentence from the loader, and a folder
dataset never reads a file past the image cap (it is skipped from its size alone).
"""
import io
import re

import pytest
from memory import measure
from PIL import Image

from explorer.data.images import MAX_ASPECT_RATIO, MAX_BYTES, MAX_IMAGE_PIXELS, ImageError, load_image


def _one_sentence(text: str) -> bool:
    return text[:1].isupper() and text.endswith(".") and "\n" not in text and not re.search(r"\.\s+[A-Z]", text)


def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (width, height), 255).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("size", [(10_000, 1), (1, 10_000), (MAX_IMAGE_PIXELS - 1, 1), (MAX_ASPECT_RATIO * 10 + 1, 10)])
def test_extremely_long_thin_images_are_refused_with_one_sentence(size):
    data = _png(*size)
    assert len(data) < MAX_BYTES  # small on the wire: only its shape is hostile
    with pytest.raises(ImageError) as err:
        load_image(data)
    assert _one_sentence(str(err.value)) and f"{size[0]} x {size[1]}" in str(err.value)


def test_an_image_at_the_aspect_limit_still_loads():
    assert load_image(_png(MAX_ASPECT_RATIO * 10, 10)).size == (MAX_ASPECT_RATIO * 10, 10)


def test_a_folder_dataset_skips_a_huge_file_without_reading_it(tmp_path):
    """An 8 GiB (sparse) ".png" in a class folder: read whole, it would take the memory; it is skipped from its size."""
    for name in ("cats", "dogs"):
        (tmp_path / name).mkdir()
        for i in range(3):
            (tmp_path / name / f"{i}.png").write_bytes(_png(12, 12))
    with open(tmp_path / "cats" / "huge.png", "wb") as f:
        f.truncate(8 * 2**30)
    setup = f"""
        from explorer.data.config import DataConfig
        from explorer.data.datasets import load_dataset
        config = DataConfig("folder", path={str(tmp_path)!r})
    """
    body = """
        data = load_dataset(config)
        outcome["value"] = [len(data.y_train) + len(data.y_test), data.preprocessing.skipped]
    """
    result = measure(setup, body)
    assert result["error"] is None, result
    assert result["value"] == [6, 1] and result["growth_mb"] < 200, result
