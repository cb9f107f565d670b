"""Autodiff workloads W1 and W2: small graphs, where the cost per operation dominates.

  W1  scalar chain of 1,000 ops (sin, mul, exp, mul, add repeated 200 times), value + gradient
  W2  eight-schools non-centred log density, value_and_grad

Besides the hand-written baseline, Wengert's engine and the optional autograd and torch, both
run on a micrograd-style pure-Python reverse mode (`Value`, below) as a reference point.
Each `*_cases()` returns (cases, reference result, check tolerances, (unit, units per call)).
"""
import math
from types import SimpleNamespace

import numpy as np

from ad_cases import HAS_FUNCTIONAL, Case, Skip, ad, anp, autograd, torch, wengert_rows


# =================================================================================================
# micrograd-style reference: a pure-Python scalar reverse mode with closures (iterative topo sort)
class Value:
    __slots__ = ("data", "grad", "_prev", "_back")

    def __init__(self, data, prev=()):
        self.data, self.grad, self._prev, self._back = data, 0.0, prev, None

    def __add__(self, o):
        o = o if isinstance(o, Value) else Value(o)
        out = Value(self.data + o.data, (self, o))

        def back():
            self.grad += out.grad
            o.grad += out.grad
        out._back = back
        return out

    __radd__ = __add__

    def __mul__(self, o):
        o = o if isinstance(o, Value) else Value(o)
        out = Value(self.data * o.data, (self, o))

        def back():
            self.grad += o.data * out.grad
            o.grad += self.data * out.grad
        out._back = back
        return out

    __rmul__ = __mul__

    def __neg__(self): return self * -1.0
    def __sub__(self, o): return self + (-o)
    def __rsub__(self, o): return (-self) + o
    def __truediv__(self, c): return self * (1.0 / c)  # constants only

    def __pow__(self, k):  # constant exponent
        out = Value(self.data ** k, (self,))

        def back():
            self.grad += k * self.data ** (k - 1) * out.grad
        out._back = back
        return out

    def _unary(self, val, der):
        out = Value(val, (self,))

        def back():
            self.grad += der * out.grad
        out._back = back
        return out

    def sin(self): return self._unary(math.sin(self.data), math.cos(self.data))

    def exp(self):
        e = math.exp(self.data)
        return self._unary(e, e)

    def log1p(self): return self._unary(math.log1p(self.data), 1.0 / (1.0 + self.data))

    def backward(self):
        topo, seen, stack = [], set(), [(self, False)]
        while stack:
            v, done = stack.pop()
            if done:
                topo.append(v)
                continue
            if id(v) in seen:
                continue
            seen.add(id(v))
            stack.append((v, True))
            stack.extend((c, False) for c in v._prev if id(c) not in seen)
        self.grad = 1.0
        for v in reversed(topo):
            if v._back is not None:
                v._back()


# =================================================================================================
# W1: scalar chain
W1_STEPS = 200  # x <- sin(x) + exp(0.1 x) * 0.5: sin, mul, exp, mul, add = 5 ops a step
W1_OPS = 5 * W1_STEPS
W1_X0 = 0.3


def w1_chain(x, m):
    for _ in range(W1_STEPS):
        x = m.sin(x) + m.exp(x * 0.1) * 0.5
    return x


def w1_hand(x=W1_X0):
    d = 1.0
    for _ in range(W1_STEPS):
        e = math.exp(x * 0.1)
        d = (math.cos(x) + 0.05 * e) * d
        x = math.sin(x) + 0.5 * e
    return x, d


def w1_cases():
    cases = [Case("hand (Python floats, fwd derivative)", w1_hand, hand=True)]
    micro = SimpleNamespace(sin=lambda v: v.sin(), exp=lambda v: v.exp())

    def micrograd():
        x = Value(W1_X0)
        y = w1_chain(x, micro)
        y.backward()
        return y.data, x.grad
    cases.append(Case("micrograd-style (pure Python)", micrograd))

    def make():
        def tensor_api():
            x = ad.Node(W1_X0)
            y = w1_chain(x, ad)
            y.backward()
            return y, x.grad
        rows = [Case("wengert (Node + backward)", tensor_api, primary=True)]
        if HAS_FUNCTIONAL:
            vg = ad.value_and_grad(lambda x: w1_chain(x, ad))
            rows.append(Case("wengert value_and_grad", lambda: vg(W1_X0)))
        return rows
    cases += wengert_rows(make)

    if autograd is not None:
        a_vg = autograd.value_and_grad(lambda x: w1_chain(x, anp))
        cases.append(Case("autograd", lambda: a_vg(W1_X0)))
    else:
        cases.append(Skip("autograd", "not installed"))
    if torch is not None:
        def torch_eager():
            x = torch.tensor(W1_X0, dtype=torch.float64, requires_grad=True)
            y = w1_chain(x, torch)
            (g,) = torch.autograd.grad(y, x)
            return y, g
        cases.append(Case("torch eager", torch_eager))
    else:
        cases.append(Skip("torch", "not installed"))
    return cases, w1_hand(), dict(rtol=1e-9, atol=1e-12), ("op", W1_OPS)


