"""explorer.data.images: real files of every mode and format, broken files, and digit preprocessing."""
import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageOps

from explorer import data
from explorer.data import datasets, images
from explorer.data.config import DataConfig
from explorer.data.images import ImageError, image_to_tensor, load_image, prepare_digit, tensor_to_display


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _gradient(mode: str, size=(24, 16)) -> Image.Image:
    """An RGB test picture with some structure, converted to `mode` by PIL."""
    w, h = size
    a = np.zeros((h, w, 3), dtype=np.uint8)
    a[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    a[..., 1] = np.linspace(255, 0, h, dtype=np.uint8)[:, None]
    a[..., 2] = 90
    return Image.fromarray(a, "RGB").convert(mode)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "GIF"])
def test_every_format_decodes(fmt):
    src = _gradient("RGB")
    img = load_image(_encode(src, fmt))
    assert img.mode in ("RGB", "L") and img.size == src.size
    if fmt in ("PNG", "BMP"):  # lossless: pixels must be exact
        assert np.array_equal(np.asarray(img), np.asarray(src))


@pytest.mark.parametrize("mode,out", [("1", "L"), ("L", "L"), ("RGB", "RGB"), ("P", "RGB"), ("I", "L"), ("F", "L")])
def test_opaque_modes_convert_like_pil(mode, out):
    src = _gradient(mode)
    fmt = "TIFF" if mode in ("I", "F") else "PNG"  # Pillow writes 32-bit modes only as TIFF
    if fmt == "TIFF":  # TIFF is not an allowed upload format: convert the decoded image directly
        img = images.to_rgb_or_l(Image.open(io.BytesIO(_encode(src, fmt))))
    else:
        img = load_image(_encode(src, fmt))
    assert img.mode == out
    expected = src.convert(out) if mode not in ("I", "F") else src.convert("L")
    diff = np.abs(np.asarray(img, dtype=int) - np.asarray(expected, dtype=int))
    assert diff.max() <= 1


def test_transparency_composited_onto_white():
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    rgba.putpixel((5, 5), (0, 0, 255, 255))
    rgba.putpixel((2, 2), (0, 0, 0, 128))
    img = load_image(_encode(rgba, "PNG"))
    assert img.mode == "RGB"
    assert img.getpixel((0, 0)) == (255, 255, 255)  # fully transparent red becomes white, not red
    assert img.getpixel((5, 5)) == (0, 0, 255)
    assert all(abs(v - 127) <= 1 for v in img.getpixel((2, 2)))  # half-transparent black on white is grey

    la = Image.new("LA", (4, 4), (0, 0))
    la.putpixel((1, 1), (0, 255))
    img = load_image(_encode(la, "PNG"))
    assert img.mode == "L" and img.getpixel((0, 0)) == 255 and img.getpixel((1, 1)) == 0


def test_palette_with_transparency():
    p = Image.new("P", (6, 6), 0)
    p.putpalette([0, 255, 0] + [200, 0, 0] + [0] * 762)
    p.putpixel((3, 3), 1)
    p.info["transparency"] = 0
    raw = _encode(p, "PNG", transparency=0)
    img = load_image(raw)
    assert img.mode == "RGB"
    assert img.getpixel((0, 0)) == (255, 255, 255)  # the transparent green index becomes white
    assert img.getpixel((3, 3)) == (200, 0, 0)
    gif = load_image(_encode(p, "GIF", transparency=0))
    assert gif.getpixel((0, 0)) == (255, 255, 255) and gif.getpixel((3, 3)) == (200, 0, 0)


def test_sixteen_bit_png_is_scaled_not_clipped():
    a = np.array([[0, 32768, 65535, 257]], dtype=np.uint16)
    img = load_image(_encode(Image.fromarray(a), "PNG"))
    assert img.mode == "L"
    assert list(np.asarray(img)[0]) == [0, 128, 255, 1]


def test_wide_integer_and_float_modes_are_scaled():
    i16 = Image.fromarray(np.array([[0, 32768, 65535]], dtype=np.int32), mode="I")  # 16-bit values held as "I"
    assert list(np.asarray(images.to_rgb_or_l(i16))[0]) == [0, 128, 255]
    f01 = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32), mode="F")
    assert list(np.asarray(images.to_rgb_or_l(f01))[0]) == [0, 128, 255]
    wide = Image.fromarray(np.array([[-1000.0, 0.0, 1000.0]], dtype=np.float32), mode="F")
    assert list(np.asarray(images.to_rgb_or_l(wide))[0]) == [0, 128, 255]  # stretched, not clipped


def test_cmyk_jpeg_matches_pil_conversion():
    src = _gradient("CMYK")
    raw = _encode(src, "JPEG", quality=95)
    img = load_image(raw)
    assert img.mode == "RGB"
    oracle = Image.open(io.BytesIO(raw)).convert("RGB")
    assert np.array_equal(np.asarray(img), np.asarray(oracle))


def test_exif_orientation_is_applied():
    src = Image.new("RGB", (40, 20), (255, 0, 0))
    src.paste((0, 0, 255), (20, 0, 40, 20))  # left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    raw = _encode(src, "JPEG", exif=exif, quality=95)
    img = load_image(raw)
    assert img.size == (20, 40)
    oracle = ImageOps.exif_transpose(Image.open(io.BytesIO(raw)))
    assert np.array_equal(np.asarray(img), np.asarray(oracle))
    top, bottom = img.getpixel((10, 5)), img.getpixel((10, 35))
    assert top[0] > 200 and bottom[2] > 200  # the left (red) half is now on top


