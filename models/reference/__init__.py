"""Reference samplers in plain numpy, independent of the engine: what the zoo's fit tests and
bench/ score ADVI against (`radon_gibbs`: the radon posterior by Gibbs sampling)."""
