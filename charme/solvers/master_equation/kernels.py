"""Numba kernels of the finite state projection: states, generator, products.

Public contract as for the SSA kernels: arrays in, caller-owned outputs
filled, an integer status out.  Reference: B. Munsky and M. Khammash, "The
finite state projection algorithm for the solution of the chemical master
equation", J. Chem. Phys. 124 (2006) 044104.

The projected generator ``A`` (states in the projection only, flows that
leave it counted in the diagonal) is stored as CSR by *destination* row:
``(A p)_i = sum_k data[k] p[indices[k]]`` over ``indptr[i]:indptr[i+1]``, the
diagonal included.  Column sums are zero except for the outflow to the
sinks, so ``1 - sum(p)`` is the probability that has left the projection:
the L1 distance to the exact solution (Munsky & Khammash, Theorem 2.2).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.typed import Dict

from charme.solvers.gillespie.kernels import propensity

FSP_OK = 0
FSP_TOO_MANY_STATES = 1
FSP_INVALID_PROPENSITY = 2


@njit(cache=True)
def _key(x, lo, radix):
    k = 0
    for i in range(x.shape[0]):
        k = k * radix[i] + (x[i] - lo[i])
    return k


@njit(cache=True, inline="always")
def successor(net, j, x, lo, hi, y):
    """``y = x + nu_j``; returns whether ``y`` lies in the box ``[lo, hi]``."""
    for i in range(x.shape[0]):
        y[i] = x[i]
    for c in range(net.change_ptr[j], net.change_ptr[j + 1]):
        y[net.change_species[c]] += net.change_delta[c]
    for i in range(x.shape[0]):
        if y[i] < lo[i] or y[i] > hi[i]:
            return False
    return True


@njit(cache=True)
def enumerate_states(net, x0, lo, hi, max_states, states, leak, level):
    """Breadth-first enumeration of the states reachable from ``x0`` in the box.

    Parameters
    ----------
    net : SSANetwork
        Compiled network (only transitions with positive propensity count).
    x0 : int64[S]
        Initial state (must lie in the box).
    lo, hi : int64[S]
        Inclusive bounds of the box.
    max_states : int
        Capacity; ``states`` must have at least this many rows.
    states : int64[max_states, S]
        Filled with the states, in discovery order (``states[0] == x0``).
    leak : int64[M]
        Count, per reaction, of transitions that leave the box.
    level : int64[max_states]
        Breadth-first distance of each state from ``x0`` (non-decreasing in
        index; one transition raises it by at most one).

    Returns
    -------
    (status, n_states)
    """
    n_species = x0.shape[0]
    n_reactions = net.kind.shape[0]
    radix = np.empty(n_species, np.int64)
    for i in range(n_species):
        radix[i] = hi[i] - lo[i] + 1
    index = Dict.empty(key_type=types.int64, value_type=types.int64)
    stack = np.empty(max(net.stack_size, 1))
    y = np.empty(n_species, np.int64)
    for j in range(n_reactions):
        leak[j] = 0
    states[0, :] = x0
    level[0] = 0
    index[_key(x0, lo, radix)] = 0
    n = 1
    head = 0
    while head < n:
        x = states[head]
        for j in range(n_reactions):
            a = propensity(net, j, x, stack)
            if not (a == a) or a < 0.0:
                return FSP_INVALID_PROPENSITY, n
            if a <= 0.0:
                continue
            if not successor(net, j, x, lo, hi, y):
                leak[j] += 1
                continue
            k = _key(y, lo, radix)
            if k not in index:
                if n >= max_states:
                    return FSP_TOO_MANY_STATES, n
                index[k] = n
                states[n, :] = y
                level[n] = level[head] + 1
                n += 1
        head += 1
    return FSP_OK, n


@njit(cache=True, parallel=True)
def transitions(net, states, lo, hi, target, rate):
    """Propensity and destination of every (state, reaction) pair, in parallel.

    ``target[i, j]`` is the index of the state reached from state ``i`` by
    reaction ``j``, ``-1`` if it leaves the projection, ``-2`` if the
    propensity is zero; ``rate[i, j]`` the propensity.  Returns a status.
    """
    n, n_species = states.shape
    n_reactions = net.kind.shape[0]
    radix = np.empty(n_species, np.int64)
    for i in range(n_species):
        radix[i] = hi[i] - lo[i] + 1
    # key -> index lookup by binary search over sorted keys (thread-safe reads)
    keys = np.empty(n, np.int64)
    for i in range(n):
        keys[i] = _key(states[i], lo, radix)
    order = np.argsort(keys)
    sorted_keys = keys[order]
    bad = 0
    for i in prange(n):
        stack = np.empty(max(net.stack_size, 1))
        y = np.empty(n_species, np.int64)
        x = states[i]
        for j in range(n_reactions):
            a = propensity(net, j, x, stack)
            rate[i, j] = a
            if not (a == a) or a < 0.0:
                bad += 1
                target[i, j] = -2
                continue
            if a == 0.0:
                target[i, j] = -2
                continue
            if not successor(net, j, x, lo, hi, y):
                target[i, j] = -1
                continue
            k = _key(y, lo, radix)
            pos = np.searchsorted(sorted_keys, k)
            if pos < n and sorted_keys[pos] == k:
                target[i, j] = order[pos]
            else:
                target[i, j] = -1  # in the box but not reachable: cannot happen
    return FSP_INVALID_PROPENSITY if bad else FSP_OK


@njit(cache=True)
def assemble_csr(target, rate, reflect, indptr, indices, data, outflow):
    """The projected generator as CSR by destination row (diagonal first).

    ``indptr`` must have n+1 entries; ``indices``/``data`` room for
    ``n + (number of inside transitions)``; ``outflow[i]`` receives the rate
    at which state i leaks out of the projection.  With ``reflect`` the
    leaving transitions are dropped instead (a conservative generator, for
    stationary laws).  Returns nnz.
    """
    n, m = target.shape
    counts = np.ones(n, np.int64)  # the diagonal
    for i in range(n):
        for j in range(m):
            t = target[i, j]
            if t >= 0 and t != i:
                counts[t] += 1
    indptr[0] = 0
    for i in range(n):
        indptr[i + 1] = indptr[i] + counts[i]
    fill = indptr[:-1].copy()
    for i in range(n):
        indices[fill[i]] = i
        data[fill[i]] = 0.0
        fill[i] += 1
    for i in range(n):
        exit_rate = 0.0
        out = 0.0
        for j in range(m):
            t = target[i, j]
            if t == -2:
                continue
            a = rate[i, j]
            if t == i:
                continue  # a reaction that changes nothing inside the projection
            if t == -1 and reflect:
                out += a
                continue
            exit_rate += a
            if t == -1:
                out += a
            else:
                k = fill[t]
                indices[k] = i
                data[k] = a
                fill[t] += 1
        data[indptr[i]] = -exit_rate
        outflow[i] = out
    return indptr[n]


@njit(cache=True, parallel=True)
def csr_matvec(indptr, indices, data, x, out):
    """``out = A @ x`` for CSR ``A``, rows in parallel."""
    n = indptr.shape[0] - 1
    for i in prange(n):
        acc = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            acc += data[k] * x[indices[k]]
        out[i] = acc


@njit(cache=True, parallel=True)
def marginals(states, p, lo, n_counts, out_mean, out_var, out_marg):
    """Mean, variance and marginal distributions of each species under ``p``.

    ``out_marg`` is float64[S, n_counts]: P(X_s = lo_s + c) (counts outside
    the range are ignored; the caller sizes it to the box).
    """
    n, n_species = states.shape
    for s in prange(n_species):
        m1 = 0.0
        m2 = 0.0
        for c in range(n_counts):
            out_marg[s, c] = 0.0
        for i in range(n):
            v = float(states[i, s])
            m1 += p[i] * v
            m2 += p[i] * v * v
            c = states[i, s] - lo[s]
            if 0 <= c < n_counts:
                out_marg[s, c] += p[i]
        out_mean[s] = m1
        out_var[s] = m2


@njit(cache=True)
def csr_matvec_serial(indptr, indices, data, x, out):
    """``out = A @ x`` on one thread (small matrices: no thread start-up)."""
    n = indptr.shape[0] - 1
    for i in range(n):
        acc = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            acc += data[k] * x[indices[k]]
        out[i] = acc


@njit(cache=True, parallel=True)
def uniformized_accumulate(indptr, indices, data, inv_lam, x, out, acc, weight, n):
    """Rows ``0..n-1`` of ``out = (I + A/lam) x`` and ``acc += weight * out``, one pass."""
    for i in prange(n):
        s = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            s += data[k] * x[indices[k]]
        v = x[i] + s * inv_lam
        out[i] = v
        acc[i] += weight * v


@njit(cache=True)
def uniformized_accumulate_serial(indptr, indices, data, inv_lam, x, out, acc, weight, n):
    """One-thread :func:`uniformized_accumulate`."""
    for i in range(n):
        s = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            s += data[k] * x[indices[k]]
        v = x[i] + s * inv_lam
        out[i] = v
        acc[i] += weight * v


@njit(cache=True, parallel=True)
def gram_schmidt(V, j, p, h):
    """One classical Gram-Schmidt pass of ``p`` against rows ``V[0..j]``.

    ``h[k] += V[k] . p`` and ``p -= sum_k (V[k] . p) V[k]``; returns
    ``(|p| before, |p| after)``.  Written out so that no BLAS thread pool
    competes with Numba's (the two oversubscribe two cores badly).
    """
    n = p.shape[0]
    before = 0.0
    for i in prange(n):
        before += p[i] * p[i]
    dots = np.zeros(j + 1)
    for k in prange(j + 1):
        acc = 0.0
        row = V[k]
        for i in range(n):
            acc += row[i] * p[i]
        dots[k] = acc
    after = 0.0
    for i in prange(n):
        v = p[i]
        for k in range(j + 1):
            v -= dots[k] * V[k, i]
        p[i] = v
        after += v * v
    for k in range(j + 1):
        h[k] += dots[k]
    return np.sqrt(before), np.sqrt(after)


@njit(cache=True, parallel=True)
def combine_rows(V, coef, out):
    """``out = coef @ V[:len(coef)]`` (the Krylov solution update), rows in parallel."""
    n = out.shape[0]
    m = coef.shape[0]
    for i in prange(n):
        acc = 0.0
        for k in range(m):
            acc += coef[k] * V[k, i]
        out[i] = acc


@njit(cache=True, parallel=True)
def norm2(x):
    """Euclidean norm, in parallel."""
    acc = 0.0
    for i in prange(x.shape[0]):
        acc += x[i] * x[i]
    return np.sqrt(acc)
