"""Image bytes: a captured image's size, read from its header (huge pixel counts are not
decoded); which images belong to an article is archive/figures.py's."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image

from .config import Limits


@dataclass
class ImageInfo:
    sha256: str
    mime_type: str | None
    width: int | None
    height: int | None
    bytes: int
    #: why width and height are unknown, when they are
    note: str | None = None


#: The formats Pillow may open: the raster images of web pages. Pillow otherwise opens whatever
#: the bytes are, whatever the Content-Type says: an "image/jpeg" that is EPS ran Ghostscript
#: on the capture's PostScript (found in review).
IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "AVIF", "BMP", "TIFF", "ICO")


def image_info(payload: bytes, sha256: str, mime_type: str | None, limits: Limits) -> ImageInfo:
    """Size of an image read from its header only; huge pixel counts are not decoded."""
    width = height = note = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(payload), formats=IMAGE_FORMATS) as im:
                w, h = im.size
                if w * h <= limits.max_image_pixels:
                    width, height = w, h
                else:
                    note = (
                        f"image of {w}x{h} pixels is over the {limits.max_image_pixels:,}-pixel "
                        "cap: not decoded"
                    )
                mime_type = Image.MIME.get(im.format or "", mime_type)
    except Image.DecompressionBombError as e:
        note = f"image over the pixel cap, not decoded: {e}"
    except Exception as e:  # noqa: BLE001 - Pillow raises many types for damaged images
        note = f"image could not be read ({type(e).__name__})"
    return ImageInfo(sha256, mime_type, width, height, len(payload), note)
