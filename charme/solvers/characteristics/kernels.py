"""Numba kernels: characteristics and characteristic strips, with variational equations.

A ray carries ``z`` (size N) and its derivatives along the m = n - 1
manifold parameters: ``y = [z, z_s1, ..., z_sm]``.  For a quasilinear
equation ``z = (x, u)`` and ``dz/dtau = (a(x, u), b(x, u))``; for a fully
nonlinear one (Charpit) ``z = (x, u, p)`` and ``dz/dtau = (F_p, p.F_p,
-F_x - p F_u)``.  In both cases the right-hand side ``g(z)`` and its
Jacobian ``G = dg/dz`` are postfix programs (see
:func:`charme.solvers.gillespie.kernels.eval_program`), rows ``g_0..g_{N-1}``
then ``G`` row-major, and ``d(z_s)/dtau = G z_s``.

Integration: Dormand-Prince 8(5,3) (DOP853) with error control (``rtol``,
``atol``) and its seventh-order dense output: P. J. Prince and J. R. Dormand,
J. Comput. Appl. Math. 7 (1981) 67, in the form of E. Hairer, S. P. Norsett and
G. Wanner, Solving Ordinary Differential Equations I, 2nd ed., section II.10.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from charme.solvers.gillespie.kernels import OP_CONST, eval_program

RAY_OK = 0
RAY_BLOW_UP = 1  # the step size collapsed (u or the ray left every bound)
RAY_TOO_MANY_STEPS = 2

MAX_STEPS = 1_000_000
#: depth of the postfix evaluation stack every kernel allocates
STACK_SIZE = 64
#: Newton onto a ray of 1-D data ends after one integration when its step is below
#: this (relative to 1 + |s|) and d(z_s)/ds at the seed is known (:func:`locate`)
ONE_STEP = 1e-11


#: the golden section's ratio, (sqrt(5) - 1) / 2
GOLDEN = 0.6180339887498949


@njit(cache=True)
def rhs(code, consts, prog, nz, y, dy, v, stack, coef):
    """Right-hand side of the ray system (see the module docstring)."""
    m = y.shape[0] // nz - 1
    for i in range(nz):
        v[i] = y[i]
    for k in range(prog.shape[0]):
        start = prog[k, 0]
        if prog[k, 1] - start == 1 and code[start, 0] == OP_CONST:
            coef[k] = consts[code[start, 1]]  # a constant (most Jacobian entries): no interpreter
        else:
            coef[k] = eval_program(code, consts, start, prog[k, 1], v, stack, 0.0)
    for i in range(nz):
        dy[i] = coef[i]
    for k in range(m):
        base = nz + k * nz
        for i in range(nz):
            acc = 0.0
            for j in range(nz):
                c = coef[nz + i * nz + j]
                # (a component that does not vary adds nothing, where the equation's
                # derivative is infinite too: sqrt(u) at u = 0 on a stretch of u = 0)
                if c != 0.0 and y[base + j] != 0.0:
                    acc += c * y[base + j]
            dy[base + i] = acc


@njit(cache=True)
def ray_rhs(code, consts, prog, nz, y, dy, v, stack, coef):
    """:func:`rhs` for callers of their own: ValueError where the arrays do not fit
    (``y``, ``dy``: ``float64[d]``, ``d`` a multiple of ``nz``; ``v``: ``float64[nz]``;
    ``stack``: ``float64[KERNEL_STACK]``; ``coef``: ``float64[len(prog)]``)."""
    _check_program(prog, nz)
    _check_state(y, nz)
    if dy.shape[0] != y.shape[0] or v.shape[0] < nz or coef.shape[0] < prog.shape[0]:
        raise ValueError("ray_rhs: dy must be as long as y, v have nz entries and coef "
                         "len(prog)")  # fmt: skip
    _check_stack(stack)
    rhs(code, consts, prog, nz, y, dy, v, stack, coef)


@njit(cache=True)
def _check_program(prog, nz):
    """ValueError unless ``prog`` is the ray system of states of size ``nz`` (its
    ``nz`` right-hand sides and the ``nz * nz`` Jacobian entries)."""
    if nz < 2 or prog.shape[1] != 2 or prog.shape[0] != nz + nz * nz:
        raise ValueError("the ray program does not fit nz: prog must have nz + nz*nz rows "
                         "(CompiledPDE.prog and CompiledPDE.nz)")  # fmt: skip


@njit(cache=True)
def _check_state(y, nz):
    """ValueError unless ``y`` is a ray state: z and its derivatives, a multiple of nz."""
    if y.shape[0] < nz or y.shape[0] % nz != 0:
        raise ValueError("a ray state must have d = nz * n entries (CompiledPDE.d)")


@njit(cache=True)
def _check_stack(stack):
    if stack.shape[0] < STACK_SIZE:
        raise ValueError("the evaluation stack must have KERNEL_STACK (64) entries")


@njit(cache=True)
def _check_tolerances(rtol, atol):
    if not (rtol > 0.0 and atol >= 0.0 and math.isfinite(rtol) and math.isfinite(atol)):
        raise ValueError("rtol must be positive and atol non-negative (both finite)")


@njit(cache=True)
def _put(row, value):
    """``row[:] = value`` as a plain loop."""
    for i in range(row.shape[0]):
        row[i] = value[i]


@njit(cache=True)
def _put_nan(row):
    for i in range(row.shape[0]):
        row[i] = np.nan


@njit(cache=True)
def _fill_nan(rows, first):
    """NaN in ``rows[first:]``."""
    for j in range(first, rows.shape[0]):
        for i in range(rows.shape[1]):
            rows[j, i] = np.nan


@njit(cache=True)
def integrate(code, consts, prog, nz, y, tau0, tau1, rtol, atol, h0):
    """Advance ``y`` from ``tau0`` to ``tau1`` (either direction) with DOP853.

    Returns ``(status, h, tau)``: the last step size (a good first guess for
    the next call) and the time reached (``tau1`` unless it failed).
    """
    _check_program(prog, nz)
    _check_state(y, nz)
    _check_tolerances(rtol, atol)
    if not (math.isfinite(tau0) and math.isfinite(tau1) and math.isfinite(h0)):
        raise ValueError("integrate: tau0, tau1 and h0 must be finite")
    return _integrate(code, consts, prog, nz, y, tau0, tau1, rtol, atol, h0, False)


@njit(cache=True)
def _integrate(code, consts, prog, nz, y, tau0, tau1, rtol, atol, h0, straight):
    """:func:`integrate` without its checks of the arguments (the solver's own calls;
    ``straight``: see :func:`integrate_dense`)."""
    work, v, stack, coef = workspace(prog, nz, y.shape[0])
    return integrate_ws(code, consts, prog, nz, y, tau0, tau1, rtol, atol, h0, work, v, stack, coef,
                        straight)  # fmt: skip


@njit(cache=True)
def workspace(prog, nz, d):
    """Scratch arrays for :func:`integrate_ws` (allocate once per ray, not per call):
    DOP853's 12 stages, the next step's first (FSAL), 3 stages of the dense output,
    the stage argument, the interpreter's stack (with room for a run of ``d`` rows:
    :func:`_initial_state` evaluates the data's rows in one run) and the new state."""
    return np.empty((18, d)), np.empty(nz), np.empty(STACK_SIZE + d), np.empty(prog.shape[0])


@njit(cache=True)
def newton_workspace(prog, nz, d, k):
    """Scratch arrays for Newton onto the rays in ``k`` unknowns, once per call (a chunk
    of points), not per point: the ray state, :func:`workspace`'s arrays, then the
    Jacobian, its LU copy, the residual and the step."""
    work, v, stack, coef = workspace(prog, nz, d)
    return (np.empty(d), work, v, stack, coef, np.empty((k, k)), np.empty((k, k)),
            np.empty(k), np.empty(k))  # fmt: skip


@njit(cache=True)
def integrate_ws(code, consts, prog, nz, y, tau0, tau1, rtol, atol, h0, work, v, stack, coef,
                 straight):  # fmt: skip
    """:func:`integrate` with caller-owned scratch arrays (from :func:`workspace`);
    ``straight``: the rays are straight lines (``CompiledPDE.straight``), advanced in
    closed form."""
    return integrate_dense(code, consts, prog, nz, y, tau0, tau1, rtol, atol, h0, work, v, stack,
                           coef, np.empty(0), np.empty((0, y.shape[0])), straight)  # fmt: skip


# Dormand-Prince 8(5,3), the method of E. Hairer, S. P. Norsett and G. Wanner, Solving
# Ordinary Differential Equations I, 2nd ed. (Springer 1993), section II.10, as in their
# code DOP853 (dop853.f): the coefficients below are that code's, with its names (A<i><j>
# stage i from stage j, B the 8th-order weights, BHH the 3rd-order embedded weights, ER
# the 5th-order error weights, C14..C16 and A14*..A16* the three stages of the dense
# output, D4*..D7* its seventh-order continuous extension).  Checked digit for digit
# against scipy.integrate._ivp.dop853_coefficients.  The kernels write each stage as its
# difference from the first (see integrate_dense), so the first column (A<i>1, B1, BHH1,
# ER1, D<k>1) enters only through the row sums (the nodes C<i>, 1 and 0): kept as published.
_C2 = 0.526001519587677318785587544488e-01
_C3 = 0.789002279381515978178381316732e-01
_C4 = 0.118350341907227396726757197510e00
_C5 = 0.281649658092772603273242802490e00
_C6 = 0.333333333333333333333333333333e00
_C7 = 0.25e00
_C8 = 0.307692307692307692307692307692e00
_C9 = 0.651282051282051282051282051282e00
_C10 = 0.6e00
_C11 = 0.857142857142857142857142857142e00
_C14 = 0.1e00
_C15 = 0.2e00
_C16 = 0.777777777777777777777777777778e00

_B1 = 5.42937341165687622380535766363e-2
_B6 = 4.45031289275240888144113950566e0
_B7 = 1.89151789931450038304281599044e0
_B8 = -5.8012039600105847814672114227e0
_B9 = 3.1116436695781989440891606237e-1
_B10 = -1.52160949662516078556178806805e-1
_B11 = 2.01365400804030348374776537501e-1
_B12 = 4.47106157277725905176885569043e-2

_BHH1 = 0.244094488188976377952755905512e00
_BHH2 = 0.733846688281611857341361741547e00
_BHH3 = 0.220588235294117647058823529412e-01

_ER1 = 0.1312004499419488073250102996e-01
_ER6 = -0.1225156446376204440720569753e01
_ER7 = -0.4957589496572501915214079952e00
_ER8 = 0.1664377182454986536961530415e01
_ER9 = -0.3503288487499736816886487290e00
_ER10 = 0.3341791187130174790297318841e00
_ER11 = 0.8192320648511571246570742613e-01
_ER12 = -0.2235530786388629525884427845e-01

