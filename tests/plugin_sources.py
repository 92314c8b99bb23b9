"""Sources of throwaway plugins the tests install through the entry-point mechanism."""

GOOD = '''
import os, math
import torch
from dgmbench import ModelSpec, hookimpl
from dgmbench.model import Model


class Diag(Model):
    """A diagonal Gaussian with learned mean and log-scale (a tiny, real density)."""

    def __init__(self, d, config):
        super().__init__(config)
        self.shape = None
        self.mu = torch.nn.Parameter(torch.zeros(d))
        self.log_s = torch.nn.Parameter(torch.zeros(d))
        self.fail_at = config.get("nan_at_step")
        self.interrupt_at = int(os.environ.get("TEST_INTERRUPT_AT_STEP", "-1"))
        self.signal_at = int(os.environ.get("TEST_SIGNAL_AT_STEP", "-1"))

    def log_prob(self, x):
        return torch.distributions.Normal(self.mu, self.log_s.exp()).log_prob(x.flatten(1)).sum(1)

    def sample(self, n):
        if self.config.get("nan_samples"):
            return torch.full((n, *self.shape), float("nan"))
        return (self.mu + self.log_s.exp() * torch.randn(n, len(self.mu))).view(n, *self.shape)

    def train_step(self, x, y, optimizers, step, autocast):
        if step == self.interrupt_at:
            raise KeyboardInterrupt
        if step == self.signal_at:  # as `kill -TERM` or `kill -9` from outside would
            import signal
            os.kill(os.getpid(), getattr(signal, os.environ["TEST_SIGNAL"]))
        logs = super().train_step(x, y, optimizers, step, autocast)
        if self.fail_at is not None and step >= self.fail_at:
            logs["loss"] = torch.tensor(float("nan"))
        return logs


class Classifier(Model):
    likelihood = "none"

    def __init__(self, d, k):
        super().__init__({})
        self.lin = torch.nn.Linear(d, k)

    def classify(self, x):
        return self.lin(x.flatten(1))

    def loss(self, x, y):
        return torch.nn.functional.cross_entropy(self.classify(x), y)


def build_diag(ds, config):
    m = Diag(ds.dims, config)
    m.shape = ds.shape
    return m


def build_classifier(ds, config):
    return Classifier(ds.dims, ds.num_classes)


@hookimpl
def dgmbench_models():
    return [ModelSpec("diag", "testplug:build_diag", ["log_prob", "sample"], description="test density"),
            ModelSpec("clf", "testplug:build_classifier", ["classify"], description="test classifier")]
'''

MALFORMED = '''
from dgmbench import hookimpl

@hookimpl
def dgmbench_models():
    return ["this is not a ModelSpec"]
'''

BROKEN = '''
import this_module_does_not_exist
'''

LYING = '''
from dgmbench import ModelSpec, hookimpl

@hookimpl
def dgmbench_models():
    return [ModelSpec("liar", "testplug:build_classifier", ["log_prob"], description="declares log_prob, has not")]
'''

HOOK_BUG = '''
from dgmbench import hookimpl

@hookimpl
def dgmbench_run_start(record, model, out_dir):
    raise RuntimeError("logger crashed")
'''

#: for the executor tests (tests/test_executors.py): a diagonal Gaussian density and a 4-cell
#: protocol on digits; a cell with ``kill_once`` SIGKILLs its own process at step 3 the first time
#: it runs (a marker file in $TEST_KILL_ONCE_DIR remembers), as an out-of-memory kill would
SCALE = '''
import os, signal
from pathlib import Path
import torch
from dgmbench import ModelSpec, hookimpl
from dgmbench.model import Model
from dgmbench.specs import Cell, ProtocolSpec


class Diag(Model):
    def __init__(self, ds, config):
        super().__init__(config)
        self.shape = tuple(ds.shape)
        self.mu = torch.nn.Parameter(torch.zeros(ds.dims))
        self.log_s = torch.nn.Parameter(torch.zeros(ds.dims))

    def log_prob(self, x):
        if not self.training and os.environ.get("TEST_BATCH_LOG"):  # what each process scores
            with open(os.environ["TEST_BATCH_LOG"], "a") as f:
                f.write(f"{os.environ.get('RANK', '0')} eval {len(x)} {float(x.double().sum()):.9g}\\n")
        return torch.distributions.Normal(self.mu, self.log_s.exp()).log_prob(x.flatten(1)).sum(1)

    def sample(self, n):
        return (self.mu + self.log_s.exp() * torch.randn(n, len(self.mu))).view(n, *self.shape)

    def train_step(self, x, y, optimizers, step, autocast):
        if os.environ.get("TEST_BATCH_LOG"):  # what each process trains on (tests/test_distributed.py)
            with open(os.environ["TEST_BATCH_LOG"], "a") as f:
                f.write(f"{os.environ.get('RANK', '0')} {step} {len(x)} {float(x.double().sum()):.9g}\\n")
        marker_dir = os.environ.get("TEST_KILL_ONCE_DIR")
        if step == 3 and self.config.get("kill_once") and marker_dir:
            marker = Path(marker_dir) / str(self.config["tag"])
            if not marker.exists():
                marker.write_text(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)
        return super().train_step(x, y, optimizers, step, autocast)


def build(ds, config):
    return Diag(ds, config)


@hookimpl
def dgmbench_models():
    return [ModelSpec("sdiag", "scaleplug:build", ["log_prob", "sample"], description="test density")]


@hookimpl
def dgmbench_protocols():
    cells = [Cell(f"c{i}", "sdiag", "digits", config={"tag": i, "kill_once": i == 1}) for i in range(4)]
    return [ProtocolSpec("scale-smoke", "1", cells, metrics=["nll"], description="executor tests",
                         resources={"num_cpus": 1})]
'''
