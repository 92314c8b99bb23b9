"""dgmbench plugins: normalizing flows (Real NVP, NICE, Glow, planar flows and a planar-flow VAE).

The hookimpl is :mod:`dgmbench_flows.plugin`; the torch code is in :mod:`dgmbench_flows.layers`
(shared invertible layers), :mod:`dgmbench_flows.autoregressive` (MADE-style masked layers, IAF/AF
steps) and :mod:`dgmbench_flows.models`."""
