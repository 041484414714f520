"""The ray integrator (DOP853 with its dense output) against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from test_public_kernels import _rays_from_the_data

import charme
import charme.kernels as K

RTOL, ATOL = 1e-13, 1e-15


def _rays(text):
    """The compiled problem, its 1-D data's parameters and the initial ray states."""
    c, S, y0 = _rays_from_the_data(charme.loads(text))
    return c, S[:, 0], y0


def _growing():
    """u_t + u_x = u from (0, s, sin s): t = tau, x = s + tau, u = sin(s) e^tau; the
    state is (t, x, u, t_s, x_s, u_s) with u_s = cos(s) e^tau."""
    return _rays("kind: pde\nvariables: [t, x]\nequation: u_t + u_x = u\n"
                 "initial: {parameters: {s: [0.5, 1.5, 3]}, t: 0, x: s, u: sin(s)}\n"
                 "grid: {t: [0, 1, 2], x: [0, 1, 2]}\n")  # fmt: skip


def _growing_exact(s, tau):
    e = np.exp(tau)
    return np.array([tau, s + tau, np.sin(s) * e, 0.0, 1.0, np.cos(s) * e])


def _oscillator():
    """u_t + (u_x^2 + x^2)/2 = 0 from (0, s, 0): the strip is a harmonic oscillator,
    x = s cos tau, p = u_x = -s sin tau (state (t, x, u, u_t, u_x) and its s-derivative)."""
    return _rays("kind: pde\nvariables: [t, x]\nequation: u_t + (u_x^2 + x^2)/2 = 0\n"
                 "initial: {parameters: {s: [0.5, 1.5, 3]}, t: 0, x: s, u: 0}\n"
                 "grid: {t: [0, 1, 2], x: [0, 1, 2]}\n")  # fmt: skip


@pytest.mark.parametrize("span", [20.0, -20.0])
def test_integrate_follows_exponential_growth_to_rounding(span):
    """u grows like e^tau (by e^20 ~ 5e8, backwards it decays as much): at rtol 1e-13
    the end state is right to about 1e-12 relative, either direction, one call or many."""
    c, s, y0 = _growing()
    for r in range(len(s)):
        exact = _growing_exact(s[r], span)
        y = y0[r].copy()
        st, h, tau = K.integrate(c.code, c.consts, c.prog, c.nz, y, 0.0, span, RTOL, ATOL, 0.0)
        assert st == K.RAY_OK and tau == span and h > 0
        np.testing.assert_allclose(y, exact, rtol=2e-12, atol=1e-14)
        z = y0[r].copy()
        h = 0.0
        for t0, t1 in zip(np.linspace(0, span, 41)[:-1], np.linspace(0, span, 41)[1:]):
            st, h, _ = K.integrate(c.code, c.consts, c.prog, c.nz, z, t0, t1, RTOL, ATOL, h)
            assert st == K.RAY_OK
        np.testing.assert_allclose(z, exact, rtol=2e-12, atol=1e-14)


def test_integrate_follows_a_harmonic_oscillator_for_many_periods():
    c, s, y0 = _oscillator()
    end = 40.0  # six periods and more
    for r in range(len(s)):
        y = y0[r].copy()
        st, _, _ = K.integrate(c.code, c.consts, c.prog, c.nz, y, 0.0, end, RTOL, ATOL, 0.0)
        assert st == K.RAY_OK
        # x, u_x and their s-derivatives: x_s = cos tau, (u_x)_s = -sin tau
        got = y[[1, 4, c.nz + 1, c.nz + 4]]
        want = [s[r] * np.cos(end), -s[r] * np.sin(end), np.cos(end), -np.sin(end)]
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-12)


@pytest.mark.parametrize("reverse", [False, True])
def test_dense_output_samples_are_accurate(reverse):
    """trace_sampled lands only on the first and last time; the 199 times between are
    dense-output samples, right to 1e-11 relative on the growing ray (and on the
    oscillator to 1e-11 absolute)."""
    taus = np.linspace(0.0, 20.0, 201) * (-1 if reverse else 1)
    exact = np.zeros(len(taus), np.bool_)
    exact[0] = True
    for rays, check in ((_growing, "growing"), (_oscillator, "oscillator")):
        c, s, y0 = rays()
        out = np.empty((len(s), len(taus), c.d))
        status, reached, h_last = np.empty(len(s), np.int64), np.empty(len(s)), np.empty(len(s))
        K.trace_sampled(c.code, c.consts, c.prog, c.nz, y0, taus, exact, RTOL, ATOL, out,
                        status, reached, h_last)  # fmt: skip
        assert (status == K.RAY_OK).all() and (reached == taus[-1]).all()
        for r in range(len(s)):
            if check == "growing":
                want = np.array([_growing_exact(s[r], t) for t in taus])
                np.testing.assert_allclose(out[r], want, rtol=1e-11, atol=1e-14)
            else:
                want = np.stack([s[r] * np.cos(taus), -s[r] * np.sin(taus)], axis=1)
                np.testing.assert_allclose(out[r][:, [1, 4]], want, rtol=0, atol=1e-11)


