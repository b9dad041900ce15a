"""Ignore regions: which points lie strictly inside a polygon (docs/spec/metrics.md §2 step 3)."""

import numpy as np

#: A polygon needs this many vertices to have an inside.
MIN_POLYGON_VERTICES = 3


def points_in_polygons(points: np.ndarray, polygons: list[np.ndarray]) -> np.ndarray:
    """Which points lie strictly inside any of the polygons.

    Uses the even-odd rule with a ray towards +x, like GEOS (shapely's `Polygon.contains`, which
    the official toolkit calls): points on an edge or a vertex are not inside, and so nothing is
    inside a polygon of fewer than 3 vertices (the official toolkit crashes on those). The
    arithmetic is exact for integer pixel coordinates, so boundary cases agree with GEOS.

    Args:
      points: (M, 2) float [x, y].
      polygons: list of (V, 2) float vertex arrays; closing the ring is implicit.

    Returns:
      (M,) bool.
    """
    inside = np.zeros(len(points), dtype=bool)
    if not len(points):
        return inside
    px, py = points[:, :1], points[:, 1:]
    for poly in polygons:
        poly = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
        if len(poly) < MIN_POLYGON_VERTICES:
            continue
        a, b = poly, np.roll(poly, -1, axis=0)
        ax, ay, bx, by = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
        cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax)  # (M, V): > 0 if left of a->b
        on_edge = ((cross == 0) & (np.minimum(ax, bx) <= px) & (px <= np.maximum(ax, bx))
                   & (np.minimum(ay, by) <= py) & (py <= np.maximum(ay, by)))
        upward = (ay <= py) & (by > py)
        downward = (by <= py) & (ay > py)
        crossings = (upward & (cross > 0)) | (downward & (cross < 0))
        odd = (np.count_nonzero(crossings, axis=1) % 2) == 1
        inside |= odd & ~on_edge.any(axis=1)
    return inside