_A21 = 5.26001519587677318785587544488e-2
_A31 = 1.97250569845378994544595329183e-2
_A32 = 5.91751709536136983633785987549e-2
_A41 = 2.95875854768068491816892993775e-2
_A43 = 8.87627564304205475450678981324e-2
_A51 = 2.41365134159266685502369798665e-1
_A53 = -8.84549479328286085344864962717e-1
_A54 = 9.24834003261792003115737966543e-1
_A61 = 3.7037037037037037037037037037e-2
_A64 = 1.70828608729473871279604482173e-1
_A65 = 1.25467687566822425016691814123e-1
_A71 = 3.7109375e-2
_A74 = 1.70252211019544039314978060272e-1
_A75 = 6.02165389804559606850219397283e-2
_A76 = -1.7578125e-2
_A81 = 3.70920001185047927108779319836e-2
_A84 = 1.70383925712239993810214054705e-1
_A85 = 1.07262030446373284651809199168e-1
_A86 = -1.53194377486244017527936158236e-2
_A87 = 8.27378916381402288758473766002e-3
_A91 = 6.24110958716075717114429577812e-1
_A94 = -3.36089262944694129406857109825e0
_A95 = -8.68219346841726006818189891453e-1
_A96 = 2.75920996994467083049415600797e1
_A97 = 2.01540675504778934086186788979e1
_A98 = -4.34898841810699588477366255144e1
_A101 = 4.77662536438264365890433908527e-1
_A104 = -2.48811461997166764192642586468e0
_A105 = -5.90290826836842996371446475743e-1
_A106 = 2.12300514481811942347288949897e1
_A107 = 1.52792336328824235832596922938e1
_A108 = -3.32882109689848629194453265587e1
_A109 = -2.03312017085086261358222928593e-2
_A111 = -9.3714243008598732571704021658e-1
_A114 = 5.18637242884406370830023853209e0
_A115 = 1.09143734899672957818500254654e0
_A116 = -8.14978701074692612513997267357e0
_A117 = -1.85200656599969598641566180701e1
_A118 = 2.27394870993505042818970056734e1
_A119 = 2.49360555267965238987089396762e0
_A1110 = -3.0467644718982195003823669022e0
_A121 = 2.27331014751653820792359768449e0
_A124 = -1.05344954667372501984066689879e1
_A125 = -2.00087205822486249909675718444e0
_A126 = -1.79589318631187989172765950534e1
_A127 = 2.79488845294199600508499808837e1
_A128 = -2.85899827713502369474065508674e0
_A129 = -8.87285693353062954433549289258e0
_A1210 = 1.23605671757943030647266201528e1
_A1211 = 6.43392746015763530355970484046e-1

_A141 = 5.61675022830479523392909219681e-2
_A147 = 2.53500210216624811088794765333e-1
_A148 = -2.46239037470802489917441475441e-1
_A149 = -1.24191423263816360469010140626e-1
_A1410 = 1.5329179827876569731206322685e-1
_A1411 = 8.20105229563468988491666602057e-3
_A1412 = 7.56789766054569976138603589584e-3
_A1413 = -8.298e-3
_A151 = 3.18346481635021405060768473261e-2
_A156 = 2.83009096723667755288322961402e-2
_A157 = 5.35419883074385676223797384372e-2
_A158 = -5.49237485713909884646569340306e-2
_A1511 = -1.08347328697249322858509316994e-4
_A1512 = 3.82571090835658412954920192323e-4
_A1513 = -3.40465008687404560802977114492e-4
_A1514 = 1.41312443674632500278074618366e-1
_A161 = -4.28896301583791923408573538692e-1
_A166 = -4.69762141536116384314449447206e0
_A167 = 7.68342119606259904184240953878e0
_A168 = 4.06898981839711007970213554331e0
_A169 = 3.56727187455281109270669543021e-1
_A1613 = -1.39902416515901462129418009734e-3
_A1614 = 2.9475147891527723389556272149e0
_A1615 = -9.15095847217987001081870187138e0

_D41 = -0.84289382761090128651353491142e01
_D46 = 0.56671495351937776962531783590e00
_D47 = -0.30689499459498916912797304727e01
_D48 = 0.23846676565120698287728149680e01
_D49 = 0.21170345824450282767155149946e01
_D410 = -0.87139158377797299206789907490e00
_D411 = 0.22404374302607882758541771650e01
_D412 = 0.63157877876946881815570249290e00
_D413 = -0.88990336451333310820698117400e-01
_D414 = 0.18148505520854727256656404962e02
_D415 = -0.91946323924783554000451984436e01
_D416 = -0.44360363875948939664310572000e01
_D51 = 0.10427508642579134603413151009e02
_D56 = 0.24228349177525818288430175319e03
_D57 = 0.16520045171727028198505394887e03
_D58 = -0.37454675472269020279518312152e03
_D59 = -0.22113666853125306036270938578e02
_D510 = 0.77334326684722638389603898808e01
_D511 = -0.30674084731089398182061213626e02
_D512 = -0.93321305264302278729567221706e01
_D513 = 0.15697238121770843886131091075e02
_D514 = -0.31139403219565177677282850411e02
_D515 = -0.93529243588444783865713862664e01
_D516 = 0.35816841486394083752465898540e02
_D61 = 0.19985053242002433820987653617e02
_D66 = -0.38703730874935176555105901742e03
_D67 = -0.18917813819516756882830838328e03
_D68 = 0.52780815920542364900561016686e03
_D69 = -0.11573902539959630126141871134e02
_D610 = 0.68812326946963000169666922661e01
_D611 = -0.10006050966910838403183860980e01
_D612 = 0.77771377980534432092869265740e00
_D613 = -0.27782057523535084065932004339e01
_D614 = -0.60196695231264120758267380846e02
_D615 = 0.84320405506677161018159903784e02
_D616 = 0.11992291136182789328035130030e02
_D71 = -0.25693933462703749003312586129e02
_D76 = -0.15418974869023643374053993627e03
_D77 = -0.23152937917604549567536039109e03
_D78 = 0.35763911791061412378285349910e03
_D79 = 0.93405324183624310003907691704e02
_D710 = -0.37458323136451633156875139351e02
_D711 = 0.10409964950896230045147246184e03
_D712 = 0.29840293426660503123344363579e02
_D713 = -0.43533456590011143754432175058e02
_D714 = 0.96324553959188282948394950600e02
_D715 = -0.39177261675615439165231486172e02
_D716 = -0.14972683625798562581422125276e03

#: DOP853's step-size control: safety factor, the factor's bounds, the error's exponent
_SAFE = 0.9
_FAC_MIN = 1.0 / 3.0
_FAC_MAX = 6.0
#: ... and after a step whose error estimate is exactly 0 (all stages equal: a straight
#: ray, advanced without rounding error)
_FAC_STRAIGHT = 1e6
_EXPO = 1.0 / 8.0
#: the first step when the caller gives none
_H_START = 0.1


