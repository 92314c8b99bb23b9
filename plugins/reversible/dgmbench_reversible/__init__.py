"""dgmbench plugins: ResNet, RevNet and i-RevNet classifiers (see README.md).

The plugin module :mod:`dgmbench_reversible.plugin` is light; the torch code is in
:mod:`.reversible` (reversible blocks and the recomputing backward), :mod:`.classifier`,
:mod:`.resnet`, :mod:`.revnet` and :mod:`.irevnet`."""
