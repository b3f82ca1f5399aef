from watchlists.sparkline import svg


def test_a_sparkline_draws_one_point_per_score_inside_its_box():
    drawn = svg([0.1, 0.5, -0.2], width=100, height=24)
    points = drawn.split('points="')[1].split('"')[0].split()
    assert len(points) == 3
    ys = [float(p.split(",")[1]) for p in points]
    assert min(ys) >= 0 and max(ys) <= 24
    assert ys[1] < ys[0] < ys[2]  # higher score, higher on screen (smaller y)
    assert 'role="img"' in drawn and "Score history" in drawn


def test_fewer_than_two_scores_draw_nothing():
    assert svg([]) == "" and svg([0.4]) == ""