@njit(cache=True)
def integrate_dense(code, consts, prog, nz, y, tau0, tau1, rtol, atol, h0, work, v, stack, coef,
                    dtaus, dout, straight):  # fmt: skip
    """:func:`integrate_ws` that also samples the solution at ``dtaus`` (inside the
    interval, in order) into ``dout`` rows by the method's seventh-order dense
    output, without shortening a step; rows it does not reach are NaN.

    Steps of DOP853 (eighth order, the error estimated by its combined fifth- and
    third-order estimators); the three extra stages of the dense output are only
    computed in steps where a sample is taken.  Every stage after the first is kept
    as its difference from the first, ``k_i - k_1``, and every combination of stages
    is written in those differences (the coefficients of a stage argument sum to its
    node c_i, the weights to 1, the error and dense-output coefficients to 0): the
    same method, but a component whose derivative does not change along the step (a
    straight ray) has all differences 0 and is advanced without rounding error, and
    its error estimate is 0, not rounding noise.

    With ``straight`` (every ray a straight line, ``CompiledPDE.straight``: the
    derivative of the whole ray state is constant along it) the ray is advanced in
    closed form, y(tau) = y(tau0) + (tau - tau0) f(y(tau0)), from one evaluation of f.
    """
    d = y.shape[0]
    nd = dtaus.shape[0]
    filled = 0
    # k1: f at the step's start; k2..k12: the stages' differences from it; k13: f at
    # the step's end (the next k1); k14..k16: the dense output's stages (differences)
    k1, k2, k3, k4, k5, k6 = work[0], work[1], work[2], work[3], work[4], work[5]
    k7, k8, k9, k10, k11, k12 = work[6], work[7], work[8], work[9], work[10], work[11]
    k13, k14, k15, k16, yt, yn = work[12], work[13], work[14], work[15], work[16], work[17]
    span = tau1 - tau0
    if span == 0.0:
        for j in range(nd):
            _put(dout[j], y)
        return RAY_OK, h0, tau1
    if straight:
        return _advance_straight(code, consts, prog, nz, y, tau0, tau1, h0, work, v, stack,
                                 coef, dtaus, dout)  # fmt: skip
    direction = 1.0 if span > 0 else -1.0
    # h is the step the error control proposes; a step cut short to land on tau1
    # (hs < h) does not shrink it, so a tiny interval does not slow the next one
    h = abs(h0) if h0 != 0.0 else min(abs(span), _H_START)
    tau = tau0
    rejected = False  # the last step attempted was rejected (DOP853: then no growth)
    rhs(code, consts, prog, nz, y, k1, v, stack, coef)
    for _ in range(MAX_STEPS):
        remaining = (tau1 - tau) * direction
        if remaining <= 1e-15 * max(1.0, abs(tau1)):
            for j in range(filled, nd):  # within rounding of the end
                _put(dout[j], y)
            return RAY_OK, h, tau1
        hs = min(h, remaining)
        s = direction * hs
        for i in range(d):
            yt[i] = y[i] + s * _C2 * k1[i]
        rhs(code, consts, prog, nz, yt, k2, v, stack, coef)
        for i in range(d):
            k2[i] -= k1[i]  # (as its difference from the first)
            yt[i] = y[i] + s * (_C3 * k1[i] + _A32 * k2[i])
        rhs(code, consts, prog, nz, yt, k3, v, stack, coef)
        for i in range(d):
            k3[i] -= k1[i]
            yt[i] = y[i] + s * (_C4 * k1[i] + _A43 * k3[i])
        rhs(code, consts, prog, nz, yt, k4, v, stack, coef)
        for i in range(d):
            k4[i] -= k1[i]
            yt[i] = y[i] + s * (_C5 * k1[i] + _A53 * k3[i] + _A54 * k4[i])
        rhs(code, consts, prog, nz, yt, k5, v, stack, coef)
        for i in range(d):
            k5[i] -= k1[i]
            yt[i] = y[i] + s * (_C6 * k1[i] + _A64 * k4[i] + _A65 * k5[i])
        rhs(code, consts, prog, nz, yt, k6, v, stack, coef)
        for i in range(d):
            k6[i] -= k1[i]
            yt[i] = y[i] + s * (_C7 * k1[i] + _A74 * k4[i] + _A75 * k5[i] + _A76 * k6[i])
        rhs(code, consts, prog, nz, yt, k7, v, stack, coef)
        for i in range(d):
            k7[i] -= k1[i]
            yt[i] = y[i] + s * (_C8 * k1[i] + _A84 * k4[i] + _A85 * k5[i] + _A86 * k6[i]
                                + _A87 * k7[i])  # fmt: skip
        rhs(code, consts, prog, nz, yt, k8, v, stack, coef)
        for i in range(d):
            k8[i] -= k1[i]
            yt[i] = y[i] + s * (_C9 * k1[i] + _A94 * k4[i] + _A95 * k5[i] + _A96 * k6[i]
                                + _A97 * k7[i] + _A98 * k8[i])  # fmt: skip
        rhs(code, consts, prog, nz, yt, k9, v, stack, coef)
        for i in range(d):
            k9[i] -= k1[i]
            yt[i] = y[i] + s * (_C10 * k1[i] + _A104 * k4[i] + _A105 * k5[i] + _A106 * k6[i]
                                + _A107 * k7[i] + _A108 * k8[i] + _A109 * k9[i])  # fmt: skip
        rhs(code, consts, prog, nz, yt, k10, v, stack, coef)
        for i in range(d):
            k10[i] -= k1[i]
            yt[i] = y[i] + s * (_C11 * k1[i] + _A114 * k4[i] + _A115 * k5[i] + _A116 * k6[i]
                                + _A117 * k7[i] + _A118 * k8[i] + _A119 * k9[i]
                                + _A1110 * k10[i])  # fmt: skip
        rhs(code, consts, prog, nz, yt, k11, v, stack, coef)
        for i in range(d):
            k11[i] -= k1[i]
            yt[i] = y[i] + s * (k1[i] + _A124 * k4[i] + _A125 * k5[i] + _A126 * k6[i]
                                + _A127 * k7[i] + _A128 * k8[i] + _A129 * k9[i]
                                + _A1210 * k10[i] + _A1211 * k11[i])  # fmt: skip
        rhs(code, consts, prog, nz, yt, k12, v, stack, coef)
        # the eighth-order solution; its error by DOP853's estimator: the fifth-order
        # estimate err5 scaled by err5 / sqrt(err5^2 + 0.01 err3^2) with the
        # third-order one, which keeps the error's order 8 (Hairer et al., II.10)
        err5 = 0.0
        err3 = 0.0
        finite = True
        for i in range(d):
            k12[i] -= k1[i]
            bk = (_B6 * k6[i] + _B7 * k7[i] + _B8 * k8[i] + _B9 * k9[i] + _B10 * k10[i]
                  + _B11 * k11[i] + _B12 * k12[i])  # fmt: skip
            yn[i] = y[i] + s * (k1[i] + bk)
            sc = atol + rtol * max(abs(y[i]), abs(yn[i]))
            e3 = bk - _BHH2 * k9[i] - _BHH3 * k12[i]
            e5 = (_ER6 * k6[i] + _ER7 * k7[i] + _ER8 * k8[i] + _ER9 * k9[i] + _ER10 * k10[i]
                  + _ER11 * k11[i] + _ER12 * k12[i])  # fmt: skip
            err3 += (e3 / sc) ** 2
            err5 += (e5 / sc) ** 2
            if not math.isfinite(yn[i]):
                finite = False
        deno = err5 + 0.01 * err3
        err = 0.0 if deno == 0.0 else hs * err5 / math.sqrt(d * deno)  # NaN: not finite
        if not math.isfinite(err):
            finite = False
        if finite and err <= 1.0:
            last = filled  # the samples in this step: dtaus[filled:last]
            while last < nd and (dtaus[last] - (tau + s)) * direction <= 0.0:
                last += 1
            landed = hs == remaining  # the interval's last step
            if last > filled or not landed:  # f at the step's end: the next step's first stage
                rhs(code, consts, prog, nz, yn, k13, v, stack, coef)
            if last > filled:
                _dense_stages(code, consts, prog, nz, y, s, work, v, stack, coef)
                for i in range(d):
                    k16[i] -= k1[i]
                    ydiff = yn[i] - y[i]
                    bspl = s * k1[i] - ydiff
                    c3 = ydiff - s * k13[i] - bspl
                    d13 = k13[i] - k1[i]
                    c4 = s * (_D46 * k6[i] + _D47 * k7[i] + _D48 * k8[i] + _D49 * k9[i]
                              + _D410 * k10[i] + _D411 * k11[i] + _D412 * k12[i] + _D413 * d13
                              + _D414 * k14[i] + _D415 * k15[i] + _D416 * k16[i])  # fmt: skip
                    c5 = s * (_D56 * k6[i] + _D57 * k7[i] + _D58 * k8[i] + _D59 * k9[i]
                              + _D510 * k10[i] + _D511 * k11[i] + _D512 * k12[i] + _D513 * d13
                              + _D514 * k14[i] + _D515 * k15[i] + _D516 * k16[i])  # fmt: skip
                    c6 = s * (_D66 * k6[i] + _D67 * k7[i] + _D68 * k8[i] + _D69 * k9[i]
                              + _D610 * k10[i] + _D611 * k11[i] + _D612 * k12[i] + _D613 * d13
                              + _D614 * k14[i] + _D615 * k15[i] + _D616 * k16[i])  # fmt: skip
                    c7 = s * (_D76 * k6[i] + _D77 * k7[i] + _D78 * k8[i] + _D79 * k9[i]
                              + _D710 * k10[i] + _D711 * k11[i] + _D712 * k12[i] + _D713 * d13
                              + _D714 * k14[i] + _D715 * k15[i] + _D716 * k16[i])  # fmt: skip
                    for j in range(filled, last):
                        theta = (dtaus[j] - tau) / s
                        th1 = 1.0 - theta
                        tail = c4 + theta * (c5 + th1 * (c6 + theta * c7))
                        dout[j, i] = y[i] + theta * (
                            ydiff + th1 * (bspl + theta * (c3 + th1 * tail))
                        )
                filled = last
            tau = tau1 if landed else tau + s
            for i in range(d):
                y[i] = yn[i]
                k1[i] = k13[i]  # (stale after the last step: not used again)
            if err == 0.0:  # a straight ray (its stages all equal): on to the end at once
                factor = _FAC_STRAIGHT
            else:
                factor = min(_FAC_MAX, max(_FAC_MIN, _SAFE * err ** (-_EXPO)))
            if rejected:
                factor = min(factor, 1.0)
            rejected = False
            h = max(h, hs * factor) if hs < h else h * factor
        else:
            rejected = True
            h = hs * (_FAC_MIN if not finite else max(_FAC_MIN, _SAFE * err ** (-_EXPO)))
        if h < 1e-14 * max(1.0, abs(tau)):
            _fill_nan(dout, filled)
            return RAY_BLOW_UP, h, tau
    _fill_nan(dout, filled)
    return RAY_TOO_MANY_STEPS, h, tau


@njit(cache=True)
def _advance_straight(code, consts, prog, nz, y, tau0, tau1, h0, work, v, stack, coef, dtaus,
                      dout):  # fmt: skip
    """:func:`integrate_dense` for a straight ray (over a span not 0): y(tau) = y(tau0) +
    (tau - tau0) f(y(tau0)).  A state where f or the end is not finite fails as a blow-up
    at tau0 (where the integrator's steps would have shrunk to nothing)."""
    d = y.shape[0]
    span = tau1 - tau0
    f = work[0]
    rhs(code, consts, prog, nz, y, f, v, stack, coef)
    ok = True
    for i in range(d):
        if not (math.isfinite(f[i]) and math.isfinite(y[i] + span * f[i])):
            ok = False
    if not ok:
        _fill_nan(dout, 0)
        return RAY_BLOW_UP, h0, tau0
    for j in range(dtaus.shape[0]):
        for i in range(d):
            dout[j, i] = y[i] + (dtaus[j] - tau0) * f[i]
    for i in range(d):
        y[i] += span * f[i]
    return RAY_OK, max(abs(h0), abs(span)), tau1


@njit(cache=True)
def _dense_stages(code, consts, prog, nz, y, s, work, v, stack, coef):
    """DOP853's three extra stages of the dense output (``work[13:16]``, differences
    from the first stage like the others, the last made one by the caller), from the
    step's stages ``work[0:13]`` (the last: f at the step's end, not its difference)."""
    d = y.shape[0]
    k1, k6, k7, k8, k9 = work[0], work[5], work[6], work[7], work[8]
    k10, k11, k12, k13 = work[9], work[10], work[11], work[12]
    k14, k15, k16, yt = work[13], work[14], work[15], work[16]
    for i in range(d):
        yt[i] = y[i] + s * (_C14 * k1[i] + _A147 * k7[i] + _A148 * k8[i] + _A149 * k9[i]
                            + _A1410 * k10[i] + _A1411 * k11[i] + _A1412 * k12[i]
                            + _A1413 * (k13[i] - k1[i]))  # fmt: skip
    rhs(code, consts, prog, nz, yt, k14, v, stack, coef)
    for i in range(d):
        k14[i] -= k1[i]
        yt[i] = y[i] + s * (_C15 * k1[i] + _A156 * k6[i] + _A157 * k7[i] + _A158 * k8[i]
                            + _A1511 * k11[i] + _A1512 * k12[i] + _A1513 * (k13[i] - k1[i])
                            + _A1514 * k14[i])  # fmt: skip
    rhs(code, consts, prog, nz, yt, k15, v, stack, coef)
    for i in range(d):
        k15[i] -= k1[i]
        yt[i] = y[i] + s * (_C16 * k1[i] + _A166 * k6[i] + _A167 * k7[i] + _A168 * k8[i]
                            + _A169 * k9[i] + _A1613 * (k13[i] - k1[i]) + _A1614 * k14[i]
                            + _A1615 * k15[i])  # fmt: skip
    rhs(code, consts, prog, nz, yt, k16, v, stack, coef)  # (made a difference by the caller)


@njit(cache=True, parallel=True)
def trace(code, consts, prog, nz, y0, taus, rtol, atol, out, status, reached):
    """Trace every ray ``y0[r]`` through the times ``taus``; ``out[r, k] = y(taus[k])``.

    ``status[r]`` is ``RAY_OK`` or the first failure, ``reached[r]`` the
    last time reached; rows after a failure are NaN.  Every time is landed
    on exactly (see :func:`trace_sampled` for a cheaper variant).
    """
    _check_trace(prog, nz, y0, taus, rtol, atol, out, status, reached)
    exact = np.ones(taus.shape[0], np.bool_)
    h_last = np.empty(y0.shape[0])
    for r in prange(y0.shape[0]):
        _trace_ray(code, consts, prog, nz, y0, taus, exact, rtol, atol, out, status, reached,
                   h_last, r, False)  # fmt: skip


@njit(cache=True, parallel=True)
def trace_sampled(code, consts, prog, nz, y0, taus, exact, rtol, atol, out, status, reached,
                  h_last):  # fmt: skip
    """:func:`trace` landing exactly only on the times where ``exact`` is true (and
    the last); the others are sampled by the dense output, which leaves the
    steps as long as the error control allows (seventh order there).
    ``h_last[r]`` receives the step size the error control proposed last (a
    good first step for rays near ray r)."""
    _check_sampled(prog, nz, y0, taus, exact, rtol, atol, out, status, reached, h_last)
    for r in prange(y0.shape[0]):
        _trace_ray(code, consts, prog, nz, y0, taus, exact, rtol, atol, out, status, reached,
                   h_last, r, False)  # fmt: skip


@njit(cache=True, nogil=True, error_model="numpy")
def trace_rows(lo, hi, code, consts, prog, nz, y0, taus, exact, rtol, atol, out, status,
               reached, h_last, straight):  # fmt: skip
    """:func:`trace_sampled` for the rays ``lo .. hi - 1`` only, serial, without the GIL
    (the solver's: :func:`charme.solvers.characteristics.threads.over_rows` runs chunks
    of rays side by side; a parallel kernel costs seconds more to compile); with
    ``straight`` (``CompiledPDE.straight``) the rays are advanced in closed form."""
    _check_sampled(prog, nz, y0, taus, exact, rtol, atol, out, status, reached, h_last)
    if not 0 <= lo <= hi <= y0.shape[0]:
        raise ValueError("trace_rows: the rows lo .. hi - 1 must lie in y0")
    for r in range(lo, hi):
        _trace_ray(code, consts, prog, nz, y0, taus, exact, rtol, atol, out, status, reached,
                   h_last, r, straight)  # fmt: skip