@pytest.mark.parametrize("equation,variables,straight", [
    ("u_t + u*u_x = 0", "[t, x]", True),  # g = (1, u, 0): u is constant along the rays
    ("u_t + u_x^2/2 = 0", "[t, x]", True),  # g a function of p, whose own g is 0
    ("u_t + abs(u_x) = 0", "[t, x]", True),
    ("u_x^2 + u_y^2 = 1", "[x, y]", True),
    ("u_t + 2*u_x - 3*u_y = 0", "[t, x, y]", True),
    ("u_t + u_x = u", "[t, x]", False),  # u grows along the rays
    ("u_t + (u_x^2 + x^2)/2 = 0", "[t, x]", False),  # p turns
    ("y*u_x - x*u_y = 0", "[x, y]", False),  # the rays are circles
    ("u_x*u_y = u", "[x, y]", False),
])  # fmt: skip
def test_straight_rays_are_recognised(equation, variables, straight):
    names = variables.strip("[]").split(", ")
    data = f"u({', '.join(names[1:])}, {names[0]}=0) = 1 + {names[1]}^2"
    p = charme.loads(f'kind: pde\nvariables: {variables}\nequation: "{equation}"\n'
                     f'initial: "{data}"\ngrid: {{'
                     + ", ".join(f"{v}: [0.5, 1, 3]" for v in names) + "}\n")  # fmt: skip
    assert K.compile_pde(p).straight is straight


@pytest.mark.parametrize("text", [
    "kind: pde\nvariables: [t, x]\nequation: u_t + u*u_x = 0\n"
    "initial: {parameters: {s: [-2, 2, 5]}, t: 0, x: s, u: sin(s)}\n"
    "grid: {t: [0, 1, 2], x: [0, 1, 2]}\n",
    "kind: pde\nvariables: [x, y]\nequation: u_x^2 + u_y^2 = 1\n"
    "initial: {parameters: {s: [0, 6, 5]}, x: cos(s), y: 0.5*sin(s), u: 0, branch: 1}\n"
    "grid: {x: [0, 1, 2], y: [0, 1, 2]}\n",
])  # fmt: skip
def test_straight_rays_in_closed_form_agree_with_the_integrator(text):
    """With ``straight`` a ray is y0 + tau f(y0), from one evaluation of f: the same
    states (variations included) and dense samples as DOP853's, to rounding."""
    import charme.solvers.characteristics.kernels as CK

    c, _, y0 = _rays(text)
    assert c.straight
    samples = np.array([0.3, 1.1, 2.2])
    for r in range(len(y0)):
        got = []
        for straight in (False, True):
            y = y0[r].copy()
            work, v, stack, coef = CK.workspace(c.prog, c.nz, c.d)
            dout = np.empty((len(samples), c.d))
            st, _, tau = CK.integrate_dense(c.code, c.consts, c.prog, c.nz, y, 0.0, 2.5, RTOL,
                                            ATOL, 0.0, work, v, stack, coef, samples, dout,
                                            straight)  # fmt: skip
            assert st == K.RAY_OK and tau == 2.5
            got.append((y, dout))
        np.testing.assert_allclose(got[1][0], got[0][0], rtol=0, atol=1e-14)
        np.testing.assert_allclose(got[1][1], got[0][1], rtol=0, atol=1e-14)
        f = np.empty(c.d)
        CK.rhs(c.code, c.consts, c.prog, c.nz, y0[r], f, *CK.workspace(c.prog, c.nz, c.d)[1:])
        np.testing.assert_array_equal(got[1][0], y0[r] + 2.5 * f)


