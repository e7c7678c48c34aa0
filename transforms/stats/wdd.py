"""Assessment of place-based interventions: WDD, WDQ, Poisson z and the Poisson E-test.

Everything here works on a handful of counts (pre/post, target/control/buffer) and is pure Python
(numpy + scipy). Public API: `wdd`, `wdq`, `poisson_z`, `e_test`, `plain_language` and their result
types `WDDResult`, `WDQResult`, `ETestResult`.

Sources:
- Wheeler & Ratcliffe (2018), "A simple weighted displacement difference test to evaluate place based
  crime interventions", Crime Science 7:11 -- the WDD statistic and its Poisson variance. Weighting for
  pre/post periods of different lengths and for areas of different sizes follows the rule documented for
  `wdd()` in Wheeler's R package ptools (counts divided by their weights, variances by the squared
  weights); its worked examples are reproduced in tests/reference/test_assessment.py.
- Bowers & Johnson (2003), "Measuring the geographical displacement and diffusion of benefit effects of
  crime prevention activity", Journal of Quantitative Criminology 19(3) -- the weighted displacement
  quotient (WDQ), its success measure and buffer displacement measure.
- Krishnamoorthy & Thomson (2004), "A more powerful test for comparing two Poisson means", Journal of
  Statistical Planning and Inference 119 -- the E-test.
- The Poisson z-score 2(sqrt(post) - sqrt(pre)) that Wheeler uses (ptools, and his writing on
  pre/post crime counts) to flag changes in small counts: the square-root transform stabilises the
  Poisson variance at 1/4, so the difference of two independent transformed counts has variance ~1.

Sign convention throughout: change = post - pre, so a negative WDD (or success measure) is a
reduction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "ETestResult",
    "WDDResult",
    "WDQResult",
    "e_test",
    "plain_language",
    "poisson_z",
    "wdd",
    "wdq",
]

Pair = tuple[float, float]


def _pair(x, name: str) -> Pair:
    """Validate a (pre, post) pair of non-negative, finite counts."""
    vals = tuple(float(v) for v in x)
    if len(vals) != 2:
        raise ValueError(f"{name} must be a (pre, post) pair, got {x!r}")
    if not all(math.isfinite(v) and v >= 0 for v in vals):
        raise ValueError(f"{name} counts must be finite and non-negative, got {x!r}")
    return vals  # type: ignore[return-value]


def _positive(vals: Sequence[float], name: str) -> tuple[float, ...]:
    out = tuple(float(v) for v in vals)
    if not all(math.isfinite(v) and v > 0 for v in out):
        raise ValueError(f"{name} must be finite and positive, got {vals!r}")
    return out


def _z_crit(alpha: float) -> float:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return float(stats.norm.ppf(1 - alpha / 2))


# ---------------------------------------------------------------------------------------------------------
# WDD
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WDDResult:
    """Weighted displacement difference (Wheeler & Ratcliffe 2018).

    Inputs are kept as given (raw counts); `delta_*` are the weighted post - pre changes.
    `est_local` = dT - dC (target net of control), `est_displace` = dD - dCD (buffer net of its control,
    0 without displacement areas), `wdd` = their sum; each has its own Poisson standard error.
    `z`, `p_value` (two-sided) and `ci_low`/`ci_high` (level 1 - alpha) refer to `wdd`;
    `z_displace`/`p_displace` are the buffer's own test.
    """

    control: Pair
    treated: Pair
    disp_control: Pair | None
    disp_treated: Pair | None
    time_weights: Pair
    area_weights: tuple[float, float, float, float]
    alpha: float
    delta_treated: float
    delta_control: float
    delta_disp_treated: float
    delta_disp_control: float
    est_local: float
    se_local: float
    est_displace: float
    se_displace: float
    wdd: float
    variance: float
    se: float
    z: float
    p_value: float
    ci_low: float
    ci_high: float
    z_displace: float
    p_displace: float

    @property
    def has_displacement(self) -> bool:
        return self.disp_treated is not None

    @property
    def weighted(self) -> bool:
        return any(w != 1.0 for w in self.time_weights + self.area_weights)

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha

    @property
    def displace_significant(self) -> bool:
        return self.has_displacement and self.p_displace < self.alpha


def _z_p(est: float, var: float) -> tuple[float, float]:
    """z and two-sided normal p; with zero variance (all counts 0, so est = 0) z = 0 and p = 1."""
    if var <= 0:
        return 0.0, 1.0
    z = est / math.sqrt(var)
    return z, float(2 * stats.norm.sf(abs(z)))


def _weighted_delta(counts: Pair, tw: Pair, aw: float) -> tuple[float, float]:
    """(post/w_post - pre/w_pre, Poisson variance post/w_post^2 + pre/w_pre^2), w = time * area weight."""
    w_pre, w_post = tw[0] * aw, tw[1] * aw
    delta = counts[1] / w_post - counts[0] / w_pre
    var = counts[1] / w_post**2 + counts[0] / w_pre**2
    return delta, var


def wdd(
    control,
    treated,
    disp_control=None,
    disp_treated=None,
    *,
    time_weights=(1, 1),
    area_weights=None,
    alpha: float = 0.05,
) -> WDDResult:
    """Weighted Displacement Difference test (Wheeler & Ratcliffe 2018, Crime Science 7:11).

    Each area is a (pre, post) pair of counts: `control` (C), `treated` (T), and optionally the
    displacement buffer around the target `disp_treated` (D) and its control `disp_control` (CD)
    -- give both or neither. With d = post - pre:

        WDD = dT - dC + dD - dCD          (without displacement areas: WDD = dT - dC)
        Var = sum of all the counts involved (each count treated as Poisson, variance = count)
        SE = sqrt(Var),  z = WDD / SE,  CI = WDD -/+ z_{1-alpha/2} SE,  p = 2 (1 - Phi(|z|))

    Weights (the rule of `wdd()` in Wheeler's R package ptools): every count is divided by
    time_weight(period) * area_weight(area) before differencing, and its variance by the square of
    that product, so the WDD becomes a change in counts per unit time and/or per unit area.

    * ``time_weights=(w_pre, w_post)``: period lengths, e.g. (2, 1) for two years before and one after;
      the WDD is then per year (post-period units when w_post = 1).
    * ``area_weights=(control, treated, disp_control, disp_treated)`` (ptools' order; a pair
      (control, treated) is accepted when there are no displacement areas): area sizes. Passing sizes
      relative to the treated area (treated = 1) scales every area to the treated area, so the WDD stays
      in target-area counts; e.g. a control twice the target's size gets weight 2 (its counts halved).

    Unlike ptools (default alpha 0.1) the default here is alpha = 0.05 (95 % interval).
    """
    c, t = _pair(control, "control"), _pair(treated, "treated")
    if (disp_control is None) != (disp_treated is None):
        raise ValueError("give both disp_control and disp_treated, or neither")
    has_disp = disp_treated is not None
    dc = _pair(disp_control, "disp_control") if has_disp else None
    dt = _pair(disp_treated, "disp_treated") if has_disp else None

    tw = _positive(time_weights, "time_weights")
    if len(tw) != 2:
        raise ValueError("time_weights must be a (pre, post) pair")
    if area_weights is None:
        aw = (1.0, 1.0, 1.0, 1.0)
    else:
        aw = _positive(area_weights, "area_weights")
        if len(aw) == 2 and not has_disp:
            aw = (aw[0], aw[1], 1.0, 1.0)
        elif len(aw) != 4:
            raise ValueError("area_weights must be (control, treated, disp_control, disp_treated)")
    z_crit = _z_crit(alpha)

    d_t, v_t = _weighted_delta(t, tw, aw[1])
    d_c, v_c = _weighted_delta(c, tw, aw[0])
    if has_disp:
        d_dc, v_dc = _weighted_delta(dc, tw, aw[2])
        d_dt, v_dt = _weighted_delta(dt, tw, aw[3])
    else:
        d_dc = v_dc = d_dt = v_dt = 0.0

    est_local, var_local = d_t - d_c, v_t + v_c
    est_disp, var_disp = d_dt - d_dc, v_dt + v_dc
    est, var = est_local + est_disp, var_local + var_disp
    se = math.sqrt(var)
    z, p = _z_p(est, var)
    z_d, p_d = _z_p(est_disp, var_disp) if has_disp else (0.0, 1.0)
    return WDDResult(
        control=c,
        treated=t,
        disp_control=dc,
        disp_treated=dt,
        time_weights=(tw[0], tw[1]),
        area_weights=(aw[0], aw[1], aw[2], aw[3]),
        alpha=float(alpha),
        delta_treated=d_t,
        delta_control=d_c,
        delta_disp_treated=d_dt,
        delta_disp_control=d_dc,
        est_local=est_local,
        se_local=math.sqrt(var_local),
        est_displace=est_disp,
        se_displace=math.sqrt(var_disp),
        wdd=est,
        variance=var,
        se=se,
        z=z,
        p_value=p,
        ci_low=est - z_crit * se,
        ci_high=est + z_crit * se,
        z_displace=z_d,
        p_displace=p_d,
    )


# ---------------------------------------------------------------------------------------------------------
# WDQ
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WDQResult:
    """Weighted displacement quotient (Bowers & Johnson 2003); see `wdq`."""

    treated: Pair
    buffer: Pair
    control: Pair
    control_buffer: Pair
    success_measure: float
    buffer_displacement_measure: float
    wdq: float
    interpretation: str


def _wdq_reading(success: float, wdq_value: float) -> str:
    if not success < 0:
        return (
            "the target did not improve relative to its control (success measure >= 0), "
            "so the WDQ is not interpretable"
        )
    tol = 1e-12
    if abs(wdq_value) <= tol:
        return "no displacement and no diffusion of benefits"
    if abs(wdq_value - 1) <= tol:
        return "diffusion of benefits as large as the direct effect"
    if wdq_value > 1:
        return "diffusion of benefits larger than the direct effect"
    if wdq_value > 0:
        return "diffusion of benefits, smaller than the direct effect"
    if abs(wdq_value + 1) <= tol:
        return "displacement cancelling the direct effect (no net benefit)"
    if wdq_value > -1:
        return "displacement, smaller than the direct effect (net benefit)"
    return "displacement larger than the direct effect (the intervention was counterproductive)"


def wdq(treated, buffer, control, control_buffer=None) -> WDQResult:
    """Weighted displacement quotient of Bowers & Johnson (2003), J. Quantitative Criminology 19(3).

    Each area is a (pre, post) pair: A = `treated` (target), B = `buffer` (displacement buffer),
    C = `control` (control for the target), E = `control_buffer` (control for the buffer; defaults to
    C, the usual single-control design):

        success measure             S = A_post/C_post - A_pre/C_pre      (< 0: target improved)
        buffer displacement measure M = B_post/E_post - B_pre/E_pre      (> 0: displacement,
                                                                          < 0: diffusion of benefits)
        WDQ = M / S

    Reading (Bowers & Johnson), meaningful only when S < 0: WDQ > 0 diffusion of benefits (> 1 larger
    than the direct effect), WDQ = 0 neither, WDQ < 0 displacement (between -1 and 0 smaller than the
    direct effect so a net benefit remains; below -1 larger, i.e. counterproductive). `wdq` is NaN when
    S = 0. Control counts must be positive.
    """
    a, b, c = _pair(treated, "treated"), _pair(buffer, "buffer"), _pair(control, "control")
    e = c if control_buffer is None else _pair(control_buffer, "control_buffer")
    if min(c) <= 0 or min(e) <= 0:
        raise ValueError("control counts must be positive (they are divisors)")
    success = a[1] / c[1] - a[0] / c[0]
    buffer_measure = b[1] / e[1] - b[0] / e[0]
    q = buffer_measure / success if success != 0 else math.nan
    return WDQResult(
        treated=a,
        buffer=b,
        control=c,
        control_buffer=e,
        success_measure=success,
        buffer_displacement_measure=buffer_measure,
        wdq=q,
        interpretation=_wdq_reading(success, q),
    )


# ---------------------------------------------------------------------------------------------------------
# Poisson z
# ---------------------------------------------------------------------------------------------------------


def poisson_z(pre, post):
    """Poisson z-score 2 (sqrt(post) - sqrt(pre)) for a change in counts.

    sqrt of a Poisson count has variance ~1/4, so under no change the score is approximately standard
    normal (|z| > 2 or 3 flags a notable change); Wheeler uses it in ptools-era work on pre/post crime
    counts. Scalars give a float, array-likes an ndarray.
    """
    a, b = np.asarray(pre, dtype=np.float64), np.asarray(post, dtype=np.float64)
    if np.any(a < 0) or np.any(b < 0) or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("counts must be finite and non-negative")
    z = 2.0 * (np.sqrt(b) - np.sqrt(a))
    return float(z) if z.ndim == 0 else z


# ---------------------------------------------------------------------------------------------------------
# E-test
# ---------------------------------------------------------------------------------------------------------

_ALTERNATIVES = ("two-sided", "greater", "less")
_TAIL = 1e-13  # mass left out in each tail of each Poisson
_BLOCK = 1 << 22  # cells per vectorized block


@dataclass(frozen=True)
class ETestResult:
    """Krishnamoorthy & Thomson (2004) E-test; see `e_test`. ``float(result)`` is the p-value."""

    p_value: float
    statistic: float
    rate1: float
    rate2: float
    lambda1_null: float
    lambda2_null: float
    d: float
    alternative: str

    def __float__(self) -> float:
        return self.p_value


def _support(mu: float) -> np.ndarray:
    """Integers holding all but ~2 * _TAIL of a Poisson(mu)'s mass."""
    if mu <= 0:
        return np.zeros(1)
    lo = int(stats.poisson.ppf(_TAIL, mu))
    hi = int(stats.poisson.isf(_TAIL, mu)) + 1
    return np.arange(max(lo, 0), hi + 1, dtype=np.float64)


def _t_stat(x1, x2, n1: float, n2: float, d: float):
    """T = (x1/n1 - x2/n2 - d) / sqrt(x1/n1^2 + x2/n2^2), defined as 0 where x1 = x2 = 0."""
    var = x1 / n1**2 + x2 / n2**2
    num = x1 / n1 - x2 / n2 - d
    safe = np.where(var > 0, var, 1.0)
    return np.where(var > 0, num / np.sqrt(safe), 0.0)


def e_test(k1, k2, n1=1.0, n2=1.0, d=0.0, alternative: str = "two-sided") -> ETestResult:
    """E-test for two Poisson rates (Krishnamoorthy & Thomson 2004, J. Stat. Plann. Inference 119).

    k1 events over exposure n1 (rate lambda1), k2 over n2 (lambda2). H0: lambda1 - lambda2 = d (in
    the paper's one-sided form, lambda1 - lambda2 <= d). The statistic is

        T(X1, X2) = (X1/n1 - X2/n2 - d) / sqrt(X1/n1^2 + X2/n2^2)

    and the p-value is its exact distribution under the null rates estimated from the data,

        lambda2_hat = (k1 + k2)/(n1 + n2) - d n1/(n1 + n2),   lambda1_hat = lambda2_hat + d,
        p = sum_i sum_j Pois(i; n1 lambda1_hat) Pois(j; n2 lambda2_hat) I(T(i, j) >= T(k1, k2))

    for alternative="greater" (lambda1 - lambda2 > d); "less" uses T(i, j) <= T(k1, k2); "two-sided"
    uses |T(i, j)| >= |T(k1, k2)|. The double sum runs over each Poisson's central range leaving out
    ~1e-13 of mass per tail, vectorized in blocks.

    "Did it drop?": e_test(pre, post, alternative="greater"), or with the post count first,
    alternative="less" (exposures n = period lengths when they differ).

    Conventions outside the paper: T(0, 0) = 0 (no information), so k1 = k2 = 0 gives p = 1 for the
    two-sided test; a negative null-rate estimate (possible when d != 0) is clamped at 0. (ptools'
    `e_test` uses a pooled denominator instead; it gives the same p-values when n1 = n2 and d = 0.)
    """
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}")
    ks = (float(k1), float(k2))
    if not all(math.isfinite(k) and k >= 0 and k == round(k) for k in ks):
        raise ValueError(f"k1 and k2 must be non-negative integers, got {k1!r}, {k2!r}")
    n1f, n2f = _positive((n1, n2), "exposures n1, n2")
    d = float(d)
    if not math.isfinite(d):
        raise ValueError("d must be finite")

    lam2 = max(0.0, (ks[0] + ks[1]) / (n1f + n2f) - d * n1f / (n1f + n2f))
    lam1 = max(0.0, lam2 + d)
    t_obs = float(_t_stat(np.float64(ks[0]), np.float64(ks[1]), n1f, n2f, d))
    tol = 1e-10 * max(1.0, abs(t_obs))  # ties must count as "at least as extreme"

    x1, x2 = _support(n1f * lam1), _support(n2f * lam2)
    p1 = stats.poisson.pmf(x1, n1f * lam1) if lam1 > 0 else np.ones(1)
    p2 = stats.poisson.pmf(x2, n2f * lam2) if lam2 > 0 else np.ones(1)
    rows = max(1, _BLOCK // x2.size)
    total = 0.0
    for start in range(0, x1.size, rows):
        t = _t_stat(x1[start : start + rows, None], x2[None, :], n1f, n2f, d)
        if alternative == "two-sided":
            hit = np.abs(t) >= abs(t_obs) - tol
        elif alternative == "greater":
            hit = t >= t_obs - tol
        else:
            hit = t <= t_obs + tol
        total += float(p1[start : start + rows] @ (hit @ p2))
    return ETestResult(
        p_value=min(1.0, max(0.0, total)),
        statistic=t_obs,
        rate1=ks[0] / n1f,
        rate2=ks[1] / n2f,
        lambda1_null=lam1,
        lambda2_null=lam2,
        d=d,
        alternative=alternative,
    )


# ---------------------------------------------------------------------------------------------------------
# Plain language
# ---------------------------------------------------------------------------------------------------------


def _num(x: float) -> str:
    """Whole numbers without decimals, others to one decimal."""
    r = round(x)
    return str(int(r)) if abs(x - r) < 1e-9 else f"{x:.1f}"


def _z2(z: float) -> str:
    return f"{round(z, 2) + 0.0:.2f}"  # + 0.0 turns -0.0 into 0.0


def plain_language(assessment: WDDResult, *, noun: str = "calls") -> str:
    """One-sentence reading of a `wdd` result that keeps the raw change apart from the net change.

    Three clauses: the raw change in the target ("fell from 207 to 110"); the WDD net of the
    control (and including the buffer when one was given), with its z and a "not significant" flag at
    the result's alpha; and the buffer's own test, dD - dCD against its Poisson SE: a significant
    increase reads "possible displacement", a significant decrease "possible diffusion of benefits",
    otherwise "no significant displacement". E.g. for Wheeler & Ratcliffe's example:

        Calls in the target fell from 207 to 110; net of the control's change and including the buffer,
        the estimated reduction is 118 (WDD, z = -2.98); the buffer shows no significant displacement
        (z = -0.44).
    """
    r = assessment
    pre, post = r.treated
    head = noun[:1].upper() + noun[1:]
    if post < pre:
        raw = f"{head} in the target fell from {_num(pre)} to {_num(post)}"
    elif post > pre:
        raw = f"{head} in the target rose from {_num(pre)} to {_num(post)}"
    else:
        raw = f"{head} in the target stayed at {_num(pre)}"

    scope = "net of the control's change" + (" and including the buffer" if r.has_displacement else "")
    label = "weighted WDD" if r.weighted else "WDD"
    flag = "" if r.significant else f", not significant at alpha = {r.alpha:g}"
    stat = f"({label}, z = {_z2(r.z)}{flag})"
    if r.wdd < 0:
        net = f"{scope}, the estimated reduction is {_num(-r.wdd)} {stat}"
    elif r.wdd > 0:
        net = f"{scope}, the estimated increase is {_num(r.wdd)} {stat}"
    else:
        net = f"{scope}, the estimated net change is 0 {stat}"

    if not r.has_displacement:
        disp = "no buffer was given, so displacement was not assessed"
    elif r.displace_significant and r.est_displace > 0:
        disp = f"the buffer shows possible displacement (z = {_z2(r.z_displace)})"
    elif r.displace_significant and r.est_displace < 0:
        disp = f"the buffer shows possible diffusion of benefits (z = {_z2(r.z_displace)})"
    else:
        disp = f"the buffer shows no significant displacement (z = {_z2(r.z_displace)})"
    return f"{raw}; {net}; {disp}."
