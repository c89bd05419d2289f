"""The deposit certificate (缴存证明) as a PDF, rendered from the certificate's stored snapshot.

reportlab embeds TrueType (glyf) outlines only — the CFF-flavoured Noto CJK fonts fail to load —
so the Chinese text needs a TrueType CJK font such as WenQuanYi Zen Hei (Debian
``fonts-wqy-zenhei``). It is found at run time (``GJJ_CERTIFICATE_FONT``, fontconfig, known
paths), and every character to be printed is checked against the font's character map first: a
certificate with boxes instead of characters is refused, never printed.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import qrcode
import qrcode.constants
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas

logger = logging.getLogger(__name__)

KNOWN_FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
)
FONTCONFIG_PATTERNS = ("WenQuanYi Zen Hei", "WenQuanYi Micro Hei", ":lang=zh-cn")
FC_MATCH_TIMEOUT = 5
# Characters every certificate prints whatever the member's data: a font must cover them.
PROBE_TEXT = "住房公积金缴存证明兹证明账户余额单位验证码有效期至"


NO_LINE_START = "，。、；：？！）》」』”’"


class FontUnavailable(RuntimeError):
    """No usable TrueType CJK font, or the font lacks characters the certificate needs."""


@dataclass(frozen=True)
class CjkFont:
    name: str  # registered reportlab font name
    path: str
    charmap: frozenset[int]

    def missing(self, texts: Iterable[str]) -> set[str]:
        return {
            ch for text in texts for ch in text if not ch.isspace() and ord(ch) not in self.charmap
        }


def _try_load(path: str) -> CjkFont | None:
    name = "GjjCjk-" + hashlib.sha256(path.encode()).hexdigest()[:10]
    try:
        font = TTFont(name, path, subfontIndex=0)
    except (TTFError, OSError) as exc:
        logger.info("certificate font unusable", extra={"font": path, "error": str(exc)[:200]})
        return None
    charmap = frozenset(font.face.charToGlyph)
    candidate = CjkFont(name, path, charmap)
    if candidate.missing([PROBE_TEXT]):
        logger.info("certificate font lacks CJK glyphs", extra={"font": path})
        return None
    pdfmetrics.registerFont(font)
    return candidate


def _fontconfig_paths() -> Iterator[str]:
    fc_match = shutil.which("fc-match")
    if not fc_match:
        return
    for pattern in FONTCONFIG_PATTERNS:
        try:
            out = subprocess.run(  # noqa: S603 — fixed binary, fixed patterns, no shell
                [fc_match, "--format=%{file}", pattern],
                capture_output=True,
                text=True,
                timeout=FC_MATCH_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        path = out.stdout.strip()
        if out.returncode == 0 and path.lower().endswith((".ttf", ".ttc")):
            yield path


@functools.lru_cache(maxsize=4)
def find_cjk_font(override: str = "") -> CjkFont:
    """The font to print with. An explicit ``override`` must work itself: a misconfigured path
    is an operator error to surface, not to paper over with another font."""
    candidates: Iterable[str] = (
        [override] if override else [*_fontconfig_paths(), *KNOWN_FONT_PATHS]
    )
    seen: set[str] = set()
    for path in candidates:
        if path in seen:
            continue
        seen.add(path)
        font = _try_load(path)
        if font is not None:
            return font
    raise FontUnavailable(
        f"no TrueType CJK font (tried {', '.join(seen) or 'nothing'}); "
        "install fonts-wqy-zenhei or set GJJ_CERTIFICATE_FONT"
    )


@dataclass(frozen=True)
class CertificateView:
    """Everything printed on the certificate (from the stored snapshot, never live data)."""

    title: str
    serial_no: str
    verification_code: str
    rows: list[tuple[str, str]]
    intro: str
    notes: list[str]
    centre_name: str
    issued_on: str
    verify_url: str
    content_digest: str

    def texts(self) -> list[str]:
        return [
            self.title,
            self.serial_no,
            self.verification_code,
            self.intro,
            self.centre_name,
            self.issued_on,
            self.content_digest,
            self.verify_url,
            *[part for row in self.rows for part in row],
            *self.notes,
            *LABELS.values(),
        ]


LABELS = {
    "serial": "证明编号：",
    "code": "验证码：",
    "digest": "内容摘要：",
    "scan": "扫码核验",
    "seal": "（盖章）",
}


def render_certificate(view: CertificateView, font: CjkFont) -> bytes:
    missing = font.missing(view.texts())
    if missing:
        raise FontUnavailable(
            f"font {font.path} lacks {len(missing)} character(s) of this certificate"
        )
    buf = io.BytesIO()
    width, height = A4
    # Start in the CJK font so the PDF references no unembedded base-14 font.
    c = Canvas(buf, pagesize=A4, pageCompression=1, initialFontName=font.name)
    c.setTitle(f"{view.title} {view.serial_no}")
    c.setAuthor(view.centre_name)
    c.setSubject(view.title)
    left, right = 22 * mm, width - 22 * mm

    c.setFont(font.name, 20)
    c.drawCentredString(width / 2, height - 30 * mm, view.title)
    c.setFont(font.name, 10)
    c.drawString(left, height - 40 * mm, LABELS["serial"] + view.serial_no)
    c.drawString(left, height - 46 * mm, LABELS["code"] + view.verification_code)
    _draw_qr(c, view.verify_url, right - 30 * mm, height - 58 * mm, 30 * mm)
    c.setFont(font.name, 8)
    c.drawCentredString(right - 15 * mm, height - 61 * mm, LABELS["scan"])

    y = height - 72 * mm
    c.setFont(font.name, 12)
    for line in wrap(view.intro, font.name, 12, right - left):
        c.drawString(left, y, line)
        y -= 7 * mm

    y -= 3 * mm
    y = _draw_table(c, font.name, view.rows, left, right, y)

    y -= 8 * mm
    c.setFont(font.name, 10)
    for note in view.notes:
        for line in wrap(note, font.name, 10, right - left):
            c.drawString(left, y, line)
            y -= 6 * mm

    c.setFont(font.name, 8)
    c.drawString(left, y, view.verify_url)

    c.setFont(font.name, 12)
    c.drawRightString(right, 50 * mm, view.centre_name + LABELS["seal"])
    c.drawRightString(right, 43 * mm, view.issued_on)
    c.setFont(font.name, 8)
    c.drawString(left, 20 * mm, LABELS["digest"] + view.content_digest)
    c.showPage()
    c.save()
    return buf.getvalue()


def wrap(text: str, font_name: str, size: float, width: float) -> list[str]:
    """Break ``text`` into lines no wider than ``width``. Chinese has no spaces to break at, so
    any character boundary will do — except before closing punctuation, which stays on its line."""
    lines, line = [], ""
    for ch in text:
        too_wide = pdfmetrics.stringWidth(line + ch, font_name, size) > width
        if line and too_wide and ch not in NO_LINE_START:
            lines.append(line)
            line = ""
        line += ch
    if line:
        lines.append(line)
    return lines


def _draw_table(
    c: Canvas, font_name: str, rows: list[tuple[str, str]], left: float, right: float, y: float
) -> float:
    row_h = 9 * mm
    split = left + 42 * mm
    top = y
    c.setLineWidth(0.6)
    c.setFont(font_name, 11)
    for label, value in rows:
        c.line(left, y, right, y)
        c.drawString(left + 3 * mm, y - 6 * mm, label)
        c.drawString(split + 3 * mm, y - 6 * mm, value)
        y -= row_h
    c.line(left, y, right, y)
    for x in (left, split, right):
        c.line(x, top, x, y)
    return y


def _draw_qr(c: Canvas, data: str, x: float, y: float, size: float) -> None:
    """The QR code as filled squares (vector, no image, no extra font)."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    qr.add_data(data)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    cell = size / len(matrix)
    c.saveState()
    c.setFillColorRGB(0, 0, 0)
    for row, line in enumerate(matrix):
        for col, dark in enumerate(line):
            if dark:
                c.rect(x + col * cell, y + size - (row + 1) * cell, cell, cell, stroke=0, fill=1)
    c.restoreState()
