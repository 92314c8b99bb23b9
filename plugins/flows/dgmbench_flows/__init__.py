"""dgmbench plugins: normalizing flows (Real NVP, NICE, Glow, planar flows and a planar-flow VAE).

Each model has a light plugin module here (the hookimpl); the torch code is in
:mod:`dgmbench_flows.layers` (shared invertible layers) and :mod:`dgmbench_flows.models`."""
