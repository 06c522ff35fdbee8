"""The one door for image bytes: safe decode -> PIL image -> model-ready tensor.

Everything that reads an image a user gave us (uploads, folder datasets, drawings) comes through
`load_image`, which caps bytes and pixels before any pixel is decoded, allows only image decoders,
refuses extreme aspect ratios, applies EXIF orientation and brings every PIL mode to "L" or "RGB". `image_to_tensor` and
`prepare_digit` then apply the preprocessing saved with a run, so a prediction sees what training saw. torch is
imported where a tensor is made, so decoding and checking an image loads no torch (docs/architecture.md).

Size budget: ~300 lines.
"""
from __future__ import annotations

import contextlib
import io
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..i18n import _, decimal
from ..nets.preprocessing import Preprocessing
from .registry import DATASETS

if TYPE_CHECKING:
    import torch

MAX_IMAGE_BYTES = 20 * 2**20  # covers any phone photo
MAX_IMAGE_PIXELS = 40_000_000  # 8000 x 5000; about 120 MB once decoded to RGB
MAX_ASPECT_RATIO = 50  # longest side / shortest side; 10,000 x 1 crashed the browser's image element
MAX_BYTES = MAX_IMAGE_BYTES
MAX_PIXELS = MAX_IMAGE_PIXELS
FORMATS = ["PNG", "JPEG", "WEBP", "BMP", "GIF"]
INK_THRESHOLD = 0.2  # a pixel counts as ink above this share of the full stroke level
DEFAULT_DIGIT_MARGIN = 0.15  # share of the side left empty on each side when a dataset does not say


class ImageError(ValueError):
    """An image we cannot or will not read; its message is one sentence for the user."""


def load_image(data: bytes, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode untrusted image bytes safely into an "L" (grayscale sources) or "RGB" image.

    Args:
        data: the file's bytes (PNG, JPEG, WebP, BMP or GIF; a GIF gives its first frame).
        max_bytes: refuse larger files before opening them.
        max_pixels: refuse larger images after reading the header, before decoding the pixels.
    Returns:
        A fully loaded PIL image, EXIF orientation applied, transparency composited onto white.
    Raises:
        ImageError: with one sentence, for empty, oversized, non-image, damaged or bomb files.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageError("An image must be given as the bytes of a file.")
    if len(data) == 0:
        raise ImageError(_("The file is empty; choose a PNG, JPEG, WebP, BMP or GIF image."))
    if len(data) > max_bytes:
        raise ImageError(_too_large_file(len(data), max_bytes))
    # PIL itself warns above Image.MAX_IMAGE_PIXELS and errors at twice that; our cap never lets an image
    # past PIL's warning level reach the decoder. (No warnings.catch_warnings: it is not thread-safe, and
    # Streamlit serves each session from its own thread.)
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
    img = _decode(_open_checked(bytes(data), limit))
    with contextlib.suppress(Exception):  # a broken EXIF block should not cost the user the picture
        img = ImageOps.exif_transpose(img)
    return to_rgb_or_l(img)


def image_size(data: bytes, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(width, height) from an image's header alone, nothing decoded; the same caps as `load_image`.

    `data` may be the file's first bytes only (the header is at the start of every format we read).
    Raises:
        ImageError: one sentence, for what `load_image` would refuse before decoding.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) == 0:
        raise ImageError(_("The file is empty; choose a PNG, JPEG, WebP, BMP or GIF image."))
    if len(data) > max_bytes:
        raise ImageError(_too_large_file(len(data), max_bytes))
    img = _open_checked(bytes(data), min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels))
    width, height = img.size
    img.close()
    return width, height


def _too_large_file(size: int, max_bytes: int) -> str:
    return _("The file is {size} MB; images up to {most} MB are accepted.").format(
        size=decimal(size / 2**20, 1), most=decimal(max_bytes / 2**20, 0))


def _too_big(width: int, height: int, max_pixels: int) -> ImageError:
    return ImageError(_("The image is {width} x {height} pixels; images up to {most} megapixels are accepted.").format(
        width=width, height=height, most=decimal(max_pixels / 1e6, 0)))


def _open_checked(data: bytes, max_pixels: int) -> Image.Image:
    """Open (header only) with image decoders alone and check the pixel count before decoding."""
    try:
        img = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(_("The image has too many pixels; images up to {most} megapixels are accepted.").format(
            most=decimal(max_pixels / 1e6, 0))) from None
    except UnidentifiedImageError:
        raise ImageError(_("This file is not a PNG, JPEG, WebP, BMP or GIF image.")) from None
    except Exception:
        raise ImageError(_("This image file is damaged and cannot be read.")) from None
    width, height = img.size
    if width < 1 or height < 1:
        raise ImageError(_("The image has no pixels."))
    if width * height > max_pixels:
        raise _too_big(width, height, max_pixels)
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise ImageError(_("The image is {width} x {height} pixels, too long and thin to show or explain; crop it to "
                           "at most {ratio}:1.").format(width=width, height=height, ratio=MAX_ASPECT_RATIO))
    return img


