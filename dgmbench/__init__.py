"""dgmbench: a plugin-based benchmark suite for deep generative models.

The public plugin API: :data:`hookimpl`, the spec records of :mod:`dgmbench.specs` (with
:class:`ConfigKey` for a config key's allowed values), the claim helpers :func:`ours` and
:func:`verdict` of :mod:`dgmbench.claims`, the model base class :class:`dgmbench.model.Model`, and
the data record :class:`dgmbench.data.DataSplit`.
Importing this package does not import torch.
"""
import pluggy

from .claims import ours, verdict
from .specs import (
    Budget,
    Cell,
    ConfigKey,
    DatasetSpec,
    FeatureNetworkSpec,
    MetricSpec,
    ModelSpec,
    ProtocolSpec,
    RunRecord,
)

__version__ = "0.1.0"

#: Decorate your plugin's hook functions with this marker.
hookimpl = pluggy.HookimplMarker("dgmbench")

__all__ = ["hookimpl", "Budget", "Cell", "ConfigKey", "DatasetSpec", "FeatureNetworkSpec", "MetricSpec",
           "ModelSpec", "ProtocolSpec", "RunRecord", "ours", "verdict", "__version__"]