def test_animated_gif_gives_first_frame():
    frames = [Image.new("L", (8, 8), v) for v in (0, 255)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    img = load_image(buf.getvalue())
    assert np.asarray(img).max() == 0


@pytest.mark.parametrize("raw,words", [
    (b"", "empty"),
    (b"hello, I am a text file renamed to .png\n" * 5, "not a PNG"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "PNG"),
])
def test_bad_files_raise_one_sentence(raw, words):
    with pytest.raises(ImageError) as info:
        load_image(raw)
    message = str(info.value)
    assert words in message and message.endswith(".") and "\n" not in message


def test_truncated_jpeg_raises():
    raw = _encode(_gradient("RGB", (64, 64)), "JPEG")
    with pytest.raises(ImageError, match="damaged"):
        load_image(raw[: len(raw) // 2])


def test_huge_dimensions_refused_before_decoding():
    # A 30000 x 30000 1-bit PNG compresses to about 100 KB but is 900 megapixels.
    raw = _encode(Image.new("1", (30000, 30000)), "PNG")
    assert len(raw) < images.MAX_BYTES
    with pytest.raises(ImageError, match="megapixels"):
        load_image(raw)
    with pytest.raises(ImageError, match="megapixels"):  # our own cap, below PIL's bomb limit
        load_image(_encode(Image.new("L", (200, 200)), "PNG"), max_pixels=1000)


def test_byte_cap():
    with pytest.raises(ImageError, match="MB"):
        load_image(_encode(_gradient("RGB"), "BMP"), max_bytes=100)


def test_sklearn_sample_photos():
    from sklearn.datasets import load_sample_images

    pre = data.Preprocessing("photos", (), in_channels=3, input_size=32, scale=255.0, mean=(0.5, 0.4, 0.3),
                             std=(0.2, 0.25, 0.3))
    for photo in load_sample_images().images:
        img = load_image(_encode(Image.fromarray(photo), "JPEG", quality=90))
        assert img.mode == "RGB" and img.size == (photo.shape[1], photo.shape[0])
        x = image_to_tensor(img, pre)
        assert x.shape == (1, 3, 32, 32) and x.dtype == torch.float32 and torch.isfinite(x).all()
        shown = tensor_to_display(x, pre)
        assert shown.shape == (32, 32, 3) and shown.min() >= 0 and shown.max() <= 1
        expected = np.asarray(images.fit_square(img, 32), dtype=np.float32) / 255
        assert np.abs(shown - expected).max() < 1e-5  # display undoes normalisation exactly


def test_image_to_tensor_matches_training_normalisation():
    ds = datasets.load_dataset(DataConfig("digits", train_subset=50, test_subset=10))
    pre = ds.preprocessing
    raw = ds.x_test[:1]  # (1, 1, 8, 8), values 0..16
    img = Image.fromarray((raw[0, 0].numpy().astype(np.float32) * 255 / 16).round().astype(np.uint8), "L")
    x = image_to_tensor(img, pre)
    expected = data.normalize(raw, pre)
    assert x.shape == expected.shape == (1, 1, 8, 8)
    assert torch.allclose(x, expected, atol=0.5 / 255 / pre.std[0] * 16 + 1e-4)


def _drawn_digit(size=200) -> Image.Image:
    """A '7'-like and '0'-like drawing: dark strokes on a light, partly transparent background, off-centre."""
    img = Image.new("RGBA", (size, size), (250, 250, 245, 90))
    d = ImageDraw.Draw(img)
    d.ellipse((20, 30, 90, 150), outline=(10, 10, 40, 255), width=12)  # a zero, top-left of the canvas
    return img


def test_prepare_digit_looks_like_training_digits():
    ds = datasets.load_dataset(DataConfig("digits", train_subset=200, test_subset=10))
    pre = ds.preprocessing
    x, view = prepare_digit(_drawn_digit(), pre)
    assert x.shape == (1, 1, 8, 8) and view.shape == (8, 8)
    assert view.min() >= 0 and view.max() <= 1 and view.max() == pytest.approx(1.0)
    raw = x * pre.std[0] + pre.mean[0]  # back to raw / 16
    assert torch.allclose(raw[0, 0] * 16, torch.from_numpy(view) * 16, atol=1e-4)  # range 0..16
    assert view[0].mean() < view[:, 1:7].mean()  # light strokes on a dark background, like the data
    assert view[[0, 7], :].mean() < 0.5 and view[:, [0, 7]].mean() < 0.3
    rows, cols = np.mgrid[0:8, 0:8]
    cy, cx = (rows * view).sum() / view.sum(), (cols * view).sum() / view.sum()
    assert abs(cy - 3.5) < 1.0 and abs(cx - 3.5) < 1.0  # centred although drawn in a corner
    assert np.abs(tensor_to_display(x, pre) - view).max() < 1e-5


def test_prepare_digit_light_on_dark_input_is_not_inverted():
    pre = data.Preprocessing("digits", tuple("0123456789"), in_channels=1, input_size=8, scale=16.0, mean=(0.3,),
                             std=(0.4,), light_on_dark=True)
    img = Image.new("L", (100, 100), 0)
    ImageDraw.Draw(img).line((50, 10, 50, 90), fill=255, width=10)  # a white "1" on black
    _, view = prepare_digit(img, pre)
    assert view[:, 3:5].mean() > 0.5 and view[:, [0, 7]].max() < 0.1


def test_prepare_digit_blank_raises():
    pre = data.Preprocessing("digits", tuple("0123456789"), in_channels=1, input_size=8, scale=16.0, mean=(0.3,),
                             std=(0.4,), light_on_dark=True)
    with pytest.raises(ImageError, match="blank"):
        prepare_digit(Image.new("RGBA", (50, 50), (0, 0, 0, 0)), pre)