@njit(cache=True)
def _check_sampled(prog, nz, y0, taus, exact, rtol, atol, out, status, reached, h_last):
    """:func:`_check_trace` and the arrays :func:`trace_sampled` and :func:`trace_rows`
    add (``exact``, ``h_last``)."""
    _check_trace(prog, nz, y0, taus, rtol, atol, out, status, reached)
    if exact.shape[0] != taus.shape[0] or h_last.shape[0] != y0.shape[0]:
        raise ValueError("trace: exact must have one entry per tau, h_last one per ray")


@njit(cache=True)
def _check_trace(prog, nz, y0, taus, rtol, atol, out, status, reached):
    """ValueError unless the arrays of :func:`trace` fit together (a kernel writing past
    an array's end would corrupt memory, not fail)."""
    _check_program(prog, nz)
    n_rays, d = y0.shape
    if d < nz or d % nz != 0:
        raise ValueError("trace: y0 must have d = nz * n columns (CompiledPDE.d)")
    if out.shape[0] != n_rays or out.shape[1] != taus.shape[0] or out.shape[2] != d:
        raise ValueError("trace: out must have the shape (rays, len(taus), d)")
    if status.shape[0] != n_rays or reached.shape[0] != n_rays:
        raise ValueError("trace: status and reached must have one entry per ray")
    if taus.shape[0] == 0:
        raise ValueError("trace: taus is empty")
    step = 0.0
    for k in range(1, taus.shape[0]):
        if k == 1:
            step = taus[1] - taus[0]
        if not (taus[k] - taus[k - 1]) * step > 0.0:
            raise ValueError("trace: taus must be strictly monotonic (and finite)")
    _check_tolerances(rtol, atol)


# inlined into its loops over rays (trace, trace_sampled, trace_rows): compiled on its own
# it added seconds to the first solve
@njit(cache=True, inline="always")
def _trace_ray(code, consts, prog, nz, y0, taus, exact, rtol, atol, out, status, reached,
               h_last, r, straight):  # fmt: skip
    """Ray r of :func:`trace_sampled` (``straight``: see :func:`integrate_dense`)."""
    n_t = taus.shape[0]
    y = y0[r].copy()
    work, v, stack, coef = workspace(prog, nz, y.shape[0])
    h = 0.0
    status[r] = RAY_OK
    reached[r] = taus[0]
    _put(out[r, 0], y)
    k0 = 0
    while k0 < n_t - 1:
        k1 = k0 + 1
        while k1 < n_t - 1 and not exact[k1]:
            k1 += 1
        if status[r] == RAY_OK:
            st, h, tau = integrate_dense(code, consts, prog, nz, y, taus[k0], taus[k1], rtol,
                                         atol, h, work, v, stack, coef, taus[k0 + 1 : k1],
                                         out[r, k0 + 1 : k1], straight)  # fmt: skip
            reached[r] = tau
            if st != RAY_OK:
                status[r] = st
        else:
            for k in range(k0 + 1, k1):
                _put_nan(out[r, k])
        if status[r] == RAY_OK:
            _put(out[r, k1], y)
        else:
            _put_nan(out[r, k1])
        k0 = k1
    h_last[r] = h


@njit(cache=True)
def _finite(a):
    for v in a.ravel():
        if not math.isfinite(v):
            return False
    return True


@njit(cache=True)
def initial_state(icode, iconsts, iprog, fcode, fconsts, fprog, n, charpit, s, p_guess, y, stack):
    """Ray state at manifold point ``s``; returns False if it cannot be built.

    ``iprog`` rows (over the manifold parameters): x0_i (n), u0,
    dx0_i/ds_k (i-major, n*m), du0/ds_k (m), and for Charpit also
    d2x0_i/ds_k ds_j (n*m*m) and d2u0/ds_k ds_j (m*m).  For Charpit the
    initial p solves F(x0, u0, p) = 0 and the strip conditions
    p . dx0/ds_k = du0/ds_k by Newton from ``p_guess`` (which picks the
    branch); ``fprog`` rows (over x, u, p): F, F_x (n), F_u, F_p (n).
    """
    _check_data(iprog, fprog, n, charpit, s, p_guess, y, stack)
    return _initial_state(icode, iconsts, iprog, fcode, fconsts, fprog, n, charpit, s, p_guess,
                          y, stack)  # fmt: skip


@njit(cache=True)
def _initial_state(icode, iconsts, iprog, fcode, fconsts, fprog, n, charpit, s, p_guess, y,
                   stack):  # fmt: skip
    """:func:`initial_state` without its checks of the arguments (the kernels' own calls)."""
    m = n - 1
    nz = 2 * n + 1 if charpit else n + 1
    # x0, u0 and their s-derivatives straight into the state (no temporaries: this
    # runs once per Newton step of every located point)
    rows = n + 1 + n * m + m
    if stack.shape[0] >= STACK_SIZE + rows and _contiguous(iprog, rows):
        # one run of the interpreter over the rows, each leaving its value on the stack
        # above the last's (the solver's own stacks have room: see workspace)
        eval_program(icode, iconsts, iprog[0, 0], iprog[rows - 1, 1], s, stack, 0.0)
        for i in range(n + 1):
            y[i] = stack[i]
        for i in range(n):
            for k in range(m):
                y[nz + k * nz + i] = stack[n + 1 + i * m + k]
        for k in range(m):
            y[nz + k * nz + n] = stack[n + 1 + n * m + k]
    else:
        for i in range(n + 1):
            y[i] = eval_program(icode, iconsts, iprog[i, 0], iprog[i, 1], s, stack, 0.0)
        for i in range(n):
            for k in range(m):
                r = n + 1 + i * m + k
                y[nz + k * nz + i] = eval_program(icode, iconsts, iprog[r, 0], iprog[r, 1], s,
                                                  stack, 0.0)  # fmt: skip
        for k in range(m):
            r = n + 1 + n * m + k
            y[nz + k * nz + n] = eval_program(icode, iconsts, iprog[r, 0], iprog[r, 1], s,
                                              stack, 0.0)  # fmt: skip
    if not charpit:
        return True
    # Charpit: complete p by Newton on F = 0 and the strip conditions (x_s, u_s read
    # from the state: dx0_i/ds_k is y[nz + k nz + i], du0/ds_k is y[nz + k nz + n]).
    # p stays NaN in the state unless Newton converges (a failure after it, in dp/ds,
    # leaves p there: the caller can tell the two apart)
    for i in range(n):
        y[n + 1 + i] = np.nan
    v = np.empty(2 * n + 1)
    for i in range(n + 1):
        v[i] = y[i]
    p = p_guess.copy()
    M = np.empty((n, n))
    LU = np.empty((n, n))
    res = np.empty(n)
    dp = np.empty(n)
    ps = np.empty(n)
    converged = False
    for _ in range(60):
        for i in range(n):
            v[n + 1 + i] = p[i]
        res[0] = eval_program(fcode, fconsts, fprog[0, 0], fprog[0, 1], v, stack, 0.0)
        for i in range(n):
            r = 2 + n + i
            M[0, i] = eval_program(fcode, fconsts, fprog[r, 0], fprog[r, 1], v, stack, 0.0)
        for k in range(m):
            acc = -y[nz + k * nz + n]
            for i in range(n):
                acc += p[i] * y[nz + k * nz + i]
                M[k + 1, i] = y[nz + k * nz + i]
            res[k + 1] = acc
        if not (_finite(M) and _finite(res)) or not abs(_lu_solve(M, res, dp, LU)) > 1e-300:
            return False
        size = 0.0
        for i in range(n):
            p[i] -= dp[i]
            size = max(size, abs(dp[i]) / (1.0 + abs(p[i])))
        if size < 1e-15:
            converged = True
            break
    if not converged:
        return False
    for i in range(n):
        v[n + 1 + i] = p[i]
        y[n + 1 + i] = p[i]
    fx = np.empty(n)
    for i in range(n):
        fx[i] = eval_program(fcode, fconsts, fprog[1 + i, 0], fprog[1 + i, 1], v, stack, 0.0)
        r = 2 + n + i
        M[0, i] = eval_program(fcode, fconsts, fprog[r, 0], fprog[r, 1], v, stack, 0.0)
    fu = eval_program(fcode, fconsts, fprog[1 + n, 0], fprog[1 + n, 1], v, stack, 0.0)
    base_xss = n + 1 + n * m + m
    base_uss = base_xss + n * m * m
    rhs_ = np.empty(n)
    for j in range(m):
        # d/ds_j of F = 0 and of the strip conditions gives dp/ds_j
        acc = fu * y[nz + j * nz + n]
        for i in range(n):
            acc += fx[i] * y[nz + j * nz + i]
        rhs_[0] = -acc
        for k in range(m):
            r = base_uss + k * m + j
            val = eval_program(icode, iconsts, iprog[r, 0], iprog[r, 1], s, stack, 0.0)
            for i in range(n):
                r2 = base_xss + i * m * m + k * m + j
                val -= p[i] * eval_program(
                    icode, iconsts, iprog[r2, 0], iprog[r2, 1], s, stack, 0.0
                )
            rhs_[k + 1] = val
        if not (_finite(M) and _finite(rhs_)) or not abs(_lu_solve(M, rhs_, ps, LU)) > 1e-300:
            return False
        for i in range(n):
            y[nz + j * nz + n + 1 + i] = ps[i]
    return True


@njit(cache=True)
def illinois_update(a, b, fa, fb, c, fc, side):
    """Regula falsi's bracket [a, b] (values fa, fb of opposite signs) after the value fc
    at c: c replaces the end whose value has fc's sign, and an end kept twice running has
    its value halved (the Illinois rule; ``side``: which end moved last, 0 at first).
    Returns (a, b, fa, fb, side)."""
    if fc * fb > 0:
        b, fb = c, fc
        if side == -1:
            fa *= 0.5
        side = -1
    else:
        a, fa = c, fc
        if side == 1:
            fb *= 0.5
        side = 1
    return a, b, fa, fb, side


@njit(cache=True)
def _contiguous(prog, rows):
    """True if program rows 0 .. rows - 1 follow one another in the code."""
    for r in range(rows - 1):
        if prog[r, 1] != prog[r + 1, 0]:
            return False
    return True


@njit(cache=True)
def _check_data(iprog, fprog, n, charpit, s, p_guess, y, stack):
    """ValueError unless the arguments of :func:`initial_state` fit together."""
    m = n - 1
    nz = 2 * n + 1 if charpit else n + 1
    rows = n + 1 + n * m + m + ((n * m * m + m * m) if charpit else 0)
    if n < 2 or iprog.shape[1] != 2 or iprog.shape[0] < rows:
        raise ValueError("initial_state: iprog does not fit n (CompiledPDE.iprog and .n)")
    if charpit and (fprog.shape[1] != 2 or fprog.shape[0] < 2 * n + 2):
        raise ValueError("initial_state: fprog does not fit n (CompiledPDE.fprog)")
    if s.shape[0] != m or p_guess.shape[0] < n or y.shape[0] != nz * n:
        raise ValueError("initial_state: s must have n - 1 entries, p_guess n and y "
                         "nz * n (CompiledPDE.d)")  # fmt: skip
    _check_stack(stack)


