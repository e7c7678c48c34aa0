"""Intervention assessment (transforms/stats/wdd.py): WDD, WDQ, Poisson z, E-test, plain language.

Reference values: Wheeler & Ratcliffe's (2018) worked example as reproduced by ptools' own tests (WDD,
plus its time- and area-weight examples), Krishnamoorthy & Thomson's (2004) examples (E-test), and
hand computations written out below. The E-test is also checked against a slow, independent double
loop over the Poisson pmfs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from transforms.stats.wdd import e_test, plain_language, poisson_z, wdd, wdq

PTOOLS_EXAMPLE = dict(
    control=(308, 318), treated=(207, 110), disp_control=(150, 140), disp_treated=(178, 157)
)


# --- WDD ----------------------------------------------------------------------------------------------------


def test_wdd_wheeler_ratcliffe_example():
    r = wdd(**PTOOLS_EXAMPLE)
    assert r.wdd == -118
    assert r.variance == 1568
    assert round(r.se, 3) == 39.598
    assert round(r.z, 2) == -2.98
    assert (round(r.ci_low), round(r.ci_high)) == (-196, -40)
    # local and displacement components
    assert r.est_local == -107 and r.se_local == pytest.approx(math.sqrt(943))
    assert r.est_displace == -11 and r.se_displace == 25
    assert r.p_value == pytest.approx(2 * stats.norm.sf(118 / math.sqrt(1568)))
    assert r.significant and not r.displace_significant


def test_wdd_without_displacement_is_dt_minus_dc():
    r = wdd((20, 20), (20, 10))
    assert r.wdd == -10 and r.est_displace == 0 and r.variance == 70
    assert not r.has_displacement


def test_wdd_alpha_sets_interval():
    r = wdd(**PTOOLS_EXAMPLE, alpha=0.10)
    assert r.ci_high - r.wdd == pytest.approx(stats.norm.ppf(0.95) * math.sqrt(1568))


def test_wdd_time_weights_hand_example():
    # pre two years, post one year: per-year counts treated 80/2 -> 20, control 100/2 -> 50
    # WDD = (20 - 40) - (50 - 50) = -20; Var = 20 + 80/2^2 + 50 + 100/2^2 = 115 (ptools' test vector)
    r = wdd((100, 50), (80, 20), time_weights=(2, 1))
    assert r.wdd == -20
    assert r.variance == 115
    assert r.se == pytest.approx(math.sqrt(115))


def test_wdd_area_weights_hand_example():
    # control twice the target's area: its counts are halved -> dC = 20 - 20 = 0, dT = 20 - 30 = -10
    # Var = 20 + 30 + 40/2^2 + 40/2^2 = 70
    r = wdd((40, 40), (30, 20), area_weights=(2, 1))
    assert r.wdd == -10 and r.variance == 70
    assert r.weighted


def test_wdd_area_weights_ptools_vector():
    r = wdd(**PTOOLS_EXAMPLE, area_weights=(0.9, 1.2, 1.6, 1.5))
    assert r.wdd == pytest.approx(-99.69444444)
    assert r.se == pytest.approx(35.4280755)
    assert r.z == pytest.approx(-2.813995483)
    assert r.ci_low == pytest.approx(-169.1321965)
    assert r.ci_high == pytest.approx(-30.25669241)


def test_wdd_time_and_area_weights_combine():
    # weight of each count = time weight * area weight
    r = wdd((40, 40), (30, 20), time_weights=(2, 1), area_weights=(2, 1))
    d_t, d_c = 20 - 30 / 2, 40 / 2 - 40 / 4
    var = 20 + 30 / 4 + 40 / 4 + 40 / 16
    assert r.wdd == pytest.approx(d_t - d_c)
    assert r.variance == pytest.approx(var)


def test_wdd_all_zero_and_bad_input():
    r = wdd((0, 0), (0, 0))
    assert (r.wdd, r.z, r.p_value) == (0, 0, 1)
    with pytest.raises(ValueError):
        wdd((10, 10), (10, 5), disp_control=(5, 5))
    with pytest.raises(ValueError):
        wdd((10, -1), (10, 5))
    with pytest.raises(ValueError):
        wdd((10, 10), (10, 5), time_weights=(0, 1))
    with pytest.raises(ValueError):
        wdd(**PTOOLS_EXAMPLE, area_weights=(1, 2))


# --- WDQ ----------------------------------------------------------------------------------------------------


def test_wdq_hand_example_diffusion():
    # A (100 -> 60), B (50 -> 40), C (200 -> 200)
    # success = 60/200 - 100/200 = -0.2; buffer = 40/200 - 50/200 = -0.05; WDQ = -0.05 / -0.2 = 0.25
    r = wdq((100, 60), (50, 40), (200, 200))
    assert r.success_measure == pytest.approx(-0.2)
    assert r.buffer_displacement_measure == pytest.approx(-0.05)
    assert r.wdq == pytest.approx(0.25)
    assert r.interpretation == "diffusion of benefits, smaller than the direct effect"


def test_wdq_hand_example_displacement_with_buffer_control():
    # C (100 -> 80) for the target, E (50 -> 40) for the buffer
    # success = 30/80 - 50/100 = -0.125; buffer = 30/40 - 20/50 = 0.35; WDQ = 0.35 / -0.125 = -2.8
    r = wdq((50, 30), (20, 30), (100, 80), control_buffer=(50, 40))
    assert r.success_measure == pytest.approx(-0.125)
    assert r.buffer_displacement_measure == pytest.approx(0.35)
    assert r.wdq == pytest.approx(-2.8)
    assert r.interpretation.startswith("displacement larger than the direct effect")


def test_wdq_edge_cases():
    r = wdq((50, 50), (20, 30), (100, 100))
    assert math.isnan(r.wdq) and "not interpretable" in r.interpretation
    assert wdq((100, 60), (50, 55), (200, 200)).wdq == pytest.approx(-0.125)
    with pytest.raises(ValueError):
        wdq((10, 5), (10, 10), (0, 10))


# --- Poisson z ----------------------------------------------------------------------------------------------


def test_poisson_z_literals():
    assert poisson_z(100, 64) == -4.0
    assert poisson_z(9, 16) == 2.0
    assert poisson_z(25, 25) == 0.0
    assert poisson_z(0, 4) == 4.0
    np.testing.assert_allclose(poisson_z([100, 9], [64, 16]), [-4.0, 2.0])
    with pytest.raises(ValueError):
        poisson_z(-1, 3)


# --- E-test -------------------------------------------------------------------------------------------------


def _e_test_brute(k1, k2, n1=1.0, n2=1.0, d=0.0, alternative="two-sided", top=80):
    """Independent slow version: plain double loop over 0..top with scipy pmfs."""
    lam2 = (k1 + k2) / (n1 + n2) - d * n1 / (n1 + n2)
    lam1 = lam2 + d

    def t(x1, x2):
        v = x1 / n1**2 + x2 / n2**2
        return 0.0 if v == 0 else (x1 / n1 - x2 / n2 - d) / math.sqrt(v)

    t0 = t(k1, k2)
    p = 0.0
    for i in range(top + 1):
        for j in range(top + 1):
            ti = t(i, j)
            if alternative == "two-sided":
                hit = abs(ti) >= abs(t0) - 1e-12
            elif alternative == "greater":
                hit = ti >= t0 - 1e-12
            else:
                hit = ti <= t0 + 1e-12
            if hit:
                p += stats.poisson.pmf(i, n1 * lam1) * stats.poisson.pmf(j, n2 * lam2)
    return p


def test_e_test_krishnamoorthy_thomson_vectors():
    assert round(e_test(6, 2).p_value, 4) == 0.1749
    assert round(e_test(0, 3).p_value, 4) == 0.0884
    assert float(e_test(6, 2)) == e_test(6, 2).p_value


def test_e_test_symmetry_and_exposure_scaling():
    assert e_test(6, 2).p_value == pytest.approx(e_test(2, 6).p_value, abs=1e-12)
    assert e_test(3, 0).p_value == pytest.approx(e_test(3, 0, 2, 2).p_value, abs=1e-12)
    assert e_test(0, 0).p_value == pytest.approx(1.0)
    assert e_test(4, 4).p_value == pytest.approx(1.0)


def test_e_test_one_sided_drop_smaller_than_two_sided():
    two = e_test(6, 2).p_value
    drop = e_test(6, 2, alternative="greater").p_value  # pre = 6, post = 2: did it drop?
    assert drop < two
    assert drop == pytest.approx(e_test(2, 6, alternative="less").p_value, abs=1e-12)
    assert drop == pytest.approx(0.0874, abs=5e-5)
    # the wrong direction is not evidence of a drop
    assert e_test(2, 6, alternative="greater").p_value > 0.5


@pytest.mark.parametrize(
    "args",
    [
        dict(k1=6, k2=2),
        dict(k1=0, k2=3),
        dict(k1=7, k2=3, n1=2.0, n2=1.0),
        dict(k1=12, k2=4, n1=1.5, n2=1.0, d=1.0),
        dict(k1=12, k2=4, n1=1.0, n2=2.0, alternative="greater"),
        dict(k1=3, k2=9, n1=1.0, n2=1.5, alternative="less"),
    ],
)
def test_e_test_matches_brute_force(args):
    assert e_test(**args).p_value == pytest.approx(_e_test_brute(**args), abs=1e-9)


def test_e_test_large_counts_close_to_normal():
    p = e_test(1000, 900).p_value
    assert p == pytest.approx(2 * stats.norm.sf(100 / math.sqrt(1900)), abs=2e-3)
    assert 0 <= e_test(4000, 4000).p_value <= 1


def test_e_test_bad_input():
    with pytest.raises(ValueError):
        e_test(2.5, 3)
    with pytest.raises(ValueError):
        e_test(3, 3, n1=0)
    with pytest.raises(ValueError):
        e_test(3, 3, alternative="two.sided")


# --- plain language -----------------------------------------------------------------------------------------


def test_plain_language_ptools_example():
    assert plain_language(wdd(**PTOOLS_EXAMPLE)) == (
        "Calls in the target fell from 207 to 110; net of the control's change and including the buffer, "
        "the estimated reduction is 118 (WDD, z = -2.98); the buffer shows no significant displacement "
        "(z = -0.44)."
    )


def test_plain_language_raw_drop_but_displacement():
    # target halves, but the buffer rises by 60 against a flat control: WDD = -50 + 60 = +10,
    # Var = 810 -> z = 10 / 28.46 = 0.35; buffer 60 / sqrt(460) = 2.80
    r = wdd((100, 100), (100, 50), (100, 100), (100, 160))
    assert plain_language(r, noun="burglaries") == (
        "Burglaries in the target fell from 100 to 50; net of the control's change and including the "
        "buffer, the estimated increase is 10 (WDD, z = 0.35, not significant at alpha = 0.05); "
        "the buffer shows possible displacement (z = 2.80)."
    )


def test_plain_language_no_buffer_and_diffusion():
    s = plain_language(wdd((20, 20), (20, 10)))
    assert s == (
        "Calls in the target fell from 20 to 10; net of the control's change, the estimated reduction is 10 "
        "(WDD, z = -1.20, not significant at alpha = 0.05); no buffer was given, so displacement was not "
        "assessed."
    )
    s = plain_language(wdd((100, 100), (100, 50), (100, 100), (100, 40)))
    assert s.endswith("the buffer shows possible diffusion of benefits (z = -3.25).")