def _decode(img: Image.Image) -> Image.Image:
    """Decode the pixels (the first frame of an animation); damaged or cut-off files raise ImageError."""
    try:
        img.seek(0)
        img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(_("The image has too many pixels to decode safely.")) from None
    except Exception:
        raise ImageError(_("This image file is damaged or cut off and cannot be read.")) from None
    return img


def to_rgb_or_l(img: Image.Image) -> Image.Image:
    """Bring any PIL mode to "L" (grayscale sources) or "RGB"; transparency goes onto white.

    16-bit images are scaled to 8 bits (65535 -> 255), never clipped; 32-bit "I" and float "F"
    images are scaled by their range (see `_wide_to_l`).
    """
    mode = img.mode
    if mode == "L":
        return img
    if mode == "RGB":
        return img
    if mode == "1":
        return img.convert("L")
    if mode.startswith("I") or mode == "F":
        return _wide_to_l(img)
    if mode in ("LA", "La"):
        return _onto_white(img.convert("RGBA")).convert("L")
    if mode in ("RGBA", "RGBa", "PA") or (mode == "P" and "transparency" in img.info):
        return _onto_white(img.convert("RGBA"))
    try:
        return img.convert("RGB")  # P without transparency, CMYK, YCbCr, LAB, HSV
    except Exception:
        raise ImageError(_("Images in PIL mode {mode} are not supported; save it as an RGB PNG or JPEG.").format(
            mode=mode)) from None


