"""The three disentanglement scores of one trained beta-VAE on dSprites: the suite's implementation
(all factors drawn first, then their images drawn and encoded in chunks: 64 on a CPU) against a
straightforward loop that draws, renders and encodes one batch per point (disentanglement_lib's
structure), side by side in one run, in CPU seconds of the process. Both draw from the same
sampler with the same point counts; their scores agree up to the sampling noise of their different
draws. On a CPU the encoder's arithmetic dominates either way (and larger chunks run slower);
``--chunk 1024`` is the GPU setting.

    python plugins/disentangle/benchmarks/disentanglement_metrics.py [--steps 200] [--points 300]
"""
from __future__ import annotations

import argparse
import contextlib
import time

import numpy as np
import torch
from dgmbench_disentangle.models import BetaVAE

from dgmbench.dsprites import RenderedDSprites
from dgmbench.metrics import disentanglement as dis


def loop_betavae(represent, truth, rng, batch, train, evaluate):
    from sklearn.linear_model import LogisticRegression

    def points(n):
        feats, labels = [], []
        for _ in range(n):
            y = rng.integers(len(truth.factor_sizes))
            a, b = truth.sample_factors(batch, rng), truth.sample_factors(batch, rng)
            b[:, y] = a[:, y]
            za, zb = represent(truth.images_for_factors(a)), represent(truth.images_for_factors(b))
            feats.append(np.abs(za - zb).mean(0))
            labels.append(y)
        return np.array(feats), np.array(labels)

    xt, yt = points(train)
    xe, ye = points(evaluate)
    return LogisticRegression(max_iter=1000).fit(xt, yt).score(xe, ye)


def loop_factorvae(represent, truth, rng, batch, train, evaluate, variance_points):
    z = np.concatenate([represent(truth.images_for_factors(truth.sample_factors(batch, rng)))
                        for _ in range(variance_points // batch)])
    scale = z.std(0, ddof=1)
    active = scale >= 0.05
    if not active.any():
        return 0.0

    def votes(n):
        counts = np.zeros((len(truth.factor_sizes), z.shape[1]), dtype=np.int64)
        for _ in range(n):
            k = rng.integers(len(truth.factor_sizes))
            f = truth.sample_factors(batch, rng)
            f[:, k] = f[0, k]
            local = represent(truth.images_for_factors(f)).var(0, ddof=1) / scale ** 2
            counts[k, np.flatnonzero(active)[local[active].argmin()]] += 1
        return counts

    vt, ve = votes(train), votes(evaluate)
    assign = vt.argmax(0)
    return ve[assign, np.arange(ve.shape[1])].sum() / ve.sum()


def loop_mig(represent, truth, rng, points, batch=64):
    f = truth.sample_factors(points, rng)
    z = np.concatenate([represent(truth.images_for_factors(f[i:i + batch])) for i in range(0, points, batch)])
    m = dis.mutual_information(dis.discretize(z, 20), f)
    h = np.array([dis.mutual_information(f[:, [k]], f[:, [k]])[0, 0] for k in range(f.shape[1])])
    top = np.sort(m, 0)[::-1]
    return float(((top[0] - top[1]) / h).mean())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=200, help="training steps of the beta-VAE (batch 64)")
    p.add_argument("--points", type=int, default=300, help="training points of each score (half as many to test)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--chunk", type=int, default=dis.CHUNK, help="images drawn and encoded at once by the suite")
    args = p.parse_args(argv)
    torch.manual_seed(0)
    truth = RenderedDSprites()
    model = BetaVAE((1, 64, 64), 2, {"beta": 4.0})
    (opt,) = model.configure_optimizers(1e-3)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for step in range(args.steps):
        x = truth.images_for_factors(truth.sample_factors(64, rng))
        model.train_step(x, None, [opt], step, contextlib.nullcontext)
    model.eval()
    print(f"trained a beta-VAE (beta = 4) for {args.steps} steps in {time.perf_counter() - start:.0f} s")

    @torch.no_grad()
    def represent(x):
        return model.encode(x)[0].numpy()

    n, b = args.points, args.batch
    suite = {
        "betavae_score": lambda r: dis.betavae_score(represent, truth, r, b, n, n // 2, args.chunk)["betavae_score"],
        "factorvae_score": lambda r: dis.factorvae_score(represent, truth, r, b, n, n // 2, 10 * n,
                                                         chunk=args.chunk)["factorvae_score"],
        "mig": lambda r: dis.mig(represent, truth, r, 10 * n, chunk=args.chunk)["mig"],
    }
    loop = {
        "betavae_score": lambda r: loop_betavae(represent, truth, r, b, n, n // 2),
        "factorvae_score": lambda r: loop_factorvae(represent, truth, r, b, n, n // 2, 10 * n),
        "mig": lambda r: loop_mig(represent, truth, r, 10 * n),
    }
    print(f"threads {torch.get_num_threads()}; {n} / {n // 2} points of {b}; MIG and variances on {10 * n} images")
    print("CPU seconds of this process (process_time; wall time on a shared machine says little)")
    print(f"{'score':16s} {'suite':>8s} {'loop':>8s} {'suite s':>9s} {'loop s':>9s} {'speed-up':>9s}")
    for name in suite:
        t0 = time.process_time()
        a = suite[name](np.random.default_rng(1))
        t1 = time.process_time()
        c = loop[name](np.random.default_rng(1))
        t2 = time.process_time()
        print(f"{name:16s} {a:8.3f} {c:8.3f} {t1 - t0:9.2f} {t2 - t1:9.2f} {(t2 - t1) / (t1 - t0):8.2f}x")

if __name__ == "__main__":
    main()