def test_a_straight_ray_whose_speed_is_not_finite_fails_as_a_blow_up():
    import charme.solvers.characteristics.kernels as CK

    c, _, y0 = _rays("kind: pde\nvariables: [t, x]\nequation: u_t + u*u_x = 0\n"
                     "initial: {parameters: {s: [0, 1, 3]}, t: 0, x: s, u: s}\n"
                     "grid: {t: [0, 1, 2], x: [0, 1, 2]}\n")  # fmt: skip
    y = y0[1].copy()
    y[2] = np.inf  # u: the speed
    work, v, stack, coef = CK.workspace(c.prog, c.nz, c.d)
    dout = np.zeros((2, c.d))
    st, _, tau = CK.integrate_dense(c.code, c.consts, c.prog, c.nz, y, 0.0, 1.0, RTOL, ATOL,
                                    0.0, work, v, stack, coef, np.array([0.2, 0.5]), dout,
                                    True)  # fmt: skip
    assert st == K.RAY_BLOW_UP and tau == 0.0 and np.isnan(dout).all()


def test_a_straight_ray_advanced_by_nothing_is_unchanged():
    """tau1 = tau0: the state stands, as the integrator leaves it, even where f is not
    finite (u_t + sqrt(u) u_x = 0 at u = 0: the node on the data at x = 0 came out NaN)."""
    import charme.solvers.characteristics.kernels as CK

    c, _, y0 = _rays("kind: pde\nvariables: [t, x]\nequation: u_t + sqrt(u)*u_x = 0\n"
                     "initial: {parameters: {s: [0, 1, 3]}, t: 0, x: s, u: s}\n"
                     "grid: {t: [0, 1, 2], x: [0, 1, 2]}\n")  # fmt: skip
    assert c.straight
    for straight in (False, True):
        y = y0[0].copy()  # u = 0: d(sqrt u)/du is infinite
        work, v, stack, coef = CK.workspace(c.prog, c.nz, c.d)
        st, _, tau = CK.integrate_dense(c.code, c.consts, c.prog, c.nz, y, 0.0, 0.0, RTOL, ATOL,
                                        0.0, work, v, stack, coef, np.empty(0),
                                        np.empty((0, c.d)), straight)  # fmt: skip
        assert st == K.RAY_OK and tau == 0.0
        np.testing.assert_array_equal(y, y0[0])
    res = charme.solve_pde(charme.loads(
        'kind: pde\nvariables: [t, x]\nequation: "u_t + sqrt(u)*u_x = 0"\n'
        'initial: "u(x, t=0) = x"\ngrid: {t: [0, 1, 5], x: [-1, 1, 41]}\n'))  # fmt: skip
    assert float(res["u"][0, 20]) == 0.0 and float(res["u_x"][0, 20]) == 1.0


def test_a_straight_ray_s_crossing_in_closed_form():
    """Burgers from sin: the ray from s crosses its neighbours at tau = -1/cos s (cos s <
    0); det [x_s, dx/dtau] is linear in tau, and refine_crossing sets its zero in closed
    form on any interval that holds it, as the integrator's search does (the state given
    is the one at the interval's start: from tau = 1, the crossing is at 1 - 1/cos s)."""
    import charme.solvers.characteristics.kernels as CK

    c, S, y0 = _rays("kind: pde\nvariables: [t, x]\nequation: u_t + u*u_x = 0\n"
                     "initial: {parameters: {s: [2, 4, 5]}, t: 0, x: s, u: sin(s)}\n"
                     "grid: {t: [0, 1, 2], x: [0, 1, 2]}\n")  # fmt: skip
    for r in range(len(S)):
        exact = -1.0 / np.cos(S[r])
        for lo, hi, at in ((0.0, 5.0, exact), (0.0, 1.5 * exact, exact),
                           (1.0, 7.0, 1.0 + exact)):  # fmt: skip
            got = []
            for straight in (False, True):
                y_out = np.empty(c.d)
                st, t = CK.refine_crossing(c.code, c.consts, c.prog, c.nz, c.n, y0[r], lo, hi,
                                           RTOL, ATOL, 16, y_out, straight)  # fmt: skip
                got.append((st, t, y_out.copy()))
            assert got[1][0] == CK.CROSSING_FOUND and got[0][0] == CK.CROSSING_FOUND
            assert got[1][1] == pytest.approx(at, rel=1e-14)
            assert got[0][1] == pytest.approx(at, rel=1e-13)
            np.testing.assert_allclose(got[1][2], got[0][2], rtol=1e-13, atol=1e-13)
        st, _ = CK.refine_crossing(c.code, c.consts, c.prog, c.nz, c.n, y0[r], 0.0,
                                   0.999 * exact, RTOL, ATOL, 16, np.empty(c.d), True)  # fmt: skip
        assert st == CK.CROSSING_NONE
