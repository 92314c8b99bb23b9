"""Hook specifications: the plugin author's reference.

A dgmbench plugin is a Python module (or object) with functions named like the hooks below and
decorated with :data:`dgmbench.hookimpl`. It is found through the ``dgmbench`` entry-point group
of its distribution::

    [project.entry-points.dgmbench]
    mymodel = "dgmbench_mymodel"

Registration hooks return lists of spec records from :mod:`dgmbench.specs`. Keep the plugin module
light: name heavy code (torch models) by ``"module:attribute"`` strings, so that listing plugins
stays fast. Event hooks let a plugin observe runs (loggers, sample dumps, early stopping).

A plugin that fails to import, raises inside a hook, or returns malformed specs is reported by
name with its error (``dgmbench plugins`` shows it); the other plugins keep working.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("dgmbench")


# -- registration ---------------------------------------------------------------------------

@hookspec
def dgmbench_datasets():
    """Return a list of :class:`~dgmbench.specs.DatasetSpec`.

    ``load(split, root, download, **options)`` must return a :class:`dgmbench.data.DataSplit`
    whose ``x`` holds floats ``k / (levels - 1)`` in [0, 1] (or real values when ``levels`` is
    None), with labels in ``y`` and ground-truth factors in ``factors`` where known. A missing
    file should raise :class:`dgmbench.errors.DataError` saying where to put what.
    """


@hookspec
def dgmbench_models():
    """Return a list of :class:`~dgmbench.specs.ModelSpec`.

    ``build(dataset_spec, config)`` returns a :class:`dgmbench.model.Model` (a
    ``torch.nn.Module``). The model declares its capabilities by implementing ``log_prob``,
    ``elbo``, ``log_importance_weights``, ``sample``, ``sample_conditional``, ``encode`` or
    ``classify``, and owns its
    training step (``train_step``), so GANs can alternate two optimizers and reversible networks
    can redefine backward. The spec's ``capabilities`` must list exactly what the model implements.

    Class-conditional sampling: ``sample_conditional(labels)`` returns one example per label
    (a LongTensor in ``range(model.num_labels)``); ``model.labels_are_classes`` is False when
    the labels are unsupervised codes (InfoGAN), which metrics match to classes first. A
    conditional model's ``sample(n)`` draws class-balanced labels itself.
    """


@hookspec
def dgmbench_metrics():
    """Return a list of :class:`~dgmbench.specs.MetricSpec`.

    ``compute(ctx)`` gets a :class:`dgmbench.metrics.MetricContext` (model, dataset spec, test
    data, device, options) and returns ``{value_name: float}``. ``requires`` states the model
    capabilities the metric needs; the harness refuses, with a clear message, a metric the model
    cannot support.
    """


@hookspec
def dgmbench_protocols():
    """Return a list of :class:`~dgmbench.specs.ProtocolSpec`.

    A protocol is a versioned recipe (cells of model x dataset x config, metrics, budgets, seeds)
    and the leaderboard it fills, with the reference CSV whose values stand beside ours. Bump
    ``version`` whenever a change would move the numbers; every stored result records it.
    """


@hookspec
def dgmbench_feature_networks():
    """Return a list of :class:`~dgmbench.specs.FeatureNetworkSpec` for sample metrics.

    The network's name enters the reference-statistics cache key and the leaderboard's column
    names, so numbers from different backbones are never mixed.
    """


# -- events ------------------------------------------------------------------------------------

@hookspec
def dgmbench_run_start(record, model, out_dir):
    """Called once the model is built, before training.

    :param record: the :class:`~dgmbench.specs.RunRecord`.
    :param model: the built model.
    :param out_dir: the run's output folder (a :class:`pathlib.Path`).
    """


@hookspec
def dgmbench_epoch_end(record, model, epoch, logs):
    """Called after every training epoch with that epoch's mean logs (``{"loss": ...}``).

    Return ``True`` to stop training early (for example an early-stopping plugin); the run then
    goes on to evaluation, and is stored ``truncated`` if it stopped before the budget's planned
    steps.
    """


@hookspec
def dgmbench_train_log(record, model, step, logs):
    """Called whenever training values are read: the mean training logs every ``log_every`` steps
    (``--log-every N``) and at each epoch's end (``{"train/loss": ...}``), and the held-out curve's
    points (``{"test/bpd": ...}``), with the step they belong to. For loggers (the TensorBoard
    plugin); the return value is ignored."""


@hookspec
def dgmbench_run_end(record, results, status):
    """Called when a run ends, with its metric values and status (``ok``, ``truncated`` -- training
    stopped by ``--max-seconds`` or an epoch-end hook before the planned steps --, ``failed``,
    ``partial``, or ``interrupted`` by Ctrl-C or SIGTERM). Exceptions raised here are reported but do not change
    the run's status."""
