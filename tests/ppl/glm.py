"""The Poisson GLM the binding, plate-shape and hostile-input tests share:
y_i ~ Poisson(exp(alpha + beta x_i)), alpha, beta ~ N(0, 5^2)."""
import autodiff as ad
import ppl
from ppl import dist


@ppl.model
def poisson_glm(x, y):
    alpha = ppl.sample("alpha", dist.Normal(0.0, 5.0))
    beta = ppl.sample("beta", dist.Normal(0.0, 5.0))
    with ppl.plate("data", len(x)):
        ppl.sample("y", dist.Poisson(ad.exp(alpha + beta * x)), obs=y)
