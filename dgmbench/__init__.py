"""dgmbench: a plugin-based benchmark suite for deep generative models.

The public plugin API: :data:`hookimpl`, the spec records of :mod:`dgmbench.specs`, the model
base class :class:`dgmbench.model.Model`, and the data record :class:`dgmbench.data.DataSplit`.
Importing this package does not import torch.
"""
import pluggy

from .specs import Budget, Cell, DatasetSpec, FeatureNetworkSpec, MetricSpec, ModelSpec, ProtocolSpec, RunRecord

__version__ = "0.1.0"

#: Decorate your plugin's hook functions with this marker.
hookimpl = pluggy.HookimplMarker("dgmbench")

__all__ = ["hookimpl", "Budget", "Cell", "DatasetSpec", "FeatureNetworkSpec", "MetricSpec",
           "ModelSpec", "ProtocolSpec", "RunRecord", "__version__"]
