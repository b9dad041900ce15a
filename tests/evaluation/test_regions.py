"""Ignore regions (gnnpose_jax.evaluation.regions): strictly inside a polygon."""

import numpy as np

from gnnpose_jax.evaluation.regions import points_in_polygons


def test_points_on_polygon_edges_are_not_inside():
    square = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]])
    bow_tie = np.array([[0.0, 0.0], [10.0, 10.0], [10.0, 0.0], [0.0, 10.0]])
    points = np.array([[5.0, 5.0], [0.0, 5.0], [10.0, 10.0], [11.0, 5.0], [5.0, 0.0],
                       [2.0, 5.0]])
    assert points_in_polygons(points, [square]).tolist() == [True, False, False, False, False,
                                                              True]
    assert points_in_polygons(points, [bow_tie]).tolist() == [False, False, False, False, False,
                                                               True]
    assert not points_in_polygons(points, [square[:2]]).any()