@njit(cache=True)
def initial_states(icode, iconsts, iprog, fcode, fconsts, fprog, n, charpit, S, guesses, y0, ok):
    """:func:`initial_state` for every manifold sample ``S[r]`` (serial: cheap, and a
    parallel kernel costs seconds of compilation)."""
    if guesses.shape[0] != S.shape[0] or y0.shape[0] != S.shape[0] or ok.shape[0] != S.shape[0]:
        raise ValueError("initial_states: S, guesses, y0 and ok must have one row per sample")
    stack = np.empty(STACK_SIZE + y0.shape[1])  # (room for a run of rows: _initial_state)
    if S.shape[0]:  # (every row has the same shape: checked once)
        _check_data(iprog, fprog, n, charpit, S[0], guesses[0], y0[0], stack)
    for r in range(S.shape[0]):
        ok[r] = _initial_state(icode, iconsts, iprog, fcode, fconsts, fprog, n, charpit,
                               S[r], guesses[r], y0[r], stack)  # fmt: skip


@njit(cache=True)
def _newton_tol(rtol):
    """Newton onto a ray has converged when its step (relative to 1 + |s|) is below
    this: 1e-14, or a tenth of the integration's ``rtol`` when that is looser (the ray's
    end is no more accurate than that, and Newton would only wander in its noise)."""
    return max(1e-14, 0.1 * rtol)


@njit(cache=True)
def _inside(s, s_lo, s_hi):
    """Whether the manifold point ``s`` lies in the box [s_lo, s_hi] (up to rounding)."""
    for k in range(s.shape[0]):
        if s[k] < s_lo[k] - 1e-12 * (1.0 + abs(s_lo[k])) or s[k] > s_hi[k] + 1e-12 * (
            1.0 + abs(s_hi[k])
        ):
            return False
    return True


@njit(cache=True, nogil=True, error_model="numpy")
def locate(lo, hi, code, consts, prog, icode, iconsts, iprog, fcode, fconsts, fprog, n, charpit,
           e, targets, taus, seeds, seed_p, seed_h, zss, s_lo, s_hi, bracket, bracket_sign,
           rtol, atol, u_out, grad_out, s_out, ok, straight):  # fmt: skip
    """For each target point ``q`` in ``lo .. hi - 1`` find the ray through it by Newton
    on s; fill u and grad u (serial, without the GIL: see
    :func:`charme.solvers.characteristics.threads.over_rows`).

    ``e`` is the evolution variable: point ``q`` lies at time ``taus[q]``
    and its other coordinates are ``targets[q]`` (m values, variables in
    order without ``e``).  ``seeds[q]`` starts Newton (``seed_p[q]``, the
    seed ray's initial p, picks the Charpit branch; ``seed_h[q]``, a step
    size it took, or 0, starts the integration); ``ok[q]`` says whether
    it converged with s inside ``[s_lo, s_hi]``, and ``s_out[q]`` holds that s.

    On 1-D data (m = 1) ``zss[q]``, if given (one row per target, else no
    rows), estimates d(z_s)/ds at the seed: when the first Newton step is
    below ``ONE_STEP`` (a seed that close), the ray state and its z_s are moved
    along it linearly (errors O(step^2) and O(step) times the estimate's error,
    both below rounding) instead of integrating the ray a second time.

    On 1-D data a point may also come with a bracket: ``bracket[q]`` = (s_a, s_b)
    with x(s_a) - target of sign ``bracket_sign[q]`` (+1 or -1; 0: no bracket) and
    x(s_b) - target of the other, as two neighbouring traced rays give it.  Newton
    is then kept inside it, bisecting where a step would leave it, fail, or not
    halve the residual (the safeguard of ``rtsafe``, W. H. Press et al., Numerical
    Recipes, section 9.4): a ray that crosses the point between the two is found
    even where x(s) bends sharply between them (a steep or kinked stretch of data,
    a fan the rays barely sample); one that only closes in on a jump of the data
    (not landing on the point) is not taken.
    """
    m = n - 1
    curvatures = zss.shape[0] == targets.shape[0] and m == 1
    nz = 2 * n + 1 if charpit else n + 1
    d = nz * (m + 1)
    if not 0 <= lo <= hi <= targets.shape[0]:
        raise ValueError("locate: the rows lo .. hi - 1 must lie in targets")
    s = np.empty(m)
    y, work, v, stack, coef, jac, LU, res, step = newton_workspace(prog, nz, d, m)
    for q in range(lo, hi):
        for k in range(m):
            s[k] = seeds[q, k]
        h_guess = seed_h[q]  # first integration: the seed ray's step (0: a default)
        ok[q] = False
        u_out[q] = np.nan
        for i in range(n):
            grad_out[q, i] = np.nan
        sign = bracket_sign[q] if m == 1 else 0.0
        s_a, s_b = bracket[q, 0], bracket[q, 1]  # x(s_a) - target has the sign `sign`
        last = np.inf  # |residual| at the last iterate
        for it in range(120 if sign != 0.0 else 40):
            if not _initial_state(icode, iconsts, iprog, fcode, fconsts, fprog, n, charpit, s,
                                  seed_p[q], y, stack):  # fmt: skip
                break
            st, h, tau = integrate_ws(code, consts, prog, nz, y, 0.0, taus[q], rtol, atol,
                                      h_guess, work, v, stack, coef, straight)  # fmt: skip
            if st != RAY_OK:
                break
            h_guess = h
            row = 0
            for i in range(n):
                if i == e:
                    continue
                res[row] = y[i] - targets[q, row]
                for k in range(m):
                    jac[row, k] = y[nz + k * nz + i]
                row += 1
            hit = True  # the ray ends on the target exactly: solved, whatever the Jacobian
            for k in range(m):  # (x_s exactly 0 there: a focus the ray runs through)
                hit = hit and res[k] == 0.0
            if hit:
                for k in range(m):
                    step[k] = 0.0
            solved = hit or (_finite(jac) and _finite(res)
                             and abs(_lu_solve(jac, res, step, LU)) > 1e-300)  # fmt: skip
            if sign != 0.0 and math.isfinite(res[0]):  # inside the bracket: Newton or bisect
                if (res[0] > 0.0) == (sign > 0.0):
                    s_a = s[0]
                else:
                    s_b = s[0]
                new = s[0] - step[0] if solved else np.nan
                # (a step below rounding leaves s on the end just moved to it: inside)
                inside = min(s_a, s_b) <= new <= max(s_a, s_b)
                # not halving the residual, unless at rounding (a last tiny step)
                slow = abs(res[0]) > 0.5 * last and abs(step[0]) > 1e-9 * (1.0 + abs(s[0]))
                if res[0] != 0.0 and (not inside or slow):
                    step[0] = s[0] - 0.5 * (s_a + s_b)
                    solved = True
                last = abs(res[0])
            if not solved:
                break  # characteristics cross here (or left every bound): no unique ray
            size = 0.0
            for k in range(m):
                s[k] -= step[k]
                size = max(size, abs(step[k]) / (1.0 + abs(s[k])))
            # a first step this small from a seed whose d(z_s)/ds is known: z_s moves too
            along = curvatures and it == 0 and size < ONE_STEP and _finite(zss[q])
            if size >= _newton_tol(rtol) and not along:
                continue
            # the last step is below rounding of s: move the ray state along it linearly
            # (z_s carried by the ray; the error is O(step^2)) instead of integrating again
            for i in range(nz):
                acc = 0.0
                for k in range(m):
                    acc += y[nz + k * nz + i] * step[k]
                y[i] -= acc
            if along:
                for i in range(nz):
                    y[nz + i] -= zss[q, i] * step[0]
            if not _inside(s, s_lo, s_hi):
                break
            if sign != 0.0:  # bisection closes in on a jump of the data just as well
                off = abs(y[1 - e] - targets[q, 0])
                if not off <= 1e-9 * (1.0 + abs(targets[q, 0])):
                    break
            # (a ray landing on the point where x_s is singular, as at a caustic's tip at
            # the breaking time: u is the ray's, its gradient infinite, NaN here)
            _gradient(code, consts, prog, n, charpit, y, v, stack, grad_out[q])
            u_out[q] = y[n]
            for k in range(m):
                s_out[q, k] = s[k]
            ok[q] = True
            break