# =================================================================================================
# W2: eight schools, non-centred
ES_Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
ES_SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
ES_CONST = (-math.log(5.0) - HALF_LOG_2PI              # Normal(mu | 0, 5)
            + math.log(2.0 / (math.pi * 5.0))          # HalfCauchy(tau | 5)
            - 8 * HALF_LOG_2PI                         # Normal(theta_tilde | 0, 1)
            - float(np.sum(np.log(ES_SIGMA))) - 8 * HALF_LOG_2PI)  # Normal(y | ., sigma)
ES_MU, ES_LOG_TAU = 1.5, 0.7
ES_TT = np.random.default_rng(8).standard_normal(8)


def es_logp(mu, log_tau, theta_tilde, m):
    """log p(mu, log tau, theta_tilde | y) up to nothing (all constants kept)."""
    tau = m.exp(log_tau)
    lp = -0.5 * (mu / 5.0) ** 2 - m.log1p((tau / 5.0) ** 2) + log_tau
    lp = lp + m.sum(-0.5 * theta_tilde ** 2)
    r = (m.Y - (mu + tau * theta_tilde)) / m.SIGMA
    return lp + m.sum(-0.5 * r ** 2) + ES_CONST


def es_hand(mu=ES_MU, lt=ES_LOG_TAU, tt=ES_TT):
    tau = np.exp(lt)
    r = (ES_Y - (mu + tau * tt)) / ES_SIGMA
    q = (tau / 5.0) ** 2
    lp = -0.5 * (mu / 5.0) ** 2 - np.log1p(q) + lt - 0.5 * tt @ tt - 0.5 * r @ r + ES_CONST
    rs = r / ES_SIGMA
    g_mu = -mu / 25.0 + np.sum(rs)
    g_lt = tau * (-2.0 * tau / 25.0 / (1.0 + q) + rs @ tt) + 1.0
    g_tt = -tt + tau * rs
    return lp, (g_mu, g_lt, g_tt)


def es_micro_logp(mu, lt, tt):
    tau = lt.exp()
    lp = -0.5 * (mu / 5.0) ** 2 - ((tau / 5.0) ** 2).log1p() + lt
    for t in tt:
        lp = lp + -0.5 * t ** 2
    for y, s, t in zip(ES_Y.tolist(), ES_SIGMA.tolist(), tt):
        r = (y - (mu + tau * t)) / s
        lp = lp + -0.5 * r ** 2
    return lp + ES_CONST


def w2_cases():
    cases = [Case("hand numpy (value + gradient)", es_hand, hand=True)]
    tt_list = ES_TT.tolist()

    def micrograd():
        mu, lt, tt = Value(ES_MU), Value(ES_LOG_TAU), [Value(t) for t in tt_list]
        lp = es_micro_logp(mu, lt, tt)
        lp.backward()
        return lp.data, (mu.grad, lt.grad, np.array([t.grad for t in tt]))
    cases.append(Case("micrograd-style (pure Python)", micrograd))

    def make():
        m = SimpleNamespace(exp=ad.exp, log1p=ad.log1p, sum=ad.sum, Y=ES_Y, SIGMA=ES_SIGMA)

        def tensor_api():
            mu = ad.Tensor(ES_MU, requires_grad=True)
            lt = ad.Tensor(ES_LOG_TAU, requires_grad=True)
            tt = ad.Tensor(ES_TT, requires_grad=True)
            lp = es_logp(mu, lt, tt, m)
            lp.backward()
            return lp, (mu.grad, lt.grad, tt.grad)
        rows = [Case("wengert (Tensor + backward)", tensor_api, primary=True)]
        if HAS_FUNCTIONAL:
            vg = ad.value_and_grad(lambda a, b, c: es_logp(a, b, c, m), argnums=(0, 1, 2))
            rows.append(Case("wengert value_and_grad", lambda: vg(ES_MU, ES_LOG_TAU, ES_TT)))
        return rows
    cases += wengert_rows(make)

    if autograd is not None:
        am = SimpleNamespace(exp=anp.exp, log1p=anp.log1p, sum=anp.sum, Y=ES_Y, SIGMA=ES_SIGMA)
        a_vg = autograd.value_and_grad(lambda a, b, c: es_logp(a, b, c, am), argnum=(0, 1, 2))
        cases.append(Case("autograd", lambda: a_vg(ES_MU, ES_LOG_TAU, ES_TT)))
    else:
        cases.append(Skip("autograd", "not installed"))
    if torch is not None:
        tm = SimpleNamespace(exp=torch.exp, log1p=torch.log1p, sum=torch.sum,
                             Y=torch.from_numpy(ES_Y), SIGMA=torch.from_numpy(ES_SIGMA))
        leaves = (torch.tensor(ES_MU, dtype=torch.float64, requires_grad=True),
                  torch.tensor(ES_LOG_TAU, dtype=torch.float64, requires_grad=True),
                  torch.from_numpy(ES_TT.copy()).requires_grad_())

        def torch_eager():
            lp = es_logp(*leaves, tm)
            return lp, torch.autograd.grad(lp, leaves)
        cases.append(Case("torch eager", torch_eager))
    else:
        cases.append(Skip("torch", "not installed"))
    return cases, es_hand(), dict(rtol=1e-9, atol=1e-12), ("call", 1)
