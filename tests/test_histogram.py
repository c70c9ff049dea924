"""report.html's score histograms (grader.batch.histogram): counts, bins, and safe markup."""

import xml.etree.ElementTree as ET

from grader.batch.histogram import bins_for, counts_for, histogram_svg

SVG = "{http://www.w3.org/2000/svg}"


def bars(svg: str) -> list[str]:
    """Each bar's tooltip, e.g. '2.5 to 3.5: 2 students'."""
    root = ET.fromstring(svg)
    return [rect.find(f"{SVG}title").text for rect in root.iter(f"{SVG}rect")]


def test_one_bin_per_point_up_to_forty_points():
    bins = bins_for([0, 3, 3, 3.5, 16], 16)
    assert len(bins) == 17 and bins[0] == (-0.5, 0.5) and bins[-1] == (15.5, 16.5)
    counts = counts_for([0, 3, 3, 3.5, 16, 16], bins)
    assert counts[0] == 1 and counts[3] == 2 and counts[4] == 1 and counts[16] == 2 and sum(counts) == 6
    assert bars(histogram_svg([0, 3, 3, 3.5, 16, 16], 16, "softmax")) == [
        "-0.5 to 0.5: 1 student", "2.5 to 3.5: 2 students", "3.5 to 4.5: 1 student", "15.5 to 16.5: 2 students",
    ]  # fmt: skip


def test_round_bins_above_forty_points_and_the_top_score_counts():
    bins = bins_for([0, 46, 99.9], 100)
    assert len(bins) == 20 and bins[0] == (0, 5) and bins[-1][1] == 100
    counts = counts_for([0, 46, 99.9, 100], bins)
    assert counts[0] == 1 and counts[9] == 1 and counts[19] == 2 and sum(counts) == 4
    assert bins_for([], 46) == [(2 * k, 2 * k + 2) for k in range(23)]
    assert len(bins_for([], 1234)) <= 25 and bins_for([], 1234)[1][0] == 50


def test_a_score_above_the_maximum_widens_the_axis_and_nan_is_left_out():
    counts = counts_for([50.0, float("nan"), float("inf")], bins_for([50.0], 46))
    assert sum(counts) == 1


def test_empty_class_and_all_zero_scores_draw_without_dividing_by_zero():
    for scores, top in (([], 46), ([0, 0, 0], 0), ([], 0)):
        root = ET.fromstring(histogram_svg(scores, top, "total"))
        assert root.tag == f"{SVG}svg"


def test_title_is_escaped_and_the_same_scores_give_the_same_bytes():
    svg = histogram_svg([1, 2], 4, '<script>alert(1)</script>&"')
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    ET.fromstring(svg)  # well-formed
    assert histogram_svg([1, 2, 2], 4, "x") == histogram_svg([2, 1, 2], 4, "x")