def _onto_white(rgba: Image.Image) -> Image.Image:
    """Composite an RGBA image onto an opaque white background -> RGB."""
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _wide_to_l(img: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float grayscale -> 8-bit "L".

    I;16*: divide by 257 (65535 -> 255, 32768 -> 128). "I": values already in 0..255 stay, values in
    0..65535 (16-bit PNGs in older Pillow) are treated as 16-bit, anything else is stretched min..max.
    "F": values in [0, 1] are multiplied by 255, others stretched min..max.
    """
    a = np.asarray(img, dtype=np.float64)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if img.mode.startswith("I;16") or (img.mode == "I" and lo >= 0 and 255 < hi <= 65535):
        a = a / 257.0
    elif img.mode == "F" and lo >= 0 and hi <= 1:
        a = a * 255.0
    elif lo < 0 or hi > 255:
        a = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), mode="L")


def fit_square(img: Image.Image, size: int) -> Image.Image:
    """Centre-crop to a square, then resize to size x size (how folder datasets and uploads are sized)."""
    return ImageOps.fit(img, (size, size), method=Image.Resampling.BILINEAR)


def _channels(img: Image.Image, in_channels: int) -> Image.Image:
    img = to_rgb_or_l(img)
    return img.convert("L" if in_channels == 1 else "RGB")


def normalize(x: torch.Tensor, pre: Preprocessing) -> torch.Tensor:
    """Raw images -> model input: (x / scale - mean) / std per channel.

    Args:
        x: (B, C, H, W) raw values (uint8 or float) on any device.
        pre: a Dataset's preprocessing.
    Returns:
        (B, C, H, W) float32 on x's device.
    """
    import torch
    mean = torch.tensor(pre.mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(pre.std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    return (x.to(torch.float32) / float(pre.scale) - mean) / std


def image_to_tensor(img: Image.Image, pre: Preprocessing) -> torch.Tensor:
    """An image -> the model's input, preprocessed exactly as the run's training data was.

    Args:
        img: any PIL image (from `load_image`, or a drawing).
        pre: a dataset's Preprocessing (explorer.data.datasets.Dataset.preprocessing, saved with each run).
    Returns:
        (1, C, H, W) float32: centre-cropped and resized to pre.input_size, C = pre.in_channels,
        scaled to the dataset's raw range (0..scale) and normalised by `explorer.data.normalize`.
    """
    import torch

    size = pre.input_size
    img = fit_square(_channels(img, pre.in_channels), size)
    a = np.asarray(img, dtype=np.float32) / 255.0  # (H, W) or (H, W, 3) in [0, 1]
    a = a[:, :, None] if a.ndim == 2 else a
    raw = torch.from_numpy(a).permute(2, 0, 1).unsqueeze(0) * float(pre.scale)  # (1, C, H, W)
    return normalize(raw, pre)


def prepare_digit(img: Image.Image, pre: Preprocessing) -> tuple[torch.Tensor, np.ndarray]:
    """Bring a drawing or photo of a digit to the look of the training digits, then to a tensor.

    Steps: composite transparency onto the background that contrasts with the strokes, grayscale,
    invert so the ink is bright when the data is light-on-dark (dark when not), remove the paper's
    level, crop to the ink, pad to a square with the dataset's margin around the ink's box, resize
    with area averaging (as the digits' 4x4 pixel counts were made), stretch the strokes to full scale.

    Args:
        img: a PIL image in any mode (a canvas drawing is usually RGBA).
        pre: the run's preprocessing (input_size, in_channels, scale, mean, std, light_on_dark).
    Returns:
        (x, view): x is the (1, C, H, W) normalised model input; view is the (H, W) float array in
        [0, 1] that the model sees (raw / scale), for display beside the original.
    Raises:
        ImageError: when the picture holds no strokes.
    """
    import torch

    ink = _ink_map(img)  # (h, w) in [0, 1], ink bright, paper 0
    square = _crop_to_square(ink, DEFAULT_DIGIT_MARGIN if pre.margin is None else pre.margin)
    size = pre.input_size
    small = np.asarray(Image.fromarray(square, mode="F").resize((size, size), Image.Resampling.BOX))
    small = np.clip(small / max(float(small.max()), 1e-6), 0.0, 1.0).astype(np.float32)
    view = small if pre.light_on_dark else 1.0 - small
    raw = torch.from_numpy(view)[None, None] * float(pre.scale)  # (1, 1, H, W)
    raw = raw.expand(1, pre.in_channels, size, size)
    return normalize(raw, pre), view


def _ink_map(img: Image.Image) -> np.ndarray:
    """Grayscale float map with the strokes bright (1) and the paper dark (0)."""
    if "A" in img.mode or (img.mode == "P" and "transparency" in img.info):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
        gray = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        alpha = rgba[..., 3]
        opaque = alpha >= 0.9 * alpha.max() if alpha.max() > 0 else np.ones_like(alpha, dtype=bool)
        # Composite onto the shade the most opaque pixels (the strokes) stand out from.
        background = 0.0 if gray[opaque].mean() > 0.5 else 1.0
        gray = gray * alpha + background * (1.0 - alpha)
    else:
        gray = np.asarray(to_rgb_or_l(img).convert("L"), dtype=np.float32) / 255.0
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    paper = float(np.median(border))
    ink = 1.0 - gray if paper > 0.5 else gray  # dark-on-light pictures are inverted
    paper = 1.0 - paper if paper > 0.5 else paper
    top = float(ink.max())
    if top - paper < 0.1:
        raise ImageError(_("No digit found: the picture looks blank; draw or upload a digit with clear strokes."))
    return np.clip((ink - paper) / (top - paper), 0.0, 1.0)


def _crop_to_square(ink: np.ndarray, margin: float) -> np.ndarray:
    """Crop to the ink's bounding box and pad it, centred, to a square with `margin` on each side."""
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    box = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = box.shape
    side = int(np.ceil(max(h, w) / max(1e-6, 1.0 - 2.0 * margin)))
    square = np.zeros((side, side), dtype=np.float32)
    top, left = (side - h) // 2, (side - w) // 2
    square[top : top + h, left : left + w] = box
    return square


def tensor_to_display(x: torch.Tensor, pre: Preprocessing) -> np.ndarray:
    """Undo the normalisation of one model input for display.

    Args:
        x: (C, H, W) or (1, C, H, W) normalised input.
        pre: the preprocessing it was normalised with.
    Returns:
        (H, W) for one channel or (H, W, 3) for three, float32 in [0, 1] (raw / scale).
    """
    import torch
    x = x.detach().float().cpu()
    x = x[0] if x.dim() == 4 else x
    mean = torch.tensor(pre.mean, dtype=torch.float32).view(-1, 1, 1)
    std = torch.tensor(pre.std, dtype=torch.float32).view(-1, 1, 1)
    img = (x * std + mean).clamp(0.0, 1.0)  # (C, H, W) in [0, 1]
    return img[0].numpy() if img.shape[0] == 1 else img.permute(1, 2, 0).numpy()


def is_digit_model(pre: Preprocessing) -> bool:
    """True when the model was trained on handwritten digits (its dataset's record says `drawn_digits`):
    drawings and photos of digits are brought to their look by prepare_digit."""
    spec = DATASETS.get(pre.dataset)
    return spec is not None and spec.drawn_digits


def to_model_input(img: Image.Image, pre: Preprocessing) -> tuple[torch.Tensor, np.ndarray]:
    """An image (upload or drawing) -> the model's input and the model's-eye view of it.

    Digit models get images.prepare_digit (cropped, centred, light-on-dark like the data); others get
    images.image_to_tensor (centre crop, resize, normalise).
    Returns:
        (x, view): x (1, C, H, W) normalised; view (H, W) or (H, W, 3) floats in [0, 1].
    Raises:
        images.ImageError: one sentence, e.g. when a drawing is blank.
    """
    if is_digit_model(pre):
        return prepare_digit(img, pre)
    x = image_to_tensor(img, pre)
    return x, tensor_to_display(x, pre)
