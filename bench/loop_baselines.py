"""Hand-written value and gradient of the zoo's loop models (models/arma.py, models/garch.py):
the recursions in plain Python floats, their derivatives carried forward in the same loop, for
compile_bench.py's "x hand" ratio. Each takes the unconstrained vector z in the model's order
and returns (log density, gradient list), the Jacobians of the transforms included, as
`Model.unconstrained_log_density`.
"""
import math

HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def arma_hand(z, y):
    """ARMA(1, 1): z = (mu, phi, theta, log sigma); err_t and d err_t / d(mu, phi, theta)."""
    mu, phi, theta, s = z[0], z[1], z[2], z[3]
    sigma = math.exp(s)
    err = y[0] - mu * (1.0 + phi)
    dm, dp, dt = -(1.0 + phi), -mu, 0.0
    ss, gm, gp, gt = err * err, err * dm, err * dp, 0.0
    for t in range(1, len(y)):
        yp = y[t - 1]
        # err_t = y_t - mu - phi y_{t-1} - theta err_{t-1}
        dm, dp, dt = -1.0 - theta * dm, -yp - theta * dp, -err - theta * dt
        err = y[t] - mu - phi * yp - theta * err
        ss += err * err
        gm += err * dm
        gp += err * dp
        gt += err * dt
    n, inv = len(y), 1.0 / (sigma * sigma)
    q = (sigma / 5.0) ** 2
    lp = (-0.5 * (mu / 10.0) ** 2 - math.log(10.0) - 0.5 * (phi / 2.0) ** 2 - 0.5 * (theta / 2.0)
          ** 2 - 2.0 * math.log(2.0) - 3.0 * HALF_LOG_2PI            # N(0, 10), N(0, 2) x 2
          + math.log(2.0 / (math.pi * 5.0)) - math.log1p(q) + s       # C+(0, 5), log|J|
          - n * (s + HALF_LOG_2PI) - 0.5 * ss * inv)                  # err ~ N(0, sigma)
    return lp, [-mu / 100.0 - gm * inv, -phi / 4.0 - gp * inv, -theta / 4.0 - gt * inv,
                -2.0 * q / (1.0 + q) + 1.0 - n + ss * inv]


def garch_hand(z, r, sigma1):
    """GARCH(1, 1): z = (mu, log alpha0, logit alpha1, logit u), beta1 = (1 - alpha1) u;
    v_t = sigma_t^2 and d v_t / d(mu, alpha0, alpha1, beta1) carried forward."""
    mu = z[0]
    a0 = math.exp(z[1])
    a1 = 1.0 / (1.0 + math.exp(-z[2]))
    u = 1.0 / (1.0 + math.exp(-z[3]))
    b1 = (1.0 - a1) * u
    v, dm, d0, d1, db = sigma1 * sigma1, 0.0, 0.0, 0.0, 0.0
    e = r[0] - mu
    lp = -0.5 * math.log(v) - 0.5 * e * e / v
    gm, g0, g1, gb = e / v, 0.0, 0.0, 0.0
    for t in range(1, len(r)):
        ep = e
        dm, d0, d1, db = (-2.0 * a1 * ep + b1 * dm, 1.0 + b1 * d0, ep * ep + b1 * d1,
                          v + b1 * db)
        v = a0 + a1 * ep * ep + b1 * v
        e = r[t] - mu
        lp += -0.5 * math.log(v) - 0.5 * e * e / v
        gv = -0.5 / v + 0.5 * e * e / (v * v)       # d lp_t / d v_t
        gm += e / v + gv * dm
        g0 += gv * d0
        g1 += gv * d1
        gb += gv * db
    lp -= len(r) * HALF_LOG_2PI
    # the transforms: log|J| = log a0 + log a1 (1 - a1) + log u (1 - u), and log(1 - a1)
    lp += z[1] + math.log(a1 * (1.0 - a1)) + math.log(u * (1.0 - u)) + math.log(1.0 - a1)
    da1, du = a1 * (1.0 - a1), u * (1.0 - u)
    return lp, [gm, g0 * a0 + 1.0,
                (g1 - gb * u) * da1 + (1.0 - 2.0 * a1) - a1,
                gb * (1.0 - a1) * du + (1.0 - 2.0 * u)]