@njit(cache=True)
def hermite_seeds(S, X, XS, left, xt, seeds):
    """Newton's start on 1-D data: for each target ``xt[j]`` bracketed by the rays
    ``left[j]`` and ``left[j] + 1`` (positions ``X``, x_s ``XS`` at one level, ray
    parameters ``S``), the root in that bracket of the Hermite interpolant of x(s)
    through up to four neighbouring rays (degree 7: error O(h^8), close enough that
    one integration of the ray and a linear step finish Newton, see :func:`locate`).
    ``seeds[j]`` holds the linear guess on entry and the refined one on return; it
    is left alone where a ray's data are not finite or the root is not found.
    """
    nr = S.shape[0]
    z = np.empty(8)
    c = np.empty(8)
    for j in range(left.shape[0]):
        k = left[j]
        lo = max(k - 1, 0)
        hi = min(k + 2, nr - 1)
        while lo > 0 and hi - lo < 3:
            lo -= 1
        while hi < nr - 1 and hi - lo < 3:
            hi += 1
        ok = True
        for r in range(lo, hi + 1):
            if not (math.isfinite(X[r]) and math.isfinite(XS[r])):
                ok = False
        if not ok:  # the bracket's own two rays: cubic Hermite
            lo, hi = k, k + 1
            if not (math.isfinite(XS[k]) and math.isfinite(XS[k + 1])):
                continue
        npt = 2 * (hi - lo + 1)
        # divided differences on the doubled nodes (Newton form of the Hermite interpolant)
        for i in range(npt):
            z[i] = S[lo + i // 2]
            c[i] = X[lo + i // 2]
        for i in range(npt - 1, 0, -1):
            if i % 2 == 1:
                c[i] = XS[lo + i // 2]
            else:
                c[i] = (c[i] - c[i - 1]) / (z[i] - z[i - 1])
        for lev in range(2, npt):
            for i in range(npt - 1, lev - 1, -1):
                c[i] = (c[i] - c[i - 1]) / (z[i] - z[i - lev])
        a, b = S[k], S[k + 1]
        s = min(max(seeds[j], a), b)
        found = False
        for _ in range(30):
            p = c[npt - 1]
            dp = 0.0
            for i in range(npt - 2, -1, -1):
                dp = dp * (s - z[i]) + p
                p = p * (s - z[i]) + c[i]
            if not (dp != 0.0 and math.isfinite(p) and math.isfinite(dp)):
                break
            step = (p - xt[j]) / dp
            new = s - step
            if not a <= new <= b:  # left the bracket: not this root
                break
            s = new
            if abs(step) <= 1e-12 * (b - a):  # the seed need not be closer: Newton on
                found = True  # the ray squares its error
                break
        if found:
            seeds[j] = s


@njit(cache=True)
def seed_curvatures(S, ZS, left, seeds, out):
    """``out[j]``: d/ds at ``seeds[j]`` of the cubic through the x_s, u_s (, p_s) ``ZS`` of
    the four traced rays around the bracket ``left[j]``, ``left[j] + 1`` (1-D data, one
    level): d(z_s)/ds for :func:`locate`, accurate to O(h^3); NaN where a ray of the
    four is not finite or there are fewer than four rays."""
    nr = S.shape[0]
    w = np.empty(4)
    for j in range(left.shape[0]):
        if nr < 4:
            for c in range(ZS.shape[1]):
                out[j, c] = np.nan
            continue
        lo = min(max(left[j] - 1, 0), nr - 4)
        x = seeds[j]
        for a in range(4):  # derivative of the Lagrange basis polynomial a at x
            acc = 0.0
            for b in range(4):
                if b == a:
                    continue
                term = 1.0 / (S[lo + a] - S[lo + b])
                for c in range(4):
                    if c != a and c != b:
                        term *= (x - S[lo + c]) / (S[lo + a] - S[lo + c])
                acc += term
            w[a] = acc
        for c in range(ZS.shape[1]):
            out[j, c] = w[0] * ZS[lo, c] + w[1] * ZS[lo + 1, c] + w[2] * ZS[lo + 2, c] + w[
                3] * ZS[lo + 3, c]  # fmt: skip


@njit(cache=True)
def gradient(code, consts, prog, n, charpit, y, v, stack, out):
    """grad u at the end of a ray: p itself (Charpit), or the solution of
    ``[x_s1 .. x_sm, a]^T p = [u_s1 .. u_sm, b]`` (quasilinear)."""
    nz = 2 * n + 1 if charpit else n + 1
    if n < 2 or y.shape[0] != nz * n or v.shape[0] < nz or out.shape[0] < n:
        raise ValueError("gradient: y must have nz * n entries (CompiledPDE.d), v nz and out n")
    _check_stack(stack)
    if not charpit:
        _check_program(prog, nz)
    return _gradient(code, consts, prog, n, charpit, y, v, stack, out)


@njit(cache=True)
def _gradient(code, consts, prog, n, charpit, y, v, stack, out):
    """:func:`gradient` without its checks of the arguments (the kernels' own calls)."""
    m = n - 1
    nz = 2 * n + 1 if charpit else n + 1
    if charpit:
        for i in range(n):
            out[i] = y[n + 1 + i]
        return True
    for i in range(nz):
        v[i] = y[i]
    A = np.empty((n, n))
    rhs_ = np.empty(n)
    for k in range(m):
        for i in range(n):
            A[k, i] = y[nz + k * nz + i]
        rhs_[k] = y[nz + k * nz + n]
    for i in range(n):
        A[m, i] = eval_program(code, consts, prog[i, 0], prog[i, 1], v, stack, 0.0)
    rhs_[m] = eval_program(code, consts, prog[n, 0], prog[n, 1], v, stack, 0.0)
    p = np.empty(n)
    if not (_finite(A) and _finite(rhs_)) or not abs(_lu_solve(A, rhs_, p, A.copy())) > 1e-300:
        return False
    for i in range(n):
        out[i] = p[i]
    return True


#: outcomes of :func:`locate_general`
LOCATE_FAILED = 0
LOCATE_OK = 1
#: Newton converged, or was converging, onto a ray whose manifold point lies off the data
#: (outside the box [s_lo, s_hi]): no ray of the data reaches the point near there
LOCATE_OUTSIDE = 2
#: a Newton iterate this many sample spacings off the data, whose step is under 1/100 of
#: that distance (and under 1e-3 relative to the iterate), converges off the data: it
#: ends there
OFF_DATA = 1.0
#: Newton came within ``near`` of a solution found before for the same point: it would
#: converge onto that same ray (see :func:`locate_general`)
LOCATE_KNOWN = 3
#: :func:`locate_general` integrates its rays to this relative tolerance (or the solve's,
#: if looser) until Newton's step falls below :data:`LOOSE_UNTIL` (relative): the far
#: iterates, and those of points no ray reaches, cost a few steps each instead of
#: many; from there on, and for the solution, the solve's own tolerance
LOOSE_RTOL = 1e-8
LOOSE_UNTIL = 1e-4


@njit(cache=True)
def _newton_step(code, consts, prog, nz, n, m, y, target, stack, res, jac, step, LU):
    """Newton's step on (s, tau) at the ray state ``y`` towards the point ``target``:
    ``step`` solves [x_s1 .. x_sm, dx/dtau] step = x - target.  False where the system is
    not finite or singular."""
    for i in range(n):
        res[i] = y[i] - target[i]
        for k in range(m):
            jac[i, k] = y[nz + k * nz + i]
        jac[i, m] = eval_program(code, consts, prog[i, 0], prog[i, 1], y, stack, 0.0)
    return _finite(jac) and _finite(res) and abs(_lu_solve(jac, res, step, LU)) > 1e-300


@njit(cache=True)
def refine_seeds(code, consts, prog, nz, n, forward, backward, dtau, S, counts, s_lo, step_s,
                 targets, s, tau, rounds):  # fmt: skip
    """Newton on (s, tau) towards ``targets[q]`` from ``s[q]``, ``tau[q]`` (in place) on
    the traced samples instead of the rays: each step from the state of the sample
    nearest the iterate (ray of ``S`` nearest s, C-ordered over the ``counts`` samples
    per parameter from ``s_lo``, ``step_s`` apart; level nearest tau in ``forward``
    (tau >= 0) or ``backward``, ``dtau`` apart), until the nearest sample repeats or
    after ``rounds`` steps.  No ray is
    integrated: the result, within a fraction of a cell of the solution the iterate
    heads for, is a seed that Newton on the rays finishes in a few steps.  An iterate
    whose sample is not finite (or outside the traced rays) stays where it was."""
    m = n - 1
    stack = np.empty(STACK_SIZE)
    jac = np.empty((n, n))
    LU = np.empty((n, n))
    res = np.empty(n)
    step = np.empty(n)
    for q in range(targets.shape[0]):
        last = -1
        for _ in range(rounds):
            t = tau[q]
            if not math.isfinite(t):
                break
            ray = 0
            fine = True
            for k in range(m):
                if not math.isfinite(s[q, k]):
                    fine = False
                    break
                i = int(round((s[q, k] - s_lo[k]) / step_s[k]))
                ray = ray * counts[k] + min(max(i, 0), counts[k] - 1)
            if not fine:
                break
            rays = forward if t >= 0.0 else backward
            level = min(int(round(abs(t) / dtau)), rays.shape[1] - 1)
            if level < 0 or ray >= rays.shape[0]:
                break
            key = (2 * (ray * rays.shape[1] + level)) + (1 if t < 0.0 else 0)
            if key == last:
                break
            last = key
            y = rays[ray, level]
            if not _newton_step(code, consts, prog, nz, n, m, y, targets[q], stack, res, jac,
                                step, LU):  # fmt: skip
                break
            for k in range(m):
                s[q, k] = S[ray, k] - step[k]
            tau[q] = (level * dtau if t >= 0.0 else -level * dtau) - step[m]


@njit(cache=True)
def _off_data(s, s_lo, s_hi, spacing):
    """How many sample spacings ``spacing`` the manifold point ``s`` lies outside the box
    [s_lo, s_hi] (the largest over the parameters; 0 inside)."""
    far = 0.0
    for k in range(s.shape[0]):
        far = max(far, (s_lo[k] - s[k]) / spacing[k], (s[k] - s_hi[k]) / spacing[k])
    return far


@njit(cache=True)
def _near_known(s, tau, known, count, near):
    """Whether (``s``, ``tau``) lies within ``near`` (per component, tau last) of one of
    the first ``count`` rows of ``known`` (manifold parameters, then tau; a NaN tau
    stands for any: a ray off the data)."""
    m = s.shape[0]
    for j in range(count):
        hit = abs(tau - known[j, m]) <= near[m] or math.isnan(known[j, m])
        for k in range(m):
            hit = hit and abs(s[k] - known[j, k]) <= near[k]
        if hit:
            return True
    return False


@njit(cache=True, nogil=True, error_model="numpy")
def locate_general(lo, hi, code, consts, prog, icode, iconsts, iprog, fcode, fconsts, fprog, n,
                   charpit, targets, seeds, seed_tau, seed_p, s_lo, s_hi, spacing, tau_max, known,
                   n_known, near, rtol, atol, u_out, grad_out, tau_out, s_out,
                   status, straight):  # fmt: skip
    """Like :func:`locate` (the points ``lo .. hi - 1``, serial, without the GIL) when no
    variable is an evolution variable: Newton on
    (s, tau) with the Jacobian ``[x_s1 .. x_sm, dx/dtau]`` (n unknowns); the
    solution's ray parameters go to ``s_out`` and ``tau_out``, ``status[q]`` is one
    of ``LOCATE_*``.  An iterate with |tau| beyond ``tau_max`` (past where the rays
    were traced) ends the search: a point no ray reaches would otherwise cost every
    iteration a long integration.  So does an iterate at least ``OFF_DATA`` sample
    spacings (``spacing``) off the data whose step is under 1/100 of that distance
    and under 1e-3 relative to the iterate (``LOCATE_OUTSIDE``, the iterate in
    ``s_out`` and ``tau_out``): in Newton's quadratic convergence the rest of its way
    is shorter than that step, so it would converge off the data.  And so does an
    iterate within ``near`` (per component, tau last) of one of the ``n_known[q]``
    solutions ``known[q]`` (manifold parameters, then tau) found before for the point
    (``LOCATE_KNOWN``): close to a solution Newton converges onto it.

    Newton has converged when its step is below the tolerance, or when the rate of
    its last two steps says that the rest of its way is; the state at the solution is
    then the last integrated one moved by the last step to first order (for the
    quasilinear gradient, which that leaves off by the step, only when the step is
    below the tolerance; otherwise the ray is integrated once more)."""
    m = n - 1
    nz = 2 * n + 1 if charpit else n + 1
    d = nz * (m + 1)
    if not 0 <= lo <= hi <= targets.shape[0]:
        raise ValueError("locate_general: the rows lo .. hi - 1 must lie in targets")
    s = np.empty(m)
    dy = np.empty(d)
    y, work, v, stack, coef, jac, LU, res, step = newton_workspace(prog, nz, d, n)
    for q in range(lo, hi):
        for k in range(m):
            s[k] = seeds[q, k]
        tau = seed_tau[q]
        status[q] = LOCATE_FAILED
        u_out[q] = np.nan
        tau_out[q] = np.nan
        for i in range(n):
            grad_out[q, i] = np.nan
        last = np.nan  # the last Newton step's size (none yet: no rate)
        loose = rtol < LOOSE_RTOL  # (the iterates' rays integrated to LOOSE_RTOL)
        for _ in range(50):
            if _near_known(s, tau, known[q], n_known[q], near):
                status[q] = LOCATE_KNOWN
                break
            if not _initial_state(icode, iconsts, iprog, fcode, fconsts, fprog, n, charpit, s,
                                  seed_p[q], y, stack):  # fmt: skip
                break
            st, h, t_end = integrate_ws(code, consts, prog, nz, y, 0.0, tau,
                                        LOOSE_RTOL if loose else rtol, atol, 0.0, work, v,
                                        stack, coef, straight)  # fmt: skip
            if st != RAY_OK:
                break
            for i in range(nz):
                v[i] = y[i]
            if not _newton_step(code, consts, prog, nz, n, m, y, targets[q], stack, res, jac,
                                step, LU):  # fmt: skip
                break
            size = 0.0
            moved = 0.0  # the step along the data, in sample spacings
            for k in range(m):
                s[k] -= step[k]
                size = max(size, abs(step[k]) / (1.0 + abs(s[k])))
                moved = max(moved, abs(step[k]) / spacing[k])
            tau -= step[m]
            if not abs(tau) <= tau_max:
                break
            size = max(size, abs(step[m]) / (1.0 + abs(tau)))
            if loose and size < LOOSE_UNTIL:  # near: from here on the solve's tolerance
                loose = False
                last = np.nan
                continue
            # converged: the step is below the tolerance, or Newton's rate (this step over
            # the last) says that the rest of its way is (Hairer and Wanner's test)
            rate = size / last
            last = size
            if loose or (
                size >= _newton_tol(rtol)
                and not (rate < 0.1 and rate * size / (1.0 - rate) < _newton_tol(rtol))
            ):  # (a loosely integrated iterate never counts as converged)
                far = _off_data(s, s_lo, s_hi, spacing)
                if far >= OFF_DATA and size <= 1e-3 and 100.0 * moved <= far:
                    status[q] = LOCATE_OUTSIDE
                    tau_out[q] = tau
                    for k in range(m):
                        s_out[q, k] = s[k]
                    break
                continue
            if not _inside(s, s_lo, s_hi):  # converged off the data
                status[q] = LOCATE_OUTSIDE
                tau_out[q] = tau
                for k in range(m):
                    s_out[q, k] = s[k]
                break
            if charpit or size < _newton_tol(rtol):
                # the state at the last step's end to first order, not integrated again:
                # along tau by the ray system itself, along s (the ray's z only) by z_s.
                # z (x, u and, for Charpit, the gradient p) is then off by the step's
                # square, z_s by the step: the quasilinear gradient (from z_s) only when
                # the step is below the tolerance
                rhs(code, consts, prog, nz, y, dy, v, stack, coef)
                for i in range(d):
                    y[i] -= dy[i] * step[m]
                for k in range(m):
                    for i in range(nz):
                        y[i] -= y[nz + k * nz + i] * step[k]
            else:
                if not _initial_state(icode, iconsts, iprog, fcode, fconsts, fprog, n, charpit,
                                      s, seed_p[q], y, stack):  # fmt: skip
                    break
                st, h, t_end = integrate_ws(code, consts, prog, nz, y, 0.0, tau, rtol, atol, 0.0,
                                            work, v, stack, coef, straight)  # fmt: skip
                if st != RAY_OK:
                    break
            if _finite(y) and _gradient(code, consts, prog, n, charpit, y, v, stack,
                                       grad_out[q]):  # fmt: skip
                u_out[q] = y[n]
                tau_out[q] = tau
                for k in range(m):
                    s_out[q, k] = s[k]
                status[q] = LOCATE_OK
            break


@njit(cache=True)
def eval_rows(code, consts, prog, rows, Z, out):
    """``out[r, k]`` = program row ``rows[k]`` at the state ``Z[r]``.

    Rows ``0 .. n-1`` of the ray program are dx/dtau, row ``n`` is du/dtau.
    """
    stack = np.empty(STACK_SIZE)
    for r in range(Z.shape[0]):
        z = Z[r]
        for k in range(rows.shape[0]):
            a, b = prog[rows[k], 0], prog[rows[k], 1]
            out[r, k] = eval_program(code, consts, a, b, z, stack, 0.0)


@njit(cache=True)
def _lu_solve(A, b, x, LU):
    """Solve the small dense system A x = b by Gaussian elimination with partial
    pivoting; returns det A (0.0 if singular or not finite, x then undefined).

    ``A`` and ``b`` are left alone; ``LU`` (n x n) is scratch.  Written out
    rather than ``np.linalg``: the systems are 1x1 to 4x4 inside per-ray
    loops, where LAPACK's call overhead and its Numba compile time dominate.
    """
    n = A.shape[0]
    for i in range(n):
        for j in range(n):
            LU[i, j] = A[i, j]
        x[i] = b[i]
    det = 1.0
    for k in range(n):
        p = k
        big = abs(LU[k, k])
        for i in range(k + 1, n):
            if abs(LU[i, k]) > big:
                big = abs(LU[i, k])
                p = i
        if not big > 0.0 or not math.isfinite(big):
            return 0.0
        if p != k:
            for j in range(n):
                LU[k, j], LU[p, j] = LU[p, j], LU[k, j]
            x[k], x[p] = x[p], x[k]
            det = -det
        det *= LU[k, k]
        for i in range(k + 1, n):
            f = LU[i, k] / LU[k, k]
            for j in range(k + 1, n):
                LU[i, j] -= f * LU[k, j]
            x[i] -= f * x[k]
    for i in range(n - 1, -1, -1):
        acc = x[i]
        for j in range(i + 1, n):
            acc -= LU[i, j] * x[j]
        x[i] = acc / LU[i, i]
    return det


@njit(cache=True)
def _det_lu(J):
    """Determinant of a small square matrix by LU with partial pivoting (``J`` overwritten)."""
    n = J.shape[0]
    det = 1.0
    for k in range(n):
        p = k
        big = abs(J[k, k])
        for i in range(k + 1, n):
            if abs(J[i, k]) > big:
                big = abs(J[i, k])
                p = i
        if big == 0.0:
            return 0.0
        if p != k:
            for j in range(n):
                J[k, j], J[p, j] = J[p, j], J[k, j]
            det = -det
        det *= J[k, k]
        for i in range(k + 1, n):
            f = J[i, k] / J[k, k]
            for j in range(k + 1, n):
                J[i, j] -= f * J[k, j]
    return det


@njit(cache=True, parallel=True)
def jacobian_dets(code, consts, prog, nz, n, Y, out):
    """``out[r]`` = det [x_s1 .. x_sm, dx/dtau] at the ray state ``Y[r]``.

    The Jacobian of (s, tau) -> x: it changes sign where characteristics
    cross.  NaN where the state is not finite.  Rows in blocks, one per
    thread at a time.
    """
    m = n - 1
    rows = Y.shape[0]
    block = 4096
    for b in prange((rows + block - 1) // block):
        stack = np.empty(STACK_SIZE)
        J = np.empty((n, n))
        for r in range(b * block, min(rows, (b + 1) * block)):
            y = Y[r]
            finite = True
            for i in range(nz * (m + 1)):
                if not math.isfinite(y[i]):
                    finite = False
                    break
            if not finite:
                out[r] = np.nan
                continue
            for k in range(m):
                for i in range(n):
                    J[k, i] = y[nz + k * nz + i]
            for i in range(n):
                J[m, i] = eval_program(code, consts, prog[i, 0], prog[i, 1], y, stack, 0.0)
            out[r] = _det_lu(J)


@njit(cache=True, nogil=True, error_model="numpy")
def first_sign_changes(lo, hi, code, consts, prog, nz, n, out, taus, det0, touch_below, flip,
                       before, after, touch):  # fmt: skip
    """Per ray ``r`` in ``lo .. hi - 1`` of ``out[r, level]`` (levels at ``taus``; serial,
    without the GIL: see :func:`charme.solvers.characteristics.threads.over_rows`): the first level
    ``flip[r]`` >= 1 where the determinant of :func:`jacobian_dets` has the sign
    opposite to ``det0[r]`` (or is 0), with the determinants at the level before and
    at it; -1 if there is none.  Or where it touches 0 without changing sign (a
    focus of rays in 2+ dimensions, det ~ (1 - tau)^2): a local minimum whose
    parabola through three levels falls to ``touch_below`` times |det0[r]|;
    ``touch[r]`` is then the parabola's vertex (NaN otherwise).  Each ray is scanned
    only up to its first crossing (the rays that cross early, fronts converging on a
    focus, cost a few levels instead of all)."""
    m = n - 1
    R, L, _ = out.shape
    if not 0 <= lo <= hi <= R:
        raise ValueError("first_sign_changes: the rows lo .. hi - 1 must lie in out")
    stack = np.empty(STACK_SIZE)
    J = np.empty((n, n))
    for r in range(lo, hi):
        flip[r] = -1
        touch[r] = np.nan
        prev = np.nan
        prev2 = np.nan
        for k in range(L):
            y = out[r, k]
            finite = True
            for i in range(nz * (m + 1)):
                if not math.isfinite(y[i]):
                    finite = False
                    break
            if not finite:
                prev = np.nan
                continue
            for kk in range(m):
                for i in range(n):
                    J[kk, i] = y[nz + kk * nz + i]
            for i in range(n):
                J[m, i] = eval_program(code, consts, prog[i, 0], prog[i, 1], y, stack, 0.0)
            det = _det_lu(J)
            if k > 0 and det * det0[r] <= 0.0:
                flip[r] = k
                before[r] = prev
                after[r] = det
                break
            if m >= 2 and k >= 2 and math.isfinite(prev2):
                vertex = _dip(taus[k - 2], taus[k - 1], taus[k], abs(prev2), abs(prev),
                              abs(det), touch_below * abs(det0[r]))  # fmt: skip
                if math.isfinite(vertex):
                    flip[r] = k
                    before[r] = prev
                    after[r] = det
                    touch[r] = vertex
                    break
            prev2 = prev
            prev = det


@njit(cache=True)
def first_dips(taus, g, floor, limit, vertex, level):
    """Per ray ``r`` of the positive values ``g[r, level]`` at ``taus``: the first dip to
    0 without a sign change before ``limit[r]``, as in :func:`first_sign_changes`
    (a local minimum whose parabola through three levels falls to ``floor[r]``):
    its vertex in ``vertex[r]`` and its middle level in ``level[r]``, else NaN, -1."""
    for r in range(g.shape[0]):
        vertex[r] = np.nan
        level[r] = -1
        for k in range(2, g.shape[1]):
            if not (g[r, k - 1] > 0.0 and math.isfinite(g[r, k - 2]) and math.isfinite(g[r, k])):
                continue
            v = _dip(taus[k - 2], taus[k - 1], taus[k], g[r, k - 2], g[r, k - 1], g[r, k],
                     floor[r])  # fmt: skip
            if math.isfinite(v):
                if abs(v) < limit[r]:
                    vertex[r] = v
                    level[r] = k - 1
                break


@njit(cache=True)
def _dip(t0, t1, t2, f0, f1, f2, floor):
    """The vertex of the parabola through (t0, f0), (t1, f1), (t2, f2) if f1 is a local
    minimum and the parabola falls to ``floor`` between t0 and t2, else NaN."""
    if not (f1 <= f0 and f1 <= f2):
        return np.nan
    d01 = (f1 - f0) / (t1 - t0)
    d12 = (f2 - f1) / (t2 - t1)
    a = (d12 - d01) / (t2 - t0)
    if not a > 0.0:
        return np.nan
    vertex = 0.5 * (t0 + t1) - d01 / (2.0 * a)
    low = f1 + d01 * (vertex - t1) + a * (vertex - t0) * (vertex - t1)
    if min(t0, t2) <= vertex <= max(t0, t2) and low <= floor:
        return vertex
    return np.nan


CROSSING_FOUND = 0  # a sign change of det J, refined to rounding
CROSSING_TOUCH = 1  # det J touches zero without changing sign (a focus)
CROSSING_NONE = 2  # no crossing in the interval (the coarse estimate was noise)
CROSSING_FAILED = 3  # the ray could not be integrated there


@njit(cache=True)
def _det_at(code, consts, prog, nz, n, y, J, stack):
    m = n - 1
    for k in range(m):
        for i in range(n):
            J[k, i] = y[nz + k * nz + i]
    for i in range(n):
        J[m, i] = eval_program(code, consts, prog[i, 0], prog[i, 1], y, stack, 0.0)
    return _det_lu(J)


@njit(cache=True)
def refine_crossing(code, consts, prog, nz, n, y_lo, lo_t, hi_t, rtol, atol, subdivisions,
                    y_out, straight):  # fmt: skip
    """Where det [x_s, dx/dtau] of the ray at state ``y_lo`` (time ``lo_t``) first
    vanishes in ``[lo_t, hi_t]`` (either direction): ``(status, tau)``.

    The sign change is looked for at the interval's end, else on
    ``subdivisions`` equal steps (two close roots can hide in one interval,
    a tangency has none), then refined by the Illinois variant of regula
    falsi to rounding of tau.  ``y_out`` receives the state there.  Status:
    ``CROSSING_FOUND``, ``CROSSING_TOUCH`` (|det| fell below 1e-8 of its
    start without a sign change: a focus, at a subdivision's precision),
    ``CROSSING_NONE`` or ``CROSSING_FAILED``.  A straight ray in two variables
    (``straight``, n = 2) has det linear in tau: its zero is set in closed form.
    """
    d = y_lo.shape[0]
    work, v, stack, coef = workspace(prog, nz, d)
    if straight and n == 2:
        return _straight_crossing(code, consts, prog, nz, y_lo, lo_t, hi_t, y_out, work, v,
                                  stack, coef)  # fmt: skip
    J = np.empty((n, n))
    y = np.empty(d)

    # every state is integrated from the interval's start, the first step the one the
    # error control proposed at the end of the first (over the whole interval): a
    # straight ray then takes one step, and a root of det is not moved by the rounding
    # of intermediate steps
    h_first = np.zeros(1)

    def state(t, out):  # y at t, integrated from the interval's start
        for i in range(d):
            out[i] = y_lo[i]
        st, h, tt = integrate_ws(code, consts, prog, nz, out, lo_t, t, rtol, atol, h_first[0],
                                 work, v, stack, coef, straight)  # fmt: skip
        if st == RAY_OK and h_first[0] == 0.0:
            h_first[0] = h
        return st == RAY_OK

    f_lo = _det_at(code, consts, prog, nz, n, y_lo, J, stack)
    a_t, fa = lo_t, f_lo
    b_t, fb = hi_t, 0.0
    bracket = False
    if state(hi_t, y):
        fb = _det_at(code, consts, prog, nz, n, y, J, stack)
        bracket = f_lo * fb <= 0.0
    if not bracket:
        best_abs, best_t = abs(f_lo), lo_t
        prev_t, prev_f = lo_t, f_lo
        ts = np.empty(subdivisions + 1)
        fs = np.empty(subdivisions + 1)
        ts[0], fs[0] = lo_t, f_lo
        for j in range(1, subdivisions + 1):
            t = lo_t + (hi_t - lo_t) * j / subdivisions
            if not state(t, y):
                return CROSSING_FAILED, t
            f = _det_at(code, consts, prog, nz, n, y, J, stack)
            ts[j], fs[j] = t, f
            if prev_f * f <= 0.0:
                a_t, fa, b_t, fb = prev_t, prev_f, t, f
                bracket = True
                break
            if abs(f) < best_abs:
                best_abs, best_t = abs(f), t
            prev_t, prev_f = t, f
        # two close roots hide in one step (det dips through 0 and back, as where rays
        # focus nearly to a point), or det touches 0: each least |det| of the steps
        # below a twentieth of its start, in turn, minimised by golden sections until
        # det changes sign
        j = 1
        dipped = False
        while not bracket and j < subdivisions:
            if (abs(fs[j]) < abs(fs[j - 1]) and abs(fs[j]) <= abs(fs[j + 1])
                    and abs(fs[j]) <= 0.05 * abs(f_lo)):  # fmt: skip
                sgn = 1.0 if fs[j] > 0 else -1.0
                p_t, q_t = ts[j - 1], ts[j + 1]
                c_t = q_t - GOLDEN * (q_t - p_t)
                d_t = p_t + GOLDEN * (q_t - p_t)
                fc = fd = 0.0
                ok = state(c_t, y)
                if ok:
                    fc = _det_at(code, consts, prog, nz, n, y, J, stack)
                ok = ok and state(d_t, y)
                if ok:
                    fd = _det_at(code, consts, prog, nz, n, y, J, stack)
                for _ in range(80):
                    if not ok:
                        break
                    for t, f in ((c_t, fc), (d_t, fd)):
                        if abs(f) < best_abs:
                            best_abs, best_t = abs(f), t
                    if sgn * fc <= 0.0 or sgn * fd <= 0.0:
                        first_t, first_f = (c_t, fc) if sgn * fc <= 0.0 else (d_t, fd)
                        a_t, fa, b_t, fb = ts[j - 1], fs[j - 1], first_t, first_f
                        bracket = dipped = True
                        break
                    if q_t - p_t <= 1e-15 * max(1.0, abs(q_t)):
                        break
                    if sgn * fc < sgn * fd:
                        q_t, d_t, fd = d_t, c_t, fc
                        c_t = q_t - GOLDEN * (q_t - p_t)
                        ok = state(c_t, y)
                        if ok:
                            fc = _det_at(code, consts, prog, nz, n, y, J, stack)
                    else:
                        p_t, c_t, fc = c_t, d_t, fd
                        d_t = p_t + GOLDEN * (q_t - p_t)
                        ok = state(d_t, y)
                        if ok:
                            fd = _det_at(code, consts, prog, nz, n, y, J, stack)
            j += 1
        if dipped:  # (y: the state at the bracket's end, as below expects)
            state(b_t, y)
        if not bracket:
            if best_abs <= 1e-8 * abs(f_lo):
                state(best_t, y_out)
                return CROSSING_TOUCH, best_t
            return CROSSING_NONE, hi_t
    if fb == 0.0 and fa != 0.0:  # det is 0 at the bracket's end itself (y is the state there)
        for i in range(d):  # (regula falsi would only close in on it from inside)
            y_out[i] = y[i]
        return CROSSING_FOUND, b_t
    t_best = b_t
    side = 0
    for _ in range(100):
        t_new = (a_t * fb - b_t * fa) / (fb - fa) if fb != fa else 0.5 * (a_t + b_t)
        if not min(a_t, b_t) < t_new < max(a_t, b_t):
            t_new = 0.5 * (a_t + b_t)
        if not state(t_new, y):
            break
        f = _det_at(code, consts, prog, nz, n, y, J, stack)
        t_best = t_new
        for i in range(d):
            y_out[i] = y[i]
        a_t, b_t, fa, fb, side = illinois_update(a_t, b_t, fa, fb, t_new, f, side)
        if abs(b_t - a_t) <= 4e-16 * max(1.0, abs(t_new)) or f == 0.0:
            break
    if t_best == b_t and side == 0:  # not a single step taken
        if not state(t_best, y_out):
            return CROSSING_FAILED, t_best
    return CROSSING_FOUND, t_best


@njit(cache=True)
def _straight_crossing(code, consts, prog, nz, y_lo, lo_t, hi_t, y_out, work, v, stack, coef):
    """:func:`refine_crossing` for a straight ray in two variables: with f = dy/dtau
    (constant), det [x_s, dx/dtau] = det [x_s(lo) + (tau - lo) f_xs, f_x] is linear in
    tau, and its zero in [lo_t, hi_t] (either direction) is -det(lo) / its slope."""
    f = work[0]
    rhs(code, consts, prog, nz, y_lo, f, v, stack, coef)
    g0, g1 = f[0], f[1]
    d0 = y_lo[nz] * g1 - y_lo[nz + 1] * g0
    d1 = f[nz] * g1 - f[nz + 1] * g0
    if not (math.isfinite(d0) and math.isfinite(d1)):
        return CROSSING_FAILED, lo_t
    if d0 != 0.0 and d1 == 0.0:
        return CROSSING_NONE, hi_t
    dt = -d0 / d1 if d0 != 0.0 else 0.0
    span = hi_t - lo_t
    if not (dt * span >= 0.0 and abs(dt) <= abs(span)):
        return CROSSING_NONE, hi_t
    t = lo_t + dt
    for i in range(y_lo.shape[0]):
        y_out[i] = y_lo[i] + dt * f[i]
    return CROSSING_FOUND, t


@njit(cache=True)
def _apart(a, b, spacing, tol):
    """Whether ``a`` and ``b`` differ by more than ``tol`` spacings in some component."""
    for k in range(a.shape[0]):
        if abs(a[k] - b[k]) > tol * spacing[k]:
            return True
    return False


@njit(cache=True)
def spread_seeds(near, S, spacing, apart, out, wide=0.0, close=-1):
    """Seeds for the branches through each point (data of any dimension).

    ``near[q]`` lists rays by distance of their ends from point ``q`` (-1:
    none); ``out[q]`` receives the first of them, in that order, whose manifold
    parameters ``S[r]`` lie more than ``apart`` spacings (``spacing[k]`` along
    parameter k, in at least one parameter) from every ray taken before for
    ``q``, at most ``out.shape[1]`` of them, -1 after the last.  Rays close on
    the data lead Newton to the same branch; rays apart can reach different
    ones.  With ``close`` >= 0, only the first ``close`` seeds are taken so; the
    rest, from the rays left in the same order, lie more than ``wide`` spacings
    from every seed taken (near a focus the nearest rays crowd round the one
    branch whose rays are densest there, and another branch's lie far off on
    the data), and slots still free are filled as the first.
    """
    most = out.shape[1]
    for q in range(near.shape[0]):
        count = 0
        for phase in range(3):  # (the last: the slots still free, as the first)
            if count == most or (phase > 0 and close < 0):
                break
            gap = max(apart, wide) if phase == 1 else apart
            for j in range(near.shape[1]):
                r = near[q, j]
                if r < 0:
                    continue
                fresh = True
                for c in range(count):
                    if out[q, c] == r or not _apart(S[r], S[out[q, c]], spacing, gap):
                        fresh = False
                        break
                if fresh:
                    out[q, count] = r
                    count += 1
                    if count == most or (phase == 0 and count == close):
                        break
        for c in range(count, most):
            out[q, c] = -1


@njit(cache=True)
def distinct_rays(owner, s, ok, spacing, tol, keep):
    """``keep[j]``: ray ``j`` converged (``ok[j]``) and its manifold parameters
    ``s[j]`` differ, by more than ``tol`` spacings in some parameter, from every
    ray kept before it for the same point ``owner[j]`` (``owner`` ascending): the
    distinct branches through each point, in the order found."""
    first = 0  # the first ray of the current point
    for j in range(owner.shape[0]):
        if j > 0 and owner[j] != owner[j - 1]:
            first = j
        keep[j] = False
        if not ok[j]:
            continue
        fresh = True
        for i in range(first, j):
            if keep[i] and not _apart(s[j], s[i], spacing, tol):
                fresh = False
                break
        keep[j] = fresh


@njit(cache=True)
def distinct_states(owner, u, g, keep):
    """``keep[j]``: solution j differs from every solution kept before it for the same
    point ``owner[j]`` (``owner`` grouped) in u (relative 1e-9) or in its gradient
    ``g[j]`` (1e-7 relative to the larger component): a characteristic is fixed by
    its state at the point, so equal states are one ray found from two seeds."""
    first = 0
    for j in range(owner.shape[0]):
        if j > 0 and owner[j] != owner[j - 1]:
            first = j
        fresh = True
        for i in range(first, j):
            if not keep[i]:
                continue
            if abs(u[j] - u[i]) > 1e-9 * (1.0 + abs(u[i])):
                continue
            big = 0.0
            diff = 0.0
            for k in range(g.shape[1]):
                big = max(big, abs(g[i, k]))
                diff = max(diff, abs(g[j, k] - g[i, k]))
            if diff > 1e-7 * (1.0 + big):
                continue
            fresh = False
            break
        keep[j] = fresh
