"""The HTML report of a real session rendered by headless Chromium (Debian's package).

Chromium takes a screenshot (a real PNG with the charts' colours painted in it) and dumps
the DOM it built, whose chart elements must carry the session's data points: one circle
per activity, with the activity's capability and response time. Skipped only where no
``chromium`` is on PATH (``apt-get install -y chromium``).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from daemon.read.render.html import PALETTE, render_html
from daemon.read.reporting import load_analysis, load_series

from logbuilders import SPEC_SESSION, spec_session_log

CHROMIUM = shutil.which("chromium")
WIDTH, HEIGHT = 1200, 2000

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--hide-scrollbars",
               f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
    channels = 3 if color == 2 else 4
    stride = width * channels
    raw = zlib.decompress(idat)
    rows: list[bytes] = []
    previous = bytearray(stride)
    # Bytewise addition of whole rows at once (no carries between bytes), for the "up"
    # filter most rows use; the others go byte by byte.
    low7, high = int.from_bytes(b"\x7f" * stride, "big"), int.from_bytes(b"\x80" * stride, "big")
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if kind == 2:
            a, b = int.from_bytes(line, "big"), int.from_bytes(previous, "big")
            line = bytearray((((a & low7) + (b & low7)) ^ ((a ^ b) & high)).to_bytes(stride, "big"))
        for x in range(stride if kind in (1, 3, 4) else 0):
            left = line[x - channels] if x >= channels else 0
            up = previous[x]
            corner = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[x] = (line[x] + predictor) & 0xFF
        rows.append(bytes(line) if channels == 3 else
                    b"".join(bytes(line[i:i + 3]) for i in range(0, stride, 4)))
        previous = line
    return width, height, rows


class Circles(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.circles: list[dict[str, str | None]] = []
        self.svgs: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "circle":
            self.circles.append(dict(attrs))
        elif tag == "svg":
            self.svgs.append(dict(attrs).get("id"))

    handle_startendtag = handle_starttag


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, float]]]:
    tmp = tmp_path_factory.mktemp("chromium")
    db = spec_session_log(tmp / "log.db")
    page = tmp / "report.html"
    page.write_text(render_html(load_analysis(db, SPEC_SESSION), load_series(db, SPEC_SESSION)),
                    encoding="utf-8")
    conn = db.connect_readonly()
    try:
        rows = [(str(c), float(ms)) for c, ms in conn.execute(
            "SELECT capability, response_time_ms FROM activities WHERE session_id = ?",
            (SPEC_SESSION,))]
    finally:
        conn.close()
    return page, rows


def test_screenshot_shows_the_report_and_its_charts(
        rendered: tuple[Path, list[tuple[str, float]]], tmp_path: Path) -> None:
    page, _ = rendered
    shot = tmp_path / "report.png"
    result = chromium(tmp_path / "profile", f"--screenshot={shot}",
                      f"--window-size={WIDTH},{HEIGHT}", page.as_uri())
    assert shot.is_file(), result.stderr[-2000:]
    data = shot.read_bytes()
    assert len(data) > 20_000  # a blank or error page compresses to far less
    width, height, rows = png_pixels(data)
    assert (width, height) == (WIDTH, HEIGHT)
    colours = Counter(row[i:i + 3] for row in rows for i in range(0, len(row), 3))
    assert len(colours) > 50  # text, charts and backgrounds, not one flat colour
    # The three capabilities' series colours are painted (their points and lines).
    for hex_colour in PALETTE[:3]:
        rgb = bytes.fromhex(hex_colour[1:])
        near = sum(n for c, n in colours.items()
                   if max(abs(a - b) for a, b in zip(c, rgb, strict=True)) <= 12)
        assert near >= 20, hex_colour


def test_rendered_dom_carries_every_data_point(
        rendered: tuple[Path, list[tuple[str, float]]], tmp_path: Path) -> None:
    page, rows = rendered
    result = chromium(tmp_path / "profile", "--dump-dom", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = Circles()
    dom.feed(result.stdout)
    assert dom.svgs == ["chart-response", "chart-cpu", "chart-memory"]
    points = [c for c in dom.circles if c.get("data-capability")]
    assert len(points) == len(rows) == 7
    assert Counter((c["data-capability"], float(c["data-ms"] or "nan")) for c in points) == \
        Counter(rows)
    # Placed by value: the slowest call is highest on the chart.
    slowest = max(points, key=lambda c: float(c["data-ms"] or 0))
    assert float(slowest["cy"] or 0) == min(float(c["cy"] or 0) for c in points)
