"""Autodiff workloads W3 to W5: array workloads, where numpy/BLAS does most of the work.

  W3  logistic-regression log likelihood, N=10,000, D=50, float64, value_and_grad
  W4  MLP 784-512-10 step, batch 128, float32: forward + mean cross-entropy + backward
  W5  f(x) = sum(softplus(A x)) + |x|^2/2, A 200x100: full Hessian and one Hessian-vector product

Each `*_cases()` returns (cases, reference result(s), check tolerances, (unit, units per call));
W5 has two groups of rows, "Hessian" and "HVP", each with its own reference.
"""
import math

import numpy as np
from scipy.special import expit

from ad_cases import (HAS_FUNCTIONAL, Case, F, Skip, a_logsumexp, ad, anp, autograd, to_np,
                      torch, wengert_rows)


# =================================================================================================
# W3: logistic regression
def w3_data(n=10_000, d=50):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((n, d))
    w_true = 0.3 * rng.standard_normal(d)
    y = (rng.random(n) < expit(X @ w_true)).astype(np.float64)
    w0 = 0.1 * rng.standard_normal(d)
    return X, y, w0


def w3_cases():
    X, y, w0 = w3_data()

    def hand():
        z = X @ w0
        return np.sum(y * z - np.logaddexp(0.0, z)), X.T @ (y - expit(z))
    cases = [Case("hand numpy (value + gradient)", hand, hand=True)]

    def hand_fast():  # the formulas autodiff's softplus uses: the overhead of AD alone
        z = X @ w0
        sp = np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))
        return np.sum(y * z - sp), X.T @ (y - np.exp(z - sp))
    cases.append(Case("hand numpy, engine's softplus formulas", hand_fast))

    def make():
        def tensor_api():
            w = ad.Tensor(w0, requires_grad=True)
            z = X @ w
            lp = ad.sum(y * z - ad.softplus(z))
            lp.backward()
            return lp, w.grad
        rows = [Case("wengert (Tensor + backward)", tensor_api, primary=True)]
        if HAS_FUNCTIONAL:
            def loglik(w):
                z = X @ w
                return ad.sum(y * z - ad.softplus(z))
            vg = ad.value_and_grad(loglik)
            rows.append(Case("wengert value_and_grad", lambda: vg(w0)))
        return rows
    cases += wengert_rows(make)

    if autograd is not None:
        def a_loglik(w):
            z = anp.dot(X, w)
            return anp.sum(y * z - anp.logaddexp(0.0, z))
        a_vg = autograd.value_and_grad(a_loglik)
        cases.append(Case("autograd", lambda: a_vg(w0)))
    else:
        cases.append(Skip("autograd", "not installed"))
    if torch is not None:
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        wt = torch.from_numpy(w0.copy()).requires_grad_()

        def torch_eager():
            z = Xt @ wt
            lp = torch.sum(yt * z - F.softplus(z))
            return lp, torch.autograd.grad(lp, wt)[0]
        cases.append(Case("torch eager", torch_eager))
    else:
        cases.append(Skip("torch", "not installed"))
    return cases, hand(), dict(rtol=1e-9, atol=1e-9), ("call", 1)


# =================================================================================================
# W4: MLP step, float32
W4_B, W4_IN, W4_H, W4_OUT = 128, 784, 512, 10


def w4_data():
    rng = np.random.default_rng(4)
    f32 = np.float32
    X = rng.random((W4_B, W4_IN), dtype=f32)
    labels = rng.integers(0, W4_OUT, W4_B)
    W1 = (rng.standard_normal((W4_IN, W4_H)) * math.sqrt(2.0 / W4_IN)).astype(f32)
    b1 = (0.01 * rng.standard_normal(W4_H)).astype(f32)
    W2 = (rng.standard_normal((W4_H, W4_OUT)) * math.sqrt(1.0 / W4_H)).astype(f32)
    b2 = (0.01 * rng.standard_normal(W4_OUT)).astype(f32)
    return X, labels, (W1, b1, W2, b2)


def w4_wengert_loss(X, labels):
    """Wengert's mean cross-entropy of the MLP on (X, labels), a function of its parameters."""
    lab_col = labels[:, None]

    def loss(W1, b1, W2, b2):
        h = ad.relu(X @ W1 + b1)
        lp = ad.log_softmax(h @ W2 + b2, axis=-1)
        return -ad.mean(ad.take_along_axis(lp, lab_col, axis=1))
    return loss


def w4_cases():
    X, labels, params = w4_data()
    rows_idx = np.arange(W4_B)

    def hand():
        W1, b1, W2, b2 = params
        z1 = X @ W1 + b1
        h = np.maximum(z1, 0)
        logits = h @ W2 + b2
        m = logits.max(axis=1, keepdims=True)
        e = np.exp(logits - m)
        s = e.sum(axis=1, keepdims=True)
        lsm = logits - m - np.log(s)
        loss = -lsm[rows_idx, labels].mean()
        d = e / s
        d[rows_idx, labels] -= 1
        d /= W4_B
        dW2 = h.T @ d
        db2 = d.sum(axis=0)
        dz1 = (d @ W2.T) * (z1 > 0)
        dW1 = X.T @ dz1
        db1 = dz1.sum(axis=0)
        return loss, (dW1, db1, dW2, db2)
    cases = [Case("hand numpy backprop (float32)", hand, hand=True)]

    w_loss = w4_wengert_loss(X, labels)

    def make():
        def tensor_api():
            ps = [ad.Tensor(p, requires_grad=True) for p in params]
            loss = w_loss(*ps)
            loss.backward()
            return loss, tuple(p.grad for p in ps)
        rows = [Case("wengert (Tensor + backward)", tensor_api, primary=True)]
        if HAS_FUNCTIONAL:
            vg = ad.value_and_grad(w_loss, argnums=(0, 1, 2, 3))
            rows.append(Case("wengert value_and_grad", lambda: vg(*params)))
        return rows
    cases += wengert_rows(make)

    if autograd is not None:
        def a_loss(W1, b1, W2, b2):
            h = anp.maximum(anp.dot(X, W1) + b1, 0.0)
            logits = anp.dot(h, W2) + b2
            lp = logits - a_logsumexp(logits, axis=1, keepdims=True)
            return -anp.mean(lp[rows_idx, labels])
        a_vg = autograd.value_and_grad(a_loss, argnum=(0, 1, 2, 3))
        cases.append(Case("autograd", lambda: a_vg(*params)))
    else:
        cases.append(Skip("autograd", "not installed"))
    if torch is not None:
        Xt, lt = torch.from_numpy(X), torch.from_numpy(labels)
        pt = [torch.from_numpy(p.copy()).requires_grad_() for p in params]

        def torch_eager():
            W1, b1, W2, b2 = pt
            h = torch.relu(Xt @ W1 + b1)
            lp = F.log_softmax(h @ W2 + b2, dim=-1)
            loss = -lp.gather(1, lt[:, None]).mean()
            return loss, torch.autograd.grad(loss, pt)
        cases.append(Case("torch eager", torch_eager))
    else:
        cases.append(Skip("torch", "not installed"))
    return cases, hand(), dict(rtol=2e-4, atol=1e-6), ("call", 1)


def w4_dtype_warning():
    """Wengert's float32 gradients should stay float32: a float64 promotion costs time.

    A warning line's text when they do not, else "".
    """
    X, labels, params = w4_data()
    ps = [ad.Tensor(p, requires_grad=True) for p in params]
    loss = w4_wengert_loss(X, labels)(*ps)
    loss.backward()
    bad = [f"{n}:{to_np(p.grad).dtype}" for n, p in zip(("W1", "b1", "W2", "b2"), ps)
           if to_np(p.grad).dtype != np.float32]
    if not bad and loss.dtype == np.float32:
        return ""
    return "wengert float32 promotion: loss " + str(loss.dtype) + "; grads not float32: " + \
        ", ".join(bad)


# =================================================================================================
# W5: Hessian and HVP
def w5_data(n=200, d=100):
    rng = np.random.default_rng(5)
    A = 0.1 * rng.standard_normal((n, d))
    x0 = 0.5 * rng.standard_normal(d)
    v = rng.standard_normal(d)
    return A, x0, v


def w5_cases():
    A, x0, v = w5_data()
    eye = np.eye(A.shape[1])

    def hand_hess():
        s = expit(A @ x0)
        return (A.T * (s * (1.0 - s))) @ A + eye

    def hand_hvp():
        s = expit(A @ x0)
        return A.T @ ((s * (1.0 - s)) * (A @ v)) + v

    def f(x):
        return ad.sum(ad.softplus(A @ x)) + 0.5 * ad.sum(x * x)

    H = dict(group="Hessian")
    P = dict(group="HVP")
    cases = [Case("hand numpy A'diag(s(1-s))A + I", hand_hess, hand=True, **H)]
    if HAS_FUNCTIONAL:
        cases.append(Case("wengert hessian (fwd-over-rev)", lambda: ad.hessian(f)(x0),
                          primary=True, **H))
        cases.append(Case("wengert jacrev(grad) (rev-over-rev)",
                          lambda: ad.jacrev(ad.grad(f))(x0), **H))
    else:
        cases.append(Skip("wengert", "autodiff.hessian not available yet", **H))
    if autograd is not None:
        def a_f(x):
            return anp.sum(anp.logaddexp(0.0, anp.dot(A, x))) + 0.5 * anp.sum(x * x)
        a_hess = autograd.hessian(a_f)
        a_hvp = autograd.hessian_vector_product(a_f)
        cases.append(Case("autograd hessian", lambda: a_hess(x0), **H))
    else:
        cases.append(Skip("autograd", "not installed", **H))
    if torch is not None:
        At, xt, vt = torch.from_numpy(A), torch.from_numpy(x0.copy()), torch.from_numpy(v)

        def t_f(x):
            return torch.sum(F.softplus(At @ x)) + 0.5 * torch.sum(x * x)
        t_hess = torch.func.hessian(t_f)
        cases.append(Case("torch.func.hessian", lambda: t_hess(xt), **H))
        cases.append(Case("torch.autograd.functional.hessian (vectorize)",
                          lambda: torch.autograd.functional.hessian(t_f, xt, vectorize=True),
                          **H))
        t_grad = torch.func.grad(t_f)
    else:
        cases.append(Skip("torch", "not installed", **H))

    cases.append(Case("hand numpy A'(s(1-s) * Av) + v", hand_hvp, hand=True, **P))
    if HAS_FUNCTIONAL:
        cases.append(Case("wengert hvp (fwd-over-rev)", lambda: ad.hvp(f, x0, v),
                          primary=True, **P))
    else:
        cases.append(Skip("wengert", "autodiff.hvp not available yet", **P))
    if autograd is not None:
        cases.append(Case("autograd hessian_vector_product", lambda: a_hvp(x0, v), **P))
    else:
        cases.append(Skip("autograd", "not installed", **P))
    if torch is not None:
        cases.append(Case("torch.func jvp(grad)",
                          lambda: torch.func.jvp(t_grad, (xt,), (vt,))[1], **P))
    else:
        cases.append(Skip("torch", "not installed", **P))
    refs = {"Hessian": hand_hess(), "HVP": hand_hvp()}
    return cases, refs, dict(rtol=1e-9, atol=1e-12), ("call", 1)
